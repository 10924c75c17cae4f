//! SsoApp end to end: provider, application and tenant-group binding in Authentik, the credentials
//! Secret owned by the SsoApp, the client secret nowhere in status; only tenant members may sign in.

use dezky_crds::SsoApp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};
use serde_json::json;

use super::*;
use crate::runtime_support::Harness;

fn ssoapp(namespace: &str, name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "SsoApp",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "displayName": "Acme Wiki",
            "redirectUris": ["https://wiki.acme.test/oauth/callback"],
            "launchUrl": "https://wiki.acme.test/",
            "scopes": ["openid", "email", "profile"],
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ssoapp_gets_its_secret_and_the_tenant_binding() {
    let mut h = Harness::start_with_resync("1s").await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({})).await;
    let apps: Api<SsoApp> = Api::namespaced(h.client.clone(), &ns);
    h.apply(&apps, "wiki", ssoapp(&ns, "wiki")).await;
    let app = h
        .wait_for(&apps, "wiki", WAIT, |a| {
            a.status.as_ref().is_some_and(|s| {
                s.observed_generation == a.metadata.generation
                    && status_of(Some(&s.conditions), "Ready").as_deref() == Some("True")
            })
        })
        .await;
    let status = app.status.clone().expect("status");
    let identity = status.identity.clone().expect("identity");
    assert_eq!(identity.application_slug.as_deref(), Some("acme-wiki"));
    let issuer = status.issuer.clone().expect("issuer");
    assert!(issuer.ends_with("/application/o/acme-wiki/"), "{issuer}");
    assert_eq!(status.client_id.as_deref(), Some("acme-wiki"));

    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), &ns);
    let secret = secrets
        .get("ssoapp-wiki-credentials")
        .await
        .expect("credentials Secret");
    let owners = secret.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].kind, "SsoApp");
    assert_eq!(owners[0].uid, app.metadata.uid.clone().expect("uid"));
    let data = secret.data.expect("data");
    let value = |k: &str| String::from_utf8(data[k].0.clone()).expect("utf-8");
    assert_eq!(value("client_id"), "acme-wiki");
    assert_eq!(value("issuer"), issuer);
    assert_eq!(
        value("discovery_url"),
        format!("{issuer}.well-known/openid-configuration")
    );
    let client_secret = value("client_secret");
    assert!(client_secret.len() >= 32);
    let status_text = serde_json::to_string(&app.status).expect("status json");
    assert!(
        !status_text.contains(&client_secret),
        "the client secret is never in status"
    );

    // upstream: one provider (named by the marker), one application, one binding of the tenant group
    let dump = h.dump("authentik").await;
    let tenant_group = authentik_group_pk(&dump, "tenant-acme");
    let bindings: Vec<_> = dump["bindings"].as_array().cloned().unwrap_or_default();
    let ours: Vec<_> = bindings
        .iter()
        .filter(|b| b["group"].as_str() == Some(tenant_group.as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "{bindings:#?}");
    assert_eq!(identity.binding_pk.as_deref(), ours[0]["pk"].as_str());
    let apps_upstream: Vec<_> = dump["applications"].as_array().cloned().unwrap_or_default();
    let app_up = apps_upstream
        .iter()
        .find(|a| a["slug"] == "acme-wiki")
        .expect("application");
    assert_eq!(app_up["provider"].as_i64(), identity.provider_pk);
    let providers: Vec<_> = dump["providers"].as_array().cloned().unwrap_or_default();
    let provider = providers
        .iter()
        .find(|p| p["client_id"] == "acme-wiki")
        .expect("provider");
    assert_eq!(provider["name"], "dezky:test:SsoApp:tenant-acme/wiki");
    assert_eq!(provider["redirect_uris"][0]["matching_mode"], "strict");

    // idle: later passes write nothing upstream or in Kubernetes
    let k8s_before = h.cluster.stats().writes;
    let (writes_before, _) = upstream_writes(&h).await;
    let passes = h.reconciles("ssoapp");
    let deadline = std::time::Instant::now() + WAIT;
    while h.reconciles("ssoapp") < passes + 2 {
        assert!(std::time::Instant::now() < deadline, "no resync happened");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (writes_after, seen) = upstream_writes(&h).await;
    assert_eq!(
        writes_after, writes_before,
        "an idle pass wrote upstream: {seen:#?}"
    );
    assert_eq!(
        h.cluster.stats().writes,
        k8s_before,
        "an idle pass wrote to Kubernetes"
    );

    // deletion removes the application and the provider
    apps.delete("wiki", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone(&apps, "wiki", WAIT).await;
    let dump = h.dump("authentik").await;
    assert!(!dump["applications"].to_string().contains("acme-wiki"));
    assert!(!dump["providers"].to_string().contains("acme-wiki"));
    h.stop_operator().await;
}

fn authentik_group_pk(dump: &serde_json::Value, name: &str) -> String {
    dump["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == name))
        .and_then(|g| g["pk"].as_str())
        .expect("group")
        .to_string()
}

/// Logs in and asks the app's authorization endpoint for a code; the HTTP status of that answer
/// (302 with a code when allowed, 403 when the user may not use the app).
async fn authorize(h: &Harness, username: &str, password: &str, client_id: &str) -> (u16, String) {
    let base = h
        .sims
        .info
        .upstreams
        .authentik
        .url
        .trim_end_matches('/')
        .to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let login = client
        .post(format!("{base}/if/flow/default-authentication-flow/"))
        .form(&[
            ("username", username),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("login");
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string();
    let answer = client
        .get(format!("{base}/application/o/authorize/"))
        .query(&[
            ("client_id", client_id),
            ("redirect_uri", "https://wiki.acme.test/oauth/callback"),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "s1"),
        ])
        .header("cookie", cookie)
        .send()
        .await
        .expect("authorize");
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (answer.status().as_u16(), location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_members_of_the_tenant_may_use_its_app() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let (ns, password) = provisioned_member(&h, "jdoe", 5).await;
    // a member of another tenant
    let globex = tenant_ready(&h, "globex", 5, json!({})).await;
    verified_domain(&h, &globex, "globex", "globex.test").await;
    let others: Api<dezky_crds::Member> = Api::namespaced(h.client.clone(), &globex);
    h.apply(
        &others,
        "hank",
        member(&globex, "hank", "hank@globex.test", json!({})),
    )
    .await;
    h.wait_for(&others, "hank", WAIT, member_ready).await;
    let hank_password = password_of(&h, &globex, "hank").await;

    let apps: Api<SsoApp> = Api::namespaced(h.client.clone(), &ns);
    h.apply(&apps, "wiki", ssoapp(&ns, "wiki")).await;
    h.wait_for(&apps, "wiki", WAIT, |a| {
        a.status
            .as_ref()
            .is_some_and(|s| status_of(Some(&s.conditions), "Ready").as_deref() == Some("True"))
    })
    .await;
    let (status, location) = authorize(&h, "jdoe@acme.test", &password, "acme-wiki").await;
    assert_eq!(status, 302, "a tenant member signs in");
    assert!(
        location.starts_with("https://wiki.acme.test/oauth/callback?")
            && location.contains("code="),
        "{location}"
    );
    let (status, location) = authorize(&h, "hank@globex.test", &hank_password, "acme-wiki").await;
    assert_eq!(
        status, 403,
        "another tenant's member is refused: {location}"
    );
    h.stop_operator().await;
}
