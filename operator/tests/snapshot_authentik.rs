//! Authentik observation from bulk, paged snapshots, against the simulator over real HTTP with
//! requests counted by the simulators' control layer: many observations cost one paged list
//! that crosses page boundaries, our own writes are visible at once, an external change shows
//! after a resync, and a create that meets a stale snapshot re-reads instead of duplicating.

use std::time::Duration;

use dezky_operator::upstream::authentik::{
    AuthentikClient, GroupSpec, IdentityClient, IdentityError, Observed, UserSpec,
};
use dezky_operator::upstream::http::{Secret, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::snapshot::SnapshotSettings;
use dezky_simulators::authentik::{AuthentikOptions, AuthentikSim};
use dezky_simulators::control::Control;
use prometheus_client::registry::Registry;
use serde_json::{Map, Value, json};

const TOKEN: &str = "test-api-token";

fn limits(resync: Duration) -> UpstreamLimits {
    UpstreamLimits {
        requests_per_second: 2000.0,
        max_in_flight: 8,
        snapshots: SnapshotSettings {
            resync,
            jitter: 0.0,
        },
        ..UpstreamLimits::default()
    }
}

fn marker(kind: &str, name: &str) -> Marker {
    Marker {
        installation: "test".into(),
        kind: kind.into(),
        namespace: Some("tenant-acme".into()),
        name: name.into(),
        uid: format!("uid-{name}"),
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

struct AuthentikEnv {
    url: String,
    control: Control,
    raw: reqwest::Client,
}

impl AuthentikEnv {
    async fn start() -> Self {
        let control = Control::new("control-token".into());
        let sim = AuthentikSim::new(AuthentikOptions {
            api_token: TOKEN.into(),
            signing_key_path: None,
        });
        let url = serve(sim.router(&control)).await;
        Self {
            url,
            control,
            raw: reqwest::Client::new(),
        }
    }

    fn client(&self, resync: Duration, metrics: UpstreamMetrics) -> AuthentikClient {
        AuthentikClient::new(
            &self.url.parse().expect("url"),
            Secret::new(TOKEN),
            limits(resync),
            metrics,
        )
        .expect("client")
    }

    /// A hand-written API call, bypassing the client (someone else changing Authentik).
    async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .raw
            .request(method, format!("{}/api/v3/{path}", self.url))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    fn gets(&self, path: &str) -> u64 {
        self.control
            .request_count("authentik", Some("GET"), &format!("/api/v3/{path}"))
    }

    fn posts(&self, path: &str) -> u64 {
        self.control
            .request_count("authentik", Some("POST"), &format!("/api/v3/{path}"))
    }
}

fn user_spec(username: &str) -> UserSpec {
    UserSpec {
        username: username.into(),
        name: "Someone".into(),
        email: username.into(),
        path: "tenants/acme".into(),
        is_active: true,
        user_type: "internal".into(),
        attributes: Map::new(),
    }
}

#[tokio::test]
async fn authentik_observations_cost_one_paged_list_across_page_boundaries() {
    let env = AuthentikEnv::start().await;
    // 230 users and 130 groups: three and two pages of 100
    for i in 0..230 {
        let key = marker("Member", &format!("m{i}")).key();
        env.api(
            reqwest::Method::POST,
            "core/users/",
            json!({"username": format!("u{i}@acme.test"), "name": "U", "attributes": {"dezky.io/marker": key}}),
        )
        .await;
    }
    for i in 0..130 {
        env.api(
            reqwest::Method::POST,
            "core/groups/",
            json!({"name": format!("g{i}"), "attributes": {}}),
        )
        .await;
    }
    let total = env
        .api(reqwest::Method::GET, "core/users/?page_size=1", Value::Null)
        .await["pagination"]["count"]
        .as_u64()
        .expect("count");
    assert!(total > 200, "{total}");
    env.control.reset_requests();
    let registry_metrics = {
        let mut registry = Registry::default();
        (UpstreamMetrics::register(&mut registry), registry)
    };
    let client = env.client(Duration::from_secs(300), registry_metrics.0.clone());
    for i in 0..230 {
        let m = marker("Member", &format!("m{i}"));
        match client
            .observe_user(&format!("u{i}@acme.test"), &m)
            .await
            .expect("observe")
        {
            Observed::Ours(user) => assert_eq!(user.username, format!("u{i}@acme.test")),
            other => panic!("user {i}: {other:?}"),
        }
    }
    for i in 0..130 {
        let found = client
            .observe_group(&format!("g{i}"), &marker("Tenant", &format!("t{i}")))
            .await
            .expect("observe");
        assert!(
            matches!(found, Observed::Unmarked(_)),
            "group {i}: {found:?}"
        );
    }
    assert!(matches!(
        client
            .observe_user("nobody@acme.test", &marker("Member", "nobody"))
            .await
            .expect("observe"),
        Observed::Missing
    ));
    assert_eq!(env.gets("core/users/"), 3, "230 users: three pages, once");
    assert_eq!(env.gets("core/groups/"), 2, "130 groups: two pages, once");

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry_metrics.1).expect("encode");
    assert!(
        text.contains(&format!(
            r#"dezky_upstream_snapshot_objects{{upstream="authentik",collection="users"}} {total}"#
        )),
        "{text}"
    );
    assert!(
        text.contains(r#"dezky_upstream_snapshot_refreshes_total{upstream="authentik",collection="groups",outcome="success"} 1"#),
        "{text}"
    );
    assert!(text.contains("dezky_upstream_snapshot_refresh_duration_seconds_count"));
}

#[tokio::test]
async fn authentik_own_writes_are_visible_without_a_reload() {
    let env = AuthentikEnv::start().await;
    let client = env.client(Duration::from_secs(300), UpstreamMetrics::default());
    let m = marker("Member", "jdoe");
    assert_eq!(
        client
            .observe_user("jdoe@acme.test", &m)
            .await
            .expect("observe"),
        Observed::Missing
    );
    let gm = marker("Tenant", "acme");
    let group = client
        .create_group(
            &GroupSpec {
                name: "tenant-acme".into(),
                attributes: Map::new(),
            },
            &gm,
            false,
        )
        .await
        .expect("group");
    let user = client
        .create_user(&user_spec("jdoe@acme.test"), &m, false)
        .await
        .expect("user");
    client.add_member(&group.pk, user.pk).await.expect("join");
    let renamed = UserSpec {
        name: "Jane Doe".into(),
        ..user_spec("jdoe@acme.test")
    };
    client
        .update_user(&user, &renamed, &m)
        .await
        .expect("update");
    let lists = env.gets("core/users/") + env.gets("core/groups/");

    let Observed::Ours(seen) = client
        .observe_user("jdoe@acme.test", &m)
        .await
        .expect("observe")
    else {
        panic!("our user is observed as ours");
    };
    assert_eq!(seen.name, "Jane Doe");
    assert_eq!(
        seen.groups,
        vec![group.pk.clone()],
        "the membership is recorded"
    );
    assert!(matches!(
        client
            .observe_group("tenant-acme", &gm)
            .await
            .expect("observe"),
        Observed::Ours(_)
    ));
    assert_eq!(
        client
            .list_users("test", "Member")
            .await
            .expect("list")
            .len(),
        1
    );
    client
        .remove_member(&group.pk, user.pk)
        .await
        .expect("leave");
    client.delete_user(user.pk).await.expect("delete");
    assert_eq!(
        client
            .observe_user("jdoe@acme.test", &m)
            .await
            .expect("observe"),
        Observed::Missing
    );
    assert_eq!(
        env.gets("core/users/") + env.gets("core/groups/"),
        lists,
        "nothing was listed again"
    );
}

#[tokio::test]
async fn authentik_external_changes_show_after_a_resync() {
    let env = AuthentikEnv::start().await;
    let client = env.client(Duration::from_millis(300), UpstreamMetrics::default());
    let m = marker("Member", "jdoe");
    let user = client
        .create_user(&user_spec("jdoe@acme.test"), &m, false)
        .await
        .expect("user");
    env.api(
        reqwest::Method::PATCH,
        &format!("core/users/{}/", user.pk),
        json!({"name": "Changed By Hand"}),
    )
    .await;
    let Observed::Ours(seen) = client
        .observe_user("jdoe@acme.test", &m)
        .await
        .expect("observe")
    else {
        panic!("ours");
    };
    assert_eq!(seen.name, "Someone", "before the resync: the snapshot");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let Observed::Ours(seen) = client
        .observe_user("jdoe@acme.test", &m)
        .await
        .expect("observe")
    else {
        panic!("ours");
    };
    assert_eq!(
        seen.name, "Changed By Hand",
        "after the resync: the upstream"
    );
}

#[tokio::test]
async fn authentik_a_create_on_a_stale_snapshot_rereads_and_never_duplicates() {
    let env = AuthentikEnv::start().await;
    let client = env.client(Duration::from_secs(300), UpstreamMetrics::default());
    let m = marker("Member", "jdoe");
    // the snapshot is loaded, then someone creates the user by hand, unmarked
    assert_eq!(
        client
            .observe_user("jdoe@acme.test", &m)
            .await
            .expect("observe"),
        Observed::Missing
    );
    env.api(
        reqwest::Method::POST,
        "core/users/",
        json!({"username": "jdoe@acme.test", "name": "By Hand"}),
    )
    .await;
    match client
        .create_user(&user_spec("jdoe@acme.test"), &m, false)
        .await
    {
        Err(IdentityError::AdoptionRequired { .. }) => {}
        other => panic!("an unmarked user is not taken over: {other:?}"),
    }
    // the live re-read fixed the snapshot: the next observation knows without a write
    let posts = env.posts("core/users/");
    assert!(matches!(
        client
            .observe_user("jdoe@acme.test", &m)
            .await
            .expect("observe"),
        Observed::Unmarked(_)
    ));
    // a group marked by someone else, created after the snapshot: refused, not duplicated
    assert_eq!(
        client
            .observe_group("tenant-acme", &marker("Tenant", "acme"))
            .await
            .expect("observe"),
        Observed::Missing
    );
    env.api(
        reqwest::Method::POST,
        "core/groups/",
        json!({"name": "tenant-acme", "attributes": {"dezky.io/marker": "dezky:other:Tenant:acme"}}),
    )
    .await;
    let spec = GroupSpec {
        name: "tenant-acme".into(),
        attributes: Map::new(),
    };
    match client
        .create_group(&spec, &marker("Tenant", "acme"), true)
        .await
    {
        Err(IdentityError::NameTaken { .. }) => {}
        other => panic!("a foreign group is never taken over: {other:?}"),
    }
    assert_eq!(env.posts("core/users/"), posts, "no second user create");
    let page = env
        .api(
            reqwest::Method::GET,
            "core/users/?username=jdoe%40acme.test",
            Value::Null,
        )
        .await;
    assert_eq!(page["results"].as_array().map(Vec::len), Some(1));
}
