//! What the built-in kinds do on write: Namespace phase and finalizer, Secret `stringData`,
//! CRD names, conditions and schema checks, and the core ↔ events.k8s.io Event conversion.

use serde_json::{Map, Value, json};

use crate::admission::validators_for_crd;
use crate::errors::ApiError;
use crate::registry::ResourceInfo;

/// The finalizer kube-apiserver puts on a CRD so its custom resources are removed first.
pub const CRD_CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn cond(type_: &str, reason: &str, message: &str, now: &str, old: Option<&Value>) -> Value {
    let since = old
        .and_then(|o| o.pointer("/status/conditions"))
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == type_ && c["status"] == "True")
        })
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now)
        .to_string();
    json!({"type": type_, "status": "True", "lastTransitionTime": since, "reason": reason, "message": message})
}

/// Kind-specific preparation of an object about to be stored (create when `old` is None).
pub fn prepare(
    info: &ResourceInfo,
    old: Option<&Value>,
    obj: &mut Value,
    now: &str,
) -> Result<(), ApiError> {
    if info.custom {
        return Ok(());
    }
    match (info.group.as_str(), info.resource.as_str()) {
        ("", "namespaces") => {
            let terminating = obj.pointer("/metadata/deletionTimestamp").is_some();
            if old.is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
            obj["status"]["phase"] = json!(if terminating { "Terminating" } else { "Active" });
            let name = obj["metadata"]["name"].clone();
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        }
        ("", "secrets") => {
            if let Some(Value::Object(sd)) =
                obj.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                use base64::Engine;
                let data = obj["data"].as_object().cloned().unwrap_or_default();
                let mut data: Map<String, Value> = data;
                for (k, v) in sd {
                    let s = v.as_str().unwrap_or_default();
                    data.insert(
                        k,
                        json!(base64::engine::general_purpose::STANDARD.encode(s)),
                    );
                }
                obj["data"] = Value::Object(data);
            }
            if obj
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                obj["type"] = json!("Opaque");
            }
            check_base64(obj)?;
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => prepare_crd(old, obj, now)?,
        _ => {}
    }
    Ok(())
}

fn check_base64(obj: &Value) -> Result<(), ApiError> {
    use base64::Engine;
    for (k, v) in obj["data"].as_object().into_iter().flatten() {
        let ok = v
            .as_str()
            .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok());
        if !ok {
            return Err(ApiError::bad_request(format!(
                "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data for key {k:?}"
            )));
        }
    }
    Ok(())
}

fn prepare_crd(old: Option<&Value>, crd: &mut Value, now: &str) -> Result<(), ApiError> {
    let name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    let kind = spec["names"]["kind"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    if name != format!("{plural}.{group}") {
        causes.push(ApiError::cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    if kind.is_empty() {
        causes.push(ApiError::cause(
            "FieldValueRequired",
            "spec.names.kind",
            "Required value",
        ));
    }
    let scope = spec["scope"].as_str().unwrap_or_default();
    if scope != "Namespaced" && scope != "Cluster" {
        causes.push(ApiError::cause(
            "FieldValueNotSupported",
            "spec.scope",
            format!("Unsupported value: {scope:?}: supported values: \"Cluster\", \"Namespaced\""),
        ));
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let storage: Vec<&Value> = versions
        .iter()
        .filter(|v| v["storage"] == json!(true))
        .collect();
    if storage.len() != 1 {
        causes.push(ApiError::cause(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): must have exactly one version marked as storage version",
        ));
    }
    if let Err(e) = validators_for_crd(crd) {
        causes.push(ApiError::cause(
            "FieldValueInvalid",
            "spec.validation.openAPIV3Schema",
            e.to_string(),
        ));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &name,
            causes,
        ));
    }
    let storage_version = storage[0]["name"].clone();
    let mut accepted = crd["spec"]["names"].clone();
    if accepted.get("singular").is_none() {
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted.get("listKind").is_none() {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    crd["spec"]["names"] = accepted.clone();
    let mut stored: Vec<Value> = old
        .and_then(|o| o.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !stored.contains(&storage_version) {
        stored.push(storage_version);
    }
    crd["status"] = json!({
        "acceptedNames": accepted,
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found", now, old),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted", now, old),
        ],
        "storedVersions": stored,
    });
    if old.is_none() {
        let fins = crd["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !fins.iter().any(|f| f == CRD_CLEANUP_FINALIZER) {
            let mut fins = fins;
            fins.push(json!(CRD_CLEANUP_FINALIZER));
            crd["metadata"]["finalizers"] = Value::Array(fins);
        }
    }
    Ok(())
}

const MOVED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

/// A stored (core/v1) Event as events.k8s.io/v1 serves it.
pub fn event_to_new(mut ev: Value) -> Value {
    if let Some(m) = ev.as_object_mut() {
        for (core, new) in MOVED {
            if let Some(v) = m.remove(*core) {
                m.insert((*new).to_string(), v);
            }
        }
        m.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    }
    ev
}

/// An events.k8s.io/v1 Event in its stored (core/v1) form.
pub fn event_to_core(mut ev: Value) -> Value {
    if let Some(m) = ev.as_object_mut() {
        for (core, new) in MOVED {
            if let Some(v) = m.remove(*new) {
                m.insert((*core).to_string(), v);
            }
        }
        m.insert("apiVersion".into(), json!("v1"));
    }
    ev
}

/// Convert a stored object to the version `info` serves.
pub fn to_served(info: &ResourceInfo, mut obj: Value) -> Value {
    if info.group == "events.k8s.io" {
        return event_to_new(obj);
    }
    obj["apiVersion"] = json!(info.api_version());
    obj
}

/// Convert a request body to its stored form.
pub fn to_stored(info: &ResourceInfo, obj: Value) -> Value {
    if info.group == "events.k8s.io" {
        event_to_core(obj)
    } else {
        obj
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let new = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "note": "hi",
            "regarding": {"name": "x"}, "reportingController": "c", "reason": "R"});
        let core = event_to_core(new.clone());
        assert_eq!(core["message"], "hi");
        assert_eq!(core["involvedObject"]["name"], "x");
        assert_eq!(core["reportingComponent"], "c");
        assert_eq!(event_to_new(core), new);
    }
}
