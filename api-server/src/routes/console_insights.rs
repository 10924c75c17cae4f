//! The console's insight routes: the platform overview (tenants by state, members, seats,
//! domains needing attention, upstream conditions, tenants needing follow-up, recent changes) and
//! a tenant's audit trail (who changed what through this API, and what the platform did).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::get;
use dezky_crds::{MailDomain, Member};
use k8s_openapi::api::core::v1::Event;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use super::console::tenant_state;
use super::{Route, condition_of, ready_of, route};
use crate::AppState;
use crate::authz::Caller;
use crate::cache::Cache;
use crate::problem::{ApiError, ApiResult};
use crate::writes::{self, AuditEntry};

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
            "/api/v1/tenants/{tenant}/audit",
            c,
            "A tenant's audit trail",
            None,
            get(tenant_audit),
        ),
    ]
}

/// How many recent changes the overview lists.
const RECENT_CHANGES: usize = 10;
/// How many of the platform's own events a tenant's audit trail lists.
const PLATFORM_EVENTS: usize = 100;

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
    let platform = platform_events(
        &state.client,
        &tenant,
        state.cache.tenant_namespace(&tenant),
    )
    .await;
    Ok(Json(
        json!({"items": entries, "objects": objects, "platform": platform}),
    ))
}

/// Events as audit entries, newest first, at most `limit`.
fn entries(events: Vec<Event>, limit: usize) -> Vec<AuditEntry> {
    let mut entries: Vec<AuditEntry> = events
        .into_iter()
        .map(|e| AuditEntry {
            // this API writes lastTimestamp; the operator (events.k8s.io style) eventTime and
            // a series whose lastObservedTime is the newest occurrence
            time: e
                .series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0.to_string())
                .or_else(|| {
                    e.last_timestamp
                        .as_ref()
                        .or(e.first_timestamp.as_ref())
                        .map(|t| t.0.to_string())
                })
                .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
                .or_else(|| {
                    e.metadata
                        .creation_timestamp
                        .as_ref()
                        .map(|t| t.0.to_string())
                }),
            actor: e
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(writes::ACTOR).cloned()),
            action: e.reason.clone(),
            message: e.message.clone(),
            kind: e.involved_object.kind.clone(),
            namespace: e.involved_object.namespace.clone(),
            name: e.involved_object.name.clone(),
        })
        .collect();
    entries.sort_by(|a, b| b.time.cmp(&a.time));
    entries.truncate(limit);
    entries
}

/// The newest audit events of any tenant (who did what); empty when they cannot be read.
async fn recent_changes(client: &kube::Client) -> Vec<AuditEntry> {
    let api: Api<Event> = Api::all(client.clone());
    let params = ListParams::default().labels(crate::cache::TENANT_LABEL);
    match api.list(&params).await {
        Ok(list) => entries(list.items, RECENT_CHANGES),
        Err(e) => {
            tracing::warn!(error = %e, "failed to list the recent changes");
            Vec::new()
        }
    }
}

/// What the platform itself did for a tenant (the operator's Events on the Tenant and on the
/// objects in its namespace), newest first; the API's own audit events are not repeated.
async fn platform_events(
    client: &kube::Client,
    tenant: &str,
    namespace: Option<String>,
) -> Vec<AuditEntry> {
    let mut events: Vec<Event> = Vec::new();
    let on_tenant = ListParams::default().fields(&format!(
        "involvedObject.kind=Tenant,involvedObject.name={tenant}"
    ));
    if let Ok(list) = Api::<Event>::all(client.clone()).list(&on_tenant).await {
        events.extend(list.items);
    }
    if let Some(ns) = namespace
        && let Ok(list) = Api::<Event>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
    {
        events.extend(list.items);
    }
    events.retain(|e| {
        !e.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(writes::ACTOR))
    });
    entries(events, PLATFORM_EVENTS)
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
    let recent = recent_changes(&state.client).await;
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
        "recent": recent,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(v: Value) -> Event {
        serde_json::from_value(v).expect("event")
    }

    #[test]
    fn entries_take_the_newest_time_an_event_carries_newest_first() {
        let operator = event(json!({"metadata": {"name": "a", "annotations": {}},
            "involvedObject": {"kind": "Tenant", "name": "acme"}, "reason": "GroupCreated",
            "eventTime": "2026-01-01T00:00:00.000001Z",
            "series": {"count": 2, "lastObservedTime": "2026-01-03T00:00:00.000001Z"}}));
        let person = event(
            json!({"metadata": {"name": "b", "annotations": {"dezky.io/actor": "op (operator)"}},
            "involvedObject": {"kind": "Tenant", "name": "acme"}, "reason": "TenantSuspended",
            "lastTimestamp": "2026-01-02T00:00:00Z"}),
        );
        let listed = entries(vec![person, operator], 10);
        assert_eq!(listed[0].action.as_deref(), Some("GroupCreated"));
        assert!(
            listed[0]
                .time
                .as_deref()
                .is_some_and(|t| t.starts_with("2026-01-03"))
        );
        assert_eq!(listed[1].actor.as_deref(), Some("op (operator)"));
        assert_eq!(entries(listed_again(), 1).len(), 1);
    }

    fn listed_again() -> Vec<Event> {
        vec![
            event(
                json!({"metadata": {"name": "x", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "involvedObject": {}}),
            ),
            event(json!({"metadata": {"name": "y"}, "involvedObject": {}})),
        ]
    }
}
