//! Member self-service: the caller's own profile, reset of its own password (and the new
//! one-time password, once), and ending its own sessions. A member acts on itself only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::{get, post};
use dezky_crds::Member;
use serde_json::{Value, json};

use super::credentials::{Scope, member_password_once};
use super::members::{change_member, member_view};
use super::{Route, fresh_value, route};
use crate::authz::{Caller, SelfRef};
use crate::problem::{ApiError, ApiResult};
use crate::{AppState, writes};

pub fn routes() -> Vec<Route> {
    let m = "member";
    vec![
        route(
            Method::GET,
            "/api/v1/me",
            m,
            "Who I am: my roles and my member profiles",
            None,
            get(me),
        ),
        route(
            Method::POST,
            "/api/v1/me/{tenant}/reset-password",
            m,
            "Reset my own password",
            None,
            post(reset_own_password),
        ),
        route(
            Method::POST,
            "/api/v1/me/{tenant}/logout",
            m,
            "End all my sessions",
            None,
            post(end_own_sessions),
        ),
        route(
            Method::GET,
            "/api/v1/me/{tenant}/credentials",
            m,
            "My new one-time password, shown once",
            None,
            get(own_credentials),
        ),
    ]
}

async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let members: Vec<Value> = caller
        .own_members()
        .iter()
        .filter_map(|r| {
            state
                .cache
                .members
                .get(&kube::runtime::reflector::ObjectRef::new(&r.name).within(&r.namespace))
                .map(|m| {
                    let mut v = member_view(&m);
                    v["tenant"] = json!(r.tenant);
                    v
                })
        })
        .collect();
    Ok(Json(json!({
        "email": caller.principal.email,
        "name": caller.principal.name,
        "audience": caller.principal.audience,
        "roles": caller.roles,
        "members": members,
    })))
}

fn own(caller: &Caller, tenant: &str) -> ApiResult<SelfRef> {
    caller
        .own_members()
        .iter()
        .find(|r| r.tenant == tenant)
        .cloned()
        .ok_or_else(|| ApiError::Forbidden("you are not a member of this tenant".into()))
}

async fn reset_own_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    let r = own(&caller, &tenant)?;
    let m = change_member(
        &state,
        &tenant,
        &r.namespace,
        &r.name,
        &caller.actor("member"),
        "PasswordReset",
        |s| {
            s.credentials_rotation = Some(fresh_value(s.credentials_rotation.as_deref()));
        },
    )
    .await?;
    Ok(Json(member_view(&m)))
}

async fn end_own_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    let r = own(&caller, &tenant)?;
    let m = change_member(
        &state,
        &tenant,
        &r.namespace,
        &r.name,
        &caller.actor("member"),
        "SessionsRevoked",
        |s| {
            s.sessions_revocation = Some(fresh_value(s.sessions_revocation.as_deref()));
        },
    )
    .await?;
    Ok(Json(member_view(&m)))
}

async fn own_credentials(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    let r = own(&caller, &tenant)?;
    let m: Member = writes::get(&state.client, Some(&r.namespace), &r.name).await?;
    Ok(Json(
        member_password_once(&state, Scope::Tenant(&tenant), &m, &caller.actor("member")).await?,
    ))
}
