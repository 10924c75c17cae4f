//! Authentik simulator REST endpoints for users, sessions, tokens, authenticators and the version.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{delete, get, post};
use chrono::Utc;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::AuthentikSim;
use super::model::{Store, Token, User};
use super::web::{
    ApiError, ApiResult, Fields, Params, attributes_match, body_object, created, no_content, ok,
    paginate,
};

fn parse_user_pk(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("User"))
}

async fn list_users(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let attributes = params.attributes()?;
    let include_groups = params.flag("include_groups", true);
    let groups_by_name = params.all("groups_by_name");
    let groups_by_pk = params.all("groups_by_pk");
    let types = params.all("type");
    let search = params.get("search").map(str::to_lowercase);
    let store = sim.store();
    let mut users: Vec<&User> = store
        .users
        .values()
        .filter(|u| params.get("username").is_none_or(|v| u.username == v))
        .filter(|u| params.get("email").is_none_or(|v| u.email == v))
        .filter(|u| params.get("name").is_none_or(|v| u.name == v))
        .filter(|u| params.get("uuid").is_none_or(|v| u.uuid.to_string() == v))
        .filter(|u| {
            params
                .get("is_active")
                .is_none_or(|v| u.is_active == (v == "true"))
        })
        .filter(|u| {
            params
                .get("is_superuser")
                .is_none_or(|v| u.is_superuser == (v == "true"))
        })
        .filter(|u| params.get("path").is_none_or(|v| u.path == v))
        .filter(|u| {
            params
                .get("path_startswith")
                .is_none_or(|v| u.path.starts_with(v))
        })
        .filter(|u| types.is_empty() || types.contains(&u.user_type.as_str()))
        .filter(|u| {
            attributes
                .as_ref()
                .is_none_or(|a| attributes_match(&u.attributes, a))
        })
        .filter(|u| {
            let groups = store.user_groups(u.pk);
            groups_by_name
                .iter()
                .all(|n| groups.iter().any(|g| g.name == *n))
                && groups_by_pk
                    .iter()
                    .all(|p| groups.iter().any(|g| g.uuid.to_string() == *p))
        })
        .filter(|u| {
            search.as_ref().is_none_or(|s| {
                [&u.username, &u.email, &u.name]
                    .iter()
                    .any(|f| f.to_lowercase().contains(s))
                    || u.uuid.to_string().contains(s)
            })
        })
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let items = users
        .into_iter()
        .map(|u| store.user_json(u, include_groups))
        .collect();
    paginate(&params, items)
}

struct UserInput {
    username: Option<String>,
    name: Option<String>,
    email: Option<String>,
    is_active: Option<bool>,
    groups: Option<Vec<Uuid>>,
    attributes: Option<Map<String, Value>>,
    path: Option<String>,
    user_type: Option<String>,
}

fn user_input(
    store: &Store,
    body: &Map<String, Value>,
    partial: bool,
    this: Option<i64>,
) -> Result<UserInput, ApiError> {
    let mut f = Fields::new(body, partial);
    let username = f.string("username", true, false);
    if let Some(username) = &username {
        if username.chars().count() > 150 {
            f.error(
                "username",
                "Ensure this field has no more than 150 characters.",
            );
        }
        if store
            .users
            .values()
            .any(|u| u.username == *username && Some(u.pk) != this)
        {
            f.error("username", "This field must be unique.");
        }
    }
    let name = f.string("name", true, true);
    let email = f.string("email", false, true);
    if let Some(email) = &email
        && !email.is_empty()
        && !looks_like_email(email)
    {
        f.error("email", "Enter a valid email address.");
    }
    let is_active = f.boolean("is_active");
    let groups = f.list("groups", false).map(|items| {
        items
            .iter()
            .filter_map(|v| f.uuid_ref("groups", v, |id| store.groups.contains_key(id)))
            .collect::<Vec<_>>()
    });
    let attributes = f.dict("attributes");
    let path = f.string("path", false, false);
    if let Some(path) = &path
        && (path.starts_with('/') || path.ends_with('/') || path.split('/').any(str::is_empty))
    {
        f.error("path", "No leading or trailing slashes allowed.");
    }
    let user_type = f.choice(
        "type",
        &[
            "internal",
            "external",
            "service_account",
            "internal_service_account",
        ],
    );
    if user_type.as_deref() == Some("internal_service_account") && this.is_none() {
        f.error(
            "type",
            "Setting a user to internal service account is not allowed.",
        );
    }
    f.finish()?;
    Ok(UserInput {
        username,
        name,
        email,
        is_active,
        groups,
        attributes,
        path,
        user_type,
    })
}

fn looks_like_email(email: &str) -> bool {
    email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !email.contains(' ')
    })
}

async fn create_user(State(sim): State<AuthentikSim>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    let mut store = sim.store();
    let input = user_input(&store, &body, false, None)?;
    let now = Utc::now();
    store.next_user_pk += 1;
    let user = User {
        pk: store.next_user_pk,
        uuid: Uuid::new_v4(),
        username: input.username.unwrap_or_default(),
        name: input.name.unwrap_or_default(),
        email: input.email.unwrap_or_default(),
        is_active: input.is_active.unwrap_or(true),
        is_superuser: false,
        attributes: input.attributes.unwrap_or_default(),
        path: input.path.unwrap_or_else(|| "users".into()),
        user_type: input.user_type.unwrap_or_else(|| "internal".into()),
        // created through the API: no usable password until set_password
        password: None,
        date_joined: now,
        last_updated: now,
        password_change_date: now,
        last_login: None,
    };
    for group in input.groups.unwrap_or_default() {
        if let Some(g) = store.groups.get_mut(&group) {
            g.users.insert(user.pk);
        }
    }
    let value = store.user_json(&user, true);
    store.users.insert(user.pk, user);
    created(value)
}

async fn get_user(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let pk = parse_user_pk(&id)?;
    let params = Params::parse(q.as_deref());
    let store = sim.store();
    let user = store
        .users
        .get(&pk)
        .ok_or_else(|| ApiError::not_found("User"))?;
    ok(store.user_json(user, params.flag("include_groups", true)))
}

async fn patch_user(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let pk = parse_user_pk(&id)?;
    let body = body_object(&body)?;
    let mut store = sim.store();
    if !store.users.contains_key(&pk) {
        return Err(ApiError::not_found("User"));
    }
    let input = user_input(&store, &body, true, Some(pk))?;
    if let Some(groups) = &input.groups {
        for group in store.groups.values_mut() {
            if groups.contains(&group.uuid) {
                group.users.insert(pk);
            } else {
                group.users.remove(&pk);
            }
        }
    }
    let user = store
        .users
        .get_mut(&pk)
        .ok_or_else(|| ApiError::not_found("User"))?;
    let deactivated = user.is_active && input.is_active == Some(false);
    if let Some(v) = input.username {
        user.username = v;
    }
    if let Some(v) = input.name {
        user.name = v;
    }
    if let Some(v) = input.email {
        user.email = v;
    }
    if let Some(v) = input.is_active {
        user.is_active = v;
    }
    if let Some(v) = input.attributes {
        user.attributes = v;
    }
    if let Some(v) = input.path {
        user.path = v;
    }
    if let Some(v) = input.user_type {
        user.user_type = v;
    }
    user.last_updated = Utc::now();
    if deactivated {
        // signal user_deactivated_delete_sessions: a deactivated user loses every session and
        // the OAuth grants bound to them
        delete_sessions_of(&mut store, &[pk]);
    }
    let user = store
        .users
        .get(&pk)
        .cloned()
        .ok_or_else(|| ApiError::not_found("User"))?;
    ok(store.user_json(&user, true))
}

async fn delete_user(State(sim): State<AuthentikSim>, Path(id): Path<String>) -> ApiResult {
    let pk = parse_user_pk(&id)?;
    let mut store = sim.store();
    store
        .users
        .remove(&pk)
        .ok_or_else(|| ApiError::not_found("User"))?;
    for group in store.groups.values_mut() {
        group.users.remove(&pk);
    }
    delete_sessions_of(&mut store, &[pk]);
    store.devices.retain(|d| d.user != pk);
    store.tokens.retain(|_, t| t.user != pk);
    store.bindings.retain(|_, b| b.user != Some(pk));
    store.grants.retain(|_, g| g.user != pk);
    no_content()
}

async fn set_password(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let pk = parse_user_pk(&id)?;
    let body = body_object(&body)?;
    let mut store = sim.store();
    let user = store
        .users
        .get_mut(&pk)
        .ok_or_else(|| ApiError::not_found("User"))?;
    let mut f = Fields::new(&body, false);
    let password = f.string("password", true, false);
    f.finish()?;
    match password {
        Some(password) => {
            user.set_password(&password);
            no_content()
        }
        None => Err(ApiError::EmptyBadRequest),
    }
}

/// Deletes every session of these users and the grants bound to them (FK cascade).
pub(super) fn delete_sessions_of(store: &mut Store, users: &[i64]) -> usize {
    let gone: Vec<Uuid> = store
        .sessions
        .values()
        .filter(|s| users.contains(&s.user))
        .map(|s| s.uuid)
        .collect();
    for uuid in &gone {
        store.sessions.remove(uuid);
    }
    store
        .grants
        .retain(|_, g| g.session.is_none_or(|s| !gone.contains(&s)));
    store.codes.retain(|_, c| !gone.contains(&c.session));
    gone.len()
}

async fn list_sessions(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let store = sim.store();
    let items = store
        .sessions
        .values()
        .filter(|s| {
            params
                .get("user__username")
                .is_none_or(|name| store.users.get(&s.user).is_some_and(|u| u.username == name))
        })
        .filter(|s| {
            params
                .get("session__last_ip")
                .is_none_or(|ip| s.last_ip == ip)
        })
        .map(|s| store.session_json(s))
        .collect();
    paginate(&params, items)
}

async fn get_session(State(sim): State<AuthentikSim>, Path(id): Path<String>) -> ApiResult {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("AuthenticatedSession"))?;
    let store = sim.store();
    let session = store
        .sessions
        .get(&id)
        .ok_or_else(|| ApiError::not_found("AuthenticatedSession"))?;
    ok(store.session_json(session))
}

async fn delete_session(State(sim): State<AuthentikSim>, Path(id): Path<String>) -> ApiResult {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("AuthenticatedSession"))?;
    let mut store = sim.store();
    store
        .sessions
        .remove(&id)
        .ok_or_else(|| ApiError::not_found("AuthenticatedSession"))?;
    store.grants.retain(|_, g| g.session != Some(id));
    store.codes.retain(|_, c| c.session != id);
    no_content()
}

async fn bulk_delete_sessions(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let raw = params.all("user_pks");
    if raw.is_empty() {
        return Err(ApiError::field("user_pks", "This field is required."));
    }
    let mut pks = Vec::new();
    for value in raw {
        pks.push(
            value
                .parse::<i64>()
                .map_err(|_| ApiError::field("user_pks", "A valid integer is required."))?,
        );
    }
    let mut store = sim.store();
    let deleted = delete_sessions_of(&mut store, &pks);
    ok(json!({"deleted": deleted}))
}

fn token_json(store: &Store, token: &Token) -> Value {
    json!({
        "pk": token.pk, "managed": null, "identifier": token.identifier, "intent": token.intent,
        "user": token.user, "user_obj": store.users.get(&token.user).map(|u| store.group_member_json(u)),
        "description": token.description, "expires": null, "expiring": token.expiring,
    })
}

async fn list_tokens(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let store = sim.store();
    let items = store
        .tokens
        .values()
        .filter(|t| params.get("identifier").is_none_or(|v| t.identifier == v))
        .filter(|t| params.get("intent").is_none_or(|v| t.intent == v))
        .filter(|t| {
            params
                .get("user__username")
                .is_none_or(|v| store.users.get(&t.user).is_some_and(|u| u.username == v))
        })
        .map(|t| token_json(&store, t))
        .collect();
    paginate(&params, items)
}

/// `POST /core/users/service_account/`: a service-account user and an app password token
/// (intent `app_password`: usable for the OAuth2 client-credentials grant, not for the API).
async fn service_account(State(sim): State<AuthentikSim>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    let mut store = sim.store();
    let mut f = Fields::new(&body, false);
    let name = f.string("name", true, false);
    let create_group = f.boolean("create_group").unwrap_or(false);
    let expiring = f.boolean("expiring").unwrap_or(true);
    if let Some(name) = &name
        && store.users.values().any(|u| u.username == *name)
    {
        f.error("username", "This field must be unique.");
    }
    f.finish()?;
    let name = name.unwrap_or_default();
    let now = Utc::now();
    store.next_user_pk += 1;
    let user = User {
        pk: store.next_user_pk,
        uuid: Uuid::new_v4(),
        username: name.clone(),
        name: name.clone(),
        email: String::new(),
        is_active: true,
        is_superuser: false,
        attributes: Map::new(),
        path: "goauthentik.io/service-accounts".into(),
        user_type: "service_account".into(),
        password: None,
        date_joined: now,
        last_updated: now,
        password_change_date: now,
        last_login: None,
    };
    let mut group_pk = None;
    if create_group {
        store.next_group_pk += 1;
        let group = super::model::Group {
            uuid: Uuid::new_v4(),
            num_pk: store.next_group_pk,
            name: name.clone(),
            is_superuser: false,
            parents: vec![],
            users: [user.pk].into(),
            attributes: Map::new(),
        };
        group_pk = Some(group.uuid);
        store.groups.insert(group.uuid, group);
    }
    let token = Token {
        pk: Uuid::new_v4(),
        identifier: format!("service-account-{name}-password"),
        key: generate_key(60),
        intent: "app_password".into(),
        user: user.pk,
        description: format!("App password for {name}"),
        expiring,
    };
    let mut answer = json!({
        "username": user.username, "token": token.key, "user_uid": store.user_uid(&user), "user_pk": user.pk,
    });
    if let Some(group_pk) = group_pk {
        answer["group_pk"] = json!(group_pk);
    }
    store.tokens.insert(token.identifier.clone(), token);
    store.users.insert(user.pk, user);
    ok(answer)
}

async fn create_token(State(sim): State<AuthentikSim>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    let mut store = sim.store();
    let mut f = Fields::new(&body, false);
    let identifier = f.string("identifier", true, false);
    if let Some(id) = &identifier {
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            f.error(
                "identifier",
                "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.",
            );
        }
        if store.tokens.contains_key(id) {
            f.error("identifier", "Token with this identifier already exists.");
        }
    }
    let intent = f.choice(
        "intent",
        &["verification", "api", "recovery", "app_password"],
    );
    let user = match f.nullable("user") {
        Some(Some(v)) => f.int_ref("user", v, |id| store.users.contains_key(&id)),
        _ => Some(1),
    };
    let description = f.string("description", false, true);
    let expiring = f.boolean("expiring");
    f.finish()?;
    let token = Token {
        pk: Uuid::new_v4(),
        identifier: identifier.unwrap_or_default(),
        key: generate_key(60),
        intent: intent.unwrap_or_else(|| "api".into()),
        user: user.unwrap_or(1),
        description: description.unwrap_or_default(),
        expiring: expiring.unwrap_or(true),
    };
    let value = token_json(&store, &token);
    store.tokens.insert(token.identifier.clone(), token);
    created(value)
}

async fn view_key(State(sim): State<AuthentikSim>, Path(identifier): Path<String>) -> ApiResult {
    let store = sim.store();
    let token = store
        .tokens
        .get(&identifier)
        .ok_or_else(|| ApiError::not_found("Token"))?;
    ok(json!({"key": token.key}))
}

/// A random alphanumeric key, as Authentik's `generate_id`.
pub fn generate_key(length: usize) -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

async fn list_devices(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let user = match params.get("user") {
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::field("user", "A valid integer is required."))?,
        ),
        None => None,
    };
    let store = sim.store();
    let devices: Vec<Value> = store
        .devices
        .iter()
        .filter(|d| user.is_none_or(|u| d.user == u))
        .map(Store::device_json)
        .collect();
    // a bare array: this endpoint is not paginated
    ok(Value::Array(devices))
}

async fn version() -> ApiResult {
    ok(json!({
        "version_current": "2026.8.5", "version_latest": "2026.8.5", "version_latest_valid": true,
        "build_hash": "dezky-simulator", "outdated": false, "outpost_outdated": false,
    }))
}

pub fn routes() -> Router<AuthentikSim> {
    Router::new()
        .route("/api/v3/core/users/", get(list_users).post(create_user))
        .route("/api/v3/core/users/service_account/", post(service_account))
        .route(
            "/api/v3/core/users/{id}/",
            get(get_user).patch(patch_user).delete(delete_user),
        )
        .route("/api/v3/core/users/{id}/set_password/", post(set_password))
        .route("/api/v3/core/authenticated_sessions/", get(list_sessions))
        .route(
            "/api/v3/core/authenticated_sessions/bulk_delete/",
            delete(bulk_delete_sessions),
        )
        .route(
            "/api/v3/core/authenticated_sessions/{uuid}/",
            get(get_session).delete(delete_session),
        )
        .route("/api/v3/core/tokens/", get(list_tokens).post(create_token))
        .route("/api/v3/core/tokens/{identifier}/view_key/", get(view_key))
        .route("/api/v3/authenticators/admin/all/", get(list_devices))
        .route("/api/v3/admin/version/", get(version))
}
