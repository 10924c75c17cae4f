//! The partner portal: a partner's customers (create under the partner, suspend/resume, status)
//! and its staff. Staff of one partner never reach another partner's customers.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use dezky_crds::{NameRef, Tenant, TenantSpec};
use kube::ResourceExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::console::{TenantQuery, create_tenant_as, search, set_tenant_suspended, tenant_view};
use super::{Route, body, ready_of, route, to_json};
use crate::authz::Caller;
use crate::cache::{Cache, partner_of_tenant};
use crate::problem::{ApiError, ApiResult};
use crate::{AppState, Body};

pub fn routes() -> Vec<Route> {
    let p = "partner portal";
    vec![
        route(
            Method::GET,
            "/api/v1/partners/{partner}/customers",
            p,
            "The partner's customers",
            None,
            get(list_customers),
        ),
        route(
            Method::POST,
            "/api/v1/partners/{partner}/customers",
            p,
            "Create a customer tenant under the partner",
            body::<CreateCustomer>(),
            post(create_customer),
        ),
        route(
            Method::GET,
            "/api/v1/partners/{partner}/customers/{tenant}",
            p,
            "A customer's status",
            None,
            get(get_customer),
        ),
        route(
            Method::POST,
            "/api/v1/partners/{partner}/customers/{tenant}/suspend",
            p,
            "Suspend a customer",
            None,
            post(suspend_customer),
        ),
        route(
            Method::POST,
            "/api/v1/partners/{partner}/customers/{tenant}/resume",
            p,
            "Resume a customer",
            None,
            post(resume_customer),
        ),
        route(
            Method::GET,
            "/api/v1/partners/{partner}/staff",
            p,
            "The partner's staff",
            None,
            get(list_staff),
        ),
    ]
}

/// A new customer of the partner; `spec.partnerRef` is set to the partner.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub name: String,
    pub spec: TenantSpec,
}

/// The customer, if it belongs to the partner; 403 otherwise (existence is not revealed).
fn customer(state: &AppState, partner: &str, tenant: &str) -> ApiResult<std::sync::Arc<Tenant>> {
    state
        .cache
        .tenant(tenant)
        .filter(|t| partner_of_tenant(t).as_deref() == Some(partner))
        .ok_or_else(|| {
            ApiError::Forbidden(format!(
                "you may not act on tenants that are not customers of partner {partner}"
            ))
        })
}

async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
    Path(partner): Path<String>,
    Query(query): Query<TenantQuery>,
) -> ApiResult<Json<Value>> {
    caller.require_partner(&partner, "list this partner's customers")?;
    let items = search(&state.cache, &query, |t| {
        partner_of_tenant(t).as_deref() == Some(partner.as_str())
    });
    Ok(Json(json!({"items": items})))
}

async fn create_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(partner): Path<String>,
    Body(req): Body<CreateCustomer>,
) -> ApiResult<impl IntoResponse> {
    let role = caller.require_partner(&partner, "create customers of this partner")?;
    if state.cache.partner(&partner).is_none() {
        return Err(ApiError::not_found("Partner", partner));
    }
    let mut spec = req.spec;
    spec.partner_ref = Some(NameRef {
        name: partner.clone(),
    });
    // a partner cannot let its customers adopt unmarked upstream objects
    if role != "operator" {
        spec.allow_adoption = false;
    }
    let created = create_tenant_as(&state, &req.name, &spec, &caller.actor(role)).await?;
    Ok((StatusCode::CREATED, Json(to_json(&created))))
}

async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path((partner, tenant)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_partner(&partner, "read this partner's customers")?;
    let t = customer(&state, &partner, &tenant)?;
    Ok(Json(tenant_view(&state.cache, &t)))
}

async fn suspend_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path((partner, tenant)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let role = caller.require_partner(&partner, "suspend this partner's customers")?;
    customer(&state, &partner, &tenant)?;
    let t = set_tenant_suspended(&state, &tenant, &caller.actor(role), true).await?;
    Ok(Json(to_json(&t)))
}

async fn resume_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path((partner, tenant)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let role = caller.require_partner(&partner, "resume this partner's customers")?;
    customer(&state, &partner, &tenant)?;
    let t = set_tenant_suspended(&state, &tenant, &caller.actor(role), false).await?;
    Ok(Json(to_json(&t)))
}

async fn list_staff(
    State(state): State<AppState>,
    caller: Caller,
    Path(partner): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_partner(&partner, "list this partner's staff")?;
    let items: Vec<Value> = match state.cache.partner_namespace(&partner) {
        Some(ns) => Cache::in_namespace(&state.cache.members, &ns)
            .iter()
            .map(|m| {
                let (ready, reason) = ready_of(m.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or(&[]));
                json!({"name": m.name_any(), "email": m.spec.email, "displayName": m.spec.display_name, "suspended": m.spec.suspended, "ready": ready, "reason": reason})
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(json!({"items": items})))
}
