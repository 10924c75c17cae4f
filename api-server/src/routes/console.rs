//! The operator console: tenants (search, status, create, edit, suspend/resume, reconcile now,
//! audit) and the overview KPIs. Partners are in `console_partners`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post};
use dezky_crds::tenant::{BillingDetails, Plan};
use dezky_crds::{NameRef, Tenant, TenantSpec};
use kube::ResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Route, body, condition_of, fresh_value, ready_of, route, to_json};
use crate::authz::Caller;
use crate::cache::{Cache, partner_of_tenant};
use crate::problem::{ApiError, ApiResult};
use crate::writes::{self, Audit, RECONCILE};
use crate::{AppState, Body};

pub fn routes() -> Vec<Route> {
    let c = "console";
    vec![
        route(
            Method::GET,
            "/api/v1/tenants",
            c,
            "Search tenants",
            None,
            get(list_tenants),
        ),
        route(
            Method::POST,
            "/api/v1/tenants",
            c,
            "Create a tenant",
            body::<CreateTenant>(),
            post(create_tenant),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}",
            c,
            "A tenant's status with each upstream's condition",
            None,
            get(get_tenant),
        ),
        route(
            Method::PATCH,
            "/api/v1/tenants/{tenant}",
            c,
            "Edit a tenant's plan, seats, quotas, partner or billing",
            body::<TenantPatch>(),
            patch(patch_tenant),
        ),
        Route {
            success: 204,
            ..route(
                Method::DELETE,
                "/api/v1/tenants/{tenant}",
                c,
                "Delete a tenant (refused while members, mail domains or SSO apps remain)",
                None,
                delete(delete_tenant),
            )
        },
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/suspend",
            c,
            "Suspend a tenant",
            None,
            post(suspend_tenant),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/resume",
            c,
            "Resume a suspended tenant",
            None,
            post(resume_tenant),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/reconcile",
            c,
            "Ask the operator to reconcile the tenant now",
            None,
            post(reconcile_tenant),
        ),
    ]
}

/// A new tenant.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The slug (DNS-1123 label, at most 40 characters).
    #[schemars(
        length(min = 1, max = 40),
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    pub spec: TenantSpec,
}

/// The editable fields of a tenant; absent fields are left as they are.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantPatch {
    pub display_name: Option<String>,
    pub plan: Option<Plan>,
    pub seats: Option<i32>,
    pub storage_quota: Option<String>,
    pub mailbox_quota: Option<String>,
    /// The partner's name; an empty string detaches the tenant from its partner.
    pub partner: Option<String>,
    pub billing: Option<BillingDetails>,
}

/// Filters of the tenant search.
#[derive(Debug, Default, Deserialize)]
pub struct TenantQuery {
    /// Part of the slug or display name.
    pub q: Option<String>,
    /// One of [`TENANT_STATES`] (`all` when absent).
    pub state: Option<String>,
}

/// The values of the tenant search's `state` filter.
pub const TENANT_STATES: [&str; 5] = ["all", "ready", "pending", "suspended", "failing"];

impl TenantQuery {
    /// Refuses a `state` filter that names no state (it would silently match nothing).
    pub fn check(&self) -> ApiResult<()> {
        match self.state.as_deref() {
            Some(s) if !TENANT_STATES.contains(&s) => Err(ApiError::bad_request(
                "state",
                format!("state must be one of {}", TENANT_STATES.join(", ")),
            )),
            _ => Ok(()),
        }
    }
}

/// A tenant in a list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSummary {
    pub name: String,
    pub display_name: String,
    pub plan: Plan,
    pub seats: i32,
    pub seats_used: Option<i32>,
    pub partner: Option<String>,
    pub suspended: bool,
    pub ready: String,
    pub reason: String,
    /// `pending`, `ready`, `suspended` or `failing`.
    pub state: &'static str,
    /// Each upstream condition's status, e.g. `{"IdentityReady": "True"}`.
    pub upstreams: BTreeMap<String, String>,
    pub domains: usize,
    /// The mail side, from the tenant's mail domains: `True` when every one is Ready, `False`
    /// when one is not Ready=False, `Unknown` otherwise (none yet, or still being checked).
    pub mail: String,
}

pub(super) fn tenant_state(t: &Tenant) -> &'static str {
    if t.spec.suspended {
        return "suspended";
    }
    let conditions = t
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[]);
    match ready_of(conditions).0.as_str() {
        "True" => "ready",
        "False" => "failing",
        _ => "pending",
    }
}

pub fn summarize(cache: &Cache, t: &Tenant) -> TenantSummary {
    let conditions = t
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[]);
    let (ready, reason) = ready_of(conditions);
    let upstreams = conditions
        .iter()
        .filter(|c| c.type_ != "Ready")
        .map(|c| (c.type_.clone(), condition_of(conditions, &c.type_).0))
        .collect();
    let domain_states: Vec<String> = cache
        .tenant_namespace(&t.name_any())
        .map(|ns| {
            Cache::in_namespace(&cache.domains, &ns)
                .iter()
                .map(|d| {
                    ready_of(
                        d.status
                            .as_ref()
                            .map(|s| s.conditions.as_slice())
                            .unwrap_or(&[]),
                    )
                    .0
                })
                .collect()
        })
        .unwrap_or_default();
    let mail = if domain_states.iter().any(|s| s == "False") {
        "False"
    } else if !domain_states.is_empty() && domain_states.iter().all(|s| s == "True") {
        "True"
    } else {
        "Unknown"
    };
    let domains = domain_states.len();
    TenantSummary {
        name: t.name_any(),
        display_name: t.spec.display_name.clone(),
        plan: t.spec.plan,
        seats: t.spec.seats,
        seats_used: t.status.as_ref().and_then(|s| s.seats_used),
        partner: partner_of_tenant(t),
        suspended: t.spec.suspended,
        ready,
        reason,
        state: tenant_state(t),
        upstreams,
        domains,
        mail: mail.to_owned(),
    }
}

/// Filters tenants by the search query.
pub fn search(
    cache: &Cache,
    query: &TenantQuery,
    keep: impl Fn(&Tenant) -> bool,
) -> Vec<TenantSummary> {
    let q = query.q.as_deref().unwrap_or("").to_lowercase();
    let wanted = query.state.as_deref().unwrap_or("all");
    let mut items: Vec<TenantSummary> = cache
        .tenants
        .state()
        .iter()
        .filter(|t| keep(t))
        .filter(|t| {
            q.is_empty()
                || t.name_any().contains(&q)
                || t.spec.display_name.to_lowercase().contains(&q)
        })
        .filter(|t| wanted == "all" || tenant_state(t) == wanted)
        .map(|t| summarize(cache, t))
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    items
}

async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<TenantQuery>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("list tenants")?;
    query.check()?;
    let items = search(&state.cache, &query, |_| true);
    Ok(Json(json!({ "items": items })))
}

/// Creates a tenant (shared by the console and the partner portal).
pub async fn create_tenant_as(
    state: &AppState,
    name: &str,
    spec: &TenantSpec,
    actor: &str,
) -> ApiResult<Tenant> {
    let partner = spec.partner_ref.as_ref().map(|p| p.name.as_str());
    writes::create::<Tenant>(
        &state.client,
        &state.cache,
        None,
        name,
        spec,
        Audit {
            actor,
            reason: "TenantCreated",
            message: format!("tenant {name} created by {actor}"),
            tenant: Some(name),
            partner,
        },
    )
    .await
}

async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateTenant>,
) -> ApiResult<impl IntoResponse> {
    caller.require_operator("create tenants")?;
    let created = create_tenant_as(&state, &req.name, &req.spec, &caller.actor("operator")).await?;
    Ok((StatusCode::CREATED, Json(to_json(&created))))
}

/// A tenant's full status view.
pub fn tenant_view(cache: &Cache, t: &Tenant) -> Value {
    let ns = cache.tenant_namespace(&t.name_any());
    let (members, domains) = match &ns {
        Some(ns) => {
            let members = Cache::in_namespace(&cache.members, ns).len();
            let domains: Vec<Value> = Cache::in_namespace(&cache.domains, ns)
                .iter()
                .map(|d| {
                    let conditions = d.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or(&[]);
                    let (ready, reason) = ready_of(conditions);
                    json!({"name": d.name_any(), "domain": d.spec.domain, "primary": d.spec.primary, "ready": ready, "reason": reason})
                })
                .collect();
            (members, domains)
        }
        None => (0, Vec::new()),
    };
    let conditions = t
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    json!({
        "summary": summarize(cache, t),
        "tenant": to_json(t),
        "conditions": conditions,
        "namespace": ns,
        "members": members,
        "domains": domains,
    })
}

async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = state.cache.tenant(&tenant);
    let Some(t) = t else {
        caller.require_operator("read tenants")?;
        return Err(ApiError::not_found("Tenant", tenant));
    };
    caller.require_tenant_reader(&t, "read this tenant")?;
    Ok(Json(tenant_view(&state.cache, &t)))
}

/// Applies a change to a tenant's spec (fresh read, whole spec, resourceVersion precondition).
pub async fn change_tenant(
    state: &AppState,
    tenant: &str,
    actor: &str,
    reason: &str,
    change: impl FnOnce(&mut TenantSpec) -> ApiResult<()>,
    annotations: &[(&str, String)],
) -> ApiResult<Tenant> {
    let current: Tenant = writes::get(&state.client, None, tenant).await?;
    let mut spec = current.spec.clone();
    change(&mut spec)?;
    let partner = spec.partner_ref.as_ref().map(|p| p.name.clone());
    writes::apply(
        &state.client,
        &current,
        super::explicit(
            &spec,
            &[
                ("suspended", json!(spec.suspended)),
                // a detach must remove the reference whoever set it
                (
                    "partnerRef",
                    serde_json::to_value(&spec.partner_ref).unwrap_or(Value::Null),
                ),
            ],
        ),
        annotations,
        Audit {
            actor,
            reason,
            message: format!("{reason} on tenant {tenant} by {actor}"),
            tenant: Some(tenant),
            partner: partner.as_deref(),
        },
    )
    .await
}

async fn patch_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Body(p): Body<TenantPatch>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("edit tenants")?;
    if let Some(partner) = p.partner.as_deref()
        && !partner.is_empty()
        && state.cache.partner(partner).is_none()
    {
        return Err(ApiError::unprocessable(
            "partner",
            format!("no partner named {partner:?}"),
        ));
    }
    let updated = change_tenant(
        &state,
        &tenant,
        &caller.actor("operator"),
        "TenantEdited",
        |spec| {
            if let Some(v) = p.display_name {
                spec.display_name = v;
            }
            if let Some(v) = p.plan {
                spec.plan = v;
            }
            if let Some(v) = p.seats {
                spec.seats = v;
            }
            if let Some(v) = p.storage_quota {
                spec.storage_quota = v;
            }
            if let Some(v) = p.mailbox_quota {
                spec.mailbox_quota = v;
            }
            if let Some(v) = p.billing {
                spec.billing = Some(v);
            }
            if let Some(v) = p.partner {
                spec.partner_ref = (!v.is_empty()).then_some(NameRef { name: v });
            }
            Ok(())
        },
        &[],
    )
    .await?;
    Ok(Json(to_json(&updated)))
}

/// Sets a tenant's `spec.suspended`.
pub async fn set_tenant_suspended(
    state: &AppState,
    tenant: &str,
    actor: &str,
    suspended: bool,
) -> ApiResult<Tenant> {
    let reason = if suspended {
        "TenantSuspended"
    } else {
        "TenantResumed"
    };
    change_tenant(
        state,
        tenant,
        actor,
        reason,
        |spec| {
            spec.suspended = suspended;
            Ok(())
        },
        &[],
    )
    .await
}

async fn suspend_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("suspend tenants")?;
    let t = set_tenant_suspended(&state, &tenant, &caller.actor("operator"), true).await?;
    Ok(Json(to_json(&t)))
}

async fn resume_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("resume tenants")?;
    let t = set_tenant_suspended(&state, &tenant, &caller.actor("operator"), false).await?;
    Ok(Json(to_json(&t)))
}

/// What still lives in a tenant's namespace, e.g. `["2 members", "1 mail domain"]`.
pub fn dependents(cache: &Cache, tenant: &str) -> Vec<String> {
    let Some(ns) = cache.tenant_namespace(tenant) else {
        return Vec::new();
    };
    let counted = [
        (
            Cache::in_namespace(&cache.members, &ns).len(),
            "member",
            "members",
        ),
        (
            Cache::in_namespace(&cache.domains, &ns).len(),
            "mail domain",
            "mail domains",
        ),
        (
            Cache::in_namespace(&cache.ssoapps, &ns).len(),
            "SSO app",
            "SSO apps",
        ),
    ];
    counted
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect()
}

async fn delete_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_operator("delete tenants")?;
    let current: Tenant = writes::get(&state.client, None, &tenant).await?;
    let remaining = dependents(&state.cache, &tenant);
    if !remaining.is_empty() {
        return Err(ApiError::Conflict(format!(
            "tenant {tenant} still has {}: remove them first, then delete the tenant",
            remaining.join(", ")
        )));
    }
    let actor = caller.actor("operator");
    let partner = partner_of_tenant(&current);
    writes::delete(
        &state.client,
        &current,
        Audit {
            actor: &actor,
            reason: "TenantDeleted",
            message: format!("tenant {tenant} deleted by {actor}"),
            tenant: Some(&tenant),
            partner: partner.as_deref(),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reconcile_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("request reconciles")?;
    let previous = state
        .cache
        .tenant(&tenant)
        .and_then(|t| t.annotations().get(RECONCILE).cloned());
    let value = fresh_value(previous.as_deref());
    let t = change_tenant(
        &state,
        &tenant,
        &caller.actor("operator"),
        "ReconcileRequested",
        |_| Ok(()),
        &[(RECONCILE, value)],
    )
    .await?;
    Ok(Json(to_json(&t)))
}
