//! Pure helpers over object metadata shared by the write paths: field access, the
//! server-owned fields a body may not change, generation and no-op comparisons.

use rand::Rng;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::registry::ResourceInfo;

const GENERATE_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub(super) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(super) fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn is_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null())
}

/// Drop what `ObjectMeta` omits when empty.
pub(super) fn tidy_meta(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.retain(|k, v| match k.as_str() {
            "finalizers" | "ownerReferences" | "managedFields" => {
                v.as_array().is_some_and(|a| !a.is_empty())
            }
            "labels" | "annotations" => v.as_object().is_some_and(|m| !m.is_empty()),
            _ => !v.is_null(),
        });
    }
}

/// The object without what does not count for `generation`.
pub(super) fn generation_view(info: &ResourceInfo, obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        if info.status {
            m.remove("status");
        }
    }
    v
}

/// Equal apart from managedFields timestamps.
pub(super) fn same_ignoring_times(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(Value::Array(mf)) = v.pointer_mut("/metadata/managedFields") {
            for e in mf {
                if let Some(m) = e.as_object_mut() {
                    m.remove("time");
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// The first field of `before` that `after` lost (admission pruned it), as `spec.foo`.
pub(super) fn pruned_field(before: &Value, after: &Value, path: &str) -> Option<String> {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => b.iter().find_map(|(k, bv)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match a.get(k) {
                None => Some(p),
                Some(av) => pruned_field(bv, av, &p),
            }
        }),
        (Value::Array(b), Value::Array(a)) => b
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (bv, av))| pruned_field(bv, av, &format!("{path}[{i}]"))),
        _ => None,
    }
}

pub(super) fn generate_name(prefix: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| GENERATE_CHARS[rng.random_range(0..GENERATE_CHARS.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// Check a body's apiVersion, kind and namespace against the request.
pub(super) fn check_identity(
    info: &ResourceInfo,
    body: &mut Value,
    ns: Option<&str>,
    name: Option<&str>,
) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: the body is not a JSON object",
            info.kind, info.version, info.kind
        )));
    }
    let api_version = info.api_version();
    match body.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != api_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        _ => body["apiVersion"] = json!(api_version),
    }
    match body.get("kind").and_then(Value::as_str) {
        Some(k) if k != info.kind => {
            return Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: the kind in the data ({k}) does not match",
                info.kind, info.version, info.kind
            )));
        }
        _ => body["kind"] = json!(info.kind),
    }
    if !body.get("metadata").is_some_and(Value::is_object) {
        body["metadata"] = json!({});
    }
    if info.namespaced {
        match meta_str(body, "namespace") {
            Some(b) if Some(b) != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => body["metadata"]["namespace"] = json!(ns.unwrap_or_default()),
        }
    } else if let Some(m) = body["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    if let Some(url_name) = name {
        match meta_str(body, "name") {
            Some(b) if b != url_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({b}) does not match the name on the URL ({url_name})"
                )));
            }
            _ => body["metadata"]["name"] = json!(url_name),
        }
    }
    Ok(())
}

/// Build the new object of an update of `sub` from the old one and the written one.
pub(super) fn compose(info: &ResourceInfo, old: &Value, written: Value, sub: &str) -> Value {
    let mut new = if sub == "status" {
        let mut n = old.clone();
        match written.get("status") {
            Some(s) => n["status"] = s.clone(),
            None => {
                if let Some(m) = n.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        if let Some(mf) = written.pointer("/metadata/managedFields") {
            n["metadata"]["managedFields"] = mf.clone();
        }
        n
    } else {
        let mut n = written;
        if info.status {
            match old.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    if let Some(m) = n.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        n
    };
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match old["metadata"].get(f) {
            Some(v) => new["metadata"][f] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(f);
                }
            }
        }
    }
    if new.pointer("/metadata/managedFields").is_none()
        && let Some(mf) = old.pointer("/metadata/managedFields")
    {
        new["metadata"]["managedFields"] = mf.clone();
    }
    new
}
