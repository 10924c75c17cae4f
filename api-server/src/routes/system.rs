//! Liveness, readiness, metrics, the OpenAPI document, and the problem+json fallbacks.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::Route;
use crate::AppState;
use crate::problem::{ApiError, Problem};

pub fn routes() -> Vec<Route> {
    let public = |path, summary, produces, handler| Route {
        method: Method::GET,
        path,
        summary,
        tag: "system",
        body: None,
        auth: false,
        success: 200,
        produces,
        handler,
    };
    vec![
        public(
            "/healthz",
            "Liveness: the process answers",
            "application/json",
            get(healthz),
        ),
        public(
            "/readyz",
            "Readiness: the caches have synced and the issuers' keys are loaded",
            "application/json",
            get(readyz),
        ),
        public(
            "/metrics",
            "Prometheus metrics (dezky_api_*)",
            "application/openmetrics-text",
            get(|s: State<AppState>| async move {
                crate::metrics::serve(State(s.metrics.clone())).await
            }),
        ),
        public(
            "/api/openapi.json",
            "This OpenAPI document",
            "application/json",
            get(openapi),
        ),
    ]
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let cache = state.cache.ready();
    let keys = state.verifier.ready().await;
    let body = Json(json!({"cache": cache, "issuers": keys}));
    if cache && keys {
        body.into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn openapi(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.openapi.clone())
}

pub async fn not_found() -> Response {
    ApiError::not_found("route", "").into_response()
}

pub async fn method_not_allowed() -> Response {
    Problem {
        type_: "https://dezky.io/problems/method-not-allowed".into(),
        title: "Method not allowed".into(),
        status: 405,
        detail: "this route does not accept that method".into(),
        errors: Vec::new(),
    }
    .into_response()
}
