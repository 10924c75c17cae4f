//! Authentik REST API v3 client: groups, users, sessions, OAuth2 providers, applications, policy bindings.
//!
//! [`IdentityClient`] is the contract the controllers use; [`AuthentikClient`] implements it over
//! [`UpstreamHttp`](super::http::UpstreamHttp) against Authentik 2026.8 (see
//! `/work/shared/upstreams/authentik.md`). Writes use PATCH (never a whole-object PUT, which
//! would wipe memberships) and membership changes go through `add_user`/`remove_user` only.
//!
//! Ownership markers: groups and users carry the attributes [`ATTR_MARKER`] (the marker key),
//! [`ATTR_UID`], [`ATTR_INSTALLATION`] and [`ATTR_KIND`]; the last two let the bulk listings filter
//! server-side with Authentik's `attributes` query (exact JSON key matches). An OAuth2 provider is
//! named by the marker key (provider names are unique and only admins see them), and an
//! application belongs to whoever owns its provider.

mod client;
mod directory;
mod snapshots;
mod sso;
mod unmanaged;
mod wire;

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::{Map, Value};

pub use client::AuthentikClient;
pub use unmanaged::UnmanagedAccount;
pub use wire::{
    ApplicationObs, BindingObs, GroupObs, ProviderObs, RedirectUri, SessionObs, UserObs,
};

use super::http::{ErrorCategory, UpstreamError};
use super::marker::{Marker, Ownership};

/// Attribute holding the marker key on groups and users.
pub const ATTR_MARKER: &str = "dezky.io/marker";
/// Attribute holding the managing object's UID (informational).
pub const ATTR_UID: &str = "dezky.io/uid";
/// Attribute holding the installation id (for bulk listing).
pub const ATTR_INSTALLATION: &str = "dezky.io/installation";
/// Attribute holding the Dezky kind (for bulk listing).
pub const ATTR_KIND: &str = "dezky.io/kind";

/// A failed identity operation.
#[derive(thiserror::Error, Debug)]
pub enum IdentityError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// An object with the natural key exists without a Dezky marker; not touched.
    #[error(
        "an Authentik {kind} named {name:?} exists and is not managed by Dezky: adoption required"
    )]
    AdoptionRequired { kind: &'static str, name: String },
    /// An object with the natural key is managed by another Dezky object or installation.
    #[error("the Authentik {kind} name {name:?} is taken by another owner")]
    NameTaken { kind: &'static str, name: String },
    /// A lookup that a fresh Authentik always has is missing (flow, keypair, scope mapping).
    #[error("failed to find the Authentik {what} {name:?}")]
    LookupMissing { what: &'static str, name: String },
}

impl IdentityError {
    /// The bounded category, for metrics and requeue decisions.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Upstream(e) => e.category(),
            Self::AdoptionRequired { .. } | Self::NameTaken { .. } => ErrorCategory::Conflict,
            Self::LookupMissing { .. } => ErrorCategory::NotFound,
        }
    }

    /// True when retrying cannot help until something changes.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Upstream(e) => e.is_permanent(),
            _ => true,
        }
    }
}

/// What an observation found under a natural key.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed<T> {
    Missing,
    /// Carries our marker.
    Ours(T),
    /// Has the natural key but no Dezky marker.
    Unmarked(T),
    /// Marked by another Dezky object or installation.
    Foreign(T),
}

impl<T> Observed<T> {
    pub(crate) fn classify(marker: &Marker, found: Option<&str>, object: T) -> Self {
        match marker.classify(found) {
            Ownership::Ours => Self::Ours(object),
            Ownership::Unmarked => Self::Unmarked(object),
            Ownership::Foreign => Self::Foreign(object),
        }
    }

    /// Our object, if that is what was found.
    pub fn ours(self) -> Option<T> {
        match self {
            Self::Ours(t) => Some(t),
            _ => None,
        }
    }
}

/// The managed fields of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupSpec {
    pub name: String,
    /// Extra attributes we manage (besides the marker attributes); other attributes are left alone.
    pub attributes: Map<String, Value>,
}

/// The managed fields of a user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSpec {
    pub username: String,
    pub name: String,
    pub email: String,
    /// Authentik path, e.g. `tenants/acme` (no leading or trailing `/`).
    pub path: String,
    pub is_active: bool,
    /// `internal` or `external`.
    pub user_type: String,
    pub attributes: Map<String, Value>,
}

/// The managed fields of an OAuth2 provider (its name is the marker key).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSpec {
    pub client_id: String,
    /// `confidential` or `public`.
    pub client_type: String,
    pub redirect_uris: Vec<RedirectUri>,
    /// Scope names (`openid`, `email`, `profile`, `offline_access`, ...), resolved through [`Lookups`].
    pub scopes: Vec<String>,
    /// e.g. `authorization_code`, `refresh_token`.
    pub grant_types: Vec<String>,
    pub access_token_validity: String,
}

/// The managed fields of an application.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationSpec {
    pub slug: String,
    pub name: String,
    pub launch_url: String,
    /// The provider pk; `None` creates the application unreachable by OAuth (bind first, then attach).
    pub provider: Option<i64>,
}

/// The fixed objects a fresh Authentik has, resolved once.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookups {
    pub authorization_flow: String,
    pub invalidation_flow: String,
    pub signing_key: String,
    /// Scope name → scope mapping pk.
    pub scope_mappings: BTreeMap<String, String>,
}

/// The identity upstream, with the crossplane contract: observe is read-only; create adopts an
/// object carrying our marker and reports an unmarked natural-key clash without touching it
/// (unless `adopt`); update changes only managed fields; delete of what is gone is success.
pub trait IdentityClient: Send + Sync {
    /// Flows, signing key and scope mappings by their well-known slugs and managed names (cached).
    fn lookups(&self) -> impl Future<Output = Result<Lookups, IdentityError>> + Send;

    /// The group with this marker, or with this name.
    fn observe_group(
        &self,
        name: &str,
        marker: &Marker,
    ) -> impl Future<Output = Result<Observed<GroupObs>, IdentityError>> + Send;
    /// Creates the group, adopts ours, or (with `adopt`) marks and adopts an unmarked one.
    fn create_group(
        &self,
        spec: &GroupSpec,
        marker: &Marker,
        adopt: bool,
    ) -> impl Future<Output = Result<GroupObs, IdentityError>> + Send;
    /// Brings the managed fields of an observed group to the spec; `None` when nothing changed.
    fn update_group(
        &self,
        current: &GroupObs,
        spec: &GroupSpec,
        marker: &Marker,
    ) -> impl Future<Output = Result<Option<GroupObs>, IdentityError>> + Send;
    fn delete_group(&self, pk: &str) -> impl Future<Output = Result<(), IdentityError>> + Send;
    /// Every group of this installation and kind, read by pages (`users` holds member pks).
    fn list_groups(
        &self,
        installation: &str,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<GroupObs>, IdentityError>> + Send;

    fn observe_user(
        &self,
        username: &str,
        marker: &Marker,
    ) -> impl Future<Output = Result<Observed<UserObs>, IdentityError>> + Send;
    fn create_user(
        &self,
        spec: &UserSpec,
        marker: &Marker,
        adopt: bool,
    ) -> impl Future<Output = Result<UserObs, IdentityError>> + Send;
    fn update_user(
        &self,
        current: &UserObs,
        spec: &UserSpec,
        marker: &Marker,
    ) -> impl Future<Output = Result<Option<UserObs>, IdentityError>> + Send;
    fn set_password(
        &self,
        user_pk: i64,
        password: &super::http::Secret,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;
    fn delete_user(&self, pk: i64) -> impl Future<Output = Result<(), IdentityError>> + Send;
    fn list_users(
        &self,
        installation: &str,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<UserObs>, IdentityError>> + Send;

    /// Adds a user to a group (`add_user`); already a member is success.
    fn add_member(
        &self,
        group_pk: &str,
        user_pk: i64,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;
    /// Removes a user from a group (`remove_user`); not a member (or gone) is success.
    fn remove_member(
        &self,
        group_pk: &str,
        user_pk: i64,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;

    fn list_sessions(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Vec<SessionObs>, IdentityError>> + Send;
    /// Ends every session of the user (force logout); returns how many were ended.
    fn end_sessions(
        &self,
        user_pk: i64,
        username: &str,
    ) -> impl Future<Output = Result<usize, IdentityError>> + Send;
    /// Confirmed MFA authenticators of the user (endpoint devices excluded).
    fn confirmed_authenticators(
        &self,
        user_pk: i64,
    ) -> impl Future<Output = Result<usize, IdentityError>> + Send;

    fn observe_provider(
        &self,
        client_id: &str,
        marker: &Marker,
    ) -> impl Future<Output = Result<Observed<ProviderObs>, IdentityError>> + Send;
    fn create_provider(
        &self,
        spec: &ProviderSpec,
        marker: &Marker,
        adopt: bool,
    ) -> impl Future<Output = Result<ProviderObs, IdentityError>> + Send;
    fn update_provider(
        &self,
        current: &ProviderObs,
        spec: &ProviderSpec,
    ) -> impl Future<Output = Result<Option<ProviderObs>, IdentityError>> + Send;
    fn delete_provider(&self, pk: i64) -> impl Future<Output = Result<(), IdentityError>> + Send;

    fn observe_application(
        &self,
        slug: &str,
        marker: &Marker,
    ) -> impl Future<Output = Result<Observed<ApplicationObs>, IdentityError>> + Send;
    fn create_application(
        &self,
        spec: &ApplicationSpec,
        marker: &Marker,
        adopt: bool,
    ) -> impl Future<Output = Result<ApplicationObs, IdentityError>> + Send;
    fn update_application(
        &self,
        current: &ApplicationObs,
        spec: &ApplicationSpec,
    ) -> impl Future<Output = Result<Option<ApplicationObs>, IdentityError>> + Send;
    fn delete_application(
        &self,
        slug: &str,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;

    fn list_bindings(
        &self,
        app_pk: &str,
    ) -> impl Future<Output = Result<Vec<BindingObs>, IdentityError>> + Send;
    /// The binding of this group to the application, created when missing (no duplicates).
    fn ensure_group_binding(
        &self,
        app_pk: &str,
        group_pk: &str,
    ) -> impl Future<Output = Result<BindingObs, IdentityError>> + Send;
    fn delete_binding(&self, pk: &str) -> impl Future<Output = Result<(), IdentityError>> + Send;
}
