//! Pruning of unknown fields and defaulting, as apiextensions-apiserver's `structural/pruning` and `defaulting` do.

use serde_json::{Map, Value};

use super::schema::{Additional, Schema};

/// The fields of `metav1.ObjectMeta`; anything else under `metadata` is dropped by decoding.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Removes fields the schema does not specify, unless `x-kubernetes-preserve-unknown-fields` says to keep them.
/// `resource_root` keeps `apiVersion`, `kind` and `metadata` of the object itself.
pub(crate) fn prune(v: &mut Value, s: Option<&Schema>, resource_root: bool) {
    if s.is_some_and(|s| s.preserve_unknown) {
        // Keep everything at this level, but still prune below specified properties.
        if let (Value::Object(map), Some(s)) = (&mut *v, s) {
            for (k, child) in map.iter_mut() {
                if let Some(ps) = s.properties.get(k) {
                    prune(child, Some(ps), ps.embedded_resource);
                } else if let Some(Additional::Schema(a)) = &s.additional {
                    prune(child, Some(a), a.embedded_resource);
                }
            }
        }
        if let (Value::Array(items), Some(s)) = (&mut *v, s)
            && let Some(is) = s.items.as_deref()
        {
            for item in items {
                prune(item, Some(is), is.embedded_resource);
            }
        }
        return;
    }
    match v {
        Value::Object(map) => {
            let Some(s) = s else {
                map.clear();
                return;
            };
            let embedded = resource_root || s.embedded_resource;
            map.retain(|k, child| {
                if embedded {
                    match k.as_str() {
                        "apiVersion" | "kind"
                            if child.is_string() && !s.properties.contains_key(k) =>
                        {
                            return true;
                        }
                        "metadata" if child.is_object() => {
                            prune_object_meta(child);
                            return true;
                        }
                        _ => {}
                    }
                }
                if let Some(ps) = s.properties.get(k) {
                    prune(child, Some(ps), ps.embedded_resource);
                    true
                } else if let Some(add) = &s.additional {
                    match add {
                        Additional::Schema(a) => prune(child, Some(a), a.embedded_resource),
                        Additional::Allows(_) => {}
                    }
                    true
                } else {
                    false
                }
            });
        }
        Value::Array(items) => {
            let is = s.and_then(|s| s.items.as_deref());
            for item in items {
                prune(item, is, is.is_some_and(|i| i.embedded_resource));
            }
        }
        _ => {}
    }
}

fn prune_object_meta(meta: &mut Value) {
    if let Value::Object(m) = meta {
        m.retain(|k, _| OBJECT_META_FIELDS.contains(&k.as_str()));
    }
}

fn is_non_nullable_null(v: &Value, s: &Schema) -> bool {
    v.is_null() && !s.nullable
}

/// Drops `null` values of non-nullable fields that have no default (`PruneNonNullableNullsWithoutDefaults`).
pub(crate) fn prune_non_nullable_nulls(v: &mut Value, s: &Schema) {
    match v {
        Value::Object(map) => {
            map.retain(|k, child| {
                !matches!(s.child(k), Some(cs) if is_non_nullable_null(child, cs) && cs.default.is_none())
            });
            for (k, child) in map.iter_mut() {
                if let Some(cs) = s.child(k) {
                    prune_non_nullable_nulls(child, cs);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.items.as_deref() {
                for item in items {
                    prune_non_nullable_nulls(item, is);
                }
            }
        }
        _ => {}
    }
}

/// Applies `default`s of missing (or non-nullable null) fields, recursively, as `structuraldefaulting.Default`.
pub(crate) fn apply_defaults(v: &mut Value, s: &Schema) {
    match v {
        Value::Object(map) => {
            for (k, ps) in &s.properties {
                if let Some(d) = &ps.default {
                    let missing = match map.get(k) {
                        None => true,
                        Some(x) => is_non_nullable_null(x, ps),
                    };
                    if missing {
                        map.insert(k.clone(), d.clone());
                    }
                }
            }
            default_children(map, s);
        }
        Value::Array(items) => {
            if let Some(is) = s.items.as_deref() {
                for item in items.iter_mut() {
                    if is_non_nullable_null(item, is)
                        && let Some(d) = &is.default
                    {
                        *item = d.clone();
                    }
                    apply_defaults(item, is);
                }
            }
        }
        _ => {}
    }
}

fn default_children(map: &mut Map<String, Value>, s: &Schema) {
    for (k, child) in map.iter_mut() {
        if let Some(ps) = s.properties.get(k) {
            apply_defaults(child, ps);
        } else if let Some(Additional::Schema(a)) = &s.additional {
            if is_non_nullable_null(child, a)
                && let Some(d) = &a.default
            {
                *child = d.clone();
            }
            apply_defaults(child, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Schema {
        Schema::parse(&v, "").expect("schema parses")
    }

    #[test]
    fn prunes_unknown_keeps_root_meta_and_preserved() {
        let s = schema(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "a": {"type": "string"},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }}
            }
        }));
        let mut obj = json!({
            "apiVersion": "dezky.io/v1alpha1", "kind": "Tenant",
            "metadata": {"name": "x", "bogus": 1},
            "spec": {"a": "1", "b": 2, "free": {"x": {"y": 1}}, "labels": {"k": "v"}},
            "extra": true
        });
        prune(&mut obj, Some(&s), true);
        assert_eq!(
            obj,
            json!({
                "apiVersion": "dezky.io/v1alpha1", "kind": "Tenant",
                "metadata": {"name": "x"},
                "spec": {"a": "1", "free": {"x": {"y": 1}}, "labels": {"k": "v"}}
            })
        );
    }

    #[test]
    fn defaults_apply_recursively_and_replace_non_nullable_nulls() {
        let s = schema(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "default": {}, "properties": {
                    "policy": {"type": "string", "default": "Delete"},
                    "retention": {"type": "object", "default": {}, "properties": {
                        "days": {"type": "integer", "default": 7}
                    }},
                    "note": {"type": "string", "nullable": true, "default": "n"}
                }}
            }
        }));
        let mut obj = json!({"spec": {"note": null}});
        prune_non_nullable_nulls(&mut obj, &s);
        apply_defaults(&mut obj, &s);
        assert_eq!(
            obj,
            json!({"spec": {"policy": "Delete", "retention": {"days": 7}, "note": null}})
        );
        let mut obj = json!({});
        apply_defaults(&mut obj, &s);
        assert_eq!(
            obj,
            json!({"spec": {"policy": "Delete", "retention": {"days": 7}, "note": "n"}})
        );
    }
}
