//! Partner: a reseller whose staff manage their customers' tenants.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::{Contact, DOMAIN_NAME, DeletionPolicy, is_false};
use crate::condition::Condition;

/// What the partner should be: a reseller that sells Dezky to its customers (Tenants with
/// `spec.partnerRef`) and earns a margin on their billing. Its staff are Members in the partner's namespace `partner-<name>`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "dezky.io",
    version = "v1alpha1",
    kind = "Partner",
    status = "PartnerStatus",
    shortname = "pt",
    category = "dezky",
    doc = "A reseller that sells Dezky workspaces to its customers and earns a margin on their billing.",
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "description": "Whether every part of the partner is provisioned"}"#,
    printcolumn = r#"{"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "description": "Why the partner is (not) ready", "priority": 1}"#,
    printcolumn = r#"{"name": "Display Name", "type": "string", "jsonPath": ".spec.displayName"}"#,
    printcolumn = r#"{"name": "Domain", "type": "string", "jsonPath": ".spec.domain"}"#,
    printcolumn = r#"{"name": "Margin", "type": "integer", "jsonPath": ".spec.marginPercent", "description": "Percent of its customers' billing"}"#,
    printcolumn = r#"{"name": "Tenants", "type": "integer", "jsonPath": ".status.tenants"}"#,
    printcolumn = r#"{"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspended", "priority": 1}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    validation = Rule::new("self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit").field_path(".metadata.name"),
    validation = Rule::new("size(self.metadata.name) <= 40").message("metadata.name must be at most 40 characters").field_path(".metadata.name"),
)]
#[serde(rename_all = "camelCase")]
pub struct PartnerSpec {
    /// The partner's name as people read it.
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// The partner's own web domain; its staff sign in with addresses on it.
    #[schemars(length(min = 3, max = 253), regex(pattern = DOMAIN_NAME))]
    pub domain: String,
    /// The partner's cut of its customers' billing, in percent (0 to 100).
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub margin_percent: i32,
    /// Whom to contact at the partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// Cut off the partner staff's access upstream; nothing is deleted, and setting it back restores access.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspended: bool,
    /// May this partner's objects adopt unmarked upstream objects (with the `dezky.io/adopt` annotation)?
    /// Only platform operators can set it, since Partners are cluster-scoped.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_adoption: bool,
    /// What happens upstream when the Partner is deleted: `Orphan` (default) keeps the partner group, `Delete` removes it.
    #[serde(default = "DeletionPolicy::orphan")]
    pub deletion_policy: DeletionPolicy,
}

/// What the operator observed of a Partner.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The partner's namespace (`partner-<name>`), where its staff Members live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    /// How many Tenants name this partner in `spec.partnerRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub tenants: Option<i32>,
    /// The partner's Authentik group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<GroupIdentity>,
    /// The partner's state, one condition per part: NamespaceReady, IdentityReady, Ready (and Stalled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// An Authentik group the operator found or created.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupIdentity {
    /// The group's primary key in Authentik (a UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub group_pk: Option<String>,
    /// The group's name in Authentik.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub group_name: Option<String>,
}
