//! The Partner controller: the partner staff's Authentik group `partner-<name>` (with marker),
//! the partner namespace `partner-<name>` (created, or adopted by the label `dezky.io/partner`),
//! and `status.tenants`, the number of Tenants whose `spec.partnerRef` names it.
//!
//! Pipeline: read → observe (namespace, group, tenants) → [`plan`] (pure) → apply → status.

use std::sync::Arc;

use dezky_crds::condition::{reasons, types};
use dezky_crds::partner::GroupIdentity;
use dezky_crds::{DeletionPolicy, LABEL_PARTNER, Member, Partner, Tenant};
use futures::FutureExt;
use futures::future::BoxFuture;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::{Map, json};

use super::{controller_config, drain, field_manager};
use crate::conditions::Verdict;
use crate::runtime::namespace::{self, NamespaceObs, OwnerLabel};
use crate::runtime::{
    Context, ReconcileError, policy_for, reconcile, settle_conditions, write_status,
};
use crate::upstream::authentik::{GroupObs, GroupSpec, IdentityClient, Observed};

/// The controller's name (metrics label; field manager `dezky-partner`).
pub const NAME: &str = "partner";

/// The parts `Ready` summarizes.
const REQUIRED: [&str; 2] = [types::NAMESPACE_READY, types::IDENTITY_READY];

/// The partner's namespace and Authentik group name: `partner-<name>`.
pub fn partner_resource_name(partner: &str) -> String {
    format!("partner-{partner}")
}

/// The group the partner's staff belong to, as the operator manages it.
pub fn group_spec(partner: &Partner) -> GroupSpec {
    let mut attributes = Map::new();
    attributes.insert("dezky.io/partner".into(), json!(partner.name_any()));
    attributes.insert("dezky.io/suspended".into(), json!(partner.spec.suspended));
    GroupSpec {
        name: partner_resource_name(&partner.name_any()),
        attributes,
    }
}

/// What the Partner controller found.
#[derive(Debug, Clone)]
pub struct PartnerObserved {
    /// The namespace `partner-<name>`.
    pub namespace: NamespaceObs,
    /// The Authentik group.
    pub group: Observed<GroupObs>,
    /// Tenants naming this partner.
    pub tenants: i32,
}

/// One step toward the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the namespace with the partner label.
    CreateNamespace,
    /// Label an existing namespace (adoption asked for and allowed).
    AdoptNamespace,
    /// Create the group (`adopt`: take over an unmarked one).
    CreateGroup { adopt: bool },
    /// Bring the group's managed fields to the spec.
    UpdateGroup,
}

/// The plan: steps to take and the verdict of each part once they are taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// NamespaceReady and IdentityReady as they will be after the steps.
    pub verdicts: Vec<Verdict>,
}

/// Whether the object asks for adoption and its owner allows it.
fn adoption(wants: bool, allowed: bool) -> bool {
    wants && allowed
}

/// The managed attributes of `current` differ from `spec`.
fn group_differs(current: &GroupObs, spec: &GroupSpec) -> bool {
    current.name != spec.name
        || spec
            .attributes
            .iter()
            .any(|(k, v)| current.attributes.get(k) != Some(v))
}

/// Decides the namespace part (shared with the Tenant controller's namespace, same rules).
pub fn plan_namespace(
    observed: &NamespaceObs,
    name: &str,
    adopt: bool,
    paused: bool,
) -> (Option<Step>, Verdict) {
    let t = types::NAMESPACE_READY;
    match observed {
        NamespaceObs::Ours => (None, Verdict::ok(t, format!("namespace {name} exists"))),
        NamespaceObs::Missing if paused => (
            None,
            Verdict::failed(
                t,
                reasons::PAUSED,
                format!("paused: namespace {name} would be created"),
            ),
        ),
        NamespaceObs::Missing => (
            Some(Step::CreateNamespace),
            Verdict::ok(t, format!("namespace {name} created")),
        ),
        NamespaceObs::Unlabelled if !adopt => (
            None,
            Verdict::failed(
                t,
                reasons::ADOPTION_REQUIRED,
                format!(
                    "namespace {name} exists without the owner label: annotate dezky.io/adopt=true (and allowAdoption) to adopt it"
                ),
            ),
        ),
        NamespaceObs::Unlabelled if paused => (
            None,
            Verdict::failed(
                t,
                reasons::PAUSED,
                format!("paused: namespace {name} would be adopted"),
            ),
        ),
        NamespaceObs::Unlabelled => (
            Some(Step::AdoptNamespace),
            Verdict::ok(t, format!("namespace {name} adopted")),
        ),
        NamespaceObs::Foreign(owner) => (
            None,
            Verdict::failed(
                t,
                reasons::NAME_TAKEN,
                format!("namespace {name} belongs to {owner}"),
            ),
        ),
        NamespaceObs::Terminating => (
            None,
            Verdict::failed(
                t,
                reasons::RECONCILING,
                format!("namespace {name} is being deleted"),
            ),
        ),
    }
}

/// Decides an Authentik group part.
pub fn plan_group(
    observed: &Observed<GroupObs>,
    spec: &GroupSpec,
    adopt: bool,
    paused: bool,
) -> (Option<Step>, Verdict) {
    let t = types::IDENTITY_READY;
    let name = &spec.name;
    match observed {
        Observed::Ours(current) if !group_differs(current, spec) => (
            None,
            Verdict::ok(t, format!("Authentik group {name} is provisioned")),
        ),
        Observed::Ours(_) if paused => (
            None,
            Verdict::failed(
                t,
                reasons::PAUSED,
                format!("paused: Authentik group {name} would be updated"),
            ),
        ),
        Observed::Ours(_) => (
            Some(Step::UpdateGroup),
            Verdict::ok(t, format!("Authentik group {name} is provisioned")),
        ),
        Observed::Missing if paused => (
            None,
            Verdict::failed(
                t,
                reasons::PAUSED,
                format!("paused: Authentik group {name} would be created"),
            ),
        ),
        Observed::Missing => (
            Some(Step::CreateGroup { adopt: false }),
            Verdict::ok(t, format!("Authentik group {name} is provisioned")),
        ),
        Observed::Unmarked(_) if !adopt => (
            None,
            Verdict::failed(
                t,
                reasons::ADOPTION_REQUIRED,
                format!(
                    "Authentik group {name} exists and is not managed by Dezky: annotate dezky.io/adopt=true (and allowAdoption) to adopt it"
                ),
            ),
        ),
        Observed::Unmarked(_) if paused => (
            None,
            Verdict::failed(
                t,
                reasons::PAUSED,
                format!("paused: Authentik group {name} would be adopted"),
            ),
        ),
        Observed::Unmarked(_) => (
            Some(Step::CreateGroup { adopt: true }),
            Verdict::ok(t, format!("Authentik group {name} adopted")),
        ),
        Observed::Foreign(_) => (
            None,
            Verdict::failed(
                t,
                reasons::NAME_TAKEN,
                format!(
                    "Authentik group {name} is managed by another Dezky object or installation"
                ),
            ),
        ),
    }
}

/// The Partner's plan (pure).
pub fn plan(
    partner: &Partner,
    observed: &PartnerObserved,
    paused: bool,
    wants_adoption: bool,
) -> Plan {
    let adopt = adoption(wants_adoption, partner.spec.allow_adoption);
    let name = partner_resource_name(&partner.name_any());
    let (ns_step, ns_verdict) = plan_namespace(&observed.namespace, &name, adopt, paused);
    let (group_step, group_verdict) =
        plan_group(&observed.group, &group_spec(partner), adopt, paused);
    Plan {
        steps: ns_step.into_iter().chain(group_step).collect(),
        verdicts: vec![ns_verdict, group_verdict],
    }
}

async fn observe(ctx: &Context, partner: &Partner) -> Result<PartnerObserved, ReconcileError> {
    let name = partner.name_any();
    let ns_name = partner_resource_name(&name);
    let namespace = namespace::observe(
        ctx,
        &ns_name,
        OwnerLabel {
            key: LABEL_PARTNER,
            value: &name,
        },
    )
    .await?;
    let group = ctx
        .identity
        .observe_group(&ns_name, &ctx.marker(partner))
        .await?;
    let tenants = count_tenants(ctx, &name).await?;
    Ok(PartnerObserved {
        namespace,
        group,
        tenants,
    })
}

async fn count_tenants(ctx: &Context, partner: &str) -> Result<i32, ReconcileError> {
    let tenants: Api<Tenant> = Api::all(ctx.client.clone());
    let list = tenants
        .list(&ListParams::default())
        .await
        .map_err(|source| ReconcileError::Kube {
            action: "list tenants",
            source,
        })?;
    let count = list
        .items
        .iter()
        .filter(|t| {
            t.spec
                .partner_ref
                .as_ref()
                .is_some_and(|r| r.name == partner)
        })
        .count();
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}

/// Applies the steps; returns the group as it now is (for the status).
async fn apply_steps(
    ctx: &Context,
    partner: &Partner,
    steps: &[Step],
    group: Option<GroupObs>,
) -> Result<Option<GroupObs>, ReconcileError> {
    let name = partner.name_any();
    let resource = partner_resource_name(&name);
    let owner = OwnerLabel {
        key: LABEL_PARTNER,
        value: &name,
    };
    let marker = ctx.marker(partner);
    let spec = group_spec(partner);
    let mut group = group;
    for step in steps {
        match step {
            Step::CreateNamespace => {
                namespace::create(ctx, &resource, owner).await?;
                ctx.event(
                    partner,
                    EventType::Normal,
                    "NamespaceCreated",
                    "Create",
                    format!("created namespace {resource}"),
                )
                .await;
            }
            Step::AdoptNamespace => {
                namespace::adopt(ctx, &resource, owner, &field_manager(NAME)).await?;
                ctx.event(
                    partner,
                    EventType::Normal,
                    "NamespaceAdopted",
                    "Adopt",
                    format!("adopted namespace {resource}"),
                )
                .await;
            }
            Step::CreateGroup { adopt } => {
                let created = ctx.identity.create_group(&spec, &marker, *adopt).await?;
                let (reason, verb) = if *adopt {
                    ("GroupAdopted", "adopted")
                } else {
                    ("GroupCreated", "created")
                };
                ctx.event(
                    partner,
                    EventType::Normal,
                    reason,
                    "Create",
                    format!("{verb} Authentik group {}", spec.name),
                )
                .await;
                group = Some(created);
            }
            Step::UpdateGroup => {
                if let Some(current) = &group
                    && let Some(updated) =
                        ctx.identity.update_group(current, &spec, &marker).await?
                {
                    ctx.event(
                        partner,
                        EventType::Normal,
                        "GroupUpdated",
                        "Update",
                        format!("updated Authentik group {}", spec.name),
                    )
                    .await;
                    group = Some(updated);
                }
            }
        }
    }
    Ok(group)
}

fn group_of(observed: &Observed<GroupObs>) -> Option<GroupObs> {
    match observed {
        Observed::Ours(g) | Observed::Unmarked(g) => Some(g.clone()),
        _ => None,
    }
}

async fn apply(partner: Arc<Partner>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let generation = partner.metadata.generation;
    let mut status = partner.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    if status.conditions.is_empty() {
        // First visit: Ready is Unknown until the parts are decided.
        settle_conditions(
            &mut status.conditions,
            vec![],
            &REQUIRED,
            None,
            None,
            generation,
        );
        write_status(&ctx, &field_manager(NAME), partner.as_ref(), &status).await?;
    }
    let paused = Context::is_paused(partner.as_ref());
    let result = async {
        let observed = observe(&ctx, &partner).await?;
        let plan = plan(
            &partner,
            &observed,
            paused,
            Context::wants_adoption(partner.as_ref()),
        );
        let group = apply_steps(&ctx, &partner, &plan.steps, group_of(&observed.group)).await?;
        Ok::<_, ReconcileError>((observed, plan, group))
    }
    .await;
    match result {
        Ok((observed, plan, group)) => {
            status.tenants = Some(observed.tenants);
            status.namespace = (observed.namespace == NamespaceObs::Ours
                || plan
                    .steps
                    .iter()
                    .any(|s| matches!(s, Step::CreateNamespace | Step::AdoptNamespace)))
            .then(|| partner_resource_name(&partner.name_any()));
            let ours = matches!(observed.group, Observed::Ours(_))
                || plan
                    .steps
                    .iter()
                    .any(|s| matches!(s, Step::CreateGroup { .. }));
            status.identity = group.filter(|_| ours).map(|g| GroupIdentity {
                group_pk: Some(g.pk),
                group_name: Some(g.name),
            });
            settle_conditions(
                &mut status.conditions,
                plan.verdicts,
                &REQUIRED,
                None,
                None,
                generation,
            );
            write_status(&ctx, &field_manager(NAME), partner.as_ref(), &status).await?;
            Ok(ctx.resync())
        }
        Err(error) => {
            let part = match error.upstream() {
                "authentik" => types::IDENTITY_READY,
                _ => types::NAMESPACE_READY,
            };
            settle_conditions(
                &mut status.conditions,
                vec![error.verdict(part)],
                &REQUIRED,
                None,
                error.stalled(),
                generation,
            );
            write_status(&ctx, &field_manager(NAME), partner.as_ref(), &status).await?;
            Err(error)
        }
    }
}

/// What still depends on the partner: its customers' Tenants and its staff Members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependents {
    /// Tenants whose `spec.partnerRef` names the partner.
    pub tenants: i32,
    /// Members in the partner namespace (partner staff).
    pub staff: usize,
}

impl Dependents {
    /// What remains, for a condition message; `None` when nothing does.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.tenants > 0 {
            parts.push(format!("{} Tenant(s) with spec.partnerRef", self.tenants));
        }
        if self.staff > 0 {
            parts.push(format!("{} staff Member(s)", self.staff));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

async fn dependents(ctx: &Context, partner: &Partner) -> Result<Dependents, ReconcileError> {
    let name = partner.name_any();
    let tenants = count_tenants(ctx, &name).await?;
    let staff = Api::<Member>::namespaced(ctx.client.clone(), &partner_resource_name(&name))
        .list(&ListParams::default())
        .await
        .map_err(|source| ReconcileError::Kube {
            action: "list the partner's staff Members",
            source,
        })?
        .items
        .len();
    Ok(Dependents { tenants, staff })
}

/// Refuses the deletion while Tenants or staff Members remain: `Ready=False, DeletionBlocked`
/// names them (and an Event, when that changes), and the finalizer stays.
async fn refuse_while_dependents(ctx: &Context, partner: &Partner) -> Result<(), ReconcileError> {
    let remaining = dependents(ctx, partner).await?;
    let Some(what) = remaining.describe() else {
        return Ok(());
    };
    let generation = partner.metadata.generation;
    let mut status = partner.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    status.tenants = Some(remaining.tenants);
    let message = format!("deletion waits until these are deleted: {what}");
    let blocked = Verdict::failed(types::READY, reasons::DELETION_BLOCKED, message.clone());
    settle_conditions(
        &mut status.conditions,
        vec![],
        &REQUIRED,
        Some(blocked),
        None,
        generation,
    );
    if write_status(ctx, &field_manager(NAME), partner, &status).await? {
        ctx.event(
            partner,
            EventType::Warning,
            reasons::DELETION_BLOCKED,
            "Delete",
            message,
        )
        .await;
    }
    Err(ReconcileError::Waiting(format!(
        "partner deletion blocked: {what} remain"
    )))
}

async fn cleanup(partner: Arc<Partner>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    refuse_while_dependents(&ctx, &partner).await?;
    if partner.spec.deletion_policy == DeletionPolicy::Orphan {
        return Ok(Action::await_change());
    }
    if Context::is_paused(partner.as_ref()) {
        return Err(ReconcileError::Waiting(
            "paused: the partner group is deleted once the partner is unpaused".into(),
        ));
    }
    if let Some(crd) = ctx.crd_being_deleted().await? {
        tracing::info!(%crd, "a Dezky CRD is being deleted: orphaning the partner group");
        return Ok(Action::await_change());
    }
    let name = partner_resource_name(&partner.name_any());
    if let Observed::Ours(group) = ctx
        .identity
        .observe_group(&name, &ctx.marker(partner.as_ref()))
        .await?
    {
        ctx.allow_upstream_delete().await?;
        ctx.identity.delete_group(&group.pk).await?;
        ctx.event(
            partner.as_ref(),
            EventType::Normal,
            "GroupDeleted",
            "Delete",
            format!("deleted Authentik group {name}"),
        )
        .await;
    }
    Ok(Action::await_change())
}

/// The Partner controller; re-reconciles a partner when a Tenant naming it, or a Member in its
/// namespace (staff), changes.
pub fn controller(ctx: Arc<Context>) -> BoxFuture<'static, ()> {
    let partners: Api<Partner> = Api::all(ctx.client.clone());
    let tenants: Api<Tenant> = Api::all(ctx.client.clone());
    let members: Api<Member> = Api::all(ctx.client.clone());
    let stream = Controller::new(partners, watcher::Config::default())
        .with_config(controller_config(&ctx))
        .watches(tenants, watcher::Config::default(), |tenant: Tenant| {
            tenant
                .spec
                .partner_ref
                .map(|r| ObjectRef::<Partner>::new(&r.name))
        })
        .watches(members, watcher::Config::default(), |member: Member| {
            member
                .metadata
                .namespace
                .as_deref()
                .and_then(|ns| ns.strip_prefix("partner-"))
                .map(ObjectRef::<Partner>::new)
        })
        .graceful_shutdown_on(ctx.shutdown_signal())
        .run(
            |partner, ctx| reconcile(ctx, NAME, partner, apply, cleanup),
            policy_for::<Partner>(NAME),
            ctx,
        );
    drain(NAME, stream).boxed()
}

#[cfg(test)]
mod tests;
