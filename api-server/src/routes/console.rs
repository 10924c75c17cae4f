//! The operator console: tenants (search, status, create, edit, suspend/resume, reconcile now,
//! audit) and the overview KPIs. Partners are in `console_partners`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use dezky_crds::tenant::{BillingDetails, Plan};
use dezky_crds::{MailDomain, Member, NameRef, Tenant, TenantSpec};
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
            "/api/v1/overview",
            c,
            "Platform overview KPIs",
            None,
            get(overview),
        ),
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
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/audit",
            c,
            "A tenant's audit trail",
            None,
            get(tenant_audit),
        ),
    ]
}

/// A new tenant.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The slug (DNS-1123 label, at most 40 characters).
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
    /// all | ready | pending | suspended | failing
    pub state: Option<String>,
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
}

fn tenant_state(t: &Tenant) -> &'static str {
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
    let domains = cache
        .tenant_namespace(&t.name_any())
        .map(|ns| Cache::in_namespace(&cache.domains, &ns).len())
        .unwrap_or(0);
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
        return Err(ApiError::bad_request(
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

async fn tenant_audit(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    let Some(t) = state.cache.tenant(&tenant) else {
        caller.require_operator("read audit trails")?;
        return Err(ApiError::not_found("Tenant", tenant));
    };
    caller.require_tenant_reader(&t, "read this tenant's audit trail")?;
    let entries = writes::audit_trail(&state.client, crate::cache::TENANT_LABEL, &tenant).await?;
    let mut objects: Vec<Value> = Vec::new();
    objects.push(json!({"kind": "Tenant", "name": tenant, "lastChangedBy": t.annotations().get(writes::LAST_CHANGED_BY)}));
    if let Some(ns) = state.cache.tenant_namespace(&tenant) {
        for m in Cache::in_namespace(&state.cache.members, &ns) {
            objects.push(json!({"kind": "Member", "name": m.name_any(), "lastChangedBy": m.annotations().get(writes::LAST_CHANGED_BY)}));
        }
        for d in Cache::in_namespace(&state.cache.domains, &ns) {
            objects.push(json!({"kind": "MailDomain", "name": d.name_any(), "lastChangedBy": d.annotations().get(writes::LAST_CHANGED_BY)}));
        }
    }
    Ok(Json(json!({"items": entries, "objects": objects})))
}

async fn overview(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_operator("read the platform overview")?;
    let cache = &state.cache;
    let tenants = cache.tenants.state();
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    let mut upstreams: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut follow_up = Vec::new();
    let (mut seats_sold, mut seats_used) = (0i64, 0i64);
    for t in &tenants {
        *by_state.entry(tenant_state(t)).or_default() += 1;
        seats_sold += i64::from(t.spec.seats);
        seats_used += i64::from(t.status.as_ref().and_then(|s| s.seats_used).unwrap_or(0));
        let conditions = t
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or(&[]);
        for c in conditions.iter().filter(|c| c.type_ != "Ready") {
            let status = condition_of(conditions, &c.type_).0;
            *upstreams
                .entry(c.type_.clone())
                .or_default()
                .entry(status)
                .or_default() += 1;
        }
        let (ready, reason) = ready_of(conditions);
        if ready == "False" {
            follow_up.push(json!({"name": t.name_any(), "reason": reason}));
        }
    }
    let domains_attention: Vec<Value> = cache
        .domains
        .state()
        .iter()
        .filter(|d| ready_of(d.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or(&[])).0 != "True")
        .map(|d| json!({"namespace": d.namespace(), "domain": d.spec.domain, "tenant": d.namespace().and_then(|ns| cache.tenant_of_namespace(&ns))}))
        .collect();
    let members: Vec<std::sync::Arc<Member>> = cache.members.state();
    let domains: Vec<std::sync::Arc<MailDomain>> = cache.domains.state();
    Ok(Json(json!({
        "tenants": {"total": tenants.len(), "byState": by_state},
        "partners": cache.partners.state().len(),
        "members": members.len(),
        "seats": {"sold": seats_sold, "used": seats_used},
        "domains": {"total": domains.len(), "needingAttention": domains_attention},
        "upstreams": upstreams,
        "followUp": follow_up,
    })))
}
