//! The SsoApp controller: an Authentik OAuth2 provider (flows, signing key, scope mappings by the
//! app's scopes, strict redirect URIs), its application (slug `<tenant>-<name>`, created without a
//! provider, bound to the tenant group, then attached, so it is never open to everyone), and the
//! Secret `ssoapp-<name>-credentials` (client_id, client_secret, issuer, discovery_url) owned by
//! the SsoApp. The client secret is only in that Secret and upstream.

pub mod plan;

use std::collections::BTreeMap;
use std::sync::Arc;

use dezky_crds::ssoapp::SsoAppIdentity;
use dezky_crds::{DeletionPolicy, SecretRef, SsoApp, SsoAppStatus, Tenant};
use futures::future::BoxFuture;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use self::plan::{Facts, Found, Step};
use super::member::scope::{self, Owner};
use super::{controller_config, drain, field_manager};
use crate::runtime::{self, Context, ReconcileError};
use crate::upstream::authentik::{
    ApplicationObs, ApplicationSpec, IdentityClient, Lookups, Observed, ProviderObs, ProviderSpec,
};
use crate::upstream::marker::Marker;

/// The controller's name in metrics; its field manager is `dezky-ssoapp`.
pub const NAME: &str = "ssoapp";
/// How long access tokens live.
const ACCESS_TOKEN_VALIDITY: &str = "minutes=10";

/// The credentials Secret of an SsoApp.
pub fn credentials_secret_name(app: &str) -> String {
    format!("ssoapp-{app}-credentials")
}

/// Builds and runs the SsoApp controller; a Tenant's change wakes the SsoApps of its namespace.
pub fn controller(ctx: Arc<Context>) -> BoxFuture<'static, ()> {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<SsoApp>::all(client.clone()),
        watcher::Config::default(),
    )
    .with_config(controller_config(&ctx))
    .graceful_shutdown_on(ctx.shutdown_signal());
    let store = controller.store();
    let controller = controller.watches(
        Api::<Tenant>::all(client),
        watcher::Config::default(),
        move |t: Tenant| {
            let namespace = super::maildomain::tenant_namespace(&t);
            store
                .state()
                .iter()
                .filter(|a| a.namespace().as_deref() == Some(namespace.as_str()))
                .map(|a| ObjectRef::from_obj(a.as_ref()))
                .collect::<Vec<_>>()
        },
    );
    Box::pin(async move {
        let stream = controller.run(
            |obj, ctx| runtime::reconcile(ctx, NAME, obj, apply_recording, cleanup),
            runtime::policy_for::<SsoApp>(NAME),
            ctx,
        );
        drain(NAME, stream).await;
    })
}

fn provider_spec(app: &SsoApp, slug: &str) -> ProviderSpec {
    ProviderSpec {
        client_id: slug.to_string(),
        client_type: plan::client_type(&app.spec).into(),
        redirect_uris: plan::redirect_uris(&app.spec),
        scopes: plan::scope_names(&app.spec.scopes),
        grant_types: plan::grant_types(&app.spec),
        access_token_validity: ACCESS_TOKEN_VALIDITY.into(),
    }
}

fn provider_drifted(current: &ProviderObs, spec: &ProviderSpec, lookups: &Lookups) -> bool {
    let mut have = current.property_mappings.clone();
    have.sort();
    let mut want: Vec<String> = spec
        .scopes
        .iter()
        .filter_map(|s| lookups.scope_mappings.get(s).cloned())
        .collect();
    want.sort();
    let mut grants = current.grant_types.clone();
    grants.sort();
    let mut want_grants = spec.grant_types.clone();
    want_grants.sort();
    current.client_type != spec.client_type
        || current.client_id != spec.client_id
        || current.redirect_uris != spec.redirect_uris
        || grants != want_grants
        || current.access_token_validity != spec.access_token_validity
        || current.authorization_flow.as_deref() != Some(lookups.authorization_flow.as_str())
        || current.invalidation_flow.as_deref() != Some(lookups.invalidation_flow.as_str())
        || current.signing_key.as_deref() != Some(lookups.signing_key.as_str())
        || have != want
}

fn application_spec(app: &SsoApp, slug: &str, provider: Option<i64>) -> ApplicationSpec {
    ApplicationSpec {
        slug: slug.to_string(),
        name: app.spec.display_name.clone(),
        launch_url: app.spec.launch_url.clone().unwrap_or_default(),
        provider,
    }
}

fn classify<T>(observed: Observed<T>, drifted: impl Fn(&T) -> bool) -> (Found, Option<T>) {
    match observed {
        Observed::Missing => (Found::Missing, None),
        Observed::Ours(t) => (
            Found::Ours {
                drifted: drifted(&t),
            },
            Some(t),
        ),
        Observed::Unmarked(t) => (Found::Unmarked, Some(t)),
        Observed::Foreign(_) => (Found::Foreign, None),
    }
}

/// The Secret's wanted content.
fn secret_data(app: &SsoApp, provider: &ProviderObs, issuer: &str) -> BTreeMap<String, String> {
    let mut data = BTreeMap::from([
        ("client_id".to_string(), provider.client_id.clone()),
        ("issuer".to_string(), issuer.to_string()),
        ("discovery_url".to_string(), plan::discovery_url(issuer)),
    ]);
    if app.spec.client_type == dezky_crds::ssoapp::ClientType::Confidential {
        data.insert(
            "client_secret".into(),
            provider.client_secret.expose().to_string(),
        );
    }
    data
}

async fn read_secret(
    ctx: &Context,
    app: &SsoApp,
) -> Result<Option<BTreeMap<String, String>>, ReconcileError> {
    let api: Api<KubeSecret> =
        Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let secret = api
        .get_opt(&credentials_secret_name(&app.name_any()))
        .await
        .map_err(|source| ReconcileError::Kube {
            action: "read the credentials Secret",
            source,
        })?;
    Ok(secret.map(|s| {
        s.data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect()
    }))
}

async fn write_secret(
    ctx: &Context,
    app: &SsoApp,
    data: &BTreeMap<String, String>,
) -> Result<(), ReconcileError> {
    let name = credentials_secret_name(&app.name_any());
    let api: Api<KubeSecret> =
        Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let secret = KubeSecret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "dezky-operator".to_string(),
            )])),
            owner_references: app.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                .collect(),
        ),
        ..KubeSecret::default()
    };
    let mut value = serde_json::to_value(&secret).map_err(|e| {
        ReconcileError::Invalid(format!("failed to encode the credentials Secret: {e}"))
    })?;
    value["apiVersion"] = serde_json::json!("v1");
    value["kind"] = serde_json::json!("Secret");
    api.patch(
        &name,
        &PatchParams::apply(&field_manager(NAME)).force(),
        &Patch::Apply(&value),
    )
    .await
    .map_err(|source| ReconcileError::Kube {
        action: "write the credentials Secret",
        source,
    })?;
    Ok(())
}

/// [`apply`], and on failure `IdentityReady` (naming the upstream and the reason) and `Stalled`
/// for errors retrying cannot fix, before the error goes to the requeue policy.
async fn apply_recording(obj: Arc<SsoApp>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    use dezky_crds::condition::types;
    let result = apply(obj.clone(), ctx.clone()).await;
    if let Err(error) = &result {
        let mut status = obj.status.clone().unwrap_or_default();
        let mut conditions = std::mem::take(&mut status.conditions);
        let (parts, ready) = if error.upstream() == "authentik" {
            (vec![error.verdict(types::IDENTITY_READY)], None)
        } else {
            (Vec::new(), Some(error.verdict(types::READY)))
        };
        runtime::settle_conditions(
            &mut conditions,
            parts,
            &[types::IDENTITY_READY],
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

async fn apply(obj: Arc<SsoApp>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let namespace = obj.namespace().unwrap_or_default();
    let marker = ctx.marker(obj.as_ref());
    let mut facts = Facts {
        tenant: None,
        allow_adoption: false,
        adopt_annotation: Context::wants_adoption(obj.as_ref()),
        paused: Context::is_paused(obj.as_ref()),
        group_pk: None,
        provider: Found::Missing,
        application: Found::Missing,
        provider_attached: false,
        group_bound: false,
        other_bindings: Vec::new(),
        secret_current: false,
    };
    let Owner::Tenant(tenant) = scope::owner(&ctx, &namespace).await? else {
        return finish(&ctx, &obj, &facts, None).await;
    };
    let tenant_name = tenant.name_any();
    facts.tenant = Some(tenant_name.clone());
    facts.allow_adoption = tenant.spec.allow_adoption;
    let group_name = format!("tenant-{tenant_name}");
    facts.group_pk = match tenant
        .status
        .as_ref()
        .and_then(|s| s.identity.as_ref())
        .and_then(|i| i.group_pk.clone())
    {
        Some(pk) => Some(pk),
        None => scope::group_pks(&ctx, std::slice::from_ref(&group_name))
            .await?
            .remove(&group_name),
    };
    let Some(group_pk) = facts.group_pk.clone() else {
        return finish(&ctx, &obj, &facts, None).await;
    };

    // observe
    let slug = plan::application_slug(&tenant_name, &obj.name_any());
    let issuer = plan::issuer(&ctx.config.upstreams.authentik.url, &slug);
    let lookups = ctx.identity.lookups().await?;
    let pspec = provider_spec(&obj, &slug);
    let (found, mut provider) =
        classify(ctx.identity.observe_provider(&slug, &marker).await?, |p| {
            provider_drifted(p, &pspec, &lookups)
        });
    facts.provider = found;
    let (found, mut application) = classify(
        ctx.identity.observe_application(&slug, &marker).await?,
        |a| {
            a.name != obj.spec.display_name
                || a.meta_launch_url != obj.spec.launch_url.clone().unwrap_or_default()
        },
    );
    facts.application = found;
    let mut binding_pk = None;
    if let (Some(app), Found::Ours { .. }) = (&application, &facts.application) {
        facts.provider_attached = provider
            .as_ref()
            .is_some_and(|p| app.provider == Some(p.pk));
        for binding in ctx.identity.list_bindings(&app.pk).await? {
            if binding.group.as_deref() == Some(group_pk.as_str()) && binding_pk.is_none() {
                facts.group_bound = true;
                binding_pk = Some(binding.pk);
            } else {
                facts.other_bindings.push(binding.pk);
            }
        }
    }
    let existing = read_secret(&ctx, &obj).await?;
    facts.secret_current = match (&provider, &existing) {
        (Some(p), Some(data)) => *data == secret_data(&obj, p, &issuer),
        _ => false,
    };

    // apply
    let steps = plan::plan(&facts).steps;
    let mut work = Work {
        slug,
        issuer: issuer.clone(),
        group_pk,
        provider: provider.take(),
        application: application.take(),
        binding_pk,
    };
    for step in steps {
        apply_step(&ctx, &obj, &marker, step, &mut facts, &mut work).await?;
    }
    let identity = SsoAppIdentity {
        provider_pk: work.provider.as_ref().map(|p| p.pk),
        application_slug: work.application.as_ref().map(|a| a.slug.clone()),
        binding_pk: work.binding_pk,
    };
    let client_id = work.provider.as_ref().map(|p| p.client_id.clone());
    finish(&ctx, &obj, &facts, Some((identity, client_id, issuer))).await
}

/// The upstream objects of one pass, as the steps change them.
struct Work {
    slug: String,
    issuer: String,
    group_pk: String,
    provider: Option<ProviderObs>,
    application: Option<ApplicationObs>,
    binding_pk: Option<String>,
}

async fn apply_step(
    ctx: &Context,
    obj: &SsoApp,
    marker: &Marker,
    step: Step,
    facts: &mut Facts,
    work: &mut Work,
) -> Result<(), ReconcileError> {
    let Work {
        slug,
        issuer,
        group_pk,
        provider,
        application,
        binding_pk,
    } = work;
    let (slug, issuer, group_pk) = (slug.as_str(), issuer.as_str(), group_pk.as_str());
    let pspec = provider_spec(obj, slug);
    match step {
        Step::CreateProvider { adopt } => {
            let created = ctx.identity.create_provider(&pspec, marker, adopt).await?;
            ctx.event(
                obj,
                EventType::Normal,
                if adopt {
                    "ProviderAdopted"
                } else {
                    "ProviderCreated"
                },
                "Create",
                format!("OAuth2 provider {slug} provisioned"),
            )
            .await;
            facts.provider = Found::Ours { drifted: false };
            *provider = Some(created);
        }
        Step::UpdateProvider => {
            if let Some(current) = provider.clone()
                && let Some(updated) = ctx.identity.update_provider(&current, &pspec).await?
            {
                ctx.event(
                    obj,
                    EventType::Normal,
                    "ProviderUpdated",
                    "Update",
                    format!("OAuth2 provider {slug} updated"),
                )
                .await;
                *provider = Some(updated);
            }
            facts.provider = Found::Ours { drifted: false };
        }
        Step::CreateApplication { adopt } => {
            // without a provider first: nobody can sign in before the binding exists
            let keep = if adopt {
                application.as_ref().and_then(|a| a.provider)
            } else {
                None
            };
            let created = ctx
                .identity
                .create_application(&application_spec(obj, slug, keep), marker, adopt)
                .await?;
            ctx.event(
                obj,
                EventType::Normal,
                if adopt {
                    "ApplicationAdopted"
                } else {
                    "ApplicationCreated"
                },
                "Create",
                format!("application {slug} provisioned"),
            )
            .await;
            facts.application = Found::Ours { drifted: false };
            facts.provider_attached = provider
                .as_ref()
                .is_some_and(|p| created.provider == Some(p.pk));
            *application = Some(created);
        }
        Step::UpdateApplication => {
            if let Some(current) = application.clone() {
                let spec = application_spec(obj, slug, current.provider);
                if let Some(updated) = ctx.identity.update_application(&current, &spec).await? {
                    ctx.event(
                        obj,
                        EventType::Normal,
                        "ApplicationUpdated",
                        "Update",
                        format!("application {slug} updated"),
                    )
                    .await;
                    *application = Some(updated);
                }
            }
            facts.application = Found::Ours { drifted: false };
        }
        Step::BindGroup => {
            let Some(app) = application.as_ref() else {
                return Ok(());
            };
            let binding = ctx.identity.ensure_group_binding(&app.pk, group_pk).await?;
            ctx.event(
                obj,
                EventType::Normal,
                "GroupBound",
                "Create",
                format!("application {slug} bound to the tenant group"),
            )
            .await;
            *binding_pk = Some(binding.pk);
            facts.group_bound = true;
        }
        Step::RemoveBinding { pk } => {
            ctx.allow_upstream_delete().await?;
            ctx.identity.delete_binding(&pk).await?;
            ctx.event(
                obj,
                EventType::Normal,
                "BindingRemoved",
                "Delete",
                format!("a policy binding outside the tenant group was removed from {slug}"),
            )
            .await;
            facts.other_bindings.retain(|b| *b != pk);
        }
        Step::AttachProvider => {
            let (Some(app), Some(p)) = (application.clone(), provider.as_ref()) else {
                return Ok(());
            };
            let spec = application_spec(obj, slug, Some(p.pk));
            if let Some(updated) = ctx.identity.update_application(&app, &spec).await? {
                *application = Some(updated);
            }
            ctx.event(
                obj,
                EventType::Normal,
                "ProviderAttached",
                "Update",
                format!("application {slug} is reachable through its provider"),
            )
            .await;
            facts.provider_attached = true;
        }
        Step::WriteSecret => {
            let Some(p) = provider.as_ref() else {
                return Ok(());
            };
            write_secret(ctx, obj, &secret_data(obj, p, issuer)).await?;
            ctx.event(
                obj,
                EventType::Normal,
                "CredentialsWritten",
                "Update",
                format!(
                    "client credentials of {slug} written to {}",
                    credentials_secret_name(&obj.name_any())
                ),
            )
            .await;
            facts.secret_current = true;
        }
    }
    Ok(())
}

async fn finish(
    ctx: &Context,
    obj: &SsoApp,
    facts: &Facts,
    found: Option<(SsoAppIdentity, Option<String>, String)>,
) -> Result<Action, ReconcileError> {
    let planned = plan::plan(facts);
    let old = obj.status.clone().unwrap_or_default();
    let mut status = SsoAppStatus { ..old.clone() };
    status.observed_generation = obj.metadata.generation;
    if let Some((identity, client_id, issuer)) = found {
        status.identity = Some(identity);
        status.client_id = client_id;
        status.issuer = Some(issuer);
        if facts.secret_current {
            status.credentials_secret_ref = Some(SecretRef {
                name: credentials_secret_name(&obj.name_any()),
            });
        }
    }
    let mut conditions = std::mem::take(&mut status.conditions);
    runtime::settle_conditions(
        &mut conditions,
        vec![planned.identity],
        &[dezky_crds::condition::types::IDENTITY_READY],
        planned.ready_override,
        None,
        obj.metadata.generation,
    );
    status.conditions = conditions;
    runtime::write_status(ctx, &field_manager(NAME), obj, &status).await?;
    Ok(ctx.resync())
}

/// Deletion with policy `Delete`: the application (its bindings go with it) and the provider are
/// removed; the Secret goes with the SsoApp through its owner reference.
async fn cleanup(obj: Arc<SsoApp>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    if obj.spec.deletion_policy == DeletionPolicy::Orphan || Context::is_paused(obj.as_ref()) {
        return Ok(Action::await_change());
    }
    if let Some(crd) = ctx.crd_being_deleted().await? {
        tracing::info!(%crd, "a dezky.io CRD is being deleted: the application is orphaned");
        return Ok(Action::await_change());
    }
    let marker = ctx.marker(obj.as_ref());
    let slug = obj
        .status
        .as_ref()
        .and_then(|s| s.identity.as_ref())
        .and_then(|i| i.application_slug.clone());
    let slug = match slug {
        Some(slug) => slug,
        None => match scope::owner(&ctx, &obj.namespace().unwrap_or_default()).await? {
            Owner::Tenant(t) => plan::application_slug(&t.name_any(), &obj.name_any()),
            _ => return Ok(Action::await_change()),
        },
    };
    if let Observed::Ours(app) = ctx.identity.observe_application(&slug, &marker).await? {
        ctx.allow_upstream_delete().await?;
        ctx.identity.delete_application(&app.slug).await?;
        ctx.event(
            obj.as_ref(),
            EventType::Normal,
            "ApplicationDeleted",
            "Delete",
            format!("application {slug} deleted"),
        )
        .await;
    }
    if let Observed::Ours(provider) = ctx.identity.observe_provider(&slug, &marker).await? {
        ctx.allow_upstream_delete().await?;
        ctx.identity.delete_provider(provider.pk).await?;
        ctx.event(
            obj.as_ref(),
            EventType::Normal,
            "ProviderDeleted",
            "Delete",
            format!("OAuth2 provider {slug} deleted"),
        )
        .await;
    }
    Ok(Action::await_change())
}
