//! MailDomain: a tenant's mail domain, its ownership proof, its mail-server side and its DNS records.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{DOMAIN_NAME, DeletionPolicy, is_false};
use crate::condition::Condition;

/// What the mail domain should be, in its tenant's namespace. Ownership is proven first through a
/// `_dezky-verification` TXT record; then the domain and its DKIM key are created on the mail
/// server, and the status lists every DNS record to publish with its verification state.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "dezky.io",
    version = "v1alpha1",
    kind = "MailDomain",
    namespaced,
    status = "MailDomainStatus",
    shortname = "md",
    category = "dezky",
    doc = "A tenant's mail domain: ownership proof, mail server domain with DKIM, and the DNS records to publish.",
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "description": "Whether the domain is verified and fully set up"}"#,
    printcolumn = r#"{"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "description": "Why the domain is (not) ready"}"#,
    printcolumn = r#"{"name": "Domain", "type": "string", "jsonPath": ".spec.domain"}"#,
    printcolumn = r#"{"name": "Primary", "type": "boolean", "jsonPath": ".spec.primary"}"#,
    printcolumn = r#"{"name": "Ownership", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"OwnershipVerified\")].status", "description": "Whether the ownership record was found"}"#,
    printcolumn = r#"{"name": "DNS", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"DnsVerified\")].status", "description": "Whether every DNS record was found as expected", "priority": 1}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MailDomainSpec {
    /// The domain, lower-case, IDN as punycode (`xn--...`); a registrable name under a public suffix.
    /// Immutable: create another MailDomain to change it.
    #[schemars(length(min = 3, max = 253), regex(pattern = DOMAIN_NAME))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("domain is immutable; create another MailDomain instead"))]
    pub domain: String,
    /// Whether this is the tenant's main domain (UI defaults, billing contact). One per tenant.
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary: bool,
    /// The DMARC policy published for the domain: none, quarantine or reject.
    #[serde(default = "DmarcPolicy::default_policy")]
    pub dmarc_policy: DmarcPolicy,
    /// What happens on the mail server when the MailDomain is deleted: `Delete` (default) or `Orphan`.
    #[serde(default = "DeletionPolicy::delete")]
    pub deletion_policy: DeletionPolicy,
}

/// What receivers should do with mail that fails DMARC.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    /// Only report.
    None,
    /// Treat as suspicious.
    Quarantine,
    /// Refuse.
    Reject,
}

impl DmarcPolicy {
    fn default_policy() -> Self {
        DmarcPolicy::Quarantine
    }
}

/// What the operator observed of a MailDomain.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailDomainStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The domain on the mail server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<MailServerDomain>,
    /// Every record the domain's owner must publish, the ownership record first, with what was found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub dns_records: Vec<DnsRecord>,
    /// When DNS was last checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked_time: Option<Time>,
    /// The last `dezky.io/recheck` annotation value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub observed_recheck: Option<String>,
    /// The domain's state: OwnershipVerified, MailServerReady, DnsVerified, Ready (and Stalled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// The domain as the mail server holds it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailServerDomain {
    /// The domain's id on the mail server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub domain_id: Option<String>,
    /// The DKIM selector, e.g. `202611e`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub dkim_selector: Option<String>,
    /// The DKIM algorithm, e.g. `Ed25519` or `Rsa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub dkim_algorithm: Option<String>,
}

/// One DNS record to publish, and what was found.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecord {
    /// The record type.
    #[serde(rename = "type")]
    pub type_: DnsRecordType,
    /// The fully qualified name, with the trailing dot.
    #[schemars(length(max = 255))]
    pub name: String,
    /// The value to publish (for MX: `<preference> <exchange>`).
    #[schemars(length(max = 4096))]
    pub value: String,
    /// What the last check found.
    pub state: DnsRecordState,
    /// What was found instead, when the state is Mismatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub observed: Option<String>,
}

/// DNS record types the platform asks for.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DnsRecordType {
    /// Mail exchanger.
    MX,
    /// Text: ownership, SPF, DKIM, DMARC.
    TXT,
    /// Alias, e.g. for autoconfig.
    CNAME,
}

/// The verification state of one DNS record.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DnsRecordState {
    /// Found as expected.
    Verified,
    /// Not found.
    Missing,
    /// Found with another value (see `observed`).
    Mismatch,
    /// Not checked yet.
    Pending,
}
