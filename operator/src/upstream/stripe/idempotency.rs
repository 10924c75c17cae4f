//! Idempotency keys of creates: the same for a retried create, different for anything new.

use sha2::{Digest, Sha256};

use super::wire::Form;
use crate::upstream::marker::Marker;

/// A key that is the same for the same create of the same object (so a retry after a lost
/// answer returns the first result) and differs when the request or the attempt differs.
pub(crate) fn idempotency_key(
    operation: &str,
    marker: &Marker,
    form: &Form,
    attempt: usize,
) -> String {
    let mut hash = Sha256::new();
    for part in [operation, &marker.key(), &marker.uid] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    for (key, value) in &form.0 {
        hash.update(key.as_bytes());
        hash.update([1]);
        hash.update(value.as_bytes());
        hash.update([0]);
    }
    hash.update(attempt.to_le_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("dezky-{operation}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(uid: &str) -> Marker {
        Marker {
            installation: "prod".into(),
            kind: "Tenant".into(),
            namespace: None,
            name: "acme".into(),
            uid: uid.into(),
        }
    }

    #[test]
    fn idempotency_keys_repeat_for_the_same_create_only() {
        let form = Form::new().set("name", "Acme");
        let a = idempotency_key("customer.create", &marker("u1"), &form, 0);
        assert_eq!(
            a,
            idempotency_key("customer.create", &marker("u1"), &form, 0)
        );
        assert!(
            a.starts_with("dezky-customer.create-") && a.len() < 255,
            "{a}"
        );
        assert_ne!(
            a,
            idempotency_key("customer.create", &marker("u2"), &form, 0)
        );
        assert_ne!(
            a,
            idempotency_key("customer.create", &marker("u1"), &form, 1)
        );
        let other = Form::new().set("name", "Acme GmbH");
        assert_ne!(
            a,
            idempotency_key("customer.create", &marker("u1"), &other, 0)
        );
    }
}
