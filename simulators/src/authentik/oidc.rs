//! The Authentik simulator as an OIDC provider: per-application issuer, discovery, JWKS (RS256),
//! authorization code with PKCE behind a login form, token (code, refresh, client credentials),
//! userinfo and end-session.

use axum::Form;
use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::AuthentikSim;
use super::model::{Application, AuthCode, Provider, Session, Store};
use super::users::generate_key;
use super::web::Params;

const SESSION_COOKIE: &str = "authentik_session";

const LOGIN_PATH: &str = "/if/flow/default-authentication-flow/";

pub fn routes() -> Router<AuthentikSim> {
    Router::new()
        .route(
            "/application/o/{slug}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/application/o/{slug}/jwks/", get(jwks))
        .route("/application/o/{slug}/end-session/", get(end_session))
        .route("/application/o/authorize/", get(authorize))
        .route(LOGIN_PATH, get(login_form).post(login_submit))
}

/// The external base URL as the request shows it (`X-Forwarded-Proto` and `Host`), as Authentik builds issuers.
pub(super) fn base_url(headers: &HeaderMap) -> String {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("{proto}://{host}")
}

pub(super) fn issuer(base: &str, slug: &str) -> String {
    format!("{base}/application/o/{slug}/")
}

/// A 302 redirect, as Django's `HttpResponseRedirect` sends.
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => page(StatusCode::BAD_REQUEST, "Error", "<p>Invalid redirect.</p>"),
    }
}

pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body><h1>{}</h1>{}</body></html>",
        escape(title),
        escape(title),
        body
    );
    (status, Html(html)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The application and its provider, by slug.
fn app_provider<'a>(store: &'a Store, slug: &str) -> Option<(&'a Application, &'a Provider)> {
    let app = store.applications.get(slug)?;
    let provider = store.providers.get(&app.provider?)?;
    Some((app, provider))
}

async fn discovery(
    State(sim): State<AuthentikSim>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&headers);
    let store = sim.store();
    let Some((_, provider)) = app_provider(&store, &slug) else {
        return page(StatusCode::NOT_FOUND, "Not Found", "");
    };
    let scopes: Vec<String> = provider
        .property_mappings
        .iter()
        .filter_map(|id| store.scope_mappings.iter().find(|m| m.uuid == *id))
        .map(|m| m.scope_name.clone())
        .collect();
    Json(json!({
        "issuer": issuer(&base, &slug),
        "authorization_endpoint": format!("{base}/application/o/authorize/"),
        "token_endpoint": format!("{base}/application/o/token/"),
        "userinfo_endpoint": format!("{base}/application/o/userinfo/"),
        "end_session_endpoint": format!("{base}/application/o/{slug}/end-session/"),
        "introspection_endpoint": format!("{base}/application/o/introspect/"),
        "revocation_endpoint": format!("{base}/application/o/revoke/"),
        "device_authorization_endpoint": format!("{base}/application/o/device/"),
        "jwks_uri": format!("{base}/application/o/{slug}/jwks/"),
        "response_types_supported": ["code", "id_token", "id_token token", "code token", "code id_token", "code id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": provider.grant_types,
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "acr_values_supported": ["goauthentik.io/providers/oauth2/default"],
        "scopes_supported": scopes,
        "request_parameter_supported": false,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "email_verified", "name", "given_name", "preferred_username", "nickname", "groups"],
        "claims_parameter_supported": false,
        "code_challenge_methods_supported": ["plain", "S256"],
    }))
    .into_response()
}

async fn jwks(State(sim): State<AuthentikSim>, Path(slug): Path<String>) -> Response {
    let signed = {
        let store = sim.store();
        let Some((_, provider)) = app_provider(&store, &slug) else {
            return page(StatusCode::NOT_FOUND, "Not Found", "");
        };
        provider.signing_key.is_some()
    };
    // no signing key: HS256 with the client secret, and JWKS is `{}`
    let body = if signed {
        json!({"keys": [sim.keys().get().await.jwk.clone()]})
    } else {
        json!({})
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn redirect_allowed(provider: &Provider, uri: &str) -> bool {
    provider
        .redirect_uris
        .iter()
        .filter(|r| r.redirect_uri_type == "authorization")
        .any(|r| match r.matching_mode.as_str() {
            "regex" => {
                regex::Regex::new(&format!("^(?:{})$", r.url)).is_ok_and(|re| re.is_match(uri))
            }
            _ => r.url == uri,
        })
}

fn cookie_session(store: &Store, headers: &HeaderMap) -> Option<Session> {
    let cookies = headers.get_all(header::COOKIE);
    let key = cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (name, value) = c.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_owned())
        })?;
    store
        .sessions
        .values()
        .find(|s| s.key == key && s.expires > Utc::now())
        .cloned()
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return uri.to_owned(),
    };
    url.query_pairs_mut().extend_pairs(pairs.iter());
    url.to_string()
}

async fn authorize(
    State(sim): State<AuthentikSim>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let mut store = sim.store();
    let client_id = params.get("client_id").unwrap_or_default();
    let Some(provider) = store
        .providers
        .values()
        .find(|p| p.client_id == client_id)
        .cloned()
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "Error",
            "<p>Invalid client identifier (client_id).</p>",
        );
    };
    let Some(app) = store.application_of_provider(provider.pk).cloned() else {
        return page(
            StatusCode::BAD_REQUEST,
            "Error",
            "<p>The provider is not attached to an application.</p>",
        );
    };
    let redirect_uri = params.get("redirect_uri").unwrap_or_default().to_owned();
    if !redirect_allowed(&provider, &redirect_uri) {
        return page(
            StatusCode::BAD_REQUEST,
            "Error",
            "<p>Redirect URI Error: the request fails due to a missing, invalid, or mismatching redirection URI (redirect_uri).</p>",
        );
    }
    let state = params.get("state").unwrap_or_default().to_owned();
    let fail = |error: &str| {
        let mut pairs = vec![("error", error)];
        if !state.is_empty() {
            pairs.push(("state", state.as_str()));
        }
        found(&with_query(&redirect_uri, &pairs)).into_response()
    };
    if params.get("response_type") != Some("code") {
        return fail("unsupported_response_type");
    }
    if !provider
        .grant_types
        .iter()
        .any(|g| g == "authorization_code")
    {
        return fail("unauthorized_client");
    }
    let scopes: Vec<String> = params
        .get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return fail("invalid_scope");
    }
    let code_challenge = match params.get("code_challenge") {
        Some(challenge) => {
            let method = params.get("code_challenge_method").unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return fail("invalid_request");
            }
            Some((challenge.to_owned(), method.to_owned()))
        }
        None if provider.client_type == "public" => return fail("invalid_request"),
        None => None,
    };

    let Some(session) = cookie_session(&store, &headers) else {
        let next = format!("/application/o/authorize/?{}", q.unwrap_or_default());
        let login = format!(
            "{LOGIN_PATH}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &next)
                .finish()
        );
        return found(&login).into_response();
    };
    let Some(user) = store.users.get(&session.user).cloned() else {
        return fail("access_denied");
    };
    if !user.is_active || !store.user_can_access(&app, &user) {
        return page(
            StatusCode::FORBIDDEN,
            "Permission denied",
            "<p>You do not have access to this application.</p>",
        );
    }
    let code = generate_key(48);
    let auth_time = session.last_used.timestamp();
    store.codes.insert(
        code.clone(),
        AuthCode {
            provider: provider.pk,
            user: user.pk,
            session: session.uuid,
            redirect_uri: redirect_uri.clone(),
            scopes,
            nonce: params.get("nonce").map(str::to_owned),
            code_challenge,
            auth_time,
            expires: Utc::now() + Duration::minutes(1),
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if !state.is_empty() {
        pairs.push(("state", state.as_str()));
    }
    found(&with_query(&redirect_uri, &pairs)).into_response()
}

fn login_html(next: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"{LOGIN_PATH}\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label>Username <input name=\"username\" autocomplete=\"username\"></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
         <button type=\"submit\">Log in</button></form>",
        escape(next)
    );
    page(StatusCode::OK, "Welcome to authentik!", &body)
}

async fn login_form(RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    login_html(params.get("next").unwrap_or("/"), None)
}

#[derive(serde::Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login_submit(
    State(sim): State<AuthentikSim>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = if form.next.starts_with('/') && !form.next.starts_with("//") {
        form.next.clone()
    } else {
        "/".to_owned()
    };
    let mut store = sim.store();
    let user = store
        .users
        .values()
        .find(|u| u.username == form.username || (!u.email.is_empty() && u.email == form.username))
        .cloned();
    let Some(user) = user.filter(|u| u.is_active && u.check_password(&form.password)) else {
        return login_html(&next, Some("Invalid password"));
    };
    let now = Utc::now();
    let session = Session {
        uuid: Uuid::new_v4(),
        user: user.pk,
        key: generate_key(40),
        last_ip: "127.0.0.1".into(),
        last_user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        last_used: now,
        expires: now + Duration::hours(24),
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax",
        session.key
    );
    store.sessions.insert(session.uuid, session);
    if let Some(u) = store.users.get_mut(&user.pk) {
        u.last_login = Some(now);
    }
    let mut response = found(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn end_session(
    State(sim): State<AuthentikSim>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let mut store = sim.store();
    let Some((_, provider)) = app_provider(&store, &slug) else {
        return page(StatusCode::NOT_FOUND, "Not Found", "");
    };
    let provider = provider.clone();
    if let Some(session) = cookie_session(&store, &headers) {
        store.sessions.remove(&session.uuid);
        store.grants.retain(|_, g| g.session != Some(session.uuid));
    }
    let mut response = match params.get("post_logout_redirect_uri") {
        Some(uri)
            if redirect_allowed(&provider, uri)
                || provider
                    .redirect_uris
                    .iter()
                    .any(|r| r.redirect_uri_type == "logout" && r.url == uri) =>
        {
            let state = params.get("state");
            let target = match state {
                Some(state) => with_query(uri, &[("state", state)]),
                None => uri.to_owned(),
            };
            found(&target).into_response()
        }
        _ => page(
            StatusCode::OK,
            "Logged out of application",
            "<p>You've logged out.</p>",
        ),
    };
    if let Ok(value) = HeaderValue::from_str(&format!("{SESSION_COOKIE}=; Path=/; Max-Age=0")) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
