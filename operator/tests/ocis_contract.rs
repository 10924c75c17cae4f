//! Contract tests of the OCIS client against the OCIS simulator over real HTTP: spaces, groups,
//! space permissions, OData errors and both adoption paths.

use dezky_operator::upstream::http::{
    Auth, ErrorCategory, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics,
};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::ocis::{
    FilesClient, FilesError, Grantee, OcisClient, SpaceRole, SpaceSpec,
};
use dezky_simulators::ocis::{Ocis, OcisConfig};
use serde_json::{Value, json};

struct Env {
    sim: Ocis,
    client: OcisClient,
    url: String,
}

async fn env_with(token: &str) -> Env {
    let sim = Ocis::new(OcisConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let auth = Auth::Basic {
        username: "svc-dezky".into(),
        password: Secret::new(token),
    };
    let http = UpstreamHttp::new(
        "ocis",
        url.parse().expect("url"),
        auth,
        UpstreamLimits::default(),
        UpstreamMetrics::default(),
    )
    .expect("http");
    Env {
        sim,
        client: OcisClient::new(http),
        url,
    }
}

async fn env() -> Env {
    env_with("ocis-app-token-secret").await
}

impl Env {
    async fn raw_post(&self, path: &str, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .basic_auth("svc-dezky", Some("ocis-app-token-secret"))
            .json(&body)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }
}

fn tenant(name: &str) -> Marker {
    Marker {
        installation: "test".into(),
        kind: "Tenant".into(),
        namespace: None,
        name: name.into(),
        uid: "uid".into(),
    }
}

fn spec(name: &str, quota: u64) -> SpaceSpec {
    SpaceSpec {
        name: name.into(),
        description: Some("Dezky tenant space".into()),
        quota_bytes: quota,
    }
}

#[tokio::test]
async fn space_lifecycle() {
    let e = env().await;
    let m = tenant("acme");
    let space = e
        .client
        .create_space(&spec("Acme Corp", 100 << 30), &m, false)
        .await
        .expect("create");
    assert_eq!(space.quota_bytes, 100 << 30);
    assert_eq!(space.marker(), Some(m.key().as_str()));
    assert!(space.id.contains('$'));
    // Idempotent create: the marked space is found, not duplicated.
    let again = e
        .client
        .create_space(&spec("Acme Corp", 100 << 30), &m, false)
        .await
        .expect("again");
    assert_eq!(again.id, space.id);
    assert_eq!(
        e.client.list_project_spaces().await.expect("list").len(),
        1,
        "the personal space is filtered out"
    );
    assert_eq!(
        e.client.find_space(&m).await.expect("find").map(|s| s.id),
        Some(space.id.clone())
    );
    assert_eq!(
        e.client
            .find_space(&tenant("other"))
            .await
            .expect("find other"),
        None
    );
    // Update quota and name; then nothing to do.
    let (updated, changed) = e
        .client
        .update_space(&space, &spec("Acme GmbH", 200 << 30))
        .await
        .expect("update");
    assert!(changed);
    assert_eq!(
        (updated.name.as_str(), updated.quota_bytes),
        ("Acme GmbH", 200 << 30)
    );
    let (_, changed) = e
        .client
        .update_space(&updated, &spec("Acme GmbH", 200 << 30))
        .await
        .expect("noop");
    assert!(!changed);
    // Purge is refused while enabled; disable, restore, disable, purge; all idempotent.
    let refused = e
        .client
        .purge_space(&space.id)
        .await
        .expect_err("purge of an enabled space");
    assert_eq!(refused.category(), ErrorCategory::Invalid);
    e.client.disable_space(&space.id).await.expect("disable");
    e.client
        .disable_space(&space.id)
        .await
        .expect("disable again");
    assert!(
        e.client
            .get_space(&space.id)
            .await
            .expect("get")
            .expect("exists")
            .disabled
    );
    assert!(
        !e.client
            .restore_space(&space.id)
            .await
            .expect("restore")
            .disabled
    );
    e.client.disable_space(&space.id).await.expect("disable");
    e.client.purge_space(&space.id).await.expect("purge");
    e.client
        .purge_space(&space.id)
        .await
        .expect("purge of a gone space");
    e.client
        .disable_space(&space.id)
        .await
        .expect("disable of a gone space");
    assert_eq!(e.client.get_space(&space.id).await.expect("get"), None);
}

#[tokio::test]
async fn space_adoption_and_refusals() {
    let e = env().await;
    e.raw_post(
        "/graph/v1.0/drives",
        json!({"name": "Acme Corp", "driveType": "project"}),
    )
    .await;
    let m = tenant("acme");
    let refused = e
        .client
        .create_space(&spec("Acme Corp", 1 << 30), &m, false)
        .await;
    assert!(
        matches!(
            refused,
            Err(FilesError::AdoptionRequired {
                object: "space",
                ..
            })
        ),
        "{refused:?}"
    );
    let untouched = &e.client.list_project_spaces().await.expect("list")[0];
    assert_eq!(untouched.alias.as_deref(), Some("project/acme corp"));
    let adopted = e
        .client
        .create_space(&spec("Acme Corp", 1 << 30), &m, true)
        .await
        .expect("adopt");
    assert_eq!(adopted.id, untouched.id);
    assert_eq!(adopted.marker(), Some(m.key().as_str()));
    // A space of another tenant with the same name does not block ours (names are not unique).
    let other = e
        .client
        .create_space(&spec("Acme Corp", 1 << 30), &tenant("acme2"), false)
        .await
        .expect("other");
    assert_ne!(other.id, adopted.id);
    // Invalid names are refused by OCIS.
    let invalid = e
        .client
        .create_space(&spec("acme.com", 1), &tenant("dotted"), false)
        .await
        .expect_err("invalid name");
    assert!(invalid.is_permanent());
    assert!(invalid.to_string().contains("invalidRequest"), "{invalid}");
}

#[tokio::test]
async fn groups_and_permissions() {
    let e = env().await;
    let space = e
        .client
        .create_space(&spec("Acme", 1 << 30), &tenant("acme"), false)
        .await
        .expect("space");
    let m = tenant("acme");
    let editors = e
        .client
        .create_group("tenant-acme-files-editor", &m, false)
        .await
        .expect("group");
    assert_eq!(
        e.client
            .create_group("tenant-acme-files-editor", &m, false)
            .await
            .expect("again")
            .id,
        editors.id
    );
    assert_eq!(
        e.client
            .find_group("tenant-acme-files-editor")
            .await
            .expect("find")
            .map(|g| g.id),
        Some(editors.id.clone())
    );
    assert_eq!(
        e.client.find_group("nope").await.expect("find missing"),
        None
    );
    assert_eq!(e.client.list_groups().await.expect("list").len(), 1);
    // Someone else's group, and a group created by hand (e.g. by OCIS's group sync).
    let taken = e
        .client
        .create_group("tenant-acme-files-editor", &tenant("evil"), true)
        .await;
    assert!(
        matches!(
            taken,
            Err(FilesError::NameTaken {
                object: "group",
                ..
            })
        ),
        "{taken:?}"
    );
    e.raw_post(
        "/graph/v1.0/groups",
        json!({"displayName": "tenant-acme-files-viewer"}),
    )
    .await;
    let refused = e
        .client
        .create_group("tenant-acme-files-viewer", &m, false)
        .await;
    assert!(
        matches!(refused, Err(FilesError::AdoptionRequired { .. })),
        "{refused:?}"
    );
    let viewers = e
        .client
        .create_group("tenant-acme-files-viewer", &m, true)
        .await
        .expect("adopt");
    // Share: the creator is Manager; one invite per group; a repeated share converges the role.
    let permission = e
        .client
        .share_with_group(&space.id, &editors.id, SpaceRole::Editor)
        .await
        .expect("share");
    assert_eq!(
        (permission.id.clone(), permission.role()),
        (format!("g:{}", editors.id), Some(SpaceRole::Editor))
    );
    e.client
        .share_with_group(&space.id, &viewers.id, SpaceRole::Viewer)
        .await
        .expect("share viewers");
    let again = e
        .client
        .share_with_group(&space.id, &editors.id, SpaceRole::Manager)
        .await
        .expect("reshare");
    assert_eq!(again.role(), Some(SpaceRole::Manager));
    let permissions = e
        .client
        .list_permissions(&space.id)
        .await
        .expect("permissions");
    assert_eq!(permissions.len(), 3);
    assert!(permissions.iter().any(|p| p.grantee
        == Grantee::User {
            id: e.sim.service_user_id().to_string()
        }
        && p.role() == Some(SpaceRole::Manager)));
    let changed = e
        .client
        .set_permission_role(&space.id, &permission.id, SpaceRole::Editor)
        .await
        .expect("role");
    assert_eq!(changed.role(), Some(SpaceRole::Editor));
    e.client
        .remove_permission(&space.id, &permission.id)
        .await
        .expect("remove");
    e.client
        .remove_permission(&space.id, &permission.id)
        .await
        .expect("remove again");
    assert_eq!(
        e.client
            .list_permissions(&space.id)
            .await
            .expect("permissions")
            .len(),
        2
    );
    e.client.delete_group(&editors.id).await.expect("delete");
    e.client
        .delete_group(&editors.id)
        .await
        .expect("delete again");
    // Sharing with a group that does not exist is an OData 404.
    let missing = e
        .client
        .share_with_group(&space.id, &editors.id, SpaceRole::Viewer)
        .await
        .expect_err("missing group");
    assert_eq!(missing.category(), ErrorCategory::NotFound);
}

#[tokio::test]
async fn wrong_app_token_is_unauthorized() {
    let e = env_with("wrong-token").await;
    let error = e.client.list_project_spaces().await.expect_err("must fail");
    assert_eq!(error.category(), ErrorCategory::Unauthorized);
    assert!(!error.to_string().contains("wrong-token"));
}

#[tokio::test]
async fn two_spaces_with_our_marker_are_reported_not_guessed() {
    let e = env().await;
    let m = tenant("acme");
    let alias = dezky_operator::upstream::ocis::space_alias(&m);
    for _ in 0..2 {
        e.raw_post(
            "/graph/v1.0/drives",
            json!({"name": "Acme", "driveAlias": alias}),
        )
        .await;
    }
    let found = e.client.find_space(&m).await;
    assert!(
        matches!(&found, Err(FilesError::DuplicateSpaces { ids }) if ids.len() == 2),
        "{found:?}"
    );
    let created = e.client.create_space(&spec("Acme", 1), &m, true).await;
    assert!(
        matches!(created, Err(FilesError::DuplicateSpaces { .. })),
        "{created:?}"
    );
    assert_eq!(
        e.client.list_project_spaces().await.expect("list").len(),
        2,
        "nothing created"
    );
}
