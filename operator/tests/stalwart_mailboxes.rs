//! Contract tests of the Stalwart client's mailbox operations against the Stalwart simulator
//! over real HTTP: lifecycle, suspension, password reset, refusals, adoption and paging.

use dezky_operator::upstream::http::{Auth, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::stalwart::{
    DkimMode, DomainSpec, MailAlias, MailClient, MailError, MailboxSpec, StalwartClient,
};
use dezky_simulators::stalwart::{Login, Stalwart, StalwartConfig};
use serde_json::{Value, json};

struct Env {
    sim: Stalwart,
    client: StalwartClient,
    url: String,
}

async fn env_with(password: &str) -> Env {
    let sim = Stalwart::new(StalwartConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let auth = Auth::Basic {
        username: "admin".into(),
        password: Secret::new(password),
    };
    let http = UpstreamHttp::new(
        "stalwart",
        url.parse().expect("url"),
        auth,
        UpstreamLimits::default(),
        UpstreamMetrics::default(),
    )
    .expect("http");
    Env {
        sim,
        client: StalwartClient::new(http),
        url,
    }
}

async fn env() -> Env {
    env_with("stalwart-admin-secret").await
}

impl Env {
    /// A hand-written admin call, for setting up objects the client did not create.
    async fn raw(&self, calls: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}/jmap", self.url))
            .basic_auth("admin", Some("stalwart-admin-secret"))
            .json(&json!({"using": ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"], "methodCalls": calls}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }
}

fn marker(kind: &str, ns: Option<&str>, name: &str) -> Marker {
    Marker {
        installation: "test".into(),
        kind: kind.into(),
        namespace: ns.map(Into::into),
        name: name.into(),
        uid: "uid-1".into(),
    }
}

fn domain_spec(name: &str, dkim: DkimMode) -> DomainSpec {
    DomainSpec {
        name: name.into(),
        dkim,
    }
}

fn mailbox_spec(local: &str, domain_id: &str) -> MailboxSpec {
    MailboxSpec {
        local_part: local.into(),
        domain_id: domain_id.into(),
        display_name: Some("Jane Doe".into()),
        quota_bytes: Some(5 << 30),
        aliases: vec![],
        suspended: false,
    }
}

const PASSWORD: &str = "Correct-Horse-Battery-42";

#[tokio::test]
async fn mailbox_lifecycle_update_suspend_and_password_reset() {
    let e = env().await;
    let d = e
        .client
        .create_domain(
            &domain_spec("acme.test", DkimMode::Manual),
            &marker("MailDomain", Some("t"), "acme"),
            false,
        )
        .await
        .expect("domain");
    let m = marker("Member", Some("tenant-acme"), "jdoe");
    let spec = mailbox_spec("JDoe", &d.id);
    let created = e
        .client
        .create_mailbox(&spec, &Secret::new(PASSWORD), &m, false)
        .await
        .expect("create");
    assert_eq!(created.email.as_deref(), Some("jdoe@acme.test"));
    assert_eq!(created.quota_bytes, Some(5 << 30));
    assert_eq!(created.marker(), Some(m.key().as_str()));
    assert_eq!(created.password_index.as_deref(), Some("0"));
    assert_eq!(
        e.sim.check_login("jdoe@acme.test", PASSWORD),
        Login::Accepted
    );
    // Create again: adopted silently, the password untouched.
    let again = e
        .client
        .create_mailbox(&spec, &Secret::new("Another-Password-99"), &m, false)
        .await
        .expect("adopt");
    assert_eq!(again.id, created.id);
    assert_eq!(
        e.sim.check_login("jdoe@acme.test", PASSWORD),
        Login::Accepted
    );
    // Converged: no write.
    assert!(
        !e.client
            .update_mailbox(&again, &spec, &m)
            .await
            .expect("noop")
    );
    // Quota, alias and display name change in one patch; then converged again.
    let changed = MailboxSpec {
        display_name: Some("Jane D.".into()),
        quota_bytes: Some(1 << 30),
        aliases: vec![MailAlias {
            local_part: "jane".into(),
            domain_id: d.id.clone(),
        }],
        ..spec.clone()
    };
    assert!(
        e.client
            .update_mailbox(&again, &changed, &m)
            .await
            .expect("update")
    );
    let now = e
        .client
        .find_mailbox("jdoe", &d.id)
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(now.quota_bytes, Some(1 << 30));
    assert_eq!(
        now.aliases.values().cloned().collect::<Vec<_>>(),
        changed.aliases
    );
    assert_eq!(
        now.description.as_deref(),
        Some(format!("Jane D. [{}]", m.key()).as_str())
    );
    assert!(
        !e.client
            .update_mailbox(&now, &changed, &m)
            .await
            .expect("noop")
    );
    assert_eq!(
        e.sim.check_login("jane@acme.test", PASSWORD),
        Login::Accepted,
        "the alias logs in"
    );
    // Suspend: login refused with the right password, which is kept; resume restores it.
    let suspended = MailboxSpec {
        suspended: true,
        ..changed.clone()
    };
    assert!(
        e.client
            .update_mailbox(&now, &suspended, &m)
            .await
            .expect("suspend")
    );
    let now = e
        .client
        .find_mailbox("jdoe", &d.id)
        .await
        .expect("find")
        .expect("exists");
    assert!(now.suspended);
    assert_eq!(
        e.sim.check_login("jdoe@acme.test", PASSWORD),
        Login::Suspended
    );
    assert!(
        e.client
            .update_mailbox(&now, &changed, &m)
            .await
            .expect("resume")
    );
    assert_eq!(
        e.sim.check_login("jdoe@acme.test", PASSWORD),
        Login::Accepted
    );
    // Explicit reset: the old password is refused at once.
    e.client
        .set_password(&now.id, &Secret::new("Rotated-Secret-2026"))
        .await
        .expect("reset");
    assert_eq!(
        e.sim.check_login("jdoe@acme.test", PASSWORD),
        Login::Refused
    );
    assert_eq!(
        e.sim.check_login("jdoe@acme.test", "Rotated-Secret-2026"),
        Login::Accepted
    );
    e.client.delete_mailbox(&now.id).await.expect("delete");
    assert_eq!(
        e.client.find_mailbox("jdoe", &d.id).await.expect("find"),
        None
    );
}

#[tokio::test]
async fn mailbox_refusals_and_adoption() {
    let e = env().await;
    let d = e
        .client
        .create_domain(
            &domain_spec("acme.test", DkimMode::Manual),
            &marker("MailDomain", Some("t"), "acme"),
            false,
        )
        .await
        .expect("domain");
    let m = marker("Member", Some("tenant-acme"), "jdoe");
    // Weak password.
    match e
        .client
        .create_mailbox(
            &mailbox_spec("jdoe", &d.id),
            &Secret::new("password1"),
            &m,
            false,
        )
        .await
    {
        Err(MailError::Rejected {
            kind, properties, ..
        }) => assert_eq!(
            (kind.as_str(), properties),
            ("invalidProperties", vec!["secret".to_string()])
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    // An address held as another account's alias is taken.
    let holder = e
        .client
        .create_mailbox(
            &MailboxSpec {
                aliases: vec![MailAlias {
                    local_part: "info".into(),
                    domain_id: d.id.clone(),
                }],
                ..mailbox_spec("boss", &d.id)
            },
            &Secret::new(PASSWORD),
            &marker("Member", Some("tenant-acme"), "boss"),
            false,
        )
        .await
        .expect("holder");
    let taken = e
        .client
        .create_mailbox(
            &mailbox_spec("info", &d.id),
            &Secret::new(PASSWORD),
            &marker("Member", Some("tenant-acme"), "info"),
            true,
        )
        .await;
    assert!(
        matches!(&taken, Err(MailError::NameTaken { object: "Account", id }) if *id == holder.id),
        "{taken:?}"
    );
    // An unmarked account: reported, untouched, then adopted on request with its password kept.
    e.raw(json!([["x:Account/set", {"create": {"a": {"@type": "User", "name": "jdoe", "domainId": d.id, "description": "legacy",
        "credentials": {"0": {"@type": "Password", "secret": "Legacy-Password-77"}}}}}, "0"]])).await;
    let refused = e
        .client
        .create_mailbox(
            &mailbox_spec("jdoe", &d.id),
            &Secret::new(PASSWORD),
            &m,
            false,
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(MailError::AdoptionRequired {
                object: "Account",
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(
        e.client
            .find_mailbox("jdoe", &d.id)
            .await
            .expect("find")
            .expect("exists")
            .description
            .as_deref(),
        Some("legacy")
    );
    let adopted = e
        .client
        .create_mailbox(
            &mailbox_spec("jdoe", &d.id),
            &Secret::new(PASSWORD),
            &m,
            true,
        )
        .await
        .expect("adopt");
    assert_eq!(adopted.marker(), Some(m.key().as_str()));
    assert_eq!(
        e.sim.check_login("jdoe@acme.test", "Legacy-Password-77"),
        Login::Accepted
    );
    // Someone else's marker: never.
    let foreign = e
        .client
        .create_mailbox(
            &mailbox_spec("jdoe", &d.id),
            &Secret::new(PASSWORD),
            &marker("Member", Some("tenant-evil"), "jdoe"),
            true,
        )
        .await;
    assert!(
        matches!(foreign, Err(MailError::NameTaken { .. })),
        "{foreign:?}"
    );
}

#[tokio::test]
async fn bulk_listing_by_pages() {
    let e = env().await;
    let mut domain_ids = Vec::new();
    for n in 0..3 {
        let d = e
            .client
            .create_domain(
                &domain_spec(&format!("d{n}.test"), DkimMode::Manual),
                &marker("MailDomain", Some("t"), &format!("d{n}")),
                false,
            )
            .await
            .expect("domain");
        domain_ids.push(d.id);
    }
    for n in 0..5 {
        e.client
            .create_mailbox(
                &mailbox_spec(&format!("user{n}"), &domain_ids[0]),
                &Secret::new(PASSWORD),
                &marker("Member", Some("t"), &format!("u{n}")),
                false,
            )
            .await
            .expect("mailbox");
    }
    e.client
        .create_mailbox(
            &mailbox_spec("other", &domain_ids[1]),
            &Secret::new(PASSWORD),
            &marker("Member", Some("t"), "other"),
            false,
        )
        .await
        .expect("mailbox");
    let first = e.client.list_domains(0, 2).await.expect("page 1");
    assert_eq!(
        first
            .items
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        ["d0.test", "d1.test"]
    );
    assert_eq!(first.next, Some(2));
    let second = e.client.list_domains(2, 2).await.expect("page 2");
    assert_eq!((second.items.len(), second.next), (1, None));
    let mut seen = Vec::new();
    let mut position = Some(0);
    while let Some(p) = position {
        let page = e
            .client
            .list_mailboxes(Some(&domain_ids[0]), p, 2)
            .await
            .expect("page");
        seen.extend(page.items.into_iter().map(|m| m.local_part));
        position = page.next;
    }
    assert_eq!(seen, ["user0", "user1", "user2", "user3", "user4"]);
    assert_eq!(
        e.client
            .list_mailboxes(None, 0, 100)
            .await
            .expect("all")
            .items
            .len(),
        6
    );
}
