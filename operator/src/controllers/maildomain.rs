//! The MailDomain controller: proves a tenant owns a domain through a `_dezky-verification` TXT
//! record, then creates the domain (with automatic DKIM) on Stalwart, and reports every DNS record
//! the customer must publish with what a real resolver found.
//!
//! Pipeline: read (namespace owner, verification key, other tenants' claims from the controller's
//! cache) → observe (DNS when a check is due, the Stalwart domain) → [`plan::plan`] (pure) →
//! apply → status (written only when it changed).
//!
//! The ownership token is an HMAC-SHA256 of installation id, tenant and domain under a random key
//! kept in the Secret [`KEY_SECRET`] of the tenant's namespace (created on first use): stable for
//! the namespace's life, different per tenant and domain, and unguessable without that Secret.
//! DNS is checked on the first visit, on a new `dezky.io/recheck` value, when the records change,
//! and on a schedule that backs off once everything verified ([`plan::check_interval`]).

mod deletion;
pub mod plan;

use self::deletion::cleanup;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dezky_crds::maildomain::{DnsRecordState, MailServerDomain};
use dezky_crds::{ANNOTATION_RECHECK, MailDomain, MailDomainStatus, Member, Tenant};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use rand::RngCore;

use self::plan::{Facts, ServerDomain, Step, TenantFact};
use super::member::scope::{self, Owner};
use super::{controller_config, drain, field_manager};
use crate::runtime::{self, Context, ReconcileError};
use crate::upstream::dns::{DnsChecker, ExpectedRecord, RecordState};
use crate::upstream::marker::Ownership;
use crate::upstream::stalwart::{DkimMode, DomainSpec, MailClient, MailDnsRecord};

/// The controller's name in metrics; its field manager is `dezky-maildomain`.
pub const NAME: &str = "maildomain";
/// The Secret (in each tenant namespace) holding the key of the ownership tokens.
pub const KEY_SECRET: &str = "dezky-verification-key";
const KEY_FIELD: &str = "key";

/// Builds and runs the MailDomain controller: it also wakes a tenant's MailDomains when the Tenant
/// changes, and a domain being deleted when a Member of its namespace goes.
pub fn controller(ctx: Arc<Context>) -> BoxFuture<'static, ()> {
    let client = ctx.client.clone();
    let domains: Api<MailDomain> = Api::all(client.clone());
    let controller = Controller::new(domains, watcher::Config::default())
        .with_config(controller_config(&ctx))
        .graceful_shutdown_on(ctx.shutdown_signal());
    let store = controller.store();
    let by_tenant = store.clone();
    let by_member = store.clone();
    let controller = controller
        .watches(
            Api::<Tenant>::all(client.clone()),
            watcher::Config::default(),
            move |tenant: Tenant| {
                let namespace = tenant_namespace(&tenant);
                in_namespace(&by_tenant, &namespace)
            },
        )
        .watches(
            Api::<Member>::all(client),
            watcher::Config::default(),
            move |member: Member| {
                let namespace = member.namespace().unwrap_or_default();
                in_namespace(&by_member, &namespace)
                    .into_iter()
                    .filter(|r| {
                        by_member
                            .get(r)
                            .is_some_and(|d| d.metadata.deletion_timestamp.is_some())
                    })
                    .collect::<Vec<_>>()
            },
        );
    let reconcile_store = store;
    Box::pin(async move {
        let stream = controller.run(
            move |obj, ctx| {
                let store = reconcile_store.clone();
                runtime::reconcile(
                    ctx,
                    NAME,
                    obj,
                    move |o, c| apply_recording(o, c, store),
                    cleanup,
                )
            },
            runtime::policy_for::<MailDomain>(NAME),
            ctx,
        );
        drain(NAME, stream).await;
    })
}

/// The namespace of a Tenant: `status.namespace`, or `tenant-<name>`.
pub fn tenant_namespace(tenant: &Tenant) -> String {
    tenant
        .status
        .as_ref()
        .and_then(|s| s.namespace.clone())
        .unwrap_or_else(|| format!("tenant-{}", tenant.name_any()))
}

fn in_namespace(store: &Store<MailDomain>, namespace: &str) -> Vec<ObjectRef<MailDomain>> {
    store
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(namespace))
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

fn kube_err(action: &'static str) -> impl FnOnce(kube::Error) -> ReconcileError {
    move |source| ReconcileError::Kube { action, source }
}

/// The verification key of a namespace, created when missing (a lost race reads the winner's).
async fn verification_key(ctx: &Context, namespace: &str) -> Result<Vec<u8>, ReconcileError> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let read = |secret: Secret| {
        secret
            .data
            .and_then(|d| d.get(KEY_FIELD).map(|v| v.0.clone()))
            .filter(|k| k.len() >= 16)
    };
    if let Some(secret) = secrets
        .get_opt(KEY_SECRET)
        .await
        .map_err(kube_err("read the verification key"))?
    {
        return read(secret).ok_or_else(|| {
            ReconcileError::Invalid(format!(
                "the Secret {KEY_SECRET} has no usable `{KEY_FIELD}`"
            ))
        });
    }
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(KEY_SECRET.into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "dezky-operator".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            KEY_FIELD.to_string(),
            k8s_openapi::ByteString(key.clone()),
        )])),
        ..Secret::default()
    };
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(key),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let secret = secrets
                .get(KEY_SECRET)
                .await
                .map_err(kube_err("read the verification key"))?;
            read(secret).ok_or_else(|| {
                ReconcileError::Invalid(format!(
                    "the Secret {KEY_SECRET} has no usable `{KEY_FIELD}`"
                ))
            })
        }
        Err(source) => Err(ReconcileError::Kube {
            action: "create the verification key",
            source,
        }),
    }
}

/// When the ownership condition of a MailDomain last turned True (RFC 3339), if it is True.
fn verified_since(domain: &MailDomain) -> Option<String> {
    domain.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| {
                c.type_ == dezky_crds::condition::types::OWNERSHIP_VERIFIED
                    && c.status == dezky_crds::ConditionStatus::True
            })
            .map(|c| c.last_transition_time.0.to_string())
    })
}

fn seconds_since(time: &Time) -> Duration {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    Duration::from_secs(u64::try_from(now - time.0.as_second()).unwrap_or(0))
}

fn state_of(record: DnsRecordState, observed: Option<&String>) -> Option<RecordState> {
    match record {
        DnsRecordState::Verified => Some(RecordState::Verified),
        DnsRecordState::Missing => Some(RecordState::Missing),
        DnsRecordState::Mismatch => Some(RecordState::Mismatch {
            observed: observed.cloned().unwrap_or_default(),
        }),
        DnsRecordState::Pending => None,
    }
}

/// What this pass found, carried into the status.
struct Observation {
    facts: Facts,
    expected: Vec<ExpectedRecord>,
    checked: bool,
    mail: Option<MailServerDomain>,
}

/// [`apply`], and on failure the condition of the failing part (naming the upstream and the
/// reason) and `Stalled` for errors retrying cannot fix, before the error goes to the requeue policy.
async fn apply_recording(
    obj: Arc<MailDomain>,
    ctx: Arc<Context>,
    store: Store<MailDomain>,
) -> Result<Action, ReconcileError> {
    let result = apply(obj.clone(), ctx.clone(), store).await;
    if let Err(error) = &result {
        let part = match error.upstream() {
            "stalwart" => Some(dezky_crds::condition::types::MAIL_SERVER_READY),
            "dns" => Some(dezky_crds::condition::types::DNS_VERIFIED),
            _ => None,
        };
        let mut status = obj.status.clone().unwrap_or_default();
        let mut conditions = std::mem::take(&mut status.conditions);
        let (parts, ready) = match part {
            Some(type_) => (vec![error.verdict(type_)], None),
            None => (
                Vec::new(),
                Some(error.verdict(dezky_crds::condition::types::READY)),
            ),
        };
        runtime::settle_conditions(
            &mut conditions,
            parts,
            &plan::REQUIRED,
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
    obj: Arc<MailDomain>,
    ctx: Arc<Context>,
    store: Store<MailDomain>,
) -> Result<Action, ReconcileError> {
    let namespace = obj.namespace().unwrap_or_default();
    let domain = obj.spec.domain.trim_end_matches('.').to_ascii_lowercase();
    let old = obj.status.clone().unwrap_or_default();
    let paused = Context::is_paused(obj.as_ref());

    let owner = scope::owner(&ctx, &namespace).await?;
    let tenant = match &owner {
        Owner::Tenant(t) => TenantFact::Found {
            name: t.name_any(),
            allow_adoption: t.spec.allow_adoption,
        },
        _ => TenantFact::Missing,
    };
    let mut facts = Facts {
        domain: domain.clone(),
        tenant: tenant.clone(),
        paused,
        adopt_annotation: Context::wants_adoption(obj.as_ref()),
        claimed_by: None,
        other_primary: None,
        ownership_verified: false,
        server: ServerDomain::NotObserved,
        record_states: Vec::new(),
        dns_failure: None,
    };
    let TenantFact::Found {
        name: tenant_name, ..
    } = &tenant
    else {
        return finish(&ctx, &obj, old, None, facts, Vec::new(), false).await;
    };
    // other tenants' proof, and this tenant's primary domain, from the controller's cache (once
    // it holds every MailDomain)
    store
        .wait_until_ready()
        .await
        .map_err(|_| ReconcileError::Waiting("the MailDomain cache is shutting down".into()))?;
    let others: Vec<(String, String)> = store
        .state()
        .iter()
        .filter(|d| {
            d.spec.domain.eq_ignore_ascii_case(&domain)
                && d.namespace().as_deref() != Some(namespace.as_str())
        })
        .filter_map(|d| Some((d.namespace()?, verified_since(d)?)))
        .collect();
    let mine = verified_since(&obj);
    facts.claimed_by = plan::claimed_by(mine.as_deref(), &namespace, &others).map(str::to_string);
    if obj.spec.primary {
        facts.other_primary = store
            .state()
            .iter()
            .filter(|d| d.namespace().as_deref() == Some(namespace.as_str()) && d.spec.primary)
            .filter(|d| d.metadata.deletion_timestamp.is_none() && d.name_any() != obj.name_any())
            .filter(|d| {
                (
                    d.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    d.name_any(),
                ) < (
                    obj.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    obj.name_any(),
                )
            })
            .map(|d| d.name_any())
            .next();
    }
    if facts.claimed_by.is_some() {
        return finish(&ctx, &obj, old, None, facts, Vec::new(), false).await;
    }

    let key = verification_key(&ctx, &namespace).await?;
    let token = plan::verification_token(&key, ctx.installation(), tenant_name, &domain);
    let mut observation = observe(&ctx, &obj, &old, facts, &token).await?;

    // apply
    let steps = plan::plan(&observation.facts).steps;
    let marker = ctx.marker(obj.as_ref());
    for step in steps {
        match step {
            Step::CreateDomain { adopt } => {
                let spec = DomainSpec {
                    name: domain.clone(),
                    dkim: DkimMode::Automatic,
                };
                let created = ctx.mail.create_domain(&spec, &marker, adopt).await?;
                let (reason, verb) = if adopt {
                    ("MailDomainAdopted", "adopted")
                } else {
                    ("MailDomainCreated", "created")
                };
                ctx.event(
                    obj.as_ref(),
                    EventType::Normal,
                    reason,
                    "Create",
                    format!("mail server domain {domain} {verb}"),
                )
                .await;
                observation.facts.server = ServerDomain::Ours {
                    id: created.id.clone(),
                };
                // the records are known now: check them at once
                let zone = ctx.mail.dns_records(&created.id).await?;
                observation.mail = Some(mail_status(&ctx, &created.id).await?);
                let expected =
                    plan::expected_records(&domain, &token, &zone, obj.spec.dmarc_policy);
                check(&ctx, &mut observation, expected).await;
            }
        }
    }
    let requeue = next_check(&ctx, &observation, &old);
    let expected = std::mem::take(&mut observation.expected);
    let checked = observation.checked;
    finish(
        &ctx,
        &obj,
        old,
        observation.mail,
        observation.facts,
        expected,
        checked,
    )
    .await?;
    Ok(requeue)
}

/// DNS (when due) and the Stalwart domain (once ownership is proven).
async fn observe(
    ctx: &Context,
    obj: &MailDomain,
    old: &MailDomainStatus,
    mut facts: Facts,
    token: &str,
) -> Result<Observation, ReconcileError> {
    let domain = facts.domain.clone();
    let ownership = plan::ownership_record(&domain, token);
    let recheck = obj.annotations().get(ANNOTATION_RECHECK).cloned();
    let recheck_requested = recheck.is_some() && recheck != old.observed_recheck;
    let previous: Vec<ExpectedRecord> = old
        .dns_records
        .iter()
        .map(|r| ExpectedRecord {
            record_type: match r.type_ {
                dezky_crds::maildomain::DnsRecordType::MX => crate::upstream::dns::RecordType::Mx,
                dezky_crds::maildomain::DnsRecordType::CNAME => {
                    crate::upstream::dns::RecordType::Cname
                }
                dezky_crds::maildomain::DnsRecordType::TXT => crate::upstream::dns::RecordType::Txt,
            },
            name: r.name.clone(),
            value: r.value.clone(),
        })
        .collect();
    let previous_states: Vec<Option<RecordState>> = old
        .dns_records
        .iter()
        .map(|r| state_of(r.state, r.observed.as_ref()))
        .collect();
    let all_verified = !previous_states.is_empty()
        && previous_states
            .iter()
            .all(|s| matches!(s, Some(RecordState::Verified)));
    let state_age = old
        .conditions
        .iter()
        .find(|c| c.type_ == dezky_crds::condition::types::DNS_VERIFIED)
        .map(|c| seconds_since(&c.last_transition_time))
        .unwrap_or_default();
    let interval = plan::check_interval(all_verified, state_age);
    let since_last = old.last_checked_time.as_ref().map(seconds_since);
    let ownership_changed = previous.first() != Some(&ownership);
    let generation_changed = old.observed_generation != obj.metadata.generation;
    let due = plan::check_due(
        since_last,
        recheck_requested,
        ownership_changed || generation_changed,
        interval,
    );

    let mut observation = Observation {
        facts: Facts { ..facts.clone() },
        expected: previous.clone(),
        checked: false,
        mail: old.mail.clone(),
    };
    if due.is_some() {
        // ownership first; the mail records once the domain exists on the mail server
        let mut expected = vec![ownership.clone()];
        let ownership_state = ctx.dns.check(&ownership).await;
        if matches!(ownership_state, Ok(RecordState::Verified)) {
            facts.ownership_verified = true;
            observation.facts.ownership_verified = true;
            let server = observe_server(ctx, obj).await?;
            if let ServerDomain::Ours { id } = &server {
                let zone: Vec<MailDnsRecord> = ctx.mail.dns_records(id).await?;
                expected = plan::expected_records(&domain, token, &zone, obj.spec.dmarc_policy);
                if old.mail.is_none() {
                    observation.mail = Some(mail_status(ctx, id).await?);
                }
            }
            observation.facts.server = server;
        }
        check(ctx, &mut observation, expected).await;
        if let Err(error) = ownership_state {
            observation.facts.dns_failure = Some(error.to_string());
        }
    } else {
        observation.facts.record_states = previous_states.clone();
        observation.facts.ownership_verified =
            matches!(previous_states.first(), Some(Some(RecordState::Verified)));
        if observation.facts.ownership_verified {
            observation.facts.server = observe_server(ctx, obj).await?;
            if let ServerDomain::Ours { id } = &observation.facts.server
                && old.mail.as_ref().and_then(|m| m.domain_id.as_ref()) != Some(id)
            {
                observation.mail = Some(mail_status(ctx, id).await?);
            }
        }
    }
    Ok(observation)
}

/// Checks `expected` through the resolver and records the states (or the failure).
async fn check(ctx: &Context, observation: &mut Observation, expected: Vec<ExpectedRecord>) {
    match ctx.dns.check_all(&expected).await {
        Ok(results) => {
            observation.facts.record_states = results.into_iter().map(|r| Some(r.state)).collect();
            observation.facts.ownership_verified = matches!(
                observation.facts.record_states.first(),
                Some(Some(RecordState::Verified))
            );
            observation.facts.dns_failure = None;
        }
        Err(error) => {
            observation.facts.dns_failure = Some(error.to_string());
            observation.facts.record_states = vec![None; expected.len()];
        }
    }
    observation.expected = expected;
    observation.checked = true;
}

async fn observe_server(ctx: &Context, obj: &MailDomain) -> Result<ServerDomain, ReconcileError> {
    let marker = ctx.marker(obj);
    Ok(match ctx.mail.find_domain(&obj.spec.domain).await? {
        None => ServerDomain::Missing,
        Some(found) => match marker.classify(found.marker()) {
            Ownership::Ours => ServerDomain::Ours { id: found.id },
            Ownership::Unmarked => ServerDomain::Unmarked,
            Ownership::Foreign => ServerDomain::Foreign,
        },
    })
}

/// The domain id and its active DKIM selector and algorithm.
async fn mail_status(ctx: &Context, domain_id: &str) -> Result<MailServerDomain, ReconcileError> {
    let keys = ctx.mail.list_dkim_keys(domain_id).await?;
    let key = keys
        .iter()
        .find(|k| k.stage == "active")
        .or_else(|| keys.first());
    Ok(MailServerDomain {
        domain_id: Some(domain_id.to_string()),
        dkim_selector: key.map(|k| k.selector.clone()),
        dkim_algorithm: key.map(|k| k.algorithm.clone()),
    })
}

/// When to look again: the next scheduled DNS check, or the resync, whichever comes first.
fn next_check(ctx: &Context, observation: &Observation, old: &MailDomainStatus) -> Action {
    let states = &observation.facts.record_states;
    let all_verified = !states.is_empty()
        && states
            .iter()
            .all(|s| matches!(s, Some(RecordState::Verified)));
    let age = if observation.checked {
        Duration::ZERO
    } else {
        old.last_checked_time
            .as_ref()
            .map(seconds_since)
            .unwrap_or_default()
    };
    let state_age = old
        .conditions
        .iter()
        .find(|c| c.type_ == dezky_crds::condition::types::DNS_VERIFIED)
        .map(|c| seconds_since(&c.last_transition_time))
        .unwrap_or_default();
    let wait = plan::check_interval(all_verified, state_age).saturating_sub(age);
    if wait < ctx.resync_interval() {
        Action::requeue(wait.max(Duration::from_secs(1)))
    } else {
        ctx.resync()
    }
}

/// Writes the status this pass computed (unchanged statuses are not written).
async fn finish(
    ctx: &Context,
    obj: &MailDomain,
    old: MailDomainStatus,
    mail: Option<MailServerDomain>,
    facts: Facts,
    expected: Vec<ExpectedRecord>,
    checked: bool,
) -> Result<Action, ReconcileError> {
    let planned = plan::plan(&facts);
    let mut status = old.clone();
    status.observed_generation = obj.metadata.generation;
    if facts.tenant != TenantFact::Missing && facts.claimed_by.is_none() {
        status.mail = mail;
        status.dns_records = expected
            .iter()
            .zip(facts.record_states.iter().chain(std::iter::repeat(&None)))
            .map(|(e, s)| plan::status_record(e, s.as_ref()))
            .collect();
        if checked {
            status.last_checked_time = Some(runtime::reconcile::now());
            status.observed_recheck = obj.annotations().get(ANNOTATION_RECHECK).cloned();
        }
    }
    let mut conditions = std::mem::take(&mut status.conditions);
    runtime::settle_conditions(
        &mut conditions,
        planned.verdicts,
        &plan::REQUIRED,
        planned.ready_override,
        None,
        obj.metadata.generation,
    );
    status.conditions = conditions;
    let was_verified = scope::ownership_verified(obj);
    runtime::write_status(ctx, &field_manager(NAME), obj, &status).await?;
    if facts.ownership_verified && !was_verified {
        ctx.event(
            obj,
            EventType::Normal,
            "OwnershipVerified",
            "Verify",
            format!("ownership of {} verified", facts.domain),
        )
        .await;
    }
    Ok(ctx.resync())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_states_round_trip_through_the_status() {
        assert_eq!(
            state_of(DnsRecordState::Verified, None),
            Some(RecordState::Verified)
        );
        assert_eq!(state_of(DnsRecordState::Pending, None), None);
        assert_eq!(
            state_of(DnsRecordState::Mismatch, Some(&"x".to_string())),
            Some(RecordState::Mismatch {
                observed: "x".into()
            })
        );
    }
}
