//! Authentik simulator REST endpoints for OAuth2 providers and the read-only lookups (flows, keypairs, scope mappings).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::AuthentikSim;
use super::model::{Provider, RedirectUri, Store};
use super::users::generate_key;
use super::web::{
    ApiError, ApiResult, Fields, Params, body_object, created, no_content, ok, paginate,
};

async fn list_flows(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let store = sim.store();
    let mut flows: Vec<_> = store
        .flows
        .iter()
        .filter(|f| params.get("slug").is_none_or(|v| f.slug == v))
        .filter(|f| params.get("designation").is_none_or(|v| f.designation == v))
        .filter(|f| params.get("name").is_none_or(|v| f.name == v))
        .collect();
    flows.sort_by(|a, b| a.slug.cmp(&b.slug));
    paginate(&params, flows.into_iter().map(Store::flow_json).collect())
}

async fn get_flow(State(sim): State<AuthentikSim>, Path(slug): Path<String>) -> ApiResult {
    let store = sim.store();
    let flow = store
        .flows
        .iter()
        .find(|f| f.slug == slug)
        .ok_or_else(|| ApiError::not_found("Flow"))?;
    ok(Store::flow_json(flow))
}

async fn list_keypairs(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let kid = sim.keys().get().await.kid.clone();
    let store = sim.store();
    let items = store
        .keypairs
        .iter()
        .filter(|k| params.get("name").is_none_or(|v| k.name == v))
        .filter(|k| {
            params
                .get("managed")
                .is_none_or(|v| k.managed.as_deref() == Some(v))
        })
        .filter(|_| params.get("has_key").is_none_or(|v| v == "true"))
        .map(|k| {
            let mut value = Store::keypair_json(k);
            if k.name == super::SELF_SIGNED_CERTIFICATE {
                value["kid"] = Value::String(kid.clone());
            }
            value
        })
        .collect();
    paginate(&params, items)
}

async fn list_scope_mappings(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let managed = params.all("managed");
    let store = sim.store();
    let items = store
        .scope_mappings
        .iter()
        .filter(|m| managed.is_empty() || managed.contains(&m.managed.as_str()))
        .filter(|m| params.get("scope_name").is_none_or(|v| m.scope_name == v))
        .filter(|m| params.get("name").is_none_or(|v| m.name == v))
        .map(Store::scope_mapping_json)
        .collect();
    paginate(&params, items)
}

async fn list_providers(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let store = sim.store();
    let items = store
        .providers
        .values()
        .filter(|p| params.get("name").is_none_or(|v| p.name == v))
        .filter(|p| params.get("client_id").is_none_or(|v| p.client_id == v))
        .filter(|p| params.get("client_type").is_none_or(|v| p.client_type == v))
        .filter(|p| {
            params.get("application").is_none_or(|v| {
                store
                    .application_of_provider(p.pk)
                    .is_some_and(|a| a.pk.to_string() == v)
            })
        })
        .map(|p| store.provider_json(p))
        .collect();
    paginate(&params, items)
}

const SUB_MODES: [&str; 6] = [
    "hashed_user_id",
    "user_id",
    "user_uuid",
    "user_username",
    "user_email",
    "user_upn",
];

const GRANT_TYPES: [&str; 7] = [
    "authorization_code",
    "implicit",
    "hybrid",
    "refresh_token",
    "client_credentials",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
];

fn provider_input(
    store: &Store,
    body: &Map<String, Value>,
    partial: bool,
    existing: Option<&Provider>,
) -> Result<Provider, ApiError> {
    let mut f = Fields::new(body, partial);
    let this = existing.map(|p| p.pk);
    let name = f.string("name", true, false);
    if let Some(name) = &name
        && store
            .providers
            .values()
            .any(|p| p.name == *name && Some(p.pk) != this)
    {
        f.error("name", "Provider with this name already exists.");
    }
    let flow_ref = |f: &mut Fields, field: &str| match f.nullable(field) {
        Some(Some(v)) => f.uuid_ref(field, v, |id| store.flows.iter().any(|fl| fl.uuid == *id)),
        Some(None) => {
            f.error(field, "This field may not be null.");
            None
        }
        None => {
            if !partial {
                f.error(field, "This field is required.");
            }
            None
        }
    };
    let authorization_flow = flow_ref(&mut f, "authorization_flow");
    let invalidation_flow = flow_ref(&mut f, "invalidation_flow");
    let property_mappings = f.list("property_mappings", false).map(|items| {
        items
            .iter()
            .filter_map(|v| {
                f.uuid_ref("property_mappings", v, |id| {
                    store.scope_mappings.iter().any(|m| m.uuid == *id)
                })
            })
            .collect::<Vec<_>>()
    });
    let client_type = f.choice("client_type", &["confidential", "public"]);
    let client_id = f.string("client_id", false, false);
    if let Some(client_id) = &client_id {
        if client_id.chars().count() > 255 {
            f.error(
                "client_id",
                "Ensure this field has no more than 255 characters.",
            );
        }
        if store
            .providers
            .values()
            .any(|p| p.client_id == *client_id && Some(p.pk) != this)
        {
            f.error(
                "client_id",
                "OAuth2/OpenID Provider with this Client ID already exists.",
            );
        }
    }
    let client_secret = f.string("client_secret", false, true);
    let redirect_uris = f.list("redirect_uris", true).map(|items| {
        let mut uris = Vec::new();
        for item in &items {
            let Some(obj) = item.as_object() else {
                f.error("redirect_uris", "Expected a dictionary of items.");
                continue;
            };
            let mode = obj.get("matching_mode").and_then(Value::as_str);
            let url = obj.get("url").and_then(Value::as_str);
            let kind = obj
                .get("redirect_uri_type")
                .and_then(Value::as_str)
                .unwrap_or("authorization");
            match (mode, url) {
                (Some(mode @ ("strict" | "regex")), Some(url)) => {
                    if mode == "regex" && regex::Regex::new(url).is_err() {
                        f.error(
                            "redirect_uris",
                            format!("Invalid regular expression: {url}"),
                        );
                    }
                    uris.push(RedirectUri {
                        matching_mode: mode.into(),
                        url: url.into(),
                        redirect_uri_type: kind.into(),
                    });
                }
                (Some(_), Some(_)) => {
                    f.error("redirect_uris", "matching_mode: not a valid choice.")
                }
                _ => f.error("redirect_uris", "matching_mode and url are required."),
            }
        }
        uris
    });
    let signing_key = match f.nullable("signing_key") {
        Some(Some(v)) => f
            .uuid_ref("signing_key", v, |id| {
                store.keypairs.iter().any(|k| k.uuid == *id)
            })
            .map(Some),
        Some(None) => Some(None),
        None => None,
    };
    let sub_mode = f.choice("sub_mode", &SUB_MODES);
    let issuer_mode = f.choice("issuer_mode", &["global", "per_provider"]);
    let include_claims = f.boolean("include_claims_in_id_token");
    let validity = |f: &mut Fields, field: &str| {
        let value = f.string(field, false, false)?;
        if value.split(';').all(|part| {
            part.split_once('=')
                .is_some_and(|(_, n)| n.trim().parse::<f64>().is_ok())
        }) {
            Some(value)
        } else {
            f.error(field, "Invalid duration format.");
            None
        }
    };
    let access_code_validity = validity(&mut f, "access_code_validity");
    let access_token_validity = validity(&mut f, "access_token_validity");
    let refresh_token_validity = validity(&mut f, "refresh_token_validity");
    let grant_types = f.list("grant_types", false).map(|items| {
        items
            .iter()
            .filter_map(|v| match v.as_str() {
                Some(g)
                    if GRANT_TYPES.contains(&g)
                        || g == "urn:ietf:params:oauth:grant-type:token-exchange" =>
                {
                    Some(g.to_owned())
                }
                _ => {
                    f.error("grant_types", format!("\"{v}\" is not a valid choice."));
                    None
                }
            })
            .collect::<Vec<_>>()
    });
    let logout_uri = f.string("logout_uri", false, true);
    let logout_method = f.choice("logout_method", &["backchannel", "frontchannel"]);
    f.finish()?;

    let base = existing.cloned().unwrap_or_else(|| Provider {
        pk: 0,
        name: String::new(),
        authorization_flow: Uuid::nil(),
        invalidation_flow: Uuid::nil(),
        property_mappings: vec![],
        client_type: "confidential".into(),
        client_id: generate_key(40),
        client_secret: generate_key(128),
        redirect_uris: vec![],
        signing_key: None,
        sub_mode: "hashed_user_id".into(),
        issuer_mode: "per_provider".into(),
        include_claims_in_id_token: true,
        access_code_validity: "minutes=1".into(),
        access_token_validity: "hours=1".into(),
        refresh_token_validity: "days=30".into(),
        grant_types: GRANT_TYPES.iter().map(|g| (*g).to_owned()).collect(),
        logout_uri: String::new(),
        logout_method: "backchannel".into(),
    });
    Ok(Provider {
        pk: base.pk,
        name: name.unwrap_or(base.name),
        authorization_flow: authorization_flow.unwrap_or(base.authorization_flow),
        invalidation_flow: invalidation_flow.unwrap_or(base.invalidation_flow),
        property_mappings: property_mappings.unwrap_or(base.property_mappings),
        client_type: client_type.unwrap_or(base.client_type),
        client_id: client_id.unwrap_or(base.client_id),
        client_secret: client_secret.unwrap_or(base.client_secret),
        redirect_uris: redirect_uris.unwrap_or(base.redirect_uris),
        signing_key: signing_key.unwrap_or(base.signing_key),
        sub_mode: sub_mode.unwrap_or(base.sub_mode),
        issuer_mode: issuer_mode.unwrap_or(base.issuer_mode),
        include_claims_in_id_token: include_claims.unwrap_or(base.include_claims_in_id_token),
        access_code_validity: access_code_validity.unwrap_or(base.access_code_validity),
        access_token_validity: access_token_validity.unwrap_or(base.access_token_validity),
        refresh_token_validity: refresh_token_validity.unwrap_or(base.refresh_token_validity),
        grant_types: grant_types.unwrap_or(base.grant_types),
        logout_uri: logout_uri.unwrap_or(base.logout_uri),
        logout_method: logout_method.unwrap_or(base.logout_method),
    })
}

fn provider_pk(raw: &str) -> Result<i64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found("OAuth2Provider"))
}

async fn create_provider(State(sim): State<AuthentikSim>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    let mut store = sim.store();
    let mut provider = provider_input(&store, &body, false, None)?;
    store.next_provider_pk += 1;
    provider.pk = store.next_provider_pk;
    let value = store.provider_json(&provider);
    store.providers.insert(provider.pk, provider);
    created(value)
}

async fn get_provider(State(sim): State<AuthentikSim>, Path(id): Path<String>) -> ApiResult {
    let pk = provider_pk(&id)?;
    let store = sim.store();
    let provider = store
        .providers
        .get(&pk)
        .ok_or_else(|| ApiError::not_found("OAuth2Provider"))?;
    ok(store.provider_json(provider))
}

async fn patch_provider(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let pk = provider_pk(&id)?;
    let body = body_object(&body)?;
    let mut store = sim.store();
    let existing = store
        .providers
        .get(&pk)
        .cloned()
        .ok_or_else(|| ApiError::not_found("OAuth2Provider"))?;
    let provider = provider_input(&store, &body, true, Some(&existing))?;
    let value = store.provider_json(&provider);
    store.providers.insert(pk, provider);
    ok(value)
}

async fn delete_provider(State(sim): State<AuthentikSim>, Path(id): Path<String>) -> ApiResult {
    let pk = provider_pk(&id)?;
    let mut store = sim.store();
    store
        .providers
        .remove(&pk)
        .ok_or_else(|| ApiError::not_found("OAuth2Provider"))?;
    // Application.provider is on_delete=SET_NULL
    for app in store.applications.values_mut() {
        if app.provider == Some(pk) {
            app.provider = None;
        }
    }
    store.grants.retain(|_, g| g.provider != pk);
    store.codes.retain(|_, c| c.provider != pk);
    no_content()
}

pub fn routes() -> Router<AuthentikSim> {
    Router::new()
        .route("/api/v3/flows/instances/", get(list_flows))
        .route("/api/v3/flows/instances/{slug}/", get(get_flow))
        .route("/api/v3/crypto/certificatekeypairs/", get(list_keypairs))
        .route(
            "/api/v3/propertymappings/provider/scope/",
            get(list_scope_mappings),
        )
        .route(
            "/api/v3/providers/oauth2/",
            get(list_providers).post(create_provider),
        )
        .route(
            "/api/v3/providers/oauth2/{id}/",
            get(get_provider)
                .patch(patch_provider)
                .delete(delete_provider),
        )
}
