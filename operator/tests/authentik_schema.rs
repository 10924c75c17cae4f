//! Every request body the Authentik client sends, held to the official Authentik 2026.8 request
//! models (the `authentik-client` crate, generated from that line's OpenAPI schema): required
//! fields present, types and enum values valid.

use std::time::Duration;

use authentik_client::models;
use dezky_operator::upstream::authentik::{
    ApplicationSpec, AuthentikClient, GroupSpec, IdentityClient, ProviderSpec, RedirectUri,
    UserSpec,
};
use dezky_operator::upstream::http::{Secret, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_simulators::authentik::{AuthentikOptions, AuthentikSim};
use dezky_simulators::control::{Control, RecordedRequest};
use serde::de::DeserializeOwned;

const TOKEN: &str = "schema-token";

fn marker(kind: &str, name: &str) -> Marker {
    Marker {
        installation: "schema".into(),
        kind: kind.into(),
        namespace: Some("tenant-acme".into()),
        name: name.into(),
        uid: "uid".into(),
    }
}

fn check<T: DeserializeOwned>(request: &RecordedRequest) {
    if let Err(e) = serde_json::from_slice::<T>(&request.body) {
        panic!(
            "{} {} does not match {}: {e}",
            request.method,
            request.template,
            std::any::type_name::<T>()
        );
    }
}

#[tokio::test]
async fn every_request_body_matches_the_official_2026_8_models() {
    let control = Control::new("control".into());
    let sim = AuthentikSim::new(AuthentikOptions {
        api_token: TOKEN.into(),
        signing_key_path: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router(&control);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let limits = UpstreamLimits {
        requests_per_second: 1000.0,
        max_in_flight: 4,
        timeout: Duration::from_secs(5),
        read_retries: 0,
        ..UpstreamLimits::default()
    };
    let client = AuthentikClient::new(
        &url.parse().expect("url"),
        Secret::new(TOKEN),
        limits,
        UpstreamMetrics::default(),
    )
    .expect("client");
    control.record_bodies(true);

    // every write the client has
    let tm = marker("Tenant", "acme");
    let group_spec = GroupSpec {
        name: "tenant-acme".into(),
        attributes: Default::default(),
    };
    let group = client
        .create_group(&group_spec, &tm, false)
        .await
        .expect("group");
    let renamed = GroupSpec {
        name: "tenant-acme-2".into(),
        ..group_spec
    };
    client
        .update_group(&group, &renamed, &tm)
        .await
        .expect("update");
    let um = marker("Member", "jdoe");
    let user_spec = UserSpec {
        username: "jdoe@acme.test".into(),
        name: "Jane".into(),
        email: "jdoe@acme.test".into(),
        path: "tenants/acme".into(),
        is_active: true,
        user_type: "internal".into(),
        attributes: Default::default(),
    };
    let user = client
        .create_user(&user_spec, &um, false)
        .await
        .expect("user");
    let suspended = UserSpec {
        is_active: false,
        name: "Jane D".into(),
        ..user_spec
    };
    client
        .update_user(&user, &suspended, &um)
        .await
        .expect("update user");
    client
        .set_password(user.pk, &Secret::new("a long enough password"))
        .await
        .expect("password");
    client.add_member(&group.pk, user.pk).await.expect("add");
    client
        .remove_member(&group.pk, user.pk)
        .await
        .expect("remove");
    let am = marker("SsoApp", "wiki");
    let provider_spec = ProviderSpec {
        client_id: "acme-wiki".into(),
        client_type: "confidential".into(),
        redirect_uris: vec![RedirectUri::strict("https://wiki.acme.test/cb")],
        scopes: vec![
            "openid".into(),
            "email".into(),
            "profile".into(),
            "offline_access".into(),
        ],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        access_token_validity: "minutes=10".into(),
    };
    let provider = client
        .create_provider(&provider_spec, &am, false)
        .await
        .expect("provider");
    let public = ProviderSpec {
        client_type: "public".into(),
        redirect_uris: vec![RedirectUri {
            matching_mode: "regex".into(),
            url: "https://wiki\\.acme\\.test/.*".into(),
        }],
        ..provider_spec
    };
    client
        .update_provider(&provider, &public)
        .await
        .expect("update provider");
    let app_spec = ApplicationSpec {
        slug: "t-acme-wiki".into(),
        name: "Wiki".into(),
        launch_url: "https://wiki.acme.test/".into(),
        provider: None,
    };
    let app = client
        .create_application(&app_spec, &am, false)
        .await
        .expect("app");
    client
        .ensure_group_binding(&app.pk, &group.pk)
        .await
        .expect("binding");
    let attached = ApplicationSpec {
        provider: Some(provider.pk),
        ..app_spec
    };
    client
        .update_application(&app, &attached)
        .await
        .expect("attach");

    let recorded: Vec<RecordedRequest> = control
        .recorded()
        .into_iter()
        .filter(|r| r.method == "POST" || r.method == "PATCH" || r.method == "PUT")
        .collect();
    let mut checked = 0;
    for request in &recorded {
        match (request.method.as_str(), request.template.as_str()) {
            ("POST", "/api/v3/core/groups/") => check::<models::GroupRequest>(request),
            ("PATCH", "/api/v3/core/groups/{group_uuid}/") => {
                check::<models::PatchedGroupRequest>(request)
            }
            ("POST", "/api/v3/core/groups/{group_uuid}/add_user/")
            | ("POST", "/api/v3/core/groups/{group_uuid}/remove_user/") => {
                check::<models::UserAccountRequest>(request)
            }
            ("POST", "/api/v3/core/users/") => check::<models::UserRequest>(request),
            ("PATCH", "/api/v3/core/users/{id}/") => check::<models::PatchedUserRequest>(request),
            ("POST", "/api/v3/core/users/{id}/set_password/") => {
                check::<models::UserPasswordSetRequest>(request)
            }
            ("POST", "/api/v3/providers/oauth2/") => {
                check::<models::OAuth2ProviderRequest>(request)
            }
            ("PATCH", "/api/v3/providers/oauth2/{id}/") => {
                check::<models::PatchedOAuth2ProviderRequest>(request)
            }
            ("POST", "/api/v3/core/applications/") => check::<models::ApplicationRequest>(request),
            ("PATCH", "/api/v3/core/applications/{slug}/") => {
                check::<models::PatchedApplicationRequest>(request)
            }
            ("POST", "/api/v3/policies/bindings/") => {
                check::<models::PolicyBindingRequest>(request)
            }
            (method, template) => panic!("no model mapped for {method} {template}"),
        }
        checked += 1;
    }
    // one body per write above: nothing was skipped silently
    let seen: Vec<(&str, &str)> = recorded
        .iter()
        .map(|r| (r.method.as_str(), r.template.as_str()))
        .collect();
    assert_eq!(checked, 12, "{seen:?}");
}
