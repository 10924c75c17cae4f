//! The OCIS simulator: libre-graph drives (project spaces), groups and space permissions.
//!
//! Paths, status codes and bodies follow `shared/upstreams/ocis.md` (OCIS 7.x): space CRUD on
//! `/graph/v1.0/drives`, listings with a single `eq` `$filter`, permissions on
//! `/graph/v1beta1/drives/{id}/root/...` (one recipient per invite, unified role ids), groups
//! on `/graph/v1.0/groups`, strict request bodies, OData errors, and purge refused before
//! disable. Authentication is the app-token Basic auth (`<username>:<token>`); the proxy's
//! 401 carries no body, as the real proxy's does.
//!
//! Wiring (for the runner): `Ocis::new(config)`, then `router()` (wrap it with the control
//! layer for "ocis") and `dump()` for the control API's state dump.

mod drives;
mod model;
mod sharing;

use drives::{
    create_drive, delete_drive, get_drive, list_drives_beta, list_drives_v1, update_drive,
};
use sharing::{
    create_group, delete_group, delete_permission, get_group, invite, list_groups,
    list_permissions, role_definitions, update_permission,
};

use std::sync::{Arc, Mutex, MutexGuard};

use axum::{
    Json, Router,
    body::Bytes,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, patch, post},
};
use base64::Engine;
use serde_json::{Map, Value, json};

use model::{Drive, Grant, Model, Principal};
pub use model::{ROLE_MANAGER, ROLE_SPACE_EDITOR, ROLE_SPACE_VIEWER};

/// How the simulated OCIS is set up.
#[derive(Clone, Debug)]
pub struct OcisConfig {
    /// The provisioning account's user name (`onPremisesSamAccountName`).
    pub username: String,
    /// Its app token, the Basic-auth password.
    pub app_token: String,
    /// `GRAPH_SPACES_DEFAULT_QUOTA`.
    pub default_quota: u64,
    /// `OCIS_SPACES_MAX_QUOTA`; 0 means no maximum.
    pub max_quota: u64,
}

impl Default for OcisConfig {
    fn default() -> Self {
        OcisConfig {
            username: "svc-dezky".into(),
            app_token: "ocis-app-token-secret".into(),
            default_quota: 1_000_000_000,
            max_quota: 0,
        }
    }
}

/// A simulated OCIS; `Clone` shares the same in-memory state.
#[derive(Clone)]
pub struct Ocis {
    inner: Arc<Inner>,
}

struct Inner {
    config: OcisConfig,
    storage_id: String,
    service_user_id: String,
    model: Mutex<Model>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// An OData error response.
fn odata(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "innererror": {"date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                       "request-id": uuid::Uuid::new_v4().to_string()}}});
    (status, Json(body)).into_response()
}

/// An OData error for a helper's `Err`.
fn reject(status: StatusCode, code: &str, message: &str) -> Box<Response> {
    Box::new(odata(status, code, message))
}

fn drive_not_found() -> Response {
    odata(StatusCode::NOT_FOUND, "itemNotFound", "drive not found")
}

/// Go's `DisallowUnknownFields` with case-insensitive key matching: the body as a map with
/// keys in their canonical spelling, or a 400.
fn strict_body(body: &Bytes, allowed: &[&str]) -> Result<Map<String, Value>, Box<Response>> {
    let bad =
        |message: String| Box::new(odata(StatusCode::BAD_REQUEST, "invalidRequest", &message));
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("invalid body schema definition: {e}")))?;
    let Value::Object(map) = value else {
        return Err(bad("invalid body schema definition".into()));
    };
    let mut out = Map::new();
    for (key, value) in map {
        let canonical = allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&key))
            .ok_or_else(|| {
                bad(format!(
                    "invalid body schema definition: json: unknown field \"{key}\""
                ))
            })?;
        out.insert((*canonical).to_string(), value);
    }
    Ok(out)
}

impl Ocis {
    /// A fresh OCIS holding only the provisioning account's personal space.
    pub fn new(config: OcisConfig) -> Ocis {
        let storage_id = uuid::Uuid::new_v4().to_string();
        let service_user_id = uuid::Uuid::new_v4().to_string();
        let mut model = Model {
            base_url: "https://ocis.dezky.test".into(),
            drives: Default::default(),
            groups: Default::default(),
        };
        let personal = Drive {
            id: format!("{storage_id}${service_user_id}"),
            space_uuid: service_user_id.clone(),
            drive_type: "personal".into(),
            name: config.username.clone(),
            description: None,
            alias: format!("personal/{}", config.username),
            quota_total: 0,
            disabled: false,
            last_modified: now(),
            etag: uuid::Uuid::new_v4().simple().to_string(),
            grants: vec![Grant {
                principal: Principal::User {
                    id: service_user_id.clone(),
                    display_name: config.username.clone(),
                },
                role: ROLE_MANAGER.into(),
            }],
        };
        model.drives.insert(personal.id.clone(), personal);
        Ocis {
            inner: Arc::new(Inner {
                config,
                storage_id,
                service_user_id,
                model: Mutex::new(model),
            }),
        }
    }

    /// The libre-graph API under `/graph`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/graph/v1.0/drives", get(list_drives_v1).post(create_drive))
            .route("/graph/v1beta1/drives", get(list_drives_beta))
            .route("/graph/v1.0/me/drives", get(list_drives_v1))
            .route(
                "/graph/v1.0/drives/{drive}",
                get(get_drive).patch(update_drive).delete(delete_drive),
            )
            .route("/graph/v1beta1/drives/{drive}/root/invite", post(invite))
            .route(
                "/graph/v1beta1/drives/{drive}/root/permissions",
                get(list_permissions),
            )
            .route(
                "/graph/v1beta1/drives/{drive}/root/permissions/{permission}",
                patch(update_permission).delete(delete_permission),
            )
            .route(
                "/graph/v1beta1/roleManagement/permissions/roleDefinitions",
                get(role_definitions),
            )
            .route("/graph/v1.0/groups", get(list_groups).post(create_group))
            .route(
                "/graph/v1.0/groups/{group}",
                get(get_group).delete(delete_group),
            )
            .with_state(self.clone())
    }

    /// The whole state as JSON, for the control API.
    pub fn dump(&self) -> Value {
        self.lock().dump()
    }

    /// The provisioning account's user id (the `u:` permission on every space it created).
    pub fn service_user_id(&self) -> &str {
        &self.inner.service_user_id
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        self.inner
            .model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// App-token Basic auth; the proxy answers failures with a bare 401.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Box<Response>> {
        let expected = format!(
            "{}:{}",
            self.inner.config.username, self.inner.config.app_token
        );
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| {
                base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .ok()
            })
            .is_some_and(|decoded| decoded == expected.as_bytes());
        if ok {
            Ok(())
        } else {
            Err(Box::new(StatusCode::UNAUTHORIZED.into_response()))
        }
    }

    fn service_user(&self) -> Principal {
        Principal::User {
            id: self.inner.service_user_id.clone(),
            display_name: self.inner.config.username.clone(),
        }
    }
}
