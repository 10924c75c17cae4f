//! The status condition shared by every kind (the Kubernetes `metav1.Condition` shape), and the
//! condition types and reasons the controllers use.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The status of a condition.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not yet known, e.g. on the first visit or while an upstream is unreachable.
    Unknown,
}

/// One aspect of an object's state, as the controller last observed it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The aspect, e.g. `Ready`, `IdentityReady`, `MailboxReady`, `DnsVerified`, `Stalled`.
    #[serde(rename = "type")]
    #[schemars(
        length(min = 1, max = 316),
        regex(
            pattern = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
        )
    )]
    pub type_: String,
    /// Whether the condition holds: True, False or Unknown.
    pub status: ConditionStatus,
    /// Why, in one CamelCase word (e.g. `DomainNotVerified`, `SeatLimitExceeded`, `UpstreamUnavailable`).
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    )]
    pub reason: String,
    /// What a person should know: what is wrong and what to do. Never holds a secret.
    #[schemars(length(max = 32768))]
    pub message: String,
    /// When the status last changed (not when the condition was last checked).
    pub last_transition_time: Time,
    /// The `metadata.generation` this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
}

/// Condition types.
pub mod types {
    /// Summary: True only when every other condition is satisfied for the current generation.
    pub const READY: &str = "Ready";
    /// An error that retrying cannot fix; waits for a change of the object.
    pub const STALLED: &str = "Stalled";
    /// The tenant's or partner's namespace exists and carries the right label.
    pub const NAMESPACE_READY: &str = "NamespaceReady";
    /// The Authentik objects (groups, user, provider, application) match the spec.
    pub const IDENTITY_READY: &str = "IdentityReady";
    /// The Stalwart account (mailbox) matches the spec.
    pub const MAILBOX_READY: &str = "MailboxReady";
    /// The OCIS project space or file role matches the spec.
    pub const FILES_READY: &str = "FilesReady";
    /// The Stripe customer and subscription match the spec.
    pub const BILLING_READY: &str = "BillingReady";
    /// The domain's `_dezky-verification` TXT record was found.
    pub const OWNERSHIP_VERIFIED: &str = "OwnershipVerified";
    /// The Stalwart domain and its DKIM signature exist.
    pub const MAIL_SERVER_READY: &str = "MailServerReady";
    /// Every DNS record the domain needs was found as expected.
    pub const DNS_VERIFIED: &str = "DnsVerified";
}

/// Condition reasons with a meaning users rely on.
pub mod reasons {
    /// The object's namespace belongs to no Tenant (or Partner).
    pub const TENANT_NOT_FOUND: &str = "TenantNotFound";
    /// An unmarked upstream object has this object's natural key.
    pub const ADOPTION_REQUIRED: &str = "AdoptionRequired";
    /// An upstream object with this natural key belongs to someone else.
    pub const NAME_TAKEN: &str = "NameTaken";
    /// More Members than the tenant's seats.
    pub const SEAT_LIMIT_EXCEEDED: &str = "SeatLimitExceeded";
    /// The deletion waits for dependents to go.
    pub const DELETION_BLOCKED: &str = "DeletionBlocked";
    /// Another tenant has proven ownership of this domain.
    pub const DOMAIN_CLAIMED: &str = "DomainClaimed";
    /// The domain is still used by mailboxes or aliases.
    pub const DOMAIN_IN_USE: &str = "DomainInUse";
    /// The address's domain is not a verified MailDomain of the tenant.
    pub const DOMAIN_NOT_VERIFIED: &str = "DomainNotVerified";
    /// The `dezky.io/paused` annotation is set.
    pub const PAUSED: &str = "Paused";
    /// The tenant is suspended: its upstream access is cut off on purpose (e.g. the project space
    /// is disabled, billing collection paused).
    pub const SUSPENDED: &str = "Suspended";
    /// The tenant's plan has no Stripe price in the operator's plan catalogue.
    pub const PLAN_NOT_PRICED: &str = "PlanNotPriced";
    /// Stripe cannot charge the tenant's customer: a payment method must be added.
    pub const PAYMENT_REQUIRED: &str = "PaymentRequired";
    /// Not looked at yet for this generation.
    pub const RECONCILING: &str = "Reconciling";
    /// Everything matches.
    pub const RECONCILED: &str = "Reconciled";
}
