//! The route table: every route with its method, path, summary and body schema, from which both
//! the axum router and the OpenAPI document are built, so the two cannot drift apart.

mod billing;
mod console;
mod console_directory;
mod console_insights;
mod console_partners;
mod credentials;
mod domains;
mod me;
mod members;
mod partners;
mod stream;
mod system;

pub use console::TENANT_STATES;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;

/// A body schema generator for the OpenAPI document.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One route of the API.
pub struct Route {
    pub method: Method,
    /// The axum path template, e.g. `/api/v1/tenants/{tenant}`.
    pub path: &'static str,
    pub summary: &'static str,
    /// The OpenAPI tag (console, partner portal, tenant admin, member, system).
    pub tag: &'static str,
    /// The request body's schema, if the route takes one.
    pub body: Option<SchemaFn>,
    /// Whether the route needs a bearer token.
    pub auth: bool,
    /// The status of success.
    pub success: u16,
    /// The success content type.
    pub produces: &'static str,
    pub handler: MethodRouter<AppState>,
}

/// The body schema of `T`.
pub fn body<T: JsonSchema>() -> Option<SchemaFn> {
    Some(|g: &mut SchemaGenerator| g.subschema_for::<T>())
}

/// A JSON route with a bearer token.
pub fn route(
    method: Method,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: Option<SchemaFn>,
    handler: MethodRouter<AppState>,
) -> Route {
    let success = if method == Method::POST && summary.starts_with("Create") {
        201
    } else {
        200
    };
    Route {
        method,
        path,
        summary,
        tag,
        body,
        auth: true,
        success,
        produces: "application/json",
        handler,
    }
}

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    let mut all = system::routes();
    all.extend(me::routes());
    all.extend(console::routes());
    all.extend(console_partners::routes());
    all.extend(console_directory::routes());
    all.extend(console_insights::routes());
    all.extend(partners::routes());
    all.extend(members::routes());
    all.extend(domains::routes());
    all.extend(stream::routes());
    all.extend(billing::routes());
    all
}

/// The axum router of the route table, with the metrics middleware.
pub fn router(state: AppState) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for r in routes() {
        let entry = by_path.remove(r.path);
        let merged = match entry {
            Some(existing) => existing.merge(r.handler),
            None => r.handler,
        };
        by_path.insert(r.path, merged);
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    let metrics = state.metrics.clone();
    router
        .route_layer(axum::middleware::from_fn(
            crate::openapi::enforce_path_params,
        ))
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(
            crate::problem::plain_errors_as_problems,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
}

/// An object as JSON, without `managedFields` (noise for people).
pub fn to_json<K: Serialize + Resource>(obj: &K) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    v
}

/// A spec as JSON with the given fields written out even when they hold their default (so a
/// server-side apply sets them back, whoever set them before).
pub fn explicit<T: Serialize>(spec: &T, fields: &[(&str, Value)]) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        for (k, value) in fields {
            map.insert((*k).to_owned(), value.clone());
        }
    }
    v
}

/// A fresh value for a request annotation or a rotation field, never equal to `previous`.
pub fn fresh_value(previous: Option<&str>) -> String {
    let mut value = Timestamp::now().as_millisecond().to_string();
    if previous == Some(value.as_str()) {
        value.push('1');
    }
    value
}

/// The `Ready` condition of a status's conditions as `(status, reason)`.
pub fn ready_of(conditions: &[dezky_crds::Condition]) -> (String, String) {
    condition_of(conditions, "Ready")
}

/// One condition as `(status, reason)`; `Unknown` when absent.
pub fn condition_of(conditions: &[dezky_crds::Condition], kind: &str) -> (String, String) {
    conditions
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| {
            let status = serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "Unknown".into());
            (status, c.reason.clone())
        })
        .unwrap_or_else(|| ("Unknown".into(), String::new()))
}

/// A DNS-1123 label made of `s` (lower-case, `[a-z0-9-]`, at most 63), for default object names.
pub fn slug(s: &str) -> String {
    let mut out: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-');
    out.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_labels() {
        assert_eq!(slug("Jane.Doe+x@acme.test"), "jane-doe-x-acme-test");
        assert_eq!(slug("--a--"), "a");
    }

    #[test]
    fn fresh_values_differ_from_the_previous() {
        let v = fresh_value(None);
        assert_ne!(fresh_value(Some(&v)), v);
    }

    #[test]
    fn every_route_is_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for r in routes() {
            assert!(
                seen.insert((r.method.to_string(), r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
        }
    }
}
