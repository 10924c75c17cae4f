//! The Member controller: a person's Authentik user (named by the address, in the tenant group and
//! the file-role group of its role), Stalwart mailbox, one-time password Secret, session
//! revocation, suspension, and retention on deletion.
//!
//! Pipeline: read (namespace owner, verified domains, seats from the controller's cache, the
//! credentials Secret) → observe (user, mailbox) → [`plan::plan`] (pure) → apply → status.
//!
//! Deletion with policy `Delete` cuts access at once (user inactive, sessions ended, mailbox
//! login refused) and records on the user the attribute [`plan::ATTR_PURGE_AFTER`] (now + the
//! tenant's `retention.deletedMembers`) and [`plan::ATTR_RETAINED_MAILBOX`] (the mailbox id); the
//! Tenant controller purges after that time. A Member of the same tenant re-created with the same
//! address before then takes the retained user and mailbox over (and gets a new password).

mod apply;
mod names;
pub mod plan;
mod retire;
pub mod scope;
pub mod secret;

use self::apply::{Work, apply_steps};
use self::retire::cleanup;
pub use self::retire::{PurgeDue, purge_due};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use dezky_crds::member::{FileRole, MemberFiles, MemberIdentity, MemberMail, MemberRole};
use dezky_crds::{MailDomain, Member, MemberStatus, Partner, SecretRef, Tenant};
use futures::future::BoxFuture;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use serde_json::Value;

use self::plan::{Facts, MailDomainFact, MailboxFact, Scope, UserFact, UserView};
use self::scope::Owner;
use super::{controller_config, drain, field_manager};
use crate::runtime::{self, Context, ReconcileError};
use crate::upstream::authentik::{
    ATTR_MARKER, ATTR_UID, IdentityClient, Observed, UserObs, UserSpec,
};
use crate::upstream::marker::{Marker, Ownership};
use crate::upstream::stalwart::{MailAlias, MailClient, Mailbox, MailboxSpec, describe};

/// The controller's name in metrics; its field manager is `dezky-member`.
pub const NAME: &str = "member";
/// How soon to look again when the address is held by another Member of the same tenant (it may
/// be on its way out, and its retirement does not wake this one).
const HOLDER_RECHECK: std::time::Duration = std::time::Duration::from_secs(15);

/// Group pks by name, shared by the passes of this controller (groups belong to the Tenant and
/// Partner controllers; a pk that stops working is forgotten).
type GroupCache = Arc<Mutex<HashMap<String, String>>>;

/// Builds and runs the Member controller. A Tenant's or Partner's change wakes the Members of its
/// namespace; a MailDomain's change wakes the Members whose address (or alias) is on it.
pub fn controller(ctx: Arc<Context>) -> BoxFuture<'static, ()> {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<Member>::all(client.clone()),
        watcher::Config::default(),
    )
    .with_config(controller_config(&ctx))
    .graceful_shutdown_on(ctx.shutdown_signal());
    let store = controller.store();
    let (s1, s2, s3) = (store.clone(), store.clone(), store.clone());
    let controller = controller
        .watches(
            Api::<Tenant>::all(client.clone()),
            watcher::Config::default(),
            move |t: Tenant| in_namespace(&s1, &super::maildomain::tenant_namespace(&t), |_| true),
        )
        .watches(
            Api::<Partner>::all(client.clone()),
            watcher::Config::default(),
            move |p: Partner| {
                let namespace = p
                    .status
                    .as_ref()
                    .and_then(|s| s.namespace.clone())
                    .unwrap_or_else(|| format!("partner-{}", p.name_any()));
                in_namespace(&s2, &namespace, |_| true)
            },
        )
        .watches(
            Api::<MailDomain>::all(client),
            watcher::Config::default(),
            move |d: MailDomain| {
                let domain = format!("@{}", d.spec.domain.to_ascii_lowercase());
                in_namespace(&s3, &d.namespace().unwrap_or_default(), |m| {
                    std::iter::once(&m.spec.email)
                        .chain(m.spec.mailbox.aliases.iter())
                        .any(|a| a.to_ascii_lowercase().ends_with(&domain))
                })
            },
        );
    let groups: GroupCache = Arc::default();
    Box::pin(async move {
        let stream = controller.run(
            move |obj, ctx| {
                let (store, groups) = (store.clone(), groups.clone());
                runtime::reconcile(
                    ctx,
                    NAME,
                    obj,
                    move |o, c| apply_recording(o, c, store, groups),
                    cleanup,
                )
            },
            runtime::policy_for::<Member>(NAME),
            ctx,
        );
        drain(NAME, stream).await;
    })
}

fn in_namespace(
    store: &Store<Member>,
    namespace: &str,
    wanted: impl Fn(&Member) -> bool,
) -> Vec<ObjectRef<Member>> {
    store
        .state()
        .iter()
        .filter(|m| m.namespace().as_deref() == Some(namespace) && wanted(m))
        .map(|m| ObjectRef::from_obj(m.as_ref()))
        .collect()
}

/// The live Members of a namespace as (name, creation time), for the seat count.
fn live_members(store: &Store<Member>, namespace: &str) -> Vec<(String, String)> {
    store
        .state()
        .iter()
        .filter(|m| m.namespace().as_deref() == Some(namespace))
        .filter(|m| m.metadata.deletion_timestamp.is_none())
        .map(|m| {
            let created = m
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default();
            (m.name_any(), created)
        })
        .collect()
}

/// The user the operator wants for this member.
fn desired_user(member: &Member, scope_name: &str, path: &str, active: bool) -> UserSpec {
    UserSpec {
        username: member.spec.email.to_ascii_lowercase(),
        name: member.spec.display_name.clone(),
        email: member.spec.email.to_ascii_lowercase(),
        path: path.to_string(),
        is_active: active,
        user_type: "internal".into(),
        attributes: plan::user_attributes(scope_name, member.spec.role == MemberRole::Admin, None),
    }
}

/// True when the observed user differs from the spec in a managed field (or the marker).
fn user_drifted(current: &UserObs, spec: &UserSpec, marker: &Marker) -> bool {
    let attribute_differs = spec
        .attributes
        .iter()
        .any(|(k, v)| current.attributes.get(k).unwrap_or(&Value::Null) != v);
    current.name != spec.name
        || current.email != spec.email
        || current.is_active != spec.is_active
        || current.path != spec.path
        || current.user_type != spec.user_type
        || attribute_differs
        || current.attributes.get(ATTR_MARKER).and_then(Value::as_str)
            != Some(marker.key().as_str())
        || current.attributes.get(ATTR_UID).and_then(Value::as_str) != Some(marker.uid.as_str())
}

fn mailbox_drifted(current: &Mailbox, spec: &MailboxSpec, marker: &Marker) -> bool {
    let have: BTreeSet<&MailAlias> = current.aliases.values().collect();
    let want: BTreeSet<&MailAlias> = spec.aliases.iter().collect();
    current.quota_bytes != spec.quota_bytes
        || have != want
        || current.suspended != spec.suspended
        || current.description.as_deref()
            != Some(describe(spec.display_name.as_deref(), marker).as_str())
}

/// A retired object of a former Member of the same tenant (not a live Member) can be taken over.
fn retired_owner(
    key: Option<&str>,
    ctx: &Context,
    namespace: &str,
    live: &[(String, String)],
) -> bool {
    key.and_then(|k| plan::member_of_namespace(k, ctx.installation(), namespace))
        .is_some_and(|name| !live.iter().any(|(n, _)| n == name))
}

fn user_view(user: &UserObs, spec: &UserSpec, marker: &Marker) -> UserView {
    UserView {
        pk: user.pk,
        is_active: user.is_active,
        groups: user.groups.iter().cloned().collect(),
        drifted: user_drifted(user, spec, marker),
    }
}

async fn group_pk(
    ctx: &Context,
    cache: &GroupCache,
    name: &str,
) -> Result<Option<String>, ReconcileError> {
    if let Some(pk) = cache.lock().expect("group cache").get(name).cloned() {
        return Ok(Some(pk));
    }
    let found = scope::group_pks(ctx, &[name.to_string()]).await?;
    let pk = found.get(name).cloned();
    if let Some(pk) = &pk {
        cache
            .lock()
            .expect("group cache")
            .insert(name.to_string(), pk.clone());
    }
    Ok(pk)
}

/// [`apply`], and on failure the condition of the failing part (naming the upstream and the
/// reason) and `Stalled` for errors retrying cannot fix, before the error goes to the requeue policy.
async fn apply_recording(
    obj: Arc<Member>,
    ctx: Arc<Context>,
    store: Store<Member>,
    groups: GroupCache,
) -> Result<Action, ReconcileError> {
    let result = apply(obj.clone(), ctx.clone(), store, groups).await;
    if let Err(error) = &result {
        use dezky_crds::condition::types;
        let part = match error.upstream() {
            "authentik" => Some(types::IDENTITY_READY),
            "stalwart" => Some(types::MAILBOX_READY),
            _ => None,
        };
        let mut status = obj.status.clone().unwrap_or_default();
        let mut conditions = std::mem::take(&mut status.conditions);
        let (parts, ready) = match part {
            Some(type_) => (vec![error.verdict(type_)], None),
            None => (Vec::new(), Some(error.verdict(types::READY))),
        };
        let required = [
            types::IDENTITY_READY,
            types::MAILBOX_READY,
            types::FILES_READY,
        ];
        let required = if conditions.iter().any(|c| c.type_ == types::MAILBOX_READY) {
            &required[..]
        } else {
            &required[..1]
        };
        runtime::settle_conditions(
            &mut conditions,
            parts,
            required,
            ready,
            error.stalled(),
            obj.metadata.generation,
        );
        status.conditions = conditions;
        status.observed_generation = obj.metadata.generation;
        if let Err(write) =
            runtime::write_status(&ctx, &field_manager(NAME), obj.as_ref(), &status).await
        {
            tracing::warn!(error = %write, "failed to record a failure in the status");
        }
    }
    result
}

async fn apply(
    obj: Arc<Member>,
    ctx: Arc<Context>,
    store: Store<Member>,
    groups: GroupCache,
) -> Result<Action, ReconcileError> {
    let namespace = obj.namespace().unwrap_or_default();
    let marker = ctx.marker(obj.as_ref());
    let email = obj.spec.email.to_ascii_lowercase();
    let (local, domain) = plan::split_address(&email).unwrap_or_default();
    // seats are counted from the cache: only once it holds every Member
    store
        .wait_until_ready()
        .await
        .map_err(|_| ReconcileError::Waiting("the Member cache is shutting down".into()))?;
    let live = live_members(&store, &namespace);
    let owner = scope::owner(&ctx, &namespace).await?;

    // scope, groups, domains
    let mut verified = BTreeMap::new();
    let (scope, scope_name, path, mailbox_quota) = match &owner {
        Owner::None => (Scope::Missing, String::new(), String::new(), None),
        Owner::Tenant(t) => {
            let name = t.name_any();
            let group_name = format!("tenant-{name}");
            let group = match t
                .status
                .as_ref()
                .and_then(|s| s.identity.as_ref())
                .and_then(|i| i.group_pk.clone())
            {
                Some(pk) => Some(pk),
                None => group_pk(&ctx, &groups, &group_name).await?,
            };
            let mut file_groups = Vec::new();
            // all three: leaving a role means leaving its group
            for role in [FileRole::Viewer, FileRole::Editor, FileRole::Manager] {
                if let Some(pk) =
                    group_pk(&ctx, &groups, &plan::file_role_group(&name, role)).await?
                {
                    file_groups.push((role, pk));
                }
            }
            verified = scope::verified_domains(&ctx, &namespace).await?;
            let scope = Scope::Tenant {
                name: name.clone(),
                allow_adoption: t.spec.allow_adoption,
                suspended: t.spec.suspended,
                group_pk: group,
                file_groups,
            };
            (
                scope,
                name.clone(),
                format!("tenants/{name}"),
                Some(t.spec.mailbox_quota.clone()),
            )
        }
        Owner::Partner(p) => {
            let name = p.name_any();
            let group = match p
                .status
                .as_ref()
                .and_then(|s| s.identity.as_ref())
                .and_then(|i| i.group_pk.clone())
            {
                Some(pk) => Some(pk),
                None => group_pk(&ctx, &groups, &format!("partner-{name}")).await?,
            };
            let scope = Scope::Partner {
                name: name.clone(),
                domain: p.spec.domain.to_ascii_lowercase(),
                allow_adoption: p.spec.allow_adoption,
                suspended: p.spec.suspended,
                group_pk: group,
            };
            (
                scope,
                format!("partner:{name}"),
                format!("partners/{name}"),
                None,
            )
        }
    };
    let mail_domain = match verified.get(&domain) {
        None => MailDomainFact::NotVerified,
        Some(v) => match &v.domain_id {
            None => MailDomainFact::NoServerDomain,
            Some(id) => MailDomainFact::Ready {
                domain_id: id.clone(),
            },
        },
    };
    let mut unverified_aliases = Vec::new();
    let mut aliases = Vec::new();
    for alias in &obj.spec.mailbox.aliases {
        let Some((alias_local, alias_domain)) = plan::split_address(alias) else {
            continue;
        };
        match verified
            .get(&alias_domain)
            .and_then(|v| v.domain_id.clone())
        {
            Some(domain_id) => aliases.push(MailAlias {
                local_part: alias_local,
                domain_id,
            }),
            None => unverified_aliases.push(alias.clone()),
        }
    }
    let is_partner = matches!(scope, Scope::Partner { .. });
    let mut facts = Facts {
        email: email.clone(),
        scope: scope.clone(),
        paused: Context::is_paused(obj.as_ref()),
        adopt_annotation: Context::wants_adoption(obj.as_ref()),
        suspended: obj.spec.suspended,
        holds_seat: match &owner {
            Owner::Tenant(t) => plan::holds_seat(&live, &obj.name_any(), t.spec.seats),
            _ => true,
        },
        mail_domain: mail_domain.clone(),
        unverified_aliases,
        mailbox_wanted: obj.spec.mailbox.enabled && !is_partner,
        files_wanted: obj.spec.files.enabled && !is_partner,
        file_role: obj.spec.files.role,
        user: UserFact::Missing,
        mailbox: MailboxFact::NotObserved,
        password_current: false,
        sessions_revocation_due: false,
    };
    let active = !facts.effective_suspended();
    let user_spec = desired_user(&obj, &scope_name, &path, active);
    let quota = obj.spec.mailbox.quota.clone().or(mailbox_quota);
    let mailbox_spec = match &mail_domain {
        MailDomainFact::Ready { domain_id } => Some(MailboxSpec {
            local_part: local.clone(),
            domain_id: domain_id.clone(),
            display_name: Some(obj.spec.display_name.clone()),
            quota_bytes: quota.as_deref().and_then(plan::quantity_bytes),
            aliases,
            // a mailbox turned off (`mailbox.enabled: false`) is disabled like a suspended one:
            // login and delivery refused, its mail and password kept for when it is turned on
            suspended: !active || !obj.spec.mailbox.enabled,
        }),
        _ => None,
    };
    let initial = plan::plan(&facts);
    if initial.ready_override.is_some() {
        return finish(&ctx, &obj, &facts, None, None, None).await;
    }

    // observe
    let issued = secret::read(&ctx, &obj).await?;
    facts.password_current = issued
        .as_ref()
        .is_some_and(|i| i.rotation == secret::rotation_value(&obj));
    let old = obj.status.clone().unwrap_or_default();
    facts.sessions_revocation_due = obj.spec.sessions_revocation.is_some()
        && obj.spec.sessions_revocation != old.observed_sessions_revocation;
    let mut observed = Work {
        user: None,
        mailbox: None,
        user_spec,
        mailbox_spec,
        issued,
    };
    let mut same_tenant_holder = false;
    match ctx.identity.observe_user(&email, &marker).await? {
        Observed::Missing => facts.user = UserFact::Missing,
        Observed::Ours(u) => {
            facts.user = UserFact::Ours(user_view(&u, &observed.user_spec, &marker));
            observed.user = Some(u);
        }
        Observed::Unmarked(u) => {
            facts.user = UserFact::Unmarked;
            observed.user = Some(u);
        }
        Observed::Foreign(u) => {
            let retired = u
                .attributes
                .get(plan::ATTR_PURGE_AFTER)
                .is_some_and(|v| !v.is_null());
            if retired && retired_owner(u.marker(), &ctx, &namespace, &live) {
                facts.user = UserFact::Retained(user_view(&u, &observed.user_spec, &marker));
                observed.user = Some(u);
            } else {
                // a Member of this tenant being retired right now: look again soon
                same_tenant_holder = u
                    .marker()
                    .and_then(|k| plan::member_of_namespace(k, ctx.installation(), &namespace))
                    .is_some();
                facts.user = UserFact::Foreign;
            }
        }
    }
    // a tenant member's mailbox is observed even when turned off, to disable one that exists
    if let (Some(spec), false) = (&observed.mailbox_spec, is_partner) {
        facts.mailbox = match ctx
            .mail
            .find_mailbox(&spec.local_part, &spec.domain_id)
            .await?
        {
            None => MailboxFact::Missing,
            Some(m) => {
                let fact = match marker.classify(m.marker()) {
                    Ownership::Ours => MailboxFact::Ours {
                        id: m.id.clone(),
                        drifted: mailbox_drifted(&m, spec, &marker),
                    },
                    Ownership::Unmarked => MailboxFact::Unmarked,
                    Ownership::Foreign if retired_owner(m.marker(), &ctx, &namespace, &live) => {
                        MailboxFact::Retained { id: m.id.clone() }
                    }
                    Ownership::Foreign => MailboxFact::Foreign,
                };
                observed.mailbox = Some(m);
                fact
            }
        };
    }

    // apply
    let steps = plan::plan(&facts).steps;
    apply_steps(&ctx, &obj, &marker, &mut facts, &mut observed, steps).await?;
    let requeue = if same_tenant_holder {
        Action::requeue(HOLDER_RECHECK)
    } else {
        ctx.resync()
    };
    let mfa = match &observed.user {
        Some(u) if matches!(facts.user, UserFact::Ours(_)) => {
            Some(ctx.identity.confirmed_authenticators(u.pk).await? > 0)
        }
        _ => None,
    };
    finish(
        &ctx,
        &obj,
        &facts,
        observed.user.as_ref().map(|u| u.pk),
        observed.mailbox.as_ref().map(|m| m.id.clone()),
        mfa,
    )
    .await?;
    Ok(requeue)
}

/// Writes the status from the facts as they stand after the applied steps.
async fn finish(
    ctx: &Context,
    obj: &Member,
    facts: &Facts,
    user_pk: Option<i64>,
    account_id: Option<String>,
    mfa: Option<bool>,
) -> Result<Action, ReconcileError> {
    let planned = plan::plan(facts);
    let old = obj.status.clone().unwrap_or_default();
    let mut status = MemberStatus {
        conditions: old.conditions.clone(),
        ..old.clone()
    };
    status.observed_generation = obj.metadata.generation;
    if planned.ready_override.is_none() {
        let user_ours = matches!(facts.user, UserFact::Ours(_));
        status.identity = user_ours.then(|| MemberIdentity {
            user_pk,
            username: Some(facts.email.clone()),
            mfa_enrolled: mfa,
        });
        status.mail = match &facts.mailbox {
            MailboxFact::Ours { .. } => Some(MemberMail { account_id }),
            _ => old.mail.clone(),
        };
        let granted = matches!(&facts.user, UserFact::Ours(v) if match &facts.scope {
            Scope::Tenant { file_groups, .. } => file_groups.iter().any(|(r, pk)| *r == facts.file_role && v.groups.contains(pk)),
            _ => false,
        });
        status.files = (facts.files_wanted && granted).then_some(MemberFiles {
            role: facts.file_role,
        });
        if facts.password_current {
            status.credentials_secret_ref = Some(SecretRef {
                name: plan::credentials_secret_name(&obj.name_any()),
            });
            status.observed_credentials_rotation = obj.spec.credentials_rotation.clone();
        }
        if user_ours && !facts.sessions_revocation_due {
            status.observed_sessions_revocation = obj.spec.sessions_revocation.clone();
        }
    }
    let mut conditions = std::mem::take(&mut status.conditions);
    runtime::settle_conditions(
        &mut conditions,
        planned.verdicts,
        &planned.required,
        planned.ready_override,
        None,
        obj.metadata.generation,
    );
    status.conditions = conditions;
    runtime::write_status(ctx, &field_manager(NAME), obj, &status).await?;
    Ok(ctx.resync())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn marker() -> Marker {
        Marker {
            installation: "prod".into(),
            kind: "Member".into(),
            namespace: Some("tenant-acme".into()),
            name: "jdoe".into(),
            uid: "u1".into(),
        }
    }

    fn user(attributes: serde_json::Map<String, Value>) -> UserObs {
        serde_json::from_value(json!({
            "pk": 5, "username": "jdoe@acme.test", "name": "Jane", "email": "jdoe@acme.test",
            "is_active": true, "path": "tenants/acme", "type": "internal", "groups": [],
            "attributes": attributes,
        }))
        .expect("user")
    }

    #[test]
    fn drift_is_detected_on_managed_fields_and_marker_only() {
        let spec = UserSpec {
            username: "jdoe@acme.test".into(),
            name: "Jane".into(),
            email: "jdoe@acme.test".into(),
            path: "tenants/acme".into(),
            is_active: true,
            user_type: "internal".into(),
            attributes: plan::user_attributes("acme", false, None),
        };
        let mut attributes = spec.attributes.clone();
        attributes.insert(ATTR_MARKER.into(), json!(marker().key()));
        attributes.insert(ATTR_UID.into(), json!("u1"));
        attributes.insert("someone.else/attr".into(), json!(1));
        assert!(!user_drifted(&user(attributes.clone()), &spec, &marker()));
        let mut suspended = spec.clone();
        suspended.is_active = false;
        assert!(user_drifted(
            &user(attributes.clone()),
            &suspended,
            &marker()
        ));
        attributes.insert(plan::ATTR_PURGE_AFTER.into(), json!("2026-01-01T00:00:00Z"));
        assert!(
            user_drifted(&user(attributes), &spec, &marker()),
            "a purge time must be cleared"
        );
    }
}
