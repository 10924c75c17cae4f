//! Contract tests of the Authentik client against the simulator over real HTTP: OAuth2 providers,
//! applications, policy bindings (both adoption paths) and the error shapes.

use std::time::Duration;

use dezky_operator::upstream::authentik::{
    ApplicationSpec, AuthentikClient, GroupSpec, IdentityClient, IdentityError, Observed,
    ProviderSpec, RedirectUri, UserSpec,
};
use dezky_operator::upstream::http::{ErrorCategory, Secret, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_simulators::authentik::{AuthentikOptions, AuthentikSim};
use dezky_simulators::control::Control;
use serde_json::{Map, Value, json};

const TOKEN: &str = "test-api-token";

struct Harness {
    url: String,
    client: AuthentikClient,
    metrics: UpstreamMetrics,
    raw: reqwest::Client,
}

async fn start() -> Harness {
    let control = Control::new("control-token".into());
    let sim = AuthentikSim::new(AuthentikOptions {
        api_token: TOKEN.into(),
        signing_key_path: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router(&control);
    tokio::spawn(async move { axum_serve(listener, router).await });
    let metrics = UpstreamMetrics::default();
    let limits = UpstreamLimits {
        requests_per_second: 1000.0,
        max_in_flight: 8,
        timeout: Duration::from_secs(5),
        read_retries: 2,
        ..UpstreamLimits::default()
    };
    let client = AuthentikClient::new(
        &url.parse().expect("url"),
        Secret::new(TOKEN),
        limits,
        metrics.clone(),
    )
    .expect("client");
    Harness {
        url,
        client,
        metrics,
        raw: reqwest::Client::new(),
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
    let _ = axum::serve(listener, router).await;
}

impl Harness {
    /// A hand-written API request, bypassing the client (to set up unmarked or foreign objects).
    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .raw
            .request(method, format!("{}/api/v3/{path}", self.url))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.expect("send");
        let status = response.status().as_u16();
        let text = response.text().await.expect("text");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).expect("json")
            },
        )
    }
}

fn marker(kind: &str, ns: Option<&str>, name: &str) -> Marker {
    Marker {
        installation: "test".into(),
        kind: kind.into(),
        namespace: ns.map(str::to_owned),
        name: name.into(),
        uid: format!("uid-{name}"),
    }
}

fn group_spec(name: &str) -> GroupSpec {
    let mut attributes = Map::new();
    attributes.insert("dezky.io/tenant".into(), json!(name));
    GroupSpec {
        name: name.into(),
        attributes,
    }
}

fn user_spec(username: &str) -> UserSpec {
    UserSpec {
        username: username.into(),
        name: "Jane Doe".into(),
        email: username.into(),
        path: "tenants/acme".into(),
        is_active: true,
        user_type: "internal".into(),
        attributes: Map::new(),
    }
}

#[tokio::test]
async fn sso_app_provider_application_and_binding() {
    let h = start().await;
    let lookups = h.client.lookups().await.expect("lookups");
    assert!(
        ["openid", "email", "profile", "offline_access"]
            .iter()
            .all(|s| lookups.scope_mappings.contains_key(*s))
    );

    let group = h
        .client
        .create_group(
            &group_spec("tenant-acme"),
            &marker("Tenant", None, "acme"),
            false,
        )
        .await
        .expect("g");
    let am = marker("SsoApp", Some("tenant-acme"), "wiki");
    let spec = ProviderSpec {
        client_id: "acme-wiki".into(),
        client_type: "confidential".into(),
        redirect_uris: vec![RedirectUri::strict("https://wiki.acme.test/oauth/callback")],
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        access_token_validity: "minutes=10".into(),
    };
    let provider = h
        .client
        .create_provider(&spec, &am, false)
        .await
        .expect("provider");
    assert_eq!(provider.name, am.key());
    assert_eq!(provider.client_id, "acme-wiki");
    assert!(
        provider.client_secret.expose().len() >= 64,
        "a generated client secret"
    );
    assert!(
        !format!("{provider:?}").contains(provider.client_secret.expose()),
        "the secret never prints"
    );
    assert_eq!(
        provider.signing_key.as_deref(),
        Some(lookups.signing_key.as_str())
    );
    assert_eq!(
        h.client
            .create_provider(&spec, &am, false)
            .await
            .expect("again")
            .pk,
        provider.pk
    );
    assert!(
        h.client
            .update_provider(&provider, &spec)
            .await
            .expect("noop")
            .is_none()
    );
    let more = ProviderSpec {
        redirect_uris: vec![RedirectUri::strict("https://wiki.acme.test/cb2")],
        ..spec.clone()
    };
    let changed = h
        .client
        .update_provider(&provider, &more)
        .await
        .expect("update")
        .expect("changed");
    assert_eq!(changed.redirect_uris, more.redirect_uris);

    // application first without the provider, bind, then attach
    let app_spec = ApplicationSpec {
        slug: "t-acme-wiki".into(),
        name: "Acme Wiki".into(),
        launch_url: "https://wiki.acme.test/".into(),
        provider: None,
    };
    let app = h
        .client
        .create_application(&app_spec, &am, false)
        .await
        .expect("app");
    assert_eq!(app.provider, None);
    let observed = h
        .client
        .observe_application("t-acme-wiki", &am)
        .await
        .expect("observe");
    assert!(
        matches!(observed, Observed::Ours(_)),
        "a provider-less application is still recognised as ours"
    );
    let binding = h
        .client
        .ensure_group_binding(&app.pk, &group.pk)
        .await
        .expect("bind");
    let again = h
        .client
        .ensure_group_binding(&app.pk, &group.pk)
        .await
        .expect("bind again");
    assert_eq!(binding.pk, again.pk);
    assert_eq!(
        h.client
            .list_bindings(&app.pk)
            .await
            .expect("bindings")
            .len(),
        1
    );
    let attached = ApplicationSpec {
        provider: Some(provider.pk),
        ..app_spec.clone()
    };
    let app2 = h
        .client
        .update_application(&app, &attached)
        .await
        .expect("attach")
        .expect("changed");
    assert_eq!(app2.provider, Some(provider.pk));
    assert!(
        h.client
            .update_application(&app2, &attached)
            .await
            .expect("noop")
            .is_none()
    );
    let observed = h
        .client
        .observe_provider("acme-wiki", &am)
        .await
        .expect("observe")
        .ours()
        .expect("ours");
    assert_eq!(
        observed.assigned_application_slug.as_deref(),
        Some("t-acme-wiki")
    );

    // deleting the application cascades its bindings
    h.client
        .delete_application("t-acme-wiki")
        .await
        .expect("delete app");
    h.client
        .delete_application("t-acme-wiki")
        .await
        .expect("delete app again");
    assert!(
        h.client
            .list_bindings(&app.pk)
            .await
            .expect("bindings")
            .is_empty()
    );
    h.client
        .delete_binding(&binding.pk)
        .await
        .expect("delete of a gone binding");
    h.client
        .delete_provider(provider.pk)
        .await
        .expect("delete provider");
    h.client
        .delete_provider(provider.pk)
        .await
        .expect("delete provider again");
    assert_eq!(
        h.client
            .observe_provider("acme-wiki", &am)
            .await
            .expect("observe"),
        Observed::Missing
    );
}

#[tokio::test]
async fn unmarked_and_foreign_providers_and_applications() {
    let h = start().await;
    let lookups = h.client.lookups().await.expect("lookups");
    let (status, body) = h
        .api(
            reqwest::Method::POST,
            "providers/oauth2/",
            Some(json!({"name": "hand made", "client_id": "acme-wiki", "authorization_flow": lookups.authorization_flow,
                        "invalidation_flow": lookups.invalidation_flow, "redirect_uris": []})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let am = marker("SsoApp", Some("tenant-acme"), "wiki");
    let spec = ProviderSpec {
        client_id: "acme-wiki".into(),
        client_type: "public".into(),
        redirect_uris: vec![RedirectUri::strict("https://wiki.acme.test/cb")],
        scopes: vec!["openid".into()],
        grant_types: vec!["authorization_code".into()],
        access_token_validity: "minutes=5".into(),
    };
    let err = h
        .client
        .create_provider(&spec, &am, false)
        .await
        .expect_err("adoption required");
    assert!(
        matches!(err, IdentityError::AdoptionRequired { .. }),
        "{err}"
    );
    let adopted = h
        .client
        .create_provider(&spec, &am, true)
        .await
        .expect("adopt");
    assert_eq!(adopted.name, am.key());
    assert_eq!(adopted.client_type, "public");

    h.api(
        reqwest::Method::POST,
        "core/applications/",
        Some(json!({"name": "Wiki", "slug": "t-acme-wiki"})),
    )
    .await;
    let app_spec = ApplicationSpec {
        slug: "t-acme-wiki".into(),
        name: "Acme Wiki".into(),
        launch_url: String::new(),
        provider: Some(adopted.pk),
    };
    let err = h
        .client
        .create_application(&app_spec, &am, false)
        .await
        .expect_err("adoption required");
    assert!(
        matches!(
            err,
            IdentityError::AdoptionRequired {
                kind: "application",
                ..
            }
        ),
        "{err}"
    );
    let app = h
        .client
        .create_application(&app_spec, &am, true)
        .await
        .expect("adopt app");
    assert_eq!(app.provider, Some(adopted.pk));
    let other = marker("SsoApp", Some("tenant-evil"), "wiki");
    let err = h
        .client
        .create_application(&app_spec, &other, true)
        .await
        .expect_err("foreign");
    assert!(matches!(err, IdentityError::NameTaken { .. }), "{err}");
}

#[tokio::test]
async fn error_shapes_map_to_categories() {
    let h = start().await;
    let bad = AuthentikClient::new(
        &h.url.parse().expect("url"),
        Secret::new("wrong"),
        UpstreamLimits::default(),
        UpstreamMetrics::default(),
    )
    .expect("client");
    let err = bad
        .observe_group("x", &marker("Tenant", None, "x"))
        .await
        .expect_err("403");
    assert_eq!(err.category(), ErrorCategory::Forbidden);
    assert!(err.is_permanent());
    assert!(!err.to_string().contains("wrong"));

    // a 400 field error keeps the field names only
    let m = marker("Member", Some("tenant-acme"), "bad");
    let mut spec = user_spec("bad@acme.test");
    spec.path = "/leading/slash".into();
    let err = h
        .client
        .create_user(&spec, &m, false)
        .await
        .expect_err("400");
    assert_eq!(err.category(), ErrorCategory::Invalid);
    assert!(err.to_string().contains("fields=[path]"), "{err}");
    assert!(
        !err.to_string().contains("slash"),
        "no upstream message text: {err}"
    );

    // membership of an unknown user is a 404
    let group = h
        .client
        .create_group(&group_spec("g"), &marker("Tenant", None, "g"), false)
        .await
        .expect("g");
    let err = h.client.add_member(&group.pk, 4242).await.expect_err("404");
    assert_eq!(err.category(), ErrorCategory::NotFound);

    // metrics are labelled by upstream, operation and outcome
    assert!(h.metrics.requests("authentik", "group.create", "success") >= 1);
    assert!(
        h.metrics
            .requests("authentik", "group.add_user", "not_found")
            >= 1
    );
}
