//! Authentik administration the API and billing test harnesses share: a REST call with the
//! simulator's API token, and opening the console and portal clients to the grants the tests
//! sign in with. Included by path (`#[path = "../support/authentik_admin.rs"]`) in both binaries.

use dezky_simulators::runner::Simulators;
use serde_json::{Value, json};

/// An Authentik REST call with the simulator's API token.
pub async fn authentik(
    http: &reqwest::Client,
    sims: &Simulators,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let url = format!("{}{path}", sims.info.upstreams.authentik.url);
    let mut req = http
        .request(method, url)
        .bearer_auth(&sims.info.upstreams.authentik.token);
    if !body.is_null() {
        req = req.json(&body);
    }
    let r = req.send().await.expect("authentik request");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "authentik {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Lets the console and portal clients use the password grant (username + app password).
pub async fn enable_password_grant(http: &reqwest::Client, sims: &Simulators) {
    let providers = authentik(
        http,
        sims,
        reqwest::Method::GET,
        "/api/v3/providers/oauth2/",
        Value::Null,
    )
    .await;
    for p in providers["results"].as_array().expect("providers") {
        let pk = p["pk"].as_i64().expect("pk");
        authentik(
            http,
            sims,
            reqwest::Method::PATCH,
            &format!("/api/v3/providers/oauth2/{pk}/"),
            json!({"grant_types": ["authorization_code", "refresh_token", "client_credentials"]}),
        )
        .await;
    }
}
