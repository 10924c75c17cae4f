//! Drive (space) handlers of the OCIS simulator: list, create, get, update, disable, restore, purge.

use std::collections::HashMap;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::model::*;
use super::{Ocis, drive_not_found, now, odata, reject, strict_body};

const DRIVE_FIELDS: &[&str] = &[
    "id",
    "createdBy",
    "createdDateTime",
    "description",
    "eTag",
    "lastModifiedBy",
    "lastModifiedDateTime",
    "name",
    "parentReference",
    "webUrl",
    "driveType",
    "driveAlias",
    "owner",
    "quota",
    "items",
    "root",
    "special",
];

fn header_flag(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True"))
}

/// `$filter` handling of `generateCs3Filters`: one `eq` on `driveType` or `id`; other
/// operators are 501, other properties are ignored.
fn drive_filter(
    query: &HashMap<String, String>,
) -> Result<Option<(String, String)>, Box<Response>> {
    let Some(filter) = query.get("$filter") else {
        return Ok(None);
    };
    let parts: Vec<&str> = filter.split_whitespace().collect();
    match parts.as_slice() {
        [field, "eq", value] => {
            let value = value.trim_matches('\'').to_string();
            Ok(["driveType", "id"]
                .contains(field)
                .then(|| ((*field).to_string(), value)))
        }
        _ => {
            let operand = parts
                .iter()
                .find(|p| !p.contains('\'') && p.chars().all(|c| c.is_ascii_lowercase()))
                .copied()
                .unwrap_or("");
            Err(reject(
                StatusCode::NOT_IMPLEMENTED,
                "notSupported",
                &format!("unsupported filter operand: {operand}"),
            ))
        }
    }
}

pub(super) async fn list_drives(
    sim: Ocis,
    headers: HeaderMap,
    query: HashMap<String, String>,
    beta: bool,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let filter = match drive_filter(&query) {
        Ok(filter) => filter,
        Err(response) => return *response,
    };
    let model = sim.lock();
    let mut drives: Vec<&Drive> = model
        .drives
        .values()
        .filter(|d| match &filter {
            Some((field, value)) if field == "driveType" => &d.drive_type == value,
            Some((_, value)) => &d.id == value,
            None => true,
        })
        .collect();
    if let Some(order) = query.get("$orderby") {
        let mut parts = order.split_whitespace();
        let (field, direction) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or("asc"),
        );
        match field {
            "name" => drives.sort_by(|a, b| a.name.cmp(&b.name)),
            "lastModifiedDateTime" => drives.sort_by(|a, b| a.last_modified.cmp(&b.last_modified)),
            _ => {
                return odata(
                    StatusCode::BAD_REQUEST,
                    "invalidRequest",
                    &format!("we do not support <{field}> as a order parameter"),
                );
            }
        }
        if direction == "desc" {
            drives.reverse();
        }
    }
    let value: Vec<Value> = drives
        .into_iter()
        .map(|d| model.drive_json(d, beta))
        .collect();
    Json(json!({"value": value})).into_response()
}

pub(super) async fn list_drives_v1(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    list_drives(sim, headers, query, false).await
}

pub(super) async fn list_drives_beta(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    list_drives(sim, headers, query, true).await
}

/// Reads `quota.total`: `Ok(None)` when absent or negative (the default applies).
fn quota_total(sim: &Ocis, body: &Map<String, Value>) -> Result<Option<u64>, Box<Response>> {
    let Some(total) = body.get("quota").and_then(|q| q.get("total")) else {
        return Ok(None);
    };
    let Some(total) = total.as_i64() else {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "invalid body schema definition",
        ));
    };
    if total < 0 {
        return Ok(None);
    }
    let max = sim.inner.config.max_quota;
    if max > 0 && total as u64 > max {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "requested quota is higher than allowed",
        ));
    }
    Ok(Some(if total == 0 && max > 0 {
        max
    } else {
        total as u64
    }))
}

pub(super) async fn create_drive(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let body = match strict_body(&body, DRIVE_FIELDS) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    if let Some(problem) = space_name_problem(&name) {
        return odata(StatusCode::BAD_REQUEST, "invalidRequest", &problem);
    }
    match body.get("driveType").and_then(Value::as_str).unwrap_or("") {
        "" | "project" => {}
        _ => {
            return odata(
                StatusCode::BAD_REQUEST,
                "invalidRequest",
                "drives of this type cannot be created via this api",
            );
        }
    }
    let quota = match quota_total(&sim, &body) {
        Ok(quota) => quota.unwrap_or(sim.inner.config.default_quota),
        Err(response) => return *response,
    };
    let space_uuid = uuid::Uuid::new_v4().to_string();
    let drive = Drive {
        id: format!("{}${space_uuid}", sim.inner.storage_id),
        space_uuid,
        drive_type: "project".into(),
        alias: body
            .get("driveAlias")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("project/{}", name.to_lowercase())),
        name,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        quota_total: quota,
        disabled: false,
        last_modified: now(),
        etag: uuid::Uuid::new_v4().simple().to_string(),
        // decomposedfs makes the creator the space's Manager.
        grants: vec![Grant {
            principal: sim.service_user(),
            role: ROLE_MANAGER.into(),
        }],
    };
    let mut model = sim.lock();
    let rendered = model.drive_json(&drive, false);
    model.drives.insert(drive.id.clone(), drive);
    (StatusCode::CREATED, Json(rendered)).into_response()
}

pub(super) async fn get_drive(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let model = sim.lock();
    match model.drives.get(&id) {
        Some(drive) => Json(model.drive_json(drive, false)).into_response(),
        None => drive_not_found(),
    }
}

pub(super) async fn update_drive(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let body = match strict_body(&body, DRIVE_FIELDS) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let restore = header_flag(&headers, "restore");
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(|n| n.trim().to_string());
    if let Some(problem) = name.as_deref().and_then(space_name_problem) {
        return odata(StatusCode::BAD_REQUEST, "invalidRequest", &problem);
    }
    let quota = match quota_total(&sim, &body) {
        Ok(quota) => quota,
        Err(response) => return *response,
    };
    let mut model = sim.lock();
    let Some(drive) = model.drives.get_mut(&id) else {
        return drive_not_found();
    };
    if quota.is_some() && drive.drive_type != "project" {
        return odata(
            StatusCode::FORBIDDEN,
            "notAllowed",
            "user is not allowed to set the space quota",
        );
    }
    if restore {
        drive.disabled = false;
    } else if drive.disabled {
        // A trashed space cannot be changed, only restored.
        return drive_not_found();
    }
    if let Some(name) = name {
        drive.name = name;
    }
    if let Some(description) = body.get("description").and_then(Value::as_str) {
        drive.description = Some(description.to_string());
    }
    if let Some(alias) = body.get("driveAlias").and_then(Value::as_str) {
        drive.alias = alias.to_string();
    }
    if let Some(quota) = quota {
        drive.quota_total = quota;
    }
    drive.last_modified = now();
    drive.etag = uuid::Uuid::new_v4().simple().to_string();
    let drive = drive.clone();
    Json(model.drive_json(&drive, false)).into_response()
}

pub(super) async fn delete_drive(
    State(sim): State<Ocis>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = sim.authorize(&headers) {
        return *response;
    }
    let purge = header_flag(&headers, "purge");
    let mut model = sim.lock();
    let Some(drive) = model.drives.get_mut(&id) else {
        return drive_not_found();
    };
    if purge {
        if !drive.disabled {
            return odata(
                StatusCode::BAD_REQUEST,
                "invalidRequest",
                "error: bad request: can't purge enabled space",
            );
        }
        model.drives.remove(&id);
    } else {
        // Disabling an already disabled space changes nothing (ocis.md lists the exact code as
        // to be verified; the simulator answers 204 again).
        drive.disabled = true;
    }
    StatusCode::NO_CONTENT.into_response()
}
