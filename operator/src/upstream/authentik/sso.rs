//! Lookups, OAuth2 providers, applications and policy bindings of the Authentik client.

use serde_json::{Map, Value, json};

use super::client::{AuthentikClient, is_key_clash, not_found};
use super::snapshots::{by_client_id, by_name, by_target};
use super::{
    ApplicationObs, ApplicationSpec, BindingObs, IdentityClient, IdentityError, Lookups, Observed,
    ProviderObs, ProviderSpec,
};
use crate::upstream::http::{ErrorCategory, RequestSpec};
use crate::upstream::marker::Marker;

pub(super) async fn lookups(c: &AuthentikClient) -> Result<Lookups, IdentityError> {
    c.lookups
        .get_or_try_init(|| c.load_lookups())
        .await
        .cloned()
}

pub(super) async fn observe_provider(
    c: &AuthentikClient,
    client_id: &str,
    marker: &Marker,
) -> Result<Observed<ProviderObs>, IdentityError> {
    let providers = c.provider_snapshot().await?;
    if let Some(provider) = providers.find_one(&by_name(&marker.key())) {
        return Ok(Observed::Ours(provider));
    }
    Ok(match providers.find_one(&by_client_id(client_id)) {
        None => Observed::Missing,
        Some(provider) => {
            let name = provider.name.clone();
            Observed::classify(marker, Some(&name), provider)
        }
    })
}

/// The provider named by the marker, or with this client id, read live (after a create found
/// the snapshot stale); what is found replaces the snapshot's entry.
async fn observe_provider_live(
    c: &AuthentikClient,
    client_id: &str,
    marker: &Marker,
) -> Result<Observed<ProviderObs>, IdentityError> {
    let found = match c.provider_by("name", &marker.key()).await? {
        Some(provider) => Some(provider),
        None => c.provider_by("client_id", client_id).await?,
    };
    Ok(match found {
        None => Observed::Missing,
        Some(provider) => {
            c.snapshots.providers.put(provider.clone());
            let name = provider.name.clone();
            Observed::classify(marker, Some(&name), provider)
        }
    })
}

/// Puts a written provider into the snapshot; a provider found gone leaves it.
fn keep_provider(
    c: &AuthentikClient,
    pk: Option<i64>,
    written: Result<ProviderObs, IdentityError>,
) -> Result<ProviderObs, IdentityError> {
    match (&written, pk) {
        (Ok(provider), _) => c.snapshots.providers.put(provider.clone()),
        (Err(e), Some(pk)) if not_found(e) => c.snapshots.providers.remove(&pk.to_string()),
        _ => {}
    }
    written
}

/// Puts a written application into the snapshot (and which provider it is assigned to); an
/// application found gone leaves it.
fn keep_application(
    c: &AuthentikClient,
    slug: &str,
    written: Result<ApplicationObs, IdentityError>,
) -> Result<ApplicationObs, IdentityError> {
    match &written {
        Ok(app) => {
            c.snapshots.applications.put(app.clone());
            assign_provider(c, slug, app.provider);
        }
        Err(e) if not_found(e) => forget_application(c, slug),
        Err(_) => {}
    }
    written
}

/// Takes a gone provider out; applications that used it have none (Authentik sets it null).
fn forget_provider(c: &AuthentikClient, pk: i64) {
    c.snapshots.providers.remove(&pk.to_string());
    let applications = &c.snapshots.applications;
    for app in applications.all() {
        if app.provider == Some(pk) {
            applications.modify(&app.slug, |a| a.provider = None);
        }
    }
}

/// Records that the application `slug` uses `provider` (and no other provider any more).
fn assign_provider(c: &AuthentikClient, slug: &str, provider: Option<i64>) {
    let providers = &c.snapshots.providers;
    for held in providers.all() {
        let assigned = held.assigned_application_slug.as_deref() == Some(slug);
        if assigned && Some(held.pk) != provider {
            providers.modify(&held.pk.to_string(), |p| p.assigned_application_slug = None);
        }
    }
    if let Some(pk) = provider {
        providers.modify(&pk.to_string(), |p| {
            p.assigned_application_slug = Some(slug.to_owned());
        });
    }
}

/// Takes a gone application out, with its bindings (Authentik deletes them with it) and its
/// provider assignment.
fn forget_application(c: &AuthentikClient, slug: &str) {
    if let Some(app) = c.snapshots.applications.get(slug) {
        for binding in c.snapshots.bindings.find(&by_target(&app.pk)) {
            c.snapshots.bindings.remove(&binding.pk);
        }
    }
    assign_provider(c, slug, None);
    c.snapshots.applications.remove(slug);
}

pub(super) async fn create_provider(
    c: &AuthentikClient,
    spec: &ProviderSpec,
    marker: &Marker,
    adopt: bool,
) -> Result<ProviderObs, IdentityError> {
    let lookups = c.lookups().await?;
    let mut body = c.provider_body(spec, &lookups)?;
    body["name"] = json!(marker.key());
    let existing = match c.observe_provider(&spec.client_id, marker).await? {
        Observed::Missing => match c
            .send_body(
                "provider.create",
                RequestSpec::post("providers/oauth2/"),
                &body,
            )
            .await
        {
            Ok(provider) => return keep_provider(c, None, Ok(provider)),
            Err(e) if is_key_clash(&e, "name") || is_key_clash(&e, "client_id") => {
                observe_provider_live(c, &spec.client_id, marker).await?
            }
            Err(e) => return Err(e),
        },
        other => other,
    };
    match existing {
        Observed::Ours(provider) => Ok(provider),
        Observed::Foreign(_) => Err(IdentityError::NameTaken {
            kind: "OAuth2 provider",
            name: spec.client_id.clone(),
        }),
        Observed::Unmarked(provider) if adopt => {
            let req = RequestSpec::patch(format!("providers/oauth2/{}/", provider.pk));
            let adopted = c.send_body("provider.adopt", req, &body).await;
            keep_provider(c, Some(provider.pk), adopted)
        }
        Observed::Unmarked(_) => Err(IdentityError::AdoptionRequired {
            kind: "OAuth2 provider",
            name: spec.client_id.clone(),
        }),
        Observed::Missing => Err(IdentityError::LookupMissing {
            what: "OAuth2 provider",
            name: spec.client_id.clone(),
        }),
    }
}

pub(super) async fn update_provider(
    c: &AuthentikClient,
    current: &ProviderObs,
    spec: &ProviderSpec,
) -> Result<Option<ProviderObs>, IdentityError> {
    let lookups = c.lookups().await?;
    let wanted = c.provider_body(spec, &lookups)?;
    let mut body = Map::new();
    let mut differs = |field: &str, now: Value| {
        if wanted[field] != now {
            body.insert(field.to_owned(), wanted[field].clone());
        }
    };
    differs("client_type", json!(current.client_type));
    differs("client_id", json!(current.client_id));
    differs("redirect_uris", json!(current.redirect_uris));
    differs("authorization_flow", json!(current.authorization_flow));
    differs("invalidation_flow", json!(current.invalidation_flow));
    differs("signing_key", json!(current.signing_key));
    differs("grant_types", json!(current.grant_types));
    differs(
        "access_token_validity",
        json!(current.access_token_validity),
    );
    let mut have = current.property_mappings.clone();
    have.sort();
    let mut want: Vec<String> = wanted["property_mappings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    want.sort();
    if have != want {
        body.insert(
            "property_mappings".into(),
            wanted["property_mappings"].clone(),
        );
    }
    if body.is_empty() {
        return Ok(None);
    }
    let req = RequestSpec::patch(format!("providers/oauth2/{}/", current.pk));
    let updated = c
        .send_body("provider.update", req, &Value::Object(body))
        .await;
    keep_provider(c, Some(current.pk), updated).map(Some)
}

pub(super) async fn delete_provider(c: &AuthentikClient, pk: i64) -> Result<(), IdentityError> {
    match c
        .http
        .send(
            "provider.delete",
            RequestSpec::delete(format!("providers/oauth2/{pk}/")),
        )
        .await
    {
        Ok(_) => {
            forget_provider(c, pk);
            Ok(())
        }
        Err(e) if e.category() == ErrorCategory::NotFound => {
            forget_provider(c, pk);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn observe_application(
    c: &AuthentikClient,
    slug: &str,
    marker: &Marker,
) -> Result<Observed<ApplicationObs>, IdentityError> {
    Ok(match c.application_snapshot().await?.get(slug) {
        Some(app) => {
            let publisher = app.meta_publisher.clone();
            Observed::classify(marker, Some(&publisher), app)
        }
        None => Observed::Missing,
    })
}

/// The application with this slug, read live (the detail route is not access-filtered);
/// what is found replaces the snapshot's entry.
async fn observe_application_live(
    c: &AuthentikClient,
    slug: &str,
    marker: &Marker,
) -> Result<Observed<ApplicationObs>, IdentityError> {
    match c
        .json::<ApplicationObs>(
            "application.get",
            RequestSpec::get(format!("core/applications/{slug}/")),
        )
        .await
    {
        Ok(app) => {
            c.snapshots.applications.put(app.clone());
            let publisher = app.meta_publisher.clone();
            Ok(Observed::classify(marker, Some(&publisher), app))
        }
        Err(e) if not_found(&e) => {
            forget_application(c, slug);
            Ok(Observed::Missing)
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn create_application(
    c: &AuthentikClient,
    spec: &ApplicationSpec,
    marker: &Marker,
    adopt: bool,
) -> Result<ApplicationObs, IdentityError> {
    // the marker lives in `meta_publisher`: applications have no attributes, and it must hold
    // while no provider is attached yet (create, bind, then attach)
    let body = json!({
        "name": spec.name, "slug": spec.slug, "provider": spec.provider,
        "meta_launch_url": spec.launch_url, "meta_publisher": marker.key(),
        "policy_engine_mode": "any", "open_in_new_tab": false,
    });
    let existing = match c.observe_application(&spec.slug, marker).await? {
        Observed::Missing => match c
            .send_body(
                "application.create",
                RequestSpec::post("core/applications/"),
                &body,
            )
            .await
        {
            Ok(app) => return keep_application(c, &spec.slug, Ok(app)),
            Err(e) if is_key_clash(&e, "slug") => {
                observe_application_live(c, &spec.slug, marker).await?
            }
            Err(e) => return Err(e),
        },
        other => other,
    };
    match existing {
        Observed::Ours(app) => Ok(app),
        Observed::Foreign(_) => Err(IdentityError::NameTaken {
            kind: "application",
            name: spec.slug.clone(),
        }),
        Observed::Unmarked(app) if adopt => {
            let req = RequestSpec::patch(format!("core/applications/{}/", app.slug));
            let adopted = c.send_body("application.adopt", req, &body).await;
            keep_application(c, &app.slug, adopted)
        }
        Observed::Unmarked(_) => Err(IdentityError::AdoptionRequired {
            kind: "application",
            name: spec.slug.clone(),
        }),
        Observed::Missing => Err(IdentityError::LookupMissing {
            what: "application",
            name: spec.slug.clone(),
        }),
    }
}

pub(super) async fn update_application(
    c: &AuthentikClient,
    current: &ApplicationObs,
    spec: &ApplicationSpec,
) -> Result<Option<ApplicationObs>, IdentityError> {
    let mut body = Map::new();
    if current.name != spec.name {
        body.insert("name".into(), json!(spec.name));
    }
    if current.meta_launch_url != spec.launch_url {
        body.insert("meta_launch_url".into(), json!(spec.launch_url));
    }
    if current.provider != spec.provider {
        body.insert("provider".into(), json!(spec.provider));
    }
    if body.is_empty() {
        return Ok(None);
    }
    let req = RequestSpec::patch(format!("core/applications/{}/", current.slug));
    let updated = c
        .send_body("application.update", req, &Value::Object(body))
        .await;
    keep_application(c, &current.slug, updated).map(Some)
}

pub(super) async fn delete_application(
    c: &AuthentikClient,
    slug: &str,
) -> Result<(), IdentityError> {
    match c
        .http
        .send(
            "application.delete",
            RequestSpec::delete(format!("core/applications/{slug}/")),
        )
        .await
    {
        Ok(_) => {
            forget_application(c, slug);
            Ok(())
        }
        Err(e) if e.category() == ErrorCategory::NotFound => {
            forget_application(c, slug);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn list_bindings(
    c: &AuthentikClient,
    app_pk: &str,
) -> Result<Vec<BindingObs>, IdentityError> {
    let mut bindings = c.binding_snapshot().await?.find(&by_target(app_pk));
    bindings.sort_by(|a, b| (a.order, &a.pk).cmp(&(b.order, &b.pk)));
    Ok(bindings)
}

pub(super) async fn ensure_group_binding(
    c: &AuthentikClient,
    app_pk: &str,
    group_pk: &str,
) -> Result<BindingObs, IdentityError> {
    // there is no `group` filter and no uniqueness for group bindings: dedupe client-side
    let ours = |bindings: Vec<BindingObs>| {
        bindings
            .into_iter()
            .find(|b| b.group.as_deref() == Some(group_pk))
    };
    if let Some(existing) = ours(c.list_bindings(app_pk).await?) {
        return Ok(existing);
    }
    // nothing prevents a duplicate, so the target's bindings are read live before creating one
    // (a create whose answer was lost is not in the snapshot)
    let live: Vec<BindingObs> = c
        .all_pages(
            "binding.list",
            RequestSpec::get("policies/bindings/").query("target", app_pk),
        )
        .await?;
    for binding in &live {
        c.snapshots.bindings.put(binding.clone());
    }
    if let Some(existing) = ours(live) {
        return Ok(existing);
    }
    let body = json!({
        "target": app_pk, "group": group_pk, "order": 0, "enabled": true,
        "negate": false, "timeout": 30, "failure_result": false,
    });
    let binding: BindingObs = c
        .send_body(
            "binding.create",
            RequestSpec::post("policies/bindings/"),
            &body,
        )
        .await?;
    c.snapshots.bindings.put(binding.clone());
    Ok(binding)
}

pub(super) async fn delete_binding(c: &AuthentikClient, pk: &str) -> Result<(), IdentityError> {
    match c
        .http
        .send(
            "binding.delete",
            RequestSpec::delete(format!("policies/bindings/{pk}/")),
        )
        .await
    {
        Ok(_) => {
            c.snapshots.bindings.remove(pk);
            Ok(())
        }
        Err(e) if e.category() == ErrorCategory::NotFound => {
            c.snapshots.bindings.remove(pk);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
