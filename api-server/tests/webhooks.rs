//! The `/webhooks/stripe` endpoint over real HTTP: signatures accepted and rejected, replayed
//! events applied once, failed applies retried, and real deliveries signed by localstripe
//! (started with `scripts/localstripe`; the test fails when it cannot start it). localstripe's
//! declined-charge path sends no `invoice.payment_failed`, so that event is covered by deliveries
//! signed here with the endpoint secret, exactly as Stripe signs them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::middleware::{self, Next};
use dezky_api::webhooks::{
    ApplyError, ApplyOutcome, BillingUpdate, WebhookConfig, WebhookSecret, WebhookState,
    apply_update, router, sign,
};
use dezky_crds::tenant::TenantBilling;
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_dezky";

/// Tenants' billing status, the way the api-server's Kubernetes write sees them.
#[derive(Default)]
struct Tenants {
    billing: HashMap<String, TenantBilling>,
    writes: usize,
    fail_next_writes: usize,
    deliveries: Vec<(String, Vec<u8>)>,
}

type Shared = Arc<Mutex<Tenants>>;

struct Endpoint {
    url: String,
    tenants: Shared,
}

async fn apply(tenants: Shared, update: BillingUpdate) -> Result<ApplyOutcome, ApplyError> {
    let lookup_from = tenants.clone();
    apply_update(
        update,
        |u| {
            let found = {
                let t = lookup_from.lock().expect("lock");
                t.billing
                    .iter()
                    .find(|(_, b)| b.customer_id.as_deref() == Some(u.customer_id.as_str()))
                    .map(|(name, b)| (name.clone(), Some(b.clone())))
            };
            async move { Ok(found) }
        },
        |tenant, next| {
            let result = {
                let mut t = tenants.lock().expect("lock");
                if t.fail_next_writes > 0 {
                    t.fail_next_writes -= 1;
                    Err(ApplyError::Write {
                        tenant,
                        reason: "the API server is unavailable".into(),
                    })
                } else {
                    t.writes += 1;
                    t.billing.insert(tenant, next);
                    Ok(())
                }
            };
            async move { result }
        },
    )
    .await
}

/// Records every delivery (signature header and body) before the endpoint sees it.
async fn record(tenants: Shared, request: Request, next: Next) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.expect("body");
    let signature = parts
        .headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    tenants
        .lock()
        .expect("lock")
        .deliveries
        .push((signature, bytes.to_vec()));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn endpoint() -> Endpoint {
    let tenants: Shared = Arc::default();
    let for_apply = tenants.clone();
    let state = WebhookState::new(
        WebhookConfig::new(WebhookSecret::new(SECRET)),
        move |update| apply(for_apply.clone(), update),
    );
    let app = router(state).layer(middleware::from_fn({
        let tenants = tenants.clone();
        move |req, next| record(tenants.clone(), req, next)
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/webhooks/stripe",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Endpoint { url, tenants }
}

impl Endpoint {
    fn tenant(&self, name: &str, billing: TenantBilling) {
        self.tenants
            .lock()
            .expect("lock")
            .billing
            .insert(name.into(), billing);
    }

    fn billing(&self, name: &str) -> TenantBilling {
        self.tenants.lock().expect("lock").billing[name].clone()
    }

    fn writes(&self) -> usize {
        self.tenants.lock().expect("lock").writes
    }

    async fn deliver(&self, signature: Option<&str>, body: &[u8]) -> (u16, String) {
        let mut req = reqwest::Client::new().post(&self.url).body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("Stripe-Signature", sig);
        }
        let response = req.send().await.expect("send");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        (
            status,
            // a success says its word in `status`, a refusal (problem+json) in `detail`
            body["status"]
                .as_str()
                .or(body["detail"].as_str())
                .unwrap_or_default()
                .to_string(),
        )
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": id, "object": "event", "type": kind, "created": now(), "data": {"object": object}}))
        .expect("json")
}

fn acme(status: &str) -> TenantBilling {
    TenantBilling {
        customer_id: Some("cus_acme".into()),
        subscription_id: Some("sub_acme".into()),
        subscription_status: Some(status.into()),
    }
}

fn payment_failed(id: &str) -> Vec<u8> {
    event(
        id,
        "invoice.payment_failed",
        json!({"id": "in_1", "object": "invoice", "customer": "cus_acme", "subscription": "sub_acme"}),
    )
}

#[tokio::test]
async fn signatures_are_accepted_and_rejected() {
    let ep = endpoint().await;
    ep.tenant("acme", acme("active"));
    let body = payment_failed("evt_1");
    let secret = WebhookSecret::new(SECRET);

    // refused: no header, another secret, a tampered body, a stale timestamp, garbage
    assert_eq!(
        ep.deliver(None, &body).await,
        (400, "signature rejected".into())
    );
    let other = sign(&body, &WebhookSecret::new("whsec_other"), now());
    assert_eq!(ep.deliver(Some(&other), &body).await.0, 400);
    let good = sign(&body, &secret, now());
    let tampered = payment_failed("evt_2");
    assert_eq!(ep.deliver(Some(&good), &tampered).await.0, 400);
    let stale = sign(&body, &secret, now() - 600);
    assert_eq!(ep.deliver(Some(&stale), &body).await.0, 400);
    assert_eq!(ep.deliver(Some("t=1,v1=zz"), &body).await.0, 400);
    assert_eq!(ep.writes(), 0, "nothing refused was applied");
    assert_eq!(ep.billing("acme"), acme("active"));

    // accepted
    assert_eq!(
        ep.deliver(Some(&good), &body).await,
        (200, "applied".into())
    );
    assert_eq!(
        ep.billing("acme").subscription_status.as_deref(),
        Some("past_due")
    );
    assert_eq!(ep.writes(), 1);

    // a signed body that is not an event is refused, and an unknown customer changes nothing
    let not_event = br#"{"hello": "world"}"#;
    assert_eq!(
        ep.deliver(Some(&sign(not_event, &secret, now())), not_event)
            .await
            .0,
        400
    );
    let stranger = event(
        "evt_3",
        "customer.subscription.deleted",
        json!({"id": "sub_x", "customer": "cus_x", "status": "canceled"}),
    );
    assert_eq!(
        ep.deliver(Some(&sign(&stranger, &secret, now())), &stranger)
            .await,
        (200, "unknown tenant".into())
    );
    let ignored = event("evt_4", "charge.succeeded", json!({"id": "ch_1"}));
    assert_eq!(
        ep.deliver(Some(&sign(&ignored, &secret, now())), &ignored)
            .await,
        (200, "ignored".into())
    );
    assert_eq!(ep.writes(), 1);
}

#[tokio::test]
async fn a_replayed_event_is_applied_once() {
    let ep = endpoint().await;
    ep.tenant("acme", acme("active"));
    let secret = WebhookSecret::new(SECRET);
    let body = payment_failed("evt_replay");
    let signature = sign(&body, &secret, now());
    assert_eq!(
        ep.deliver(Some(&signature), &body).await,
        (200, "applied".into())
    );
    // the same delivery replayed, and the same event re-signed later (Stripe's own retry)
    assert_eq!(
        ep.deliver(Some(&signature), &body).await,
        (200, "duplicate".into())
    );
    assert_eq!(
        ep.deliver(Some(&sign(&body, &secret, now() + 1)), &body)
            .await,
        (200, "duplicate".into())
    );
    assert_eq!(ep.writes(), 1);
    assert_eq!(
        ep.billing("acme").subscription_status.as_deref(),
        Some("past_due")
    );

    // a different event that says the same thing is accepted and writes nothing (idempotent apply)
    let same_news = payment_failed("evt_other");
    assert_eq!(
        ep.deliver(Some(&sign(&same_news, &secret, now())), &same_news)
            .await,
        (200, "unchanged".into())
    );
    assert_eq!(ep.writes(), 1);
}

#[tokio::test]
async fn a_failed_apply_is_retried_by_the_next_delivery() {
    let ep = endpoint().await;
    ep.tenant("acme", acme("past_due"));
    ep.tenants.lock().expect("lock").fail_next_writes = 1;
    let secret = WebhookSecret::new(SECRET);
    let body = event(
        "evt_paid",
        "invoice.paid",
        json!({"id": "in_1", "customer": "cus_acme", "subscription": "sub_acme"}),
    );
    assert_eq!(
        ep.deliver(Some(&sign(&body, &secret, now())), &body).await,
        (500, "failed".into())
    );
    assert_eq!(
        ep.billing("acme").subscription_status.as_deref(),
        Some("past_due")
    );
    assert_eq!(
        ep.deliver(Some(&sign(&body, &secret, now())), &body).await,
        (200, "applied".into())
    );
    assert_eq!(
        ep.billing("acme").subscription_status.as_deref(),
        Some("active")
    );
    assert_eq!(
        ep.deliver(Some(&sign(&body, &secret, now())), &body).await,
        (200, "duplicate".into())
    );
    assert_eq!(ep.writes(), 1);
}

/// One localstripe process, stopped on drop.
struct Localstripe {
    dir: tempfile::TempDir,
    url: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/localstripe")
}

impl Localstripe {
    fn start() -> Localstripe {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .arg("--watch-pid")
            .arg(std::process::id().to_string())
            .output()
            .expect("run scripts/localstripe");
        assert!(
            out.status.success(),
            "scripts/localstripe could not start localstripe:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Localstripe { dir, url }
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth("sk_test_dezky")
            .form(form)
            .send()
            .await
            .expect("send");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        let text = response.text().await.expect("body");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn delete(&self, path: &str) {
        let response = reqwest::Client::new()
            .delete(format!("{}{path}", self.url))
            .bearer_auth("sk_test_dezky")
            .send()
            .await
            .expect("send");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    /// A customer paying with the given test card number.
    async fn customer_with_card(&self, number: &str) -> String {
        let pm = self
            .post(
                "/v1/payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", number),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2034"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        let pm = pm["id"].as_str().expect("pm");
        let customer = self
            .post(
                "/v1/customers",
                &[
                    ("email", "billing@acme.test"),
                    ("payment_method", pm),
                    ("invoice_settings[default_payment_method]", pm),
                ],
            )
            .await;
        customer["id"].as_str().expect("customer").to_string()
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

async fn wait_for(ep: &Endpoint, what: &str, check: impl Fn(&Tenants) -> bool) {
    for _ in 0..150 {
        if check(&ep.tenants.lock().expect("lock")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = ep.tenants.lock().expect("lock");
    let seen: Vec<String> = t
        .deliveries
        .iter()
        .map(|(_, body)| {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            format!("{} {}", v["type"], v["data"]["object"]["customer"])
        })
        .collect();
    panic!(
        "timed out waiting for {what}; deliveries: {seen:?}; billing: {:?}",
        t.billing
    );
}

#[tokio::test]
async fn deliveries_signed_by_localstripe_are_applied_once() {
    let ep = endpoint().await;
    let ls = Localstripe::start();
    ls.post(
        "/_config/webhooks/dezky",
        &[("url", ep.url.as_str()), ("secret", SECRET)],
    )
    .await;
    ls.post(
        "/v1/plans",
        &[
            ("id", "business"),
            ("amount", "1200"),
            ("currency", "eur"),
            ("interval", "month"),
            ("product[name]", "Business"),
        ],
    )
    .await;

    // a paying tenant: subscription created, first invoice paid
    let paying = ls.customer_with_card("4242424242424242").await;
    ep.tenant(
        "acme",
        TenantBilling {
            customer_id: Some(paying.clone()),
            ..Default::default()
        },
    );
    let sub = ls
        .post(
            "/v1/subscriptions",
            &[
                ("customer", paying.as_str()),
                ("items[0][plan]", "business"),
                ("items[0][quantity]", "5"),
            ],
        )
        .await;
    let sub_id = sub["id"].as_str().expect("sub").to_string();
    wait_for(&ep, "the paid invoice", |t| {
        t.billing["acme"].subscription_id.as_deref() == Some(sub_id.as_str())
    })
    .await;

    // deletion of the paying tenant's subscription
    ls.delete(&format!("/v1/subscriptions/{sub_id}")).await;
    wait_for(&ep, "the deleted subscription", |t| {
        t.billing["acme"].subscription_status.as_deref() == Some("canceled")
    })
    .await;
    assert_eq!(
        ep.billing("acme").subscription_id.as_deref(),
        Some(sub_id.as_str())
    );

    // every delivery localstripe made verified (none refused), and replaying each changes nothing
    let (deliveries, writes) = {
        let t = ep.tenants.lock().expect("lock");
        (t.deliveries.clone(), t.writes)
    };
    assert!(deliveries.len() >= 3, "{} deliveries", deliveries.len());
    for (signature, body) in &deliveries {
        let (status, word) = ep.deliver(Some(signature), body).await;
        assert_eq!(
            (status, word.as_str()),
            (200, "duplicate"),
            "replay of {}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(ep.writes(), writes, "replays wrote nothing");
}
