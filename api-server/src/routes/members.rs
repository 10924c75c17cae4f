//! Tenant admin: members (create, the one-time password shown once, suspend/resume, reset
//! password, force logout, remove and undo the removal within the tenant's retention).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use dezky_crds::{Member, MemberSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::credentials::{Scope, member_password_once, rotation_observed};
use super::{Route, body, fresh_value, ready_of, route, slug, to_json};
use crate::authz::{Caller, tenant_for_admin};
use crate::cache::Cache;
use crate::problem::{ApiError, ApiResult};
use crate::writes::{self, Audit, FIELD_MANAGER};
use crate::{AppState, Body};

/// Labels the ConfigMaps that keep a removed Member's spec for the undo.
pub const REMOVED_LABEL: &str = "dezky.io/removed-member";

pub fn routes() -> Vec<Route> {
    let a = "tenant admin";
    vec![
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/members",
            a,
            "The tenant's members",
            None,
            get(list_members),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/members",
            a,
            "Create a member",
            body::<CreateMember>(),
            post(create_member),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/members/{member}",
            a,
            "A member and its status",
            None,
            get(get_member),
        ),
        route(
            Method::DELETE,
            "/api/v1/tenants/{tenant}/members/{member}",
            a,
            "Remove a member (undo possible within the retention)",
            None,
            axum::routing::delete(remove_member),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/members/{member}/suspend",
            a,
            "Suspend a member",
            None,
            post(suspend_member),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/members/{member}/resume",
            a,
            "Resume a member",
            None,
            post(resume_member),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/members/{member}/reset-password",
            a,
            "Issue a new one-time password",
            None,
            post(reset_password),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/members/{member}/logout",
            a,
            "End all of the member's sessions",
            None,
            post(force_logout),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/members/{member}/credentials",
            a,
            "The one-time password, shown once",
            None,
            get(member_credentials),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/removed-members",
            a,
            "Members removed within the retention window",
            None,
            get(list_removed),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/removed-members/{member}/restore",
            a,
            "Undo a member's removal",
            None,
            post(restore_member),
        ),
    ]
}

/// A new member; `name` defaults to a slug of the address's local part.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    pub name: Option<String>,
    pub spec: MemberSpec,
}

/// The tenant's namespace, or 409 while the operator has not made it yet.
pub fn namespace_of(state: &AppState, tenant: &str) -> ApiResult<String> {
    state.cache.tenant_namespace(tenant).ok_or_else(|| {
        ApiError::NotReady(format!(
            "tenant {tenant} has no namespace yet; try again once it is provisioned"
        ))
    })
}

/// A member of the tenant from the cache (404 when it is not in the tenant's namespace).
pub fn member_in(state: &AppState, ns: &str, name: &str) -> ApiResult<std::sync::Arc<Member>> {
    state
        .cache
        .members
        .get(&kube::runtime::reflector::ObjectRef::new(name).within(ns))
        .ok_or_else(|| ApiError::not_found("Member", name))
}

pub fn member_view(m: &Member) -> Value {
    let conditions = m
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[]);
    let (ready, reason) = ready_of(conditions);
    let status = m.status.as_ref();
    // the Secret holds the password the latest request asked for
    let credentials_ready =
        status.is_some_and(|s| s.credentials_secret_ref.is_some()) && rotation_observed(m);
    let sign_out_pending = m.spec.sessions_revocation.is_some()
        && status.and_then(|s| s.observed_sessions_revocation.as_ref())
            != m.spec.sessions_revocation.as_ref();
    json!({
        "name": m.name_any(), "email": m.spec.email, "displayName": m.spec.display_name,
        "role": m.spec.role, "suspended": m.spec.suspended, "ready": ready, "reason": reason,
        "credentialsAvailable": credentials_ready, "passwordPending": !rotation_observed(m),
        "signOutPending": sign_out_pending, "member": to_json(m),
    })
}

async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    tenant_for_admin(&caller, &state.cache, &tenant, "list this tenant's members")?;
    let items: Vec<Value> = match state.cache.tenant_namespace(&tenant) {
        Some(ns) => Cache::in_namespace(&state.cache.members, &ns)
            .iter()
            .map(|m| member_view(m))
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(json!({"items": items})))
}

async fn create_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Body(req): Body<CreateMember>,
) -> ApiResult<impl IntoResponse> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "create members in this tenant",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    let name = match req.name {
        Some(n) => n,
        None => slug(req.spec.email.split('@').next().unwrap_or_default()),
    };
    if name.is_empty() {
        return Err(ApiError::unprocessable(
            "name",
            "give a name, or an address with a local part",
        ));
    }
    let actor = caller.actor(role);
    let created = writes::create::<Member>(
        &state.client,
        &state.cache,
        Some(&ns),
        &name,
        &req.spec,
        Audit {
            actor: &actor,
            reason: "MemberCreated",
            message: format!("member {name} ({}) created by {actor}", req.spec.email),
            tenant: Some(&tenant),
            partner: None,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(member_view(&created))))
}

async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    tenant_for_admin(&caller, &state.cache, &tenant, "read this tenant's members")?;
    let ns = namespace_of(&state, &tenant)?;
    Ok(Json(member_view(member_in(&state, &ns, &member)?.as_ref())))
}

/// Applies a change to a member's spec.
pub async fn change_member(
    state: &AppState,
    tenant: &str,
    ns: &str,
    name: &str,
    actor: &str,
    reason: &str,
    change: impl FnOnce(&mut MemberSpec),
) -> ApiResult<Member> {
    let current: Member = writes::get(&state.client, Some(ns), name).await?;
    let mut spec = current.spec.clone();
    change(&mut spec);
    writes::apply(
        &state.client,
        &current,
        super::explicit(&spec, &[("suspended", json!(spec.suspended))]),
        &[],
        Audit {
            actor,
            reason,
            message: format!("{reason}: member {name} by {actor}"),
            tenant: Some(tenant),
            partner: None,
        },
    )
    .await
}

async fn admin_change(
    state: AppState,
    caller: Caller,
    tenant: String,
    member: String,
    reason: &'static str,
    change: impl FnOnce(&mut MemberSpec),
) -> ApiResult<Json<Value>> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "change this tenant's members",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    member_in(&state, &ns, &member)?;
    let m = change_member(
        &state,
        &tenant,
        &ns,
        &member,
        &caller.actor(role),
        reason,
        change,
    )
    .await?;
    Ok(Json(member_view(&m)))
}

async fn suspend_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    admin_change(state, caller, tenant, member, "MemberSuspended", |s| {
        s.suspended = true
    })
    .await
}

async fn resume_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    admin_change(state, caller, tenant, member, "MemberResumed", |s| {
        s.suspended = false
    })
    .await
}

async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    admin_change(state, caller, tenant, member, "PasswordReset", |s| {
        s.credentials_rotation = Some(fresh_value(s.credentials_rotation.as_deref()));
    })
    .await
}

async fn force_logout(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    admin_change(state, caller, tenant, member, "SessionsRevoked", |s| {
        s.sessions_revocation = Some(fresh_value(s.sessions_revocation.as_deref()));
    })
    .await
}

async fn member_credentials(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "read this tenant's member credentials",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    let m: Member = writes::get(&state.client, Some(&ns), &member).await?;
    Ok(Json(
        member_password_once(&state, Scope::Tenant(&tenant), &m, &caller.actor(role)).await?,
    ))
}

/// A Go duration (`168h`, `1h30m`, `90s`) in seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut num = String::new();
    if s.is_empty() {
        return None;
    }
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    num.is_empty().then_some(total)
}

fn removed_name(member: &str) -> String {
    format!("removed-member-{member}")
}

async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (t, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "remove this tenant's members",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    member_in(&state, &ns, &member)?;
    let current: Member = writes::get(&state.client, Some(&ns), &member).await?;
    let actor = caller.actor(role);
    let retention = parse_duration(&t.spec.retention.deleted_members).unwrap_or(168 * 3600);
    let now = Timestamp::now();
    let purge_after = now
        .checked_add(SignedDuration::from_secs(retention))
        .unwrap_or(now);
    let keep = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(removed_name(&member)),
            namespace: Some(ns.clone()),
            labels: Some([(REMOVED_LABEL.to_owned(), "true".to_owned())].into()),
            annotations: Some([(writes::LAST_CHANGED_BY.to_owned(), actor.clone())].into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            ("member".to_owned(), member.clone()),
            (
                "spec".to_owned(),
                serde_json::to_string(&current.spec).unwrap_or_default(),
            ),
            ("removedAt".to_owned(), now.to_string()),
            ("purgeAfter".to_owned(), purge_after.to_string()),
        ])),
        ..Default::default()
    };
    let cms: Api<ConfigMap> = Api::namespaced(state.client.clone(), &ns);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match cms.create(&params, &keep).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            cms.replace(&removed_name(&member), &params, &keep)
                .await
                .map_err(|e| ApiError::from_kube("keep the removed member for undo", e))?;
        }
        Err(e) => return Err(ApiError::from_kube("keep the removed member for undo", e)),
    }
    writes::delete(
        &state.client,
        &current,
        Audit {
            actor: &actor,
            reason: "MemberRemoved",
            message: format!(
                "member {member} ({}) removed by {actor}; undo possible until {purge_after}",
                current.spec.email
            ),
            tenant: Some(&tenant),
            partner: None,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_removed(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    let (t, _) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "list this tenant's removed members",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    let cms: Api<ConfigMap> = Api::namespaced(state.client.clone(), &ns);
    let list = cms
        .list(&ListParams::default().labels(&format!("{REMOVED_LABEL}=true")))
        .await
        .map_err(|e| ApiError::from_kube("list the removed members", e))?;
    let now = Timestamp::now().to_string();
    let items: Vec<Value> = list
        .items
        .iter()
        .filter_map(|cm| {
            let d = cm.data.as_ref()?;
            let spec: MemberSpec = serde_json::from_str(d.get("spec")?).ok()?;
            let purge_after = d.get("purgeAfter")?.clone();
            (purge_after > now).then(|| json!({"name": d.get("member"), "email": spec.email, "removedAt": d.get("removedAt"), "purgeAfter": purge_after, "removedBy": cm.annotations().get(writes::LAST_CHANGED_BY)}))
        })
        .collect();
    let retention = &t.spec.retention.deleted_members;
    Ok(Json(json!({
        "items": items,
        "retention": retention,
        "retentionSeconds": parse_duration(retention).unwrap_or(168 * 3600),
    })))
}

async fn restore_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, member)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "restore this tenant's members",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    let cms: Api<ConfigMap> = Api::namespaced(state.client.clone(), &ns);
    let cm = cms
        .get_opt(&removed_name(&member))
        .await
        .map_err(|e| ApiError::from_kube("read the removed member", e))?
        .filter(|cm| cm.labels().get(REMOVED_LABEL).is_some_and(|v| v == "true"))
        .ok_or_else(|| ApiError::not_found("removed member", &member))?;
    let data = cm.data.clone().unwrap_or_default();
    let purge_after: Option<Timestamp> = data.get("purgeAfter").and_then(|s| s.parse().ok());
    if purge_after.is_none_or(|p| p <= Timestamp::now()) {
        return Err(ApiError::Gone(format!(
            "the retention window of member {member} has passed"
        )));
    }
    let spec: MemberSpec = data
        .get("spec")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            ApiError::Gone(format!("the saved spec of member {member} is unreadable"))
        })?;
    let actor = caller.actor(role);
    let created = writes::create::<Member>(
        &state.client,
        &state.cache,
        Some(&ns),
        &member,
        &spec,
        Audit {
            actor: &actor,
            reason: "MemberRestored",
            message: format!("member {member} ({}) restored by {actor}", spec.email),
            tenant: Some(&tenant),
            partner: None,
        },
    )
    .await?;
    if let Err(e) = cms
        .delete(&removed_name(&member), &Default::default())
        .await
    {
        tracing::warn!(error = %e, "failed to drop the removed member's undo record");
    }
    Ok((StatusCode::CREATED, Json(member_view(&created))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("168h"), Some(168 * 3600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("1d"), None);
    }
}
