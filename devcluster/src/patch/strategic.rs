//! Strategic merge patch for the built-in kinds: a JSON merge patch whose lists with a patch
//! strategy merge by key (or as sets), plus the `$patch`, `$retainKeys`,
//! `$setElementOrder` and `$deleteFromPrimitiveList` directives.

use serde_json::{Map, Value};

/// How a list at a field path patches.
enum ListStrategy {
    Replace,
    /// Union of primitive values.
    MergeSet,
    /// Merge items by this key.
    MergeKey(&'static str),
}

fn strategy(path: &str) -> ListStrategy {
    match path {
        "metadata.finalizers" => ListStrategy::MergeSet,
        "metadata.ownerReferences" => ListStrategy::MergeKey("uid"),
        "status.conditions" => ListStrategy::MergeKey("type"),
        _ => ListStrategy::Replace,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Apply a strategic merge patch to `target` in place.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    merge_map_at(target, patch, "");
}

fn merge_map_at(target: &mut Value, patch: &Value, path: &str) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *target = Value::Object(strip_directives(clean));
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else { return };
    // Primitive-list deletions first, so a union in the same patch still applies after.
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(Value::Array(cur)), Some(del)) = (t.get_mut(field), v.as_array())
        {
            cur.retain(|x| !del.contains(x));
        }
    }
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        let sub = join(path, k);
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match v {
            Value::Object(_) => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                merge_map_at(slot, v, &sub);
                if slot.is_null() {
                    t.remove(k);
                }
            }
            Value::Array(items) => {
                let merged = merge_list(t.get(k), items, &sub);
                t.insert(k.clone(), merged);
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

fn strip_directives(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter().filter(|(k, _)| !k.starts_with('$')).collect()
}

fn merge_list(current: Option<&Value>, items: &[Value], path: &str) -> Value {
    let cur = current
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .cloned()
                .collect(),
        );
    }
    match strategy(path) {
        ListStrategy::Replace => Value::Array(items.to_vec()),
        ListStrategy::MergeSet => {
            let mut out = cur;
            for i in items {
                if !out.contains(i) {
                    out.push(i.clone());
                }
            }
            Value::Array(out)
        }
        ListStrategy::MergeKey(key) => {
            let mut out = cur;
            for item in items {
                let id = item.get(key).cloned().unwrap_or(Value::Null);
                let pos = out.iter().position(|o| o.get(key) == Some(&id));
                let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                match (pos, delete) {
                    (Some(i), true) => {
                        out.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => merge_map_at(&mut out[i], item, path),
                    (None, false) => {
                        let mut fresh = Value::Null;
                        merge_map_at(&mut fresh, item, path);
                        out.push(fresh);
                    }
                }
            }
            Value::Array(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lease_release_nulls_delete() {
        let mut t =
            json!({"spec": {"holderIdentity": "a", "renewTime": "t", "leaseTransitions": 1}});
        strategic_merge(
            &mut t,
            &json!({"spec": {"holderIdentity": null, "renewTime": null}}),
        );
        assert_eq!(t, json!({"spec": {"leaseTransitions": 1}}));
    }

    #[test]
    fn finalizers_union_and_delete_directive() {
        let mut t = json!({"metadata": {"finalizers": ["a"]}});
        strategic_merge(&mut t, &json!({"metadata": {"finalizers": ["b"]}}));
        assert_eq!(t["metadata"]["finalizers"], json!(["a", "b"]));
        strategic_merge(
            &mut t,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(t["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn conditions_merge_by_type() {
        let mut t = json!({"status": {"conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "False"}]}});
        strategic_merge(
            &mut t,
            &json!({"status": {"conditions": [{"type": "B", "status": "True"}, {"type": "A", "$patch": "delete"}]}}),
        );
        assert_eq!(
            t["status"]["conditions"],
            json!([{"type": "B", "status": "True"}])
        );
    }
}
