//! Admission of custom resources: validation against a CRD's OpenAPI v3 schema and CEL rules, defaulting and pruning.
//!
//! Faithful to kube-apiserver 1.32 (apiextensions-apiserver, kube-openapi, apimachinery): the same pipeline
//! (prune, default, then metadata, schema, embedded-resource, list-type and CEL checks, CEL skipped after a
//! blocking error), the same field paths and the same message texts, so refusals read exactly as a real
//! cluster's. Updates ratchet: values unchanged from the old object are not re-validated.

mod cel;
mod cel_library;
mod field;
mod formats;
mod names;
mod openapi;
mod quantity;
mod schema;
mod status;
mod structural;
mod structure_checks;

use std::collections::BTreeMap;

use serde_json::Value;

use field::{ErrorType, FieldError, FieldPath};
use schema::Schema;

pub use status::{invalid_status, kubectl_message};

/// Why a CRD schema cannot be used for admission.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A schema node is malformed.
    #[error("invalid schema at {path}: {message}")]
    Invalid { path: String, message: String },
    /// A `pattern` is not a valid regular expression.
    #[error("invalid pattern at {path}: {source}")]
    Pattern {
        path: String,
        #[source]
        source: regex::Error,
    },
    /// A CEL rule (or its messageExpression) does not compile.
    #[error("CEL rule at {path} does not compile: {rule:?}: {message}")]
    Rule {
        path: String,
        rule: String,
        message: String,
    },
    /// A served version carries no `schema.openAPIV3Schema`.
    #[error("version {version} of the CustomResourceDefinition has no schema.openAPIV3Schema")]
    MissingSchema { version: String },
}

/// One field cause of a 422 Invalid `Status` (`details.causes[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, ...
    pub reason: String,
    /// The cause message, e.g. `Invalid value: 0: spec.seats in body should be greater than or equal to 1`.
    pub message: String,
    /// The field path, e.g. `spec.seats`, or `<nil>` for the object itself.
    pub field: String,
}

/// The admission of one CRD version, compiled once from its `openAPIV3Schema` (CEL programs included).
#[derive(Debug)]
pub struct Validator {
    schema: Schema,
    has_rules: bool,
    /// The scope when known (from the CRD): decides the `metadata.namespace` checks.
    namespaced: Option<bool>,
}

impl Validator {
    /// Compiles the validator of one version's `openAPIV3Schema`.
    pub fn new(schema: &Value) -> Result<Validator, SchemaError> {
        let schema = Schema::parse(schema, "openAPIV3Schema")?;
        let has_rules = schema.has_rules();
        Ok(Validator {
            schema,
            has_rules,
            namespaced: None,
        })
    }

    /// Applies defaults, prunes unknown fields (unless x-kubernetes-preserve-unknown-fields), then validates the
    /// schema and the CEL x-kubernetes-validations (transition rules with oldSelf only when `old` is Some and the
    /// field existed before, as Kubernetes does). `obj` is the whole object (apiVersion, kind, metadata, spec, status).
    pub fn admit(&self, obj: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldCause>> {
        self.normalize(obj);
        let errors = self.validate(obj, old);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.iter().map(FieldError::to_cause).collect())
        }
    }

    /// Pruning and defaulting alone, as kube-apiserver applies them when decoding a request (and on read).
    pub fn normalize(&self, obj: &mut Value) {
        structural::prune_non_nullable_nulls(obj, &self.schema);
        structural::prune(obj, Some(&self.schema), true);
        structural::apply_defaults(obj, &self.schema);
    }

    fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        structure_checks::validate_object_meta(obj, self.namespaced, &mut errs);
        openapi::validate(obj, old, &self.schema, "", &mut errs);
        structure_checks::validate_embedded(obj, &self.schema, &FieldPath::root(), &mut errs);
        let old_lists_valid = old.is_none_or(|o| {
            let mut old_errs = Vec::new();
            structure_checks::validate_list_types(
                o,
                &self.schema,
                &FieldPath::root(),
                &mut old_errs,
            );
            old_errs.is_empty()
        });
        if old_lists_valid {
            structure_checks::validate_list_types(obj, &self.schema, &FieldPath::root(), &mut errs);
        }
        if self.has_rules {
            let blocking = errs.iter().any(|e| {
                matches!(
                    e.kind,
                    ErrorType::NotSupported
                        | ErrorType::Required
                        | ErrorType::TooLong
                        | ErrorType::TooMany
                        | ErrorType::TypeInvalid
                )
            });
            if blocking {
                errs.push(FieldError::invalid(
                    &FieldPath::root(),
                    field::BadValue::Null,
                    "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
                ));
            } else {
                cel::validate(obj, old, &self.schema, &FieldPath::root(), true, &mut errs);
            }
        }
        errs
    }
}

/// Validators for every served version of a CRD object (apiextensions.k8s.io/v1 JSON), keyed by version name.
pub fn validators_for_crd(crd: &Value) -> Result<BTreeMap<String, Validator>, SchemaError> {
    let spec = crd.get("spec").unwrap_or(&Value::Null);
    let namespaced = spec.get("scope").and_then(Value::as_str) == Some("Namespaced");
    let mut out = BTreeMap::new();
    for version in spec
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if version.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let name = version
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let schema = version.pointer("/schema/openAPIV3Schema").ok_or_else(|| {
            SchemaError::MissingSchema {
                version: name.clone(),
            }
        })?;
        let mut v = Validator::new(schema)?;
        v.namespaced = Some(namespaced);
        out.insert(name, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
