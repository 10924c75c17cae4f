//! The Tenant controller's deletion and retention: what remains in the tenant's namespace
//! (seats, deletion blocked), the cleanup by `deletionPolicy`, and the purge of retired members'
//! data once the tenant's `retention.deletedMembers` has passed. With `Delete`, billing goes
//! first: the subscription is cancelled and the Stripe customer deleted.

use std::sync::Arc;

use dezky_crds::condition::{reasons, types};
use dezky_crds::{DeletionPolicy, MailDomain, Member, SsoApp, Tenant};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::super::field_manager;
use super::billing::release_billing;
use super::{
    Dependents, Found, NAME, desired, file_role_group_name, holds_seat, observe,
    tenant_resource_name,
};
use crate::conditions::Verdict;
use crate::runtime::{Context, ReconcileError, settle_conditions, write_status};
use crate::upstream::authentik::{IdentityClient, Observed};
use crate::upstream::ocis::FilesClient;
use crate::upstream::stalwart::MailClient;

pub(super) async fn dependents(
    ctx: &Context,
    namespace: &str,
) -> Result<Dependents, ReconcileError> {
    let kube = |source| ReconcileError::Kube {
        action: "list the tenant's objects",
        source,
    };
    let lp = ListParams::default();
    let members = Api::<Member>::namespaced(ctx.client.clone(), namespace)
        .list(&lp)
        .await
        .map_err(kube)?;
    let domains = Api::<MailDomain>::namespaced(ctx.client.clone(), namespace)
        .list(&lp)
        .await
        .map_err(kube)?;
    let apps = Api::<SsoApp>::namespaced(ctx.client.clone(), namespace)
        .list(&lp)
        .await
        .map_err(kube)?;
    Ok(Dependents {
        members: members.items.len(),
        maildomains: domains.items.len(),
        ssoapps: apps.items.len(),
        seats_used: i32::try_from(members.items.iter().filter(|m| holds_seat(m)).count())
            .unwrap_or(i32::MAX),
    })
}

pub(super) async fn cleanup(
    tenant: Arc<Tenant>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let generation = tenant.metadata.generation;
    let ns = tenant_resource_name(&tenant.name_any());
    let remaining = dependents(&ctx, &ns).await?;
    if let Some(what) = remaining.describe() {
        let mut status = tenant.status.clone().unwrap_or_default();
        status.observed_generation = generation;
        let blocked = Verdict::failed(
            types::READY,
            reasons::DELETION_BLOCKED,
            format!("deletion waits until these are deleted from namespace {ns}: {what}"),
        );
        settle_conditions(
            &mut status.conditions,
            vec![],
            &super::required(&ctx),
            Some(blocked),
            None,
            generation,
        );
        status.seats_used = Some(remaining.seats_used);
        write_status(&ctx, &field_manager(NAME), tenant.as_ref(), &status).await?;
        return Err(ReconcileError::Waiting(format!(
            "tenant deletion blocked: {what} remain"
        )));
    }
    if tenant.spec.deletion_policy == DeletionPolicy::Orphan {
        return Ok(Action::await_change());
    }
    if Context::is_paused(tenant.as_ref()) {
        return Err(ReconcileError::Waiting(
            "paused: the tenant's upstream objects are deleted once it is unpaused".into(),
        ));
    }
    if let Some(crd) = ctx.crd_being_deleted().await? {
        tracing::info!(%crd, "a Dezky CRD is being deleted: orphaning the tenant's upstream objects");
        return Ok(Action::await_change());
    }
    release_billing(&ctx, &tenant).await?;
    let desired = desired(&tenant)?;
    let observed = observe(&ctx, &tenant, &desired).await?;
    let normal = EventType::Normal;
    if let Found::Ours(space) = &observed.space {
        ctx.allow_upstream_delete().await?;
        if !space.disabled {
            ctx.files.disable_space(&space.id).await?;
        }
        ctx.files.purge_space(&space.id).await?;
        ctx.event(
            tenant.as_ref(),
            normal,
            "SpaceDeleted",
            "Delete",
            "deleted the project space",
        )
        .await;
    }
    for (role, found) in &observed.files_groups {
        if let Found::Ours(group) = found {
            ctx.allow_upstream_delete().await?;
            ctx.files.delete_group(&group.id).await?;
            ctx.event(
                tenant.as_ref(),
                normal,
                "FilesGroupDeleted",
                "Delete",
                format!(
                    "deleted OCIS group {}",
                    file_role_group_name(&tenant.name_any(), *role)
                ),
            )
            .await;
        }
    }
    let groups =
        std::iter::once(&observed.group).chain(observed.role_groups.iter().map(|(_, g)| g));
    for group in groups {
        if let Observed::Ours(g) = group {
            ctx.allow_upstream_delete().await?;
            ctx.identity.delete_group(&g.pk).await?;
            ctx.event(
                tenant.as_ref(),
                normal,
                "GroupDeleted",
                "Delete",
                format!("deleted Authentik group {}", g.name),
            )
            .await;
        }
    }
    Ok(Action::await_change())
}

/// Purges retired members' data (Authentik user and retained mailbox) whose retention has ended,
/// as the Member controller marked it; returns how long until the next one is due.
pub(super) async fn purge_retired_members(
    ctx: &Context,
    tenant: &Tenant,
) -> Result<Option<std::time::Duration>, ReconcileError> {
    let prefix = format!(
        "{}{}:Member:{}/",
        crate::upstream::marker::MARKER_PREFIX,
        ctx.installation(),
        tenant_resource_name(&tenant.name_any())
    );
    let now = k8s_openapi::jiff::Timestamp::now();
    let users = ctx
        .identity
        .list_users(ctx.installation(), "Member")
        .await?;
    let mut next: Option<std::time::Duration> = None;
    for user in users.iter().filter(|u| {
        u.attributes
            .get(crate::upstream::authentik::ATTR_MARKER)
            .and_then(serde_json::Value::as_str)
            .is_some_and(|m| m.starts_with(&prefix))
    }) {
        match crate::controllers::member::purge_due(user, now) {
            Some(due) => {
                if let Some(mailbox) = &due.mailbox_id {
                    ctx.allow_upstream_delete().await?;
                    ctx.mail.delete_mailbox(mailbox).await?;
                }
                ctx.allow_upstream_delete().await?;
                ctx.identity.delete_user(due.user_pk).await?;
                ctx.event(
                    tenant,
                    EventType::Normal,
                    "MemberDataPurged",
                    "Delete",
                    format!(
                        "purged the retained account and mailbox of {} after the retention period",
                        user.username
                    ),
                )
                .await;
            }
            None if !user.is_active => {
                let later = user
                    .attributes
                    .get(crate::controllers::member::plan::ATTR_PURGE_AFTER)
                    .and_then(serde_json::Value::as_str)
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
                    .and_then(|t| std::time::Duration::try_from(t.duration_since(now)).ok());
                if let Some(later) = later {
                    next = Some(next.map_or(later, |n| n.min(later)));
                }
            }
            None => {}
        }
    }
    Ok(next)
}
