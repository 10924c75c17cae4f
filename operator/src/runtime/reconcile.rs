//! The reconcile wrapper every controller goes through (finalizer, metrics timer, tracing span,
//! backoff reset on success) and the status writer (server-side apply, one field manager per
//! controller, nothing written when the status is unchanged).

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use dezky_crds::condition::types;
use dezky_crds::{Condition, ConditionStatus, FINALIZER};
use dezky_crds::{MailDomain, Member, Partner, SsoApp, Tenant};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::context::Context;
use super::error::ReconcileError;
use crate::conditions::{self, Verdict};

/// A Dezky kind the runtime manages: how to reach its API and read its status.
pub trait Managed:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static
{
    /// The status type.
    type Status: Serialize + PartialEq + Clone + Default + Debug + Send + Sync;

    /// The current status, if any.
    fn status(&self) -> Option<&Self::Status>;

    /// The status of its `Ready` condition, if it has one.
    fn ready(&self) -> Option<&ConditionStatus>;

    /// Whether `spec.suspended` is true (false for kinds without it).
    fn suspended(&self) -> bool;

    /// The API of this kind in `namespace` (ignored for cluster-scoped kinds).
    fn api(client: Client, namespace: Option<&str>) -> Api<Self>;

    /// The API for this very object.
    fn api_for(&self, client: Client) -> Api<Self> {
        Self::api(client, self.meta().namespace.as_deref())
    }
}

/// The status of the `Ready` condition in `conditions`.
fn ready_of(conditions: &[Condition]) -> Option<&ConditionStatus> {
    conditions
        .iter()
        .find(|c| c.type_ == types::READY)
        .map(|c| &c.status)
}

macro_rules! cluster_scoped {
    ($kind:ty, $status:ty, |$obj:ident| $suspended:expr) => {
        impl Managed for $kind {
            type Status = $status;
            fn status(&self) -> Option<&$status> {
                self.status.as_ref()
            }
            fn ready(&self) -> Option<&ConditionStatus> {
                self.status.as_ref().and_then(|s| ready_of(&s.conditions))
            }
            fn suspended(&self) -> bool {
                let $obj = self;
                $suspended
            }
            fn api(client: Client, _namespace: Option<&str>) -> Api<Self> {
                Api::all(client)
            }
        }
    };
}

macro_rules! namespaced {
    ($kind:ty, $status:ty, |$obj:ident| $suspended:expr) => {
        impl Managed for $kind {
            type Status = $status;
            fn status(&self) -> Option<&$status> {
                self.status.as_ref()
            }
            fn ready(&self) -> Option<&ConditionStatus> {
                self.status.as_ref().and_then(|s| ready_of(&s.conditions))
            }
            fn suspended(&self) -> bool {
                let $obj = self;
                $suspended
            }
            fn api(client: Client, namespace: Option<&str>) -> Api<Self> {
                match namespace {
                    Some(ns) => Api::namespaced(client, ns),
                    None => Api::all(client),
                }
            }
        }
    };
}

cluster_scoped!(Partner, dezky_crds::PartnerStatus, |p| p.spec.suspended);
cluster_scoped!(Tenant, dezky_crds::TenantStatus, |t| t.spec.suspended);
namespaced!(MailDomain, dezky_crds::MailDomainStatus, |_d| false);
namespaced!(Member, dezky_crds::MemberStatus, |m| m.spec.suspended);
namespaced!(SsoApp, dezky_crds::SsoAppStatus, |_a| false);

/// Runs one reconcile of `obj` through the finalizer helper: `apply` while the object lives
/// (the finalizer `dezky.io/cleanup` is added first), `cleanup` once it is being deleted (the
/// finalizer is removed when `cleanup` succeeds). Records duration and outcome, carries a span
/// with the object key, and forgets the object's backoff after a success.
pub async fn reconcile<K, A, FA, C, FC>(
    ctx: Arc<Context>,
    controller: &'static str,
    obj: Arc<K>,
    apply: A,
    cleanup: C,
) -> Result<Action, ReconcileError>
where
    K: Managed,
    A: FnOnce(Arc<K>, Arc<Context>) -> FA,
    FA: Future<Output = Result<Action, ReconcileError>>,
    C: FnOnce(Arc<K>, Arc<Context>) -> FC,
    FC: Future<Output = Result<Action, ReconcileError>>,
{
    let key = Context::key(obj.as_ref());
    let span = tracing::info_span!("reconcile", controller, object = %key);
    async move {
        ctx.metrics.reconcile_started(
            controller,
            &K::kind(&()),
            &key,
            obj.meta().resource_version.as_deref().unwrap_or_default(),
        );
        let mut timer = ctx.metrics.reconcile(controller);
        let api = obj.api_for(ctx.client.clone());
        let inner_ctx = ctx.clone();
        let result = finalizer(&api, FINALIZER, obj, |event| async move {
            match event {
                FinalizerEvent::Apply(o) => apply(o, inner_ctx).await,
                FinalizerEvent::Cleanup(o) => cleanup(o, inner_ctx).await,
            }
        })
        .await
        .map_err(|e| match e {
            kube::runtime::finalizer::Error::ApplyFailed(inner)
            | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner,
            other => ReconcileError::Finalizer(Box::new(other)),
        });
        if result.is_ok() {
            timer.succeeded();
            ctx.backoffs.success(&key);
            ctx.metrics.set_in_backoff(ctx.backoffs.in_backoff());
        }
        result
    }
    .instrument(span)
    .await
}

/// Writes `status` through server-side apply with the field manager `manager`, unless it
/// equals the object's current status. Returns whether anything was written.
pub async fn write_status<K: Managed>(
    ctx: &Context,
    manager: &str,
    obj: &K,
    status: &K::Status,
) -> Result<bool, ReconcileError> {
    if obj.status() == Some(status) {
        return Ok(false);
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    obj.api_for(ctx.client.clone())
        .patch_status(
            &obj.name_any(),
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| ReconcileError::Kube {
            action: "write the status",
            source,
        })?;
    Ok(true)
}

/// The current time, as conditions record it (whole seconds, as the API server stores it).
pub fn now() -> Time {
    let now = k8s_openapi::jiff::Timestamp::now();
    Time(k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// Sets each verdict of `parts` for `generation`, then `Ready` from the `required` parts (or
/// from `ready_override`, e.g. DeletionBlocked or Paused), and `Stalled` (set when `stalled`
/// is given, removed otherwise). Keeps transition times of unchanged conditions.
pub fn settle_conditions(
    conditions: &mut Vec<Condition>,
    parts: Vec<Verdict>,
    required: &[&str],
    ready_override: Option<Verdict>,
    stalled: Option<Verdict>,
    generation: Option<i64>,
) {
    let now = now();
    for verdict in parts {
        conditions::set(conditions, verdict, generation, &now);
    }
    let ready =
        ready_override.unwrap_or_else(|| conditions::ready(conditions, required, generation));
    conditions::set(conditions, ready, generation, &now);
    match stalled {
        Some(verdict) => {
            conditions::set(conditions, verdict, generation, &now);
        }
        None => {
            conditions::remove(conditions, types::STALLED);
        }
    }
}
