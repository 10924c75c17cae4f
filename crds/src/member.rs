//! Member: a person in a tenant (or partner staff): SSO account, mailbox and file role.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{DeletionPolicy, EMAIL_ADDRESS, QUANTITY, SecretRef, is_false};
use crate::condition::Condition;

/// What the member should have: an Authentik user in the tenant group and the file-role group of its role,
/// and a mailbox for its address. In a partner's namespace, a member of the partner's staff (SSO only).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "dezky.io",
    version = "v1alpha1",
    kind = "Member",
    namespaced,
    status = "MemberStatus",
    shortname = "mbr",
    category = "dezky",
    doc = "A person in a tenant (or a partner's staff): single sign-on account, mailbox and file role.",
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "description": "Whether the member's accounts are provisioned"}"#,
    printcolumn = r#"{"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "description": "Why the member is (not) ready"}"#,
    printcolumn = r#"{"name": "Email", "type": "string", "jsonPath": ".spec.email"}"#,
    printcolumn = r#"{"name": "Role", "type": "string", "jsonPath": ".spec.role"}"#,
    printcolumn = r#"{"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspended"}"#,
    printcolumn = r#"{"name": "Files", "type": "string", "jsonPath": ".spec.files.role", "priority": 1}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.mailbox) || !has(self.mailbox.aliases) || !self.mailbox.aliases.exists(a, a == self.email)").message("an alias must differ from the member's own address").field_path(".mailbox.aliases"))]
pub struct MemberSpec {
    /// The member's address: the SSO login and the mailbox address, on a verified MailDomain of the
    /// tenant (partner staff: the partner's domain). Immutable: create another Member to change it.
    #[schemars(length(min = 3, max = 254), regex(pattern = EMAIL_ADDRESS))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("email is immutable; create another Member instead"))]
    pub email: String,
    /// The member's name as people read it.
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// `admin` may use the portal's admin pages for the tenant; `member` may manage only themselves.
    #[serde(default = "MemberRole::default_role")]
    pub role: MemberRole,
    /// Cut off the member's access (SSO user inactive, sessions ended, mailbox login refused); nothing is
    /// deleted, and setting it back restores access with the original password.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspended: bool,
    /// The member's mailbox.
    #[serde(default = "MailboxSpec::enabled")]
    pub mailbox: MailboxSpec,
    /// The member's access to the tenant's file space.
    #[serde(default = "FilesSpec::enabled")]
    pub files: FilesSpec,
    /// Change to any new value to issue a new one-time password (written to the credentials Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub credentials_rotation: Option<String>,
    /// Change to any new value to end all of the member's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub sessions_revocation: Option<String>,
    /// What happens upstream when the Member is deleted: `Delete` (default) cuts access at once and purges
    /// the data after the tenant's retention; `Orphan` leaves the accounts as they are.
    #[serde(default = "DeletionPolicy::delete")]
    pub deletion_policy: DeletionPolicy,
}

/// What a member may do in the portal.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// May use the tenant's admin pages.
    Admin,
    /// May manage only themselves.
    Member,
}

impl MemberRole {
    fn default_role() -> Self {
        MemberRole::Member
    }
}

/// The member's mailbox.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailboxSpec {
    /// Whether the member has a mailbox. Setting it to false on an existing mailbox disables the
    /// Stalwart account (login and delivery refused) but keeps its mail and password; setting it
    /// back to true re-enables the account as it was. With false and no mailbox yet, none is created.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The mailbox size, a Kubernetes quantity such as `5Gi`; defaults to the tenant's `mailboxQuota`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), regex(pattern = QUANTITY))]
    #[x_kube(validation = Rule::new("isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))").message("quota must be a positive quantity, e.g. 5Gi"))]
    pub quota: Option<String>,
    /// More addresses delivered to this mailbox, on verified MailDomains of the tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 3, max = 254), regex(pattern = EMAIL_ADDRESS)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub aliases: Vec<String>,
}

impl MailboxSpec {
    fn enabled() -> Self {
        MailboxSpec {
            enabled: true,
            quota: None,
            aliases: Vec::new(),
        }
    }
}

/// The member's access to the tenant's file space.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilesSpec {
    /// Whether the member has access to the tenant's space.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The member's role in the tenant's space: manager, editor or viewer.
    #[serde(default = "FileRole::default_role")]
    pub role: FileRole,
}

impl FilesSpec {
    fn enabled() -> Self {
        FilesSpec {
            enabled: true,
            role: FileRole::default_role(),
        }
    }
}

/// A role in a tenant's file space.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    /// May manage the space and its members.
    Manager,
    /// May read and write.
    Editor,
    /// May read.
    Viewer,
}

impl FileRole {
    fn default_role() -> Self {
        FileRole::Editor
    }
}

fn default_true() -> bool {
    true
}

/// What the operator observed of a Member.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The member's Authentik user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<MemberIdentity>,
    /// The member's Stalwart account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<MemberMail>,
    /// The member's file role as provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<MemberFiles>,
    /// The Secret holding the member's one-time password. The password is never in status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// The `spec.credentialsRotation` value last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub observed_credentials_rotation: Option<String>,
    /// The `spec.sessionsRevocation` value last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub observed_sessions_revocation: Option<String>,
    /// The member's state: IdentityReady, MailboxReady, FilesReady, Ready (and Stalled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// The member's Authentik user.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberIdentity {
    /// The user's primary key in Authentik.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub user_pk: Option<i64>,
    /// The user's username in Authentik (the member's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 254))]
    pub username: Option<String>,
    /// Whether the user has a confirmed second factor (MFA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_enrolled: Option<bool>,
}

/// The member's Stalwart account.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberMail {
    /// The account's id on the mail server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub account_id: Option<String>,
}

/// The member's file role as provisioned.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberFiles {
    /// The role the member holds in the tenant's space.
    pub role: FileRole,
}
