//! Lookups, OAuth2 providers, applications and policy bindings of the Authentik client.

use serde_json::{Map, Value, json};

use super::client::{AuthentikClient, is_key_clash, not_found};
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
    if let Some(provider) = c.provider_by("name", &marker.key()).await? {
        return Ok(Observed::Ours(provider));
    }
    Ok(match c.provider_by("client_id", client_id).await? {
        None => Observed::Missing,
        Some(provider) => {
            let name = provider.name.clone();
            Observed::classify(marker, Some(&name), provider)
        }
    })
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
            Ok(provider) => return Ok(provider),
            Err(e) if is_key_clash(&e, "name") || is_key_clash(&e, "client_id") => {
                c.observe_provider(&spec.client_id, marker).await?
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
            c.send_body("provider.adopt", req, &body).await
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
    Ok(Some(
        c.send_body("provider.update", req, &Value::Object(body))
            .await?,
    ))
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
        Ok(_) => Ok(()),
        Err(e) if e.category() == ErrorCategory::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn observe_application(
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
            let publisher = app.meta_publisher.clone();
            Ok(Observed::classify(marker, Some(&publisher), app))
        }
        Err(e) if not_found(&e) => Ok(Observed::Missing),
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
            Ok(app) => return Ok(app),
            Err(e) if is_key_clash(&e, "slug") => c.observe_application(&spec.slug, marker).await?,
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
            c.send_body("application.adopt", req, &body).await
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
    Ok(Some(
        c.send_body("application.update", req, &Value::Object(body))
            .await?,
    ))
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
        Ok(_) => Ok(()),
        Err(e) if e.category() == ErrorCategory::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn list_bindings(
    c: &AuthentikClient,
    app_pk: &str,
) -> Result<Vec<BindingObs>, IdentityError> {
    c.all_pages(
        "binding.list",
        RequestSpec::get("policies/bindings/").query("target", app_pk),
    )
    .await
}

pub(super) async fn ensure_group_binding(
    c: &AuthentikClient,
    app_pk: &str,
    group_pk: &str,
) -> Result<BindingObs, IdentityError> {
    // there is no `group` filter and no uniqueness for group bindings: dedupe client-side
    let bindings = c.list_bindings(app_pk).await?;
    if let Some(existing) = bindings
        .into_iter()
        .find(|b| b.group.as_deref() == Some(group_pk))
    {
        return Ok(existing);
    }
    let body = json!({
        "target": app_pk, "group": group_pk, "order": 0, "enabled": true,
        "negate": false, "timeout": 30, "failure_result": false,
    });
    c.send_body(
        "binding.create",
        RequestSpec::post("policies/bindings/"),
        &body,
    )
    .await
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
        Ok(_) => Ok(()),
        Err(e) if e.category() == ErrorCategory::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}
