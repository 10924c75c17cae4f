//! JMAP request processing for the simulated Stalwart: method dispatch, result and creation
//! references, and the `x:*/get`, `x:*/set` and `x:*/query` methods of the registry.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::objects::{Kind, MethodError, Registry, set_error};
use super::{ADMIN_ACCOUNT_ID, Caller};

/// `maxCallsInRequest` of the core capability.
pub(crate) const MAX_CALLS: usize = 16;
/// `maxObjectsInGet` / `maxObjectsInSet`.
pub(crate) const MAX_OBJECTS: usize = 500;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz792013";

const KNOWN_CAPABILITIES: &[&str] = &[
    "urn:ietf:params:jmap:core",
    "urn:ietf:params:jmap:mail",
    "urn:ietf:params:jmap:submission",
    "urn:ietf:params:jmap:vacationresponse",
    "urn:ietf:params:jmap:contacts",
    "urn:ietf:params:jmap:calendars",
    "urn:ietf:params:jmap:sieve",
    "urn:ietf:params:jmap:blob",
    "urn:ietf:params:jmap:quota",
    "urn:ietf:params:jmap:principals",
    "urn:stalwart:jmap",
];

/// Encodes an id the way Stalwart writes JMAP ids (base32, most significant digit first).
pub fn encode_id(mut id: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(ALPHABET[(id % 32) as usize]);
        id /= 32;
        if id == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Decodes a JMAP id; `None` for anything that is not one.
pub fn decode_id(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 13 {
        return None;
    }
    text.bytes().try_fold(0u64, |acc, b| {
        let digit = ALPHABET.iter().position(|a| *a == b)? as u64;
        acc.checked_mul(32)?.checked_add(digit)
    })
}

fn method_error(kind: &str, description: &str, call_id: &Value) -> Value {
    json!(["error", {"type": kind, "description": description}, call_id])
}

/// Processes one JMAP request; `Err` is a request-level error (HTTP 400 problem+json).
pub(crate) fn handle(
    registry: &mut Registry,
    caller: &Caller,
    request: &Value,
) -> Result<Value, String> {
    let using = request
        .get("using")
        .and_then(Value::as_array)
        .ok_or_else(|| "Missing 'using' property".to_string())?;
    for capability in using {
        let capability = capability.as_str().unwrap_or_default();
        if !KNOWN_CAPABILITIES.contains(&capability) {
            return Err(format!("Unknown capability: {capability}"));
        }
    }
    let calls = request
        .get("methodCalls")
        .and_then(Value::as_array)
        .ok_or_else(|| "Missing 'methodCalls' property".to_string())?;
    if calls.len() > MAX_CALLS {
        return Err(format!("Too many method calls, maximum is {MAX_CALLS}"));
    }
    let mut responses: Vec<Value> = Vec::new();
    let mut created_ids: HashMap<String, String> = HashMap::new();
    for call in calls {
        let (name, args, call_id) = match call.as_array().map(Vec::as_slice) {
            Some([Value::String(name), Value::Object(args), call_id]) => {
                (name.as_str(), args, call_id)
            }
            _ => return Err("Invalid method call".into()),
        };
        let response = match resolve_result_refs(args, &responses) {
            Err(description) => method_error("invalidResultReference", &description, call_id),
            Ok(args) => dispatch(registry, caller, name, &args, call_id, &mut created_ids),
        };
        responses.push(response);
    }
    Ok(json!({"methodResponses": responses, "sessionState": "s0"}))
}

fn dispatch(
    registry: &mut Registry,
    caller: &Caller,
    name: &str,
    args: &Map<String, Value>,
    call_id: &Value,
    created_ids: &mut HashMap<String, String>,
) -> Value {
    let Some((kind, method)) = name
        .strip_prefix("x:")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(object, method)| Some((Kind::from_name(object)?, method)))
        .filter(|(_, method)| ["get", "set", "query"].contains(method))
    else {
        return method_error("unknownMethod", name, call_id);
    };
    if *caller != Caller::Admin {
        let action = match method {
            "get" => "read",
            "query" => "query",
            _ => "modify",
        };
        return method_error(
            "forbidden",
            &format!("You are not authorized to {action} objects of this type"),
            call_id,
        );
    }
    if let Some(account) = args.get("accountId").filter(|a| !a.is_null())
        && account != &json!(ADMIN_ACCOUNT_ID)
    {
        let account = account.as_str().unwrap_or_default();
        return method_error(
            "forbidden",
            &format!("You are not an owner of account {account}"),
            call_id,
        );
    }
    let result = match method {
        "get" => get(registry, kind, args),
        "query" => query(registry, kind, args),
        _ => set(registry, kind, args, created_ids),
    };
    match result {
        Ok(mut body) => {
            body.insert("accountId".into(), json!(ADMIN_ACCOUNT_ID));
            json!([name, body, call_id])
        }
        Err((kind, description)) => method_error(kind, &description, call_id),
    }
}

/// Replaces `#prop: {resultOf, name, path}` arguments by the referenced values.
fn resolve_result_refs(
    args: &Map<String, Value>,
    responses: &[Value],
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (key, value) in args {
        let Some(property) = key.strip_prefix('#') else {
            out.insert(key.clone(), value.clone());
            continue;
        };
        let result_of = value
            .get("resultOf")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = value
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let source = responses
            .iter()
            .find(|r| {
                r.get(2).and_then(Value::as_str) == Some(result_of)
                    && r.get(0).and_then(Value::as_str) == Some(name)
            })
            .ok_or_else(|| {
                format!("No previous method call with id {result_of} and name {name}")
            })?;
        let resolved = evaluate_path(&source[1], path)
            .ok_or_else(|| format!("Failed to evaluate path {path}"))?;
        out.insert(property.to_string(), resolved);
    }
    Ok(out)
}

/// RFC 8620 result-reference paths: JSON pointers where `*` maps over an array.
fn evaluate_path(value: &Value, path: &str) -> Option<Value> {
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    fn walk(value: &Value, segments: &[&str]) -> Option<Value> {
        let Some((first, rest)) = segments.split_first() else {
            return Some(value.clone());
        };
        if *first == "*" {
            let mut out = Vec::new();
            for item in value.as_array()? {
                match walk(item, rest)? {
                    Value::Array(items) => out.extend(items),
                    other => out.push(other),
                }
            }
            return Some(Value::Array(out));
        }
        match value {
            Value::Array(items) => walk(items.get(first.parse::<usize>().ok()?)?, rest),
            Value::Object(map) => walk(map.get(*first)?, rest),
            _ => None,
        }
    }
    walk(value, &segments)
}

fn get(
    registry: &Registry,
    kind: Kind,
    args: &Map<String, Value>,
) -> Result<Map<String, Value>, MethodError> {
    let properties: Option<Vec<String>> = match args.get("properties") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        Some(_) => return Err(("invalidArguments", "properties must be an array".into())),
    };
    let ids: Vec<Value> = match args.get("ids") {
        None | Some(Value::Null) => registry
            .ids(kind)
            .into_iter()
            .rev()
            .map(|id| json!(encode_id(id)))
            .collect(),
        Some(Value::Array(ids)) => ids.clone(),
        Some(_) => return Err(("invalidArguments", "ids must be an array".into())),
    };
    if ids.len() > MAX_OBJECTS {
        return Err((
            "requestTooLarge",
            format!("Too many objects, maximum is {MAX_OBJECTS}"),
        ));
    }
    let mut list = Vec::new();
    let mut not_found = Vec::new();
    for id in ids {
        match id
            .as_str()
            .and_then(decode_id)
            .and_then(|n| registry.render(kind, n, properties.as_deref()))
        {
            Some(object) => list.push(object),
            None => not_found.push(id),
        }
    }
    let mut out = Map::new();
    out.insert("list".into(), Value::Array(list));
    out.insert("notFound".into(), Value::Array(not_found));
    Ok(out)
}

fn query(
    registry: &Registry,
    kind: Kind,
    args: &Map<String, Value>,
) -> Result<Map<String, Value>, MethodError> {
    if args.get("filter").and_then(|f| f.get("operator")).is_some() {
        return Err(("unsupportedFilter", "Only AND filters are supported".into()));
    }
    let ids = registry.query(kind, args.get("filter"), args.get("sort"))?;
    let total = ids.len();
    let position = args.get("position").and_then(Value::as_i64).unwrap_or(0);
    let start = if position < 0 {
        total.saturating_sub(position.unsigned_abs() as usize)
    } else {
        (position as usize).min(total)
    };
    let limit = args
        .get("limit")
        .and_then(Value::as_u64)
        .map(|l| l as usize)
        .unwrap_or(usize::MAX);
    let page: Vec<Value> = ids
        .iter()
        .skip(start)
        .take(limit)
        .map(|id| json!(encode_id(*id)))
        .collect();
    let mut out = Map::new();
    out.insert("queryState".into(), json!("n"));
    out.insert("canCalculateChanges".into(), json!(true));
    out.insert("position".into(), json!(start));
    out.insert("ids".into(), Value::Array(page));
    if args.get("calculateTotal") == Some(&json!(true)) {
        out.insert("total".into(), json!(total));
    }
    Ok(out)
}

/// Resolves `#creationId` references in id-valued properties (`domainId`, `memberTenantId`, ...).
fn resolve_creation_refs(value: &mut Value, created: &HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key.ends_with("Id")
                    && let Some(reference) = inner.as_str().and_then(|s| s.strip_prefix('#'))
                    && let Some(id) = created.get(reference)
                {
                    *inner = json!(id);
                    continue;
                }
                resolve_creation_refs(inner, created);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| resolve_creation_refs(item, created)),
        _ => {}
    }
}

fn set(
    registry: &mut Registry,
    kind: Kind,
    args: &Map<String, Value>,
    created_ids: &mut HashMap<String, String>,
) -> Result<Map<String, Value>, MethodError> {
    let empty = Map::new();
    let creates = args
        .get("create")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let updates = args
        .get("update")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let destroys: Vec<Value> = args
        .get("destroy")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if creates.len() + updates.len() + destroys.len() > MAX_OBJECTS {
        return Err((
            "requestTooLarge",
            format!("Too many objects, maximum is {MAX_OBJECTS}"),
        ));
    }
    let (mut created, mut not_created) = (Map::new(), Map::new());
    for (creation_id, input) in creates {
        let mut input = input.clone();
        resolve_creation_refs(&mut input, created_ids);
        let result = match input.as_object() {
            Some(map) => registry.create(kind, map),
            None => Err(set_error(
                "invalidProperties",
                Some("Expected an object"),
                &[],
            )),
        };
        match result {
            Ok(id) => {
                created_ids.insert(creation_id.clone(), encode_id(id));
                created.insert(creation_id.clone(), json!({"id": encode_id(id)}));
            }
            Err(error) => {
                not_created.insert(creation_id.clone(), error);
            }
        }
    }
    let (mut updated, mut not_updated) = (Map::new(), Map::new());
    for (id, patch) in updates {
        // A creation id used as an update key is silently ignored, as the real server does.
        if id.starts_with('#') {
            continue;
        }
        let mut patch = patch.clone();
        resolve_creation_refs(&mut patch, created_ids);
        let result = match (decode_id(id), patch.as_object()) {
            (Some(number), Some(patch)) => registry.update(kind, number, patch),
            (None, _) => Err(set_error("notFound", None, &[])),
            (_, None) => Err(set_error("invalidPatch", Some("Expected an object"), &[])),
        };
        match result {
            Ok(()) => {
                updated.insert(id.clone(), Value::Null);
            }
            Err(error) => {
                not_updated.insert(id.clone(), error);
            }
        }
    }
    let (mut destroyed, mut not_destroyed) = (Vec::new(), Map::new());
    for id in destroys {
        let Some(text) = id.as_str().filter(|t| !t.starts_with('#')) else {
            continue;
        };
        match decode_id(text).map(|n| registry.destroy(kind, n)) {
            Some(Ok(())) => destroyed.push(id.clone()),
            Some(Err(error)) => {
                not_destroyed.insert(text.to_string(), error);
            }
            None => {
                not_destroyed.insert(text.to_string(), set_error("notFound", None, &[]));
            }
        }
    }
    let mut out = Map::new();
    let sections = [
        ("created", Value::Object(created)),
        ("notCreated", Value::Object(not_created)),
        ("updated", Value::Object(updated)),
        ("notUpdated", Value::Object(not_updated)),
        ("destroyed", Value::Array(destroyed)),
        ("notDestroyed", Value::Object(not_destroyed)),
    ];
    for (key, value) in sections {
        let empty = match &value {
            Value::Object(map) => map.is_empty(),
            Value::Array(items) => items.is_empty(),
            _ => true,
        };
        if !empty {
            out.insert(key.into(), value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_use_stalwarts_alphabet() {
        assert_eq!(encode_id(u64::from(u32::MAX)), ADMIN_ACCOUNT_ID);
        assert_eq!(encode_id(1), "b");
        assert_eq!(encode_id(53), "bv");
        assert_eq!(decode_id("bv"), Some(53));
        assert_eq!(decode_id("B"), None);
    }
}
