//! The shared HTTP layer of every upstream client: rate limits, timeouts, retries of idempotent reads, Retry-After, metrics.
//!
//! One [`UpstreamHttp`] per upstream system. Every request goes through the upstream's limiter:
//! a semaphore bounds the requests in flight and a token bucket paces them to
//! `requests_per_second`. A 429 pauses the whole upstream for its `Retry-After` (bounded by
//! [`MAX_RETRY_AFTER`]); reads (GET, or requests declared idempotent) are then retried, writes
//! return [`UpstreamError::RateLimited`] so the caller's backoff takes over. Reads are also retried
//! on 5xx, timeouts and connection errors, with exponential backoff and jitter.
//!
//! Bodies are never logged, and an error body never reaches an error message verbatim: only the
//! HTTP status and, for known JSON error shapes, field names and error codes are kept
//! ([`ErrorDetail`]).

mod error;
mod metrics;
mod request;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use super::snapshot::{Keyed, Snapshot, SnapshotSettings};
pub use error::{ErrorCategory, ErrorDetail, UpstreamError};
pub use metrics::UpstreamMetrics;
use metrics::{OperationLabels, OutcomeLabels, UpstreamLabels};
pub use request::{RequestBody, RequestSpec, Response};

/// The longest a `Retry-After` pauses an upstream; longer values are capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The first backoff between read retries; doubled on each retry, with jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(100);

/// A credential that never shows in `Debug` or `Display` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// How requests to one upstream authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Bearer <token>` (Authentik API tokens, Stalwart API keys).
    Bearer(Secret),
    /// HTTP Basic (Stalwart admin, OCIS app tokens).
    Basic { username: String, password: Secret },
    /// No credentials (discovery documents, public endpoints).
    None,
}

/// Limits of one upstream.
#[derive(Clone, Debug)]
pub struct UpstreamLimits {
    /// Sustained request rate; requests are paced, not burst.
    pub requests_per_second: f64,
    /// At most this many requests at once.
    pub max_in_flight: usize,
    /// Timeout of one attempt, connect to last body byte.
    pub timeout: Duration,
    /// How often a read is retried after a 5xx, 429, timeout or connection error.
    pub read_retries: u32,
    /// How often the in-memory snapshots of this upstream's collections are reloaded.
    pub snapshots: SnapshotSettings,
}

impl Default for UpstreamLimits {
    fn default() -> Self {
        Self {
            requests_per_second: 20.0,
            max_in_flight: 8,
            timeout: Duration::from_secs(10),
            read_retries: 3,
            snapshots: SnapshotSettings::default(),
        }
    }
}

/// The token bucket and Retry-After pause of one upstream.
#[derive(Debug)]
struct Pacer {
    interval: Duration,
    /// The earliest time the next request may start.
    next_slot: Instant,
    /// Set by a 429: nothing starts before it.
    paused_until: Option<Instant>,
}

impl Pacer {
    /// Reserves the next start time; the caller sleeps until it.
    fn reserve(&mut self, now: Instant) -> Instant {
        let mut start = self.next_slot.max(now);
        if let Some(until) = self.paused_until {
            if until > start {
                start = until;
            } else if until <= now {
                self.paused_until = None;
            }
        }
        self.next_slot = start + self.interval;
        start
    }

    fn pause(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|current| current < until) {
            self.paused_until = Some(until);
        }
    }
}

#[derive(Debug)]
struct Inner {
    upstream: &'static str,
    base_url: Url,
    auth: Auth,
    limits: UpstreamLimits,
    client: reqwest::Client,
    in_flight: Semaphore,
    pacer: Mutex<Pacer>,
    metrics: UpstreamMetrics,
}

/// The HTTP client of one upstream, with its limiter and metrics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct UpstreamHttp {
    inner: Arc<Inner>,
}

enum Attempt {
    Done(Result<Response, UpstreamError>),
    Retry {
        error: UpstreamError,
        wait: Option<Duration>,
    },
}

impl UpstreamHttp {
    /// A client of `upstream` (a static label: "authentik", "stalwart", "ocis") at `base_url`.
    pub fn new(
        upstream: &'static str,
        base_url: Url,
        auth: Auth,
        limits: UpstreamLimits,
        metrics: UpstreamMetrics,
    ) -> Result<Self, UpstreamError> {
        if !(limits.requests_per_second.is_finite() && limits.requests_per_second > 0.0)
            || limits.max_in_flight == 0
        {
            return Err(UpstreamError::Config {
                upstream,
                reason: "limits must be positive".into(),
            });
        }
        let client = reqwest::Client::builder()
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| UpstreamError::Config {
                upstream,
                reason: e.without_url().to_string(),
            })?;
        let mut base_url = base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let interval = Duration::from_secs_f64(1.0 / limits.requests_per_second);
        Ok(Self {
            inner: Arc::new(Inner {
                upstream,
                base_url,
                auth,
                in_flight: Semaphore::new(limits.max_in_flight),
                pacer: Mutex::new(Pacer {
                    interval,
                    next_slot: Instant::now(),
                    paused_until: None,
                }),
                limits,
                client,
                metrics,
            }),
        })
    }

    /// The upstream label.
    pub fn upstream(&self) -> &'static str {
        self.inner.upstream
    }

    /// An empty snapshot of one of this upstream's collections (`collection` is a static label),
    /// reloaded as this upstream's limits say and counted in its metrics.
    pub fn snapshot<T: Keyed>(&self, collection: &'static str) -> Snapshot<T> {
        Snapshot::new(
            self.inner.upstream,
            collection,
            self.inner.limits.snapshots,
            self.inner.metrics.clone(),
        )
    }

    /// The base URL every request path is relative to (ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// Sends one request through the limiter. `operation` is a bounded static label such as
    /// `group.create`. Non-2xx answers become errors; see the module docs for retries.
    #[tracing::instrument(name = "upstream", skip_all, fields(upstream = self.inner.upstream, operation))]
    pub async fn send(
        &self,
        operation: &'static str,
        req: RequestSpec,
    ) -> Result<Response, UpstreamError> {
        let url = self.url_for(operation, &req)?;
        let retries = if req.is_read() {
            self.inner.limits.read_retries
        } else {
            0
        };
        let mut attempt = 0;
        loop {
            match self.attempt(operation, &url, &req).await {
                Attempt::Done(result) => return result,
                Attempt::Retry { error, wait } => {
                    if attempt >= retries {
                        return Err(error);
                    }
                    attempt += 1;
                    // a 429 already paused the upstream: the limiter waits for it
                    let backoff = wait.unwrap_or_else(|| backoff(attempt));
                    tracing::debug!(attempt, category = %error.category(), "retrying upstream read");
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    /// Sends a request and decodes a JSON answer.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        req: RequestSpec,
    ) -> Result<T, UpstreamError> {
        self.send(operation, req)
            .await?
            .json(self.inner.upstream, operation)
    }

    fn url_for(&self, operation: &'static str, req: &RequestSpec) -> Result<Url, UpstreamError> {
        let mut url = self
            .inner
            .base_url
            .join(req.path.trim_start_matches('/'))
            .map_err(|e| UpstreamError::Request {
                upstream: self.inner.upstream,
                operation,
                reason: format!("invalid path: {e}"),
            })?;
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(req.query.iter());
        }
        Ok(url)
    }

    async fn attempt(&self, operation: &'static str, url: &Url, req: &RequestSpec) -> Attempt {
        let inner = &*self.inner;
        let upstream = inner.upstream;
        let Ok(_permit) = inner.in_flight.acquire().await else {
            return Attempt::Done(Err(UpstreamError::Config {
                upstream,
                reason: "limiter closed".into(),
            }));
        };
        let start_at = inner
            .pacer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reserve(Instant::now());
        tokio::time::sleep_until(start_at.into()).await;

        let mut builder = inner.client.request(req.method.clone(), url.clone());
        builder = match &inner.auth {
            Auth::Bearer(token) => builder.bearer_auth(token.expose()),
            Auth::Basic { username, password } => {
                builder.basic_auth(username, Some(password.expose()))
            }
            Auth::None => builder,
        };
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        builder = match &req.body {
            Some(RequestBody::Json(bytes)) => builder
                .header(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body(bytes.clone()),
            Some(RequestBody::Form(fields)) => builder.form(fields),
            None => builder,
        };

        let gauge = inner
            .metrics
            .in_flight
            .get_or_create(&UpstreamLabels { upstream })
            .clone();
        gauge.inc();
        let started = Instant::now();
        let sent = async {
            let response = builder.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        gauge.dec();
        inner
            .metrics
            .duration
            .get_or_create(&OperationLabels {
                upstream,
                operation,
            })
            .observe(started.elapsed().as_secs_f64());

        let outcome = match sent {
            Err(e) if e.is_timeout() => Attempt::Retry {
                error: UpstreamError::Timeout {
                    upstream,
                    operation,
                },
                wait: None,
            },
            Err(e) if e.is_builder() => Attempt::Done(Err(UpstreamError::Request {
                upstream,
                operation,
                reason: e.without_url().to_string(),
            })),
            Err(e) => Attempt::Retry {
                error: UpstreamError::Unavailable {
                    upstream,
                    operation,
                    reason: connection_reason(&e),
                },
                wait: None,
            },
            Ok((status, headers, body)) if status.is_success() => Attempt::Done(Ok(Response {
                status,
                headers,
                body: body.to_vec(),
            })),
            Ok((status, headers, _)) if status == StatusCode::TOO_MANY_REQUESTS => {
                let retry_after = parse_retry_after(&headers);
                let pause = retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .min(MAX_RETRY_AFTER);
                inner
                    .pacer
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pause(Instant::now() + pause);
                inner
                    .metrics
                    .throttled
                    .get_or_create(&UpstreamLabels { upstream })
                    .inc();
                tracing::warn!(
                    retry_after_s = pause.as_secs_f64(),
                    "upstream rate limit hit; pausing the upstream"
                );
                // the pacer holds the next attempt back until the pause ends
                Attempt::Retry {
                    error: UpstreamError::RateLimited {
                        upstream,
                        operation,
                        retry_after: retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
                    },
                    wait: Some(Duration::ZERO),
                }
            }
            Ok((status, _, body)) => {
                let error = UpstreamError::Status {
                    upstream,
                    operation,
                    status: status.as_u16(),
                    detail: ErrorDetail::from_body(&body),
                };
                if status.is_server_error() {
                    Attempt::Retry { error, wait: None }
                } else {
                    Attempt::Done(Err(error))
                }
            }
        };
        let label = match &outcome {
            Attempt::Done(Ok(_)) => "success",
            Attempt::Done(Err(error)) | Attempt::Retry { error, .. } => error.category().as_str(),
        };
        inner
            .metrics
            .requests
            .get_or_create(&OutcomeLabels {
                upstream,
                operation,
                outcome: label,
            })
            .inc();
        outcome
    }
}

fn connection_reason(error: &reqwest::Error) -> String {
    if error.is_connect() {
        "connection refused or reset".into()
    } else if error.is_body() || error.is_decode() {
        "connection closed while reading the answer".into()
    } else {
        "connection failed".into()
    }
}

/// `Retry-After` as delay-seconds (the HTTP-date form is rare on APIs and treated as absent).
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF.saturating_mul(1 << attempt.min(4));
    let jitter = rand::rng().random_range(0.5..1.5);
    base.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "*** ***");
        let auth = Auth::Basic {
            username: "admin".into(),
            password: secret,
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }

    #[test]
    fn pacer_spaces_requests_and_honours_pauses() {
        let now = Instant::now();
        let mut pacer = Pacer {
            interval: Duration::from_millis(100),
            next_slot: now,
            paused_until: None,
        };
        assert_eq!(pacer.reserve(now), now);
        assert_eq!(pacer.reserve(now), now + Duration::from_millis(100));
        pacer.pause(now + Duration::from_secs(2));
        assert_eq!(pacer.reserve(now), now + Duration::from_secs(2));
        assert_eq!(pacer.reserve(now), now + Duration::from_millis(2100));
    }

    #[test]
    fn retry_after_parses_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&headers), None);
    }
}
