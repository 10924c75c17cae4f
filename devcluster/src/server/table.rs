//! Server-side printing: `meta.k8s.io/v1` Table responses from CRD printer columns (and small
//! fixed column sets for the built-ins), with kubectl's human-readable ages.

use serde_json::{Value, json};

use super::Query;
use super::jsonpath::select;
use super::resources::partial_metadata;
use crate::registry::ResourceInfo;

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// kubectl's `duration.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    let y = d / 365;
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        if secs % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", secs % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        if d % 365 == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{}d", d % 365)
        }
    } else {
        format!("{y}y")
    }
}

fn age(ts: &Value) -> Value {
    let Some(t) = ts
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    else {
        return Value::Null;
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
    json!(human_duration(secs))
}

struct Column {
    name: String,
    type_: String,
    format: String,
    description: String,
    priority: i64,
    path: String,
}

fn col(name: &str, type_: &str, path: &str, description: &str) -> Column {
    Column {
        name: name.into(),
        type_: type_.into(),
        format: String::new(),
        description: description.into(),
        priority: 0,
        path: path.into(),
    }
}

fn columns(info: &ResourceInfo) -> Vec<Column> {
    let mut cols = vec![Column {
        format: "name".into(),
        ..col("Name", "string", ".metadata.name", NAME_DESCRIPTION)
    }];
    if info.custom {
        let printer: Vec<Column> = info
            .printer_columns
            .iter()
            .map(|c| {
                let path = c["jsonPath"].as_str().unwrap_or_default();
                Column {
                    name: c["name"].as_str().unwrap_or_default().into(),
                    type_: c["type"].as_str().unwrap_or("string").into(),
                    format: c["format"].as_str().unwrap_or_default().into(),
                    description: c["description"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            format!(
                                "Custom resource definition column (in JSONPath format): {path}"
                            )
                        }),
                    priority: c["priority"].as_i64().unwrap_or(0),
                    path: path.into(),
                }
            })
            .collect();
        if printer.is_empty() {
            cols.push(col(
                "Age",
                "date",
                ".metadata.creationTimestamp",
                AGE_DESCRIPTION,
            ));
        } else {
            cols.extend(printer);
        }
        return cols;
    }
    match (info.group.as_str(), info.resource.as_str()) {
        ("", "namespaces") => cols.push(col(
            "Status",
            "string",
            ".status.phase",
            "The status of the namespace",
        )),
        ("", "secrets") => {
            cols.push(col("Type", "string", ".type", "The type of the secret"));
            cols.push(col(
                "Data",
                "string",
                "#count:.data",
                "The number of entries in the secret",
            ));
        }
        ("", "configmaps") => cols.push(col(
            "Data",
            "string",
            "#count:.data",
            "The number of entries in the config map",
        )),
        ("coordination.k8s.io", "leases") => cols.push(col(
            "Holder",
            "string",
            ".spec.holderIdentity",
            "The holder of the lease",
        )),
        ("apiextensions.k8s.io", _) => {
            // kube-apiserver prints the CRD's creation time itself here, not an age.
            cols.push(col(
                "Created At",
                "date",
                "#raw:.metadata.creationTimestamp",
                AGE_DESCRIPTION,
            ));
            return cols;
        }
        (_, "events") => {
            // kubectl's event printer: Last Seen, Type, Reason, Object, Message (+ wide columns).
            let p1 = |mut c: Column| {
                c.priority = 1;
                c
            };
            return vec![
                col(
                    "Last Seen",
                    "string",
                    "#age:.lastTimestamp|.deprecatedLastTimestamp|.eventTime|.metadata.creationTimestamp",
                    "Time when this Event was last seen",
                ),
                col(
                    "Type",
                    "string",
                    ".type",
                    "Type of this event (Normal, Warning), new types could be added in the future.",
                ),
                col("Reason", "string", ".reason", "Why the action was taken."),
                col(
                    "Object",
                    "string",
                    "#object:.involvedObject|.regarding",
                    "The object this Event is about.",
                ),
                p1(col(
                    "Source",
                    "string",
                    "#any:.reportingComponent|.reportingController|.source.component",
                    "The component reporting this event.",
                )),
                col(
                    "Message",
                    "string",
                    "#any:.message|.note",
                    "A human-readable description of the status of this operation.",
                ),
                p1(col(
                    "Count",
                    "string",
                    "#any:.count|.deprecatedCount",
                    "The number of times this event has occurred.",
                )),
                p1(Column {
                    format: "name".into(),
                    ..col("Name", "string", ".metadata.name", NAME_DESCRIPTION)
                }),
            ];
        }
        _ => {}
    }
    cols.push(col(
        "Age",
        "date",
        ".metadata.creationTimestamp",
        AGE_DESCRIPTION,
    ));
    cols
}

/// The first of `|`-separated alternative paths that selects something.
fn first_of<'a>(obj: &'a Value, paths: &str) -> Vec<&'a Value> {
    paths
        .split('|')
        .map(|p| select(obj, p))
        .find(|found| !found.is_empty())
        .unwrap_or_default()
}

fn cell(c: &Column, obj: &Value) -> Value {
    if let Some(p) = c.path.strip_prefix("#age:") {
        return first_of(obj, p)
            .first()
            .map(|v| age(v))
            .unwrap_or(Value::Null);
    }
    if let Some(p) = c.path.strip_prefix("#object:") {
        return first_of(obj, p)
            .first()
            .map(|r| {
                json!(format!(
                    "{}/{}",
                    r["kind"].as_str().unwrap_or_default().to_lowercase(),
                    r["name"].as_str().unwrap_or_default()
                ))
            })
            .unwrap_or(Value::Null);
    }
    if let Some(p) = c.path.strip_prefix("#count:") {
        return json!(
            select(obj, p)
                .first()
                .and_then(|v| v.as_object())
                .map(|m| m.len())
                .unwrap_or(0)
                .to_string()
        );
    }
    if let Some(p) = c.path.strip_prefix("#raw:") {
        return select(obj, p)
            .first()
            .map(|v| (*v).clone())
            .unwrap_or(Value::Null);
    }
    let found = match c.path.strip_prefix("#any:") {
        Some(alternatives) => first_of(obj, alternatives),
        None => select(obj, &c.path),
    };
    let Some(v) = found.first() else {
        return Value::Null;
    };
    match c.type_.as_str() {
        "date" => age(v),
        "integer" => v.as_i64().map(Value::from).unwrap_or(Value::Null),
        "number" => v.as_f64().map(Value::from).unwrap_or(Value::Null),
        "boolean" => v.as_bool().map(Value::from).unwrap_or(Value::Null),
        _ => match v {
            Value::String(s) => json!(s),
            Value::Null => Value::Null,
            _ if found.len() > 1 => {
                json!(
                    found
                        .iter()
                        .map(|x| x
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string()))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
            other => json!(other.to_string()),
        },
    }
}

/// A Table of `items`; `header` controls whether columnDefinitions are included.
pub fn table(
    info: &ResourceInfo,
    items: &[Value],
    list_meta: &Value,
    header: bool,
    q: &Query,
) -> Value {
    let cols = columns(info);
    let include_object = q.get("includeObject").unwrap_or("Metadata");
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols.iter().map(|c| cell(c, o)).collect();
            let object = match include_object {
                "Object" => o.clone(),
                "None" => Value::Null,
                _ => partial_metadata(o),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let defs: Vec<Value> = if header {
        cols.iter()
            .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
            .collect()
    } else {
        Vec::new()
    };
    let mut meta = json!({});
    for k in ["resourceVersion", "continue", "remainingItemCount"] {
        if let Some(v) = list_meta.get(k).filter(|v| !v.is_null()) {
            meta[k] = v.clone();
        }
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_duration(6), "6s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400), "3d");
    }
}
