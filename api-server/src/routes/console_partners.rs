//! The operator console's partners: list, create, edit, attach/detach tenants, terminate.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use dezky_crds::{Contact, NameRef, Partner, PartnerSpec};
use kube::ResourceExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::console::{TenantQuery, change_tenant, search};
use super::{Route, body, ready_of, route, to_json};
use crate::authz::Caller;
use crate::cache::{Cache, partner_of_tenant};
use crate::problem::{ApiError, ApiResult};
use crate::writes::{self, Audit};
use crate::{AppState, Body};

pub fn routes() -> Vec<Route> {
    let c = "console";
    vec![
        route(
            Method::GET,
            "/api/v1/partners",
            c,
            "List partners",
            None,
            get(list_partners),
        ),
        route(
            Method::POST,
            "/api/v1/partners",
            c,
            "Create a partner",
            body::<CreatePartner>(),
            post(create_partner),
        ),
        route(
            Method::GET,
            "/api/v1/partners/{partner}",
            c,
            "A partner with its customers",
            None,
            get(get_partner),
        ),
        route(
            Method::PATCH,
            "/api/v1/partners/{partner}",
            c,
            "Edit a partner",
            body::<PartnerPatch>(),
            patch(patch_partner),
        ),
        route(
            Method::DELETE,
            "/api/v1/partners/{partner}",
            c,
            "Terminate a partner (no customers may remain attached)",
            None,
            delete(terminate_partner),
        ),
        route(
            Method::PUT,
            "/api/v1/partners/{partner}/tenants/{tenant}",
            c,
            "Attach a tenant to a partner",
            None,
            put(attach_tenant),
        ),
        route(
            Method::DELETE,
            "/api/v1/partners/{partner}/tenants/{tenant}",
            c,
            "Detach a tenant from a partner",
            None,
            delete(detach_tenant),
        ),
    ]
}

/// A new partner.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartner {
    /// The slug (DNS-1123 label, at most 40 characters).
    #[schemars(
        length(min = 1, max = 40),
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    pub spec: PartnerSpec,
}

/// The editable fields of a partner.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerPatch {
    pub display_name: Option<String>,
    pub domain: Option<String>,
    pub margin_percent: Option<i32>,
    pub contact: Option<Contact>,
    pub suspended: Option<bool>,
}

fn partner_summary(cache: &Cache, p: &Partner) -> Value {
    let conditions = p
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[]);
    let (ready, reason) = ready_of(conditions);
    let customers = cache
        .tenants
        .state()
        .iter()
        .filter(|t| partner_of_tenant(t).as_deref() == Some(p.name_any().as_str()))
        .count();
    json!({
        "name": p.name_any(), "displayName": p.spec.display_name, "domain": p.spec.domain,
        "marginPercent": p.spec.margin_percent, "suspended": p.spec.suspended,
        "ready": ready, "reason": reason, "customers": customers,
    })
}

async fn list_partners(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_operator("list partners")?;
    let mut partners = state.cache.partners.state();
    partners.sort_by_key(|p| p.name_any());
    let items: Vec<Value> = partners
        .iter()
        .map(|p| partner_summary(&state.cache, p))
        .collect();
    Ok(Json(json!({"items": items})))
}

async fn create_partner(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<CreatePartner>,
) -> ApiResult<impl IntoResponse> {
    caller.require_operator("create partners")?;
    let actor = caller.actor("operator");
    let created = writes::create::<Partner>(
        &state.client,
        &state.cache,
        None,
        &req.name,
        &req.spec,
        Audit {
            actor: &actor,
            reason: "PartnerCreated",
            message: format!("partner {} created by {actor}", req.name),
            tenant: None,
            partner: Some(&req.name),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(to_json(&created))))
}

async fn get_partner(
    State(state): State<AppState>,
    caller: Caller,
    Path(partner): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_partner(&partner, "read this partner")?;
    let p = state
        .cache
        .partner(&partner)
        .ok_or_else(|| ApiError::not_found("Partner", &partner))?;
    let mut view = partner_summary(&state.cache, &p);
    view["partner"] = to_json(p.as_ref());
    view["customers"] = json!(search(
        &state.cache,
        &TenantQuery::default(),
        |t| partner_of_tenant(t).as_deref() == Some(partner.as_str())
    ));
    Ok(Json(view))
}

async fn patch_partner(
    State(state): State<AppState>,
    caller: Caller,
    Path(partner): Path<String>,
    Body(p): Body<PartnerPatch>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("edit partners")?;
    let current: Partner = writes::get(&state.client, None, &partner).await?;
    let mut spec = current.spec.clone();
    if let Some(v) = p.display_name {
        spec.display_name = v;
    }
    if let Some(v) = p.domain {
        spec.domain = v;
    }
    if let Some(v) = p.margin_percent {
        spec.margin_percent = v;
    }
    if let Some(v) = p.contact {
        spec.contact = Some(v);
    }
    if let Some(v) = p.suspended {
        spec.suspended = v;
    }
    let actor = caller.actor("operator");
    let updated = writes::apply(
        &state.client,
        &current,
        super::explicit(&spec, &[("suspended", json!(spec.suspended))]),
        &[],
        Audit {
            actor: &actor,
            reason: "PartnerEdited",
            message: format!("partner {partner} edited by {actor}"),
            tenant: None,
            partner: Some(&partner),
        },
    )
    .await?;
    Ok(Json(to_json(&updated)))
}

async fn terminate_partner(
    State(state): State<AppState>,
    caller: Caller,
    Path(partner): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_operator("terminate partners")?;
    let current: Partner = writes::get(&state.client, None, &partner).await?;
    let attached = state
        .cache
        .tenants
        .state()
        .iter()
        .filter(|t| partner_of_tenant(t).as_deref() == Some(partner.as_str()))
        .count();
    if attached > 0 {
        return Err(ApiError::Conflict(format!(
            "{attached} tenant(s) are still attached to partner {partner}: detach them first"
        )));
    }
    let actor = caller.actor("operator");
    writes::delete(
        &state.client,
        &current,
        Audit {
            actor: &actor,
            reason: "PartnerTerminated",
            message: format!("partner {partner} terminated by {actor}"),
            tenant: None,
            partner: Some(&partner),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn attach_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path((partner, tenant)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("attach tenants to partners")?;
    if state.cache.partner(&partner).is_none() {
        return Err(ApiError::not_found("Partner", partner));
    }
    let t = change_tenant(
        &state,
        &tenant,
        &caller.actor("operator"),
        "TenantAttached",
        |spec| {
            spec.partner_ref = Some(NameRef {
                name: partner.clone(),
            });
            Ok(())
        },
        &[],
    )
    .await?;
    Ok(Json(to_json(&t)))
}

async fn detach_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path((partner, tenant)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("detach tenants from partners")?;
    let t = change_tenant(
        &state,
        &tenant,
        &caller.actor("operator"),
        "TenantDetached",
        |spec| {
            if spec.partner_ref.as_ref().map(|p| p.name.as_str()) != Some(partner.as_str()) {
                return Err(ApiError::Conflict(format!(
                    "tenant {tenant} is not attached to partner {partner}"
                )));
            }
            spec.partner_ref = None;
            Ok(())
        },
        &[],
    )
    .await?;
    Ok(Json(to_json(&t)))
}
