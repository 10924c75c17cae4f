//! The Authentik simulator's SSO endpoints held to the real REST API v3: lookups, OAuth2 providers,
//! applications and policy bindings, with the request shapes of `shared/upstreams/authentik.md`.

use serde_json::{Value, json};

use super::support::start;

#[tokio::test]
async fn lookups_of_a_fresh_instance() {
    let s = start().await;
    for slug in [
        "default-provider-authorization-implicit-consent",
        "default-provider-authorization-explicit-consent",
        "default-provider-invalidation-flow",
        "default-authentication-flow",
    ] {
        let (status, flow) = s.get(&format!("flows/instances/{slug}/")).await;
        assert_eq!(status, 200, "{slug}");
        assert_eq!(flow["slug"], slug);
    }
    let (_, auth) = s.get("flows/instances/?designation=authorization").await;
    assert_eq!(auth["pagination"]["count"], 2);
    let (_, keys) = s
        .get("crypto/certificatekeypairs/?name=authentik%20Self-signed%20Certificate&has_key=true")
        .await;
    assert_eq!(keys["pagination"]["count"], 1);
    let (_, mappings) = s
        .get("propertymappings/provider/scope/?managed=goauthentik.io/providers/oauth2/scope-openid&managed=goauthentik.io/providers/oauth2/scope-email&managed=goauthentik.io/providers/oauth2/scope-profile")
        .await;
    let names: Vec<&str> = mappings["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|m| m["scope_name"].as_str().expect("scope"))
        .collect();
    assert_eq!(names, vec!["openid", "email", "profile"]);
    let (_, offline) = s
        .get("propertymappings/provider/scope/?scope_name=offline_access")
        .await;
    assert_eq!(
        offline["results"][0]["managed"],
        "goauthentik.io/providers/oauth2/scope-offline_access"
    );
}

#[tokio::test]
async fn providers_applications_and_bindings_follow_the_documented_shapes() {
    let s = start().await;
    let (_, flow) = s
        .get("flows/instances/default-provider-authorization-implicit-consent/")
        .await;
    let (_, inval) = s
        .get("flows/instances/default-provider-invalidation-flow/")
        .await;
    let (_, keys) = s
        .get("crypto/certificatekeypairs/?name=authentik%20Self-signed%20Certificate")
        .await;
    let (_, scopes) = s.get("propertymappings/provider/scope/").await;
    let mapping_pks: Vec<Value> = scopes["results"]
        .as_array()
        .expect("r")
        .iter()
        .map(|m| m["pk"].clone())
        .collect();

    // the create request of §5.6
    let (status, provider) = s
        .post(
            "providers/oauth2/",
            json!({"name": "tenant:acme:portal", "authorization_flow": flow["pk"], "invalidation_flow": inval["pk"],
                   "client_type": "confidential", "client_id": "acme-portal",
                   "redirect_uris": [{"matching_mode": "strict", "url": "https://acme.app.example.com/auth/callback"},
                                     {"matching_mode": "regex", "url": "https://acme\\.app\\.example\\.com/.*"}],
                   "signing_key": keys["results"][0]["pk"], "property_mappings": mapping_pks,
                   "sub_mode": "user_uuid", "issuer_mode": "per_provider", "include_claims_in_id_token": true,
                   "access_token_validity": "minutes=10", "refresh_token_validity": "days=30",
                   "logout_uri": "https://acme.app.example.com/auth/backchannel-logout", "logout_method": "backchannel",
                   "grant_types": ["authorization_code", "refresh_token"]}),
        )
        .await;
    assert_eq!(status, 201, "{provider}");
    assert_eq!(
        provider["client_secret"].as_str().expect("secret").len(),
        128
    );
    assert!(provider["assigned_application_slug"].is_null());
    let ppk = provider["pk"].as_i64().expect("int pk");
    let (status, missing) = s.post("providers/oauth2/", json!({"name": "x"})).await;
    assert_eq!(status, 400);
    for field in ["authorization_flow", "invalidation_flow", "redirect_uris"] {
        assert!(missing[field].is_array(), "{field} is required: {missing}");
    }
    let (status, dup) = s
        .post("providers/oauth2/", json!({"name": "other", "client_id": "acme-portal", "authorization_flow": flow["pk"], "invalidation_flow": inval["pk"], "redirect_uris": []}))
        .await;
    assert_eq!(status, 400);
    assert!(dup["client_id"].is_array());
    let (status, _) = s.get("providers/oauth2/?client_id=acme-portal").await;
    assert_eq!(status, 200);

    // application (§5.7), created without the provider, then bound, then attached
    let (status, app) = s.post("core/applications/", json!({"name": "Acme Portal", "slug": "t-acme-portal", "policy_engine_mode": "any", "meta_launch_url": "https://acme.app.example.com/", "open_in_new_tab": false, "group": ""})).await;
    assert_eq!(status, 201, "{app}");
    assert!(
        uuid::Uuid::parse_str(app["pk"].as_str().expect("pk")).is_ok(),
        "application pk is the pbm uuid"
    );
    let (status, reserved) = s
        .post(
            "core/applications/",
            json!({"name": "x", "slug": "authorize"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(reserved["slug"].is_array());
    let (status, dup) = s
        .post(
            "core/applications/",
            json!({"name": "x", "slug": "t-acme-portal"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(dup["slug"].is_array());

    let (_, group) = s.post("core/groups/", json!({"name": "tenant:acme"})).await;
    // the binding request of §5.8
    let (status, binding) = s
        .post("policies/bindings/", json!({"target": app["pk"], "group": group["pk"], "order": 0, "enabled": true, "negate": false, "timeout": 30, "failure_result": false}))
        .await;
    assert_eq!(status, 201, "{binding}");
    assert_eq!(binding["group_obj"]["name"], "tenant:acme");
    let (status, both) = s
        .post(
            "policies/bindings/",
            json!({"target": app["pk"], "group": group["pk"], "user": 1, "order": 1}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(both["non_field_errors"].is_array());
    let (status, none) = s
        .post(
            "policies/bindings/",
            json!({"target": app["pk"], "order": 1}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(none["non_field_errors"].is_array());
    // group bindings have no uniqueness: a duplicate is accepted (clients dedupe)
    let (status, _) = s
        .post(
            "policies/bindings/",
            json!({"target": app["pk"], "group": group["pk"], "order": 0}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, listed) = s
        .get(&format!(
            "policies/bindings/?target={}",
            app["pk"].as_str().expect("pk")
        ))
        .await;
    assert_eq!(listed["pagination"]["count"], 2);

    let (status, attached) = s
        .patch("core/applications/t-acme-portal/", json!({"provider": ppk}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(attached["provider_obj"]["pk"], ppk);
    let (_, provider) = s.get(&format!("providers/oauth2/{ppk}/")).await;
    assert_eq!(provider["assigned_application_slug"], "t-acme-portal");
    let (status, _) = s
        .post(
            "core/applications/",
            json!({"name": "y", "slug": "y", "provider": ppk}),
        )
        .await;
    assert_eq!(status, 400, "one provider belongs to one application");

    assert_eq!(s.delete("core/applications/t-acme-portal/").await.0, 204);
    let (_, listed) = s
        .get(&format!(
            "policies/bindings/?target={}",
            app["pk"].as_str().expect("pk")
        ))
        .await;
    assert_eq!(
        listed["pagination"]["count"], 0,
        "bindings cascade with the application"
    );
    assert_eq!(s.delete(&format!("providers/oauth2/{ppk}/")).await.0, 204);
}
