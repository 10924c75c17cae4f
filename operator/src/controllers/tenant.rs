//! The Tenant controller: the tenant namespace `tenant-<name>` (created, or adopted by the label
//! `dezky.io/tenant`; never owned), the Authentik group `tenant-<name>` and the file-role groups
//! `tenant-<name>-files-{viewer,editor,manager}`, the OCIS project space with `storageQuota`
//! shared with OCIS groups named like those role groups, `status.seatsUsed`, suspend/resume
//! (recorded on the tenant group; Members read `spec.suspended` themselves), deletion refused
//! while Members, MailDomains or SsoApps remain, `deletionPolicy`, and the purge of retired
//! members' data after `retention.deletedMembers` (see `tenant/deletion.rs`). Suspension also
//! disables the project space (resume restores it). With billing enabled, the Stripe customer and
//! per-seat subscription (`tenant/billing.rs`) are a part of their own: `BillingReady`,
//! `status.billing`; with billing off there is no such condition and `Ready` does not wait for it.
//!
//! Pipeline: read → observe ([`observe`]) → [`plan()`] (pure, `tenant/plan.rs`) → apply →
//! status. A pass that creates something observes again (at most three rounds), so one pass
//! converges a new tenant; an idle pass only reads.

use std::sync::Arc;

use dezky_crds::condition::types;
use dezky_crds::partner::GroupIdentity;
use dezky_crds::tenant::TenantFiles;
use dezky_crds::{LABEL_TENANT, MailDomain, Member, SsoApp, Tenant};
use futures::FutureExt;
use futures::future::BoxFuture;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::{controller_config, drain, field_manager};
use crate::runtime::namespace::{self, NamespaceObs, OwnerLabel};
use crate::runtime::{
    Context, ReconcileError, policy_for, reconcile, settle_conditions, write_status,
};
use crate::upstream::authentik::{GroupObs, IdentityClient, Observed};
use crate::upstream::ocis::{FilesClient, SpaceRole};

mod billing;
mod deletion;
pub mod plan;

pub use plan::*;

use deletion::{cleanup, dependents, purge_retired_members};

/// The controller's name (metrics label; field manager `dezky-tenant`).
pub const NAME: &str = "tenant";

/// The parts `Ready` summarizes: BillingReady only when billing is enabled.
fn required(ctx: &Context) -> Vec<&'static str> {
    let mut parts = vec![
        types::NAMESPACE_READY,
        types::IDENTITY_READY,
        types::FILES_READY,
    ];
    if ctx.billing.is_some() {
        parts.push(types::BILLING_READY);
    }
    parts
}

/// How many observe → plan → apply rounds one pass may take.
const ROUNDS: usize = 3;

/// Reads everything the plan needs (reads only).
pub async fn observe(
    ctx: &Context,
    tenant: &Tenant,
    desired: &Desired,
) -> Result<TenantObserved, ReconcileError> {
    let name = tenant.name_any();
    let marker = ctx.marker(tenant);
    let namespace = namespace::observe(
        ctx,
        &desired.namespace,
        OwnerLabel {
            key: LABEL_TENANT,
            value: &name,
        },
    )
    .await?;
    let group = ctx
        .identity
        .observe_group(&desired.group.name, &marker)
        .await?;
    let mut role_groups = Vec::new();
    for (role, spec) in &desired.role_groups {
        role_groups.push((
            *role,
            ctx.identity
                .observe_group(&spec.name, &file_role_marker(&marker, *role))
                .await?,
        ));
    }
    let spaces = ctx.files.list_project_spaces().await?;
    let key = marker.key();
    let space = match spaces.iter().find(|s| s.marker() == Some(key.as_str())) {
        Some(s) => Found::Ours(s.clone()),
        None => match spaces
            .iter()
            .find(|s| s.marker().is_none() && s.name == desired.space.name)
        {
            Some(s) => Found::Unmarked(s.clone()),
            None => Found::Missing,
        },
    };
    let groups = ctx.files.list_groups().await?;
    let files_groups = FILE_ROLES
        .iter()
        .map(|role| {
            let name = file_role_group_name(&name, *role);
            let found = groups
                .iter()
                .find(|g| g.display_name == name)
                .map(|g| {
                    classify(
                        &file_role_marker(&marker, *role),
                        g.description.as_deref(),
                        g.clone(),
                    )
                })
                .unwrap_or(Found::Missing);
            (*role, found)
        })
        .collect();
    let permissions = match &space {
        Found::Ours(s) if !s.disabled => ctx.files.list_permissions(&s.id).await?,
        _ => Vec::new(),
    };
    Ok(TenantObserved {
        namespace,
        group,
        role_groups,
        space,
        files_groups,
        permissions,
    })
}

fn observed_group(observed: &TenantObserved, role: Option<SpaceRole>) -> Option<GroupObs> {
    let found = match role {
        None => Some(&observed.group),
        Some(r) => observed
            .role_groups
            .iter()
            .find(|(x, _)| *x == r)
            .map(|(_, o)| o),
    };
    match found {
        Some(Observed::Ours(g)) => Some(g.clone()),
        _ => None,
    }
}

async fn apply_step(
    ctx: &Context,
    tenant: &Tenant,
    desired: &Desired,
    observed: &TenantObserved,
    step: &Step,
) -> Result<(), ReconcileError> {
    let name = tenant.name_any();
    let marker = ctx.marker(tenant);
    let owner = OwnerLabel {
        key: LABEL_TENANT,
        value: &name,
    };
    let normal = EventType::Normal;
    let spec_of = |role: Option<SpaceRole>| match role {
        None => desired.group.clone(),
        Some(r) => role_group_spec(tenant, r),
    };
    let marker_of = |role: Option<SpaceRole>| match role {
        None => marker.clone(),
        Some(r) => file_role_marker(&marker, r),
    };
    match step {
        Step::CreateNamespace => {
            namespace::create(ctx, &desired.namespace, owner).await?;
            ctx.event(
                tenant,
                normal,
                "NamespaceCreated",
                "Create",
                format!("created namespace {}", desired.namespace),
            )
            .await;
        }
        Step::AdoptNamespace => {
            namespace::adopt(ctx, &desired.namespace, owner, &field_manager(NAME)).await?;
            ctx.event(
                tenant,
                normal,
                "NamespaceAdopted",
                "Adopt",
                format!("adopted namespace {}", desired.namespace),
            )
            .await;
        }
        Step::CreateGroup { role, adopt } => {
            let spec = spec_of(*role);
            ctx.identity
                .create_group(&spec, &marker_of(*role), *adopt)
                .await?;
            let verb = if *adopt { "adopted" } else { "created" };
            ctx.event(
                tenant,
                normal,
                if *adopt {
                    "GroupAdopted"
                } else {
                    "GroupCreated"
                },
                "Create",
                format!("{verb} Authentik group {}", spec.name),
            )
            .await;
        }
        Step::UpdateGroup { role } => {
            let spec = spec_of(*role);
            if let Some(current) = observed_group(observed, *role)
                && ctx
                    .identity
                    .update_group(&current, &spec, &marker_of(*role))
                    .await?
                    .is_some()
            {
                ctx.event(
                    tenant,
                    normal,
                    "GroupUpdated",
                    "Update",
                    format!("updated Authentik group {}", spec.name),
                )
                .await;
            }
        }
        Step::CreateSpace { adopt } => {
            let space = ctx
                .files
                .create_space(&desired.space, &marker, *adopt)
                .await?;
            ctx.event(
                tenant,
                normal,
                if *adopt {
                    "SpaceAdopted"
                } else {
                    "SpaceCreated"
                },
                "Create",
                format!("project space {:?} ready", space.name),
            )
            .await;
        }
        Step::UpdateSpace => {
            if let Found::Ours(current) = &observed.space {
                let (_, changed) = ctx.files.update_space(current, &desired.space).await?;
                if changed {
                    ctx.event(
                        tenant,
                        normal,
                        "SpaceUpdated",
                        "Update",
                        format!(
                            "project space quota set to {} bytes",
                            desired.space.quota_bytes
                        ),
                    )
                    .await;
                }
            }
        }
        Step::RestoreSpace => {
            if let Found::Ours(current) = &observed.space {
                ctx.files.restore_space(&current.id).await?;
                ctx.event(
                    tenant,
                    normal,
                    "SpaceRestored",
                    "Update",
                    "restored the disabled project space",
                )
                .await;
            }
        }
        Step::DisableSpace => {
            if let Found::Ours(current) = &observed.space {
                ctx.files.disable_space(&current.id).await?;
                ctx.event(
                    tenant,
                    normal,
                    "SpaceDisabled",
                    "Update",
                    "disabled the project space while the tenant is suspended",
                )
                .await;
            }
        }
        Step::CreateFilesGroup { role, adopt } => {
            let group_name = file_role_group_name(&name, *role);
            ctx.files
                .create_group(&group_name, &file_role_marker(&marker, *role), *adopt)
                .await?;
            ctx.event(
                tenant,
                normal,
                "FilesGroupCreated",
                "Create",
                format!("OCIS group {group_name} ready"),
            )
            .await;
        }
        Step::Share { role, group_id } => {
            if let Found::Ours(space) = &observed.space {
                ctx.files
                    .share_with_group(&space.id, group_id, *role)
                    .await?;
                ctx.event(
                    tenant,
                    normal,
                    "SpaceShared",
                    "Update",
                    format!(
                        "shared the space with {}",
                        file_role_group_name(&name, *role)
                    ),
                )
                .await;
            }
        }
        Step::SetRole {
            role,
            permission_id,
        } => {
            if let Found::Ours(space) = &observed.space {
                ctx.files
                    .set_permission_role(&space.id, permission_id, *role)
                    .await?;
                ctx.event(
                    tenant,
                    normal,
                    "SpaceShareUpdated",
                    "Update",
                    format!(
                        "set the {} share's role",
                        file_role_group_name(&name, *role)
                    ),
                )
                .await;
            }
        }
    }
    Ok(())
}

async fn apply(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let generation = tenant.metadata.generation;
    let manager = field_manager(NAME);
    let required = required(&ctx);
    let mut status = tenant.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    if status.conditions.is_empty() {
        settle_conditions(
            &mut status.conditions,
            vec![],
            &required,
            None,
            None,
            generation,
        );
        write_status(&ctx, &manager, tenant.as_ref(), &status).await?;
    }
    let result = async {
        let desired = desired(&tenant)?;
        let mut observed = observe(&ctx, &tenant, &desired).await?;
        let mut current = plan(&desired, &observed);
        for _ in 1..ROUNDS {
            if current.steps.is_empty() {
                break;
            }
            for step in &current.steps {
                apply_step(&ctx, &tenant, &desired, &observed, step).await?;
            }
            observed = observe(&ctx, &tenant, &desired).await?;
            current = plan(&desired, &observed);
        }
        let seats = if observed.namespace == NamespaceObs::Ours {
            dependents(&ctx, &desired.namespace).await?.seats_used
        } else {
            0
        };
        Ok::<_, ReconcileError>((observed, current, seats, desired))
    }
    .await;
    // Billing is its own part: it runs whatever the other upstreams did.
    let billing = billing::reconcile_billing(&ctx, &tenant).await;
    let mut billing_failure = None;
    let mut billing_stalled = None;
    let mut billing_verdict = Vec::new();
    match billing {
        Some(pass) => {
            if pass.status.is_some() {
                status.billing = pass.status;
            }
            billing_verdict.push(pass.verdict);
            billing_stalled = pass.stalled;
            billing_failure = pass.failure;
        }
        None => {
            // billing is off: no condition at all, rather than a stale or faked one
            crate::conditions::remove(&mut status.conditions, types::BILLING_READY);
        }
    }
    match result {
        Ok((observed, plan, seats, desired)) => {
            status.namespace =
                (observed.namespace == NamespaceObs::Ours).then(|| desired.namespace.clone());
            status.seats_used = Some(seats);
            status.identity = match &observed.group {
                Observed::Ours(g) => Some(GroupIdentity {
                    group_pk: Some(g.pk.clone()),
                    group_name: Some(g.name.clone()),
                }),
                _ => None,
            };
            status.files = match &observed.space {
                Found::Ours(s) => Some(TenantFiles {
                    space_id: Some(s.id.clone()),
                    quota_bytes: i64::try_from(s.quota_bytes).ok(),
                    used_bytes: s.used_bytes.and_then(|b| i64::try_from(b).ok()),
                }),
                _ => None,
            };
            let mut verdicts = plan.verdicts;
            verdicts.extend(billing_verdict);
            settle_conditions(
                &mut status.conditions,
                verdicts,
                &required,
                None,
                billing_stalled,
                generation,
            );
            write_status(&ctx, &manager, tenant.as_ref(), &status).await?;
            if Context::is_paused(tenant.as_ref()) {
                return billing_failure.map_or_else(|| Ok(ctx.resync()), Err);
            }
            // Retired members' data: purged once their retention ends; come back then.
            let next_purge = purge_retired_members(&ctx, &tenant).await?;
            // a billing failure backs off (or stalls) once everything else is done
            if let Some(failure) = billing_failure {
                return Err(failure);
            }
            match next_purge {
                Some(next) if next < ctx.resync_interval() => Ok(Action::requeue(
                    next + std::time::Duration::from_millis(500),
                )),
                _ => Ok(ctx.resync()),
            }
        }
        Err(error) => {
            let part = match error.upstream() {
                "authentik" => types::IDENTITY_READY,
                "ocis" => types::FILES_READY,
                _ if matches!(error, ReconcileError::Invalid(_)) => types::FILES_READY,
                _ => types::NAMESPACE_READY,
            };
            let mut verdicts = vec![error.verdict(part)];
            verdicts.extend(billing_verdict);
            settle_conditions(
                &mut status.conditions,
                verdicts,
                &required,
                None,
                error.stalled().or(billing_stalled),
                generation,
            );
            write_status(&ctx, &manager, tenant.as_ref(), &status).await?;
            Err(error)
        }
    }
}

fn tenant_ref<K: Resource>(obj: &K) -> Option<ObjectRef<Tenant>> {
    obj.meta()
        .namespace
        .as_deref()
        .and_then(tenant_of_namespace)
        .map(ObjectRef::new)
}

/// The Tenant controller; re-reconciles a tenant when a Member, MailDomain or SsoApp in its
/// namespace changes (seats, deletion blocked).
pub fn controller(ctx: Arc<Context>) -> BoxFuture<'static, ()> {
    let client = ctx.client.clone();
    let stream = Controller::new(
        Api::<Tenant>::all(client.clone()),
        watcher::Config::default(),
    )
    .with_config(controller_config(&ctx))
    .watches(
        Api::<Member>::all(client.clone()),
        watcher::Config::default(),
        |m: Member| tenant_ref(&m),
    )
    .watches(
        Api::<MailDomain>::all(client.clone()),
        watcher::Config::default(),
        |d: MailDomain| tenant_ref(&d),
    )
    .watches(
        Api::<SsoApp>::all(client),
        watcher::Config::default(),
        |a: SsoApp| tenant_ref(&a),
    )
    .graceful_shutdown_on(ctx.shutdown_signal())
    .run(
        |tenant, ctx| reconcile(ctx, NAME, tenant, apply, cleanup),
        policy_for::<Tenant>(NAME),
        ctx,
    );
    drain(NAME, stream).boxed()
}
