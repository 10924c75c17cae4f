//! The stable marker that ties an upstream object to the Dezky object that manages it.
//!
//! Every object the operator creates upstream carries a marker naming this installation (an id
//! from the operator's configuration), the kind and the object's namespace/name. The object's UID
//! is recorded beside it for humans, but ownership is decided by the key alone, so a restore from
//! Git (new UIDs) adopts everything, while one tenant's objects can never match another's key.

use std::fmt;

/// Prefix of every marker key; an upstream value starting with it was written by some Dezky installation.
pub const MARKER_PREFIX: &str = "dezky:";

/// Who manages an upstream object, as far as its marker tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// The marker names exactly this object of this installation: adopt silently.
    Ours,
    /// The object has the natural key (name, username, domain) but no Dezky marker:
    /// only adopted on request (`dezky.io/adopt` and the tenant's `allowAdoption`).
    Unmarked,
    /// Marked by another object or another installation: never taken over.
    Foreign,
}

/// The marker of one Dezky object in one installation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Marker {
    /// The installation id from the operator's configuration.
    pub installation: String,
    /// The Dezky kind, e.g. `Tenant`.
    pub kind: String,
    /// The namespace of a namespaced object; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
    /// The object's UID, recorded beside the key; not part of ownership.
    pub uid: String,
}

impl Marker {
    /// The stable key stored upstream: `dezky:<installation>:<Kind>:<namespace>/<name>`
    /// (`-` for the namespace of cluster-scoped objects).
    pub fn key(&self) -> String {
        format!(
            "{MARKER_PREFIX}{}:{}:{}/{}",
            self.installation,
            self.kind,
            self.namespace.as_deref().unwrap_or("-"),
            self.name
        )
    }

    /// Classifies an upstream object by the marker value it carries (if any).
    pub fn classify(&self, found: Option<&str>) -> Ownership {
        match found {
            Some(value) if value == self.key() => Ownership::Ours,
            Some(value) if value.starts_with(MARKER_PREFIX) => Ownership::Foreign,
            _ => Ownership::Unmarked,
        }
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(ns: &str, name: &str) -> Marker {
        Marker {
            installation: "prod".into(),
            kind: "Member".into(),
            namespace: Some(ns.into()),
            name: name.into(),
            uid: "0000".into(),
        }
    }

    #[test]
    fn key_names_installation_kind_and_object() {
        assert_eq!(
            member("tenant-acme", "jdoe").key(),
            "dezky:prod:Member:tenant-acme/jdoe"
        );
        let tenant = Marker {
            namespace: None,
            kind: "Tenant".into(),
            ..member("x", "acme")
        };
        assert_eq!(tenant.key(), "dezky:prod:Tenant:-/acme");
    }

    #[test]
    fn classification_separates_ours_foreign_and_unmarked() {
        let m = member("tenant-acme", "jdoe");
        assert_eq!(
            m.classify(Some("dezky:prod:Member:tenant-acme/jdoe")),
            Ownership::Ours
        );
        // same name in another tenant's namespace, or another installation: never ours
        assert_eq!(
            m.classify(Some("dezky:prod:Member:tenant-evil/jdoe")),
            Ownership::Foreign
        );
        assert_eq!(
            m.classify(Some("dezky:staging:Member:tenant-acme/jdoe")),
            Ownership::Foreign
        );
        assert_eq!(m.classify(Some("created by hand")), Ownership::Unmarked);
        assert_eq!(m.classify(None), Ownership::Unmarked);
        // a new UID (restore from Git) does not change ownership
        let restored = Marker {
            uid: "1111".into(),
            ..m.clone()
        };
        assert_eq!(restored.classify(Some(&m.key())), Ownership::Ours);
    }
}
