//! Contract tests of the Stalwart client against the Stalwart simulator over real HTTP: every
//! operation, the SetError shapes, and both adoption paths.

use dezky_operator::upstream::http::{
    Auth, ErrorCategory, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics,
};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::stalwart::{
    DkimAlgorithm, DkimMode, DomainSpec, MailClient, MailError, MailRecordPurpose, MailboxSpec,
    NewDkimKey, StalwartClient,
};
use dezky_simulators::stalwart::{Stalwart, StalwartConfig};
use serde_json::{Value, json};

struct Env {
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
async fn domain_create_is_idempotent_and_lists_dns_records() {
    let e = env().await;
    let m = marker("MailDomain", Some("tenant-acme"), "acme");
    let created = e
        .client
        .create_domain(&domain_spec("Acme.TEST", DkimMode::Automatic), &m, false)
        .await
        .expect("create");
    assert_eq!(created.name, "acme.test");
    assert_eq!(created.marker(), Some(m.key().as_str()));
    // A second create (a lost status) adopts silently.
    let again = e
        .client
        .create_domain(&domain_spec("acme.test", DkimMode::Automatic), &m, false)
        .await
        .expect("adopt");
    assert_eq!(again.id, created.id);
    assert_eq!(
        e.client
            .find_domain("ACME.test.")
            .await
            .expect("find")
            .map(|d| d.id),
        Some(created.id.clone())
    );
    assert_eq!(
        e.client
            .get_domain(&created.id)
            .await
            .expect("get")
            .map(|d| d.dkim),
        Some(DkimMode::Automatic)
    );
    assert_eq!(
        e.client.get_domain("zzzz").await.expect("get missing"),
        None
    );
    // Automatic DKIM: two keys, both in the records to publish.
    let keys = e.client.list_dkim_keys(&created.id).await.expect("keys");
    assert_eq!(keys.len(), 2);
    let records = e.client.dns_records(&created.id).await.expect("records");
    let purposes: Vec<_> = records.iter().map(|r| r.purpose).collect();
    assert_eq!(
        purposes,
        [
            MailRecordPurpose::Mx,
            MailRecordPurpose::Spf,
            MailRecordPurpose::Dkim,
            MailRecordPurpose::Dkim,
            MailRecordPurpose::Dmarc
        ]
    );
    assert_eq!(records[0].value, "10 mail.dezky.test.");
    for key in &keys {
        let dkim = records
            .iter()
            .find(|r| r.name.starts_with(&format!("{}._domainkey.", key.selector)))
            .expect("dkim record");
        assert!(dkim.value.ends_with(&format!(
            "p={}",
            key.public_key.as_deref().expect("public key")
        )));
    }
}

#[tokio::test]
async fn domain_adoption_paths_and_refusals() {
    let e = env().await;
    e.raw(json!([["x:Domain/set", {"create": {"h": {"name": "byhand.test", "description": "made by hand"}}}, "0"],
                 ["x:Domain/set", {"create": {"o": {"name": "other.test", "description": "dezky:test:MailDomain:tenant-evil/other"}}}, "1"]]))
        .await;
    let m = marker("MailDomain", Some("tenant-acme"), "byhand");
    let refused = e
        .client
        .create_domain(&domain_spec("byhand.test", DkimMode::Manual), &m, false)
        .await;
    assert!(
        matches!(
            refused,
            Err(MailError::AdoptionRequired {
                object: "Domain",
                ..
            })
        ),
        "{refused:?}"
    );
    let untouched = e
        .client
        .find_domain("byhand.test")
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(untouched.description.as_deref(), Some("made by hand"));
    let adopted = e
        .client
        .create_domain(&domain_spec("byhand.test", DkimMode::Manual), &m, true)
        .await
        .expect("adopt");
    assert_eq!(adopted.id, untouched.id);
    assert_eq!(
        e.client
            .find_domain("byhand.test")
            .await
            .expect("find")
            .expect("exists")
            .marker(),
        Some(m.key().as_str())
    );
    // Marked by another object: never taken over, even with adopt.
    let taken = e
        .client
        .create_domain(
            &domain_spec("other.test", DkimMode::Manual),
            &marker("MailDomain", Some("tenant-acme"), "other"),
            true,
        )
        .await;
    assert!(
        matches!(
            taken,
            Err(MailError::NameTaken {
                object: "Domain",
                ..
            })
        ),
        "{taken:?}"
    );
    // Not a registrable name under a public suffix.
    match e
        .client
        .create_domain(&domain_spec("acme.example", DkimMode::Manual), &m, false)
        .await
    {
        Err(error @ MailError::Rejected { .. }) => {
            assert_eq!(error.category(), ErrorCategory::Invalid);
            assert!(error.is_permanent());
            let MailError::Rejected {
                kind, properties, ..
            } = error
            else {
                unreachable!()
            };
            assert_eq!(
                (kind.as_str(), properties),
                ("invalidPatch", vec!["name".to_string()])
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn domain_in_use_then_deleted_in_order_and_delete_is_idempotent() {
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
    // Manual DKIM with a real PKCS#8 Ed25519 key.
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOZy3fUHKNU+ZNWJNQbqvnWwbNOKBIWyFYgMPY9qhe5d\n-----END PRIVATE KEY-----\n";
    let key = NewDkimKey {
        algorithm: DkimAlgorithm::Ed25519Sha256,
        selector: "dezky1".into(),
        private_key_pem: Secret::new(pem),
    };
    let key_id = e.client.create_dkim_key(&d.id, &key).await.expect("dkim");
    let bad = NewDkimKey {
        private_key_pem: Secret::new("not a key"),
        ..key.clone()
    };
    assert!(matches!(
        e.client.create_dkim_key(&d.id, &bad).await,
        Err(MailError::Rejected { .. })
    ));
    let records = e.client.dns_records(&d.id).await.expect("records");
    assert!(
        records
            .iter()
            .any(|r| r.name == "dezky1._domainkey.acme.test."
                && r.value.starts_with("v=DKIM1; k=ed25519"))
    );
    let mailbox = e
        .client
        .create_mailbox(
            &mailbox_spec("jdoe", &d.id),
            &Secret::new(PASSWORD),
            &marker("Member", Some("t"), "jdoe"),
            false,
        )
        .await
        .expect("mailbox");
    match e.client.delete_domain(&d.id).await {
        Err(error @ MailError::InUse { .. }) => {
            assert!(!error.is_permanent());
            let MailError::InUse { linked, .. } = error else {
                unreachable!()
            };
            let objects: Vec<_> = linked
                .iter()
                .map(|l| (l.object.as_str(), l.id.as_str()))
                .collect();
            assert!(
                objects.contains(&("Account", mailbox.id.as_str()))
                    && objects.contains(&("DkimSignature", key_id.as_str())),
                "{objects:?}"
            );
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    e.client
        .delete_mailbox(&mailbox.id)
        .await
        .expect("delete mailbox");
    e.client
        .delete_mailbox(&mailbox.id)
        .await
        .expect("delete mailbox again");
    e.client.delete_dkim_key(&key_id).await.expect("delete key");
    e.client.delete_domain(&d.id).await.expect("delete domain");
    e.client
        .delete_domain(&d.id)
        .await
        .expect("delete of a gone domain is success");
    assert_eq!(e.client.find_domain("acme.test").await.expect("find"), None);
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized() {
    let e = env_with("wrong-password").await;
    let error = e
        .client
        .find_domain("acme.test")
        .await
        .expect_err("must fail");
    assert_eq!(error.category(), ErrorCategory::Unauthorized);
    assert!(error.is_permanent());
    assert!(!error.to_string().contains("wrong-password"));
}

#[tokio::test]
async fn concurrent_creates_and_alias_clashes() {
    let e = env().await;
    let m = marker("MailDomain", Some("t"), "acme");
    let spec = domain_spec("acme.test", DkimMode::Manual);
    // Both look up first (paced by the limiter), then both create: the second create meets
    // primaryKeyViolation naming our own, marked domain and adopts it.
    let (a, b) = tokio::join!(
        e.client.create_domain(&spec, &m, false),
        e.client.create_domain(&spec, &m, false)
    );
    assert_eq!(a.expect("first").id, b.expect("second").id);
    // A name that is another domain's alias is a conflict, never an adoption.
    e.raw(json!([["x:Domain/set", {"create": {"h": {"name": "main.test", "aliases": {"alias.test": true}}}}, "0"]]))
        .await;
    let clash = e
        .client
        .create_domain(
            &domain_spec("alias.test", DkimMode::Manual),
            &marker("MailDomain", Some("t"), "alias"),
            true,
        )
        .await;
    assert!(
        matches!(
            clash,
            Err(MailError::NameTaken {
                object: "Domain",
                ..
            })
        ),
        "{clash:?}"
    );
}

#[tokio::test]
async fn domain_update_changes_only_managed_fields() {
    let e = env().await;
    let m = marker("MailDomain", Some("t"), "acme");
    let manual = domain_spec("acme.test", DkimMode::Manual);
    let domain = e
        .client
        .create_domain(&manual, &m, false)
        .await
        .expect("create");
    assert!(
        !e.client
            .update_domain(&domain, &manual, &m)
            .await
            .expect("noop")
    );
    assert!(
        e.client
            .list_dkim_keys(&domain.id)
            .await
            .expect("keys")
            .is_empty()
    );
    let automatic = domain_spec("acme.test", DkimMode::Automatic);
    assert!(
        e.client
            .update_domain(&domain, &automatic, &m)
            .await
            .expect("to automatic")
    );
    let now = e
        .client
        .get_domain(&domain.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(now.dkim, DkimMode::Automatic);
    assert_eq!(now.marker(), Some(m.key().as_str()));
    assert_eq!(
        e.client
            .list_dkim_keys(&domain.id)
            .await
            .expect("keys")
            .len(),
        2
    );
    assert!(
        !e.client
            .update_domain(&now, &automatic, &m)
            .await
            .expect("noop")
    );
}
