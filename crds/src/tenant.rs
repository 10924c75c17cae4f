//! Tenant: one customer's workspace (SSO group, file space, mail domains, billing).

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{DURATION, DeletionPolicy, EMAIL_ADDRESS, NameRef, QUANTITY, is_false};
use crate::condition::Condition;
use crate::partner::GroupIdentity;

/// What the tenant should be: an Authentik group and file-role groups, an OCIS project space, a
/// namespace `tenant-<name>` for its MailDomains, Members and SsoApps, and its billing.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "dezky.io",
    version = "v1alpha1",
    kind = "Tenant",
    status = "TenantStatus",
    shortname = "tn",
    category = "dezky",
    doc = "A customer's workspace: single sign-on group, file space, mail domains, members and billing.",
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "description": "Whether every part of the tenant is provisioned"}"#,
    printcolumn = r#"{"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "description": "Why the tenant is (not) ready"}"#,
    printcolumn = r#"{"name": "Display Name", "type": "string", "jsonPath": ".spec.displayName", "priority": 1}"#,
    printcolumn = r#"{"name": "Plan", "type": "string", "jsonPath": ".spec.plan"}"#,
    printcolumn = r#"{"name": "Seats", "type": "integer", "jsonPath": ".spec.seats"}"#,
    printcolumn = r#"{"name": "Used", "type": "integer", "jsonPath": ".status.seatsUsed"}"#,
    printcolumn = r#"{"name": "Partner", "type": "string", "jsonPath": ".spec.partnerRef.name"}"#,
    printcolumn = r#"{"name": "Storage", "type": "string", "jsonPath": ".spec.storageQuota", "priority": 1}"#,
    printcolumn = r#"{"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspended", "priority": 1}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    validation = Rule::new("self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit").field_path(".metadata.name"),
    validation = Rule::new("size(self.metadata.name) <= 40").message("metadata.name must be at most 40 characters").field_path(".metadata.name"),
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!isQuantity(self.mailboxQuota) || !isQuantity(self.storageQuota) || quantity(self.mailboxQuota).compareTo(quantity(self.storageQuota)) <= 0").message("mailboxQuota must not be larger than storageQuota").field_path(".mailboxQuota"))]
pub struct TenantSpec {
    /// The customer's name as people read it.
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// The reseller Partner that sold this workspace, if any. Its staff may manage this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_ref: Option<NameRef>,
    /// The plan from the plan catalogue: starter, business or enterprise.
    pub plan: Plan,
    /// The most Members this tenant may have. Members beyond it wait with `SeatLimitExceeded`.
    #[schemars(range(min = 1, max = 100000))]
    pub seats: i32,
    /// Size of the tenant's OCIS project space, a Kubernetes quantity such as `100Gi`.
    #[schemars(length(min = 1, max = 32), regex(pattern = QUANTITY))]
    #[x_kube(validation = Rule::new("isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))").message("storageQuota must be a positive quantity, e.g. 100Gi"))]
    pub storage_quota: String,
    /// Default size of each Member's mailbox, a Kubernetes quantity such as `5Gi`. At most `storageQuota`.
    #[schemars(length(min = 1, max = 32), regex(pattern = QUANTITY))]
    #[x_kube(validation = Rule::new("isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))").message("mailboxQuota must be a positive quantity, e.g. 5Gi"))]
    pub mailbox_quota: String,
    /// Who is billed, and where invoices go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<BillingDetails>,
    /// Cut off access for everyone in the tenant upstream (sign-in, mail login, sessions); nothing is
    /// deleted, and setting it back restores access with the original credentials.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspended: bool,
    /// How long upstream data of deleted Members is kept.
    #[serde(default = "Retention::standard")]
    pub retention: Retention,
    /// May this tenant's objects adopt unmarked upstream objects (with the `dezky.io/adopt` annotation)?
    /// Only platform operators can set it, since Tenants are cluster-scoped.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_adoption: bool,
    /// What happens upstream when the Tenant is deleted: `Orphan` (default) keeps groups, space and billing,
    /// `Delete` removes them. The tenant's namespace is never deleted with it.
    #[serde(default = "DeletionPolicy::orphan")]
    pub deletion_policy: DeletionPolicy,
}

/// A plan of the plan catalogue.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// Small teams.
    Starter,
    /// Most customers.
    Business,
    /// Large organisations.
    Enterprise,
}

/// Billing details passed to the payment provider.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingDetails {
    /// Where invoices are sent.
    #[schemars(length(max = 254), regex(pattern = EMAIL_ADDRESS))]
    pub email: String,
    /// The legal name on invoices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub company: Option<String>,
    /// ISO 3166-1 alpha-2 country code, e.g. DE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 2), regex(pattern = "^[A-Z]{2}$"))]
    pub country: Option<String>,
    /// VAT identification number, e.g. DE123456789.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32), regex(pattern = "^[A-Z0-9]{4,32}$"))]
    pub vat_id: Option<String>,
}

/// Retention of deleted Members' data.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// How long a deleted Member's account, mailbox and files are kept (access cut) before they are
    /// purged, as a Go duration such as `168h`. A Member re-created inside it gets them back.
    #[serde(default = "Retention::default_deleted_members")]
    #[schemars(length(max = 32), regex(pattern = DURATION))]
    pub deleted_members: String,
}

impl Retention {
    fn default_deleted_members() -> String {
        "168h".to_string()
    }
    fn standard() -> Self {
        Retention {
            deleted_members: Self::default_deleted_members(),
        }
    }
}

/// What the operator observed of a Tenant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The tenant's namespace (`tenant-<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    /// How many Members hold a seat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub seats_used: Option<i32>,
    /// The tenant's Authentik group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<GroupIdentity>,
    /// The tenant's OCIS project space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<TenantFiles>,
    /// The tenant's Stripe customer and subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<TenantBilling>,
    /// The tenant's state, one condition per part: NamespaceReady, IdentityReady, FilesReady,
    /// BillingReady, Ready (and Stalled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// The tenant's OCIS project space.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantFiles {
    /// The space's drive id in OCIS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub space_id: Option<String>,
    /// The space's quota in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub quota_bytes: Option<i64>,
    /// Bytes used in the space, as OCIS last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub used_bytes: Option<i64>,
}

/// The tenant's billing in Stripe.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantBilling {
    /// The Stripe customer id (`cus_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub customer_id: Option<String>,
    /// The Stripe subscription id (`sub_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub subscription_id: Option<String>,
    /// The subscription's status as Stripe reports it (active, past_due, paused, canceled, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub subscription_status: Option<String>,
}
