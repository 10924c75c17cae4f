//! SsoApp: an OIDC application of a tenant, signed in through the tenant's Authentik group.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{DeletionPolicy, HTTP_URL, SecretRef};
use crate::condition::Condition;

/// What the application should be: one that signs its users in through the tenant's single sign-on (OAuth2/OIDC). Only
/// members of the tenant may use it. Its client credentials are written to a Secret, never to status.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "dezky.io",
    version = "v1alpha1",
    kind = "SsoApp",
    namespaced,
    status = "SsoAppStatus",
    shortname = "sso",
    category = "dezky",
    doc = "An application that signs in the tenant's members through single sign-on (OAuth2/OIDC).",
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "description": "Whether the application is provisioned"}"#,
    printcolumn = r#"{"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "description": "Why the application is (not) ready"}"#,
    printcolumn = r#"{"name": "Display Name", "type": "string", "jsonPath": ".spec.displayName"}"#,
    printcolumn = r#"{"name": "Client Type", "type": "string", "jsonPath": ".spec.clientType"}"#,
    printcolumn = r#"{"name": "Client ID", "type": "string", "jsonPath": ".status.clientId", "priority": 1}"#,
    printcolumn = r#"{"name": "Issuer", "type": "string", "jsonPath": ".status.issuer", "priority": 1}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.scopes.exists(s, s == 'openid')").message("scopes must include openid").field_path(".scopes"))]
pub struct SsoAppSpec {
    /// The application's name on the sign-in page and in the user's app list.
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// Where the identity provider may send users back after sign-in (exact URLs).
    #[schemars(length(min = 1, max = 20), inner(length(max = 2048), regex(pattern = HTTP_URL)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub redirect_uris: Vec<String>,
    /// Where users open the application from their app list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = HTTP_URL))]
    pub launch_url: Option<String>,
    /// `confidential` (a server that keeps a client secret) or `public` (a browser or mobile app, PKCE).
    #[serde(default = "ClientType::default_type")]
    pub client_type: ClientType,
    /// The OIDC scopes the application may ask for.
    #[serde(default = "default_scopes")]
    #[schemars(length(min = 1, max = 8))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub scopes: Vec<Scope>,
    /// What happens upstream when the SsoApp is deleted: `Delete` (default) or `Orphan`.
    #[serde(default = "DeletionPolicy::delete")]
    pub deletion_policy: DeletionPolicy,
}

/// OAuth2 client type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    /// A server-side application that keeps a client secret.
    Confidential,
    /// A browser or mobile application without a secret (PKCE).
    Public,
}

impl ClientType {
    fn default_type() -> Self {
        ClientType::Confidential
    }
}

/// An OIDC scope offered to applications.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Required for OIDC.
    Openid,
    /// The user's e-mail address.
    Email,
    /// The user's name.
    Profile,
    /// The user's group names.
    Groups,
    /// Refresh tokens.
    OfflineAccess,
}

fn default_scopes() -> Vec<Scope> {
    vec![Scope::Openid, Scope::Email, Scope::Profile]
}

/// What the operator observed of an SsoApp.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoAppStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The OAuth2 client id (not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub client_id: Option<String>,
    /// The OIDC issuer URL to configure in the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub issuer: Option<String>,
    /// The Secret with `client_id`, `client_secret`, `issuer` and `discovery_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// The Authentik objects behind the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<SsoAppIdentity>,
    /// The application's state: IdentityReady, Ready (and Stalled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// The Authentik objects behind an SsoApp.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoAppIdentity {
    /// The OAuth2 provider's primary key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub provider_pk: Option<i64>,
    /// The application's slug (part of the issuer URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50))]
    pub application_slug: Option<String>,
    /// The policy binding of the tenant group to the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub binding_pk: Option<String>,
}
