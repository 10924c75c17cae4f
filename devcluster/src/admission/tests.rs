//! End-to-end tests of `Validator::admit` on a hand-written CRD: pruning, defaulting, validation and refusals.

use serde_json::{Value, json};

use super::*;

fn tenant_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "tenants.dezky.io"},
        "spec": {
            "group": "dezky.io",
            "scope": "Cluster",
            "names": {"kind": "Tenant", "plural": "tenants"},
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-validations": [
                        {"rule": "self.metadata.name.size() <= 40", "message": "a tenant name is at most 40 characters"}
                    ],
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["plan", "seats"],
                            "x-kubernetes-validations": [
                                {"rule": "!has(self.mailboxQuota) || quantity(self.mailboxQuota).compareTo(quantity(self.storageQuota)) <= 0",
                                 "message": "mailboxQuota may not be larger than storageQuota", "fieldPath": ".mailboxQuota"}
                            ],
                            "properties": {
                                "plan": {"type": "string", "enum": ["starter", "business", "enterprise"]},
                                "seats": {"type": "integer", "format": "int32", "minimum": 1},
                                "storageQuota": {"type": "string", "default": "10Gi", "maxLength": 32,
                                    "x-kubernetes-validations": [{"rule": "isQuantity(self)", "message": "must be a quantity such as 100Gi"}]},
                                "mailboxQuota": {"type": "string", "maxLength": 32},
                                "deletionPolicy": {"type": "string", "enum": ["Delete", "Orphan"], "default": "Orphan"},
                                "billing": {"type": "object", "properties": {
                                    "email": {"type": "string", "format": "email", "maxLength": 254}
                                }},
                                "domain": {"type": "string", "maxLength": 253,
                                    "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "domain is immutable"}]}
                            }
                        },
                        "status": {"type": "object", "properties": {
                            "conditions": {"type": "array", "maxItems": 8,
                                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                                "items": {"type": "object", "required": ["type", "status"], "properties": {
                                    "type": {"type": "string"}, "status": {"type": "string", "enum": ["True", "False", "Unknown"]}
                                }}}
                        }}
                    }
                }}
            }, {"name": "v0", "served": false, "storage": false}]
        }
    })
}

fn validator() -> Validator {
    let mut vs = validators_for_crd(&tenant_crd()).expect("the CRD compiles");
    assert_eq!(vs.keys().collect::<Vec<_>>(), ["v1alpha1"]);
    vs.remove("v1alpha1").expect("v1alpha1 is served")
}

fn tenant(spec: Value) -> Value {
    json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"}, "spec": spec})
}

fn refusal(obj: Value, old: Option<Value>) -> String {
    let mut obj = obj;
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let causes = validator()
        .admit(&mut obj, old.as_ref())
        .expect_err("the object must be refused");
    kubectl_message(&invalid_status("dezky.io", "Tenant", &name, &causes))
}

#[test]
fn admits_prunes_and_defaults() {
    let mut obj = tenant(json!({"plan": "business", "seats": 25, "unknown": 1}));
    obj["metadata"]["bogus"] = json!(true);
    obj["extra"] = json!("x");
    validator()
        .admit(&mut obj, None)
        .expect("a valid tenant is admitted");
    assert_eq!(
        obj,
        json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"},
               "spec": {"plan": "business", "seats": 25, "storageQuota": "10Gi", "deletionPolicy": "Orphan"}})
    );
}

#[test]
fn refuses_with_kubectl_lines() {
    assert_eq!(
        refusal(tenant(json!({"plan": "business", "seats": 0})), None),
        "The Tenant \"acme\" is invalid: spec.seats: Invalid value: 0: spec.seats in body should be greater than or equal to 1"
    );
    assert_eq!(
        refusal(tenant(json!({"plan": "gold", "seats": 1})), None),
        "The Tenant \"acme\" is invalid: \n* spec.plan: Unsupported value: \"gold\": supported values: \"starter\", \"business\", \"enterprise\"\n* <nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
    );
    assert_eq!(
        refusal(
            tenant(
                json!({"plan": "business", "seats": 5, "storageQuota": "5Gi", "mailboxQuota": "10Gi"})
            ),
            None
        ),
        "The Tenant \"acme\" is invalid: spec.mailboxQuota: Invalid value: \"object\": mailboxQuota may not be larger than storageQuota"
    );
    assert_eq!(
        refusal(
            tenant(json!({"plan": "business", "seats": 5, "billing": {"email": "nobody"}})),
            None
        ),
        "The Tenant \"acme\" is invalid: \n* spec.billing.email: Invalid value: \"nobody\": spec.billing.email in body must be of type email: \"nobody\"\n* <nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
    );
    let long = "a".repeat(41);
    let mut obj = tenant(json!({"plan": "business", "seats": 5}));
    obj["metadata"]["name"] = json!(long);
    assert_eq!(
        refusal(obj, None),
        format!(
            "The Tenant \"{long}\" is invalid: <nil>: Invalid value: \"object\": a tenant name is at most 40 characters"
        )
    );
}

#[test]
fn transition_rules_and_ratcheting_on_update() {
    let old = tenant(json!({"plan": "business", "seats": 5, "domain": "acme.test"}));
    let new = tenant(json!({"plan": "business", "seats": 5, "domain": "other.test"}));
    assert_eq!(
        refusal(new, Some(old.clone())),
        "The Tenant \"acme\" is invalid: spec.domain: Invalid value: \"string\": domain is immutable"
    );
    // An invalid value already stored is not re-validated while unchanged.
    let mut stored = tenant(json!({"plan": "business", "seats": 0}));
    let mut update = stored.clone();
    update["metadata"]["labels"] = json!({"a": "b"});
    validator().normalize(&mut stored);
    validator()
        .admit(&mut update, Some(&stored))
        .expect("unchanged invalid fields ratchet");
}

#[test]
fn duplicate_map_list_keys_are_refused() {
    let mut obj = tenant(json!({"plan": "business", "seats": 5}));
    obj["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}, {"type": "Ready", "status": "False"}]});
    assert_eq!(
        refusal(obj, None),
        "The Tenant \"acme\" is invalid: status.conditions[1]: Duplicate value: map[string]interface {}{\"type\":\"Ready\"}"
    );
}

#[test]
fn validators_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let v = validator();
    assert_send_sync(&v);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let v = std::sync::Arc::new(validator());
            std::thread::spawn(move || {
                let mut obj = tenant(json!({"plan": "starter", "seats": i + 1, "storageQuota": "1Gi", "mailboxQuota": "2Gi"}));
                v.admit(&mut obj, None).expect_err("mailbox above storage").len()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread finishes"), 1);
    }
}

#[test]
fn bad_schemas_are_reported() {
    let bad_rule = json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.a ==", "message": "x"}]});
    assert!(matches!(
        Validator::new(&bad_rule),
        Err(SchemaError::Rule { .. })
    ));
    let bad_pattern = json!({"type": "string", "pattern": "("});
    assert!(matches!(
        Validator::new(&bad_pattern),
        Err(SchemaError::Pattern { .. })
    ));
    let bad_path = json!({"type": "object", "properties": {"a": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "true", "fieldPath": ".b"}]});
    assert!(matches!(
        Validator::new(&bad_path),
        Err(SchemaError::Invalid { .. })
    ));
}
