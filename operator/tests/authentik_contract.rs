//! Contract tests of the Authentik client against the Authentik simulator over real HTTP: every
//! operation, the error shapes and both adoption paths.

use std::time::Duration;

use dezky_operator::upstream::authentik::{
    ATTR_MARKER, AuthentikClient, GroupSpec, IdentityClient, IdentityError, Observed, UserSpec,
};
use dezky_operator::upstream::http::{ErrorCategory, Secret, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_simulators::authentik::{AuthentikOptions, AuthentikSim};
use dezky_simulators::control::Control;
use serde_json::{Map, Value, json};

const TOKEN: &str = "test-api-token";

struct Harness {
    url: String,
    sim: AuthentikSim,
    control: Control,
    client: AuthentikClient,
    metrics: UpstreamMetrics,
    raw: reqwest::Client,
}

async fn start() -> Harness {
    let control = Control::new("control-token".into());
    let sim = AuthentikSim::new(AuthentikOptions {
        api_token: TOKEN.into(),
        signing_key_path: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router(&control);
    tokio::spawn(async move { axum_serve(listener, router).await });
    let metrics = UpstreamMetrics::default();
    let limits = UpstreamLimits {
        requests_per_second: 1000.0,
        max_in_flight: 8,
        timeout: Duration::from_secs(5),
        read_retries: 2,
        ..UpstreamLimits::default()
    };
    let client = AuthentikClient::new(
        &url.parse().expect("url"),
        Secret::new(TOKEN),
        limits,
        metrics.clone(),
    )
    .expect("client");
    Harness {
        url,
        sim,
        control,
        client,
        metrics,
        raw: reqwest::Client::new(),
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
    let _ = axum::serve(listener, router).await;
}

impl Harness {
    /// A hand-written API request, bypassing the client (to set up unmarked or foreign objects).
    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .raw
            .request(method, format!("{}/api/v3/{path}", self.url))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.expect("send");
        let status = response.status().as_u16();
        let text = response.text().await.expect("text");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).expect("json")
            },
        )
    }

    fn posts(&self, path: &str) -> u64 {
        self.control.request_count("authentik", Some("POST"), path)
    }
}

fn marker(kind: &str, ns: Option<&str>, name: &str) -> Marker {
    Marker {
        installation: "test".into(),
        kind: kind.into(),
        namespace: ns.map(str::to_owned),
        name: name.into(),
        uid: format!("uid-{name}"),
    }
}

fn group_spec(name: &str) -> GroupSpec {
    let mut attributes = Map::new();
    attributes.insert("dezky.io/tenant".into(), json!(name));
    GroupSpec {
        name: name.into(),
        attributes,
    }
}

fn user_spec(username: &str) -> UserSpec {
    UserSpec {
        username: username.into(),
        name: "Jane Doe".into(),
        email: username.into(),
        path: "tenants/acme".into(),
        is_active: true,
        user_type: "internal".into(),
        attributes: Map::new(),
    }
}

#[tokio::test]
async fn groups_are_created_once_adopted_silently_and_updated_only_when_they_differ() {
    let h = start().await;
    let m = marker("Tenant", None, "acme");
    assert_eq!(
        h.client
            .observe_group("tenant-acme", &m)
            .await
            .expect("observe"),
        Observed::Missing
    );

    let created = h
        .client
        .create_group(&group_spec("tenant-acme"), &m, false)
        .await
        .expect("create");
    assert_eq!(created.name, "tenant-acme");
    assert_eq!(created.marker(), Some(m.key().as_str()));
    assert_eq!(created.uid(), Some("uid-acme"));
    assert_eq!(h.posts("/api/v3/core/groups/"), 1);
    assert_eq!(
        h.metrics.requests("authentik", "group.create", "success"),
        1
    );

    // a second create (e.g. after a lost status) adopts, it does not duplicate
    let again = h
        .client
        .create_group(&group_spec("tenant-acme"), &m, false)
        .await
        .expect("create again");
    assert_eq!(again.pk, created.pk);
    assert_eq!(h.posts("/api/v3/core/groups/"), 1);

    // a restore from Git (new UID) still finds it by key
    let restored = Marker {
        uid: "new-uid".into(),
        ..m.clone()
    };
    let observed = h
        .client
        .observe_group("tenant-acme", &restored)
        .await
        .expect("observe");
    assert!(matches!(observed, Observed::Ours(ref g) if g.pk == created.pk));

    // nothing to change: no write
    let patches_before =
        h.control
            .request_count("authentik", Some("PATCH"), "/api/v3/core/groups/");
    assert!(
        h.client
            .update_group(&created, &group_spec("tenant-acme"), &m)
            .await
            .expect("noop")
            .is_none()
    );
    assert_eq!(
        h.control
            .request_count("authentik", Some("PATCH"), "/api/v3/core/groups/"),
        patches_before
    );

    // a managed attribute drifts: only attributes are patched, foreign attributes kept
    let (status, _) = h
        .api(
            reqwest::Method::PATCH,
            &format!("core/groups/{}/", created.pk),
            Some(json!({"attributes": {"dezky.io/tenant": "evil", "note": "kept", ATTR_MARKER: m.key()}})),
        )
        .await;
    assert_eq!(status, 200);
    // observations come from a snapshot: the drift shows after its resync
    h.client.invalidate_snapshots();
    let drifted = h
        .client
        .observe_group("tenant-acme", &m)
        .await
        .expect("observe")
        .ours()
        .expect("ours");
    let fixed = h
        .client
        .update_group(&drifted, &group_spec("tenant-acme"), &m)
        .await
        .expect("update")
        .expect("changed");
    assert_eq!(fixed.attributes["dezky.io/tenant"], json!("tenant-acme"));
    assert_eq!(fixed.attributes["note"], json!("kept"));
    assert_eq!(fixed.attributes["dezky.io/kind"], json!("Tenant"));

    h.client.delete_group(&created.pk).await.expect("delete");
    h.client
        .delete_group(&created.pk)
        .await
        .expect("delete of a gone group is success");
    assert_eq!(
        h.client
            .observe_group("tenant-acme", &m)
            .await
            .expect("observe"),
        Observed::Missing
    );
}

#[tokio::test]
async fn unmarked_groups_need_adoption_and_foreign_ones_are_never_taken() {
    let h = start().await;
    let m = marker("Tenant", None, "acme");
    let (status, body) = h
        .api(
            reqwest::Method::POST,
            "core/groups/",
            Some(json!({"name": "tenant-acme", "attributes": {"x": 1}})),
        )
        .await;
    assert_eq!(status, 201);
    let pk = body["pk"].as_str().expect("pk").to_owned();

    let err = h
        .client
        .create_group(&group_spec("tenant-acme"), &m, false)
        .await
        .expect_err("adoption required");
    assert!(
        matches!(err, IdentityError::AdoptionRequired { kind: "group", .. }),
        "{err}"
    );
    assert_eq!(err.category(), ErrorCategory::Conflict);
    let (_, untouched) = h
        .api(reqwest::Method::GET, &format!("core/groups/{pk}/"), None)
        .await;
    assert_eq!(
        untouched["attributes"],
        json!({"x": 1}),
        "an unmarked group is not touched"
    );

    let adopted = h
        .client
        .create_group(&group_spec("tenant-acme"), &m, true)
        .await
        .expect("adopt");
    assert_eq!(adopted.pk, pk);
    assert_eq!(adopted.marker(), Some(m.key().as_str()));
    assert_eq!(adopted.attributes["x"], json!(1));

    // another tenant's group with the same name: never ours
    let other = marker("Tenant", None, "evil");
    h.api(
        reqwest::Method::POST,
        "core/groups/",
        Some(json!({"name": "tenant-evil", "attributes": {ATTR_MARKER: other.key()}})),
    )
    .await;
    let spoof = marker("Tenant", None, "acme2");
    let err = h
        .client
        .create_group(&group_spec("tenant-evil"), &spoof, true)
        .await
        .expect_err("name taken");
    assert!(matches!(err, IdentityError::NameTaken { .. }), "{err}");
    assert!(err.is_permanent());
}

#[tokio::test]
async fn bulk_listing_reads_every_managed_group_by_pages() {
    let h = start().await;
    for i in 0..130 {
        let name = format!("tenant-{i:03}");
        h.client
            .create_group(&group_spec(&name), &marker("Tenant", None, &name), false)
            .await
            .expect("create");
    }
    // an unmarked group and another kind are not listed
    h.api(
        reqwest::Method::POST,
        "core/groups/",
        Some(json!({"name": "hand-made"})),
    )
    .await;
    h.client
        .create_group(
            &group_spec("partner-x"),
            &marker("Partner", None, "x"),
            false,
        )
        .await
        .expect("partner");
    // a resync reads the whole collection by pages
    h.client.invalidate_snapshots();
    h.control.reset_requests();
    let groups = h.client.list_groups("test", "Tenant").await.expect("list");
    assert_eq!(groups.len(), 130);
    assert_eq!(
        h.control
            .request_count("authentik", Some("GET"), "/api/v3/core/groups/"),
        2,
        "130 groups in 2 pages"
    );
    let partners = h.client.list_groups("test", "Partner").await.expect("list");
    assert_eq!(partners.len(), 1);
}

#[tokio::test]
async fn users_membership_password_suspension_sessions_and_mfa() {
    let h = start().await;
    let tm = marker("Tenant", None, "acme");
    let group = h
        .client
        .create_group(&group_spec("tenant-acme"), &tm, false)
        .await
        .expect("group");
    let um = marker("Member", Some("tenant-acme"), "jdoe");
    let spec = user_spec("jdoe@acme.test");
    let user = h
        .client
        .create_user(&spec, &um, false)
        .await
        .expect("create user");
    assert_eq!(user.path, "tenants/acme");
    assert!(user.is_active);
    let again = h
        .client
        .create_user(&spec, &um, false)
        .await
        .expect("adopt own user");
    assert_eq!(again.pk, user.pk);
    assert_eq!(h.posts("/api/v3/core/users/"), 1);

    h.client.add_member(&group.pk, user.pk).await.expect("add");
    h.client
        .add_member(&group.pk, user.pk)
        .await
        .expect("add twice");
    let observed = h
        .client
        .observe_user(&spec.username, &um)
        .await
        .expect("observe")
        .ours()
        .expect("ours");
    assert_eq!(observed.groups, vec![group.pk.clone()]);
    let members = h
        .client
        .list_groups("test", "Tenant")
        .await
        .expect("groups");
    assert_eq!(members[0].users, vec![user.pk]);

    h.client
        .set_password(user.pk, &Secret::new("correct horse battery"))
        .await
        .expect("password");
    assert_eq!(
        h.client
            .list_sessions(&spec.username)
            .await
            .expect("sessions")
            .len(),
        0
    );
    login(&h, &spec.username, "correct horse battery")
        .await
        .expect("login works");
    login(&h, &spec.username, "correct horse battery")
        .await
        .expect("second login");
    assert_eq!(
        h.client
            .list_sessions(&spec.username)
            .await
            .expect("sessions")
            .len(),
        2
    );
    assert_eq!(
        h.client
            .end_sessions(user.pk, &spec.username)
            .await
            .expect("end"),
        2
    );
    assert!(
        h.client
            .list_sessions(&spec.username)
            .await
            .expect("sessions")
            .is_empty()
    );

    // MFA status
    assert_eq!(
        h.client
            .confirmed_authenticators(user.pk)
            .await
            .expect("mfa"),
        0
    );
    h.sim
        .add_device(
            user.pk,
            "authentik_stages_authenticator_totp.TOTPDevice",
            true,
        )
        .expect("device");
    h.sim
        .add_device(
            user.pk,
            "authentik_stages_authenticator_webauthn.WebAuthnDevice",
            false,
        )
        .expect("device");
    h.sim
        .add_device(
            user.pk,
            "authentik_endpoints_connectors_agent.EndpointDevice",
            true,
        )
        .expect("device");
    assert_eq!(
        h.client
            .confirmed_authenticators(user.pk)
            .await
            .expect("mfa"),
        1
    );

    // suspension: inactive, cannot log in; the password is kept for the resume
    login(&h, &spec.username, "correct horse battery")
        .await
        .expect("login");
    let suspended = UserSpec {
        is_active: false,
        ..spec.clone()
    };
    let updated = h
        .client
        .update_user(&observed, &suspended, &um)
        .await
        .expect("suspend")
        .expect("changed");
    assert!(!updated.is_active);
    assert!(
        h.client
            .list_sessions(&spec.username)
            .await
            .expect("sessions")
            .is_empty(),
        "deactivation ends sessions"
    );
    assert!(
        login(&h, &spec.username, "correct horse battery")
            .await
            .is_err()
    );
    let resumed = h
        .client
        .update_user(&updated, &spec, &um)
        .await
        .expect("resume")
        .expect("changed");
    assert!(resumed.is_active);
    login(&h, &spec.username, "correct horse battery")
        .await
        .expect("login after resume");
    assert!(
        h.client
            .update_user(&resumed, &spec, &um)
            .await
            .expect("noop")
            .is_none()
    );

    h.client
        .remove_member(&group.pk, user.pk)
        .await
        .expect("remove");
    h.client
        .remove_member(&group.pk, user.pk)
        .await
        .expect("remove twice");
    let observed = h
        .client
        .observe_user(&spec.username, &um)
        .await
        .expect("observe")
        .ours()
        .expect("ours");
    assert!(observed.groups.is_empty());

    assert_eq!(
        h.client
            .list_users("test", "Member")
            .await
            .expect("list")
            .len(),
        1
    );
    h.client.delete_user(user.pk).await.expect("delete");
    h.client.delete_user(user.pk).await.expect("delete again");
    h.client
        .remove_member(&group.pk, user.pk)
        .await
        .expect("remove of a gone user is success");
    assert_eq!(
        h.client
            .observe_user(&spec.username, &um)
            .await
            .expect("observe"),
        Observed::Missing
    );
}

#[tokio::test]
async fn unmarked_and_foreign_users() {
    let h = start().await;
    let (status, _) = h
        .api(
            reqwest::Method::POST,
            "core/users/",
            Some(json!({"username": "jdoe@acme.test", "name": "J"})),
        )
        .await;
    assert_eq!(status, 201);
    let um = marker("Member", Some("tenant-acme"), "jdoe");
    let err = h
        .client
        .create_user(&user_spec("jdoe@acme.test"), &um, false)
        .await
        .expect_err("adoption");
    assert!(
        matches!(err, IdentityError::AdoptionRequired { kind: "user", .. }),
        "{err}"
    );
    let adopted = h
        .client
        .create_user(&user_spec("jdoe@acme.test"), &um, true)
        .await
        .expect("adopt");
    assert_eq!(adopted.marker(), Some(um.key().as_str()));
    // the same username from another tenant's namespace is foreign
    let evil = marker("Member", Some("tenant-evil"), "jdoe");
    let err = h
        .client
        .create_user(&user_spec("jdoe@acme.test"), &evil, true)
        .await
        .expect_err("taken");
    assert!(matches!(err, IdentityError::NameTaken { .. }), "{err}");
}

/// Logs in through the simulator's login form; `Err` when refused.
async fn login(h: &Harness, username: &str, password: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client
        .post(format!("{}/if/flow/default-authentication-flow/", h.url))
        .form(&[
            ("username", username),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("send");
    if response.status().is_redirection() && response.headers().contains_key("set-cookie") {
        Ok(())
    } else {
        Err(format!("login refused: {}", response.status()))
    }
}
