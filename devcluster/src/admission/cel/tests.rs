//! Unit tests of CEL rule evaluation.

use serde_json::{Value, json};

use super::*;

fn run(schema: Value, obj: Value, old: Option<Value>) -> Vec<String> {
    let s = Schema::parse(&schema, "").expect("schema parses");
    let mut out = Vec::new();
    validate(&obj, old.as_ref(), &s, &FieldPath::root(), true, &mut out);
    out.iter()
        .map(|e| format!("{}: {}", e.field, e.body()))
        .collect()
}

#[test]
fn root_rule_sees_metadata_name() {
    let schema = json!({"type": "object", "x-kubernetes-validations": [
        {"rule": "self.metadata.name.size() <= 40", "message": "name must be at most 40 characters"},
        {"rule": "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')"}
    ]});
    let obj = json!({"metadata": {"name": "Acme", "labels": {"a": "b"}}});
    assert_eq!(
        run(schema, obj, None),
        [
            "<nil>: Invalid value: \"object\": failed rule: self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')"
        ]
    );
}

#[test]
fn transition_rules_need_an_old_value() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "domain": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "domain is immutable"}
        ]}
    }}}});
    let new = json!({"spec": {"domain": "b.test"}});
    assert!(run(schema.clone(), new.clone(), None).is_empty());
    assert!(run(schema.clone(), new.clone(), Some(json!({"spec": {}}))).is_empty());
    assert_eq!(
        run(
            schema.clone(),
            new.clone(),
            Some(json!({"spec": {"domain": "a.test"}}))
        ),
        ["spec.domain: Invalid value: \"string\": domain is immutable"]
    );
    assert!(run(schema, new.clone(), Some(new)).is_empty());
}

#[test]
fn optional_old_self() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [{"rule": "!oldSelf.hasValue() || self.a >= oldSelf.value().a",
            "optionalOldSelf": true, "message": "a may not decrease", "fieldPath": ".a"}],
        "properties": {"a": {"type": "integer"}}}}});
    assert!(run(schema.clone(), json!({"spec": {"a": 1}}), None).is_empty());
    assert_eq!(
        run(
            schema,
            json!({"spec": {"a": 1}}),
            Some(json!({"spec": {"a": 2}}))
        ),
        ["spec.a: Invalid value: \"object\": a may not decrease"]
    );
}

#[test]
fn quantity_library() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [
            {"rule": "!has(self.mailboxQuota) || quantity(self.mailboxQuota).compareTo(quantity(self.storageQuota)) <= 0",
             "message": "mailboxQuota may not exceed storageQuota"},
            {"rule": "isQuantity(self.storageQuota)", "message": "storageQuota must be a quantity"},
            {"rule": "quantity(self.storageQuota).isGreaterThan(quantity('0')) && quantity('1Gi') == quantity('1024Mi')"},
            {"rule": "quantity('2k').asInteger() == 2000 && quantity('1Gi').isLessThan(quantity('1Ti')) && quantity('1').add(1).sign() == 1"}
        ],
        "properties": {"storageQuota": {"type": "string"}, "mailboxQuota": {"type": "string"}}}}});
    assert!(
        run(
            schema.clone(),
            json!({"spec": {"storageQuota": "100Gi", "mailboxQuota": "5Gi"}}),
            None
        )
        .is_empty()
    );
    assert_eq!(
        run(
            schema.clone(),
            json!({"spec": {"storageQuota": "1Gi", "mailboxQuota": "5Gi"}}),
            None
        ),
        ["spec: Invalid value: \"object\": mailboxQuota may not exceed storageQuota"]
    );
    let errs = run(schema, json!({"spec": {"storageQuota": "lots"}}), None);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(
        errs[0],
        "spec: Invalid value: \"object\": storageQuota must be a quantity"
    );
    assert!(errs[1].contains("evaluating rule"), "{errs:?}");
}

#[test]
fn lists_maps_and_strings() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "uris": {"type": "array", "items": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self.startsWith('https://')", "message": "must be https"}]}},
        "scopes": {"type": "array", "items": {"type": "string"},
            "x-kubernetes-validations": [{"rule": "self.exists(s, s == 'openid') && self.all(s, s.lowerAscii() == s)",
                "messageExpression": "'scopes must include openid, got ' + string(size(self))"}]},
        "labels": {"type": "object", "additionalProperties": {"type": "string",
            "x-kubernetes-validations": [{"rule": "size(self) > 0", "reason": "FieldValueRequired", "message": "empty"}]}},
        "my-field": {"type": "string"}
    }, "x-kubernetes-validations": [{"rule": "!has(self.my__dash__field) || self.my__dash__field == 'x'"}]}}});
    let obj = json!({"spec": {"uris": ["https://a", "http://b"], "scopes": ["email"], "labels": {"k": ""}, "my-field": "y"}});
    assert_eq!(
        run(schema, obj, None),
        [
            "spec: Invalid value: \"object\": failed rule: !has(self.my__dash__field) || self.my__dash__field == 'x'",
            "spec.labels[k]: Required value: empty",
            "spec.scopes: Invalid value: \"array\": scopes must include openid, got 1",
            "spec.uris[1]: Invalid value: \"string\": must be https",
        ]
    );
}

#[test]
fn format_library_and_durations() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "slug": {"type": "string", "x-kubernetes-validations": [
            {"rule": "!format.dns1123Label().validate(self).hasValue()", "message": "must be a DNS label"}]},
        "retention": {"type": "string", "x-kubernetes-validations": [
            {"rule": "duration(self) >= duration('1h')", "message": "at least an hour"}]}
    }}}});
    assert!(
        run(
            schema.clone(),
            json!({"spec": {"slug": "acme", "retention": "168h"}}),
            None
        )
        .is_empty()
    );
    assert_eq!(
        run(
            schema,
            json!({"spec": {"slug": "Acme", "retention": "30m"}}),
            None
        ),
        [
            "spec.retention: Invalid value: \"string\": at least an hour",
            "spec.slug: Invalid value: \"string\": must be a DNS label",
        ]
    );
}

#[test]
fn map_lists_correlate_by_key_for_old_self() {
    let schema = json!({"type": "object", "properties": {"items": {"type": "array",
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer",
            "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "may not decrease"}]}}}}}});
    let old = json!({"items": [{"name": "a", "v": 5}, {"name": "b", "v": 1}]});
    let new =
        json!({"items": [{"name": "b", "v": 2}, {"name": "a", "v": 4}, {"name": "c", "v": 0}]});
    assert_eq!(
        run(schema, new, Some(old)),
        ["items[1].v: Invalid value: \"integer\": may not decrease"]
    );
}

#[test]
fn escaping() {
    assert_eq!(escape("my-field").as_deref(), Some("my__dash__field"));
    assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
    assert_eq!(escape("a.b/c").as_deref(), Some("a__dot__b__slash__c"));
    assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
    assert_eq!(escape("9lives"), None);
}
