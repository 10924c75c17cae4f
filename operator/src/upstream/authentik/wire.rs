//! Authentik 2026.8 response shapes, deserialized leniently (unknown fields ignored, missing ones defaulted).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ATTR_MARKER, ATTR_UID};
use crate::upstream::http::Secret;

/// A page of a list (`pagination.next` is a page number, 0 on the last page).
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default)]
    pub pagination: Pagination,
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Pagination {
    #[serde(default)]
    pub next: f64,
}

/// A group as observed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GroupObs {
    /// The group UUID.
    pub pk: String,
    #[serde(default)]
    pub num_pk: i64,
    pub name: String,
    #[serde(default)]
    pub is_superuser: bool,
    /// Member user pks.
    #[serde(default)]
    pub users: Vec<i64>,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

impl GroupObs {
    /// The marker key it carries, if any.
    pub fn marker(&self) -> Option<&str> {
        self.attributes.get(ATTR_MARKER).and_then(Value::as_str)
    }

    /// The UID recorded beside the marker, if any.
    pub fn uid(&self) -> Option<&str> {
        self.attributes.get(ATTR_UID).and_then(Value::as_str)
    }
}

/// A user as observed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserObs {
    pub pk: i64,
    #[serde(default)]
    pub uuid: String,
    pub username: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub is_active: bool,
    #[serde(default)]
    pub path: String,
    #[serde(default, rename = "type")]
    pub user_type: String,
    /// The OIDC `sub` of the default `hashed_user_id` mode.
    #[serde(default)]
    pub uid: String,
    /// UUIDs of the groups the user is a direct member of.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

impl UserObs {
    pub fn marker(&self) -> Option<&str> {
        self.attributes.get(ATTR_MARKER).and_then(Value::as_str)
    }
}

/// An authenticated session.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SessionObs {
    pub uuid: String,
    pub user: i64,
    #[serde(default)]
    pub last_ip: String,
    #[serde(default)]
    pub last_used: Option<String>,
    #[serde(default)]
    pub expires: Option<String>,
}

/// A redirect URI of an OAuth2 provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUri {
    /// `strict` or `regex`.
    pub matching_mode: String,
    pub url: String,
}

impl RedirectUri {
    pub fn strict(url: impl Into<String>) -> Self {
        Self {
            matching_mode: "strict".into(),
            url: url.into(),
        }
    }
}

/// An OAuth2 provider as observed. `client_secret` never prints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProviderObs {
    pub pk: i64,
    pub name: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default, deserialize_with = "secret")]
    pub client_secret: Secret,
    #[serde(default)]
    pub client_type: String,
    #[serde(default)]
    pub authorization_flow: Option<String>,
    #[serde(default)]
    pub invalidation_flow: Option<String>,
    #[serde(default)]
    pub signing_key: Option<String>,
    #[serde(default)]
    pub property_mappings: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub access_token_validity: String,
    #[serde(default)]
    pub assigned_application_slug: Option<String>,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    Ok(Secret::new(
        Option::<String>::deserialize(d)?.unwrap_or_default(),
    ))
}

/// An application as observed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ApplicationObs {
    /// The policy binding model UUID: the `target` of bindings.
    pub pk: String,
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub provider: Option<i64>,
    #[serde(default)]
    pub meta_launch_url: String,
    #[serde(default)]
    pub meta_publisher: String,
    #[serde(default)]
    pub policy_engine_mode: String,
}

/// A policy binding as observed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BindingObs {
    pub pk: String,
    pub target: String,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub user: Option<i64>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub order: i64,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub negate: bool,
}

/// A flow, keypair or scope mapping lookup result.
#[derive(Debug, Deserialize)]
pub(crate) struct Named {
    pub pk: String,
    #[serde(default)]
    pub scope_name: String,
}

/// An authenticator device (`/authenticators/admin/all/`).
#[derive(Debug, Deserialize)]
pub(crate) struct DeviceObs {
    #[serde(default, rename = "type")]
    pub device_type: String,
    #[serde(default)]
    pub confirmed: bool,
}
