//! The Authentik simulator's in-memory objects and their JSON renderings (the 2026.8 response shapes).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A group (`authentik_core.group`).
#[derive(Debug, Clone)]
pub struct Group {
    pub uuid: Uuid,
    pub num_pk: i64,
    pub name: String,
    pub is_superuser: bool,
    pub parents: Vec<Uuid>,
    pub users: BTreeSet<i64>,
    pub attributes: Map<String, Value>,
}

/// A user (`authentik_core.user`).
#[derive(Debug, Clone)]
pub struct User {
    pub pk: i64,
    pub uuid: Uuid,
    pub username: String,
    pub name: String,
    pub email: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub attributes: Map<String, Value>,
    pub path: String,
    pub user_type: String,
    /// `salt$sha256(salt + password)`; `None` is Django's unusable password.
    pub password: Option<String>,
    pub date_joined: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub password_change_date: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

impl User {
    pub fn set_password(&mut self, password: &str) {
        let salt = Uuid::new_v4().simple().to_string();
        self.password = Some(format!("{salt}${}", hash_password(&salt, password)));
        self.password_change_date = Utc::now();
    }

    pub fn check_password(&self, password: &str) -> bool {
        let Some((salt, hash)) = self.password.as_deref().and_then(|p| p.split_once('$')) else {
            return false;
        };
        hash_password(salt, password) == hash
    }
}

fn hash_password(salt: &str, password: &str) -> String {
    hex(&Sha256::digest(format!("{salt}{password}").as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A login session (`authentik_core.authenticatedsession`).
#[derive(Debug, Clone)]
pub struct Session {
    pub uuid: Uuid,
    pub user: i64,
    /// The browser cookie value.
    pub key: String,
    pub last_ip: String,
    pub last_user_agent: String,
    pub last_used: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// An authenticator device of a user.
#[derive(Debug, Clone)]
pub struct Device {
    pub pk: String,
    pub user: i64,
    pub name: String,
    /// Django model label, e.g. `authentik_stages_authenticator_totp.TOTPDevice`.
    pub type_label: String,
    pub verbose_name: String,
    pub confirmed: bool,
    pub created: DateTime<Utc>,
}

/// A flow, seeded and read-only.
#[derive(Debug, Clone)]
pub struct Flow {
    pub uuid: Uuid,
    pub slug: String,
    pub name: String,
    pub title: String,
    pub designation: String,
}

/// A certificate keypair, seeded and read-only.
#[derive(Debug, Clone)]
pub struct KeyPair {
    pub uuid: Uuid,
    pub name: String,
    pub managed: Option<String>,
    pub kid: String,
}

/// A scope mapping (`authentik_providers_oauth2.scopemapping`), seeded and read-only.
#[derive(Debug, Clone)]
pub struct ScopeMapping {
    pub uuid: Uuid,
    pub managed: String,
    pub name: String,
    pub scope_name: String,
    pub description: String,
}

/// A redirect URI of an OAuth2 provider.
#[derive(Debug, Clone, PartialEq)]
pub struct RedirectUri {
    pub matching_mode: String,
    pub url: String,
    pub redirect_uri_type: String,
}

/// An OAuth2/OpenID provider.
#[derive(Debug, Clone)]
pub struct Provider {
    pub pk: i64,
    pub name: String,
    pub authorization_flow: Uuid,
    pub invalidation_flow: Uuid,
    pub property_mappings: Vec<Uuid>,
    pub client_type: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub signing_key: Option<Uuid>,
    pub sub_mode: String,
    pub issuer_mode: String,
    pub include_claims_in_id_token: bool,
    pub access_code_validity: String,
    pub access_token_validity: String,
    pub refresh_token_validity: String,
    pub grant_types: Vec<String>,
    pub logout_uri: String,
    pub logout_method: String,
}

/// An application.
#[derive(Debug, Clone)]
pub struct Application {
    pub pk: Uuid,
    pub name: String,
    pub slug: String,
    pub provider: Option<i64>,
    pub policy_engine_mode: String,
    pub meta_launch_url: String,
    pub open_in_new_tab: bool,
    pub meta_description: String,
    pub meta_publisher: String,
    pub group: String,
    pub meta_hide: bool,
}

/// A policy binding (only group and user bindings are evaluated).
#[derive(Debug, Clone)]
pub struct Binding {
    pub pk: Uuid,
    pub target: Uuid,
    pub group: Option<Uuid>,
    pub user: Option<i64>,
    pub policy: Option<Uuid>,
    pub order: i64,
    pub enabled: bool,
    pub negate: bool,
    pub timeout: i64,
    pub failure_result: bool,
}

/// A token (API or app password).
#[derive(Debug, Clone)]
pub struct Token {
    pub pk: Uuid,
    pub identifier: String,
    pub key: String,
    pub intent: String,
    pub user: i64,
    pub description: String,
    pub expiring: bool,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub provider: i64,
    pub user: i64,
    pub session: Uuid,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<(String, String)>,
    pub auth_time: i64,
    pub expires: DateTime<Utc>,
}

/// An issued access or refresh token (for userinfo, refresh and revocation by session).
#[derive(Debug, Clone)]
pub struct Grant {
    pub provider: i64,
    pub user: i64,
    pub session: Option<Uuid>,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub expires: DateTime<Utc>,
    pub refresh: bool,
}

/// The whole simulated instance.
#[derive(Debug, Default)]
pub struct Store {
    pub install_id: String,
    pub groups: BTreeMap<Uuid, Group>,
    pub users: BTreeMap<i64, User>,
    pub sessions: BTreeMap<Uuid, Session>,
    pub devices: Vec<Device>,
    pub flows: Vec<Flow>,
    pub keypairs: Vec<KeyPair>,
    pub scope_mappings: Vec<ScopeMapping>,
    pub providers: BTreeMap<i64, Provider>,
    pub applications: BTreeMap<String, Application>,
    pub bindings: BTreeMap<Uuid, Binding>,
    pub tokens: BTreeMap<String, Token>,
    pub codes: HashMap<String, AuthCode>,
    pub grants: HashMap<String, Grant>,
    pub next_group_pk: i64,
    pub next_user_pk: i64,
    pub next_provider_pk: i64,
    pub next_device_pk: i64,
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Store {
    /// The OIDC `uid` of a user: sha256 of `"{pk}-{install id}"`, as Authentik computes it.
    pub fn user_uid(&self, user: &User) -> String {
        hex(&Sha256::digest(
            format!("{}-{}", user.pk, self.install_id).as_bytes(),
        ))
    }

    pub fn user_groups(&self, pk: i64) -> Vec<&Group> {
        self.groups
            .values()
            .filter(|g| g.users.contains(&pk))
            .collect()
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.values().find(|g| g.name == name)
    }

    pub fn group_member_json(&self, user: &User) -> Value {
        json!({
            "pk": user.pk, "username": user.username, "name": user.name, "is_active": user.is_active,
            "last_login": user.last_login.as_ref().map(ts), "email": user.email,
            "attributes": user.attributes, "uid": self.user_uid(user),
        })
    }

    pub fn group_json(&self, group: &Group, include_users: bool) -> Value {
        let users_obj = include_users.then(|| {
            group
                .users
                .iter()
                .filter_map(|pk| self.users.get(pk))
                .map(|u| self.group_member_json(u))
                .collect::<Vec<_>>()
        });
        json!({
            "pk": group.uuid, "num_pk": group.num_pk, "name": group.name, "is_superuser": group.is_superuser,
            "parents": group.parents, "parents_obj": null,
            "users": group.users, "users_obj": users_obj, "attributes": group.attributes,
            "roles": [], "roles_obj": [], "inherited_roles_obj": [], "children": [], "children_obj": null,
        })
    }

    pub fn partial_group_json(&self, group: &Group) -> Value {
        json!({
            "pk": group.uuid, "num_pk": group.num_pk, "name": group.name, "is_superuser": group.is_superuser,
            "attributes": group.attributes,
        })
    }

    pub fn user_json(&self, user: &User, include_groups: bool) -> Value {
        let groups: Vec<&Group> = self.user_groups(user.pk);
        let groups_obj = include_groups.then(|| {
            groups
                .iter()
                .map(|g| {
                    json!({"pk": g.uuid, "num_pk": g.num_pk, "name": g.name, "is_superuser": g.is_superuser,
                           "parents": g.parents, "attributes": g.attributes})
                })
                .collect::<Vec<_>>()
        });
        json!({
            "pk": user.pk, "uuid": user.uuid, "username": user.username, "name": user.name,
            "is_active": user.is_active, "last_login": user.last_login.as_ref().map(ts),
            "date_joined": ts(&user.date_joined), "is_superuser": user.is_superuser,
            "groups": groups.iter().map(|g| g.uuid).collect::<Vec<_>>(), "groups_obj": groups_obj,
            "roles": [], "roles_obj": [], "email": user.email, "avatar": "",
            "attributes": user.attributes, "uid": self.user_uid(user), "path": user.path, "type": user.user_type,
            "password_change_date": ts(&user.password_change_date),
            "last_updated": ts(&user.last_updated),
        })
    }

    pub fn session_json(&self, session: &Session) -> Value {
        json!({
            "uuid": session.uuid, "current": false, "user": session.user, "last_ip": session.last_ip,
            "last_user_agent": session.last_user_agent, "last_used": ts(&session.last_used),
            "expires": ts(&session.expires),
            "user_agent": {"device": {"brand": null, "family": "Other", "model": null},
                           "os": {"family": "Other", "major": null, "minor": null, "patch": null, "patch_minor": null},
                           "user_agent": {"family": "Other", "major": null, "minor": null, "patch": null},
                           "string": session.last_user_agent},
            "geo_ip": null, "asn": null,
        })
    }

    pub fn device_json(device: &Device) -> Value {
        json!({
            "verbose_name": device.verbose_name, "verbose_name_plural": format!("{}s", device.verbose_name),
            "meta_model_name": device.type_label.to_lowercase(), "pk": device.pk, "name": device.name,
            "type": device.type_label, "confirmed": device.confirmed, "created": ts(&device.created),
            "last_updated": ts(&device.created), "last_used": null, "extra_description": null, "external_id": null,
        })
    }

    pub fn flow_json(flow: &Flow) -> Value {
        json!({
            "pk": flow.uuid, "policybindingmodel_ptr_id": flow.uuid, "name": flow.name, "slug": flow.slug,
            "title": flow.title, "designation": flow.designation, "background": "", "stages": [], "policies": [],
            "cache_count": 0, "policy_engine_mode": "any", "compatibility_mode": false, "export_url": "",
            "layout": "stacked", "denied_action": "message_continue", "authentication": "none",
        })
    }

    pub fn keypair_json(key: &KeyPair) -> Value {
        json!({
            "pk": key.uuid, "name": key.name, "fingerprint_sha256": null, "fingerprint_sha1": null,
            "cert_expiry": null, "cert_subject": null, "private_key_available": true,
            "key_type": "rsa", "certificate_download_url": "", "private_key_download_url": "",
            "managed": key.managed, "kid": key.kid,
        })
    }

    pub fn scope_mapping_json(mapping: &ScopeMapping) -> Value {
        json!({
            "pk": mapping.uuid, "managed": mapping.managed, "name": mapping.name, "expression": "",
            "component": "ak-property-mapping-provider-scope-form",
            "verbose_name": "Scope Mapping", "verbose_name_plural": "Scope Mappings",
            "meta_model_name": "authentik_providers_oauth2.scopemapping",
            "scope_name": mapping.scope_name, "description": mapping.description,
        })
    }

    pub fn application_of_provider(&self, pk: i64) -> Option<&Application> {
        self.applications.values().find(|a| a.provider == Some(pk))
    }

    pub fn provider_json(&self, p: &Provider) -> Value {
        let app = self.application_of_provider(p.pk);
        json!({
            "pk": p.pk, "name": p.name, "authentication_flow": null,
            "authorization_flow": p.authorization_flow, "invalidation_flow": p.invalidation_flow,
            "property_mappings": p.property_mappings, "component": "ak-provider-oauth2-form",
            "assigned_application_slug": app.map(|a| a.slug.clone()),
            "assigned_application_name": app.map(|a| a.name.clone()),
            "assigned_backchannel_application_slug": null, "assigned_backchannel_application_name": null,
            "verbose_name": "OAuth2/OpenID Provider", "verbose_name_plural": "OAuth2/OpenID Providers",
            "meta_model_name": "authentik_providers_oauth2.oauth2provider",
            "client_type": p.client_type, "client_id": p.client_id, "client_secret": p.client_secret,
            "access_code_validity": p.access_code_validity, "access_token_validity": p.access_token_validity,
            "refresh_token_validity": p.refresh_token_validity, "refresh_token_threshold": "seconds=0",
            "include_claims_in_id_token": p.include_claims_in_id_token, "signing_key": p.signing_key,
            "encryption_key": null,
            "redirect_uris": p.redirect_uris.iter().map(|r| json!({"matching_mode": r.matching_mode, "url": r.url, "redirect_uri_type": r.redirect_uri_type})).collect::<Vec<_>>(),
            "logout_uri": p.logout_uri, "logout_method": p.logout_method,
            "sub_mode": p.sub_mode, "issuer_mode": p.issuer_mode, "jwt_federation_sources": [],
            "jwt_federation_providers": [], "grant_types": p.grant_types,
        })
    }

    pub fn application_json(&self, app: &Application) -> Value {
        let provider_obj = app.provider.and_then(|pk| self.providers.get(&pk)).map(|p| {
            json!({"pk": p.pk, "name": p.name, "authorization_flow": p.authorization_flow,
                   "invalidation_flow": p.invalidation_flow, "component": "ak-provider-oauth2-form",
                   "assigned_application_slug": app.slug, "assigned_application_name": app.name,
                   "verbose_name": "OAuth2/OpenID Provider", "meta_model_name": "authentik_providers_oauth2.oauth2provider"})
        });
        let launch_url = if app.meta_launch_url.is_empty() {
            Value::Null
        } else {
            json!(app.meta_launch_url)
        };
        json!({
            "pk": app.pk, "name": app.name, "slug": app.slug, "provider": app.provider, "provider_obj": provider_obj,
            "backchannel_providers": [], "backchannel_providers_obj": [], "launch_url": launch_url,
            "open_in_new_tab": app.open_in_new_tab, "meta_launch_url": app.meta_launch_url,
            "meta_icon": null, "meta_icon_url": null, "meta_description": app.meta_description,
            "meta_publisher": app.meta_publisher, "meta_hide": app.meta_hide,
            "policy_engine_mode": app.policy_engine_mode, "group": app.group,
        })
    }

    pub fn binding_json(&self, b: &Binding) -> Value {
        json!({
            "pk": b.pk, "policy": b.policy, "group": b.group, "user": b.user,
            "policy_obj": null,
            "group_obj": b.group.and_then(|g| self.groups.get(&g)).map(|g| self.partial_group_json(g)),
            "user_obj": b.user.and_then(|u| self.users.get(&u)).map(|u| self.group_member_json(u)),
            "target": b.target, "negate": b.negate, "enabled": b.enabled, "order": b.order,
            "timeout": b.timeout, "failure_result": b.failure_result,
        })
    }

    /// Whether `user` may use the application (its group and user bindings, `any`/`all` mode;
    /// no bindings at all lets every user in).
    pub fn user_can_access(&self, app: &Application, user: &User) -> bool {
        let results: Vec<bool> = self
            .bindings
            .values()
            .filter(|b| b.target == app.pk && b.enabled)
            .map(|b| {
                let passing = if let Some(group) = b.group {
                    self.groups
                        .get(&group)
                        .is_some_and(|g| g.users.contains(&user.pk))
                } else if let Some(u) = b.user {
                    u == user.pk
                } else {
                    // expression policies are not simulated: they fail closed
                    b.failure_result
                };
                passing != b.negate
            })
            .collect();
        if results.is_empty() {
            return true;
        }
        if app.policy_engine_mode == "all" {
            results.iter().all(|r| *r)
        } else {
            results.iter().any(|r| *r)
        }
    }
}
