//! Resource endpoints: parse `[namespaces/NS/]PLURAL[/NAME[/SUB]]`, pick the verb, decode the
//! body and options, call the cluster, and encode the answer (object, list, Table, or
//! PartialObjectMetadata).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use http::{HeaderMap, Method, Request, Response, header};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::{App, Query, error_response, json_response, read_body, table, watch_stream};
use crate::cluster::{DeleteOptions, ListOptions, ObjRef, PatchType, Propagation, WriteOptions};
use crate::errors::ApiError;
use crate::registry::ResourceInfo;
use crate::selectors::{FieldSelector, LabelSelector};

/// How the client wants objects encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Object,
    Table,
    Metadata,
}

pub fn format_of(headers: &HeaderMap) -> Format {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first acceptable media type wins, as in kube-apiserver's negotiation.
    for part in accept.split(',') {
        let p = part.replace(' ', "");
        if p.contains("as=Table")
            && p.contains("g=meta.k8s.io")
            && (p.contains("v=v1;") || p.ends_with("v=v1") || p.contains("v=v1,"))
        {
            return Format::Table;
        }
        if p.contains("as=PartialObjectMetadata") && p.contains("v=v1") {
            return Format::Metadata;
        }
        if p.starts_with("application/json")
            || p.starts_with("*/*")
            || p.starts_with("application/*")
        {
            return Format::Object;
        }
    }
    Format::Object
}

fn raw_json_response(body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

fn encode_object(info: &ResourceInfo, obj: &Value, fmt: Format, q: &Query) -> Value {
    match fmt {
        Format::Object => obj.clone(),
        Format::Metadata => partial_metadata(obj),
        Format::Table => table::table(
            info,
            std::slice::from_ref(obj),
            &json!({"resourceVersion": obj["metadata"]["resourceVersion"]}),
            true,
            q,
        ),
    }
}

fn encode_list(info: &ResourceInfo, list: Value, fmt: Format, q: &Query) -> Value {
    match fmt {
        Format::Object => list,
        Format::Metadata => {
            let items: Vec<Value> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(partial_metadata)
                .collect();
            json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list["metadata"], "items": items})
        }
        Format::Table => table::table(
            info,
            list["items"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &list["metadata"],
            true,
            q,
        ),
    }
}

pub fn list_options(info: &ResourceInfo, q: &Query) -> Result<ListOptions, ApiError> {
    Ok(ListOptions {
        labels: LabelSelector::parse(q.get("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(q.get("fieldSelector").unwrap_or(""), &info.field_selectors)?,
        limit: match q.get("limit") {
            None | Some("") => None,
            Some(l) => Some(
                l.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
            ),
        },
        continue_token: q
            .get("continue")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
    })
}

fn write_options(q: &Query, headers: &HeaderMap) -> WriteOptions {
    let manager = q
        .get("fieldManager")
        .map(str::to_string)
        .unwrap_or_else(|| {
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.split('/').next().unwrap_or_default().to_string())
                .unwrap_or_default()
        });
    WriteOptions {
        manager,
        dry_run: q.get("dryRun") == Some("All"),
        strict: q.get("fieldValidation") == Some("Strict"),
        force: q.flag("force"),
    }
}

/// Decode a create/update body: JSON, or the protobuf kubectl's typed commands send.
fn parse_object(bytes: &[u8], headers: &HeaderMap) -> Result<Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let base = ct.split(';').next().unwrap_or("").trim();
    match base {
        "application/vnd.kubernetes.protobuf" => super::protobuf::decode(bytes),
        "application/yaml" => serde_yaml::from_slice::<Value>(bytes)
            .map_err(|e| ApiError::bad_request(format!("failed to decode the object: {e}"))),
        "" | "application/json" | "*/*" => parse_json(bytes, "the object"),
        other => Err(ApiError::unsupported_media(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got {other:?}"
        ))),
    }
}

fn parse_json(bytes: &[u8], what: &str) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("failed to decode {what}: {e}")))
}

fn delete_options(q: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json(body, "DeleteOptions")?
    };
    let policy = v["propagationPolicy"]
        .as_str()
        .or(q.get("propagationPolicy"));
    let propagation = match policy {
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                vec![ApiError::cause(
                    "FieldValueNotSupported",
                    "propagationPolicy",
                    format!(
                        "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                )],
            ));
        }
        None => match v["orphanDependents"].as_bool() {
            Some(true) => Some(Propagation::Orphan),
            _ => None,
        },
    };
    let dry = v["dryRun"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == "All"))
        || q.get("dryRun") == Some("All");
    Ok(DeleteOptions {
        propagation,
        uid: v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        resource_version: v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run: dry,
    })
}

fn patch_type(headers: &HeaderMap) -> Result<PatchType, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let base = ct.split(';').next().unwrap_or("").trim();
    match base {
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchType::Apply),
        _ => Err(ApiError::unsupported_media(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {base:?}"
        ))),
    }
}

/// Decode an apply body: JSON, or YAML.
fn parse_apply(bytes: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return Ok(v);
    }
    serde_yaml::from_slice::<Value>(bytes)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

struct Target {
    info: Arc<ResourceInfo>,
    ns: Option<String>,
    name: Option<String>,
    sub: String,
}

fn resolve(app: &App, group: &str, version: &str, rest: &[String]) -> Result<Target, ApiError> {
    let is_ns_sub = rest.len() == 3
        && rest[0] == "namespaces"
        && matches!(rest[2].as_str(), "status" | "finalize");
    let (ns, rest) = if rest.len() >= 3 && rest[0] == "namespaces" && !is_ns_sub {
        (Some(rest[1].clone()), &rest[2..])
    } else {
        (None, rest)
    };
    let (plural, name, sub) = match rest {
        [p] => (p, None, ""),
        [p, n] => (p, Some(n.clone()), ""),
        [p, n, s] => (p, Some(n.clone()), s.as_str()),
        _ => return Err(ApiError::path_not_found()),
    };
    let info = app
        .cluster
        .registry()
        .get(group, version, plural)
        .ok_or_else(ApiError::path_not_found)?;
    if ns.is_some() && !info.namespaced {
        return Err(ApiError::path_not_found());
    }
    let served_sub = sub.is_empty() || (sub == "status" && info.status);
    if !served_sub {
        return Err(ApiError::path_not_found());
    }
    Ok(Target {
        info,
        ns,
        name,
        sub: sub.to_string(),
    })
}

pub async fn serve(
    app: Arc<App>,
    req: Request<Incoming>,
    group: &str,
    version: &str,
    rest: Vec<String>,
    q: Query,
) -> Response<Body> {
    match serve_inner(app, req, group, version, rest, q).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

async fn serve_inner(
    app: Arc<App>,
    req: Request<Incoming>,
    group: &str,
    version: &str,
    rest: Vec<String>,
    q: Query,
) -> Result<Response<Body>, ApiError> {
    let t = resolve(&app, group, version, &rest)?;
    let info = t.info.clone();
    let ns = t.ns.as_deref();
    let fmt = format_of(req.headers());
    let headers = req.headers().clone();
    let cluster = app.cluster.clone();
    let method = req.method().clone();
    let needs_ns = info.namespaced && ns.is_none();
    match (&method, t.name.as_deref()) {
        (&Method::GET, Some(name)) => {
            app.requests.reads.fetch_add(1, Ordering::Relaxed);
            let obj = cluster.get(&info, ns, name)?;
            Ok(json_response(200, &encode_object(&info, &obj, fmt, &q)))
        }
        (&Method::GET, None) => {
            let opts = list_options(&info, &q)?;
            if q.flag("watch") {
                app.requests.watches.fetch_add(1, Ordering::Relaxed);
                return watch_stream::start(app.clone(), info, t.ns.clone(), opts, &q, fmt);
            }
            app.requests.reads.fetch_add(1, Ordering::Relaxed);
            if fmt == Format::Object
                && let Some(body) = cluster.list_body(&info, ns, &opts)?
            {
                return Ok(raw_json_response(body));
            }
            let list = cluster.list(&info, ns, &opts)?;
            Ok(json_response(200, &encode_list(&info, list, fmt, &q)))
        }
        (&Method::POST, None) if !needs_ns => {
            app.requests.writes.fetch_add(1, Ordering::Relaxed);
            let opts = write_options(&q, &headers);
            let body = parse_object(&read_body(req.into_body()).await?, &headers)?;
            let obj = cluster.create(&info, ns, body, &opts)?;
            Ok(json_response(201, &encode_object(&info, &obj, fmt, &q)))
        }
        (&Method::PUT, Some(name)) => {
            app.requests.writes.fetch_add(1, Ordering::Relaxed);
            let opts = write_options(&q, &headers);
            let body = parse_object(&read_body(req.into_body()).await?, &headers)?;
            let obj = cluster.update(
                &info,
                ObjRef {
                    ns,
                    name,
                    sub: &t.sub,
                },
                body,
                &opts,
            )?;
            Ok(json_response(200, &encode_object(&info, &obj, fmt, &q)))
        }
        (&Method::PATCH, Some(name)) => {
            app.requests.writes.fetch_add(1, Ordering::Relaxed);
            let opts = write_options(&q, &headers);
            let ptype = patch_type(&headers)?;
            let raw = read_body(req.into_body()).await?;
            let patch = if ptype == PatchType::Apply {
                parse_apply(&raw)?
            } else {
                parse_json(&raw, "the patch")?
            };
            let (code, obj) = cluster.patch(
                &info,
                ObjRef {
                    ns,
                    name,
                    sub: &t.sub,
                },
                ptype,
                patch,
                &opts,
            )?;
            Ok(json_response(code, &encode_object(&info, &obj, fmt, &q)))
        }
        (&Method::DELETE, Some(name)) if t.sub.is_empty() => {
            app.requests.writes.fetch_add(1, Ordering::Relaxed);
            let opts = delete_options(&q, &read_body(req.into_body()).await?)?;
            let out = cluster.delete(&info, ns, name, &opts)?;
            let out = if out["kind"] == "Status" {
                out
            } else {
                encode_object(&info, &out, fmt, &q)
            };
            Ok(json_response(200, &out))
        }
        (&Method::DELETE, None) => {
            app.requests.writes.fetch_add(1, Ordering::Relaxed);
            let list = list_options(&info, &q)?;
            let opts = delete_options(&q, &read_body(req.into_body()).await?)?;
            let out = cluster.delete_collection(&info, ns, &list, &opts)?;
            Ok(json_response(200, &out))
        }
        (m, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {m}"
        ))),
    }
}
