//! Server-sent events: the changes of one tenant's objects (the tenant, its members, domains and
//! SSO apps), for callers who may read that tenant; nothing of another tenant is ever sent.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::Route;
use crate::AppState;
use crate::authz::Caller;
use crate::problem::{ApiError, ApiResult};

pub fn routes() -> Vec<Route> {
    vec![Route {
        produces: "text/event-stream",
        ..super::route(
            Method::GET,
            "/api/v1/tenants/{tenant}/stream",
            "tenant admin",
            "Server-sent events of the tenant's changes",
            None,
            get(stream),
        )
    }]
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
