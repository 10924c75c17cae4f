//! The simulators' control API: fault injection per upstream and operation, request counts, state dumps, DNS publishing.
//!
//! One [`Control`] is shared by every simulator. Each simulator's router is wrapped with
//! [`Control::apply`], which counts requests by (upstream, method, path template) and applies the
//! faults configured for that upstream. [`Control::router`] serves the control API itself under
//! `/control/v1/`, behind its own Bearer token:
//!
//! | method and path | what |
//! |---|---|
//! | `GET /control/v1/requests` | `{"requests": [{upstream, method, path, count}], "total": N}`; `?reset=true` resets after reading |
//! | `DELETE /control/v1/requests` | resets the counts |
//! | `GET /control/v1/faults` | the faults in force |
//! | `PUT /control/v1/faults` | replaces all faults with the JSON list in the body (see [`Fault`]) |
//! | `POST /control/v1/faults` | adds one fault |
//! | `DELETE /control/v1/faults` | clears all faults (`?upstream=` clears one upstream's) |
//! | `GET /control/v1/state/{upstream}` | the upstream's state dump, as registered with [`Control::register_dump`] |
//!
//! Other modules add routes (DNS publishing: `dns::control_routes(handle)`) with
//! [`Control::add_routes`] before [`Control::router`] is called; they get the same token check.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A function returning one simulator's state as JSON.
pub type DumpFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// One injected fault. Fields not set do not apply; a request matches when its upstream equals
/// `upstream`, its path starts with `pathPrefix` (if set) and its method equals `method` (if set).
/// Outage wins over rate limiting, which wins over errors; latency applies first in every case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Fault {
    /// `authentik`, `stalwart`, `ocis`.
    pub upstream: String,
    /// Raw request path prefix, e.g. `/api/v3/core/groups/`.
    pub path_prefix: Option<String>,
    /// HTTP method, e.g. `POST`.
    pub method: Option<String>,
    /// Added latency before the request is handled.
    pub latency_ms: u64,
    /// Probability (0..=1) of answering `errorStatus` instead of handling the request.
    pub error_rate: f64,
    /// Status of injected errors (default 500).
    pub error_status: Option<u16>,
    /// Answer 429 with this `Retry-After` (seconds), with probability `rateLimitRate` (default 1).
    pub rate_limit_retry_after: Option<u64>,
    pub rate_limit_rate: Option<f64>,
    /// The upstream is down: every matching request gets 503 without being handled.
    pub outage: bool,
}

impl Fault {
    fn matches(&self, upstream: &str, method: &str, path: &str) -> bool {
        self.upstream == upstream
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// Request count of one (upstream, method, path) triple.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCount {
    pub upstream: String,
    pub method: String,
    /// The route template (e.g. `/api/v3/core/groups/{group_uuid}/`) or, when none matched, the raw path.
    pub path: String,
    pub count: u64,
}

type CountKey = (String, String, String);

/// One request recorded by [`Control::record_bodies`].
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub upstream: String,
    pub method: String,
    /// The raw path.
    pub path: String,
    /// The route template, when one matched.
    pub template: String,
    pub body: Vec<u8>,
}

struct Inner {
    token: String,
    faults: RwLock<Vec<Fault>>,
    counts: Mutex<BTreeMap<CountKey, u64>>,
    dumps: RwLock<HashMap<String, DumpFn>>,
    extra_routes: Mutex<Vec<Router>>,
    recording: std::sync::atomic::AtomicBool,
    recorded: Mutex<Vec<RecordedRequest>>,
}

/// The shared control of every simulator. Cheap to clone.
#[derive(Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    /// A control whose API requires `Authorization: Bearer <token>`.
    pub fn new(token: String) -> Control {
        Control {
            inner: Arc::new(Inner {
                token,
                faults: RwLock::default(),
                counts: Mutex::default(),
                dumps: RwLock::default(),
                extra_routes: Mutex::default(),
                recording: Default::default(),
                recorded: Mutex::default(),
            }),
        }
    }

    /// The control API token.
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// Wraps one simulator's router: counts its requests and applies its faults.
    pub fn apply(&self, upstream: &'static str, router: Router) -> Router {
        let control = self.clone();
        router.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let control = control.clone();
                async move { control.handle(upstream, request, next).await }
            },
        ))
    }

    async fn handle(&self, upstream: &'static str, request: Request, next: Next) -> Response {
        let method = request.method().as_str().to_owned();
        let raw_path = request.uri().path().to_owned();
        let template = request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| raw_path.clone());
        *lock(&self.inner.counts)
            .entry((upstream.to_owned(), method.clone(), template.clone()))
            .or_default() += 1;

        let request = if self
            .inner
            .recording
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, 16 << 20)
                .await
                .unwrap_or_default();
            lock(&self.inner.recorded).push(RecordedRequest {
                upstream: upstream.to_owned(),
                method: method.clone(),
                path: raw_path.clone(),
                template,
                body: bytes.to_vec(),
            });
            Request::from_parts(parts, axum::body::Body::from(bytes))
        } else {
            request
        };
        let faults: Vec<Fault> = read(&self.inner.faults)
            .iter()
            .filter(|f| f.matches(upstream, &method, &raw_path))
            .cloned()
            .collect();
        if faults.is_empty() {
            return next.run(request).await;
        }
        let latency: u64 = faults.iter().map(|f| f.latency_ms).max().unwrap_or(0);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        if faults.iter().any(|f| f.outage) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream outage (injected)",
            )
                .into_response();
        }
        for fault in &faults {
            if let Some(retry_after) = fault.rate_limit_retry_after
                && chance(fault.rate_limit_rate.unwrap_or(1.0))
            {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(serde_json::json!({"detail": "Request was throttled."})),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                return response;
            }
        }
        for fault in &faults {
            if fault.error_rate > 0.0 && chance(fault.error_rate) {
                let status = fault
                    .error_status
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return (status, "injected error").into_response();
            }
        }
        next.run(request).await
    }

    /// Replaces all faults.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        *write(&self.inner.faults) = faults;
    }

    /// Adds one fault.
    pub fn add_fault(&self, fault: Fault) {
        write(&self.inner.faults).push(fault);
    }

    /// Clears the faults of one upstream, or all with `None`.
    pub fn clear_faults(&self, upstream: Option<&str>) {
        write(&self.inner.faults).retain(|f| upstream.is_some_and(|u| f.upstream != u));
    }

    /// The faults in force.
    pub fn faults(&self) -> Vec<Fault> {
        read(&self.inner.faults).clone()
    }

    /// The request counts so far.
    pub fn requests(&self) -> Vec<RequestCount> {
        lock(&self.inner.counts)
            .iter()
            .map(|((upstream, method, path), count)| RequestCount {
                upstream: upstream.clone(),
                method: method.clone(),
                path: path.clone(),
                count: *count,
            })
            .collect()
    }

    /// Requests of one upstream whose method matches (any with `None`) and whose path (template)
    /// starts with `path_prefix`.
    pub fn request_count(&self, upstream: &str, method: Option<&str>, path_prefix: &str) -> u64 {
        lock(&self.inner.counts)
            .iter()
            .filter(|((u, m, p), _)| {
                u == upstream
                    && method.is_none_or(|want| want.eq_ignore_ascii_case(m))
                    && p.starts_with(path_prefix)
            })
            .map(|(_, count)| count)
            .sum()
    }

    /// Resets the request counts.
    pub fn reset_requests(&self) {
        lock(&self.inner.counts).clear();
    }

    /// Starts or stops recording request bodies. In-process only (for tests that hold what a
    /// client sends to the official request models); never exposed over HTTP, as bodies may
    /// carry passwords.
    pub fn record_bodies(&self, on: bool) {
        self.inner
            .recording
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The requests recorded so far, oldest first.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.recorded).clone()
    }

    /// Registers the state dump of one upstream for `GET /control/v1/state/{upstream}`.
    pub fn register_dump(&self, upstream: &'static str, dump: DumpFn) {
        write(&self.inner.dumps).insert(upstream.to_owned(), dump);
    }

    /// The state dump of one upstream.
    pub fn dump(&self, upstream: &str) -> Option<serde_json::Value> {
        let dump = read(&self.inner.dumps).get(upstream).cloned()?;
        Some(dump())
    }

    /// Adds routes (with their state applied) to the control API, e.g. DNS publishing; call before [`Control::router`].
    pub fn add_routes(&self, routes: Router) {
        lock(&self.inner.extra_routes).push(routes);
    }

    /// The control API, behind its Bearer token.
    pub fn router(&self) -> Router {
        let mut router = Router::new()
            .route(
                "/control/v1/requests",
                get(get_requests).delete(delete_requests),
            )
            .route(
                "/control/v1/faults",
                get(get_faults)
                    .put(put_faults)
                    .post(post_fault)
                    .delete(delete_faults),
            )
            .route("/control/v1/state/{upstream}", get(get_state))
            .with_state(self.clone());
        for extra in lock(&self.inner.extra_routes).drain(..) {
            router = router.merge(extra);
        }
        let control = self.clone();
        router.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let control = control.clone();
                async move {
                    let expected = format!("Bearer {}", control.inner.token);
                    let authorized = request
                        .headers()
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| constant_time_eq(v.as_bytes(), expected.as_bytes()));
                    if authorized {
                        next.run(request).await
                    } else {
                        (
                            StatusCode::UNAUTHORIZED,
                            Json(serde_json::json!({"error": "invalid control token"})),
                        )
                            .into_response()
                    }
                }
            },
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn chance(probability: f64) -> bool {
    probability >= 1.0
        || (probability > 0.0 && rand::rng().random_bool(probability.clamp(0.0, 1.0)))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

#[derive(Deserialize)]
struct ResetQuery {
    #[serde(default)]
    reset: bool,
}

async fn get_requests(
    State(control): State<Control>,
    Query(q): Query<ResetQuery>,
) -> Json<serde_json::Value> {
    let requests = control.requests();
    if q.reset {
        control.reset_requests();
    }
    let total: u64 = requests.iter().map(|r| r.count).sum();
    Json(serde_json::json!({"requests": requests, "total": total}))
}

async fn delete_requests(State(control): State<Control>) -> StatusCode {
    control.reset_requests();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(control): State<Control>) -> Json<Vec<Fault>> {
    Json(control.faults())
}

async fn put_faults(
    State(control): State<Control>,
    Json(faults): Json<Vec<Fault>>,
) -> Json<Vec<Fault>> {
    control.set_faults(faults);
    Json(control.faults())
}

async fn post_fault(
    State(control): State<Control>,
    Json(fault): Json<Fault>,
) -> (StatusCode, Json<Vec<Fault>>) {
    control.add_fault(fault);
    (StatusCode::CREATED, Json(control.faults()))
}

#[derive(Deserialize)]
struct UpstreamQuery {
    upstream: Option<String>,
}

async fn delete_faults(
    State(control): State<Control>,
    Query(q): Query<UpstreamQuery>,
) -> StatusCode {
    control.clear_faults(q.upstream.as_deref());
    StatusCode::NO_CONTENT
}

async fn get_state(State(control): State<Control>, Path(upstream): Path<String>) -> Response {
    match control.dump(&upstream) {
        Some(state) => Json(state).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "unknown upstream"})),
        )
            .into_response(),
    }
}
