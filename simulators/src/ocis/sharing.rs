//! Space permission and group handlers of the OCIS simulator: invite, list, change and remove
//! grants; create, list, get and delete groups.

use std::collections::HashMap;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::model::*;
use super::{Ocis, drive_not_found, odata, reject, strict_body};

fn role_values() -> Vec<Value> {
    SPACE_ROLES
        .iter()
        .map(|(id, _, name, description, weight)| json!({"id": id, "displayName": name, "description": description, "@libre.graph.weight": weight}))
        .collect()
}

pub(super) async fn role_definitions(State(sim): State<Ocis>, headers: HeaderMap) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    Json(Value::Array(role_values())).into_response()
}

pub(super) async fn list_permissions(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let model = sim.lock();
    let Some(drive) = model.drives.get(&id).filter(|d| !d.disabled) else {
        return drive_not_found();
    };
    let value: Vec<Value> = drive
        .grants
        .iter()
        .map(|g| model.permission_json(g, None))
        .collect();
    Json(json!({
        "@libre.graph.permissions.actions.allowedValues": [
            "libre.graph/driveItem/basic/read", "libre.graph/driveItem/permissions/read",
            "libre.graph/driveItem/upload/create", "libre.graph/driveItem/children/create",
            "libre.graph/driveItem/standard/delete", "libre.graph/driveItem/permissions/create",
            "libre.graph/driveItem/permissions/update", "libre.graph/driveItem/permissions/delete"
        ],
        "@libre.graph.permissions.roles.allowedValues": role_values(),
        "value": value,
    }))
    .into_response()
}

/// Checks a role id for a space root, as `Invite` and the permission PATCH do.
fn check_space_role(role: Option<&str>) -> Result<String, Box<Response>> {
    match role {
        Some(role) if SPACE_ROLES.iter().any(|r| r.0 == role) => Ok(role.to_string()),
        Some(role) if ITEM_ROLES.contains(&role) => Err(reject(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "role not applicable to this resource",
        )),
        _ => Err(reject(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "unknown unified role, check if the role is enabled",
        )),
    }
}

pub(super) async fn invite(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let body = match strict_body(
        &body,
        &[
            "recipients",
            "roles",
            "expirationDateTime",
            "@libre.graph.permissions.actions",
        ],
    ) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    // Only the first recipient is processed, as the real handler does.
    let Some(recipient) = body
        .get("recipients")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .cloned()
    else {
        return odata(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "missing recipients",
        );
    };
    let role = match check_space_role(
        body.get("roles")
            .and_then(|r| r.get(0))
            .and_then(Value::as_str),
    ) {
        Ok(role) => role,
        Err(response) => return *response,
    };
    let object_id = recipient
        .get("objectId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let recipient_type = recipient
        .get("@libre.graph.recipient.type")
        .and_then(Value::as_str)
        .unwrap_or("user");
    let service_user = sim.service_user();
    let mut model = sim.lock();
    let principal = match recipient_type {
        "group" if model.groups.contains_key(&object_id) => Principal::Group { id: object_id },
        "user" if object_id == sim.inner.service_user_id => service_user.clone(),
        _ => {
            return odata(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "itemNotFound: the recipient does not exist",
            );
        }
    };
    let Some(drive) = model.drives.get(&id).filter(|d| !d.disabled) else {
        return drive_not_found();
    };
    if drive.drive_type != "project" {
        return odata(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "unsupported space type",
        );
    }
    if drive.grants.iter().any(|g| g.principal == principal) {
        // CS3 ALREADY_EXISTS → nameAlreadyExists (ocis.md marks the exact code [verify]).
        return odata(
            StatusCode::CONFLICT,
            "nameAlreadyExists",
            "error: already exists: grant already exists",
        );
    }
    let grant = Grant { principal, role };
    if let Some(drive) = model.drives.get_mut(&id) {
        drive.grants.push(grant.clone());
    }
    let invited_by = match &service_user {
        Principal::User { id, display_name } => {
            json!({"user": {"id": id, "displayName": display_name}})
        }
        Principal::Group { .. } => Value::Null,
    };
    Json(json!({"value": [model.permission_json(&grant, Some(&invited_by))]})).into_response()
}

pub(super) async fn update_permission(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path((id, permission)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let body = match strict_body(
        &body,
        &[
            "roles",
            "expirationDateTime",
            "password",
            "id",
            "grantedToV2",
            "link",
            "invitation",
        ],
    ) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let role = match body
        .get("roles")
        .and_then(|r| r.get(0))
        .and_then(Value::as_str)
    {
        None => None,
        Some(role) => match check_space_role(Some(role)) {
            Ok(role) => Some(role),
            Err(response) => return *response,
        },
    };
    let mut model = sim.lock();
    let Some(drive) = model.drives.get_mut(&id).filter(|d| !d.disabled) else {
        return drive_not_found();
    };
    let Some(grant) = drive
        .grants
        .iter_mut()
        .find(|g| g.principal.permission_id() == permission)
    else {
        return odata(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "permission not found",
        );
    };
    if let Some(role) = role {
        grant.role = role;
    }
    let grant = grant.clone();
    Json(model.permission_json(&grant, None)).into_response()
}

pub(super) async fn delete_permission(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path((id, permission)): Path<(String, String)>,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let mut model = sim.lock();
    let Some(drive) = model.drives.get_mut(&id).filter(|d| !d.disabled) else {
        return drive_not_found();
    };
    let before = drive.grants.len();
    drive
        .grants
        .retain(|g| g.principal.permission_id() != permission);
    if drive.grants.len() == before {
        return odata(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "permission not found",
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn list_groups(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let search = query
        .get("$search")
        .map(|s| s.trim_matches('"').to_lowercase());
    let members = query
        .get("$expand")
        .is_some_and(|e| e.split(',').any(|x| x == "members"));
    let model = sim.lock();
    let value: Vec<Value> = model
        .groups
        .values()
        .filter(|g| {
            search
                .as_deref()
                .is_none_or(|s| g.display_name.to_lowercase().contains(s))
        })
        .map(|g| model.group_json(g, members))
        .collect();
    Json(json!({"value": value})).into_response()
}

pub(super) async fn create_group(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let body = match strict_body(
        &body,
        &[
            "id",
            "displayName",
            "description",
            "members",
            "members@odata.bind",
            "groupTypes",
        ],
    ) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    if body.contains_key("id") {
        return odata(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "group id is a read-only attribute",
        );
    }
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name.is_empty() || name.chars().count() > 256 {
        return odata(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "Invalid displayName",
        );
    }
    let mut model = sim.lock();
    if model.groups.values().any(|g| g.display_name == name) {
        return odata(
            StatusCode::CONFLICT,
            "nameAlreadyExists",
            &format!("a group named {name} already exists"),
        );
    }
    let group = Group {
        id: uuid::Uuid::new_v4().to_string(),
        display_name: name,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let rendered = model.group_json(&group, false);
    model.groups.insert(group.id.clone(), group);
    (StatusCode::CREATED, Json(rendered)).into_response()
}

pub(super) async fn get_group(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let model = sim.lock();
    match model.find_group(&key) {
        Some(group) => Json(model.group_json(group, false)).into_response(),
        None => odata(StatusCode::NOT_FOUND, "itemNotFound", "group not found"),
    }
}

pub(super) async fn delete_group(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let mut model = sim.lock();
    if model.groups.remove(&id).is_none() {
        return odata(StatusCode::NOT_FOUND, "itemNotFound", "group not found");
    }
    // Grants of a deleted group no longer resolve to anyone; drop them.
    let permission = format!("g:{id}");
    for drive in model.drives.values_mut() {
        drive
            .grants
            .retain(|g| g.principal.permission_id() != permission);
    }
    StatusCode::NO_CONTENT.into_response()
}
