//! The structural schema of one CRD version, parsed once from its `openAPIV3Schema` JSON.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use super::SchemaError;
use super::cel::CompiledRule;

/// `additionalProperties`: a schema for map values, or a boolean.
#[derive(Debug)]
pub(crate) enum Additional {
    Allows(bool),
    Schema(Box<Schema>),
}

/// One node of a structural schema, with what validation, defaulting, pruning and CEL need.
#[derive(Debug, Default)]
pub(crate) struct Schema {
    pub(crate) type_: Option<String>,
    pub(crate) int_or_string: bool,
    pub(crate) nullable: bool,
    /// The format, kept only when Kubernetes validates it (normalized without dashes).
    pub(crate) format: Option<String>,
    /// The format as written (CEL typing uses it).
    pub(crate) raw_format: Option<String>,
    pub(crate) maximum: Option<f64>,
    pub(crate) exclusive_maximum: bool,
    pub(crate) minimum: Option<f64>,
    pub(crate) exclusive_minimum: bool,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) max_length: Option<i64>,
    pub(crate) min_length: Option<i64>,
    pub(crate) pattern: Option<(String, Regex)>,
    pub(crate) max_items: Option<i64>,
    pub(crate) min_items: Option<i64>,
    pub(crate) unique_items: bool,
    pub(crate) max_properties: Option<i64>,
    pub(crate) min_properties: Option<i64>,
    pub(crate) required: Vec<String>,
    pub(crate) enum_: Option<Vec<Value>>,
    pub(crate) default: Option<Value>,
    pub(crate) properties: BTreeMap<String, Schema>,
    pub(crate) additional: Option<Additional>,
    pub(crate) items: Option<Box<Schema>>,
    pub(crate) all_of: Vec<Schema>,
    pub(crate) any_of: Vec<Schema>,
    pub(crate) one_of: Vec<Schema>,
    pub(crate) not: Option<Box<Schema>>,
    pub(crate) preserve_unknown: bool,
    pub(crate) embedded_resource: bool,
    pub(crate) list_type: Option<String>,
    pub(crate) list_map_keys: Vec<String>,
    pub(crate) map_type: Option<String>,
    pub(crate) rules: Vec<CompiledRule>,
}

/// Formats kube-apiserver validates (`apiextensions-apiserver/pkg/apiserver/validation/formats.go`).
const SUPPORTED_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

impl Schema {
    /// Parses a schema node; `path` names it in errors (JSON-pointer-like).
    pub(crate) fn parse(v: &Value, path: &str) -> Result<Schema, SchemaError> {
        Self::parse_node(v, path, true)
    }

    fn parse_node(v: &Value, path: &str, with_rules: bool) -> Result<Schema, SchemaError> {
        let obj = v.as_object().ok_or_else(|| SchemaError::Invalid {
            path: path.to_string(),
            message: "a schema must be an object".into(),
        })?;
        let mut s = Schema::default();
        let str_of = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        let int_of = |k: &str| -> Result<Option<i64>, SchemaError> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x.as_i64().map(Some).ok_or_else(|| SchemaError::Invalid {
                    path: format!("{path}/{k}"),
                    message: "must be an integer".into(),
                }),
            }
        };
        let float_of = |k: &str| obj.get(k).and_then(Value::as_f64);
        let bool_of = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);

        s.type_ = str_of("type").filter(|t| !t.is_empty());
        s.int_or_string = bool_of("x-kubernetes-int-or-string");
        s.nullable = bool_of("nullable");
        s.raw_format = str_of("format").filter(|f| !f.is_empty());
        s.format = s
            .raw_format
            .as_ref()
            .map(|f| f.replace('-', ""))
            .filter(|f| SUPPORTED_FORMATS.contains(&f.as_str()));
        s.maximum = float_of("maximum");
        s.exclusive_maximum = bool_of("exclusiveMaximum");
        s.minimum = float_of("minimum");
        s.exclusive_minimum = bool_of("exclusiveMinimum");
        s.multiple_of = float_of("multipleOf");
        s.max_length = int_of("maxLength")?;
        s.min_length = int_of("minLength")?;
        if let Some(p) = str_of("pattern") {
            let re = Regex::new(&p).map_err(|source| SchemaError::Pattern {
                path: format!("{path}/pattern"),
                source,
            })?;
            s.pattern = Some((p, re));
        }
        s.max_items = int_of("maxItems")?;
        s.min_items = int_of("minItems")?;
        s.unique_items = bool_of("uniqueItems");
        s.max_properties = int_of("maxProperties")?;
        s.min_properties = int_of("minProperties")?;
        if let Some(req) = obj.get("required").and_then(Value::as_array) {
            s.required = req
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        s.enum_ = obj.get("enum").and_then(Value::as_array).cloned();
        s.default = obj.get("default").cloned();
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                s.properties.insert(
                    k.clone(),
                    Self::parse_node(p, &format!("{path}/properties/{k}"), with_rules)?,
                );
            }
        }
        match obj.get("additionalProperties") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => s.additional = Some(Additional::Allows(*b)),
            Some(a) => {
                s.additional = Some(Additional::Schema(Box::new(Self::parse_node(
                    a,
                    &format!("{path}/additionalProperties"),
                    with_rules,
                )?)))
            }
        }
        match obj.get("items") {
            None | Some(Value::Null) => {}
            Some(Value::Array(_)) => {
                return Err(SchemaError::Invalid {
                    path: format!("{path}/items"),
                    message: "items must be a schema, not a list (structural schemas)".into(),
                });
            }
            Some(i) => {
                s.items = Some(Box::new(Self::parse_node(
                    i,
                    &format!("{path}/items"),
                    with_rules,
                )?));
            }
        }
        for (key, dest) in [
            ("allOf", &mut s.all_of),
            ("anyOf", &mut s.any_of),
            ("oneOf", &mut s.one_of),
        ] {
            if let Some(list) = obj.get(key).and_then(Value::as_array) {
                for (i, sub) in list.iter().enumerate() {
                    // CEL rules inside allOf/anyOf/oneOf are not evaluated by kube-apiserver either
                    // (only allOf, which we treat like the node itself below).
                    dest.push(Self::parse_node(sub, &format!("{path}/{key}/{i}"), false)?);
                }
            }
        }
        if let Some(n) = obj.get("not").filter(|n| !n.is_null()) {
            s.not = Some(Box::new(Self::parse_node(
                n,
                &format!("{path}/not"),
                false,
            )?));
        }
        s.preserve_unknown = bool_of("x-kubernetes-preserve-unknown-fields");
        s.embedded_resource = bool_of("x-kubernetes-embedded-resource");
        s.list_type = str_of("x-kubernetes-list-type");
        if let Some(keys) = obj
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
        {
            s.list_map_keys = keys
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        s.map_type = str_of("x-kubernetes-map-type");
        if s.list_type.as_deref() == Some("map") && s.list_map_keys.is_empty() {
            return Err(SchemaError::Invalid {
                path: path.to_string(),
                message: "x-kubernetes-list-type map requires x-kubernetes-list-map-keys".into(),
            });
        }
        if with_rules
            && let Some(rules) = obj
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
        {
            for (i, r) in rules.iter().enumerate() {
                s.rules.push(CompiledRule::compile(
                    r,
                    &format!("{path}/x-kubernetes-validations/{i}"),
                )?);
            }
            super::cel::normalize_field_paths(&mut s, path)?;
        }
        Ok(s)
    }

    /// The schema of property `k`, or of map values when `k` is not a declared property.
    pub(crate) fn child(&self, k: &str) -> Option<&Schema> {
        self.properties.get(k).or(match &self.additional {
            Some(Additional::Schema(s)) => Some(s),
            _ => None,
        })
    }

    /// The type name CEL errors use as the bad value (`sts.Type`).
    pub(crate) fn type_name(&self) -> &str {
        self.type_.as_deref().unwrap_or("")
    }

    /// Whether any node below has CEL rules (apiextensions builds no CEL validator otherwise).
    pub(crate) fn has_rules(&self) -> bool {
        !self.rules.is_empty()
            || self.properties.values().any(Schema::has_rules)
            || self.items.as_deref().is_some_and(Schema::has_rules)
            || matches!(&self.additional, Some(Additional::Schema(s)) if s.has_rules())
    }
}
