//! API discovery: aggregated (apidiscovery.k8s.io/v2) and legacy documents for /api and /apis,
//! APIGroup and APIResourceList per group-version, with ETags that change with the content.

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};
use sha2::Digest;

use super::{error_response, json_response};
use crate::errors::ApiError;
use crate::registry::{Registry, ResourceInfo};

const VERBS: [&str; 8] = [
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub fn root_paths(reg: &Registry) -> Value {
    let mut paths = vec!["/api".to_string(), "/api/v1".into(), "/apis".into()];
    for g in reg.groups().iter().filter(|g| !g.name.is_empty()) {
        paths.push(format!("/apis/{}", g.name));
        for v in &g.versions {
            paths.push(format!("/apis/{}/{v}", g.name));
        }
    }
    paths.extend(["/healthz", "/livez", "/openapi/v3", "/readyz", "/version"].map(str::to_string));
    json!({"paths": paths})
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.split(',').any(|p| {
        let params: Vec<&str> = p.split(';').map(str::trim).collect();
        params.contains(&"as=APIGroupDiscoveryList")
            && params.contains(&"v=v2")
            && params.contains(&"g=apidiscovery.k8s.io")
    })
}

fn aggregated_resource(r: &ResourceInfo) -> Value {
    let kind = json!({"group": r.group, "version": r.version, "kind": r.kind});
    let mut v = json!({"resource": r.resource, "responseKind": kind, "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular, "verbs": VERBS});
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    if r.status {
        v["subresources"] = json!([{"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}]);
    }
    v
}

fn aggregated_group(reg: &Registry, group: &str) -> Value {
    let versions: Vec<Value> = reg
        .groups()
        .iter()
        .find(|g| g.name == group)
        .map(|g| {
            g.versions
                .iter()
                .map(|v| {
                    let rs: Vec<Value> = reg
                        .resources(group, v)
                        .iter()
                        .map(|r| aggregated_resource(r))
                        .collect();
                    json!({"version": v, "resources": rs, "freshness": "Current"})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
}

fn legacy_group(reg: &Registry, group: &str) -> Option<Value> {
    let g = reg.groups().iter().find(|g| g.name == group)?;
    let versions: Vec<Value> = g
        .versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    Some(
        json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": versions.first()}),
    )
}

fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let rs = reg.resources(group, version);
    if rs.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for r in rs {
        let mut v = json!({"name": r.resource, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
            "verbs": VERBS, "storageVersionHash": r.storage_version_hash()});
        if !r.short_names.is_empty() {
            v["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            v["categories"] = json!(r.categories);
        }
        out.push(v);
        if r.status {
            out.push(json!({"name": format!("{}/status", r.resource), "singularName": "", "namespaced": r.namespaced,
                "kind": r.kind, "verbs": ["get", "patch", "update"]}));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}),
    )
}

/// Answer with an ETag; 304 when the client already has this content.
pub fn cached(body: &Value, content_type: &'static str, headers: &HeaderMap) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let etag = format!("\"{}\"", hex(&sha2::Sha512::digest(&bytes)));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str());
    let mut r = if matches {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(bytes))
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
    r
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn serve(reg: &Registry, segs: &[&str], headers: &HeaderMap) -> Response<Body> {
    let aggregated = wants_aggregated(headers);
    match segs {
        ["api"] if aggregated => {
            let body = json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                "items": [aggregated_group(reg, "")]});
            cached(&body, AGGREGATED, headers)
        }
        ["api"] => cached(
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}),
            "application/json",
            headers,
        ),
        ["apis"] if aggregated => {
            let items: Vec<Value> = reg
                .groups()
                .iter()
                .filter(|g| !g.name.is_empty())
                .map(|g| aggregated_group(reg, &g.name))
                .collect();
            let body = json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items});
            cached(&body, AGGREGATED, headers)
        }
        ["apis"] => {
            let groups: Vec<Value> = reg
                .groups()
                .iter()
                .filter(|g| !g.name.is_empty())
                .filter_map(|g| legacy_group(reg, &g.name))
                .collect();
            cached(
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
                "application/json",
                headers,
            )
        }
        ["api", "v1"] => match resource_list(reg, "", "v1") {
            Some(b) => json_response(200, &b),
            None => error_response(&ApiError::path_not_found()),
        },
        ["apis", g] => match legacy_group(reg, g) {
            Some(b) => json_response(200, &b),
            None => error_response(&ApiError::path_not_found()),
        },
        ["apis", g, v] => match resource_list(reg, g, v) {
            Some(b) => json_response(200, &b),
            None => error_response(&ApiError::path_not_found()),
        },
        _ => error_response(&ApiError::path_not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd() -> Value {
        json!({"metadata": {"name": "widgets.test.dezky.io"},
            "spec": {"group": "test.dezky.io", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wdg"], "categories": ["dezkytest"]},
                "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]},
            "status": {"conditions": [{"type": "Established", "status": "True"}]}})
    }

    fn aggregated_headers(etag: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"));
        if let Some(e) = etag {
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(e).unwrap());
        }
        h
    }

    #[test]
    fn aggregated_discovery_etag_changes_with_crds() {
        let before = Registry::build(&[]);
        let r1 = serve(&before, &["apis"], &aggregated_headers(None));
        assert_eq!(r1.headers()[header::CONTENT_TYPE], AGGREGATED);
        let etag = r1.headers()[header::ETAG].to_str().unwrap().to_string();
        assert_eq!(
            serve(&before, &["apis"], &aggregated_headers(Some(&etag))).status(),
            StatusCode::NOT_MODIFIED
        );
        let after = Registry::build(&[crd()]);
        let r2 = serve(&after, &["apis"], &aggregated_headers(Some(&etag)));
        assert_eq!(
            r2.status(),
            StatusCode::OK,
            "a new CRD must not be hidden by a stale 304"
        );
        let group = aggregated_group(&after, "test.dezky.io");
        let res = &group["versions"][0]["resources"][0];
        assert_eq!(res["shortNames"], json!(["wdg"]));
        assert_eq!(res["categories"], json!(["dezkytest"]));
        assert_eq!(res["subresources"][0]["subresource"], "status");
        // Not established: not served.
        let mut pending = crd();
        pending["status"] = json!({});
        assert!(
            Registry::build(&[pending])
                .get("test.dezky.io", "v1", "widgets")
                .is_none()
        );
    }

    #[test]
    fn legacy_discovery_lists_resources_and_status() {
        let reg = Registry::build(&[crd()]);
        let list = resource_list(&reg, "test.dezky.io", "v1").unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["widgets", "widgets/status"]);
        let plain = serve(&reg, &["apis"], &HeaderMap::new());
        assert_eq!(plain.headers()[header::CONTENT_TYPE], "application/json");
    }
}
