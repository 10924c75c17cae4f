//! The structural checks kube-apiserver runs beside the openapi schema: object metadata names,
//! embedded resources, and the uniqueness of `x-kubernetes-list-type` set and map lists.

use serde_json::{Map, Value};

use super::field::{BadValue, FieldError, FieldPath};
use super::names::{dns1123_label, dns1123_subdomain, label_value, qualified_name};
use super::schema::{Additional, Schema};

/// `TotalAnnotationSizeLimitB`.
const ANNOTATIONS_SIZE_LIMIT: i64 = 256 * 1024;

/// `maskTrailingDash`: a generateName prefix may end with '-'.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        format!("{}a", &name[..name.len() - 2])
    } else {
        name.to_string()
    }
}

/// The name checks of `ValidateObjectMetaAccessor` (name or generateName, and the namespace when the scope is known).
pub(crate) fn validate_object_meta(
    obj: &Value,
    namespaced: Option<bool>,
    out: &mut Vec<FieldError>,
) {
    let meta = FieldPath::root().child("metadata");
    let get = |k: &str| {
        obj.get("metadata")
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let generate_name = get("generateName");
    if !generate_name.is_empty() {
        // NameIsDNSSubdomain with prefix=true.
        for msg in dns1123_subdomain(&mask_trailing_dash(generate_name)) {
            out.push(FieldError::invalid(
                &meta.child("generateName"),
                BadValue::Str(generate_name.to_string()),
                msg,
            ));
        }
    }
    let name = get("name");
    if name.is_empty() {
        out.push(FieldError::required(
            &meta.child("name"),
            "name or generateName is required",
        ));
    } else {
        for msg in dns1123_subdomain(name) {
            out.push(FieldError::invalid(
                &meta.child("name"),
                BadValue::Str(name.to_string()),
                msg,
            ));
        }
    }
    let namespace = get("namespace");
    match namespaced {
        Some(true) if namespace.is_empty() => {
            out.push(FieldError::required(&meta.child("namespace"), ""))
        }
        Some(true) => {
            for msg in dns1123_label(namespace) {
                out.push(FieldError::invalid(
                    &meta.child("namespace"),
                    BadValue::Str(namespace.to_string()),
                    msg,
                ));
            }
        }
        Some(false) if !namespace.is_empty() => {
            out.push(FieldError::forbidden(
                &meta.child("namespace"),
                "not allowed on this type",
            ));
        }
        _ => {}
    }
    let string_map = |k: &str| -> Vec<(String, String)> {
        let mut entries: Vec<(String, String)> = obj
            .get("metadata")
            .and_then(|m| m.get(k))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        entries
    };
    let labels_path = meta.child("labels");
    for (k, v) in string_map("labels") {
        for msg in qualified_name(&k) {
            out.push(FieldError::invalid(
                &labels_path,
                BadValue::Str(k.clone()),
                msg,
            ));
        }
        for msg in label_value(&v) {
            out.push(FieldError::invalid(
                &labels_path,
                BadValue::Str(v.clone()),
                msg,
            ));
        }
    }
    let annotations_path = meta.child("annotations");
    let annotations = string_map("annotations");
    for (k, _) in &annotations {
        for msg in qualified_name(&k.to_lowercase()) {
            out.push(FieldError::invalid(
                &annotations_path,
                BadValue::Str(k.clone()),
                msg,
            ));
        }
    }
    let size: i64 = annotations
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as i64)
        .sum();
    if size > ANNOTATIONS_SIZE_LIMIT {
        out.push(FieldError::too_long(
            &annotations_path,
            ANNOTATIONS_SIZE_LIMIT,
        ));
    }
    let finalizers_path = meta.child("finalizers");
    let finalizers = obj
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array);
    for f in finalizers.into_iter().flatten().filter_map(Value::as_str) {
        for msg in qualified_name(f) {
            out.push(FieldError::invalid(
                &finalizers_path,
                BadValue::Str(f.to_string()),
                msg,
            ));
        }
    }
}

/// `schemaobjectmeta.Validate(nil, obj, schema, false)`: embedded resources below the root.
pub(crate) fn validate_embedded(
    v: &Value,
    s: &Schema,
    path: &FieldPath,
    out: &mut Vec<FieldError>,
) {
    match v {
        Value::Object(map) => {
            if s.embedded_resource {
                embedded_resource(map, path, out);
            }
            for (k, child) in map {
                if let Some(ps) = s.properties.get(k) {
                    validate_embedded(child, ps, &path.child(k), out);
                } else if let Some(Additional::Schema(a)) = &s.additional {
                    validate_embedded(child, a, &path.key(k), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    validate_embedded(item, is, &path.index(i), out);
                }
            }
        }
        _ => {}
    }
}

fn embedded_resource(map: &Map<String, Value>, path: &FieldPath, out: &mut Vec<FieldError>) {
    for k in ["apiVersion", "kind"] {
        match map.get(k) {
            None => out.push(FieldError::required(&path.child(k), "must not be empty")),
            Some(Value::String(s)) if s.is_empty() => {
                out.push(FieldError::invalid(
                    &path.child(k),
                    BadValue::Str(String::new()),
                    "must not be empty",
                ));
            }
            Some(Value::String(_)) => {}
            Some(other) => out.push(FieldError::invalid(
                &path.child(k),
                BadValue::of(other),
                "must be a string",
            )),
        }
    }
}

/// `structurallisttype.ValidateListSetsAndMaps`.
pub(crate) fn validate_list_types(
    v: &Value,
    s: &Schema,
    path: &FieldPath,
    out: &mut Vec<FieldError>,
) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if let Some(ps) = s.properties.get(k) {
                    validate_list_types(child, ps, &path.child(k), out);
                } else if let Some(Additional::Schema(a)) = &s.additional {
                    validate_list_types(child, a, &path.key(k), out);
                }
            }
        }
        Value::Array(items) => {
            match s.list_type.as_deref() {
                Some("set") => {
                    for i in non_unique(items) {
                        out.push(FieldError::duplicate(
                            &path.index(i),
                            BadValue::of(&items[i]),
                        ));
                    }
                }
                Some("map") => list_map(items, s, path, out),
                _ => {}
            }
            if let Some(is) = s.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    validate_list_types(item, is, &path.index(i), out);
                }
            }
        }
        _ => {}
    }
}

/// Indices of the second occurrence of each repeated value.
fn non_unique(items: &[Value]) -> Vec<usize> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::new();
    for (i, x) in items.iter().enumerate() {
        let key = canonical(x);
        match seen.iter_mut().find(|(k, _)| *k == key) {
            Some((_, times)) => {
                *times += 1;
                if *times == 2 {
                    out.push(i);
                }
            }
            None => seen.push((key, 1)),
        }
    }
    out
}

fn canonical(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn list_map(items: &[Value], s: &Schema, path: &FieldPath, out: &mut Vec<FieldError>) {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            out.push(FieldError::invalid(
                &path.index(i),
                BadValue::of(x),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if items.len() <= 1 {
        return;
    }
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            for k in &s.list_map_keys {
                if let Some(val) = x.get(k) {
                    key.insert(k.clone(), val.clone());
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in non_unique(&keys) {
        out.push(FieldError::duplicate(
            &path.index(i),
            BadValue::Json(keys[i].clone()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        let mut out = Vec::new();
        validate_object_meta(
            &json!({"metadata": {"name": "Acme"}}),
            Some(false),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].field.to_string(), "metadata.name");
        assert!(
            out[0]
                .body()
                .starts_with("Invalid value: \"Acme\": a lowercase RFC 1123 subdomain")
        );
        let mut out = Vec::new();
        validate_object_meta(
            &json!({"metadata": {"name": "a", "namespace": "x"}}),
            Some(false),
            &mut out,
        );
        assert_eq!(out[0].body(), "Forbidden: not allowed on this type");
        let mut out = Vec::new();
        validate_object_meta(&json!({"metadata": {}}), None, &mut out);
        assert_eq!(
            out[0].body(),
            "Required value: name or generateName is required"
        );
    }

    #[test]
    fn list_types() {
        let s = Schema::parse(
            &json!({"type": "object", "properties": {
                "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "conds": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                          "items": {"type": "object", "properties": {"type": {"type": "string"}}}}
            }}),
            "",
        )
        .expect("schema parses");
        let mut out = Vec::new();
        let v =
            json!({"set": ["a", "b", "a", "a"], "conds": [{"type": "Ready"}, {"type": "Ready"}]});
        validate_list_types(&v, &s, &FieldPath::root(), &mut out);
        let got: Vec<String> = out
            .iter()
            .map(|e| format!("{}: {}", e.field, e.body()))
            .collect();
        assert_eq!(
            got,
            [
                "conds[1]: Duplicate value: map[string]interface {}{\"type\":\"Ready\"}",
                "set[2]: Duplicate value: \"a\""
            ]
        );
    }
}
