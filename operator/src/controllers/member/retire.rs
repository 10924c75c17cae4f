//! Retiring a deleted Member: with policy `Delete` access is cut at once (user inactive, sessions
//! ended, mailbox login refused) and the data is kept, marked with its purge time; and the pure
//! check the Tenant controller's purge uses.

use std::sync::Arc;

use dezky_crds::{DeletionPolicy, Member};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::Value;

use super::plan;
use super::scope::{self, Owner};
use crate::runtime::{Context, ReconcileError};
use crate::upstream::authentik::{IdentityClient, Observed, UserObs, UserSpec};
use crate::upstream::http::ErrorCategory;
use crate::upstream::marker::Ownership;
use crate::upstream::stalwart::{MailClient, MailboxSpec};

/// Deletion: with policy `Delete`, access is cut at once and the data is retained with a purge
/// time; with `Orphan` (or while a dezky.io CRD is being deleted, or paused) nothing is touched.
pub(super) async fn cleanup(obj: Arc<Member>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    if obj.spec.deletion_policy == DeletionPolicy::Orphan || Context::is_paused(obj.as_ref()) {
        return Ok(Action::await_change());
    }
    if let Some(crd) = ctx.crd_being_deleted().await? {
        tracing::info!(%crd, "a dezky.io CRD is being deleted: the member's accounts are left as they are");
        return Ok(Action::await_change());
    }
    let namespace = obj.namespace().unwrap_or_default();
    let marker = ctx.marker(obj.as_ref());
    let email = obj.spec.email.to_ascii_lowercase();
    let owner = scope::owner(&ctx, &namespace).await?;
    let retention = match &owner {
        Owner::Tenant(t) => plan::go_duration(&t.spec.retention.deleted_members),
        _ => None,
    }
    .unwrap_or(std::time::Duration::from_secs(168 * 3600));
    let purge_after = k8s_openapi::jiff::Timestamp::now()
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(
            i64::try_from(retention.as_secs()).unwrap_or(i64::MAX / 2),
        ))
        .map(|t| t.to_string())
        .unwrap_or_default();
    // the mailbox first: its id goes onto the user
    let mut mailbox_id = None;
    if let Owner::Tenant(_) = &owner
        && let Some((local, domain)) = plan::split_address(&email)
        && let Some(domain_id) = scope::verified_domains(&ctx, &namespace)
            .await?
            .get(&domain)
            .and_then(|v| v.domain_id.clone())
        && let Some(mailbox) = ctx.mail.find_mailbox(&local, &domain_id).await?
        && marker.classify(mailbox.marker()) == Ownership::Ours
    {
        let spec = MailboxSpec {
            local_part: mailbox.local_part.clone(),
            domain_id: mailbox.domain_id.clone(),
            display_name: Some(obj.spec.display_name.clone()),
            quota_bytes: mailbox.quota_bytes,
            aliases: mailbox.aliases.values().cloned().collect(),
            suspended: true,
        };
        if ctx.mail.update_mailbox(&mailbox, &spec, &marker).await? {
            ctx.event(
                obj.as_ref(),
                EventType::Normal,
                "MailboxRetained",
                "Delete",
                format!("mailbox {email} login refused; kept until {purge_after}"),
            )
            .await;
        }
        mailbox_id = Some(mailbox.id);
    }
    if let Observed::Ours(user) = ctx.identity.observe_user(&email, &marker).await? {
        let mut spec = UserSpec {
            username: user.username.clone(),
            name: user.name.clone(),
            email: user.email.clone(),
            path: user.path.clone(),
            is_active: false,
            user_type: user.user_type.clone(),
            attributes: serde_json::Map::new(),
        };
        spec.attributes.insert(
            plan::ATTR_PURGE_AFTER.into(),
            Value::String(purge_after.clone()),
        );
        if let Some(id) = &mailbox_id {
            spec.attributes.insert(
                plan::ATTR_RETAINED_MAILBOX.into(),
                Value::String(id.clone()),
            );
        }
        ctx.identity.update_user(&user, &spec, &marker).await?;
        match ctx.identity.end_sessions(user.pk, &user.username).await {
            Ok(_) => {}
            Err(e) if e.category() == ErrorCategory::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        ctx.event(
            obj.as_ref(),
            EventType::Normal,
            "AccessCut",
            "Delete",
            format!("Authentik user {email} deactivated; kept until {purge_after}"),
        )
        .await;
    }
    Ok(Action::await_change())
}

/// A retired member's data whose retention has ended, for the Tenant controller's purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeDue {
    /// The Authentik user to delete.
    pub user_pk: i64,
    /// The Stalwart account to delete, when the member had a mailbox.
    pub mailbox_id: Option<String>,
}

/// Whether `user` (an Authentik user of kind Member) is retired and its purge time (attribute
/// [`plan::ATTR_PURGE_AFTER`]) has passed at `now`; active users and unparsable times never are.
pub fn purge_due(user: &UserObs, now: k8s_openapi::jiff::Timestamp) -> Option<PurgeDue> {
    let after: k8s_openapi::jiff::Timestamp = user
        .attributes
        .get(plan::ATTR_PURGE_AFTER)?
        .as_str()?
        .parse()
        .ok()?;
    (!user.is_active && after <= now).then(|| PurgeDue {
        user_pk: user.pk,
        mailbox_id: user
            .attributes
            .get(plan::ATTR_RETAINED_MAILBOX)
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(active: bool, attributes: serde_json::Value) -> UserObs {
        serde_json::from_value(json!({
            "pk": 5, "username": "jdoe@acme.test", "is_active": active, "attributes": attributes,
        }))
        .expect("user")
    }

    #[test]
    fn purge_is_due_only_for_retired_users_after_their_time() {
        let now: k8s_openapi::jiff::Timestamp = "2026-06-01T00:00:00Z".parse().expect("time");
        let past = json!({"dezky.io/purge-after": "2026-05-01T00:00:00Z", "dezky.io/retained-mailbox": "a7"});
        assert_eq!(
            purge_due(&user(false, past.clone()), now),
            Some(PurgeDue {
                user_pk: 5,
                mailbox_id: Some("a7".into())
            })
        );
        assert_eq!(
            purge_due(&user(true, past), now),
            None,
            "an active user is never purged"
        );
        let future = json!({"dezky.io/purge-after": "2026-07-01T00:00:00Z"});
        assert_eq!(
            purge_due(&user(false, future), now),
            None,
            "inside the retention window"
        );
        assert_eq!(
            purge_due(&user(false, json!({"dezky.io/purge-after": null})), now),
            None
        );
        assert_eq!(purge_due(&user(false, json!({})), now), None);
    }
}
