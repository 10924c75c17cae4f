//! Signing in and out: OIDC authorization code + PKCE (S256) at the console's or the portal's
//! client, the session cookie (HttpOnly, SameSite=Lax, Secure behind https), the start page, and
//! the signed-in chrome of every page.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::UiError;
use super::api::{SESSION_COOKIE, Session, UiState, audience_name, cookie};
use super::html::{self, Chrome, NavItem, esc};

/// The short-lived cookie that carries the login's state and PKCE verifier to the callback.
const LOGIN_COOKIE: &str = "dezky_login";

/// A random URL-safe string of 32 bytes of entropy.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where the browser reached us: the scheme of the public URL and the request's host.
fn origin(ui: &UiState, headers: &HeaderMap) -> String {
    let scheme = if ui.secure() { "https" } else { "http" };
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() && !host.contains(['/', '@', ' ']) => {
            format!("{scheme}://{host}")
        }
        _ => ui.app.config.public_url.trim_end_matches('/').to_owned(),
    }
}

fn set_cookie(ui: &UiState, name: &str, value: &str, path: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if ui.secure() {
        c.push_str("; Secure");
    }
    c
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// The environment badge: `dev` on a loopback address, else `prod`.
pub fn environment(ui: &UiState) -> &'static str {
    let url = &ui.app.config.public_url;
    if url.is_empty() || url.contains("://127.0.0.1") || url.contains("://localhost") {
        "dev"
    } else {
        "prod"
    }
}

/// `GET /ui/`: the start page, or straight to the signed-in area.
pub async fn home(State(ui): State<UiState>, headers: HeaderMap) -> Response {
    if let Some(s) = cookie(&headers, SESSION_COOKIE).and_then(|v| Session::parse(&v)) {
        let to = if s.audience == "console" {
            "/ui/console"
        } else {
            "/ui/portal"
        };
        return Redirect::to(to).into_response();
    }
    let body = format!(
        "<section class=\"card hero\"><h1>Sign in to Dezky</h1>\
         <p>Single sign-on, mail and files for every workspace. Choose where you work:</p>\
         <div class=\"actions\">\
           <a class=\"button primary\" id=\"login-portal\" href=\"/ui/login/portal\">Customer portal</a>\
           <a class=\"button\" id=\"login-console\" href=\"/ui/login/console\">Operator console</a>\
         </div><p class=\"muted\">Environment: {}</p></section>",
        esc(environment(&ui))
    );
    html::bare_page("Sign in", &body)
}

/// A page of this UI to come back to after signing in; anything else is ignored, so the
/// sign-in never redirects off-site.
pub fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with("/ui/")
        && next.len() <= 512
        && !next.contains("//")
        && !next.contains(['\\', '~', ';', ' ', '\r', '\n']))
    .then_some(next)
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /ui/login/{audience}`: starts the authorization code flow with PKCE.
pub async fn login(
    State(ui): State<UiState>,
    Path(audience): Path<String>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let audience = audience_name(&audience)
        .ok_or_else(|| UiError::NotFound("there is no such sign-in".into()))?;
    let (issuer, client_id) = ui.client(audience);
    let discovery = ui.discovery(&issuer).await?;
    let state = random_token();
    let verifier = random_token();
    let redirect_uri = format!("{}/ui/callback", origin(&ui, &headers));
    let mut url = url_with_query(
        &discovery.authorization_endpoint,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", "openid email profile"),
            ("state", &state),
            ("code_challenge", &challenge(&verifier)),
            ("code_challenge_method", "S256"),
        ],
    );
    if url.is_empty() {
        url = "/ui/".into();
    }
    let login_cookie = set_cookie(
        &ui,
        LOGIN_COOKIE,
        &format!(
            "{audience}~{state}~{verifier}~{}",
            query.next.as_deref().and_then(safe_next).unwrap_or("")
        ),
        "/ui/callback",
        Some(600),
    );
    Ok(with_cookies(
        Redirect::to(&url).into_response(),
        &[login_cookie],
    ))
}

fn url_with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", html::query_value(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", query.join("&"))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

/// `GET /ui/callback`: checks the state, redeems the code with the PKCE verifier and starts the
/// session.
pub async fn callback(
    State(ui): State<UiState>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    if let Some(error) = q.error {
        return Err(UiError::Identity(format!(
            "the sign-in was refused ({error}); try again"
        )));
    }
    let pending = cookie(&headers, LOGIN_COOKIE)
        .ok_or_else(|| UiError::BadRequest("the sign-in expired; start it again".into()))?;
    let mut parts = pending.splitn(4, '~');
    let (Some(audience), Some(state), Some(verifier), next) = (
        parts.next().and_then(audience_name),
        parts.next(),
        parts.next(),
        parts.next().and_then(safe_next),
    ) else {
        return Err(UiError::BadRequest(
            "the sign-in expired; start it again".into(),
        ));
    };
    if q.state.as_deref() != Some(state) {
        return Err(UiError::BadRequest(
            "the sign-in does not match this browser; start it again".into(),
        ));
    }
    let code = q
        .code
        .ok_or_else(|| UiError::BadRequest("the sign-in returned no code".into()))?;
    let (issuer, client_id) = ui.client(audience);
    let discovery = ui.discovery(&issuer).await?;
    let redirect_uri = format!("{}/ui/callback", origin(&ui, &headers));
    let answer = ui
        .http
        .post(&discovery.token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("client_id", client_id.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| UiError::Identity(e.without_url().to_string()))?;
    if !answer.status().is_success() {
        return Err(UiError::Identity(format!(
            "the code was not accepted ({})",
            answer.status()
        )));
    }
    let token: TokenAnswer = answer
        .json()
        .await
        .map_err(|e| UiError::Identity(e.without_url().to_string()))?;
    let to = match next {
        Some(next) => next,
        None if audience == "console" => "/ui/console",
        None => "/ui/portal",
    };
    let session = set_cookie(
        &ui,
        SESSION_COOKIE,
        &Session::cookie_value(audience, &token.access_token),
        "/",
        None,
    );
    let clear = set_cookie(&ui, LOGIN_COOKIE, "", "/ui/callback", Some(0));
    Ok(with_cookies(
        Redirect::to(to).into_response(),
        &[session, clear],
    ))
}

/// `POST /ui/logout`: ends the session here and at the identity provider.
pub async fn logout(State(ui): State<UiState>, headers: HeaderMap) -> Response {
    let clear = set_cookie(&ui, SESSION_COOKIE, "", "/", Some(0));
    let audience = cookie(&headers, SESSION_COOKIE)
        .and_then(|v| Session::parse(&v))
        .map(|s| s.audience);
    let mut to = "/ui/".to_owned();
    if let Some(audience) = audience {
        let (issuer, _) = ui.client(audience);
        if let Ok(d) = ui.discovery(&issuer).await
            && let Some(end) = d.end_session_endpoint
        {
            let back = format!("{}/ui/", origin(&ui, &headers));
            to = url_with_query(&end, &[("post_logout_redirect_uri", &back)]);
        }
    }
    with_cookies(Redirect::to(&to).into_response(), &[clear])
}

/// The signed-in user as `GET /api/v1/me` sees them.
pub struct Me {
    pub value: Value,
}

impl Me {
    pub async fn load(ui: &UiState, session: &Session) -> Result<Me, UiError> {
        Ok(Me {
            value: ui.get(session, "/api/v1/me").await?,
        })
    }

    pub fn display(&self) -> String {
        self.value["email"]
            .as_str()
            .or(self.value["name"].as_str())
            .unwrap_or("signed in")
            .to_owned()
    }

    pub fn operator(&self) -> bool {
        self.value["roles"]["operator"].as_bool() == Some(true)
    }

    /// The tenants the user administers.
    pub fn admin_of(&self) -> Vec<String> {
        self.value["roles"]["tenantAdmin"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The chrome of a console page.
    pub fn console_chrome(&self, ui: &UiState, current: &str) -> ChromeOwned {
        ChromeOwned {
            area: "Console",
            environment: environment(ui),
            user: self.display(),
            sections: html::console_sections(current),
        }
    }
}

/// [`Chrome`] with owned parts.
pub struct ChromeOwned {
    area: &'static str,
    environment: &'static str,
    user: String,
    sections: Vec<(&'static str, Vec<NavItem>)>,
}

impl ChromeOwned {
    /// Renders a page inside this chrome.
    pub fn page(self, title: &str, content: &str) -> Response {
        let chrome = Chrome {
            area: self.area,
            environment: self.environment,
            user: &self.user,
            sections: self.sections,
        };
        html::page(title, &chrome, content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_s256() {
        // BASE64URL(SHA-256(verifier)) without padding, computed independently with Python's
        // hashlib and base64
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r-wW1gFWFOEjXk"),
            "NPsYzawS-__wqk67X9gyb4dr3JBo3hnlEi5MNyD5jX0"
        );
    }

    #[test]
    fn only_pages_of_this_ui_are_returned_to() {
        assert_eq!(safe_next("/ui/t/acme/members"), Some("/ui/t/acme/members"));
        assert_eq!(
            safe_next("/ui/console?q=a&state=all"),
            Some("/ui/console?q=a&state=all")
        );
        assert_eq!(safe_next("https://evil.test/ui/"), None);
        assert_eq!(safe_next("//evil.test/ui/"), None);
        assert_eq!(safe_next("/ui//evil.test"), None);
        assert_eq!(safe_next("/api/v1/me"), None);
        assert_eq!(safe_next("/ui/x~y"), None);
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(
            url_with_query("http://x/a?b=1", &[("c", "d e")]),
            "http://x/a?b=1&c=d%20e"
        );
    }
}
