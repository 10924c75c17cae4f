//! Finding things across the platform: the search behind the console's Ctrl/⌘-K palette (only
//! what the caller may see) and the operators' platform-wide member directory (paged, filtered).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::routing::get;
use dezky_crds::Member;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Route, ready_of, route};
use crate::AppState;
use crate::authz::Caller;
use crate::cache::{Cache, partner_of_tenant};
use crate::problem::{ApiError, ApiResult};

pub fn routes() -> Vec<Route> {
    let c = "console";
    vec![
        route(
            Method::GET,
            "/api/v1/search",
            c,
            "Search tenants, partners and members the caller may see (query q, limit)",
            None,
            get(search),
        ),
        route(
            Method::GET,
            "/api/v1/members",
            c,
            "Platform-wide member search (query q, tenant, role, status, mfa, page, pageSize)",
            None,
            get(list_members),
        ),
    ]
}

/// The most results one search returns.
const SEARCH_LIMIT_MAX: usize = 50;
/// The default and largest page of the member directory.
const PAGE_SIZE_DEFAULT: usize = 50;
const PAGE_SIZE_MAX: usize = 200;

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    /// `tenant`, `partner` or `member`.
    pub kind: &'static str,
    /// The object's name (a member's name within its tenant's or partner's namespace).
    pub name: String,
    /// What a person reads: a display name or an address.
    pub label: String,
    /// A second line: the slug, the tenant, the domain.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
}

/// How well `text` matches the lower-case `q`: 0 for a prefix, 1 for a substring, none otherwise.
fn rank(q: &str, texts: &[&str]) -> Option<u8> {
    texts
        .iter()
        .filter_map(|t| {
            let t = t.to_lowercase();
            if t.starts_with(q) {
                Some(0)
            } else if t.contains(q) {
                Some(1)
            } else {
                None
            }
        })
        .min()
}

/// A positive integer query parameter within `1..=max`, or a 400 naming it.
fn positive(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> ApiResult<usize> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                name,
                format!("{name} must be a whole number from 1 to {max}"),
            )),
        },
    }
}

/// What the caller may find: everything for an operator, a partner's own record and customers
/// for its staff, a tenant and its members for its admins, and a member's own record.
fn visible_hits(cache: &Cache, caller: &Caller, q: &str) -> Vec<(u8, Hit)> {
    let roles = &caller.roles;
    let mut hits = Vec::new();
    for t in cache.tenants.state() {
        let name = t.name_any();
        let partner = partner_of_tenant(&t);
        let may = roles.operator
            || roles.tenant_admin.contains(&name)
            || partner
                .as_ref()
                .is_some_and(|p| roles.partner_staff.contains(p));
        if !may {
            continue;
        }
        if let Some(r) = rank(q, &[&name, &t.spec.display_name]) {
            hits.push((
                r,
                Hit {
                    kind: "tenant",
                    label: t.spec.display_name.clone(),
                    detail: name.clone(),
                    name,
                    tenant: None,
                    partner,
                },
            ));
        }
    }
    for p in cache.partners.state() {
        let name = p.name_any();
        if !(roles.operator || roles.partner_staff.contains(&name)) {
            continue;
        }
        if let Some(r) = rank(q, &[&name, &p.spec.display_name, &p.spec.domain]) {
            hits.push((
                r,
                Hit {
                    kind: "partner",
                    label: p.spec.display_name.clone(),
                    detail: p.spec.domain.clone(),
                    name,
                    tenant: None,
                    partner: None,
                },
            ));
        }
    }
    for m in cache.members.state() {
        let Some(ns) = m.namespace() else { continue };
        let tenant = cache.tenant_of_namespace(&ns);
        let partner = cache.partner_of_namespace(&ns);
        let own = caller
            .own_members()
            .iter()
            .any(|s| s.namespace == ns && s.name == m.name_any());
        let may = roles.operator
            || own
            || tenant
                .as_ref()
                .is_some_and(|t| roles.tenant_admin.contains(t));
        if !may || (tenant.is_none() && partner.is_none()) {
            continue;
        }
        if let Some(r) = rank(q, &[&m.spec.email, &m.spec.display_name]) {
            let owner = tenant.clone().or(partner.clone()).unwrap_or_default();
            hits.push((
                r,
                Hit {
                    kind: "member",
                    name: m.name_any(),
                    label: m.spec.email.clone(),
                    detail: format!("{} · {owner}", m.spec.display_name),
                    tenant,
                    partner,
                },
            ));
        }
    }
    hits
}

async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    // counted as sent (the document's maxLength): lower-casing may lengthen a text
    let sent = params.get("q").map(String::as_str).unwrap_or_default();
    if sent.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "q",
            "search for at most 100 characters",
        ));
    }
    let q = sent.trim().to_lowercase();
    let limit = positive(&params, "limit", 20, SEARCH_LIMIT_MAX)?;
    let mut hits = visible_hits(&state.cache, &caller, &q);
    let order = |k: &str| match k {
        "tenant" => 0,
        "partner" => 1,
        _ => 2,
    };
    hits.sort_by(|(ra, a), (rb, b)| {
        ra.cmp(rb)
            .then(order(a.kind).cmp(&order(b.kind)))
            .then(a.label.cmp(&b.label))
            .then(a.name.cmp(&b.name))
    });
    let total = hits.len();
    let items: Vec<Hit> = hits.into_iter().take(limit).map(|(_, h)| h).collect();
    Ok(Json(json!({"items": items, "total": total})))
}

/// A member's state for the directory: `suspended`, `ready`, `failing` or `pending`.
fn member_state(m: &Member) -> &'static str {
    if m.spec.suspended {
        return "suspended";
    }
    let conditions = m
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

const MEMBER_STATES: [&str; 4] = ["ready", "pending", "failing", "suspended"];

async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    caller.require_operator("search members across the platform")?;
    let page = positive(&params, "page", 1, 100_000)?;
    let page_size = positive(&params, "pageSize", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)?;
    let q = params
        .get("q")
        .map(|q| q.trim().to_lowercase())
        .unwrap_or_default();
    let tenant = params.get("tenant").filter(|t| !t.is_empty());
    let role = params.get("role").filter(|r| !r.is_empty());
    if let Some(r) = role
        && r != "admin"
        && r != "member"
    {
        return Err(ApiError::bad_request(
            "role",
            "role must be admin or member",
        ));
    }
    let status = params
        .get("status")
        .filter(|s| !s.is_empty() && *s != "all");
    if let Some(s) = status
        && !MEMBER_STATES.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(
            "status",
            "status must be all, ready, pending, failing or suspended",
        ));
    }
    let mfa = match params.get("mfa").map(String::as_str) {
        None | Some("") | Some("any") => None,
        Some("enrolled") => Some(true),
        Some("not-enrolled") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_request(
                "mfa",
                "mfa must be any, enrolled or not-enrolled",
            ));
        }
    };
    let cache = &state.cache;
    let mut rows: Vec<(String, String, Value)> = Vec::new();
    for m in cache.members.state() {
        let Some(ns) = m.namespace() else { continue };
        let of_tenant = cache.tenant_of_namespace(&ns);
        let of_partner = cache.partner_of_namespace(&ns);
        if tenant.is_some() && of_tenant.as_ref() != tenant {
            continue;
        }
        if !q.is_empty() && rank(&q, &[&m.spec.email, &m.spec.display_name]).is_none() {
            continue;
        }
        let role_name = serde_json::to_value(m.spec.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if role.is_some_and(|r| *r != role_name) {
            continue;
        }
        let st = member_state(&m);
        if status.is_some_and(|s| s != st) {
            continue;
        }
        let enrolled = m
            .status
            .as_ref()
            .and_then(|s| s.identity.as_ref())
            .and_then(|i| i.mfa_enrolled);
        if let Some(want) = mfa
            && enrolled.unwrap_or(false) != want
        {
            continue;
        }
        let (ready, reason) = ready_of(
            m.status
                .as_ref()
                .map(|s| s.conditions.as_slice())
                .unwrap_or(&[]),
        );
        rows.push((
            m.spec.email.to_lowercase(),
            ns.clone(),
            json!({
                "name": m.name_any(), "namespace": ns, "email": m.spec.email,
                "displayName": m.spec.display_name, "tenant": of_tenant, "partner": of_partner,
                "role": role_name, "state": st, "ready": ready, "reason": reason,
                "suspended": m.spec.suspended, "mfaEnrolled": enrolled,
            }),
        ));
    }
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let total = rows.len();
    let items: Vec<Value> = rows
        .into_iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|(_, _, v)| v)
        .collect();
    Ok(Json(json!({
        "items": items, "total": total, "page": page, "pageSize": page_size,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_rank_before_substrings() {
        assert_eq!(rank("ac", &["acme", "Acme Corp"]), Some(0));
        assert_eq!(rank("corp", &["acme", "Acme Corp"]), Some(1));
        assert_eq!(rank("zz", &["acme"]), None);
        assert_eq!(rank("", &["acme"]), Some(0));
    }

    #[test]
    fn paging_parameters_are_checked_by_name() {
        let mut p = HashMap::new();
        assert_eq!(positive(&p, "page", 1, 10).ok(), Some(1));
        p.insert("page".to_owned(), "3".to_owned());
        assert_eq!(positive(&p, "page", 1, 10).ok(), Some(3));
        for bad in ["0", "11", "x", "-1"] {
            p.insert("page".to_owned(), bad.to_owned());
            match positive(&p, "page", 1, 10) {
                Err(ApiError::BadRequest { field, .. }) => assert_eq!(field, "page"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
