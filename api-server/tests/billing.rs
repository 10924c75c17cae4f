//! Billing in the API server over real HTTP, against localstripe: webhooks signed by localstripe
//! update tenant status through the Kubernetes API; bad signatures, stale and replayed deliveries
//! write nothing; invoices and partner revenue follow the roles (refused across tenants and
//! partners, writing nothing); a card added through a SetupIntent shows as brand and last four;
//! with billing off the endpoint and the routes answer 404 and the pages say so.

#[path = "billing/access.rs"]
mod access;
#[path = "billing/harness.rs"]
mod harness;
#[path = "billing/localstripe.rs"]
mod localstripe;
#[path = "billing/payment.rs"]
mod payment;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use dezky_api::webhooks::{WebhookSecret, sign};
use harness::{Env, WEBHOOK_SECRET};
use serde_json::{Value, json};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn has(v: &Value, role: &str, name: &str) -> bool {
    v["roles"][role]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == name))
}

/// Waits until the caller's roles (`GET /api/v1/me`) show `role` on `name`.
async fn wait_role(env: &Env, token: &str, role: &str, name: &str) {
    env.eventually(&format!("{role} {name}"), || async {
        let (s, v) = env.get("/api/v1/me", token).await;
        s == 200 && has(&v, role, name)
    })
    .await;
}

fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"id": id, "object": "event", "type": kind, "created": now(),
        "data": {"object": object}}),
    )
    .expect("json")
}

/// Deliveries seen by the tap: the signature header, the body and the API server's answer.
type Deliveries = Arc<Mutex<Vec<(String, Vec<u8>, u16)>>>;

/// A webhook tap between localstripe and the API server: forwards each delivery unchanged and
/// records it, so the test can replay exactly what localstripe signed. Its URL.
async fn tap(target: String, seen: Deliveries) -> String {
    let http = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (http, target, seen) = (http.clone(), target.clone(), seen.clone());
            async move {
                let signature = headers
                    .get("stripe-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let status = http
                    .post(&target)
                    .header("stripe-signature", &signature)
                    .header("content-type", "application/json")
                    .body(body.to_vec())
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(599);
                seen.lock()
                    .expect("lock")
                    .push((signature, body.to_vec(), status));
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

#[tokio::test]
async fn deliveries_signed_by_localstripe_update_tenant_status() {
    let env = Env::start(true).await;
    env.tenant("acme", None).await;
    let ls = env.ls();
    let seen = Deliveries::default();
    let hook = tap(format!("{}/webhooks/stripe", env.base), seen.clone()).await;
    ls.post(
        "/_config/webhooks/dezky",
        &[("url", hook.as_str()), ("secret", WEBHOOK_SECRET)],
    )
    .await;
    ls.plan().await;
    let customer = ls
        .customer("billing@acme.test", Some("4242424242424242"))
        .await;
    env.billing_status("acme", json!({"customerId": customer}))
        .await;

    // the first invoice is paid: the tenant's status learns its subscription
    let sub = ls.subscribe(&customer, "5").await;
    env.eventually("the subscription in the tenant's status", || async {
        env.tenant_billing("acme").await["subscriptionId"] == sub.as_str()
    })
    .await;

    // the subscription is deleted: the tenant's status says canceled
    ls.delete(&format!("/v1/subscriptions/{sub}")).await;
    env.eventually("the canceled subscription", || async {
        env.tenant_billing("acme").await["subscriptionStatus"] == "canceled"
    })
    .await;
    assert_eq!(env.tenant_billing("acme").await["customerId"], customer);

    // each change is in the tenant's audit trail, as Stripe's doing
    let op = env.token("op@dezky.test", true).await;
    let (status, audit) = env.get("/api/v1/tenants/acme/audit", &op).await;
    assert_eq!(status, 200, "{audit}");
    let text = audit.to_string();
    assert!(
        text.contains("BillingStatusChanged") && text.contains("Stripe (webhook)"),
        "{text}"
    );

    // every delivery localstripe signed was accepted; each one replayed is refused, writing nothing
    let deliveries = seen.lock().expect("lock").clone();
    assert!(deliveries.len() >= 3, "{} deliveries", deliveries.len());
    let before = env.write_requests();
    for (signature, body, status) in &deliveries {
        assert_eq!(*status, 200, "{}", String::from_utf8_lossy(body));
        let (status, _, answer) = env.deliver(Some(signature), body).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("duplicate")),
            "replay of {}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(env.write_requests(), before, "replays wrote nothing");
    env.shutdown().await;
}

#[tokio::test]
async fn bad_signatures_stale_and_replayed_deliveries_write_nothing() {
    let env = Env::start(true).await;
    env.tenant("acme", None).await;
    env.billing_status(
        "acme",
        json!({"customerId": "cus_acme", "subscriptionId": "sub_acme", "subscriptionStatus": "active"}),
    )
    .await;
    let secret = WebhookSecret::new(WEBHOOK_SECRET);
    let body = event(
        "evt_1",
        "customer.subscription.updated",
        json!({"id": "sub_acme", "object": "subscription", "customer": "cus_acme", "status": "past_due"}),
    );
    let before = env.write_requests();
    let wrong = sign(&body, &WebhookSecret::new("whsec_not_ours"), now());
    let stale = sign(&body, &secret, now() - 3600);
    let mut tampered = body.clone();
    let at = tampered.len() - 3;
    tampered[at] = b' ';
    for (what, signature, payload) in [
        ("unsigned", None, &body),
        ("signed with another secret", Some(wrong.as_str()), &body),
        ("signed an hour ago", Some(stale.as_str()), &body),
        ("garbage header", Some("t=1,v1=zz"), &body),
    ] {
        let (status, ct, answer) = env.deliver(signature, payload).await;
        assert_eq!(
            (status, ct.as_str()),
            (400, "application/problem+json"),
            "{what}: {answer}"
        );
        assert_eq!(
            answer["errors"][0]["field"], "Stripe-Signature",
            "{what}: {answer}"
        );
    }
    let good = sign(&body, &secret, now());
    let (status, _, answer) = env.deliver(Some(&good), &tampered).await;
    assert_eq!(status, 400, "a tampered body: {answer}");
    assert_eq!(
        env.write_requests(),
        before,
        "refused deliveries wrote nothing"
    );
    assert_eq!(
        env.tenant_billing("acme").await["subscriptionStatus"],
        "active"
    );

    let (status, _, answer) = env.deliver(Some(&good), &body).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("applied")));
    assert_eq!(
        env.tenant_billing("acme").await["subscriptionStatus"],
        "past_due"
    );
    let after_apply = env.write_requests();
    assert!(after_apply > before);

    // the same delivery again, freshly signed or not: refused as a replay, nothing written
    let (status, _, answer) = env.deliver(Some(&good), &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    let resigned = sign(&body, &secret, now());
    let (status, _, answer) = env.deliver(Some(&resigned), &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    // the same change under a new event id: applied idempotently, nothing written
    let again = event(
        "evt_2",
        "customer.subscription.updated",
        json!({"id": "sub_acme", "object": "subscription", "customer": "cus_acme", "status": "past_due"}),
    );
    let (status, _, answer) = env
        .deliver(Some(&sign(&again, &secret, now())), &again)
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("unchanged"))
    );
    assert_eq!(env.write_requests(), after_apply, "replays wrote nothing");
    env.shutdown().await;
}
