//! Applying the Member plan's steps, in order, to Authentik, Stalwart and the credentials Secret;
//! each step updates the facts, so the status is computed from what was done.

use dezky_crds::Member;
use kube::runtime::events::EventType;

use super::plan::{Facts, MailboxFact, Step, UserFact, UserView};
use super::{NAME, secret};
use crate::controllers::field_manager;
use crate::runtime::{Context, ReconcileError};
use crate::upstream::authentik::{IdentityClient, UserObs, UserSpec};
use crate::upstream::http::Secret;
use crate::upstream::marker::Marker;
use crate::upstream::stalwart::{MailClient, Mailbox, MailboxSpec};

/// Everything observed in one pass, beside the plan's facts.
pub(super) struct Work {
    pub user: Option<UserObs>,
    pub mailbox: Option<Mailbox>,
    pub user_spec: UserSpec,
    pub mailbox_spec: Option<MailboxSpec>,
    pub issued: Option<secret::Issued>,
}

pub(super) async fn apply_steps(
    ctx: &Context,
    obj: &Member,
    marker: &Marker,
    facts: &mut Facts,
    observed: &mut Work,
    steps: Vec<Step>,
) -> Result<(), ReconcileError> {
    let email = facts.email.clone();
    let mut fresh_password: Option<Secret> = None;
    let mut mailbox_has_fresh = false;
    for step in steps {
        match step {
            Step::CreateUser { adopt } => {
                let user = ctx
                    .identity
                    .create_user(&observed.user_spec, marker, adopt)
                    .await?;
                // an adopted user may still differ from the spec
                let user = match ctx
                    .identity
                    .update_user(&user, &observed.user_spec, marker)
                    .await?
                {
                    Some(updated) => updated,
                    None => user,
                };
                let reason = if adopt { "UserAdopted" } else { "UserCreated" };
                ctx.event(
                    obj,
                    EventType::Normal,
                    reason,
                    "Create",
                    format!("Authentik user {email} provisioned"),
                )
                .await;
                facts.user = UserFact::Ours(UserView {
                    pk: user.pk,
                    is_active: user.is_active,
                    groups: user.groups.iter().cloned().collect(),
                    drifted: false,
                });
                observed.user = Some(user);
            }
            Step::TakeOverUser | Step::UpdateUser => {
                let Some(current) = observed.user.clone() else {
                    continue;
                };
                let user = ctx
                    .identity
                    .update_user(&current, &observed.user_spec, marker)
                    .await?
                    .unwrap_or(current);
                let (reason, note) = if step == Step::TakeOverUser {
                    (
                        "UserRestored",
                        format!("retained Authentik user {email} restored"),
                    )
                } else {
                    ("UserUpdated", format!("Authentik user {email} updated"))
                };
                ctx.event(obj, EventType::Normal, reason, "Update", note)
                    .await;
                facts.user = UserFact::Ours(UserView {
                    pk: user.pk,
                    is_active: user.is_active,
                    groups: user.groups.iter().cloned().collect(),
                    drifted: false,
                });
                observed.user = Some(user);
            }
            Step::AddToGroup { group_pk } => {
                let Some(pk) = observed.user.as_ref().map(|u| u.pk) else {
                    continue;
                };
                ctx.identity.add_member(&group_pk, pk).await?;
                ctx.event(
                    obj,
                    EventType::Normal,
                    "GroupJoined",
                    "Update",
                    format!("{email} added to an Authentik group"),
                )
                .await;
                if let UserFact::Ours(view) = &mut facts.user {
                    view.groups.insert(group_pk);
                }
            }
            Step::RemoveFromGroup { group_pk } => {
                let Some(pk) = observed.user.as_ref().map(|u| u.pk) else {
                    continue;
                };
                ctx.identity.remove_member(&group_pk, pk).await?;
                ctx.event(
                    obj,
                    EventType::Normal,
                    "GroupLeft",
                    "Update",
                    format!("{email} removed from an Authentik group"),
                )
                .await;
                if let UserFact::Ours(view) = &mut facts.user {
                    view.groups.remove(&group_pk);
                }
            }
            Step::CreateMailbox { adopt } => {
                let Some(spec) = observed.mailbox_spec.clone() else {
                    continue;
                };
                let password = match (&observed.issued, facts.password_current) {
                    (Some(issued), true) => issued.password.clone(),
                    _ => fresh_password
                        .get_or_insert_with(secret::generate_password)
                        .clone(),
                };
                let mailbox = ctx
                    .mail
                    .create_mailbox(&spec, &password, marker, adopt)
                    .await?;
                mailbox_has_fresh = !adopt && fresh_password.is_some();
                ctx.event(
                    obj,
                    EventType::Normal,
                    if adopt {
                        "MailboxAdopted"
                    } else {
                        "MailboxCreated"
                    },
                    "Create",
                    format!("mailbox {email} provisioned"),
                )
                .await;
                facts.mailbox = MailboxFact::Ours {
                    id: mailbox.id.clone(),
                    drifted: false,
                };
                observed.mailbox = Some(mailbox);
            }
            Step::TakeOverMailbox | Step::UpdateMailbox => {
                let (Some(spec), Some(current)) =
                    (observed.mailbox_spec.clone(), observed.mailbox.clone())
                else {
                    continue;
                };
                ctx.mail.update_mailbox(&current, &spec, marker).await?;
                let reason = if step == Step::TakeOverMailbox {
                    "MailboxRestored"
                } else {
                    "MailboxUpdated"
                };
                ctx.event(
                    obj,
                    EventType::Normal,
                    reason,
                    "Update",
                    format!("mailbox {email} updated"),
                )
                .await;
                facts.mailbox = MailboxFact::Ours {
                    id: current.id.clone(),
                    drifted: false,
                };
            }
            Step::IssuePassword => {
                let Some(user) = observed.user.clone() else {
                    continue;
                };
                let password = fresh_password
                    .get_or_insert_with(secret::generate_password)
                    .clone();
                ctx.identity.set_password(user.pk, &password).await?;
                if let Some(mailbox) = &observed.mailbox
                    && !mailbox_has_fresh
                    && matches!(facts.mailbox, MailboxFact::Ours { .. })
                {
                    ctx.mail.set_password(&mailbox.id, &password).await?;
                }
                secret::write(ctx, &field_manager(NAME), obj, &password).await?;
                ctx.event(
                    obj,
                    EventType::Normal,
                    "PasswordIssued",
                    "Update",
                    format!("a one-time password for {email} is in its credentials Secret"),
                )
                .await;
                observed.issued = Some(secret::Issued {
                    rotation: secret::rotation_value(obj),
                    password,
                });
                facts.password_current = true;
            }
            Step::EndSessions => {
                let Some(user) = observed.user.clone() else {
                    continue;
                };
                let ended = ctx.identity.end_sessions(user.pk, &user.username).await?;
                ctx.event(
                    obj,
                    EventType::Normal,
                    "SessionsEnded",
                    "Update",
                    format!("{ended} session(s) of {email} ended"),
                )
                .await;
                facts.sessions_revocation_due = false;
                if let UserFact::Ours(view) = &mut facts.user {
                    view.is_active = observed.user_spec.is_active;
                }
            }
        }
    }
    Ok(())
}
