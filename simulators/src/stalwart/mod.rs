//! The Stalwart simulator: the v0.16 JMAP management API (`POST /jmap`, `urn:stalwart:jmap`).
//!
//! It serves `x:Domain`, `x:Account` and `x:DkimSignature` `get`/`set`/`query` with the wire
//! shapes of `shared/upstreams/stalwart.md`: collections as JSON objects, JSON-pointer patches,
//! per-object SetErrors under HTTP 200, method-level errors, and request-level problem+json 400s.
//! Admins authenticate with Basic (the configured admin) or a Bearer API key; mailbox users with
//! Basic `address:password` (a suspended user gets 403, a wrong password 401), as the real server.
//!
//! Wiring (for the runner): `Stalwart::new(config)`, then `router()` (wrap it with the control
//! layer for "stalwart") and `dump()` for the control API's state dump.

mod jmap;
mod objects;
mod rules;
mod zone;

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine;
use serde_json::{Value, json};

pub use rules::{is_valid_domain_name, normalize_domain, password_problem};

/// The JMAP id of the recovery/fallback admin (`u32::MAX` in Stalwart's base32 id alphabet).
pub const ADMIN_ACCOUNT_ID: &str = "d333333";

/// How the simulated Stalwart is set up.
#[derive(Clone, Debug)]
pub struct StalwartConfig {
    /// Basic-auth user name of the administrator (`STALWART_RECOVERY_ADMIN` in the real server).
    pub admin_username: String,
    /// Basic-auth password of the administrator.
    pub admin_password: String,
    /// An API key accepted as `Authorization: Bearer <key>` with admin rights, if any.
    pub api_key: Option<String>,
    /// The server's host name: the MX target of every zone file.
    pub hostname: String,
}

impl Default for StalwartConfig {
    fn default() -> Self {
        StalwartConfig {
            admin_username: "admin".into(),
            admin_password: "stalwart-admin-secret".into(),
            api_key: None,
            hostname: "mail.dezky.test".into(),
        }
    }
}

/// The outcome of a mailbox login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Right password, may authenticate (HTTP 200).
    Accepted,
    /// Right password, but `authenticate` is denied (HTTP 403).
    Suspended,
    /// Unknown address or wrong password (HTTP 401).
    Refused,
}

/// A simulated Stalwart server; `Clone` shares the same in-memory state.
#[derive(Clone)]
pub struct Stalwart {
    inner: Arc<Inner>,
}

struct Inner {
    config: StalwartConfig,
    state: Mutex<objects::Registry>,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    Admin,
    User(u64),
}

impl Stalwart {
    /// A fresh server with no domains or accounts.
    pub fn new(config: StalwartConfig) -> Stalwart {
        Stalwart {
            inner: Arc::new(Inner {
                state: Mutex::new(objects::Registry::new(config.hostname.clone())),
                config,
            }),
        }
    }

    /// The HTTP API: `POST /jmap`, `GET /jmap/session`, `/.well-known/jmap`, `/healthz/*`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/jmap", post(jmap_post))
            .route("/jmap/", post(jmap_post))
            .route("/jmap/session", get(session))
            .route("/.well-known/jmap", get(well_known))
            .route("/healthz/live", get(|| async { StatusCode::OK }))
            .route("/healthz/ready", get(|| async { StatusCode::OK }))
            .with_state(self.clone())
    }

    /// The whole state as JSON (secrets masked), for the control API.
    pub fn dump(&self) -> Value {
        self.lock().dump()
    }

    /// Checks a mailbox login the way Stalwart's Basic authentication does (full address or
    /// alias, and the password).
    pub fn check_login(&self, address: &str, password: &str) -> Login {
        let registry = self.lock();
        match registry.login(address, password) {
            Some(id) if registry.is_suspended(id) => Login::Suspended,
            Some(_) => Login::Accepted,
            None => Login::Refused,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, objects::Registry> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Caller>, Box<Response>> {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let config = &self.inner.config;
        if let Some(token) = value.strip_prefix("Bearer ") {
            if config.api_key.as_deref() == Some(token.trim()) {
                return Ok(Some(Caller::Admin));
            }
            return Err(Box::new(unauthorized()));
        }
        let Some(encoded) = value.strip_prefix("Basic ") else {
            return Err(Box::new(unauthorized()));
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Box::new(unauthorized()))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| Box::new(unauthorized()))?;
        if user == config.admin_username && password == config.admin_password {
            return Ok(Some(Caller::Admin));
        }
        let registry = self.lock();
        match registry.login(user, password) {
            Some(id) if registry.is_suspended(id) => Err(Box::new(problem(
                StatusCode::FORBIDDEN,
                "about:blank",
                "Forbidden",
                "Your account is not allowed to authenticate.",
            ))),
            Some(id) => Ok(Some(Caller::User(id))),
            None => Err(Box::new(unauthorized())),
        }
    }
}

fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    let body = json!({"type": kind, "status": status.as_u16(), "title": title, "detail": detail});
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn unauthorized() -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        "about:blank",
        "Unauthorized",
        "You have to authenticate first.",
    );
    let headers = response.headers_mut();
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"Stalwart Server\""),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Stalwart Server\""),
    );
    response
}

fn not_request(detail: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "urn:ietf:params:jmap:error:notRequest",
        "Invalid JMAP request",
        detail,
    )
}

async fn jmap_post(State(sim): State<Stalwart>, headers: HeaderMap, body: Bytes) -> Response {
    let caller = match sim.authenticate(&headers) {
        Ok(Some(caller)) => caller,
        Ok(None) => return unauthorized(),
        Err(response) => return *response,
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return problem(
            StatusCode::BAD_REQUEST,
            "urn:ietf:params:jmap:error:notJSON",
            "Not JSON",
            "The content type of the request was not application/json.",
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => return not_request(&format!("Failed to parse JSON: {err}")),
    };
    let mut registry = sim.lock();
    match jmap::handle(&mut registry, &caller, &request) {
        Ok(response) => (StatusCode::OK, Json(response)).into_response(),
        Err(detail) => not_request(&detail),
    }
}

async fn session(State(sim): State<Stalwart>, headers: HeaderMap) -> Response {
    let caller = match sim.authenticate(&headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let capabilities = json!({
        "urn:ietf:params:jmap:core": {
            "maxSizeUpload": 50000000, "maxConcurrentUpload": 4, "maxSizeRequest": 10000000,
            "maxConcurrentRequests": 4, "maxCallsInRequest": jmap::MAX_CALLS,
            "maxObjectsInGet": jmap::MAX_OBJECTS, "maxObjectsInSet": jmap::MAX_OBJECTS,
            "collationAlgorithms": ["i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap"]
        }
    });
    let (accounts, primary, username) = match caller {
        None => (json!({}), json!({}), String::new()),
        Some(Caller::Admin) => (
            json!({ADMIN_ACCOUNT_ID: {"name": sim.inner.config.admin_username, "isPersonal": true,
                "isReadOnly": false, "accountCapabilities": {"urn:stalwart:jmap": {}}}}),
            json!({"urn:stalwart:jmap": ADMIN_ACCOUNT_ID}),
            sim.inner.config.admin_username.clone(),
        ),
        Some(Caller::User(id)) => {
            let registry = sim.lock();
            let jid = jmap::encode_id(id);
            let address = registry.address_of(id).unwrap_or_default();
            (
                json!({&jid: {"name": address, "isPersonal": true, "isReadOnly": false,
                    "accountCapabilities": {"urn:ietf:params:jmap:mail": {}}}}),
                json!({"urn:ietf:params:jmap:mail": jid}),
                address,
            )
        }
    };
    Json(json!({
        "capabilities": capabilities, "accounts": accounts, "primaryAccounts": primary,
        "username": username, "apiUrl": "/jmap/", "downloadUrl": "/jmap/download/{accountId}/{blobId}/{name}?accept={type}",
        "uploadUrl": "/jmap/upload/{accountId}/", "eventSourceUrl": "/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}",
        "state": "s0"
    }))
    .into_response()
}

async fn well_known() -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, "/jmap/session")],
    )
        .into_response()
}
