//! Authentik simulator REST endpoints of `core`: groups, users, sessions, tokens, authenticators, version.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::AuthentikSim;
use super::model::{Group, Store};
use super::web::{
    ApiError, ApiResult, Fields, Params, attributes_match, body_object, created, no_content, ok,
    paginate,
};

pub fn routes() -> Router<AuthentikSim> {
    Router::new()
        .route("/api/v3/core/groups/", get(list_groups).post(create_group))
        .route(
            "/api/v3/core/groups/{group_uuid}/",
            get(get_group)
                .patch(patch_group)
                .put(put_group)
                .delete(delete_group),
        )
        .route("/api/v3/core/groups/{group_uuid}/add_user/", post(add_user))
        .route(
            "/api/v3/core/groups/{group_uuid}/remove_user/",
            post(remove_user),
        )
}

fn parse_group_uuid(raw: &str) -> Result<Uuid, ApiError> {
    // a malformed UUID is a 404 in Authentik (the URL converter does not match)
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found("Group"))
}

async fn list_groups(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let attributes = params.attributes()?;
    let include_users = params.flag("include_users", true);
    let members_by_pk: Vec<i64> = params
        .all("members_by_pk")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let members_by_username = params.all("members_by_username");
    let search = params.get("search").map(str::to_lowercase);
    let store = sim.store();
    let mut groups: Vec<&Group> = store
        .groups
        .values()
        .filter(|g| params.get("name").is_none_or(|n| g.name == n))
        .filter(|g| {
            params
                .get("is_superuser")
                .is_none_or(|v| g.is_superuser == (v == "true"))
        })
        .filter(|g| {
            attributes
                .as_ref()
                .is_none_or(|a| attributes_match(&g.attributes, a))
        })
        .filter(|g| members_by_pk.iter().all(|pk| g.users.contains(pk)))
        .filter(|g| {
            members_by_username.iter().all(|name| {
                g.users
                    .iter()
                    .filter_map(|pk| store.users.get(pk))
                    .any(|u| u.username == *name)
            })
        })
        .filter(|g| {
            search
                .as_ref()
                .is_none_or(|s| g.name.to_lowercase().contains(s))
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    let items = groups
        .into_iter()
        .map(|g| store.group_json(g, include_users))
        .collect();
    paginate(&params, items)
}

/// Validates a group body; returns (name, is_superuser, parents, users, attributes).
struct GroupInput {
    name: Option<String>,
    is_superuser: Option<bool>,
    parents: Option<Vec<Uuid>>,
    users: Option<Vec<i64>>,
    attributes: Option<Map<String, Value>>,
}

fn group_input(
    store: &Store,
    body: &Map<String, Value>,
    partial: bool,
    this: Option<Uuid>,
) -> Result<GroupInput, ApiError> {
    let mut f = Fields::new(body, partial);
    let name = f.string("name", true, false);
    if let Some(name) = &name {
        if store
            .groups
            .values()
            .any(|g| g.name == *name && Some(g.uuid) != this)
        {
            f.error("name", "Group with this name already exists.");
        }
        if name.chars().count() > 80 {
            f.error("name", "Ensure this field has no more than 80 characters.");
        }
    }
    let is_superuser = f.boolean("is_superuser");
    let parents = f.list("parents", false).map(|items| {
        items
            .iter()
            .filter_map(|v| f.uuid_ref("parents", v, |id| store.groups.contains_key(id)))
            .collect::<Vec<_>>()
    });
    if let (Some(parents), Some(this)) = (&parents, this)
        && parents.contains(&this)
    {
        f.error("parents", "Cannot set group as parent of itself.");
    }
    let users = f.list("users", false).map(|items| {
        items
            .iter()
            .filter_map(|v| f.int_ref("users", v, |id| store.users.contains_key(&id)))
            .collect::<Vec<_>>()
    });
    let attributes = f.dict("attributes");
    f.finish()?;
    Ok(GroupInput {
        name,
        is_superuser,
        parents,
        users,
        attributes,
    })
}

async fn create_group(State(sim): State<AuthentikSim>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    let mut store = sim.store();
    let input = group_input(&store, &body, false, None)?;
    store.next_group_pk += 1;
    let group = Group {
        uuid: Uuid::new_v4(),
        num_pk: store.next_group_pk,
        name: input.name.unwrap_or_default(),
        is_superuser: input.is_superuser.unwrap_or(false),
        parents: input.parents.unwrap_or_default(),
        users: input.users.unwrap_or_default().into_iter().collect(),
        attributes: input.attributes.unwrap_or_default(),
    };
    let value = store.group_json(&group, true);
    store.groups.insert(group.uuid, group);
    created(value)
}

async fn get_group(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let id = parse_group_uuid(&id)?;
    let params = Params::parse(q.as_deref());
    let store = sim.store();
    let group = store
        .groups
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Group"))?;
    ok(store.group_json(group, params.flag("include_users", true)))
}

async fn update_group(sim: AuthentikSim, id: String, body: Bytes, partial: bool) -> ApiResult {
    let id = parse_group_uuid(&id)?;
    let body = body_object(&body)?;
    let mut store = sim.store();
    if !store.groups.contains_key(&id) {
        return Err(ApiError::not_found("Group"));
    }
    let input = group_input(&store, &body, partial, Some(id))?;
    let group = store
        .groups
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("Group"))?;
    if let Some(name) = input.name {
        group.name = name;
    }
    if let Some(v) = input.is_superuser {
        group.is_superuser = v;
    }
    // a PUT without `users`/`parents` clears them (DRF defaults); a PATCH leaves them alone
    match input.parents {
        Some(parents) => group.parents = parents,
        None if !partial => group.parents.clear(),
        None => {}
    }
    match input.users {
        Some(users) => group.users = users.into_iter().collect(),
        None if !partial => group.users.clear(),
        None => {}
    }
    match input.attributes {
        Some(attributes) => group.attributes = attributes,
        None if !partial => group.attributes.clear(),
        None => {}
    }
    let group = group.clone();
    ok(store.group_json(&group, true))
}

async fn patch_group(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    update_group(sim, id, body, true).await
}

async fn put_group(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    update_group(sim, id, body, false).await
}

async fn delete_group(State(sim): State<AuthentikSim>, Path(id): Path<String>) -> ApiResult {
    let id = parse_group_uuid(&id)?;
    let mut store = sim.store();
    store
        .groups
        .remove(&id)
        .ok_or_else(|| ApiError::not_found("Group"))?;
    // bindings of this group go with it (FK on_delete=CASCADE)
    store.bindings.retain(|_, b| b.group != Some(id));
    for group in store.groups.values_mut() {
        group.parents.retain(|p| *p != id);
    }
    no_content()
}

async fn membership(sim: AuthentikSim, id: String, body: Bytes, add: bool) -> ApiResult {
    let id = parse_group_uuid(&id)?;
    let body = body_object(&body)?;
    let mut store = sim.store();
    if !store.groups.contains_key(&id) {
        return Err(ApiError::not_found("Group"));
    }
    let mut f = Fields::new(&body, false);
    let pk = f.integer("pk", true);
    f.finish()?;
    let pk = pk.unwrap_or_default();
    if !store.users.contains_key(&pk) {
        return Err(ApiError::NotFound("Not found.".into()));
    }
    let group = store
        .groups
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("Group"))?;
    if add {
        group.users.insert(pk);
    } else {
        group.users.remove(&pk);
    }
    no_content()
}

async fn add_user(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    membership(sim, id, body, true).await
}

async fn remove_user(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    membership(sim, id, body, false).await
}
