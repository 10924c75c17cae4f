//! Stalwart v0.16 JMAP management API client: domains, DKIM, accounts.
//!
//! [`MailClient`] is the contract the controllers use; [`StalwartClient`] implements it over
//! `POST /jmap` (`urn:stalwart:jmap`) through the shared [`UpstreamHttp`](super::http::UpstreamHttp).
//! Every `/set` answer is HTTP 200 with per-object `notCreated`/`notUpdated`/`notDestroyed`;
//! those are always inspected and turned into [`MailError`]s. The ownership marker of a domain
//! or account is kept in its `description` (the only free-text field Stalwart keeps on both):
//! exactly the marker key for a domain, `"<display name> [<marker key>]"` for an account.

mod claim;
mod client;
mod jmap;
mod snapshots;
mod wire;
pub mod zone;

use std::collections::BTreeMap;
use std::future::Future;

pub use client::StalwartClient;
pub use zone::{
    MailDnsRecord, MailRecordPurpose, RecordType, ZoneRecord, mail_records, parse_zone_file,
};

use super::http::{ErrorCategory, Secret, UpstreamError};
use super::marker::{MARKER_PREFIX, Marker};

/// How a domain's DKIM keys are managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimMode {
    /// Stalwart generates (and with automatic DNS, rotates) the keys itself.
    Automatic,
    /// Keys are created through [`MailClient::create_dkim_key`].
    Manual,
}

/// The desired state of a mail domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSpec {
    /// The domain name, lowercase, IDN as punycode.
    pub name: String,
    pub dkim: DkimMode,
}

/// A domain as Stalwart holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDomain {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub dkim: DkimMode,
    pub enabled: bool,
}

impl MailDomain {
    /// The marker key found in the description, if any.
    pub fn marker(&self) -> Option<&str> {
        marker_in(self.description.as_deref())
    }
}

/// DKIM signing algorithms (the `@type` of a `DkimSignature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    Ed25519Sha256,
    RsaSha256,
}

impl DkimAlgorithm {
    /// The `@type` on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            DkimAlgorithm::Ed25519Sha256 => "Dkim1Ed25519Sha256",
            DkimAlgorithm::RsaSha256 => "Dkim1RsaSha256",
        }
    }
}

/// A DKIM signature key of a domain (the private key is never read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKey {
    pub id: String,
    pub domain_id: String,
    /// The `@type`, e.g. `Dkim1Ed25519Sha256`.
    pub algorithm: String,
    pub selector: String,
    /// `active`, `pending`, `retiring` or `retired`.
    pub stage: String,
    /// Base64 public key (the DNS `p=` value).
    pub public_key: Option<String>,
}

/// A DKIM key to create on a domain with manual DKIM.
#[derive(Debug, Clone)]
pub struct NewDkimKey {
    pub algorithm: DkimAlgorithm,
    pub selector: String,
    /// PKCS#8 PEM (PKCS#1 also accepted for RSA).
    pub private_key_pem: Secret,
}

/// An alias address of a mailbox: local part on a domain (by id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MailAlias {
    pub local_part: String,
    pub domain_id: String,
}

/// The desired state of a mailbox (a Stalwart `User` account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSpec {
    /// The local part of the address, lowercase.
    pub local_part: String,
    pub domain_id: String,
    pub display_name: Option<String>,
    /// `quotas.maxDiskQuota` in bytes; `None` for no quota.
    pub quota_bytes: Option<u64>,
    pub aliases: Vec<MailAlias>,
    /// Login and delivery cut off (`authenticate` and `emailReceive` disabled), password kept.
    pub suspended: bool,
}

/// A mailbox as Stalwart holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub id: String,
    pub local_part: String,
    pub domain_id: String,
    pub email: Option<String>,
    pub description: Option<String>,
    pub quota_bytes: Option<u64>,
    /// Aliases by their list index on the wire.
    pub aliases: BTreeMap<String, MailAlias>,
    pub suspended: bool,
    /// The list index of the `Password` credential, if the account has one.
    pub password_index: Option<String>,
}

impl Mailbox {
    /// The marker key found in the description, if any.
    pub fn marker(&self) -> Option<&str> {
        marker_in(self.description.as_deref())
    }
}

/// One page of a bulk listing; `next` is the position of the following page, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<u64>,
}

/// A registry object named in an error (`{"object":"Account","id":"b"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub object: String,
    pub id: String,
}

/// A failed mail operation. Messages name the operation and the server's error type and
/// properties, never values or server descriptions.
#[derive(thiserror::Error, Debug)]
pub enum MailError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("stalwart already has an unmarked {object} {id} with this name; adoption required")]
    AdoptionRequired { object: &'static str, id: String },
    #[error("stalwart {object} {id} holds this name and is not ours")]
    NameTaken { object: &'static str, id: String },
    #[error("stalwart refused {operation}: {kind} (properties: {})", properties.join(","))]
    Rejected {
        operation: &'static str,
        kind: String,
        properties: Vec<String>,
    },
    #[error("stalwart refused {operation}: still in use by {} object(s)", linked.len())]
    InUse {
        operation: &'static str,
        linked: Vec<ObjectRef>,
    },
    #[error("stalwart failed {operation}: method error {kind}")]
    Method {
        operation: &'static str,
        kind: String,
    },
    #[error("stalwart answer to {operation} is malformed: {reason}")]
    Protocol {
        operation: &'static str,
        reason: String,
    },
}

impl MailError {
    /// The bounded category, for metrics, event reasons and requeue decisions.
    pub fn category(&self) -> ErrorCategory {
        match self {
            MailError::Upstream(error) => error.category(),
            MailError::AdoptionRequired { .. }
            | MailError::NameTaken { .. }
            | MailError::InUse { .. } => ErrorCategory::Conflict,
            MailError::Rejected { kind, .. } if kind == "forbidden" => ErrorCategory::Forbidden,
            MailError::Rejected { kind, .. } if kind == "notFound" => ErrorCategory::NotFound,
            MailError::Rejected { .. } => ErrorCategory::Invalid,
            MailError::Method { kind, .. } => match kind.as_str() {
                "forbidden" => ErrorCategory::Forbidden,
                "serverUnavailable" | "serverFail" => ErrorCategory::Unavailable,
                _ => ErrorCategory::Protocol,
            },
            MailError::Protocol { .. } => ErrorCategory::Protocol,
        }
    }

    /// True when retrying cannot help until the spec, the upstream or the configuration changes.
    pub fn is_permanent(&self) -> bool {
        match self {
            MailError::Upstream(error) => error.is_permanent(),
            MailError::InUse { .. } => false,
            MailError::Method { .. } => matches!(
                self.category(),
                ErrorCategory::Forbidden | ErrorCategory::Protocol
            ),
            _ => true,
        }
    }
}

/// Finds a marker key in a description: the whole value, or the part in `[...]` after a
/// display name.
pub fn marker_in(description: Option<&str>) -> Option<&str> {
    let description = description?;
    let start = description.find(MARKER_PREFIX)?;
    let rest = &description[start..];
    Some(rest.split(']').next().unwrap_or(rest))
}

/// The description that carries `marker` after an optional display name.
pub fn describe(display_name: Option<&str>, marker: &Marker) -> String {
    match display_name.map(str::trim).filter(|d| !d.is_empty()) {
        Some(display) => format!("{display} [{}]", marker.key()),
        None => marker.key(),
    }
}

/// Lowercases a domain name and drops a trailing dot, as Stalwart normalizes names (queries are
/// exact and case-sensitive, so this must happen before looking a domain up).
pub fn normalize_domain(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The mail upstream contract (crossplane style): observe is read-only; create adopts our
/// marked object and reports an unmarked natural-key clash without touching it (unless
/// `adopt`); update changes only managed fields; delete of what is gone is success.
pub trait MailClient {
    /// The domain with this name, if any.
    fn find_domain(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<MailDomain>, MailError>> + Send;
    /// The domain with this id, if any.
    fn get_domain(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<MailDomain>, MailError>> + Send;
    /// One page of all domains, by name.
    fn list_domains(
        &self,
        position: u64,
        page_size: u64,
    ) -> impl Future<Output = Result<Page<MailDomain>, MailError>> + Send;
    /// Creates the domain or adopts it (see the trait docs).
    fn create_domain(
        &self,
        spec: &DomainSpec,
        marker: &Marker,
        adopt: bool,
    ) -> impl Future<Output = Result<MailDomain, MailError>> + Send;
    /// Brings the managed fields of a domain (its marker and DKIM mode) to `spec`; returns
    /// whether anything was written.
    fn update_domain(
        &self,
        current: &MailDomain,
        spec: &DomainSpec,
        marker: &Marker,
    ) -> impl Future<Output = Result<bool, MailError>> + Send;
    /// Destroys a domain; `InUse` while accounts, aliases or DKIM keys refer to it.
    fn delete_domain(&self, id: &str) -> impl Future<Output = Result<(), MailError>> + Send;
    /// The DKIM keys of a domain.
    fn list_dkim_keys(
        &self,
        domain_id: &str,
    ) -> impl Future<Output = Result<Vec<DkimKey>, MailError>> + Send;
    /// Creates a DKIM key on a manual-DKIM domain; returns its id.
    fn create_dkim_key(
        &self,
        domain_id: &str,
        key: &NewDkimKey,
    ) -> impl Future<Output = Result<String, MailError>> + Send;
    /// Destroys a DKIM key.
    fn delete_dkim_key(&self, id: &str) -> impl Future<Output = Result<(), MailError>> + Send;
    /// The records the domain's owner must publish, from its `dnsZoneFile`.
    fn dns_records(
        &self,
        domain_id: &str,
    ) -> impl Future<Output = Result<Vec<MailDnsRecord>, MailError>> + Send;
    /// The mailbox with this address, if any.
    fn find_mailbox(
        &self,
        local_part: &str,
        domain_id: &str,
    ) -> impl Future<Output = Result<Option<Mailbox>, MailError>> + Send;
    /// One page of mailboxes (of one domain when given).
    fn list_mailboxes(
        &self,
        domain_id: Option<&str>,
        position: u64,
        page_size: u64,
    ) -> impl Future<Output = Result<Page<Mailbox>, MailError>> + Send;
    /// Creates the mailbox with its password, or adopts it (the password is then untouched).
    fn create_mailbox(
        &self,
        spec: &MailboxSpec,
        password: &Secret,
        marker: &Marker,
        adopt: bool,
    ) -> impl Future<Output = Result<Mailbox, MailError>> + Send;
    /// Brings the managed fields (description, quota, aliases, suspension) to `spec`;
    /// returns whether anything was written.
    fn update_mailbox(
        &self,
        current: &Mailbox,
        spec: &MailboxSpec,
        marker: &Marker,
    ) -> impl Future<Output = Result<bool, MailError>> + Send;
    /// Replaces the password (explicit reset only).
    fn set_password(
        &self,
        id: &str,
        password: &Secret,
    ) -> impl Future<Output = Result<(), MailError>> + Send;
    /// Destroys a mailbox.
    fn delete_mailbox(&self, id: &str) -> impl Future<Output = Result<(), MailError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips_through_descriptions() {
        let marker = Marker {
            installation: "prod".into(),
            kind: "Member".into(),
            namespace: Some("tenant-acme".into()),
            name: "jdoe".into(),
            uid: "u".into(),
        };
        let with_name = describe(Some("Jane Doe"), &marker);
        assert_eq!(with_name, "Jane Doe [dezky:prod:Member:tenant-acme/jdoe]");
        assert_eq!(marker_in(Some(&with_name)), Some(marker.key().as_str()));
        assert_eq!(
            marker_in(Some(&describe(None, &marker))),
            Some(marker.key().as_str())
        );
        assert_eq!(marker_in(Some("Alice Example")), None);
        assert_eq!(marker_in(None), None);
    }
}
