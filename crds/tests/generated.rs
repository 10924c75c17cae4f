//! The committed CRDs under `charts/dezky/crds/` are exactly what the Rust types generate, and the
//! generated schemas keep the promises users and the API server's CEL cost budget rely on.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

fn chart_crds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/dezky/crds")
}

#[test]
fn committed_crds_equal_the_generated_ones() {
    let dir = chart_crds_dir();
    let mut expected = BTreeSet::new();
    for crd in dezky_crds::crds() {
        let name = dezky_crds::crd_file_name(&crd);
        let committed = std::fs::read_to_string(dir.join(&name))
            .unwrap_or_else(|e| panic!("charts/dezky/crds/{name} is missing ({e}): run `cargo run -- crds --output-dir charts/dezky/crds`"));
        assert!(
            committed == dezky_crds::crd_yaml(&crd),
            "charts/dezky/crds/{name} differs from what the code generates: run `cargo run -- crds --output-dir charts/dezky/crds`"
        );
        expected.insert(name);
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("charts/dezky/crds exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        present, expected,
        "charts/dezky/crds holds files the code does not generate"
    );
    assert_eq!(expected.len(), 5, "five kinds");
}

fn schemas() -> Vec<(String, Value)> {
    dezky_crds::crds()
        .into_iter()
        .map(|crd| {
            let kind = crd.spec.names.kind.clone();
            let version = crd.spec.versions.into_iter().next().expect("one version");
            let schema = version
                .schema
                .and_then(|s| s.open_api_v3_schema)
                .expect("a schema");
            (kind, serde_json::to_value(schema).expect("schema is JSON"))
        })
        .collect()
}

/// Calls `check(path, node)` on every schema node below `spec` and `status`.
fn walk(path: &str, node: &Value, check: &mut dyn FnMut(&str, &Value)) {
    check(path, node);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            walk(&format!("{path}.{name}"), child, check);
        }
    }
    if let Some(items) = node.get("items") {
        walk(&format!("{path}[]"), items, check);
    }
    if let Some(Value::Object(_)) = node.get("additionalProperties") {
        walk(&format!("{path}{{}}"), &node["additionalProperties"], check);
    }
}

#[test]
fn every_string_is_bounded_and_every_list_too() {
    let mut problems = Vec::new();
    for (kind, schema) in schemas() {
        for part in ["spec", "status"] {
            walk(
                &format!("{kind}.{part}"),
                &schema["properties"][part],
                &mut |path, node| match node.get("type").and_then(Value::as_str) {
                    Some("string") => {
                        let bounded = node.get("maxLength").is_some()
                            || node.get("enum").is_some()
                            || node.get("format").and_then(Value::as_str) == Some("date-time");
                        if !bounded {
                            problems.push(format!("{path}: string without maxLength"));
                        }
                    }
                    Some("array") if node.get("maxItems").is_none() => {
                        problems.push(format!("{path}: list without maxItems"));
                    }
                    Some("integer") => {
                        let format = node
                            .get("format")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        if format.starts_with("uint") {
                            problems.push(format!("{path}: unsigned integer format {format}"));
                        }
                    }
                    _ => {}
                },
            );
        }
    }
    assert!(
        problems.is_empty(),
        "unbounded fields:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_spec_and_status_field_is_described_for_kubectl_explain() {
    let mut undescribed = Vec::new();
    for (kind, schema) in schemas() {
        for part in ["spec", "status"] {
            walk(
                &format!("{kind}.{part}"),
                &schema["properties"][part],
                &mut |path, node| {
                    // list items are described by their list
                    if path.ends_with("[]") {
                        return;
                    }
                    let described = node
                        .get("description")
                        .and_then(Value::as_str)
                        .is_some_and(|d| !d.trim().is_empty());
                    if !described {
                        undescribed.push(path.to_string());
                    }
                },
            );
        }
    }
    assert!(
        undescribed.is_empty(),
        "fields without a description:\n{}",
        undescribed.join("\n")
    );
}

#[test]
fn every_kind_has_ready_column_short_name_and_the_dezky_category() {
    let short: BTreeSet<String> = dezky_crds::crds()
        .iter()
        .flat_map(|crd| {
            let names = &crd.spec.names;
            assert_eq!(
                names.categories.as_deref(),
                Some(&["dezky".to_string()][..]),
                "{} category",
                names.kind
            );
            let version = &crd.spec.versions[0];
            let columns = version
                .additional_printer_columns
                .as_deref()
                .unwrap_or_default();
            let json_paths: Vec<&str> = columns.iter().map(|c| c.json_path.as_str()).collect();
            assert!(
                json_paths.contains(&".status.conditions[?(@.type==\"Ready\")].status"),
                "{} has a Ready column",
                names.kind
            );
            assert!(
                json_paths.contains(&".metadata.creationTimestamp"),
                "{} has an Age column",
                names.kind
            );
            assert!(
                version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some(),
                "{} has a status subresource",
                names.kind
            );
            names.short_names.clone().unwrap_or_default()
        })
        .collect();
    let want: BTreeSet<String> = ["tn", "pt", "md", "mbr", "sso"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(short, want);
}

#[test]
fn conditions_are_a_map_keyed_by_type() {
    for (kind, schema) in schemas() {
        let conditions = &schema["properties"]["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"]),
            "{kind}"
        );
    }
}

#[test]
fn immutable_fields_carry_a_transition_rule() {
    for (kind, field) in [("MailDomain", "domain"), ("Member", "email")] {
        let (_, schema) = schemas()
            .into_iter()
            .find(|(k, _)| k == kind)
            .expect("kind exists");
        let rules = &schema["properties"]["spec"]["properties"][field]["x-kubernetes-validations"];
        let has = rules
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["rule"] == "self == oldSelf");
        assert!(has, "{kind}.spec.{field} is immutable through CEL");
    }
}
