//! Admission of custom resources: validation against a CRD's OpenAPI v3 schema and CEL rules, defaulting and pruning.
