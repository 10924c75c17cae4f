//! The UI's access to the JSON API (in-process, with the signed-in user's bearer token, so the
//! UI can do exactly what the user may do through the API) and the signed-in session itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::UiError;
use crate::AppState;

/// The session cookie: `<audience>~<access token>`.
pub const SESSION_COOKIE: &str = "dezky_session";
/// The largest API answer the UI reads.
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The parts of an issuer's OIDC discovery document the login needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// What the UI's routes share.
#[derive(Clone)]
pub struct UiState(Arc<UiInner>);

pub struct UiInner {
    pub app: AppState,
    api: Router,
    pub http: reqwest::Client,
    discovery: Mutex<HashMap<String, Discovery>>,
}

impl std::ops::Deref for UiState {
    type Target = UiInner;
    fn deref(&self) -> &UiInner {
        &self.0
    }
}

/// A signed-in browser session.
#[derive(Clone)]
pub struct Session {
    /// `console` or `portal`.
    pub audience: &'static str,
    token: String,
    /// The page being shown, to come back to after signing in again (GET pages only).
    page: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Parses the session cookie's value.
    pub fn parse(value: &str) -> Option<Session> {
        let (audience, token) = value.split_once('~')?;
        let audience = audience_name(audience)?;
        if token.is_empty() || token.contains(|c: char| c.is_whitespace() || c == ';') {
            return None;
        }
        Some(Session {
            audience,
            token: token.to_owned(),
            page: None,
        })
    }

    /// The cookie value of a new session.
    pub fn cookie_value(audience: &'static str, token: &str) -> String {
        format!("{audience}~{token}")
    }
}

/// The canonical name of an audience, if it is one.
pub fn audience_name(s: &str) -> Option<&'static str> {
    match s {
        "console" => Some("console"),
        "portal" => Some("portal"),
        _ => None,
    }
}

/// The value of a cookie in the request headers.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (n, v) = c.trim().split_once('=')?;
            (n == name).then(|| v.to_owned())
        })
}

/// Refuses a state-changing request that another site's page sent.
pub fn same_origin(headers: &axum::http::HeaderMap) -> Result<(), UiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    if !host.is_empty() && origin_host == host {
        Ok(())
    } else {
        Err(UiError::Forbidden(
            "this request came from another site and was refused".into(),
        ))
    }
}

impl FromRequestParts<UiState> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _: &UiState) -> Result<Self, Self::Rejection> {
        let audience = if parts.uri.path().starts_with("/ui/console") {
            "console"
        } else {
            "portal"
        };
        let path = parts.uri.path();
        let page =
            (parts.method == Method::GET && !path.ends_with("/rows") && !path.ends_with("/events"))
                .then(|| {
                    parts
                        .uri
                        .path_and_query()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_else(|| path.to_owned())
                });
        match cookie(&parts.headers, SESSION_COOKIE).and_then(|v| Session::parse(&v)) {
            Some(mut session) => {
                session.page = page;
                Ok(session)
            }
            None => Err(UiError::SignIn {
                audience,
                next: page,
            }),
        }
    }
}

/// A refused API call: the status and the problem+json body.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub problem: Value,
}

impl Refusal {
    /// The problem's detail.
    pub fn detail(&self) -> String {
        self.problem["detail"]
            .as_str()
            .or(self.problem["title"].as_str())
            .unwrap_or("the request was refused")
            .to_owned()
    }

    /// Each failing field with its reason.
    pub fn fields(&self) -> Vec<(String, String)> {
        self.problem["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["field"].as_str().unwrap_or_default().to_owned(),
                            e["reason"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl From<Refusal> for UiError {
    fn from(r: Refusal) -> UiError {
        match r.status {
            StatusCode::FORBIDDEN => UiError::Forbidden(r.detail()),
            StatusCode::NOT_FOUND => UiError::NotFound(r.detail()),
            s if s.is_client_error() => UiError::BadRequest(r.detail()),
            _ => UiError::Failed(r.detail()),
        }
    }
}

impl UiState {
    pub fn new(app: AppState) -> UiState {
        let api = crate::routes::router(app.clone());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        UiState(Arc::new(UiInner {
            app,
            api,
            http,
            discovery: Mutex::new(HashMap::new()),
        }))
    }

    /// Sends one request to the JSON API as the session's user; the raw response.
    pub async fn raw(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, UiError> {
        let bytes = body
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", session.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .map_err(|e| UiError::Failed(format!("failed to build an API request: {e}")))?;
        let mut api = self.api.clone();
        let response = tower_service::Service::call(&mut api, request)
            .await
            .unwrap_or_else(|never| match never {});
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(UiError::SignIn {
                audience: session.audience,
                next: session.page.clone(),
            });
        }
        Ok(response)
    }

    /// Calls the JSON API; the JSON answer, or the refusal.
    pub async fn call(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Result<Value, Refusal>, UiError> {
        let response = self.raw(session, method, path, body).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), BODY_LIMIT)
            .await
            .map_err(|e| UiError::Failed(format!("failed to read an API answer: {e}")))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(Ok(value))
        } else {
            Ok(Err(Refusal {
                status,
                problem: value,
            }))
        }
    }

    /// GETs from the JSON API; a refusal becomes the page's error.
    pub async fn get(&self, session: &Session, path: &str) -> Result<Value, UiError> {
        Ok(self.call(session, Method::GET, path, None).await??)
    }

    /// The issuer of an audience's client and its client id.
    pub fn client(&self, audience: &str) -> (String, String) {
        let oidc = &self.app.config.oidc;
        let c = if audience == "console" {
            &oidc.console
        } else {
            &oidc.portal
        };
        (c.issuer.clone(), c.client_id.clone())
    }

    /// The issuer's discovery document, fetched once.
    pub async fn discovery(&self, issuer: &str) -> Result<Discovery, UiError> {
        if let Some(d) = self
            .discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(issuer)
        {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let d: Discovery = self
            .http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| UiError::Identity(e.without_url().to_string()))?
            .json()
            .await
            .map_err(|e| UiError::Identity(e.without_url().to_string()))?;
        self.discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(issuer.to_owned(), d.clone());
        Ok(d)
    }

    /// Whether cookies must be `Secure` (the public URL is https).
    pub fn secure(&self) -> bool {
        self.app.config.public_url.starts_with("https://")
    }
}

/// Percent-encodes one path segment (tenant and member names are DNS labels, but a typed URL
/// may hold anything).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_cookie_names_its_audience() {
        let s = Session::parse("portal~a.b.c").expect("parses");
        assert_eq!(s.audience, "portal");
        assert!(Session::parse("admin~a.b.c").is_none());
        assert!(Session::parse("console~").is_none());
        assert!(Session::parse("no-separator").is_none());
        assert_eq!(Session::cookie_value("console", "t"), "console~t");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("acme"), "acme");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        use axum::http::HeaderValue;
        let mut h = axum::http::HeaderMap::new();
        assert!(same_origin(&h).is_ok(), "no Origin: not a browser form");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(
            same_origin(&h).is_err(),
            "an Origin without a Host is refused"
        );
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.test"));
        assert!(same_origin(&h).is_err());
    }
}
