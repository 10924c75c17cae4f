//! The partner portal: a partner's customers (create under the partner, suspend/resume, status)
//! and its staff (list, create with the one-time password shown once). Staff of one partner never
//! reach another partner's customers.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use dezky_crds::{Member, MemberSpec, NameRef, Tenant, TenantSpec};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::console::{TenantQuery, create_tenant_as, search, set_tenant_suspended, tenant_view};
use super::credentials::{Scope, member_password_once};
use super::members::member_view;
use super::{Route, body, route, slug, to_json};
use crate::authz::Caller;
use crate::cache::{Cache, partner_of_tenant};
use crate::problem::{ApiError, ApiResult};
use crate::writes::{self, Audit};
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
        route(
            Method::POST,
            "/api/v1/partners/{partner}/staff",
            p,
            "Create a staff member of the partner",
            body::<CreateStaff>(),
            post(create_staff),
        ),
        route(
            Method::GET,
            "/api/v1/partners/{partner}/staff/{member}/credentials",
            p,
            "A staff member's one-time password, shown once",
            None,
            get(staff_credentials),
        ),
    ]
}

/// A new staff member of the partner, on the partner's own domain; `name` defaults to a slug of
/// the address's local part.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    pub name: Option<String>,
    pub spec: MemberSpec,
}

/// A new customer of the partner; `spec.partnerRef` is set to the partner.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// The slug (DNS-1123 label, at most 40 characters).
    #[schemars(
        length(min = 1, max = 40),
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
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
    query.check()?;
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
    let mut items: Vec<Value> = match state.cache.partner_namespace(&partner) {
        Some(ns) => Cache::in_namespace(&state.cache.members, &ns)
            .iter()
            .map(|m| {
                let mut v = member_view(m);
                if let Some(map) = v.as_object_mut() {
                    map.remove("member");
                }
                v
            })
            .collect(),
        None => Vec::new(),
    };
    items.sort_by(|a, b| a["email"].as_str().cmp(&b["email"].as_str()));
    Ok(Json(json!({"items": items})))
}

/// The partner's namespace, or 409 while the operator has not made it yet.
fn partner_namespace(state: &AppState, partner: &str) -> ApiResult<String> {
    state.cache.partner_namespace(partner).ok_or_else(|| {
        ApiError::NotReady(format!(
            "partner {partner} has no namespace yet; try again once it is provisioned"
        ))
    })
}

/// Whether `email` is an address on `domain` (or one of its subdomains).
fn on_domain(email: &str, domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    match email.rsplit_once('@') {
        Some((local, host)) if !local.is_empty() && !domain.is_empty() => {
            let host = host.to_ascii_lowercase();
            host == domain || host.ends_with(&format!(".{domain}"))
        }
        _ => false,
    }
}

async fn create_staff(
    State(state): State<AppState>,
    caller: Caller,
    Path(partner): Path<String>,
    Body(req): Body<CreateStaff>,
) -> ApiResult<impl IntoResponse> {
    let role = caller.require_partner(&partner, "create staff of this partner")?;
    let p = state
        .cache
        .partner(&partner)
        .ok_or_else(|| ApiError::not_found("Partner", partner.clone()))?;
    if !on_domain(&req.spec.email, &p.spec.domain) {
        return Err(ApiError::unprocessable(
            "spec.email",
            format!(
                "staff addresses are on the partner's domain; use an address ending in @{}",
                p.spec.domain
            ),
        ));
    }
    let ns = partner_namespace(&state, &partner)?;
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
            reason: "StaffCreated",
            message: format!(
                "staff member {name} ({}) created by {actor}",
                req.spec.email
            ),
            tenant: None,
            partner: Some(&partner),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(member_view(&created))))
}

async fn staff_credentials(
    State(state): State<AppState>,
    caller: Caller,
    Path((partner, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let role = caller.require_partner(&partner, "read this partner's staff credentials")?;
    let ns = partner_namespace(&state, &partner)?;
    let m: Member = writes::get(&state.client, Some(&ns), &member).await?;
    Ok(Json(
        member_password_once(&state, Scope::Partner(&partner), &m, &caller.actor(role)).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_addresses_are_on_the_partner_domain() {
        assert!(on_domain("pat@northwind.test", "northwind.test"));
        assert!(on_domain("pat@EU.Northwind.test", "northwind.test."));
        assert!(!on_domain("pat@evilnorthwind.test", "northwind.test"));
        assert!(!on_domain("@northwind.test", "northwind.test"));
        assert!(!on_domain("pat@acme.test", "northwind.test"));
        assert!(!on_domain("pat@northwind.test", ""));
    }
}
