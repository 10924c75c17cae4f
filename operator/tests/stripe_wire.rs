//! The Stripe dialect on the wire, against a recording fake: what localstripe cannot show —
//! customer search by marker, Prices instead of Plans, `pause_collection`, and the
//! `Idempotency-Key` header on every create (the same key when a create is retried).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::routing::{get, post};
use dezky_operator::upstream::http::{Auth, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::stripe::{
    BillingClient, CustomerSpec, Dialect, StripeClient, SubscriptionSpec,
};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    idempotency_key: Option<String>,
    authorization: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn record(
    log: &Log,
    method: Method,
    path: String,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<(String, String)> {
    let form = pairs(&String::from_utf8_lossy(body));
    log.lock().expect("lock").push(Seen {
        method,
        path,
        query: pairs(query.as_deref().unwrap_or_default()),
        form: form.clone(),
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    form
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn subscription(id: &str, form: &[(String, String)], paused: bool) -> Value {
    json!({
        "id": id, "object": "subscription", "customer": "cus_1", "status": "active",
        "items": {"object": "list", "has_more": false, "data": [{
            "id": "si_1",
            "quantity": field(form, "items[0][quantity]").and_then(|q| q.parse::<u64>().ok()).unwrap_or(1),
            "price": {"id": field(form, "items[0][price]").unwrap_or("price_old")},
            "plan": {"id": "legacy_plan_is_not_read_when_a_price_is_there"}
        }]},
        "pause_collection": if paused { json!({"behavior": "void"}) } else { Value::Null },
        "metadata": {"dezky_marker": field(form, "metadata[dezky_marker]").unwrap_or("dezky:test:Tenant:-/acme")}
    })
}

fn fake(log: Log) -> Router {
    Router::new()
        .route(
            "/v1/customers/search",
            get(|State(log): State<Log>, RawQuery(q): RawQuery, h: HeaderMap| async move {
                record(&log, Method::GET, "/v1/customers/search".into(), q, &h, b"");
                axum::Json(json!({"object": "search_result", "data": [], "has_more": false, "next_page": null}))
            }),
        )
        .route(
            "/v1/customers",
            post(|State(log): State<Log>, h: HeaderMap, body: Bytes| async move {
                let form = record(&log, Method::POST, "/v1/customers".into(), None, &h, &body);
                axum::Json(json!({"id": "cus_1", "object": "customer", "name": field(&form, "name"),
                    "metadata": {"dezky_marker": field(&form, "metadata[dezky_marker]")}}))
            }),
        )
        .route(
            "/v1/subscriptions",
            get(|State(log): State<Log>, RawQuery(q): RawQuery, h: HeaderMap| async move {
                record(&log, Method::GET, "/v1/subscriptions".into(), q, &h, b"");
                axum::Json(json!({"object": "list", "data": [], "has_more": false}))
            })
            .post(|State(log): State<Log>, h: HeaderMap, body: Bytes| async move {
                let form = record(&log, Method::POST, "/v1/subscriptions".into(), None, &h, &body);
                axum::Json(subscription("sub_1", &form, false))
            }),
        )
        .route(
            "/v1/subscriptions/{id}",
            post(|State(log): State<Log>, Path(id): Path<String>, h: HeaderMap, body: Bytes| async move {
                let form = record(&log, Method::POST, format!("/v1/subscriptions/{id}"), None, &h, &body);
                let paused = field(&form, "pause_collection[behavior]") == Some("void");
                axum::Json(subscription(&id, &form, paused))
            }),
        )
        .with_state(log)
}

#[tokio::test]
async fn the_stripe_dialect_speaks_prices_search_pauses_and_idempotency_keys() {
    let log: Log = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = fake(log.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = UpstreamHttp::new(
        "stripe",
        url.parse().expect("url"),
        Auth::Bearer(Secret::new("sk_test_wire")),
        UpstreamLimits::default(),
        UpstreamMetrics::default(),
    )
    .expect("http");
    assert_eq!(
        StripeClient::new(http.clone()).dialect(),
        Dialect::Localstripe,
        "a loopback URL is not Stripe"
    );
    let client = StripeClient::with_dialect(http, Dialect::Stripe);
    let acme = Marker {
        installation: "test".into(),
        kind: "Tenant".into(),
        namespace: None,
        name: "acme".into(),
        uid: "uid-1".into(),
    };
    let spec = CustomerSpec {
        name: "Acme".into(),
        email: None,
        country: Some("DE".into()),
        description: "Dezky tenant acme".into(),
    };

    let customer = client.create_customer(&spec, &acme).await.expect("create");
    assert_eq!(customer.id, "cus_1");
    // the same create again (its answer was "lost": search still finds nothing) sends the same key
    client
        .create_customer(&spec, &acme)
        .await
        .expect("create again");
    let seats = SubscriptionSpec {
        price_id: "price_business".into(),
        quantity: 5,
        trial_days: None,
    };
    let sub = client
        .create_subscription("cus_1", &seats, &acme)
        .await
        .expect("subscription");
    assert_eq!(
        (sub.price_id.as_deref(), sub.quantity),
        (Some("price_business"), 5)
    );
    let (paused, wrote) = client
        .set_collection_paused(&sub, true)
        .await
        .expect("pause");
    assert!(wrote && paused.paused);
    let (resumed, _) = client
        .set_collection_paused(&paused, false)
        .await
        .expect("resume");
    assert!(!resumed.paused);

    let seen = log.lock().expect("lock").clone();
    let searches: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/v1/customers/search")
        .collect();
    assert_eq!(searches.len(), 2);
    assert_eq!(
        searches[0]
            .query
            .iter()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.as_str()),
        Some("metadata['dezky_marker']:'dezky:test:Tenant:-/acme'")
    );
    let creates: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.method == Method::POST && s.path == "/v1/customers")
        .collect();
    assert_eq!(creates.len(), 2);
    let key = creates[0]
        .idempotency_key
        .clone()
        .expect("an idempotency key on the create");
    assert_eq!(
        creates[1].idempotency_key.as_deref(),
        Some(key.as_str()),
        "a retried create reuses its key"
    );
    assert_eq!(
        field(&creates[0].form, "metadata[dezky_marker]"),
        Some("dezky:test:Tenant:-/acme")
    );
    assert_eq!(
        field(&creates[0].form, "metadata[dezky_uid]"),
        Some("uid-1")
    );
    assert_eq!(field(&creates[0].form, "address[country]"), Some("DE"));
    assert_eq!(
        creates[0].authorization.as_deref(),
        Some("Bearer sk_test_wire")
    );

    let sub_create = seen
        .iter()
        .find(|s| s.method == Method::POST && s.path == "/v1/subscriptions")
        .expect("sub create");
    assert!(sub_create.idempotency_key.is_some());
    assert_ne!(sub_create.idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(
        field(&sub_create.form, "items[0][price]"),
        Some("price_business")
    );
    assert_eq!(field(&sub_create.form, "items[0][plan]"), None);
    let updates: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/v1/subscriptions/sub_1")
        .collect();
    assert_eq!(
        updates[0].form,
        vec![("pause_collection[behavior]".to_string(), "void".to_string())]
    );
    assert_eq!(
        updates[1].form,
        vec![("pause_collection".to_string(), String::new())]
    );
    assert!(updates.iter().all(|u| u.idempotency_key.is_none()));
}
