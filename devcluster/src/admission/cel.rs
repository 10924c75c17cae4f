//! `x-kubernetes-validations`: rules compiled once, evaluated over the object as apiextensions'
//! `schema/cel` validator does (per node, `self`/`oldSelf`, transition rules, ratcheting, messages).

use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, OptionalValue};
use cel::{ExecutionError, Program, Value as CelValue};
use serde_json::Value;

use super::SchemaError;
use super::cel_library::runtime;
use super::field::{BadValue, FieldError, FieldPath};
use super::openapi::json_equal;
use super::schema::{Additional, Schema};

/// One compiled `x-kubernetes-validations` rule.
pub(crate) struct CompiledRule {
    rule: String,
    program: Program,
    /// The rule's `message`, trimmed, when set.
    message: Option<String>,
    message_expression: Option<Program>,
    reason: Option<String>,
    /// The rule's `fieldPath` as written; normalized once the node's schema is known.
    raw_field_path: Option<String>,
    field_path: Option<String>,
    uses_old_self: bool,
    optional_old_self: bool,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule")
            .field("rule", &self.rule)
            .finish()
    }
}

impl CompiledRule {
    /// Compiles a rule object (`rule`, `message`, `messageExpression`, `reason`, `fieldPath`, `optionalOldSelf`).
    pub(crate) fn compile(v: &Value, path: &str) -> Result<CompiledRule, SchemaError> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let rule = s("rule").ok_or_else(|| SchemaError::Invalid {
            path: path.to_string(),
            message: "a validation rule needs a `rule`".into(),
        })?;
        let rt = runtime();
        let program = rt.compile(&rule).map_err(|message| SchemaError::Rule {
            path: path.to_string(),
            rule: rule.clone(),
            message,
        })?;
        let message_expression = match s("messageExpression") {
            Some(src) => Some(rt.compile(&src).map_err(|message| SchemaError::Rule {
                path: format!("{path}/messageExpression"),
                rule: src.clone(),
                message,
            })?),
            None => None,
        };
        let uses_old_self = program.references().has_variable("oldSelf");
        let trimmed_rule = rule.trim().to_string();
        let message = s("message")
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty());
        Ok(CompiledRule {
            rule: trimmed_rule,
            program,
            message,
            message_expression,
            reason: s("reason"),
            raw_field_path: s("fieldPath").filter(|p| !p.is_empty()),
            field_path: None,
            uses_old_self,
            optional_old_self: v
                .get("optionalOldSelf")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// `ruleErrorString`: the message when set, else the rule.
    fn error_string(&self) -> &str {
        self.message.as_deref().unwrap_or(&self.rule)
    }

    /// `ruleMessageOrDefault`.
    fn message_or_default(&self) -> String {
        match &self.message {
            Some(m) => m.clone(),
            None => format!("failed rule: {}", self.rule),
        }
    }
}

/// Normalizes every rule's `fieldPath` of node `s` (`ValidFieldPath`), failing on paths that name no field.
pub(crate) fn normalize_field_paths(s: &mut Schema, path: &str) -> Result<(), SchemaError> {
    let mut normalized = Vec::new();
    for r in &s.rules {
        normalized.push(match &r.raw_field_path {
            Some(raw) => {
                Some(
                    valid_field_path(raw, s).map_err(|message| SchemaError::Invalid {
                        path: path.to_string(),
                        message: format!("fieldPath {raw:?}: {message}"),
                    })?,
                )
            }
            None => None,
        });
    }
    for (r, n) in s.rules.iter_mut().zip(normalized) {
        r.field_path = n;
    }
    Ok(())
}

fn valid_field_path(raw: &str, mut s: &Schema) -> Result<String, String> {
    let mut out = FieldPath::root();
    let mut rest = raw;
    while !rest.is_empty() {
        let (name, remaining) = if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").ok_or("expected ] to close a quoted name")?;
            (
                r[..end].replace("\\'", "'").replace("\\\\", "\\"),
                &r[end + 2..],
            )
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            (r[..end].to_string(), &r[end..])
        } else {
            return Err(format!("expected [ or . but got: {rest}"));
        };
        if name.is_empty() {
            return Err("unexpected end of JSON path".into());
        }
        if !s.properties.is_empty() {
            s = s
                .properties
                .get(&name)
                .ok_or("does not refer to a valid field")?;
            out = out.child(&name);
        } else if let Some(Additional::Schema(a)) = &s.additional {
            s = a;
            out = out.key(&name);
        } else {
            return Err("does not refer to a valid field".into());
        }
        rest = remaining;
    }
    Ok(out.to_string())
}

/// Walks `v` (with its correlated old value) and evaluates every rule on the way.
pub(crate) fn validate(
    v: &Value,
    old: Option<&Value>,
    s: &Schema,
    path: &FieldPath,
    resource_root: bool,
    out: &mut Vec<FieldError>,
) {
    if v.is_null() {
        return;
    }
    let old = old.filter(|o| !o.is_null());
    if !s.rules.is_empty() {
        eval_rules(v, old, s, path, resource_root, out);
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let old_child = old.and_then(|o| o.get(k));
                if let Some(ps) = s.properties.get(k) {
                    validate(
                        child,
                        old_child,
                        ps,
                        &path.child(k),
                        ps.embedded_resource,
                        out,
                    );
                } else if let Some(Additional::Schema(a)) = &s.additional {
                    validate(child, old_child, a, &path.key(k), a.embedded_resource, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    let old_item = correlate_item(item, old, s);
                    validate(
                        item,
                        old_item,
                        is,
                        &path.index(i),
                        is.embedded_resource,
                        out,
                    );
                }
            }
        }
        _ => {}
    }
}

/// The old element a new list element correlates with: by key for `listType=map`, none otherwise.
pub(crate) fn correlate_item<'a>(
    item: &Value,
    old: Option<&'a Value>,
    s: &Schema,
) -> Option<&'a Value> {
    if s.list_type.as_deref() != Some("map") {
        return None;
    }
    let old_items = old?.as_array()?;
    old_items.iter().find(|o| {
        s.list_map_keys
            .iter()
            .all(|k| match (item.get(k), o.get(k)) {
                (Some(a), Some(b)) => json_equal(a, b),
                (None, None) => true,
                _ => false,
            })
    })
}

fn eval_rules(
    v: &Value,
    old: Option<&Value>,
    s: &Schema,
    path: &FieldPath,
    resource_root: bool,
    out: &mut Vec<FieldError>,
) {
    let self_val = to_cel(v, s, resource_root);
    let old_val = old.map(|o| to_cel(o, s, resource_root));
    // Ratcheting: a rule that does not use oldSelf on an unchanged value only warns.
    let unchanged = old.is_some_and(|o| json_equal(o, v));
    let type_name = BadValue::Str(s.type_name().to_string());
    for rule in &s.rules {
        if rule.uses_old_self && old_val.is_none() && !rule.optional_old_self {
            continue;
        }
        let mut vars = vec![("self", self_val.clone())];
        if rule.optional_old_self {
            let opt = match &old_val {
                Some(o) => OptionalValue::of(o.clone()),
                None => OptionalValue::none(),
            };
            vars.push(("oldSelf", CelValue::Opaque(Arc::new(opt))));
        } else if let Some(o) = &old_val {
            vars.push(("oldSelf", o.clone()));
        }
        let result = runtime().eval(&rule.program, vars.clone());
        let failed = match result {
            Ok(CelValue::Bool(true)) => continue,
            Ok(CelValue::Bool(false)) => None,
            Ok(other) => Some(format!(
                "no such overload: rule did not evaluate to a bool ({}) evaluating rule: {}",
                other.type_of(),
                rule.error_string()
            )),
            Err(e) => Some(eval_error_message(&e, rule)),
        };
        if let Some(detail) = failed {
            out.push(FieldError::invalid(path, type_name.clone(), detail));
            continue;
        }
        if !rule.uses_old_self && unchanged {
            continue;
        }
        let err_path = match &rule.field_path {
            Some(fp) => path.child(fp),
            None => path.clone(),
        };
        let detail = rule
            .message_expression
            .as_ref()
            .and_then(|m| match runtime().eval(m, vars) {
                Ok(CelValue::String(s)) => {
                    let t = s.trim();
                    (!t.is_empty() && !t.contains('\n')).then(|| t.to_string())
                }
                _ => None,
            })
            .unwrap_or_else(|| rule.message_or_default());
        out.push(match rule.reason.as_deref() {
            Some("FieldValueForbidden") => FieldError::forbidden(&err_path, detail),
            Some("FieldValueRequired") => FieldError::required(&err_path, detail),
            Some("FieldValueDuplicate") => FieldError::duplicate(&err_path, type_name.clone()),
            _ => FieldError::invalid(&err_path, type_name.clone(), detail),
        });
    }
}

/// The text cel-go would give for a runtime error, wrapped as apiextensions wraps it.
fn eval_error_message(e: &ExecutionError, rule: &CompiledRule) -> String {
    match e {
        ExecutionError::NoSuchOverload(o) => format!(
            "'no such overload: {o}': call arguments did not match a supported operator, function or macro signature for rule: {}",
            rule.error_string()
        ),
        ExecutionError::NoSuchKey(k) => {
            format!("no such key: {k} evaluating rule: {}", rule.error_string())
        }
        // Library functions fail with the Go error text (e.g. resource.ErrFormatWrong), as cel-go's WrapErr keeps it.
        ExecutionError::FunctionError { message, .. } => {
            format!("{message} evaluating rule: {}", rule.error_string())
        }
        other => format!("{other} evaluating rule: {}", rule.error_string()),
    }
}

/// CEL property-name escaping (`__dash__`, `__dot__`, `__slash__`, reserved words); `None` when not accessible.
fn escape(name: &str) -> Option<String> {
    const RESERVED: &[&str] = &[
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut out = String::new();
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("__") {
            out.push_str("__underscores__");
            rest = &rest[2..];
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
        rest = &rest[c.len_utf8()..];
    }
    let first_ok = out
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok.then_some(out)
}

/// Converts unstructured content to a CEL value typed by the schema, as `UnstructuredToVal` does.
pub(crate) fn to_cel(v: &Value, s: &Schema, resource_root: bool) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match (s.type_.as_deref(), n.as_i64()) {
            (Some("number"), _) => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            (_, Some(i)) => CelValue::Int(i),
            (_, None) => match n.as_u64() {
                Some(u) => CelValue::UInt(u),
                None => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        Value::String(st) => string_to_cel(st, s),
        Value::Array(items) => {
            let is = s.items.as_deref();
            let empty = Schema::default();
            let list: Vec<CelValue> = items
                .iter()
                .map(|i| {
                    to_cel(
                        i,
                        is.unwrap_or(&empty),
                        is.is_some_and(|x| x.embedded_resource),
                    )
                })
                .collect();
            CelValue::List(Arc::new(list))
        }
        Value::Object(map) => {
            let mut out: HashMap<Key, CelValue> = HashMap::new();
            let embedded = resource_root || s.embedded_resource;
            let empty = Schema::default();
            for (k, child) in map {
                if embedded {
                    match k.as_str() {
                        "apiVersion" | "kind" => {
                            out.insert(Key::from(k.as_str()), to_cel(child, &empty, false));
                            continue;
                        }
                        "metadata" => {
                            out.insert(Key::from("metadata"), metadata_to_cel(child));
                            continue;
                        }
                        _ => {}
                    }
                }
                if let Some(ps) = s.properties.get(k) {
                    if let Some(name) = escape(k) {
                        out.insert(Key::from(name), to_cel(child, ps, ps.embedded_resource));
                    }
                } else if let Some(Additional::Schema(a)) = &s.additional {
                    out.insert(Key::from(k.as_str()), to_cel(child, a, a.embedded_resource));
                } else if s.preserve_unknown
                    || matches!(s.additional, Some(Additional::Allows(true)))
                {
                    out.insert(Key::from(k.as_str()), to_cel(child, &empty, false));
                }
            }
            CelValue::Map(out.into())
        }
    }
}

fn string_to_cel(st: &str, s: &Schema) -> CelValue {
    match s.raw_format.as_deref() {
        Some("date-time") | Some("datetime") => match chrono::DateTime::parse_from_rfc3339(st) {
            Ok(t) => CelValue::Timestamp(t),
            Err(_) => CelValue::from(st),
        },
        Some("duration") => match super::formats::parse_go_duration(st) {
            Some(ns) if ns.abs() <= i64::MAX as i128 => {
                CelValue::Duration(chrono::Duration::nanoseconds(ns as i64))
            }
            _ => CelValue::from(st),
        },
        _ => CelValue::from(st),
    }
}

/// Rules see only `name` and `generateName` of an object's metadata.
fn metadata_to_cel(v: &Value) -> CelValue {
    let mut out: HashMap<Key, CelValue> = HashMap::new();
    for k in ["name", "generateName"] {
        if let Some(Value::String(s)) = v.get(k) {
            out.insert(Key::from(k), CelValue::from(s.as_str()));
        }
    }
    CelValue::Map(out.into())
}

#[cfg(test)]
mod tests;
