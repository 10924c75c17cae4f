//! Billing routes: whether billing is on, a tenant's billing summary and invoices, adding a card
//! through a SetupIntent (the default card shown as brand and last four digits only), the console's
//! platform-wide invoices and a partner's revenue and margin per period.
//!
//! Readers of a tenant's billing: operators, the tenant's admins and its partner's staff. Only
//! operators and the tenant's admins add a card. A tenant outside the caller's scope is refused
//! with 403 whether it exists or not, and nothing is sent to Stripe for it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use dezky_crds::Tenant;
use kube::ResourceExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Route, route};
use crate::AppState;
use crate::authz::Caller;
use crate::billing::{BillingError, Invoice, StripeReader, is_id, margin_by_period};
use crate::cache::partner_of_tenant;
use crate::problem::{ApiError, Problem};

/// Why a billing route refused: an API error, billing switched off, or Stripe failing.
#[derive(Debug)]
pub enum Refusal {
    Api(ApiError),
    Off,
    Stripe(BillingError),
}

type BillingResult<T> = Result<T, Refusal>;

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Api(e)
    }
}

impl From<BillingError> for Refusal {
    fn from(e: BillingError) -> Refusal {
        match &e {
            BillingError::Refused { status: 404, .. } => Refusal::Api(ApiError::NotFound {
                kind: "Stripe object",
                name: String::new(),
            }),
            BillingError::Refused {
                status: 400 | 402, ..
            } => Refusal::Api(ApiError::unprocessable("paymentMethod", e.to_string())),
            BillingError::Unsupported(what) => Refusal::Api(ApiError::Conflict((*what).to_owned())),
            _ => Refusal::Stripe(e),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> axum::response::Response {
        match self {
            Refusal::Api(e) => e.into_response(),
            Refusal::Off => Problem {
                type_: "https://dezky.io/problems/billing-off".into(),
                title: "Billing is switched off".into(),
                status: 404,
                detail: "billing is switched off in this installation: there are no invoices, \
                         cards or revenue to show"
                    .into(),
                errors: Vec::new(),
            }
            .into_response(),
            Refusal::Stripe(e) => {
                tracing::warn!(error = %e, "a Stripe request failed");
                Problem {
                    type_: "https://dezky.io/problems/stripe".into(),
                    title: "Stripe failed".into(),
                    status: 502,
                    detail: e.to_string(),
                    errors: Vec::new(),
                }
                .into_response()
            }
        }
    }
}

pub fn routes() -> Vec<Route> {
    let b = "billing";
    vec![
        route(
            Method::GET,
            "/api/v1/billing",
            b,
            "Whether billing is switched on",
            None,
            get(status),
        ),
        route(
            Method::GET,
            "/api/v1/billing/invoices",
            b,
            "The platform's invoices, newest first (operators; paged with startingAfter)",
            None,
            get(platform_invoices),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/billing",
            b,
            "A tenant's plan, seats, subscription status and default card",
            None,
            get(tenant_billing),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/invoices",
            b,
            "A tenant's invoices, newest first (paged with startingAfter)",
            None,
            get(tenant_invoices),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/payment-method",
            b,
            "A tenant's default card: brand and last four digits",
            None,
            get(payment_method),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/payment-method/setup-intents",
            b,
            "Create a SetupIntent to add a card (its client secret is in this answer only)",
            None,
            post(create_setup_intent),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/payment-method/setup-intents/{intent}",
            b,
            "A SetupIntent's state",
            None,
            get(get_setup_intent),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/payment-method/setup-intents/{intent}/complete",
            b,
            "Make the card a succeeded SetupIntent collected the tenant's default",
            None,
            post(complete_setup_intent),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/payment-method/setup-intents/{intent}/test-confirm",
            b,
            "Confirm a SetupIntent with Stripe's test card (development with localstripe only)",
            None,
            post(test_confirm_setup_intent),
        ),
        route(
            Method::GET,
            "/api/v1/partners/{partner}/revenue",
            b,
            "A partner's customers' paid invoices and its margin per period",
            None,
            get(partner_revenue),
        ),
    ]
}

/// Paging of an invoice list.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    /// 1..=100, default 20.
    pub limit: Option<String>,
    /// The last invoice id of the previous page.
    pub starting_after: Option<String>,
}

impl Paging {
    fn read(&self) -> BillingResult<(u8, Option<&str>)> {
        let limit = match self.limit.as_deref() {
            None | Some("") => 20,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| (1..=100).contains(l))
                .ok_or_else(|| ApiError::bad_request("limit", "must be a number from 1 to 100"))?,
        };
        let after = match self.starting_after.as_deref() {
            None | Some("") => None,
            Some(a) if is_id(a, "in_") => Some(a),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "startingAfter",
                    "must be an invoice id (in_...)",
                )
                .into());
            }
        };
        Ok((limit, after))
    }
}

/// Billing is on, or the route answers 404 saying it is off.
fn reader(state: &AppState) -> BillingResult<&StripeReader> {
    state.billing.as_ref().ok_or(Refusal::Off)
}

/// A tenant the caller may read the billing of (403 for tenants outside its scope, existing or not).
fn readable_tenant(
    state: &AppState,
    caller: &Caller,
    tenant: &str,
    what: &str,
) -> BillingResult<(Arc<Tenant>, &'static str)> {
    match state.cache.tenant(tenant) {
        Some(t) => {
            let role = caller.require_tenant_reader(&t, what)?;
            Ok((t, role))
        }
        None => {
            caller.require_operator(what)?;
            Err(ApiError::not_found("Tenant", tenant).into())
        }
    }
}

/// The tenant's Stripe customer, once the operator has created it.
fn customer_of(t: &Tenant) -> Option<String> {
    t.status
        .as_ref()
        .and_then(|s| s.billing.as_ref())
        .and_then(|b| b.customer_id.clone())
        .filter(|c| is_id(c, "cus_"))
}

fn require_customer(t: &Tenant) -> BillingResult<String> {
    customer_of(t).ok_or_else(|| {
        ApiError::NotReady(format!(
            "tenant {} has no Stripe customer yet: the operator creates it (see the BillingReady condition)",
            t.name_any()
        ))
        .into()
    })
}

async fn status(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(json!({
        "enabled": state.billing.is_some(),
        "provider": state.billing.as_ref().map(|b| b.dialect().name()),
    }))
}

async fn tenant_billing(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> BillingResult<Json<Value>> {
    let (t, _) = readable_tenant(&state, &caller, &tenant, "read this tenant's billing")?;
    let stripe = reader(&state)?;
    let customer = customer_of(&t);
    let card = match &customer {
        Some(c) => stripe.default_card(c).await?,
        None => None,
    };
    let billing = t.status.as_ref().and_then(|s| s.billing.clone());
    Ok(Json(json!({
        "tenant": t.name_any(),
        "displayName": t.spec.display_name,
        "plan": t.spec.plan,
        "seats": t.spec.seats,
        "seatsUsed": t.status.as_ref().and_then(|s| s.seats_used),
        "partner": partner_of_tenant(&t),
        "suspended": t.spec.suspended,
        "customerId": customer,
        "subscriptionId": billing.as_ref().and_then(|b| b.subscription_id.clone()),
        "subscriptionStatus": billing.as_ref().and_then(|b| b.subscription_status.clone()),
        "card": card,
        "provider": stripe.dialect().name(),
    })))
}

async fn tenant_invoices(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(paging): Query<Paging>,
) -> BillingResult<Json<Value>> {
    let (t, _) = readable_tenant(&state, &caller, &tenant, "read this tenant's invoices")?;
    let stripe = reader(&state)?;
    let (limit, after) = paging.read()?;
    let Some(customer) = customer_of(&t) else {
        return Ok(Json(
            json!({"items": [], "hasMore": false, "nextCursor": null}),
        ));
    };
    let page = stripe.invoices(Some(&customer), limit, after).await?;
    Ok(Json(serde_json::to_value(page).unwrap_or(Value::Null)))
}

async fn payment_method(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> BillingResult<Json<Value>> {
    let (t, _) = readable_tenant(
        &state,
        &caller,
        &tenant,
        "read this tenant's payment method",
    )?;
    let stripe = reader(&state)?;
    let card = match customer_of(&t) {
        Some(c) => stripe.default_card(&c).await?,
        None => None,
    };
    Ok(Json(json!({"card": card})))
}

/// A tenant whose card the caller may change: its admin or an operator.
fn payable_tenant(state: &AppState, caller: &Caller, tenant: &str) -> BillingResult<Arc<Tenant>> {
    let (t, _) =
        crate::authz::tenant_for_admin(caller, &state.cache, tenant, "change this tenant's card")?;
    Ok(t)
}

/// The SetupIntent, if it collects a card for this tenant's customer (403 otherwise).
async fn own_intent(
    stripe: &StripeReader,
    customer: &str,
    intent: &str,
) -> BillingResult<crate::billing::SetupIntent> {
    if !is_id(intent, "seti_") {
        return Err(ApiError::bad_request("intent", "must be a SetupIntent id (seti_...)").into());
    }
    let found = stripe.setup_intent(intent).await?;
    if found.customer_id.as_deref() != Some(customer) {
        return Err(ApiError::Forbidden(
            "you may not use a SetupIntent of another customer".into(),
        )
        .into());
    }
    Ok(found)
}

async fn create_setup_intent(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> BillingResult<impl IntoResponse> {
    let t = payable_tenant(&state, &caller, &tenant)?;
    let stripe = reader(&state)?;
    let customer = require_customer(&t)?;
    let intent = stripe.create_setup_intent(&customer).await?;
    tracing::info!(tenant = %tenant, intent = %intent.id, "created a SetupIntent");
    Ok((StatusCode::CREATED, Json(json!(intent))))
}

async fn get_setup_intent(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, intent)): Path<(String, String)>,
) -> BillingResult<Json<Value>> {
    let t = payable_tenant(&state, &caller, &tenant)?;
    let stripe = reader(&state)?;
    let customer = require_customer(&t)?;
    let found = own_intent(stripe, &customer, &intent).await?;
    Ok(Json(json!(found)))
}

async fn complete_setup_intent(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, intent)): Path<(String, String)>,
) -> BillingResult<Json<Value>> {
    let t = payable_tenant(&state, &caller, &tenant)?;
    let stripe = reader(&state)?;
    let customer = require_customer(&t)?;
    let found = own_intent(stripe, &customer, &intent).await?;
    let pm = match (found.status.as_str(), found.payment_method.as_deref()) {
        ("succeeded", Some(pm)) if is_id(pm, "pm_") => pm.to_owned(),
        (status, _) => {
            return Err(ApiError::Conflict(format!(
                "the SetupIntent has not collected a card yet (its status is {status})"
            ))
            .into());
        }
    };
    stripe.make_default(&customer, &pm).await?;
    let card = stripe.default_card(&customer).await?;
    tracing::info!(tenant = %tenant, intent = %intent, "made a new card the default");
    Ok(Json(json!({"card": card})))
}

async fn test_confirm_setup_intent(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, intent)): Path<(String, String)>,
) -> BillingResult<Json<Value>> {
    let t = payable_tenant(&state, &caller, &tenant)?;
    let stripe = reader(&state)?;
    let customer = require_customer(&t)?;
    own_intent(stripe, &customer, &intent).await?;
    let confirmed = stripe.confirm_with_test_card(&intent).await?;
    Ok(Json(json!(confirmed)))
}

async fn platform_invoices(
    State(state): State<AppState>,
    caller: Caller,
    Query(paging): Query<Paging>,
) -> BillingResult<Json<Value>> {
    caller.require_operator("read the platform's invoices")?;
    let stripe = reader(&state)?;
    let (limit, after) = paging.read()?;
    let mut page = stripe.invoices(None, limit, after).await?;
    let tenants = state.cache.tenants.state();
    for invoice in &mut page.items {
        invoice.tenant = tenants
            .iter()
            .find(|t| customer_of(t).is_some() && customer_of(t) == invoice.customer_id)
            .map(|t| t.name_any());
    }
    Ok(Json(serde_json::to_value(page).unwrap_or(Value::Null)))
}

async fn partner_revenue(
    State(state): State<AppState>,
    caller: Caller,
    Path(partner): Path<String>,
) -> BillingResult<Json<Value>> {
    caller.require_partner(&partner, "read this partner's revenue")?;
    let p = state
        .cache
        .partner(&partner)
        .ok_or_else(|| ApiError::not_found("Partner", &partner))?;
    let stripe = reader(&state)?;
    let mut customers: Vec<Arc<Tenant>> = state
        .cache
        .tenants
        .state()
        .into_iter()
        .filter(|t| partner_of_tenant(t).as_deref() == Some(partner.as_str()))
        .collect();
    customers.sort_by_key(|t| t.name_any());
    let mut invoices: Vec<Invoice> = Vec::new();
    let mut per_customer = Vec::new();
    for t in &customers {
        let Some(customer) = customer_of(t) else {
            per_customer.push(json!({"tenant": t.name_any(), "paidInvoices": 0, "billed": false}));
            continue;
        };
        let mut theirs = stripe.all_invoices(&customer).await?;
        for i in &mut theirs {
            i.tenant = Some(t.name_any());
        }
        let paid = theirs
            .iter()
            .filter(|i| i.status.as_deref() == Some("paid"))
            .count();
        per_customer.push(json!({"tenant": t.name_any(), "paidInvoices": paid, "billed": true}));
        invoices.extend(theirs);
    }
    let percent = u8::try_from(p.spec.margin_percent.clamp(0, 100)).unwrap_or(0);
    Ok(Json(json!({
        "partner": partner,
        "marginPercent": percent,
        "periods": margin_by_period(&invoices, percent),
        "customers": per_customer,
    })))
}
