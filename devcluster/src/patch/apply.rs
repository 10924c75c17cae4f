//! Server-side apply and `managedFields` bookkeeping: field ownership per manager, conflicts,
//! merging an applied configuration, removing fields a manager stopped applying, and taking
//! ownership of fields changed by ordinary updates.

use serde_json::{Value, json};

use super::fieldset::{
    FieldSet, ListType, display_path, item_key, list_type, prop_schema, remove_at, value_at,
};

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub fields: FieldSet,
}

impl Entry {
    fn same_owner(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How conflict messages name this manager (`apimachinery` managedfields/internal/conflict.go).
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {:?}", self.subresource);
        }
        if self.operation == "Update" {
            s = format!("{s} using {} at {}", self.api_version, self.time);
        }
        s
    }
}

/// Who is writing and through which endpoint.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    /// `"status"` for writes to the status subresource, else empty.
    pub subresource: &'a str,
    /// The kind has a status subresource (the main endpoint does not own `.status`).
    pub has_status: bool,
    pub now: &'a str,
}

impl Writer<'_> {
    fn fields_of(&self, obj: &Value, schema: Option<&Value>) -> FieldSet {
        let only_status = self.subresource == "status";
        FieldSet::of_object(obj, schema, self.has_status && !only_status, only_status)
    }
}

pub fn read_entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or_default().into(),
                    operation: e["operation"].as_str().unwrap_or_default().into(),
                    api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
                    time: e["time"].as_str().unwrap_or_default().into(),
                    subresource: e["subresource"].as_str().unwrap_or_default().into(),
                    fields: FieldSet::from_fields_v1(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": e.fields.to_fields_v1()});
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub field: String,
}

/// Conflicts as the Status message and causes kube-apiserver returns.
pub fn conflict_message(conflicts: &[Conflict]) -> (String, Vec<Value>) {
    let causes = conflicts
        .iter()
        .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager), "field": c.field}))
        .collect();
    let msg = if let [c] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager, c.field
        )
    } else {
        let mut by: Vec<(String, Vec<String>)> = Vec::new();
        for c in conflicts {
            match by.iter_mut().find(|(m, _)| *m == c.manager) {
                Some((_, fs)) => fs.push(c.field.clone()),
                None => by.push((c.manager.clone(), vec![c.field.clone()])),
            }
        }
        let parts: Vec<String> = by
            .iter()
            .map(|(m, fs)| {
                let lines: Vec<String> = fs.iter().map(|f| format!("- {f}")).collect();
                format!("conflicts with {m}:\n{}", lines.join("\n"))
            })
            .collect();
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            parts.join("\n")
        )
    };
    (msg, causes)
}

/// Merge an applied configuration into the live object: maps recursively, list-maps by key,
/// sets by union, everything else replaced.
pub fn merge_applied(live: &mut Value, config: &Value, schema: Option<&Value>, dotted: &str) {
    match config {
        Value::Object(cm) => {
            if !live.is_object() {
                *live = json!({});
            }
            let Value::Object(lm) = live else { return };
            for (k, cv) in cm {
                let sub = if dotted.is_empty() {
                    k.clone()
                } else {
                    format!("{dotted}.{k}")
                };
                let slot = lm.entry(k.clone()).or_insert(Value::Null);
                merge_applied(slot, cv, prop_schema(schema, k), &sub);
            }
        }
        Value::Array(citems) => match list_type(schema, dotted) {
            ListType::Map(keys) if live.is_array() => {
                let item_schema = schema.and_then(|s| s.get("items"));
                let Value::Array(litems) = live else { return };
                for ci in citems {
                    let key = item_key(ci, &keys);
                    match litems.iter_mut().find(|li| item_key(li, &keys) == key) {
                        Some(li) => merge_applied(li, ci, item_schema, dotted),
                        None => litems.push(ci.clone()),
                    }
                }
            }
            ListType::Set if live.is_array() => {
                let Value::Array(litems) = live else { return };
                for ci in citems {
                    if !litems.contains(ci) {
                        litems.push(ci.clone());
                    }
                }
            }
            _ => *live = config.clone(),
        },
        _ => *live = config.clone(),
    }
}

/// Server-side apply of `config` by `w` onto `live` (an empty object when creating).
/// Returns the new object with its managedFields, or the conflicts.
pub fn apply(
    live: &Value,
    config: &Value,
    w: &Writer<'_>,
    force: bool,
    schema: Option<&Value>,
) -> Result<Value, Vec<Conflict>> {
    let cfg_set = w.fields_of(config, schema);
    let mut entries = read_entries(live);
    let mut conflicts = Vec::new();
    for e in entries.iter_mut() {
        if e.same_owner(w.manager, "Apply", w.subresource) {
            continue;
        }
        let common = e.fields.intersection(&cfg_set);
        let mut lost = FieldSet::default();
        for (path, _) in common.members().into_iter().filter(|(_, leaf)| *leaf) {
            if value_at(live, &path) != value_at(config, &path) {
                conflicts.push(Conflict {
                    manager: e.describe(),
                    field: display_path(&path),
                });
                lost = lost.union(&single(&path));
            }
        }
        if force {
            e.fields = e.fields.difference(&lost);
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let mut merged = live.clone();
    let mut cfg_view = config.clone();
    if let Some(m) = cfg_view.as_object_mut() {
        if w.subresource == "status" {
            m.retain(|k, _| k == "status");
        } else if w.has_status {
            m.remove("status");
        }
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            meta.remove("resourceVersion");
        }
    }
    merge_applied(&mut merged, &cfg_view, schema, "");
    let prev = entries
        .iter()
        .find(|e| e.same_owner(w.manager, "Apply", w.subresource))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others = entries
        .iter()
        .filter(|e| !e.same_owner(w.manager, "Apply", w.subresource))
        .fold(FieldSet::default(), |acc, e| acc.union(&e.fields));
    let dropped = prev.difference(&cfg_set);
    let mut removals: Vec<_> = dropped.members().into_iter().map(|(p, _)| p).collect();
    // Parents first: a removed list item takes its fields with it (they can no longer be found by key).
    removals.sort_by_key(|p| p.len());
    for path in removals {
        if !others.touches(&path) && !cfg_set.touches(&path) {
            remove_at(&mut merged, &path);
        }
    }
    match entries
        .iter_mut()
        .find(|e| e.same_owner(w.manager, "Apply", w.subresource))
    {
        Some(e) => {
            if e.fields != cfg_set || e.api_version != w.api_version {
                e.fields = cfg_set;
                e.time = w.now.to_string();
                e.api_version = w.api_version.to_string();
            }
        }
        None => entries.push(Entry {
            manager: w.manager.to_string(),
            operation: "Apply".into(),
            api_version: w.api_version.to_string(),
            time: w.now.to_string(),
            subresource: w.subresource.to_string(),
            fields: cfg_set,
        }),
    }
    for e in entries.iter_mut() {
        e.fields = e.fields.retain_present(&merged);
    }
    write_entries(&mut merged, &entries);
    Ok(merged)
}

fn single(path: &[String]) -> FieldSet {
    let mut v = json!({});
    let mut cur = &mut v;
    for el in path {
        cur = cur
            .as_object_mut()
            .map(|m| m.entry(el.clone()).or_insert(json!({})))
            .expect("built as objects");
    }
    FieldSet::from_fields_v1(&v)
}

/// Record an ordinary write (create, update, patch) by `w`: it takes ownership of what it
/// changed, other managers lose those fields, and removed fields leave every set.
/// A write that replaced `managedFields` itself keeps them as given.
pub fn track_update(old: Option<&Value>, new: &mut Value, w: &Writer<'_>, schema: Option<&Value>) {
    let old_entries = old.map(read_entries).unwrap_or_default();
    let given = new.pointer("/metadata/managedFields").cloned();
    if let Some(g) = &given
        && old.and_then(|o| o.pointer("/metadata/managedFields")) != Some(g)
    {
        return;
    }
    let empty = json!({});
    let old_obj = old.unwrap_or(&empty);
    let new_set = w.fields_of(new, schema);
    let mut changed = FieldSet::default();
    for (path, leaf) in new_set.members() {
        let differs = value_at(old_obj, &path) != value_at(new, &path);
        if (leaf && differs) || (!leaf && value_at(old_obj, &path).is_none()) {
            changed = changed.union(&single(&path));
        }
    }
    let mut entries = old_entries;
    for e in entries.iter_mut() {
        if !e.same_owner(w.manager, "Update", w.subresource) {
            e.fields = e.fields.difference(&changed);
        }
        e.fields = e.fields.retain_present(new);
    }
    if !changed.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.same_owner(w.manager, "Update", w.subresource))
        {
            Some(e) => {
                e.fields = e.fields.union(&changed);
                e.time = w.now.to_string();
                e.api_version = w.api_version.to_string();
            }
            None => entries.push(Entry {
                manager: w.manager.to_string(),
                operation: "Update".into(),
                api_version: w.api_version.to_string(),
                time: w.now.to_string(),
                subresource: w.subresource.to_string(),
                fields: changed,
            }),
        }
    }
    write_entries(new, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w<'a>(manager: &'a str) -> Writer<'a> {
        Writer {
            manager,
            api_version: "dezky.io/v1alpha1",
            subresource: "",
            has_status: true,
            now: "2026-01-01T00:00:00Z",
        }
    }

    #[test]
    fn apply_conflicts_force_and_removal() {
        let base =
            json!({"apiVersion": "dezky.io/v1alpha1", "kind": "M", "metadata": {"name": "x"}});
        let a = apply(
            &base,
            &json!({"metadata": {"name": "x"}, "spec": {"role": "admin", "extra": 1}}),
            &w("a"),
            false,
            None,
        )
        .unwrap();
        // Same value: shared ownership, no conflict.
        let b = apply(
            &a,
            &json!({"metadata": {"name": "x"}, "spec": {"role": "admin"}}),
            &w("b"),
            false,
            None,
        )
        .unwrap();
        // Different value: conflict.
        let err = apply(
            &b,
            &json!({"metadata": {"name": "x"}, "spec": {"role": "viewer"}}),
            &w("c"),
            false,
            None,
        )
        .unwrap_err();
        assert_eq!(err.len(), 2);
        assert_eq!(err[0].field, ".spec.role");
        let forced = apply(
            &b,
            &json!({"metadata": {"name": "x"}, "spec": {"role": "viewer"}}),
            &w("c"),
            true,
            None,
        )
        .unwrap();
        assert_eq!(forced["spec"]["role"], "viewer");
        // a stops applying `extra`: nobody else owns it, so it goes.
        let dropped = apply(
            &forced,
            &json!({"metadata": {"name": "x"}, "spec": {}}),
            &w("a"),
            false,
            None,
        )
        .unwrap();
        assert!(dropped["spec"].get("extra").is_none());
        assert_eq!(dropped["spec"]["role"], "viewer");
        // Re-applying the same thing is a fixed point.
        let again = apply(
            &dropped,
            &json!({"metadata": {"name": "x"}, "spec": {}}),
            &w("a"),
            false,
            None,
        )
        .unwrap();
        assert_eq!(again, dropped);
    }

    #[test]
    fn update_takes_ownership_and_apply_then_conflicts() {
        let mut obj = json!({"metadata": {"name": "x"}, "spec": {"role": "admin"}});
        track_update(None, &mut obj, &w("kubectl-client-side-apply"), None);
        let err = apply(
            &obj,
            &json!({"spec": {"role": "viewer"}}),
            &w("kubectl"),
            false,
            None,
        )
        .unwrap_err();
        assert!(err[0].manager.contains("using dezky.io/v1alpha1 at"));
        let (msg, causes) = conflict_message(&err);
        assert!(
            msg.starts_with(
                "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\""
            ),
            "{msg}"
        );
        assert_eq!(causes[0]["field"], ".spec.role");
    }

    #[test]
    fn status_apply_merges_conditions_by_type() {
        let live = json!({"metadata": {"name": "x"}, "spec": {"a": 1}, "status": {"conditions": [{"type": "A", "status": "True"}]}});
        let sw = Writer {
            subresource: "status",
            ..w("ctl")
        };
        let out = apply(&live, &json!({"status": {"conditions": [{"type": "B", "status": "False"}]}, "spec": {"a": 2}}), &sw, false, None)
            .unwrap();
        assert_eq!(out["spec"]["a"], 1);
        assert_eq!(out["status"]["conditions"].as_array().unwrap().len(), 2);
    }
}
