//! Field errors as apimachinery's `field.Error` renders them: paths, error types and Go-formatted bad values.

use std::fmt;

use serde_json::Value;

/// A field path as `field.Path` prints it; `None` is the nil path that Go prints as `<nil>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(Option<String>);

impl FieldPath {
    /// The nil path (the root of the object in apiextensions' validators).
    pub(crate) fn root() -> FieldPath {
        FieldPath(None)
    }

    /// `path.Child(name)`.
    pub(crate) fn child(&self, name: &str) -> FieldPath {
        match &self.0 {
            None => FieldPath(Some(name.to_string())),
            Some(p) if p.is_empty() => FieldPath(Some(name.to_string())),
            Some(p) => FieldPath(Some(format!("{p}.{name}"))),
        }
    }

    /// `path.Index(i)`.
    pub(crate) fn index(&self, i: usize) -> FieldPath {
        FieldPath(Some(format!("{}[{i}]", self.0.as_deref().unwrap_or(""))))
    }

    /// `path.Key(k)`.
    pub(crate) fn key(&self, k: &str) -> FieldPath {
        FieldPath(Some(format!("{}[{k}]", self.0.as_deref().unwrap_or(""))))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("<nil>"),
            Some(p) => f.write_str(p),
        }
    }
}

/// `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorType {
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    TypeInvalid,
}

impl ErrorType {
    /// The `CauseType` string of the `Status` cause.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    fn text(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
        }
    }
}

/// The bad value of a field error, with the Go dynamic type that decides how it prints.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BadValue {
    /// `omitValue`: only the error type is printed.
    Omit,
    /// Go `nil`, printed `"null"`.
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A map or slice from unstructured content, printed with `%#v`.
    Json(Value),
}

impl BadValue {
    /// The bad value for a JSON value as unstructured content holds it.
    pub(crate) fn of(v: &Value) -> BadValue {
        match v {
            Value::Null => BadValue::Null,
            Value::Bool(b) => BadValue::Bool(*b),
            Value::String(s) => BadValue::Str(s.clone()),
            Value::Number(n) => match n.as_i64() {
                Some(i) => BadValue::Int(i),
                None => BadValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            other => BadValue::Json(other.clone()),
        }
    }
}

/// One `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldError {
    pub(crate) kind: ErrorType,
    pub(crate) field: FieldPath,
    pub(crate) bad_value: BadValue,
    pub(crate) detail: String,
}

impl FieldError {
    pub(crate) fn invalid(field: &FieldPath, value: BadValue, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, value, detail)
    }

    pub(crate) fn type_invalid(
        field: &FieldPath,
        value: BadValue,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(ErrorType::TypeInvalid, field, value, detail)
    }

    pub(crate) fn required(field: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Required,
            field,
            BadValue::Str(String::new()),
            detail,
        )
    }

    pub(crate) fn forbidden(field: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Forbidden,
            field,
            BadValue::Str(String::new()),
            detail,
        )
    }

    pub(crate) fn duplicate(field: &FieldPath, value: BadValue) -> Self {
        Self::new(ErrorType::Duplicate, field, value, "")
    }

    /// `field.NotSupported`: `supported values: "a", "b"`.
    pub(crate) fn not_supported(field: &FieldPath, value: BadValue, valid: &[String]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, field, value, detail)
    }

    /// `field.TooLong` (Kubernetes 1.32 wording).
    pub(crate) fn too_long(field: &FieldPath, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("may not be more than {max} bytes")
        } else {
            "value is too long".to_string()
        };
        Self::new(
            ErrorType::TooLong,
            field,
            BadValue::Str("<value omitted>".into()),
            detail,
        )
    }

    /// `field.TooMany`.
    pub(crate) fn too_many(field: &FieldPath, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            let items = if max == 1 { "item" } else { "items" };
            format!("must have at most {max} {items}")
        } else {
            "has too many items".to_string()
        };
        let value = if actual >= 0 {
            BadValue::Int(actual)
        } else {
            BadValue::Omit
        };
        Self::new(ErrorType::TooMany, field, value, detail)
    }

    fn new(
        kind: ErrorType,
        field: &FieldPath,
        bad_value: BadValue,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.clone(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// `ErrorBody()`: the message without the field.
    pub(crate) fn body(&self) -> String {
        let mut s = match (self.kind, &self.bad_value) {
            (ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong, _)
            | (_, BadValue::Omit) => self.kind.text().to_string(),
            (_, v) => format!("{}: {}", self.kind.text(), render_bad_value(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The public cause shape.
    pub(crate) fn to_cause(&self) -> crate::admission::FieldCause {
        crate::admission::FieldCause {
            reason: self.kind.reason().to_string(),
            message: self.body(),
            field: self.field.to_string(),
        }
    }
}

fn render_bad_value(v: &BadValue) -> String {
    match v {
        BadValue::Omit => String::new(),
        BadValue::Null => go_quote("null"),
        BadValue::Str(s) => go_quote(s),
        BadValue::Int(i) => i.to_string(),
        BadValue::Float(f) => go_float(*f),
        BadValue::Bool(b) => b.to_string(),
        BadValue::Json(v) => go_sharp_v(v),
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`).
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest round-trip digits and the decimal exponent.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Go's `%#v` of unstructured content (`map[string]interface {}{...}`, `[]interface {}{...}`).
pub(crate) fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => go_quote(s),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", parts.join(", "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", go_quote(k), go_sharp_v(&map[*k])))
                .collect();
            format!("map[string]interface {{}}{{{}}}", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_field_path() {
        let root = FieldPath::root();
        assert_eq!(root.to_string(), "<nil>");
        assert_eq!(root.child("spec").child("seats").to_string(), "spec.seats");
        assert_eq!(
            root.child("spec").child("a").index(2).key("k").to_string(),
            "spec.a[2][k]"
        );
    }

    #[test]
    fn bodies_match_apimachinery() {
        let p = FieldPath::root().child("spec").child("seats");
        let e = FieldError::invalid(
            &p,
            BadValue::Int(0),
            "spec.seats in body should be greater than or equal to 1",
        );
        assert_eq!(
            e.body(),
            "Invalid value: 0: spec.seats in body should be greater than or equal to 1"
        );
        let e = FieldError::not_supported(
            &p,
            BadValue::Str("gold".into()),
            &["starter".into(), "business".into()],
        );
        assert_eq!(
            e.body(),
            "Unsupported value: \"gold\": supported values: \"starter\", \"business\""
        );
        assert_eq!(FieldError::required(&p, "").body(), "Required value");
        assert_eq!(
            FieldError::too_long(&p, 63).body(),
            "Too long: may not be more than 63 bytes"
        );
        assert_eq!(
            FieldError::too_many(&p, 3, 2).body(),
            "Too many: 3: must have at most 2 items"
        );
        assert_eq!(
            FieldError::too_many(&p, 3, 1).body(),
            "Too many: 3: must have at most 1 item"
        );
        assert_eq!(
            FieldError::invalid(&p, BadValue::Null, "x").body(),
            "Invalid value: \"null\": x"
        );
    }

    #[test]
    fn go_formatting() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
        let v = serde_json::json!({"type": "Ready", "n": 1});
        assert_eq!(
            go_sharp_v(&v),
            "map[string]interface {}{\"n\":1, \"type\":\"Ready\"}"
        );
    }
}
