//! OpenAPI v3 schema validation with kube-openapi's rules and messages, mapped to field errors as
//! apiextensions-apiserver's `kubeOpenAPIResultToFieldErrors` maps them.

use serde_json::Value;

use super::field::{BadValue, FieldError, FieldPath, go_float, go_quote};
use super::formats;
use super::schema::{Additional, Schema};

/// Validates `v` (at kube-openapi path `path`, `""` for the root) against `s`, appending field errors.
/// `old` is the correlated value of the object being updated: an unchanged value is not re-validated
/// (CRD validation ratcheting, on by default since Kubernetes 1.30).
pub(crate) fn validate(
    v: &Value,
    old: Option<&Value>,
    s: &Schema,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if old.is_some_and(|o| json_equal(o, v)) {
        return;
    }
    if v.is_null() {
        type_check(v, s, path, out);
        enum_check(v, s, path, out);
        return;
    }
    type_check(v, s, path, out);
    composition_check(v, old, s, path, out);
    if let Value::String(st) = v {
        string_check(st, s, path, out);
        format_check(st, s, path, out);
    }
    if v.is_number() {
        number_check(v, s, path, out);
    }
    if let Value::Array(items) = v {
        slice_check(items, old, s, path, out);
    }
    enum_check(v, s, path, out);
    if let Value::Object(_) = v {
        object_check(v, old, s, path, out);
    }
}

/// The field path kube-apiserver reports for an openapi error named `name`.
fn err_path(name: &str) -> FieldPath {
    if name.is_empty() || name == "." {
        FieldPath::root()
    } else {
        FieldPath::root().child(name.trim_start_matches('.'))
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn schema_types(s: &Schema) -> Vec<&str> {
    if s.int_or_string {
        vec!["integer", "string"]
    } else {
        s.type_.as_deref().into_iter().collect()
    }
}

/// kube-openapi's type name and format of a JSON value.
fn value_type(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.is_i64() || n.is_u64() => ("integer", "int64"),
        Value::Number(_) => ("number", "double"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

fn type_fail(path: &str, type_name: &str, value_type: &str) -> FieldError {
    FieldError::type_invalid(
        &err_path(path),
        BadValue::Str(value_type.to_string()),
        format!(
            "{path} in body must be of type {type_name}: {}",
            go_quote(value_type)
        ),
    )
}

fn type_check(v: &Value, s: &Schema, path: &str, out: &mut Vec<FieldError>) {
    let types = schema_types(s);
    let format = s.format.as_ref().and(s.raw_format.as_deref()).unwrap_or("");
    if types.is_empty() && format.is_empty() {
        return;
    }
    if v.is_null() {
        if !types.is_empty() && !types.contains(&"null") && !s.nullable {
            out.push(type_fail(path, &types.join(","), "null"));
        }
        return;
    }
    let (sch_type, data_format) = value_type(v);
    let is_float_int = sch_type == "number"
        && v.as_f64()
            .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15)
        && types.contains(&"integer");
    let is_int_float = sch_type == "integer" && types.contains(&"number");
    let is_string_or_slice = v.is_string() || v.is_array();
    let type_or_format_matches =
        types.contains(&sch_type) || data_format == format || is_float_int || is_int_float;
    if !(is_string_or_slice || format.is_empty() || type_or_format_matches) {
        out.push(type_fail(path, format, data_format));
        return;
    }
    let numeric = types.contains(&"number") || types.contains(&"integer");
    if !(numeric || format.is_empty()) && is_string_or_slice {
        return;
    }
    if types.is_empty() {
        return;
    }
    if !(types.contains(&sch_type) || is_float_int || is_int_float) {
        out.push(type_fail(path, &types.join(","), sch_type));
    }
}

fn composition_check(
    v: &Value,
    old: Option<&Value>,
    s: &Schema,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let run = |sub: &Schema| {
        let mut errs = Vec::new();
        validate(v, old, sub, path, &mut errs);
        errs
    };
    if !s.any_of.is_empty() {
        let results: Vec<Vec<FieldError>> = s.any_of.iter().map(run).collect();
        if results.iter().all(|r| !r.is_empty()) {
            out.push(composite(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(path)
            )));
            if let Some(first) = results.into_iter().next() {
                out.extend(first);
            }
        }
    }
    if !s.one_of.is_empty() {
        let results: Vec<Vec<FieldError>> = s.one_of.iter().map(run).collect();
        let valid = results.iter().filter(|r| r.is_empty()).count();
        if valid != 1 {
            let extra = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            out.push(composite(format!(
                "{} must validate one and only one schema (oneOf). {extra}",
                go_quote(path)
            )));
            if valid == 0
                && let Some(first) = results.into_iter().next()
            {
                out.extend(first);
            }
        }
    }
    if !s.all_of.is_empty() {
        let mut validated = 0;
        for sub in &s.all_of {
            let errs = run(sub);
            if errs.is_empty() {
                validated += 1;
            }
            out.extend(errs);
        }
        if validated != s.all_of.len() {
            let extra = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            out.push(composite(format!(
                "{} must validate all the schemas (allOf){extra}",
                go_quote(path)
            )));
        }
    }
    if let Some(not) = &s.not
        && run(not).is_empty()
    {
        out.push(composite(format!(
            "{} must not validate the schema (not)",
            go_quote(path)
        )));
    }
}

/// A non-`Validation` kube-openapi error: reported on the nil path with an empty value.
fn composite(message: String) -> FieldError {
    FieldError::invalid(&FieldPath::root(), BadValue::Str(String::new()), message)
}

fn string_check(st: &str, s: &Schema, path: &str, out: &mut Vec<FieldError>) {
    let len = st.chars().count() as i64;
    if let Some(max) = s.max_length
        && len > max
    {
        out.push(FieldError::too_long(&err_path(path), max));
        return;
    }
    if let Some(min) = s.min_length
        && len < min
    {
        out.push(FieldError::invalid(
            &err_path(path),
            BadValue::Str(st.to_string()),
            format!("{path} in body should be at least {min} chars long"),
        ));
        return;
    }
    if let Some((src, re)) = &s.pattern
        && !re.is_match(st)
    {
        out.push(FieldError::invalid(
            &err_path(path),
            BadValue::Str(st.to_string()),
            format!("{path} in body should match '{src}'"),
        ));
    }
}

fn format_check(st: &str, s: &Schema, path: &str, out: &mut Vec<FieldError>) {
    if let (Some(norm), Some(raw)) = (&s.format, &s.raw_format)
        && !formats::is_valid(norm, st)
    {
        out.push(FieldError::type_invalid(
            &err_path(path),
            BadValue::Str(st.to_string()),
            format!("{path} in body must be of type {raw}: {}", go_quote(st)),
        ));
    }
}

fn number_check(v: &Value, s: &Schema, path: &str, out: &mut Vec<FieldError>) {
    let int = v.as_i64();
    let f = v.as_f64().unwrap_or(f64::NAN);
    let bad = BadValue::of(v);
    // Bounds print as the data's Go type: int64 for integers, float64 otherwise.
    let bound = |b: f64| match int {
        Some(_) => (b as i64).to_string(),
        None => go_float(b),
    };
    if let Some(m) = s.multiple_of {
        let ok = match int {
            Some(i) if m.fract() == 0.0 && m != 0.0 => i % (m as i64) == 0,
            _ => {
                let q = f / m;
                (q - q.round()).abs() < 1e-9
            }
        };
        if !ok {
            out.push(FieldError::invalid(
                &err_path(path),
                bad.clone(),
                format!("{path} in body should be a multiple of {}", bound(m)),
            ));
        }
    }
    if let Some(min) = s.minimum {
        let below = match int {
            Some(i) => {
                let m = min as i64;
                if s.exclusive_minimum { i <= m } else { i < m }
            }
            None => {
                if s.exclusive_minimum {
                    f <= min
                } else {
                    f < min
                }
            }
        };
        if below {
            let rel = if s.exclusive_minimum {
                "greater than"
            } else {
                "greater than or equal to"
            };
            out.push(FieldError::invalid(
                &err_path(path),
                bad.clone(),
                format!("{path} in body should be {rel} {}", bound(min)),
            ));
        }
    }
    if let Some(max) = s.maximum {
        let above = match int {
            Some(i) => {
                let m = max as i64;
                if s.exclusive_maximum { i >= m } else { i > m }
            }
            None => {
                if s.exclusive_maximum {
                    f >= max
                } else {
                    f > max
                }
            }
        };
        if above {
            let rel = if s.exclusive_maximum {
                "less than"
            } else {
                "less than or equal to"
            };
            out.push(FieldError::invalid(
                &err_path(path),
                bad,
                format!("{path} in body should be {rel} {}", bound(max)),
            ));
        }
    }
}

fn slice_check(
    items: &[Value],
    old: Option<&Value>,
    s: &Schema,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if let Some(is) = s.items.as_deref() {
        for (i, item) in items.iter().enumerate() {
            let old_item = match s.list_type.as_deref() {
                Some("map") => super::cel::correlate_item(item, old, s),
                Some("set") => old
                    .and_then(Value::as_array)
                    .and_then(|o| o.iter().find(|x| json_equal(x, item))),
                _ => None,
            };
            validate(item, old_item, is, &format!("{path}[{i}]"), out);
        }
    }
    let size = items.len() as i64;
    if let Some(min) = s.min_items
        && size < min
    {
        out.push(FieldError::invalid(
            &err_path(path),
            BadValue::Int(size),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = s.max_items
        && size > max
    {
        out.push(FieldError::too_many(&err_path(path), size, max));
    }
    if s.unique_items {
        let dup = items
            .iter()
            .enumerate()
            .any(|(i, a)| items[..i].iter().any(|b| json_equal(a, b)));
        if dup {
            out.push(FieldError::invalid(
                &err_path(path),
                BadValue::Str(String::new()),
                format!("{path} in body shouldn't contain duplicates"),
            ));
        }
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| json_equal(p, q)))
        }
        _ => a == b,
    }
}

fn enum_check(v: &Value, s: &Schema, path: &str, out: &mut Vec<FieldError>) {
    let Some(values) = &s.enum_ else {
        return;
    };
    if values.is_empty() {
        return;
    }
    if !v.is_null() && values.iter().any(|e| !e.is_null() && json_equal(e, v)) {
        return;
    }
    let allowed: Vec<String> = values
        .iter()
        .map(|e| match e {
            Value::String(st) => st.clone(),
            other => other.to_string(),
        })
        .collect();
    out.push(FieldError::not_supported(
        &err_path(path),
        BadValue::of(v),
        &allowed,
    ));
}

fn object_check(v: &Value, old: Option<&Value>, s: &Schema, path: &str, out: &mut Vec<FieldError>) {
    let Value::Object(map) = v else {
        return;
    };
    let n = map.len() as i64;
    if let Some(min) = s.min_properties
        && n < min
    {
        out.push(FieldError::invalid(
            &err_path(path),
            BadValue::Int(n),
            format!("{path} in body should have at least {min} properties"),
        ));
    }
    if let Some(max) = s.max_properties
        && n > max
    {
        out.push(FieldError::too_many(&err_path(path), n, max));
    }
    if let Some(Additional::Schema(a)) = &s.additional {
        for (k, child) in map {
            if !s.properties.contains_key(k) {
                validate(
                    child,
                    old.and_then(|o| o.get(k)),
                    a,
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
    }
    for (name, ps) in &s.properties {
        if let Some(child) = map.get(name) {
            validate(
                child,
                old.and_then(|o| o.get(name)),
                ps,
                &join(path, name),
                out,
            );
        }
    }
    for req in &s.required {
        if !map.contains_key(req) {
            out.push(FieldError::required(
                &err_path(&format!("{path}.{req}")),
                "",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(schema: Value, v: Value) -> Vec<String> {
        let s = Schema::parse(&schema, "").expect("schema parses");
        let mut out = Vec::new();
        validate(&v, None, &s, "", &mut out);
        out.iter()
            .map(|e| format!("{}: {}", e.field, e.body()))
            .collect()
    }

    fn spec(props: Value) -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props, "required": ["seats"]}}})
    }

    #[test]
    fn kube_messages() {
        let s = spec(json!({
            "seats": {"type": "integer", "minimum": 1, "maximum": 1000},
            "plan": {"type": "string", "enum": ["starter", "business", "enterprise"]},
            "name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "minLength": 1}},
            "email": {"type": "string", "format": "email"},
            "ratio": {"type": "number", "exclusiveMaximum": true, "maximum": 1.5},
            "port": {"x-kubernetes-int-or-string": true}
        }));
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": 0}})),
            [
                "spec.seats: Invalid value: 0: spec.seats in body should be greater than or equal to 1"
            ]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": 1001}})),
            [
                "spec.seats: Invalid value: 1001: spec.seats in body should be less than or equal to 1000"
            ]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": 2, "plan": "gold"}})),
            [
                "spec.plan: Unsupported value: \"gold\": supported values: \"starter\", \"business\", \"enterprise\""
            ]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {}})),
            ["spec.seats: Required value"]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": 1, "name": "abcd"}})),
            ["spec.name: Too long: may not be more than 3 bytes"]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": 1, "name": "AB"}})),
            ["spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"]
        );
        assert_eq!(
            errors(
                s.clone(),
                json!({"spec": {"seats": 1, "tags": ["a", "", "c"]}})
            ),
            [
                "spec.tags[1]: Invalid value: \"\": spec.tags[1] in body should be at least 1 chars long",
                "spec.tags: Too many: 3: must have at most 2 items"
            ]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": "25"}})),
            [
                "spec.seats: Invalid value: \"string\": spec.seats in body must be of type integer: \"string\""
            ]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": 1, "email": "nope"}})),
            [
                "spec.email: Invalid value: \"nope\": spec.email in body must be of type email: \"nope\""
            ]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": 1, "ratio": 1.5}})),
            ["spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than 1.5"]
        );
        assert_eq!(
            errors(s.clone(), json!({"spec": {"seats": 1, "port": true}})),
            [
                "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\""
            ]
        );
        assert!(errors(s.clone(), json!({"spec": {"seats": 1, "port": "http"}})).is_empty());
        assert!(errors(s, json!({"spec": {"seats": 2.0}})).is_empty());
    }

    #[test]
    fn nulls_and_maps() {
        let s = json!({"type": "object", "properties": {
            "m": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            "n": {"type": "string", "nullable": true},
            "o": {"type": "string"}
        }});
        assert_eq!(
            errors(s.clone(), json!({"m": {"a": -1}, "n": null, "o": null})),
            [
                "m.a: Invalid value: -1: m.a in body should be greater than or equal to 0",
                "o: Invalid value: \"null\": o in body must be of type string: \"null\""
            ]
        );
    }
}
