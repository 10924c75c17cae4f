//! Every write the API makes: a create or a server-side apply (field manager `dezky-api`) that
//! records the acting user in the annotation `dezky.io/last-changed-by`, followed by a
//! Kubernetes Event naming the user; the Events are the tenant's audit trail.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::cache::{Cache, Cached};
use crate::problem::{ApiError, ApiResult};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "dezky-api";
/// Who changed the object last, and in which role.
pub const LAST_CHANGED_BY: &str = "dezky.io/last-changed-by";
/// Asks the operator to reconcile now (any new value).
pub const RECONCILE: &str = "dezky.io/reconcile-requested";
/// Asks the operator to re-check a domain's DNS now (any new value).
pub const RECHECK: &str = "dezky.io/recheck";
/// The annotation keys this API owns on the dezky objects; each apply keeps their values.
const OWNED_ANNOTATIONS: [&str; 3] = [LAST_CHANGED_BY, RECONCILE, RECHECK];
/// The actor of an audit Event.
pub const ACTOR: &str = "dezky.io/actor";

/// What an audit event says.
pub struct Audit<'a> {
    /// Who, e.g. `ann@acme.test (tenant-admin)`.
    pub actor: &'a str,
    /// CamelCase reason, e.g. `MemberSuspended`.
    pub reason: &'a str,
    pub message: String,
    pub tenant: Option<&'a str>,
    pub partner: Option<&'a str>,
}

/// A Dezky kind the API writes, with its API handle (cluster-scoped or in a namespace).
pub trait Kind:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug
{
    /// `Tenant`, `Member`, ...
    const KIND: &'static str;
    fn api(client: &Client, ns: Option<&str>) -> Api<Self>;
}

macro_rules! cluster_kind {
    ($t:ty, $k:literal) => {
        impl Kind for $t {
            const KIND: &'static str = $k;
            fn api(client: &Client, _ns: Option<&str>) -> Api<Self> {
                Api::all(client.clone())
            }
        }
    };
}

macro_rules! namespaced_kind {
    ($t:ty, $k:literal) => {
        impl Kind for $t {
            const KIND: &'static str = $k;
            fn api(client: &Client, ns: Option<&str>) -> Api<Self> {
                match ns {
                    Some(ns) => Api::namespaced(client.clone(), ns),
                    None => Api::all(client.clone()),
                }
            }
        }
    };
}

cluster_kind!(dezky_crds::Tenant, "Tenant");
cluster_kind!(dezky_crds::Partner, "Partner");
namespaced_kind!(dezky_crds::Member, "Member");
namespaced_kind!(dezky_crds::MailDomain, "MailDomain");
namespaced_kind!(dezky_crds::SsoApp, "SsoApp");

/// Reads one object fresh from the Kubernetes API (writes start from the current object).
pub async fn get<K>(client: &Client, ns: Option<&str>, name: &str) -> ApiResult<K>
where
    K: Kind,
{
    K::api(client, ns)
        .get_opt(name)
        .await
        .map_err(|e| ApiError::from_kube(format!("read {} {name}", K::kind(&())), e))?
        .ok_or_else(|| ApiError::not_found(K::KIND, name))
}

/// Creates an object (the body's metadata and spec), recording the actor, and answers once
/// `cache` holds it (read-your-writes: what the caller reads or renders next shows the object).
pub async fn create<K>(
    client: &Client,
    cache: &Cache,
    ns: Option<&str>,
    name: &str,
    spec: &impl Serialize,
    audit: Audit<'_>,
) -> ApiResult<K>
where
    K: Kind + Cached,
{
    let mut metadata = json!({"name": name, "annotations": {LAST_CHANGED_BY: audit.actor}});
    if let Some(ns) = ns {
        metadata["namespace"] = json!(ns);
    }
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": metadata,
        "spec": spec,
    });
    let obj: K =
        serde_json::from_value(body).map_err(|e| ApiError::bad_request("spec", e.to_string()))?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    let created = K::api(client, ns)
        .create(&params, &obj)
        .await
        .map_err(|e| ApiError::from_kube(format!("create {} {name}", K::kind(&())), e))?;
    record(client, &created, &audit).await;
    cache.seen(&created).await;
    Ok(created)
}

/// Server-side applies `spec` (the whole spec as it should be) and the given annotations onto
/// the current object, with its resourceVersion as a precondition; records the actor.
pub async fn apply<K>(
    client: &Client,
    current: &K,
    spec: Value,
    annotations: &[(&str, String)],
    audit: Audit<'_>,
) -> ApiResult<K>
where
    K: Kind,
{
    let name = current.name_any();
    let ns = current.namespace();
    let mut owned: BTreeMap<String, String> = OWNED_ANNOTATIONS
        .iter()
        .filter_map(|k| {
            current
                .annotations()
                .get(*k)
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect();
    for (k, v) in annotations {
        owned.insert((*k).to_owned(), v.clone());
    }
    owned.insert(LAST_CHANGED_BY.into(), audit.actor.to_owned());
    let mut metadata = json!({
        "name": name,
        "annotations": owned,
        "resourceVersion": current.resource_version(),
    });
    if let Some(ns) = &ns {
        metadata["namespace"] = json!(ns);
    }
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": metadata,
        "spec": spec,
    });
    let applied = K::api(client, ns.as_deref())
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
        .map_err(|e| ApiError::from_kube(format!("update {} {name}", K::kind(&())), e))?;
    record(client, &applied, &audit).await;
    Ok(applied)
}

/// Deletes an object, recording the actor first.
pub async fn delete<K>(client: &Client, current: &K, audit: Audit<'_>) -> ApiResult<()>
where
    K: Kind,
{
    let name = current.name_any();
    let ns = current.namespace();
    K::api(client, ns.as_deref())
        .delete(&name, &DeleteParams::default())
        .await
        .map_err(|e| ApiError::from_kube(format!("delete {} {name}", K::kind(&())), e))?;
    record(client, current, &audit).await;
    Ok(())
}

static EVENT_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes the audit Event of a change; a failure is logged, not returned (the change is done).
pub async fn record<K>(client: &Client, obj: &K, audit: &Audit<'_>)
where
    K: Resource<DynamicType = ()>,
{
    let ns = obj
        .meta()
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = obj.meta().name.clone().unwrap_or_default();
    let now = Timestamp::now();
    let seq = EVENT_SEQ.fetch_add(1, Ordering::Relaxed);
    let mut labels = BTreeMap::new();
    if let Some(t) = audit.tenant {
        labels.insert(crate::cache::TENANT_LABEL.to_owned(), t.to_owned());
    }
    if let Some(p) = audit.partner {
        labels.insert(crate::cache::PARTNER_LABEL.to_owned(), p.to_owned());
    }
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!(
                "{name}.{:x}{:04x}",
                now.as_nanosecond(),
                seq % 0x10000
            )),
            namespace: Some(ns.clone()),
            labels: Some(labels),
            annotations: Some([(ACTOR.to_owned(), audit.actor.to_owned())].into()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(K::kind(&()).into_owned()),
            name: Some(name),
            namespace: obj.meta().namespace.clone(),
            uid: obj.meta().uid.clone(),
            ..ObjectReference::default()
        },
        reason: Some(audit.reason.to_owned()),
        message: Some(audit.message.clone()),
        type_: Some("Normal".into()),
        source: Some(EventSource {
            component: Some(FIELD_MANAGER.into()),
            host: None,
        }),
        reporting_component: Some(FIELD_MANAGER.into()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        tracing::warn!(error = %e, reason = audit.reason, "failed to record the audit event");
    }
}

/// One entry of a tenant's audit trail.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub time: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub message: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// The audit events of a tenant (or partner), newest first.
pub async fn audit_trail(client: &Client, label: &str, value: &str) -> ApiResult<Vec<AuditEntry>> {
    let api: Api<Event> = Api::all(client.clone());
    let list = api
        .list(&ListParams::default().labels(&format!("{label}={value}")))
        .await
        .map_err(|e| ApiError::from_kube("list the audit events", e))?;
    let mut entries: Vec<AuditEntry> = list
        .items
        .into_iter()
        .map(|e| AuditEntry {
            time: e
                .last_timestamp
                .as_ref()
                .or(e.first_timestamp.as_ref())
                .map(|t| t.0.to_string()),
            actor: e
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ACTOR).cloned()),
            action: e.reason.clone(),
            message: e.message.clone(),
            kind: e.involved_object.kind.clone(),
            namespace: e.involved_object.namespace.clone(),
            name: e.involved_object.name.clone(),
        })
        .collect();
    entries.sort_by(|a, b| b.time.cmp(&a.time));
    Ok(entries)
}
