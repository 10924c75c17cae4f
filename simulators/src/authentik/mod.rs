//! The Authentik simulator: REST API v3 and an OIDC provider.
//!
//! It serves the subset of Authentik 2026.8 that Dezky uses, on the real paths (`/api/v3/...`,
//! `/application/o/...`), with Bearer API tokens (a bad token is 403, as in Authentik), DRF error
//! shapes and page-number pagination. A fresh instance holds what a fresh Authentik holds: the
//! `akadmin` superuser, the default flows, the "authentik Self-signed Certificate" keypair and the
//! managed OAuth2 scope mappings. See `/work/shared/upstreams/authentik.md` for the real behaviour.

mod api;
mod apps;
pub mod keys;
pub mod model;
mod oidc;
mod providers;
mod tokens;
mod users;
mod web;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::control::Control;
use keys::SigningKeys;
use model::{
    Application, Device, Flow, KeyPair, Provider, RedirectUri, ScopeMapping, Store, Token, User,
};
use web::ApiError;

/// The managed names of the default OAuth2 scope mappings of a fresh Authentik.
pub const SCOPE_MAPPINGS: [(&str, &str, &str); 6] = [
    (
        "openid",
        "authentik default OAuth Mapping: OpenID 'openid'",
        "",
    ),
    (
        "email",
        "authentik default OAuth Mapping: OpenID 'email'",
        "Email address",
    ),
    (
        "profile",
        "authentik default OAuth Mapping: OpenID 'profile'",
        "General Profile Information",
    ),
    (
        "entitlements",
        "authentik default OAuth Mapping: Application Entitlements",
        "Application entitlements",
    ),
    (
        "offline_access",
        "authentik default OAuth Mapping: OpenID 'offline_access'",
        "Access to request new tokens without interaction",
    ),
    (
        "goauthentik.io/api",
        "authentik default OAuth Mapping: authentik API access",
        "authentik API Access on behalf of your user",
    ),
];

/// The name of the seeded signing keypair.
pub const SELF_SIGNED_CERTIFICATE: &str = "authentik Self-signed Certificate";

/// Options of one simulated Authentik instance.
#[derive(Debug, Clone)]
pub struct AuthentikOptions {
    /// The API token of `akadmin` (intent `api`).
    pub api_token: String,
    /// Where to cache the RSA signing key between runs (PKCS#8 PEM); `None` keeps it in memory.
    pub signing_key_path: Option<PathBuf>,
}

/// One simulated Authentik instance. Cheap to clone.
#[derive(Clone)]
pub struct AuthentikSim {
    shared: Arc<Shared>,
}

struct Shared {
    store: Mutex<Store>,
    keys: SigningKeys,
}

impl std::fmt::Debug for AuthentikSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthentikSim").finish_non_exhaustive()
    }
}

/// One of the seeded OIDC applications (public client, PKCE).
#[derive(Debug, Clone)]
pub struct OidcApp {
    pub slug: String,
    pub name: String,
    pub client_id: String,
    /// Redirect URIs as `(matching_mode, url)`.
    pub redirect_uris: Vec<(String, String)>,
}

impl AuthentikSim {
    /// A fresh instance, seeded as a new Authentik is.
    pub fn new(options: AuthentikOptions) -> Self {
        let mut store = Store {
            install_id: Uuid::new_v4().to_string(),
            next_device_pk: 1,
            ..Store::default()
        };
        seed(&mut store, &options.api_token);
        Self {
            shared: Arc::new(Shared {
                store: Mutex::new(store),
                keys: SigningKeys::new(options.signing_key_path),
            }),
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn keys(&self) -> &SigningKeys {
        &self.shared.keys
    }

    /// The router of the REST API and the OIDC endpoints, wrapped by the control's counting and faults.
    pub fn router(&self, control: &Control) -> Router {
        let api = api::routes()
            .merge(users::routes())
            .merge(apps::routes())
            .merge(providers::routes())
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                require_token,
            ));
        let router = Router::new()
            .merge(api)
            .merge(oidc::routes())
            .merge(tokens::routes())
            .with_state(self.clone());
        control.apply("authentik", router)
    }

    /// Registers the state dump with the control API.
    pub fn register_dump(&self, control: &Control) {
        let sim = self.clone();
        control.register_dump("authentik", Arc::new(move || sim.dump()));
    }

    /// The whole state as JSON (groups, users, sessions, providers, applications, bindings).
    pub fn dump(&self) -> Value {
        let store = self.store();
        json!({
            "groups": store.groups.values().map(|g| store.group_json(g, true)).collect::<Vec<_>>(),
            "users": store.users.values().map(|u| store.user_json(u, false)).collect::<Vec<_>>(),
            "sessions": store.sessions.values().map(|s| store.session_json(s)).collect::<Vec<_>>(),
            "devices": store.devices.iter().map(|d| json!({"user": d.user, "device": Store::device_json(d)})).collect::<Vec<_>>(),
            "providers": store.providers.values().map(|p| {
                let mut v = store.provider_json(p);
                v["client_secret"] = json!("***");
                v
            }).collect::<Vec<_>>(),
            "applications": store.applications.values().map(|a| store.application_json(a)).collect::<Vec<_>>(),
            "bindings": store.bindings.values().map(|b| store.binding_json(b)).collect::<Vec<_>>(),
        })
    }

    /// Seeds a public OIDC application (provider + application, no bindings: open to every user),
    /// as the runner does for the console and the portal. Idempotent by slug.
    pub fn seed_oidc_app(&self, app: &OidcApp) {
        let mut store = self.store();
        if store.applications.contains_key(&app.slug) {
            return;
        }
        let flow = |store: &Store, slug: &str| {
            store
                .flows
                .iter()
                .find(|f| f.slug == slug)
                .map(|f| f.uuid)
                .unwrap_or_default()
        };
        let mappings = store
            .scope_mappings
            .iter()
            .filter(|m| {
                ["openid", "email", "profile", "offline_access"].contains(&m.scope_name.as_str())
            })
            .map(|m| m.uuid)
            .collect();
        store.next_provider_pk += 1;
        let pk = store.next_provider_pk;
        let provider = Provider {
            pk,
            name: format!("{} provider", app.name),
            authorization_flow: flow(&store, "default-provider-authorization-implicit-consent"),
            invalidation_flow: flow(&store, "default-provider-invalidation-flow"),
            property_mappings: mappings,
            client_type: "public".into(),
            client_id: app.client_id.clone(),
            client_secret: String::new(),
            redirect_uris: app
                .redirect_uris
                .iter()
                .map(|(mode, url)| RedirectUri {
                    matching_mode: mode.clone(),
                    url: url.clone(),
                    redirect_uri_type: "authorization".into(),
                })
                .collect(),
            signing_key: store
                .keypairs
                .iter()
                .find(|k| k.name == SELF_SIGNED_CERTIFICATE)
                .map(|k| k.uuid),
            sub_mode: "hashed_user_id".into(),
            issuer_mode: "per_provider".into(),
            include_claims_in_id_token: true,
            access_code_validity: "minutes=1".into(),
            access_token_validity: "hours=1".into(),
            refresh_token_validity: "days=30".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            logout_uri: String::new(),
            logout_method: "backchannel".into(),
        };
        store.providers.insert(pk, provider);
        store.applications.insert(
            app.slug.clone(),
            Application {
                pk: Uuid::new_v4(),
                name: app.name.clone(),
                slug: app.slug.clone(),
                provider: Some(pk),
                policy_engine_mode: "any".into(),
                meta_launch_url: String::new(),
                open_in_new_tab: false,
                meta_description: String::new(),
                meta_publisher: String::new(),
                group: String::new(),
                meta_hide: false,
            },
        );
    }

    /// Adds an authenticator device to a user (what enrolling TOTP or WebAuthn in the user
    /// interface does); returns its pk, or `None` when the user does not exist.
    pub fn add_device(&self, user: i64, type_label: &str, confirmed: bool) -> Option<String> {
        let mut store = self.store();
        if !store.users.contains_key(&user) {
            return None;
        }
        let pk = store.next_device_pk.to_string();
        store.next_device_pk += 1;
        let verbose_name = type_label
            .rsplit('.')
            .next()
            .unwrap_or(type_label)
            .replace("Device", " Device");
        store.devices.push(Device {
            pk: pk.clone(),
            user,
            name: format!("device {pk}"),
            type_label: type_label.to_owned(),
            verbose_name,
            confirmed,
            created: Utc::now(),
        });
        Some(pk)
    }
}

/// A random alphanumeric secret, as Authentik generates keys and client ids.
pub fn random_key(length: usize) -> String {
    users::generate_key(length)
}

fn seed(store: &mut Store, api_token: &str) {
    let now = Utc::now();
    store.next_user_pk = 1;
    let admin = User {
        pk: store.next_user_pk,
        uuid: Uuid::new_v4(),
        username: "akadmin".into(),
        name: "authentik Default Admin".into(),
        email: String::new(),
        is_active: true,
        is_superuser: true,
        attributes: Default::default(),
        path: "users".into(),
        user_type: "internal".into(),
        password: None,
        date_joined: now,
        last_updated: now,
        password_change_date: now,
        last_login: None,
    };
    store.users.insert(admin.pk, admin);
    store.next_group_pk = 1;
    let admins = model::Group {
        uuid: Uuid::new_v4(),
        num_pk: store.next_group_pk,
        name: "authentik Admins".into(),
        is_superuser: true,
        parents: vec![],
        users: [1].into(),
        attributes: Default::default(),
    };
    store.groups.insert(admins.uuid, admins);
    store.tokens.insert(
        "authentik-bootstrap-token".into(),
        Token {
            pk: Uuid::new_v4(),
            identifier: "authentik-bootstrap-token".into(),
            key: api_token.to_owned(),
            intent: "api".into(),
            user: 1,
            description: "bootstrap token".into(),
            expiring: false,
        },
    );
    for (slug, name, designation) in [
        (
            "default-authentication-flow",
            "Welcome to authentik!",
            "authentication",
        ),
        (
            "default-provider-authorization-implicit-consent",
            "Authorize Application",
            "authorization",
        ),
        (
            "default-provider-authorization-explicit-consent",
            "Authorize Application",
            "authorization",
        ),
        (
            "default-provider-invalidation-flow",
            "Logged out of application",
            "invalidation",
        ),
        ("default-invalidation-flow", "Logout", "invalidation"),
    ] {
        store.flows.push(Flow {
            uuid: Uuid::new_v4(),
            slug: slug.into(),
            name: name.into(),
            title: name.into(),
            designation: designation.into(),
        });
    }
    store.keypairs.push(KeyPair {
        uuid: Uuid::new_v4(),
        name: SELF_SIGNED_CERTIFICATE.into(),
        managed: None,
        kid: String::new(),
    });
    store.keypairs.push(KeyPair {
        uuid: Uuid::new_v4(),
        name: "authentik Internal JWT Certificate".into(),
        managed: Some("goauthentik.io/crypto/jwt-managed".into()),
        kid: String::new(),
    });
    for (scope, name, description) in SCOPE_MAPPINGS {
        let managed_suffix = if scope == "goauthentik.io/api" {
            "authentik_api"
        } else {
            scope
        };
        store.scope_mappings.push(ScopeMapping {
            uuid: Uuid::new_v4(),
            managed: format!("goauthentik.io/providers/oauth2/scope-{managed_suffix}"),
            name: name.into(),
            scope_name: scope.into(),
            description: description.into(),
        });
    }
}

/// Authentik's token authentication: Bearer only, tokens of intent `api` of active users; anything else is 403.
async fn require_token(State(sim): State<AuthentikSim>, request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(header) = header else {
        return ApiError::Forbidden("Authentication credentials were not provided.")
            .into_response();
    };
    let Some((scheme, key)) = header.split_once(' ') else {
        return ApiError::Forbidden("Invalid authorization header").into_response();
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return ApiError::Forbidden("Unsupported authentication type").into_response();
    }
    let valid = {
        let store = sim.store();
        store
            .tokens
            .values()
            .find(|t| t.intent == "api" && t.key == key.trim())
            .and_then(|t| store.users.get(&t.user))
            .is_some_and(|u| u.is_active)
    };
    if !valid {
        return ApiError::Forbidden("Token invalid/expired").into_response();
    }
    next.run(request).await
}
