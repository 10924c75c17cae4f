//! Stalwart and OCIS observation from bulk snapshots, against the simulators over real HTTP with
//! requests counted by the simulators' control layer: many observations cost one list (two JMAP
//! pages for more objects than a page holds), our own writes are visible at once, an external
//! change shows after a resync, and a create that meets a stale snapshot never duplicates.

use std::time::Duration;

use dezky_operator::upstream::http::{Auth, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::ocis::{FilesClient, FilesError, OcisClient, SpaceSpec};
use dezky_operator::upstream::snapshot::SnapshotSettings;
use dezky_operator::upstream::stalwart::{
    DkimMode, DomainSpec, MailClient, MailError, MailboxSpec, StalwartClient,
};
use dezky_simulators::control::Control;
use dezky_simulators::ocis::{Ocis, OcisConfig};
use dezky_simulators::stalwart::{Stalwart, StalwartConfig};
use serde_json::{Value, json};

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

struct StalwartEnv {
    url: String,
    control: Control,
}

impl StalwartEnv {
    async fn start() -> Self {
        let control = Control::new("control-token".into());
        let sim = Stalwart::new(StalwartConfig::default());
        let url = serve(control.apply("stalwart", sim.router())).await;
        Self { url, control }
    }

    fn client(&self, resync: Duration) -> StalwartClient {
        let http = UpstreamHttp::new(
            "stalwart",
            self.url.parse().expect("url"),
            Auth::Basic {
                username: "admin".into(),
                password: Secret::new("stalwart-admin-secret"),
            },
            limits(resync),
            UpstreamMetrics::default(),
        )
        .expect("http");
        StalwartClient::new(http)
    }

    fn jmap_calls(&self) -> u64 {
        self.control
            .request_count("stalwart", Some("POST"), "/jmap")
    }
}

fn mailbox_spec(local: &str, domain_id: &str) -> MailboxSpec {
    MailboxSpec {
        local_part: local.into(),
        domain_id: domain_id.into(),
        display_name: Some("Someone".into()),
        quota_bytes: Some(1 << 20),
        aliases: Vec::new(),
        suspended: false,
    }
}

#[tokio::test]
async fn stalwart_observations_cost_one_paged_list_and_see_our_writes() {
    let env = StalwartEnv::start().await;
    let writer = env.client(Duration::from_secs(300));
    let dm = marker("MailDomain", "acme");
    let domain = writer
        .create_domain(
            &DomainSpec {
                name: "acme.test".into(),
                dkim: DkimMode::Automatic,
            },
            &dm,
            false,
        )
        .await
        .expect("domain");
    for i in 0..150 {
        writer
            .create_domain(
                &DomainSpec {
                    name: format!("d{i}.test"),
                    dkim: DkimMode::Automatic,
                },
                &marker("MailDomain", &format!("d{i}")),
                false,
            )
            .await
            .expect("domain");
    }
    for i in 0..120 {
        let m = marker("Member", &format!("m{i}"));
        writer
            .create_mailbox(
                &mailbox_spec(&format!("m{i}"), &domain.id),
                &Secret::new("pw-not-shown-1"),
                &m,
                false,
            )
            .await
            .expect("mailbox");
    }

    // a new client (a restarted operator): 151 domains and 120 mailboxes, two pages each
    env.control.reset_requests();
    let reader = env.client(Duration::from_secs(300));
    for i in 0..150 {
        let found = reader
            .find_domain(&format!("D{i}.test."))
            .await
            .expect("find");
        assert_eq!(found.map(|d| d.name), Some(format!("d{i}.test")));
    }
    for i in 0..120 {
        let found = reader
            .find_mailbox(&format!("m{i}"), &domain.id)
            .await
            .expect("find")
            .expect("mailbox");
        assert_eq!(
            found.marker(),
            Some(marker("Member", &format!("m{i}")).key().as_str())
        );
    }
    assert_eq!(
        reader
            .find_mailbox("nobody", &domain.id)
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        env.jmap_calls(),
        4,
        "two pages of domains, two of mailboxes"
    );

    // our writes are visible at once
    let m = marker("Member", "m0");
    let current = reader
        .find_mailbox("m0", &domain.id)
        .await
        .expect("find")
        .expect("mailbox");
    let suspended = MailboxSpec {
        suspended: true,
        quota_bytes: Some(2 << 20),
        ..mailbox_spec("m0", &domain.id)
    };
    assert!(
        reader
            .update_mailbox(&current, &suspended, &m)
            .await
            .expect("update")
    );
    let seen = reader
        .find_mailbox("m0", &domain.id)
        .await
        .expect("find")
        .expect("mailbox");
    assert!(seen.suspended);
    assert_eq!(seen.quota_bytes, Some(2 << 20));
    assert!(
        !reader
            .update_mailbox(&seen, &suspended, &m)
            .await
            .expect("update"),
        "the snapshot's entry matches what the upstream holds: nothing to write"
    );
    reader.delete_mailbox(&seen.id).await.expect("delete");
    assert_eq!(
        reader.find_mailbox("m0", &domain.id).await.expect("find"),
        None
    );
    assert_eq!(env.jmap_calls(), 4 + 2, "one update and a delete, no list");
}

#[tokio::test]
async fn stalwart_a_stale_snapshot_is_fixed_by_the_create_and_by_a_resync() {
    let env = StalwartEnv::start().await;
    let client = env.client(Duration::from_millis(300));
    let other = env.client(Duration::from_secs(300));
    assert_eq!(client.find_domain("acme.test").await.expect("find"), None);
    // another client (this installation's object) creates the domain after the snapshot loaded
    other
        .create_domain(
            &DomainSpec {
                name: "acme.test".into(),
                dkim: DkimMode::Manual,
            },
            &marker("MailDomain", "acme"),
            false,
        )
        .await
        .expect("create");
    let id = other
        .find_domain("acme.test")
        .await
        .expect("find")
        .expect("domain")
        .id;
    let foreign = Marker {
        installation: "elsewhere".into(),
        ..marker("MailDomain", "acme")
    };
    match client
        .create_domain(
            &DomainSpec {
                name: "acme.test".into(),
                dkim: DkimMode::Manual,
            },
            &foreign,
            true,
        )
        .await
    {
        Err(MailError::NameTaken { .. }) => {}
        other => panic!("another installation's domain is never taken over: {other:?}"),
    }
    assert_eq!(
        client
            .find_domain("acme.test")
            .await
            .expect("find")
            .map(|d| d.id),
        Some(id.clone()),
        "the create's re-read fixed the snapshot"
    );
    other.delete_domain(&id).await.expect("delete");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        client.find_domain("acme.test").await.expect("find"),
        None,
        "the resync saw the deletion"
    );
}

struct OcisEnv {
    url: String,
    control: Control,
}

impl OcisEnv {
    async fn start() -> Self {
        let control = Control::new("control-token".into());
        let sim = Ocis::new(OcisConfig::default());
        let url = serve(control.apply("ocis", sim.router())).await;
        Self { url, control }
    }

    fn client(&self, resync: Duration) -> OcisClient {
        let http = UpstreamHttp::new(
            "ocis",
            self.url.parse().expect("url"),
            Auth::Basic {
                username: "svc-dezky".into(),
                password: Secret::new("ocis-app-token-secret"),
            },
            limits(resync),
            UpstreamMetrics::default(),
        )
        .expect("http");
        OcisClient::new(http)
    }

    fn gets(&self, path: &str) -> u64 {
        self.control.request_count("ocis", Some("GET"), path)
    }
}

fn space(name: &str) -> SpaceSpec {
    SpaceSpec {
        name: name.into(),
        description: None,
        quota_bytes: 1 << 30,
    }
}

#[tokio::test]
async fn ocis_observations_cost_one_list_and_a_create_never_duplicates() {
    let env = OcisEnv::start().await;
    let writer = env.client(Duration::from_secs(300));
    for i in 0..20 {
        let t = marker("Tenant", &format!("t{i}"));
        writer
            .create_space(&space(&format!("Space {i}")), &t, false)
            .await
            .expect("space");
        writer
            .create_group(&format!("tenant-t{i}-files-editor"), &t, false)
            .await
            .expect("group");
    }
    env.control.reset_requests();
    let reader = env.client(Duration::from_secs(300));
    for i in 0..20 {
        let t = marker("Tenant", &format!("t{i}"));
        let found = reader.find_space(&t).await.expect("find").expect("space");
        assert_eq!(found.name, format!("Space {i}"));
        assert_eq!(reader.list_project_spaces().await.expect("list").len(), 20);
        let groups = reader.list_groups().await.expect("groups");
        assert!(
            groups
                .iter()
                .any(|g| g.display_name == format!("tenant-t{i}-files-editor"))
        );
    }
    assert_eq!(env.gets("/graph/v1.0/drives"), 1, "one list of spaces");
    assert_eq!(env.gets("/graph/v1.0/groups"), 1, "one list of groups");

    // our writes are visible at once
    let t0 = marker("Tenant", "t0");
    let current = reader.find_space(&t0).await.expect("find").expect("space");
    let bigger = SpaceSpec {
        quota_bytes: 2 << 30,
        ..space("Space 0")
    };
    let (_, changed) = reader
        .update_space(&current, &bigger)
        .await
        .expect("update");
    assert!(changed);
    let seen = reader.find_space(&t0).await.expect("find").expect("space");
    assert_eq!(seen.quota_bytes, 2 << 30);
    reader.disable_space(&seen.id).await.expect("disable");
    assert!(
        reader
            .find_space(&t0)
            .await
            .expect("find")
            .expect("space")
            .disabled
    );

    // someone creates an unmarked space with the name we want after the snapshot was loaded:
    // the create decides on a live list and refuses instead of adding a second space
    let (status, _) = raw_create_space(&env.url, "Acme Files").await;
    assert!(status < 300, "{status}");
    match reader
        .create_space(&space("Acme Files"), &marker("Tenant", "acme"), false)
        .await
    {
        Err(FilesError::AdoptionRequired { .. }) => {}
        other => panic!("an unmarked space is not taken over: {other:?}"),
    }
    let named = reader
        .list_project_spaces()
        .await
        .expect("list")
        .into_iter()
        .filter(|s| s.name == "Acme Files")
        .count();
    assert_eq!(named, 1, "no duplicate space");
}

async fn raw_create_space(url: &str, name: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/graph/v1.0/drives"))
        .basic_auth("svc-dezky", Some("ocis-app-token-secret"))
        .json(&json!({"name": name, "driveType": "project"}))
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
