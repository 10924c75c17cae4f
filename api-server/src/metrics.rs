//! Prometheus metrics of the API server (`dezky_api_*`), with bounded labels only: the route
//! template (never the concrete path), the method and the status class.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route template, e.g. `/api/v1/tenants/{tenant}`, or `unmatched`.
    pub route: String,
    /// `2xx`, `4xx`, `5xx`, ...
    pub status: String,
}

/// Labels of a duration observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// Labels of an authentication failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabels {
    /// `denied` (403) or `unauthenticated` (401).
    pub outcome: String,
}

/// The metrics and their registry.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub durations: Family<RouteLabels, Histogram>,
    pub auth_failures: Family<AuthLabels, Counter>,
    pub sse_clients: Gauge,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("dezky_api");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        let auth_failures = Family::<AuthLabels, Counter>::default();
        let sse_clients = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by method, route template and status class",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by method and route template",
            durations.clone(),
        );
        registry.register(
            "auth_failures",
            "Requests refused by authentication (401) or authorization (403)",
            auth_failures.clone(),
        );
        registry.register(
            "sse_clients",
            "Server-sent event streams open now",
            sse_clients.clone(),
        );
        Arc::new(Metrics {
            registry: Mutex::new(registry),
            requests,
            durations,
            auth_failures,
            sse_clients,
        })
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

fn status_class(code: u16) -> String {
    format!("{}xx", code / 100)
}

/// Middleware: counts and times every request by its route template.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let start = Instant::now();
    let response = next.run(req).await;
    let code = response.status().as_u16();
    metrics
        .durations
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: status_class(code),
        })
        .inc();
    match code {
        401 => {
            metrics
                .auth_failures
                .get_or_create(&AuthLabels {
                    outcome: "unauthenticated".into(),
                })
                .inc();
        }
        403 => {
            metrics
                .auth_failures
                .get_or_create(&AuthLabels {
                    outcome: "denied".into(),
                })
                .inc();
        }
        _ => {}
    }
    response
}

/// `GET /metrics`.
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> Response {
    let mut response = metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_the_route_template() {
        let m = Metrics::new();
        m.requests
            .get_or_create(&RequestLabels {
                method: "GET".into(),
                route: "/api/v1/tenants/{tenant}".into(),
                status: status_class(403),
            })
            .inc();
        let text = m.encode();
        assert!(text.contains("dezky_api_http_requests_total{method=\"GET\",route=\"/api/v1/tenants/{tenant}\",status=\"4xx\"} 1"), "{text}");
    }
}
