//! Server-sent events: the changes of one tenant's objects (the tenant, its members, domains and
//! SSO apps), for callers who may read that tenant, nothing of another tenant ever sent; and the
//! console's stream of every change across tenants, for platform operators only, with a bounded
//! number of open streams per operator.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::Route;
use crate::AppState;
use crate::authz::Caller;
use crate::problem::{ApiError, ApiResult, Problem};

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            produces: "text/event-stream",
            ..super::route(
                Method::GET,
                "/api/v1/stream",
                "console",
                "Server-sent events of every tenant's and partner's changes (operators only)",
                None,
                get(console_stream),
            )
        },
        Route {
            produces: "text/event-stream",
            ..super::route(
                Method::GET,
                "/api/v1/tenants/{tenant}/stream",
                "tenant admin",
                "Server-sent events of the tenant's changes",
                None,
                get(stream),
            )
        },
    ]
}

/// Decrements the open-streams gauge when the stream ends.
struct Open(prometheus_client::metrics::gauge::Gauge);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let t = match state.cache.tenant(&tenant) {
        Some(t) => t,
        None => {
            caller.require_operator("watch tenants")?;
            return Err(ApiError::not_found("Tenant", tenant));
        }
    };
    caller.require_tenant_reader(&t, "watch this tenant")?;
    let rx = state.cache.subscribe();
    state.metrics.sse_clients.inc();
    let open = Open(state.metrics.sse_clients.clone());
    let hello = Event::default()
        .event("ready")
        .data(format!("{{\"tenant\":{}}}", serde_json::json!(tenant)));
    let stream = futures::stream::unfold(
        (rx, tenant, Some(hello), open),
        |(mut rx, tenant, first, open)| async move {
            if let Some(first) = first {
                return Some((Ok(first), (rx, tenant, None, open)));
            }
            loop {
                match rx.recv().await {
                    Ok(change) if change.tenant.as_deref() == Some(tenant.as_str()) => {
                        let data = serde_json::to_string(&change).unwrap_or_default();
                        let event = Event::default().event("change").data(data);
                        return Some((Ok(event), (rx, tenant, None, open)));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {
                        let event = Event::default().event("resync").data("{}");
                        return Some((Ok(event), (rx, tenant, None, open)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The most console streams one operator may hold open at once (tabs, reconnects).
pub const CONSOLE_STREAMS_PER_CALLER: usize = 8;

/// Open console streams per caller (issuer and subject).
static CONSOLE_STREAMS: LazyLock<Mutex<HashMap<String, usize>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// One open console stream of a caller; releases its slot and the gauge when the stream ends.
struct Slot {
    key: String,
    gauge: prometheus_client::metrics::gauge::Gauge,
}

impl Slot {
    fn take(key: String, gauge: prometheus_client::metrics::gauge::Gauge) -> Option<Slot> {
        let mut open = CONSOLE_STREAMS.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key.clone()).or_default();
        if *n >= CONSOLE_STREAMS_PER_CALLER {
            return None;
        }
        *n += 1;
        gauge.inc();
        Some(Slot { key, gauge })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gauge.dec();
        let mut open = CONSOLE_STREAMS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

async fn console_stream(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require_operator("watch every tenant")?;
    let key = format!("{}#{}", caller.principal.issuer, caller.principal.subject);
    let Some(slot) = Slot::take(key, state.metrics.sse_clients.clone()) else {
        return Ok(Problem {
            type_: "https://dezky.io/problems/too-many-streams".into(),
            title: "Too many open streams".into(),
            status: 429,
            detail: format!(
                "you already have {CONSOLE_STREAMS_PER_CALLER} console streams open; close a console tab and try again"
            ),
            errors: Vec::new(),
        }
        .into_response());
    };
    // each client reads from its own bounded view of the broadcast: when it falls behind, it is
    // told to resync instead of the server buffering for it
    let rx = state.cache.subscribe();
    let hello = Event::default()
        .event("ready")
        .data("{\"scope\":\"platform\"}");
    let stream = futures::stream::unfold(
        (rx, Some(hello), slot),
        |(mut rx, first, slot)| async move {
            if let Some(first) = first {
                return Some((Ok::<_, Infallible>(first), (rx, None, slot)));
            }
            match rx.recv().await {
                Ok(change) => {
                    let data = serde_json::to_string(&change).unwrap_or_default();
                    let event = Event::default().event("change").data(data);
                    Some((Ok(event), (rx, None, slot)))
                }
                Err(RecvError::Lagged(_)) => {
                    let event = Event::default().event("resync").data("{}");
                    Some((Ok(event), (rx, None, slot)))
                }
                Err(RecvError::Closed) => None,
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
