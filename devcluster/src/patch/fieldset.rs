//! Field sets in the `FieldsV1` trie format (`f:`, `k:`, `v:` path elements) and the
//! schema-aware walks over objects that server-side apply needs.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// One element of a field path: `f:name`, `k:{"type":"Ready"}`, `v:"value"` or `i:3`.
pub type Path = Vec<String>;

/// A set of field paths, stored as a trie; `member` marks the node itself as in the set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

/// How a list field merges: atomic (replaced whole), a set, or a map keyed by some fields.
#[derive(Debug, Clone, PartialEq)]
pub enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// Fields no manager owns.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The sub-schema of a property (or of map values).
pub fn prop_schema<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let s = schema?;
    s.get("properties")
        .and_then(|p| p.get(key))
        .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
}

/// The list type of the list at `dotted` (a field path without list elements).
pub fn list_type(schema: Option<&Value>, dotted: &str) -> ListType {
    if let Some(s) = schema {
        match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => {
                let keys = s["x-kubernetes-list-map-keys"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                return ListType::Map(keys);
            }
            Some("set") => return ListType::Set,
            Some("atomic") => return ListType::Atomic,
            _ => {}
        }
    }
    match dotted {
        "metadata.finalizers" => ListType::Set,
        "metadata.ownerReferences" => ListType::Map(vec!["uid".into()]),
        "status.conditions" => ListType::Map(vec!["type".into()]),
        _ => ListType::Atomic,
    }
}

fn join(dotted: &str, key: &str) -> String {
    if dotted.is_empty() {
        key.to_string()
    } else {
        format!("{dotted}.{key}")
    }
}

/// The `k:` element of a list-map item.
pub fn item_key(item: &Value, keys: &[String]) -> String {
    let mut m = Map::new();
    let mut sorted = keys.to_vec();
    sorted.sort();
    for k in sorted {
        if let Some(v) = item.get(&k) {
            m.insert(k, v.clone());
        }
    }
    format!("k:{}", Value::Object(m))
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    fn node(&mut self, el: &str) -> &mut FieldSet {
        self.children.entry(el.to_string()).or_default()
    }

    /// The fields an object sets, excluding what the server owns. `only_status`: the /status
    /// view (just `.status`); `drop_status`: the main view of a kind with a status subresource.
    pub fn of_object(
        obj: &Value,
        schema: Option<&Value>,
        drop_status: bool,
        only_status: bool,
    ) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(m) = obj.as_object() else { return set };
        for (k, v) in m {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            if (k == "status" && drop_status) || (k != "status" && only_status) {
                continue;
            }
            let sub = prop_schema(schema, k);
            let node = set.node(&format!("f:{k}"));
            if k == "metadata" {
                if let Some(meta) = v.as_object() {
                    for (mk, mv) in meta {
                        if SERVER_METADATA.contains(&mk.as_str()) {
                            continue;
                        }
                        let child = node.node(&format!("f:{mk}"));
                        child.collect(mv, prop_schema(sub, mk), &format!("metadata.{mk}"));
                    }
                }
                if node.children.is_empty() {
                    set.children.remove("f:metadata");
                }
            } else {
                node.collect(v, sub, k);
            }
        }
        set
    }

    /// Fill this node (the node of `v`) with the fields of `v`.
    fn collect(&mut self, v: &Value, schema: Option<&Value>, dotted: &str) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, c) in m {
                    self.node(&format!("f:{k}")).collect(
                        c,
                        prop_schema(schema, k),
                        &join(dotted, k),
                    );
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let item_schema = schema.and_then(|s| s.get("items"));
                match list_type(schema, dotted) {
                    ListType::Map(keys) => {
                        for item in items {
                            let n = self.node(&item_key(item, &keys));
                            n.member = true;
                            n.collect(item, item_schema, dotted);
                        }
                    }
                    ListType::Set => {
                        for item in items {
                            self.node(&format!("v:{item}")).member = true;
                        }
                    }
                    ListType::Atomic => self.member = true,
                }
            }
            _ => self.member = true,
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (k, c) in &other.children {
            let merged = match out.children.get(k) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(k.clone(), merged);
        }
        out
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            let d = match other.children.get(k) {
                Some(o) => c.difference(o),
                None => c.clone(),
            };
            if !d.is_empty() {
                out.children.insert(k.clone(), d);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = c.intersection(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    /// Every member path; `leaf` tells whether the member has no member descendants.
    pub fn members(&self) -> Vec<(Path, bool)> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut out);
        out
    }

    fn walk(&self, prefix: &mut Path, out: &mut Vec<(Path, bool)>) {
        if self.member && !prefix.is_empty() {
            out.push((prefix.clone(), self.children.is_empty()));
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.walk(prefix, out);
            prefix.pop();
        }
    }

    /// Does the set hold `path` or anything below it?
    pub fn touches(&self, path: &[String]) -> bool {
        let mut cur = self;
        for el in path {
            match cur.children.get(el) {
                Some(c) => cur = c,
                None => return false,
            }
        }
        !cur.is_empty()
    }

    /// Keep only the paths that still exist in `obj`.
    pub fn retain_present(&self, obj: &Value) -> FieldSet {
        let mut out = FieldSet {
            member: self.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            if let Some(child) = step(obj, k) {
                let r = c.retain_present(child);
                if !r.is_empty() {
                    out.children.insert(k.clone(), r);
                }
            }
        }
        out
    }

    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), json!({}));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_fields_v1());
        }
        Value::Object(m)
    }

    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let Some(m) = v.as_object() else {
            return FieldSet::default();
        };
        let mut out = FieldSet {
            member: m.is_empty() || m.contains_key("."),
            children: BTreeMap::new(),
        };
        for (k, c) in m {
            if k != "." {
                out.children.insert(k.clone(), FieldSet::from_fields_v1(c));
            }
        }
        out
    }
}

/// Follow one path element into a value.
pub fn step<'a>(v: &'a Value, el: &str) -> Option<&'a Value> {
    if let Some(f) = el.strip_prefix("f:") {
        return v.get(f);
    }
    let items = v.as_array()?;
    if let Some(k) = el.strip_prefix("k:") {
        let key: Value = serde_json::from_str(k).ok()?;
        let key = key.as_object()?;
        return items
            .iter()
            .find(|i| key.iter().all(|(kk, kv)| i.get(kk) == Some(kv)));
    }
    if let Some(raw) = el.strip_prefix("v:") {
        let want: Value = serde_json::from_str(raw).ok()?;
        return items.iter().find(|i| **i == want);
    }
    if let Some(i) = el.strip_prefix("i:") {
        return items.get(i.parse::<usize>().ok()?);
    }
    None
}

pub fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for el in path {
        cur = step(cur, el)?;
    }
    Some(cur)
}

/// Remove the field or list item at `path`, if present.
pub fn remove_at(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for el in parents {
        let next = if let Some(f) = el.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            let idx = step(cur, el)
                .cloned()
                .and_then(|found| cur.as_array()?.iter().position(|i| *i == found));
            idx.and_then(|i| cur.get_mut(i))
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(found) = step(cur, last).cloned()
        && let Some(items) = cur.as_array_mut()
        && let Some(i) = items.iter().position(|x| *x == found)
    {
        items.remove(i);
    }
}

/// `.spec.conditions[type="Ready"].status`, the path form conflict messages use.
pub fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
            let parts: Vec<String> = key
                .as_object()
                .map(|m| m.iter().map(|(a, b)| format!("{a}={b}")).collect())
                .unwrap_or_default();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            s.push_str(&format!("[{v}]"));
        } else if let Some(i) = el.strip_prefix("i:") {
            s.push_str(&format!("[{i}]"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_v1_round_trip_and_shape() {
        let obj = json!({"apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "labels": {"app": "d"}, "finalizers": ["f"]},
            "spec": {"email": "e", "tags": ["x"]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let set = FieldSet::of_object(&obj, None, false, false);
        let v1 = set.to_fields_v1();
        assert_eq!(v1["f:metadata"]["f:labels"]["f:app"], json!({}));
        assert_eq!(v1["f:metadata"]["f:finalizers"]["v:\"f\""], json!({}));
        assert_eq!(v1["f:spec"]["f:tags"], json!({}));
        assert_eq!(
            v1["f:status"]["f:conditions"]["k:{\"type\":\"Ready\"}"]["."],
            json!({})
        );
        assert!(v1["f:metadata"].get("f:name").is_none());
        assert_eq!(FieldSet::from_fields_v1(&v1), set);
        let status_only = FieldSet::of_object(&obj, None, false, true);
        assert!(status_only.touches(&["f:status".to_string()]));
        assert!(!status_only.touches(&["f:spec".to_string()]));
    }

    #[test]
    fn set_algebra_and_removal() {
        let a = FieldSet::of_object(&json!({"spec": {"a": 1, "b": 2}}), None, false, false);
        let b = FieldSet::of_object(&json!({"spec": {"b": 3}}), None, false, false);
        let d = a.difference(&b);
        assert_eq!(d.members().len(), 1);
        assert_eq!(display_path(&d.members()[0].0), ".spec.a");
        assert_eq!(a.intersection(&b).members().len(), 1);
        let mut obj = json!({"status": {"conditions": [{"type": "A"}, {"type": "B"}]}});
        remove_at(
            &mut obj,
            &[
                "f:status".into(),
                "f:conditions".into(),
                "k:{\"type\":\"A\"}".into(),
            ],
        );
        assert_eq!(obj["status"]["conditions"], json!([{"type": "B"}]));
    }
}
