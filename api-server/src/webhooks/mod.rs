//! Stripe webhooks: the `/webhooks/stripe` endpoint that verifies deliveries and applies billing
//! events (invoice paid / payment failed, subscription updated / deleted) to tenant status.
//!
//! Self-contained: [`router`] returns a finished axum `Router` to merge into the server's. The
//! Kubernetes write is a function parameter ([`WebhookState::new`]'s `apply`), so everything here
//! runs without a cluster; [`apply_update`] and [`next_billing_status`] give that function its
//! logic (find the tenant, compute its next status, write only when it changed).
//!
//! A delivery is applied at most once: the signature must verify (constant-time HMAC, within
//! the tolerance window), then the event id is claimed in a bounded [`ReplayGuard`]; a replay is
//! refused (answered `200` with `"status": "duplicate"` so Stripe stops re-sending it, and not
//! applied). A failed apply releases the id and answers `500`, so Stripe's retry is applied later.

pub mod events;
pub mod replay;
pub mod signature;
pub mod tenant_status;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use dezky_crds::tenant::TenantBilling;
use serde_json::json;

use crate::problem::{FieldError, Problem};

pub use events::{BillingEventKind, BillingUpdate, ParsedEvent, next_billing_status, parse_event};
pub use replay::{Claim, ReplayGuard};
pub use signature::{SignatureError, WebhookSecret, sign, verify};

/// Where the endpoint is served.
pub const PATH: &str = "/webhooks/stripe";
/// The header that carries Stripe's signature of the body.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// What applying an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The tenant's billing status changed and was written.
    Applied { tenant: String },
    /// The tenant's status already said so (or the event concerns an older subscription).
    Unchanged { tenant: String },
    /// No tenant has this customer (not ours, or already deleted).
    UnknownTenant,
}

/// Why an update could not be applied (answered 500, so Stripe retries it).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("failed to find the tenant of a billing event: {0}")]
    Lookup(String),
    #[error("failed to write the billing status of tenant {tenant}: {reason}")]
    Write { tenant: String, reason: String },
}

/// A boxed future returned by the apply function.
pub type ApplyFuture = Pin<Box<dyn Future<Output = Result<ApplyOutcome, ApplyError>> + Send>>;
/// The function that applies one update to tenant status (the Kubernetes write).
pub type ApplyFn = Arc<dyn Fn(BillingUpdate) -> ApplyFuture + Send + Sync>;

/// Applies an update with two functions: `lookup` finds the tenant for the update (by
/// `status.billing.customerId`, or the `dezky_tenant` hint) and returns its name and current
/// billing status; `write` stores a new billing status. `write` is called only when the status
/// changes, so applying the same update twice writes once.
pub async fn apply_update<L, LF, W, WF>(
    update: BillingUpdate,
    lookup: L,
    write: W,
) -> Result<ApplyOutcome, ApplyError>
where
    L: FnOnce(&BillingUpdate) -> LF,
    LF: Future<Output = Result<Option<(String, Option<TenantBilling>)>, ApplyError>>,
    W: FnOnce(String, TenantBilling) -> WF,
    WF: Future<Output = Result<(), ApplyError>>,
{
    let Some((tenant, current)) = lookup(&update).await? else {
        return Ok(ApplyOutcome::UnknownTenant);
    };
    match next_billing_status(current.as_ref(), &update) {
        Some(next) => {
            write(tenant.clone(), next).await?;
            Ok(ApplyOutcome::Applied { tenant })
        }
        None => Ok(ApplyOutcome::Unchanged { tenant }),
    }
}

/// Settings of the endpoint.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The endpoint's signing secrets (two during a rotation).
    pub secrets: Vec<WebhookSecret>,
    /// How far a signed timestamp may be from now (Stripe's libraries use 5 minutes).
    pub tolerance: Duration,
    /// How many event ids are remembered at most.
    pub replay_capacity: usize,
    /// How long an event id is remembered (at least `tolerance`).
    pub replay_retention: Duration,
}

impl WebhookConfig {
    /// The defaults for one secret: 5 minutes of tolerance, 100 000 ids for 24 hours.
    pub fn new(secret: WebhookSecret) -> WebhookConfig {
        WebhookConfig {
            secrets: vec![secret],
            tolerance: Duration::from_secs(300),
            replay_capacity: 100_000,
            replay_retention: Duration::from_secs(24 * 3600),
        }
    }
}

struct Inner {
    config: WebhookConfig,
    guard: ReplayGuard,
    apply: ApplyFn,
}

/// The endpoint's state; cheap to clone.
#[derive(Clone)]
pub struct WebhookState(Arc<Inner>);

impl WebhookState {
    /// The endpoint with these settings, applying updates with `apply`.
    pub fn new<F, Fut>(config: WebhookConfig, apply: F) -> WebhookState
    where
        F: Fn(BillingUpdate) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ApplyOutcome, ApplyError>> + Send + 'static,
    {
        let retention = config.replay_retention.max(config.tolerance);
        let guard = ReplayGuard::new(config.replay_capacity, retention);
        let apply: ApplyFn = Arc::new(move |update| Box::pin(apply(update)));
        WebhookState(Arc::new(Inner {
            config,
            guard,
            apply,
        }))
    }
}

/// The endpoint of the api-server: `secret` from its billing settings, updates written to tenant
/// status through the Kubernetes API ([`tenant_status::apply`]).
pub fn for_cluster(
    secret: WebhookSecret,
    client: kube::Client,
    cache: crate::cache::Cache,
) -> WebhookState {
    WebhookState::new(WebhookConfig::new(secret), move |update| {
        tenant_status::apply(client.clone(), cache.clone(), update)
    })
}

/// The `/webhooks/stripe` router, state applied: merge it into the server's router.
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route(PATH, post(receive).fallback(wrong_method))
        .with_state(state)
}

/// The endpoint where billing is not configured: a delivery is not found (the server takes no
/// Stripe events), as documented; another method is still not allowed.
pub fn router_without_billing() -> Router {
    Router::new().route(PATH, post(not_served).fallback(wrong_method))
}

async fn not_served() -> Response {
    Problem::of_status(
        StatusCode::NOT_FOUND,
        "billing is not configured on this server",
    )
    .into_response()
}

async fn wrong_method() -> Response {
    let mut response = Problem::of_status(
        StatusCode::METHOD_NOT_ALLOWED,
        "the Stripe webhook accepts only POST",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// The answer to a delivery: `{"status": word}` on success, an RFC 9457 problem whose `detail`
/// is the word on a refusal or a failure (as every error of the server).
fn answer(status: StatusCode, word: &str) -> Response {
    if status.is_client_error() || status.is_server_error() {
        return Problem::of_status(status, word).into_response();
    }
    (status, axum::Json(json!({ "status": word }))).into_response()
}

/// A refused delivery: 400, naming what was wrong (the signature header or the body).
fn refuse(field: &str, word: &str) -> Response {
    let mut problem = Problem::of_status(StatusCode::BAD_REQUEST, word);
    problem.errors.push(FieldError {
        field: field.into(),
        reason: word.into(),
    });
    problem.into_response()
}

async fn receive(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> Response {
    let inner = &state.0;
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = verify(
        header,
        &body,
        &inner.config.secrets,
        inner.config.tolerance,
        now,
    ) {
        tracing::warn!(reason = %e, "refused a Stripe webhook delivery");
        return refuse(SIGNATURE_HEADER, "signature rejected");
    }
    let event = match parse_event(&body) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(reason = %e, "refused a signed Stripe webhook body");
            return refuse("body", "invalid event");
        }
    };
    match inner.guard.claim(event.id()) {
        Claim::New => {}
        Claim::Seen => {
            tracing::info!(event_id = event.id(), "refused a replayed Stripe event");
            return answer(StatusCode::OK, "duplicate");
        }
        Claim::InProgress => return answer(StatusCode::CONFLICT, "in progress"),
    }
    let update = match event {
        ParsedEvent::Ignored {
            event_id,
            event_type,
        } => {
            tracing::debug!(%event_id, %event_type, "ignored a Stripe event");
            inner.guard.complete(&event_id);
            return answer(StatusCode::OK, "ignored");
        }
        ParsedEvent::Update(update) => update,
    };
    let event_id = update.event_id.clone();
    match (inner.apply)(update).await {
        Ok(outcome) => {
            inner.guard.complete(&event_id);
            let word = match &outcome {
                ApplyOutcome::Applied { .. } => "applied",
                ApplyOutcome::Unchanged { .. } => "unchanged",
                ApplyOutcome::UnknownTenant => "unknown tenant",
            };
            tracing::info!(%event_id, outcome = word, "applied a Stripe event");
            answer(StatusCode::OK, word)
        }
        Err(e) => {
            inner.guard.release(&event_id);
            tracing::warn!(%event_id, error = %e, "failed to apply a Stripe event");
            answer(StatusCode::INTERNAL_SERVER_ERROR, "failed")
        }
    }
}
