//! Billing system-test support: a localstripe per test (started through `scripts/localstripe`,
//! failing the test when it cannot start), a counting proxy in front of it (Stripe writes are
//! counted there, and it can play an outage), and an operator with billing switched on.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dezky_operator::config::{PlanConfig, StripeConfig};
use dezky_operator::runtime::Operator;
use dezky_operator::upstream::http::{Auth, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::stripe::{CataloguePrice, StripeClient};

use super::runtime_support::Harness;

/// The API key the tests use (localstripe accepts any `sk_...`).
pub const API_KEY: &str = "sk_test_dezky_billing";
/// The price ids of the test catalogue (Plans on localstripe).
pub const PRICE_BUSINESS: &str = "dezky-business";
pub const PRICE_ENTERPRISE: &str = "dezky-enterprise";

/// One localstripe process, stopped on drop.
pub struct Localstripe {
    dir: tempfile::TempDir,
    pub url: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/localstripe")
}

impl Localstripe {
    /// Starts localstripe (installing it when missing); panics with its log when it cannot.
    pub fn start() -> Localstripe {
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
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected url {url:?}"
        );
        Localstripe { dir, url }
    }

    /// A client straight to localstripe (not through the proxy), for the test's own reads.
    pub fn client(&self) -> StripeClient {
        let http = UpstreamHttp::new(
            "stripe",
            self.url.parse().expect("url"),
            Auth::Bearer(Secret::new(API_KEY)),
            UpstreamLimits::default(),
            UpstreamMetrics::default(),
        )
        .expect("http");
        StripeClient::new(http)
    }

    /// Creates the test catalogue (business, enterprise) through the client, as `dezky dev` does.
    pub async fn catalogue(&self) {
        let prices = [
            (PRICE_BUSINESS, "Business", 1200),
            (PRICE_ENTERPRISE, "Enterprise", 2500),
        ]
        .map(|(id, name, unit_amount)| CataloguePrice {
            id: id.into(),
            name: name.into(),
            unit_amount,
            currency: "eur".into(),
        });
        let created = self
            .client()
            .ensure_catalogue(&prices)
            .await
            .expect("catalogue");
        assert_eq!(created, vec![PRICE_BUSINESS, PRICE_ENTERPRISE]);
        let again = self
            .client()
            .ensure_catalogue(&prices)
            .await
            .expect("catalogue again");
        assert!(again.is_empty(), "existing plans are left alone: {again:?}");
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    writes: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
}

/// A counting reverse proxy on loopback in front of localstripe: every request but GET/HEAD is
/// counted as a write; while `failing` it answers 503 to everything.
pub struct CountingProxy {
    pub url: String,
    writes: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            writes: Arc::new(AtomicU64::new(0)),
            failing: Arc::new(AtomicBool::new(false)),
        };
        let writes = state.writes.clone();
        let failing = state.failing.clone();
        let app = Router::new().fallback(forward).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CountingProxy {
            url,
            writes,
            failing,
            task,
        }
    }

    /// Writes forwarded so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Plays (or ends) a Stripe outage.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    State(state): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "outage").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        state.writes.fetch_add(1, Ordering::SeqCst);
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = state
        .http
        .request(method, format!("{}{path}", state.upstream))
        .body(body);
    for name in ["authorization", "content-type", "idempotency-key"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.clone());
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            let content_type = answer.headers().get("content-type").cloned();
            let bytes = answer.bytes().await.unwrap_or_default();
            let mut response = (status, bytes).into_response();
            if let Some(ct) = content_type {
                response.headers_mut().insert("content-type", ct);
            }
            response
        }
        Err(_) => (StatusCode::BAD_GATEWAY, "localstripe unreachable").into_response(),
    }
}

fn plan(price: Option<&str>) -> PlanConfig {
    PlanConfig {
        display_name: None,
        max_seats: None,
        storage_quota: None,
        mailbox_quota: None,
        stripe_price_id: price.map(str::to_owned),
    }
}

/// Starts the harness's operator with billing on against `stripe_url` (the proxy): business and
/// enterprise priced, starter without a price; a 30-day trial (localstripe charges at once and
/// refuses a subscription without a card otherwise); the key in a credential file.
pub async fn start_billing_operator(h: &Harness, stripe_url: &str, secrets: &PathBuf) -> Operator {
    std::fs::create_dir_all(secrets).expect("secrets dir");
    std::fs::write(secrets.join("stripe-api-key"), API_KEY).expect("key file");
    let url = stripe_url.to_string();
    let dir = secrets.clone();
    h.spawn_operator(move |config| {
        config.credentials_dir = Some(dir);
        config.upstreams.stripe = Some(StripeConfig {
            enabled: true,
            url: Some(url),
            rate_limit: Default::default(),
            trial_days: 30,
        });
        config.plans.insert("starter".into(), plan(None));
        config
            .plans
            .insert("business".into(), plan(Some(PRICE_BUSINESS)));
        config
            .plans
            .insert("enterprise".into(), plan(Some(PRICE_ENTERPRISE)));
    })
    .await
}
