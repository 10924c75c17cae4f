//! The Authentik simulator's OIDC token endpoint (code, refresh, client credentials) and userinfo.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AuthentikSim;
use super::model::{Grant, Provider, Store, User};
use super::oidc::{base_url, issuer, oauth_error};
use super::users::generate_key;
use super::web::Params;

/// The client credentials of a token request: Basic auth or the form's `client_id`/`client_secret`.
fn client_credentials(headers: &HeaderMap, form: &Params) -> (String, Option<String>) {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        && let Some((id, secret)) = basic.split_once(':')
    {
        return (id.to_owned(), Some(secret.to_owned()));
    }
    (
        form.get("client_id").unwrap_or_default().to_owned(),
        form.get("client_secret").map(str::to_owned),
    )
}

fn subject(store: &Store, provider: &Provider, user: &User) -> String {
    match provider.sub_mode.as_str() {
        "user_id" => user.pk.to_string(),
        "user_uuid" => user.uuid.to_string(),
        "user_username" => user.username.clone(),
        "user_email" => user.email.clone(),
        "user_upn" => user
            .attributes
            .get("upn")
            .and_then(Value::as_str)
            .unwrap_or(&user.email)
            .to_owned(),
        _ => store.user_uid(user),
    }
}

/// The claims the provider's scope mappings give for these scopes.
fn scope_claims(
    store: &Store,
    provider: &Provider,
    user: &User,
    scopes: &[String],
) -> Map<String, Value> {
    let allowed: Vec<&str> = provider
        .property_mappings
        .iter()
        .filter_map(|id| store.scope_mappings.iter().find(|m| m.uuid == *id))
        .map(|m| m.scope_name.as_str())
        .filter(|s| scopes.iter().any(|r| r == s))
        .collect();
    let mut claims = Map::new();
    if allowed.contains(&"email") {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(false));
    }
    if allowed.contains(&"profile") {
        claims.insert("name".into(), json!(user.name));
        claims.insert("given_name".into(), json!(user.name));
        claims.insert("preferred_username".into(), json!(user.username));
        claims.insert("nickname".into(), json!(user.username));
        let groups: Vec<&str> = store
            .user_groups(user.pk)
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        claims.insert("groups".into(), json!(groups));
    }
    claims
}

fn validity_seconds(spec: &str) -> i64 {
    spec.split(';')
        .filter_map(|part| {
            let (unit, n) = part.split_once('=')?;
            let n: f64 = n.trim().parse().ok()?;
            let factor = match unit.trim() {
                "weeks" => 604_800.0,
                "days" => 86_400.0,
                "hours" => 3600.0,
                "minutes" => 60.0,
                "seconds" => 1.0,
                "milliseconds" => 0.001,
                _ => return None,
            };
            Some((n * factor) as i64)
        })
        .sum::<i64>()
        .max(1)
}

struct Issue<'a> {
    issuer: String,
    provider: &'a Provider,
    user: &'a User,
    scopes: Vec<String>,
    nonce: Option<String>,
    auth_time: i64,
    session: Option<Uuid>,
    with_refresh: bool,
}

async fn issue_tokens(sim: &AuthentikSim, issue: Issue<'_>) -> Response {
    let keys = sim.keys().get().await;
    let mut store = sim.store();
    let now = Utc::now();
    let expires_in = validity_seconds(&issue.provider.access_token_validity);
    let mut id_claims = Map::new();
    id_claims.insert("iss".into(), json!(issue.issuer));
    id_claims.insert(
        "sub".into(),
        json!(subject(&store, issue.provider, issue.user)),
    );
    id_claims.insert("aud".into(), json!(issue.provider.client_id));
    id_claims.insert("exp".into(), json!(now.timestamp() + expires_in));
    id_claims.insert("iat".into(), json!(now.timestamp()));
    id_claims.insert("auth_time".into(), json!(issue.auth_time));
    id_claims.insert(
        "acr".into(),
        json!("goauthentik.io/providers/oauth2/default"),
    );
    if let Some(nonce) = &issue.nonce {
        id_claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(session) = issue.session {
        id_claims.insert(
            "sid".into(),
            json!(URL_SAFE_NO_PAD.encode(Sha256::digest(session.as_bytes()))),
        );
    }
    let scope_claims = scope_claims(&store, issue.provider, issue.user, &issue.scopes);
    if issue.provider.include_claims_in_id_token {
        id_claims.extend(scope_claims.clone());
    }
    let mut access_claims = id_claims.clone();
    access_claims.extend(scope_claims);
    access_claims.insert("azp".into(), json!(issue.provider.client_id));
    access_claims.insert("uid".into(), json!(generate_key(40)));
    access_claims.insert("scope".into(), json!(issue.scopes.join(" ")));
    let access_token = keys.sign(&Value::Object(access_claims));
    let id_token = keys.sign(&Value::Object(id_claims));
    let grant = |refresh: bool, seconds: i64| Grant {
        provider: issue.provider.pk,
        user: issue.user.pk,
        session: issue.session,
        scopes: issue.scopes.clone(),
        auth_time: issue.auth_time,
        expires: now + Duration::seconds(seconds),
        refresh,
    };
    store
        .grants
        .insert(access_token.clone(), grant(false, expires_in));
    let mut body = json!({
        "access_token": access_token, "token_type": "Bearer", "scope": issue.scopes.join(" "),
        "expires_in": expires_in, "id_token": id_token,
    });
    if issue.with_refresh {
        let refresh = generate_key(128);
        store.grants.insert(
            refresh.clone(),
            grant(
                true,
                validity_seconds(&issue.provider.refresh_token_validity),
            ),
        );
        body["refresh_token"] = json!(refresh);
    }
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn token(
    State(sim): State<AuthentikSim>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = Params::parse(std::str::from_utf8(&body).ok());
    let (client_id, client_secret) = client_credentials(&headers, &form);
    let base = base_url(&headers);
    let (provider, app) = {
        let store = sim.store();
        let Some(provider) = store
            .providers
            .values()
            .find(|p| p.client_id == client_id)
            .cloned()
        else {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
            );
        };
        let Some(app) = store.application_of_provider(provider.pk).cloned() else {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
            );
        };
        (provider, app)
    };
    let grant_type = form.get("grant_type").unwrap_or_default();
    // confidential clients authenticate with their secret for code and refresh grants
    let secret_ok = client_secret.as_deref() == Some(provider.client_secret.as_str());
    if provider.client_type == "confidential"
        && grant_type != "client_credentials"
        && grant_type != "password"
        && !secret_ok
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if !provider
        .grant_types
        .iter()
        .any(|g| g == grant_type || (grant_type == "password" && g == "client_credentials"))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The grant type is not enabled for this client",
        );
    }
    let issuer = issuer(&base, &app.slug);
    match grant_type {
        "authorization_code" => {
            let (code, user) = {
                let mut store = sim.store();
                let Some(code) = store.codes.remove(form.get("code").unwrap_or_default()) else {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The authorization code is invalid or has expired",
                    );
                };
                if code.provider != provider.pk
                    || code.expires < Utc::now()
                    || form.get("redirect_uri") != Some(code.redirect_uri.as_str())
                {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The authorization code is invalid or has expired",
                    );
                }
                if let Some((challenge, method)) = &code.code_challenge {
                    let verifier = form.get("code_verifier").unwrap_or_default();
                    let computed = if method == "S256" {
                        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                    } else {
                        verifier.to_owned()
                    };
                    if verifier.is_empty() || computed != *challenge {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "The code verifier does not match the challenge",
                        );
                    }
                }
                let Some(user) = store.users.get(&code.user).cloned().filter(|u| u.is_active)
                else {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The user is inactive",
                    );
                };
                (code, user)
            };
            let with_refresh = code.scopes.iter().any(|s| s == "offline_access");
            issue_tokens(
                &sim,
                Issue {
                    issuer,
                    provider: &provider,
                    user: &user,
                    scopes: code.scopes.clone(),
                    nonce: code.nonce.clone(),
                    auth_time: code.auth_time,
                    session: Some(code.session),
                    with_refresh,
                },
            )
            .await
        }
        "refresh_token" => {
            let (grant, user) =
                {
                    let mut store = sim.store();
                    let key = form.get("refresh_token").unwrap_or_default();
                    let Some(grant) = store.grants.get(key).cloned().filter(|g| {
                        g.refresh && g.provider == provider.pk && g.expires > Utc::now()
                    }) else {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "The refresh token is invalid or has expired",
                        );
                    };
                    store.grants.remove(key);
                    let Some(user) = store
                        .users
                        .get(&grant.user)
                        .cloned()
                        .filter(|u| u.is_active)
                    else {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "The user is inactive",
                        );
                    };
                    (grant, user)
                };
            issue_tokens(
                &sim,
                Issue {
                    issuer,
                    provider: &provider,
                    user: &user,
                    scopes: grant.scopes.clone(),
                    nonce: None,
                    auth_time: grant.auth_time,
                    session: grant.session,
                    with_refresh: true,
                },
            )
            .await
        }
        "client_credentials" | "password" => {
            let user = {
                let store = sim.store();
                let username = form.get("username").unwrap_or_default();
                let password = form.get("password").unwrap_or_default();
                // machine login: username plus an app password token of that user
                let user = store
                    .users
                    .values()
                    .find(|u| u.username == username)
                    .cloned();
                let token_ok = user.as_ref().is_some_and(|u| {
                    store.tokens.values().any(|t| {
                        t.intent == "app_password"
                            && t.user == u.pk
                            && !password.is_empty()
                            && t.key == password
                    })
                });
                let Some(user) = user.filter(|u| token_ok && u.is_active) else {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid credentials",
                    );
                };
                if !store.user_can_access(&app, &user) {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Policy denied access",
                    );
                }
                user
            };
            let scopes: Vec<String> = form
                .get("scope")
                .unwrap_or("openid")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            issue_tokens(
                &sim,
                Issue {
                    issuer,
                    provider: &provider,
                    user: &user,
                    scopes,
                    nonce: None,
                    auth_time: Utc::now().timestamp(),
                    session: None,
                    with_refresh: false,
                },
            )
            .await
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        ),
    }
}

async fn userinfo(State(sim): State<AuthentikSim>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or_default()
        .trim()
        .to_owned();
    let store = sim.store();
    let grant = store
        .grants
        .get(&token)
        .filter(|g| !g.refresh && g.expires > Utc::now());
    let found = grant.and_then(|g| {
        Some((
            g,
            store.providers.get(&g.provider)?,
            store.users.get(&g.user)?,
        ))
    });
    let Some((grant, provider, user)) = found.filter(|(_, _, u)| u.is_active) else {
        let mut response = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is invalid or has expired",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("error=\"invalid_token\""),
        );
        return response;
    };
    let mut claims = scope_claims(&store, provider, user, &grant.scopes);
    claims.insert("sub".into(), json!(subject(&store, provider, user)));
    Json(Value::Object(claims)).into_response()
}

/// The provider a token request authenticates as (Basic or form credentials; the secret is
/// required for confidential clients).
fn authenticated_provider(store: &Store, headers: &HeaderMap, form: &Params) -> Option<Provider> {
    let (client_id, client_secret) = client_credentials(headers, form);
    let provider = store
        .providers
        .values()
        .find(|p| p.client_id == client_id)?;
    let secret_ok = client_secret.as_deref() == Some(provider.client_secret.as_str());
    (provider.client_type == "public" || secret_ok).then(|| provider.clone())
}

/// RFC 7662 introspection: `{"active": false}` for anything unknown, expired, revoked or another client's.
async fn introspect(
    State(sim): State<AuthentikSim>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = Params::parse(std::str::from_utf8(&body).ok());
    let store = sim.store();
    let Some(provider) = authenticated_provider(&store, &headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    };
    let token = form.get("token").unwrap_or_default();
    let found = store
        .grants
        .get(token)
        .filter(|g| g.provider == provider.pk && g.expires > Utc::now())
        .and_then(|g| Some((g, store.users.get(&g.user).filter(|u| u.is_active)?)));
    let Some((grant, user)) = found else {
        return Json(json!({"active": false})).into_response();
    };
    Json(json!({
        "active": true, "scope": grant.scopes.join(" "), "client_id": provider.client_id,
        "sub": subject(&store, &provider, user), "exp": grant.expires.timestamp(),
        "token_type": if grant.refresh { "refresh_token" } else { "access_token" },
    }))
    .into_response()
}

/// RFC 7009 revocation: the token stops working; unknown tokens are not an error.
async fn revoke(
    State(sim): State<AuthentikSim>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = Params::parse(std::str::from_utf8(&body).ok());
    let mut store = sim.store();
    let Some(provider) = authenticated_provider(&store, &headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    };
    let token = form.get("token").unwrap_or_default().to_owned();
    if store
        .grants
        .get(&token)
        .is_some_and(|g| g.provider == provider.pk)
    {
        store.grants.remove(&token);
    }
    StatusCode::OK.into_response()
}

pub fn routes() -> Router<AuthentikSim> {
    Router::new()
        .route("/application/o/token/", axum::routing::post(token))
        .route("/application/o/userinfo/", get(userinfo).post(userinfo))
        .route(
            "/application/o/introspect/",
            axum::routing::post(introspect),
        )
        .route("/application/o/revoke/", axum::routing::post(revoke))
}
