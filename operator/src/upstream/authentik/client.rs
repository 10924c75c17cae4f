//! [`AuthentikClient`]: the REST API v3 implementation of [`IdentityClient`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;
use url::Url;

use super::snapshots::Snapshots;
use super::wire::{Named, Page};
use super::{
    ATTR_INSTALLATION, ATTR_KIND, ATTR_MARKER, ATTR_UID, ApplicationObs, ApplicationSpec,
    BindingObs, GroupObs, GroupSpec, IdentityClient, IdentityError, Lookups, Observed, ProviderObs,
    ProviderSpec, SessionObs, UserObs, UserSpec, directory, sso,
};
use crate::upstream::http::{
    Auth, ErrorCategory, RequestSpec, Secret, UpstreamError, UpstreamHttp, UpstreamLimits,
    UpstreamMetrics,
};
use crate::upstream::marker::Marker;

pub(super) const UPSTREAM: &str = "authentik";
/// The largest page Authentik serves by default (`pagination_max_page_size`).
pub(super) const PAGE_SIZE: &str = "100";

/// Default flow slugs and keypair name of a fresh Authentik.
pub const AUTHORIZATION_FLOW: &str = "default-provider-authorization-implicit-consent";
pub const INVALIDATION_FLOW: &str = "default-provider-invalidation-flow";
pub const SIGNING_KEY: &str = "authentik Self-signed Certificate";
/// Managed scope mappings, by scope name.
pub(super) const MANAGED_SCOPES: [(&str, &str); 5] = [
    ("openid", "goauthentik.io/providers/oauth2/scope-openid"),
    ("email", "goauthentik.io/providers/oauth2/scope-email"),
    ("profile", "goauthentik.io/providers/oauth2/scope-profile"),
    (
        "entitlements",
        "goauthentik.io/providers/oauth2/scope-entitlements",
    ),
    (
        "offline_access",
        "goauthentik.io/providers/oauth2/scope-offline_access",
    ),
];

/// The Authentik client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AuthentikClient {
    pub(super) http: UpstreamHttp,
    pub(super) lookups: Arc<OnceCell<Lookups>>,
    /// The collections observations are answered from.
    pub(super) snapshots: Snapshots,
}

pub(super) fn not_found(e: &IdentityError) -> bool {
    e.category() == ErrorCategory::NotFound
}

pub(super) fn marker_attributes(marker: &Marker) -> Map<String, Value> {
    let mut attributes = Map::new();
    attributes.insert(ATTR_MARKER.into(), json!(marker.key()));
    attributes.insert(ATTR_UID.into(), json!(marker.uid));
    attributes.insert(ATTR_INSTALLATION.into(), json!(marker.installation));
    attributes.insert(ATTR_KIND.into(), json!(marker.kind));
    attributes
}

/// The current attributes with the managed ones (marker + spec) laid over; `None` when nothing changes.
pub(super) fn merged_attributes(
    current: &Map<String, Value>,
    managed: &Map<String, Value>,
    marker: &Marker,
) -> Option<Map<String, Value>> {
    let mut merged = current.clone();
    for (k, v) in managed.iter().chain(marker_attributes(marker).iter()) {
        merged.insert(k.clone(), v.clone());
    }
    (merged != *current).then_some(merged)
}

impl AuthentikClient {
    /// A client of the Authentik at `base_url` (the instance root, e.g. `https://auth.example.com`).
    pub fn new(
        base_url: &Url,
        token: Secret,
        limits: UpstreamLimits,
        metrics: UpstreamMetrics,
    ) -> Result<Self, UpstreamError> {
        let api = base_url
            .join("api/v3/")
            .map_err(|e| UpstreamError::Config {
                upstream: UPSTREAM,
                reason: format!("invalid base URL: {e}"),
            })?;
        let http = UpstreamHttp::new(UPSTREAM, api, Auth::Bearer(token), limits, metrics)?;
        Ok(Self {
            snapshots: Snapshots::new(&http),
            http,
            lookups: Arc::new(OnceCell::new()),
        })
    }

    /// The shared HTTP layer (metrics, base URL).
    pub fn http(&self) -> &UpstreamHttp {
        &self.http
    }

    pub(super) async fn json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        req: RequestSpec,
    ) -> Result<T, IdentityError> {
        Ok(self.http.send_json(op, req).await?)
    }

    pub(super) async fn body(
        &self,
        op: &'static str,
        req: RequestSpec,
        body: &Value,
    ) -> Result<RequestSpec, IdentityError> {
        req.json(body).map_err(|e| {
            IdentityError::Upstream(UpstreamError::Request {
                upstream: UPSTREAM,
                operation: op,
                reason: e.to_string(),
            })
        })
    }

    pub(super) async fn send_body<T: DeserializeOwned>(
        &self,
        op: &'static str,
        req: RequestSpec,
        body: &Value,
    ) -> Result<T, IdentityError> {
        let req = self.body(op, req, body).await?;
        self.json(op, req).await
    }

    pub(super) async fn send_body_empty(
        &self,
        op: &'static str,
        req: RequestSpec,
        body: &Value,
    ) -> Result<(), IdentityError> {
        let req = self.body(op, req, body).await?;
        self.http.send(op, req).await?;
        Ok(())
    }

    /// Every page of a list.
    pub(super) async fn all_pages<T: DeserializeOwned>(
        &self,
        op: &'static str,
        req: RequestSpec,
    ) -> Result<Vec<T>, IdentityError> {
        let mut out = Vec::new();
        let mut page = 1u64;
        loop {
            let request = req
                .clone()
                .query("page", page.to_string())
                .query("page_size", PAGE_SIZE);
            let result: Page<T> = self.json(op, request).await?;
            out.extend(result.results);
            let next = result.pagination.next;
            // `next` is a page number, 0 on the last page; guard against a server that loops
            if next < 1.0 || (next as u64) <= page {
                return Ok(out);
            }
            page = next as u64;
        }
    }

    pub(super) async fn first<T: DeserializeOwned>(
        &self,
        op: &'static str,
        req: RequestSpec,
    ) -> Result<Option<T>, IdentityError> {
        let page: Page<T> = self.json(op, req.query("page_size", "2")).await?;
        Ok(page.results.into_iter().next())
    }

    pub(super) async fn load_lookups(&self) -> Result<Lookups, IdentityError> {
        let flow = |slug: &'static str| async move {
            match self
                .json::<Named>(
                    "flow.get",
                    RequestSpec::get(format!("flows/instances/{slug}/")),
                )
                .await
            {
                Ok(flow) => Ok(flow.pk),
                Err(e) if not_found(&e) => Err(IdentityError::LookupMissing {
                    what: "flow",
                    name: slug.into(),
                }),
                Err(e) => Err(e),
            }
        };
        let authorization_flow = flow(AUTHORIZATION_FLOW).await?;
        let invalidation_flow = flow(INVALIDATION_FLOW).await?;
        let key: Option<Named> = self
            .first(
                "keypair.list",
                RequestSpec::get("crypto/certificatekeypairs/")
                    .query("name", SIGNING_KEY)
                    .query("has_key", "true"),
            )
            .await?;
        let signing_key = key
            .ok_or_else(|| IdentityError::LookupMissing {
                what: "keypair",
                name: SIGNING_KEY.into(),
            })?
            .pk;
        let mut req = RequestSpec::get("propertymappings/provider/scope/");
        for (_, managed) in MANAGED_SCOPES {
            req = req.query("managed", managed);
        }
        let mappings: Vec<Named> = self.all_pages("scope_mapping.list", req).await?;
        let scope_mappings: BTreeMap<String, String> =
            mappings.into_iter().map(|m| (m.scope_name, m.pk)).collect();
        Ok(Lookups {
            authorization_flow,
            invalidation_flow,
            signing_key,
            scope_mappings,
        })
    }

    pub(super) fn provider_body(
        &self,
        spec: &ProviderSpec,
        lookups: &Lookups,
    ) -> Result<Value, IdentityError> {
        let mut mappings = Vec::new();
        for scope in &spec.scopes {
            let pk =
                lookups
                    .scope_mappings
                    .get(scope)
                    .ok_or_else(|| IdentityError::LookupMissing {
                        what: "scope mapping",
                        name: scope.clone(),
                    })?;
            mappings.push(pk.clone());
        }
        Ok(json!({
            "authorization_flow": lookups.authorization_flow,
            "invalidation_flow": lookups.invalidation_flow,
            "client_type": spec.client_type,
            "client_id": spec.client_id,
            "redirect_uris": spec.redirect_uris,
            "signing_key": lookups.signing_key,
            "property_mappings": mappings,
            "grant_types": spec.grant_types,
            "access_token_validity": spec.access_token_validity,
            "sub_mode": "hashed_user_id",
            "issuer_mode": "per_provider",
            "include_claims_in_id_token": true,
        }))
    }

    pub(super) async fn provider_by(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Option<ProviderObs>, IdentityError> {
        self.first(
            "provider.list",
            RequestSpec::get("providers/oauth2/").query(key, value),
        )
        .await
    }
}

/// Retries a create that lost a race: a 400 on the natural-key field means it now exists.
pub(super) fn is_key_clash(e: &IdentityError, field: &str) -> bool {
    matches!(e, IdentityError::Upstream(u) if u.status() == Some(400) && u.detail().is_some_and(|d| d.has_field(field)))
}

impl IdentityClient for AuthentikClient {
    async fn lookups(&self) -> Result<Lookups, IdentityError> {
        sso::lookups(self).await
    }

    async fn observe_group(
        &self,
        name: &str,
        marker: &Marker,
    ) -> Result<Observed<GroupObs>, IdentityError> {
        directory::observe_group(self, name, marker).await
    }

    async fn create_group(
        &self,
        spec: &GroupSpec,
        marker: &Marker,
        adopt: bool,
    ) -> Result<GroupObs, IdentityError> {
        directory::create_group(self, spec, marker, adopt).await
    }

    async fn update_group(
        &self,
        current: &GroupObs,
        spec: &GroupSpec,
        marker: &Marker,
    ) -> Result<Option<GroupObs>, IdentityError> {
        directory::update_group(self, current, spec, marker).await
    }

    async fn delete_group(&self, pk: &str) -> Result<(), IdentityError> {
        directory::delete_group(self, pk).await
    }

    async fn list_groups(
        &self,
        installation: &str,
        kind: &str,
    ) -> Result<Vec<GroupObs>, IdentityError> {
        directory::list_groups(self, installation, kind).await
    }

    async fn observe_user(
        &self,
        username: &str,
        marker: &Marker,
    ) -> Result<Observed<UserObs>, IdentityError> {
        directory::observe_user(self, username, marker).await
    }

    async fn create_user(
        &self,
        spec: &UserSpec,
        marker: &Marker,
        adopt: bool,
    ) -> Result<UserObs, IdentityError> {
        directory::create_user(self, spec, marker, adopt).await
    }

    async fn update_user(
        &self,
        current: &UserObs,
        spec: &UserSpec,
        marker: &Marker,
    ) -> Result<Option<UserObs>, IdentityError> {
        directory::update_user(self, current, spec, marker).await
    }

    async fn set_password(&self, user_pk: i64, password: &Secret) -> Result<(), IdentityError> {
        directory::set_password(self, user_pk, password).await
    }

    async fn delete_user(&self, pk: i64) -> Result<(), IdentityError> {
        directory::delete_user(self, pk).await
    }

    async fn list_users(
        &self,
        installation: &str,
        kind: &str,
    ) -> Result<Vec<UserObs>, IdentityError> {
        directory::list_users(self, installation, kind).await
    }

    async fn add_member(&self, group_pk: &str, user_pk: i64) -> Result<(), IdentityError> {
        directory::add_member(self, group_pk, user_pk).await
    }

    async fn remove_member(&self, group_pk: &str, user_pk: i64) -> Result<(), IdentityError> {
        directory::remove_member(self, group_pk, user_pk).await
    }

    async fn list_sessions(&self, username: &str) -> Result<Vec<SessionObs>, IdentityError> {
        directory::list_sessions(self, username).await
    }

    async fn end_sessions(&self, user_pk: i64, username: &str) -> Result<usize, IdentityError> {
        directory::end_sessions(self, user_pk, username).await
    }

    async fn confirmed_authenticators(&self, user_pk: i64) -> Result<usize, IdentityError> {
        directory::confirmed_authenticators(self, user_pk).await
    }

    async fn observe_provider(
        &self,
        client_id: &str,
        marker: &Marker,
    ) -> Result<Observed<ProviderObs>, IdentityError> {
        sso::observe_provider(self, client_id, marker).await
    }

    async fn create_provider(
        &self,
        spec: &ProviderSpec,
        marker: &Marker,
        adopt: bool,
    ) -> Result<ProviderObs, IdentityError> {
        sso::create_provider(self, spec, marker, adopt).await
    }

    async fn update_provider(
        &self,
        current: &ProviderObs,
        spec: &ProviderSpec,
    ) -> Result<Option<ProviderObs>, IdentityError> {
        sso::update_provider(self, current, spec).await
    }

    async fn delete_provider(&self, pk: i64) -> Result<(), IdentityError> {
        sso::delete_provider(self, pk).await
    }

    async fn observe_application(
        &self,
        slug: &str,
        marker: &Marker,
    ) -> Result<Observed<ApplicationObs>, IdentityError> {
        sso::observe_application(self, slug, marker).await
    }

    async fn create_application(
        &self,
        spec: &ApplicationSpec,
        marker: &Marker,
        adopt: bool,
    ) -> Result<ApplicationObs, IdentityError> {
        sso::create_application(self, spec, marker, adopt).await
    }

    async fn update_application(
        &self,
        current: &ApplicationObs,
        spec: &ApplicationSpec,
    ) -> Result<Option<ApplicationObs>, IdentityError> {
        sso::update_application(self, current, spec).await
    }

    async fn delete_application(&self, slug: &str) -> Result<(), IdentityError> {
        sso::delete_application(self, slug).await
    }

    async fn list_bindings(&self, app_pk: &str) -> Result<Vec<BindingObs>, IdentityError> {
        sso::list_bindings(self, app_pk).await
    }

    async fn ensure_group_binding(
        &self,
        app_pk: &str,
        group_pk: &str,
    ) -> Result<BindingObs, IdentityError> {
        sso::ensure_group_binding(self, app_pk, group_pk).await
    }

    async fn delete_binding(&self, pk: &str) -> Result<(), IdentityError> {
        sso::delete_binding(self, pk).await
    }
}
