//! Deleting a MailDomain: refused (`DomainInUse`) while Members or mailboxes use the domain; with
//! policy `Delete` the DKIM keys and the domain are removed from the mail server, each deletion
//! through the CRD-deletion guard and the deletion breaker.

use std::sync::Arc;

use dezky_crds::{DeletionPolicy, MailDomain, Member};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::{NAME, kube_err, plan};
use crate::controllers::field_manager;
use crate::runtime::{self, Context, ReconcileError};
use crate::upstream::marker::Ownership;
use crate::upstream::stalwart::{MailClient, MailError};

/// Deletion: refused while Members (or retained mailboxes) use the domain; with policy Delete
/// the DKIM keys and the domain are removed from the mail server.
pub(super) async fn cleanup(
    obj: Arc<MailDomain>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    if obj.spec.deletion_policy == DeletionPolicy::Orphan || Context::is_paused(obj.as_ref()) {
        return Ok(Action::await_change());
    }
    if let Some(crd) = ctx.crd_being_deleted().await? {
        tracing::info!(%crd, "a dezky.io CRD is being deleted: the mail domain is orphaned");
        return Ok(Action::await_change());
    }
    let namespace = obj.namespace().unwrap_or_default();
    let domain = obj.spec.domain.to_ascii_lowercase();
    let members: Api<Member> = Api::namespaced(ctx.client.clone(), &namespace);
    let users: Vec<String> = members
        .list(&ListParams::default())
        .await
        .map_err(kube_err("list the members"))?
        .items
        .into_iter()
        .filter(|m| {
            std::iter::once(&m.spec.email)
                .chain(m.spec.mailbox.aliases.iter())
                .any(|a| a.to_ascii_lowercase().ends_with(&format!("@{domain}")))
        })
        .map(|m| m.name_any())
        .collect();
    let marker = ctx.marker(obj.as_ref());
    let server = ctx.mail.find_domain(&domain).await?;
    let ours = server.filter(|d| marker.classify(d.marker()) == Ownership::Ours);
    let mut retained = 0;
    if let Some(d) = &ours {
        retained = ctx
            .mail
            .list_mailboxes(Some(&d.id), 0, 1)
            .await?
            .items
            .len();
    }
    if !users.is_empty() || retained > 0 {
        let message = if users.is_empty() {
            format!(
                "{domain} still has mailboxes on the mail server (retained for deleted members); deletion waits"
            )
        } else {
            format!(
                "{domain} is still used by Members {}; deletion waits",
                users.join(", ")
            )
        };
        return in_use(&ctx, &obj, message).await;
    }
    let Some(d) = ours else {
        return Ok(Action::await_change());
    };
    // the domain first: only DKIM keys may hold it (they go with it); anything else (an alias of
    // a mailbox on another domain) leaves everything as it is
    ctx.allow_upstream_delete().await?;
    match ctx.mail.delete_domain(&d.id).await {
        Ok(()) => {}
        Err(MailError::InUse { linked, .. })
            if linked.iter().all(|o| o.object == "DkimSignature") =>
        {
            for key in ctx.mail.list_dkim_keys(&d.id).await? {
                ctx.allow_upstream_delete().await?;
                ctx.mail.delete_dkim_key(&key.id).await?;
            }
            ctx.allow_upstream_delete().await?;
            ctx.mail.delete_domain(&d.id).await?;
        }
        Err(MailError::InUse { linked, .. }) => {
            let message = format!(
                "{domain} is still used by {} object(s) on the mail server (mailboxes or aliases); deletion waits",
                linked
                    .iter()
                    .filter(|o| o.object != "DkimSignature")
                    .count()
            );
            return in_use(&ctx, &obj, message).await;
        }
        Err(error) => return Err(error.into()),
    }
    ctx.event(
        obj.as_ref(),
        EventType::Normal,
        "MailDomainDeleted",
        "Delete",
        format!("mail server domain {domain} deleted"),
    )
    .await;
    Ok(Action::await_change())
}

/// Reports `DomainInUse` and keeps the finalizer (retried with backoff, and on Member changes).
async fn in_use(
    ctx: &Context,
    obj: &MailDomain,
    message: String,
) -> Result<Action, ReconcileError> {
    let mut status = obj.status.clone().unwrap_or_default();
    let mut conditions = std::mem::take(&mut status.conditions);
    runtime::settle_conditions(
        &mut conditions,
        Vec::new(),
        &plan::REQUIRED,
        Some(crate::conditions::Verdict::failed(
            dezky_crds::condition::types::READY,
            dezky_crds::condition::reasons::DOMAIN_IN_USE,
            message.clone(),
        )),
        None,
        obj.metadata.generation,
    );
    status.conditions = conditions;
    runtime::write_status(ctx, &field_manager(NAME), obj, &status).await?;
    Err(ReconcileError::Waiting(message))
}
