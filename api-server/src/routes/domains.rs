//! Tenant admin: mail domains (add, records and their states, recheck, DMARC policy, make
//! primary, remove), SSO apps (create, the client secret once, delete) and the MFA overview.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use dezky_crds::maildomain::DmarcPolicy;
use dezky_crds::{MailDomain, MailDomainSpec, SsoApp, SsoAppSpec};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::credentials::reveal_once;
use super::members::namespace_of;
use super::{Route, body, fresh_value, ready_of, route, slug, to_json};
use crate::authz::{Caller, tenant_for_admin};
use crate::cache::Cache;
use crate::problem::{ApiError, ApiResult};
use crate::writes::{self, Audit, RECHECK};
use crate::{AppState, Body};

pub fn routes() -> Vec<Route> {
    let a = "tenant admin";
    vec![
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/domains",
            a,
            "The tenant's mail domains",
            None,
            get(list_domains),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/domains",
            a,
            "Create a mail domain",
            body::<CreateDomain>(),
            post(create_domain),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/domains/{domain}",
            a,
            "A domain with the records to publish and their states",
            None,
            get(get_domain),
        ),
        route(
            Method::DELETE,
            "/api/v1/tenants/{tenant}/domains/{domain}",
            a,
            "Remove a mail domain",
            None,
            delete(delete_domain),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/domains/{domain}/recheck",
            a,
            "Check the domain's DNS again now",
            None,
            post(recheck_domain),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/domains/{domain}/primary",
            a,
            "Make the domain the tenant's primary",
            None,
            post(make_primary),
        ),
        route(
            Method::PUT,
            "/api/v1/tenants/{tenant}/domains/{domain}/dmarc",
            a,
            "Set the DMARC policy",
            body::<DmarcRequest>(),
            put(set_dmarc),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/ssoapps",
            a,
            "The tenant's SSO apps",
            None,
            get(list_apps),
        ),
        route(
            Method::POST,
            "/api/v1/tenants/{tenant}/ssoapps",
            a,
            "Create an SSO app",
            body::<CreateApp>(),
            post(create_app),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/ssoapps/{app}",
            a,
            "An SSO app with its issuer and client id",
            None,
            get(get_app),
        ),
        route(
            Method::DELETE,
            "/api/v1/tenants/{tenant}/ssoapps/{app}",
            a,
            "Delete an SSO app",
            None,
            delete(delete_app),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/ssoapps/{app}/credentials",
            a,
            "The client secret, shown once",
            None,
            get(app_credentials),
        ),
        route(
            Method::GET,
            "/api/v1/tenants/{tenant}/mfa",
            a,
            "MFA enrollment of each member",
            None,
            get(mfa_overview),
        ),
    ]
}

/// A new mail domain; `name` defaults to the domain with dots as dashes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomain {
    pub name: Option<String>,
    pub spec: MailDomainSpec,
}

/// The DMARC policy to publish.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DmarcRequest {
    pub policy: DmarcPolicy,
}

/// A new SSO app.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// The SsoApp's name (a Kubernetes object name).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,
    pub spec: SsoAppSpec,
}

fn domain_view(d: &MailDomain) -> Value {
    let conditions = d
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let (ready, reason) = ready_of(&conditions);
    json!({
        "name": d.name_any(), "domain": d.spec.domain, "primary": d.spec.primary,
        "dmarcPolicy": d.spec.dmarc_policy, "ready": ready, "reason": reason,
        "records": d.status.as_ref().map(|s| s.dns_records.clone()).unwrap_or_default(),
        "conditions": conditions, "mailDomain": to_json(d),
    })
}

fn domain_in(state: &AppState, ns: &str, name: &str) -> ApiResult<std::sync::Arc<MailDomain>> {
    state
        .cache
        .domains
        .get(&ObjectRef::new(name).within(ns))
        .ok_or_else(|| ApiError::not_found("MailDomain", name))
}

async fn list_domains(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    tenant_for_admin(&caller, &state.cache, &tenant, "list this tenant's domains")?;
    let items: Vec<Value> = match state.cache.tenant_namespace(&tenant) {
        Some(ns) => Cache::in_namespace(&state.cache.domains, &ns)
            .iter()
            .map(|d| domain_view(d))
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(json!({"items": items})))
}

async fn create_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Body(req): Body<CreateDomain>,
) -> ApiResult<impl IntoResponse> {
    let (_, role) = tenant_for_admin(&caller, &state.cache, &tenant, "add domains to this tenant")?;
    let ns = namespace_of(&state, &tenant)?;
    let name = req.name.unwrap_or_else(|| slug(&req.spec.domain));
    if name.is_empty() {
        return Err(ApiError::unprocessable("spec.domain", "give a domain name"));
    }
    let actor = caller.actor(role);
    let created = writes::create::<MailDomain>(
        &state.client,
        &state.cache,
        Some(&ns),
        &name,
        &req.spec,
        Audit {
            actor: &actor,
            reason: "DomainAdded",
            message: format!("mail domain {} added by {actor}", req.spec.domain),
            tenant: Some(&tenant),
            partner: None,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(domain_view(&created))))
}

async fn get_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, domain)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    tenant_for_admin(&caller, &state.cache, &tenant, "read this tenant's domains")?;
    let ns = namespace_of(&state, &tenant)?;
    Ok(Json(domain_view(domain_in(&state, &ns, &domain)?.as_ref())))
}

/// A domain of a tenant: the tenant, its namespace and the object's name.
struct DomainKey<'a> {
    tenant: &'a str,
    ns: &'a str,
    name: &'a str,
}

async fn change_domain(
    state: &AppState,
    key: DomainKey<'_>,
    actor: &str,
    reason: &str,
    change: impl FnOnce(&mut MailDomainSpec),
    annotations: &[(&str, String)],
) -> ApiResult<MailDomain> {
    let DomainKey { tenant, ns, name } = key;
    let current: MailDomain = writes::get(&state.client, Some(ns), name).await?;
    let mut spec = current.spec.clone();
    change(&mut spec);
    writes::apply(
        &state.client,
        &current,
        super::explicit(&spec, &[("primary", json!(spec.primary))]),
        annotations,
        Audit {
            actor,
            reason,
            message: format!("{reason}: mail domain {} by {actor}", current.spec.domain),
            tenant: Some(tenant),
            partner: None,
        },
    )
    .await
}

async fn recheck_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, domain)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "recheck this tenant's domains",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    let d = domain_in(&state, &ns, &domain)?;
    let value = fresh_value(d.annotations().get(RECHECK).map(String::as_str));
    let d = change_domain(
        &state,
        DomainKey {
            tenant: &tenant,
            ns: &ns,
            name: &domain,
        },
        &caller.actor(role),
        "DomainRecheckRequested",
        |_| {},
        &[(RECHECK, value)],
    )
    .await?;
    Ok(Json(domain_view(&d)))
}

async fn make_primary(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, domain)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "change this tenant's primary domain",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    domain_in(&state, &ns, &domain)?;
    let actor = caller.actor(role);
    for other in Cache::in_namespace(&state.cache.domains, &ns) {
        if other.name_any() != domain && other.spec.primary {
            change_domain(
                &state,
                DomainKey {
                    tenant: &tenant,
                    ns: &ns,
                    name: &other.name_any(),
                },
                &actor,
                "DomainPrimaryUnset",
                |s| s.primary = false,
                &[],
            )
            .await?;
        }
    }
    let d = change_domain(
        &state,
        DomainKey {
            tenant: &tenant,
            ns: &ns,
            name: &domain,
        },
        &actor,
        "DomainMadePrimary",
        |s| s.primary = true,
        &[],
    )
    .await?;
    Ok(Json(domain_view(&d)))
}

async fn set_dmarc(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, domain)): Path<(String, String)>,
    Body(req): Body<DmarcRequest>,
) -> ApiResult<Json<Value>> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "change this tenant's domains",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    domain_in(&state, &ns, &domain)?;
    let d = change_domain(
        &state,
        DomainKey {
            tenant: &tenant,
            ns: &ns,
            name: &domain,
        },
        &caller.actor(role),
        "DmarcPolicyChanged",
        |s| s.dmarc_policy = req.policy,
        &[],
    )
    .await?;
    Ok(Json(domain_view(&d)))
}

async fn delete_domain(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, domain)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "remove this tenant's domains",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    domain_in(&state, &ns, &domain)?;
    let current: MailDomain = writes::get(&state.client, Some(&ns), &domain).await?;
    let actor = caller.actor(role);
    writes::delete(
        &state.client,
        &current,
        Audit {
            actor: &actor,
            reason: "DomainRemoved",
            message: format!("mail domain {} removed by {actor}", current.spec.domain),
            tenant: Some(&tenant),
            partner: None,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn app_view(a: &SsoApp) -> Value {
    let conditions = a
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let (ready, reason) = ready_of(&conditions);
    let issuer = a.status.as_ref().and_then(|s| s.issuer.clone());
    json!({
        "name": a.name_any(), "displayName": a.spec.display_name, "ready": ready, "reason": reason,
        "clientId": a.status.as_ref().and_then(|s| s.client_id.clone()),
        "issuer": issuer,
        "discoveryUrl": issuer.as_ref().map(|i| format!("{}/.well-known/openid-configuration", i.trim_end_matches('/'))),
        "credentialsAvailable": a.status.as_ref().is_some_and(|s| s.credentials_secret_ref.is_some()),
        "ssoApp": to_json(a),
    })
}

async fn list_apps(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "list this tenant's SSO apps",
    )?;
    let items: Vec<Value> = match state.cache.tenant_namespace(&tenant) {
        Some(ns) => Cache::in_namespace(&state.cache.ssoapps, &ns)
            .iter()
            .map(|a| app_view(a))
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(json!({"items": items})))
}

async fn create_app(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Body(req): Body<CreateApp>,
) -> ApiResult<impl IntoResponse> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "create SSO apps in this tenant",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    let actor = caller.actor(role);
    let created = writes::create::<SsoApp>(
        &state.client,
        &state.cache,
        Some(&ns),
        &req.name,
        &req.spec,
        Audit {
            actor: &actor,
            reason: "SsoAppCreated",
            message: format!("SSO app {} created by {actor}", req.name),
            tenant: Some(&tenant),
            partner: None,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(app_view(&created))))
}

fn app_in(state: &AppState, ns: &str, name: &str) -> ApiResult<std::sync::Arc<SsoApp>> {
    state
        .cache
        .ssoapps
        .get(&ObjectRef::new(name).within(ns))
        .ok_or_else(|| ApiError::not_found("SsoApp", name))
}

async fn get_app(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, app)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "read this tenant's SSO apps",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    Ok(Json(app_view(app_in(&state, &ns, &app)?.as_ref())))
}

async fn delete_app(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, app)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "delete this tenant's SSO apps",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    app_in(&state, &ns, &app)?;
    let current: SsoApp = writes::get(&state.client, Some(&ns), &app).await?;
    let actor = caller.actor(role);
    writes::delete(
        &state.client,
        &current,
        Audit {
            actor: &actor,
            reason: "SsoAppDeleted",
            message: format!("SSO app {app} deleted by {actor}"),
            tenant: Some(&tenant),
            partner: None,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn app_credentials(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, app)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, role) = tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "read this tenant's SSO app secrets",
    )?;
    let ns = namespace_of(&state, &tenant)?;
    let current: SsoApp = writes::get(&state.client, Some(&ns), &app).await?;
    let secret = current
        .status
        .as_ref()
        .and_then(|s| s.credentials_secret_ref.as_ref())
        .ok_or_else(|| {
            ApiError::NotReady(
                "the client credentials are not issued yet; try again shortly".into(),
            )
        })?;
    let values = reveal_once(&state, &ns, &secret.name, &["client_id", "client_secret"]).await?;
    let actor = caller.actor(role);
    writes::record(
        &state.client,
        &current,
        &Audit {
            actor: &actor,
            reason: "CredentialsShown",
            message: format!("the client secret of SSO app {app} was shown to {actor}"),
            tenant: Some(&tenant),
            partner: None,
        },
    )
    .await;
    Ok(Json(json!({
        "clientId": values.get("client_id"),
        "clientSecret": values.get("client_secret"),
        "issuer": current.status.as_ref().and_then(|s| s.issuer.clone()),
        "notice": "This client secret is shown once and never again.",
    })))
}

async fn mfa_overview(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Value>> {
    tenant_for_admin(
        &caller,
        &state.cache,
        &tenant,
        "read this tenant's MFA overview",
    )?;
    let members = match state.cache.tenant_namespace(&tenant) {
        Some(ns) => Cache::in_namespace(&state.cache.members, &ns),
        None => Vec::new(),
    };
    let items: Vec<Value> = members
        .iter()
        .map(|m| {
            let enrolled = m
                .status
                .as_ref()
                .and_then(|s| s.identity.as_ref())
                .and_then(|i| i.mfa_enrolled);
            json!({"name": m.name_any(), "email": m.spec.email, "mfaEnrolled": enrolled})
        })
        .collect();
    let enrolled = items
        .iter()
        .filter(|i| i["mfaEnrolled"] == json!(true))
        .count();
    Ok(Json(
        json!({"members": items.len(), "enrolled": enrolled, "items": items}),
    ))
}
