//! Authentik simulator REST endpoints for SSO apps: OAuth2 providers, applications, policy bindings and the read-only lookups (flows, keypairs, scope mappings).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::AuthentikSim;
use super::model::{Application, Binding, Store};
use super::web::{
    ApiError, ApiResult, Fields, Params, body_object, created, no_content, ok, paginate,
};

pub fn routes() -> Router<AuthentikSim> {
    Router::new()
        .route(
            "/api/v3/core/applications/",
            get(list_applications).post(create_application),
        )
        .route(
            "/api/v3/core/applications/{slug}/",
            get(get_application)
                .patch(patch_application)
                .delete(delete_application),
        )
        .route(
            "/api/v3/policies/bindings/",
            get(list_bindings).post(create_binding),
        )
        .route(
            "/api/v3/policies/bindings/{uuid}/",
            get(get_binding).patch(patch_binding).delete(delete_binding),
        )
}

const RESERVED_SLUGS: [&str; 6] = [
    "authorize",
    "token",
    "device",
    "userinfo",
    "introspect",
    "revoke",
];

fn application_input(
    store: &Store,
    body: &Map<String, Value>,
    partial: bool,
    existing: Option<&Application>,
) -> Result<Application, ApiError> {
    let mut f = Fields::new(body, partial);
    let this = existing.map(|a| a.slug.as_str());
    let name = f.string("name", true, false);
    let slug = f.string("slug", true, false);
    if let Some(slug) = &slug {
        if slug.is_empty()
            || !slug
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            f.error(
                "slug",
                "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.",
            );
        } else if RESERVED_SLUGS.contains(&slug.as_str()) {
            f.error("slug", "Slug cannot be a reserved name.");
        } else if store.applications.contains_key(slug) && Some(slug.as_str()) != this {
            f.error("slug", "Application with this slug already exists.");
        }
    }
    let provider = match f.nullable("provider") {
        Some(Some(v)) => {
            let pk = f.int_ref("provider", v, |id| store.providers.contains_key(&id));
            if let Some(pk) = pk
                && store
                    .applications
                    .values()
                    .any(|a| a.provider == Some(pk) && Some(a.slug.as_str()) != this)
            {
                f.error("provider", "Application with this provider already exists.");
            }
            pk.map(Some)
        }
        Some(None) => Some(None),
        None => None,
    };
    let policy_engine_mode = f.choice("policy_engine_mode", &["all", "any"]);
    let meta_launch_url = f.string("meta_launch_url", false, true);
    let open_in_new_tab = f.boolean("open_in_new_tab");
    let meta_description = f.string("meta_description", false, true);
    let meta_publisher = f.string("meta_publisher", false, true);
    let group = f.string("group", false, true);
    let meta_hide = f.boolean("meta_hide");
    f.finish()?;
    let base = existing.cloned().unwrap_or_else(|| Application {
        pk: Uuid::new_v4(),
        name: String::new(),
        slug: String::new(),
        provider: None,
        policy_engine_mode: "any".into(),
        meta_launch_url: String::new(),
        open_in_new_tab: false,
        meta_description: String::new(),
        meta_publisher: String::new(),
        group: String::new(),
        meta_hide: false,
    });
    Ok(Application {
        pk: base.pk,
        name: name.unwrap_or(base.name),
        slug: slug.unwrap_or(base.slug),
        provider: provider.unwrap_or(base.provider),
        policy_engine_mode: policy_engine_mode.unwrap_or(base.policy_engine_mode),
        meta_launch_url: meta_launch_url.unwrap_or(base.meta_launch_url),
        open_in_new_tab: open_in_new_tab.unwrap_or(base.open_in_new_tab),
        meta_description: meta_description.unwrap_or(base.meta_description),
        meta_publisher: meta_publisher.unwrap_or(base.meta_publisher),
        group: group.unwrap_or(base.group),
        meta_hide: meta_hide.unwrap_or(base.meta_hide),
    })
}

async fn list_applications(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let store = sim.store();
    // the caller is a superuser in the simulator: no per-caller access filtering
    let mut apps: Vec<&Application> = store
        .applications
        .values()
        .filter(|a| params.get("slug").is_none_or(|v| a.slug == v))
        .filter(|a| params.get("name").is_none_or(|v| a.name == v))
        .filter(|a| params.get("group").is_none_or(|v| a.group == v))
        .collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    paginate(
        &params,
        apps.into_iter()
            .map(|a| store.application_json(a))
            .collect(),
    )
}

async fn create_application(State(sim): State<AuthentikSim>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    let mut store = sim.store();
    let app = application_input(&store, &body, false, None)?;
    let value = store.application_json(&app);
    store.applications.insert(app.slug.clone(), app);
    created(value)
}

async fn get_application(State(sim): State<AuthentikSim>, Path(slug): Path<String>) -> ApiResult {
    let store = sim.store();
    let app = store
        .applications
        .get(&slug)
        .ok_or_else(|| ApiError::not_found("Application"))?;
    ok(store.application_json(app))
}

async fn patch_application(
    State(sim): State<AuthentikSim>,
    Path(slug): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = body_object(&body)?;
    let mut store = sim.store();
    let existing = store
        .applications
        .get(&slug)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Application"))?;
    let app = application_input(&store, &body, true, Some(&existing))?;
    store.applications.remove(&slug);
    let value = store.application_json(&app);
    store.applications.insert(app.slug.clone(), app);
    ok(value)
}

async fn delete_application(
    State(sim): State<AuthentikSim>,
    Path(slug): Path<String>,
) -> ApiResult {
    let mut store = sim.store();
    let app = store
        .applications
        .remove(&slug)
        .ok_or_else(|| ApiError::not_found("Application"))?;
    // bindings target the application's policy binding model: on_delete=CASCADE
    store.bindings.retain(|_, b| b.target != app.pk);
    no_content()
}

fn binding_input(
    store: &Store,
    body: &Map<String, Value>,
    partial: bool,
    existing: Option<&Binding>,
) -> Result<Binding, ApiError> {
    let mut f = Fields::new(body, partial);
    let is_target = |id: &Uuid| {
        store.applications.values().any(|a| a.pk == *id)
            || store.flows.iter().any(|fl| fl.uuid == *id)
    };
    let target = match f.nullable("target") {
        Some(Some(v)) => f.uuid_ref("target", v, is_target),
        Some(None) => {
            f.error("target", "This field may not be null.");
            None
        }
        None => {
            if !partial {
                f.error("target", "This field is required.");
            }
            None
        }
    };
    let group = match f.nullable("group") {
        Some(Some(v)) => f
            .uuid_ref("group", v, |id| store.groups.contains_key(id))
            .map(Some),
        Some(None) => Some(None),
        None => None,
    };
    let user = match f.nullable("user") {
        Some(Some(v)) => f
            .int_ref("user", v, |id| store.users.contains_key(&id))
            .map(Some),
        Some(None) => Some(None),
        None => None,
    };
    let policy = match f.nullable("policy") {
        // policies are not simulated: no policy pk exists
        Some(Some(v)) => f.uuid_ref("policy", v, |_| false).map(Some),
        Some(None) => Some(None),
        None => None,
    };
    let order = f.integer("order", true);
    let enabled = f.boolean("enabled");
    let negate = f.boolean("negate");
    let timeout = f.integer("timeout", false);
    let failure_result = f.boolean("failure_result");
    f.finish()?;
    let base = existing.cloned().unwrap_or(Binding {
        pk: Uuid::new_v4(),
        target: Uuid::nil(),
        group: None,
        user: None,
        policy: None,
        order: 0,
        enabled: true,
        negate: false,
        timeout: 30,
        failure_result: false,
    });
    let binding = Binding {
        pk: base.pk,
        target: target.unwrap_or(base.target),
        group: group.unwrap_or(base.group),
        user: user.unwrap_or(base.user),
        policy: policy.unwrap_or(base.policy),
        order: order.unwrap_or(base.order),
        enabled: enabled.unwrap_or(base.enabled),
        negate: negate.unwrap_or(base.negate),
        timeout: timeout.unwrap_or(base.timeout),
        failure_result: failure_result.unwrap_or(base.failure_result),
    };
    let set = [
        binding.group.is_some(),
        binding.user.is_some(),
        binding.policy.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if set > 1 {
        return Err(ApiError::field(
            "non_field_errors",
            "Only one of 'policy', 'group' or 'user' can be set.",
        ));
    }
    if set == 0 {
        return Err(ApiError::field(
            "non_field_errors",
            "One of 'policy', 'group' or 'user' must be set.",
        ));
    }
    Ok(binding)
}

async fn list_bindings(State(sim): State<AuthentikSim>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let target_in = params.all("target_in");
    let store = sim.store();
    let mut bindings: Vec<&Binding> = store
        .bindings
        .values()
        .filter(|b| {
            params
                .get("target")
                .is_none_or(|v| b.target.to_string() == v)
        })
        .filter(|b| target_in.is_empty() || target_in.iter().any(|t| b.target.to_string() == *t))
        .filter(|b| {
            params
                .get("enabled")
                .is_none_or(|v| b.enabled == (v == "true"))
        })
        .filter(|b| params.get("order").is_none_or(|v| b.order.to_string() == v))
        .filter(|b| {
            params
                .get("policy__isnull")
                .is_none_or(|v| b.policy.is_none() == (v == "true"))
        })
        .collect();
    bindings.sort_by_key(|b| (b.target, b.order, b.pk));
    paginate(
        &params,
        bindings
            .into_iter()
            .map(|b| store.binding_json(b))
            .collect(),
    )
}

fn binding_pk(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found("PolicyBinding"))
}

async fn create_binding(State(sim): State<AuthentikSim>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    let mut store = sim.store();
    let binding = binding_input(&store, &body, false, None)?;
    // unique_together (policy, target, order) only bites for policy bindings (NULLs are distinct)
    if binding.policy.is_some()
        && store.bindings.values().any(|b| {
            b.policy == binding.policy && b.target == binding.target && b.order == binding.order
        })
    {
        return Err(ApiError::field(
            "non_field_errors",
            "The fields policy, target, order must make a unique set.",
        ));
    }
    let value = store.binding_json(&binding);
    store.bindings.insert(binding.pk, binding);
    created(value)
}

async fn get_binding(State(sim): State<AuthentikSim>, Path(id): Path<String>) -> ApiResult {
    let pk = binding_pk(&id)?;
    let store = sim.store();
    let binding = store
        .bindings
        .get(&pk)
        .ok_or_else(|| ApiError::not_found("PolicyBinding"))?;
    ok(store.binding_json(binding))
}

async fn patch_binding(
    State(sim): State<AuthentikSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let pk = binding_pk(&id)?;
    let body = body_object(&body)?;
    let mut store = sim.store();
    let existing = store
        .bindings
        .get(&pk)
        .cloned()
        .ok_or_else(|| ApiError::not_found("PolicyBinding"))?;
    let binding = binding_input(&store, &body, true, Some(&existing))?;
    let value = store.binding_json(&binding);
    store.bindings.insert(pk, binding);
    ok(value)
}

async fn delete_binding(State(sim): State<AuthentikSim>, Path(id): Path<String>) -> ApiResult {
    let pk = binding_pk(&id)?;
    let mut store = sim.store();
    store
        .bindings
        .remove(&pk)
        .ok_or_else(|| ApiError::not_found("PolicyBinding"))?;
    no_content()
}
