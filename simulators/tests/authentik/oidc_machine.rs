//! The Authentik simulator's OIDC provider for machines: the `client_credentials` grant with a
//! username and an app password (a token or a service account's), as real Authentik offers.

use serde_json::{Value, json};

use super::support::{start_with_console_app as start, verify};

#[tokio::test]
async fn client_credentials_with_username_and_app_password() {
    let s = start().await;
    let pk = s
        .user("robot", "unused-password", Some("tenant-acme"))
        .await;
    let token = s.api(reqwest::Method::POST, "core/tokens/", json!({"identifier": "robot-app", "intent": "app_password", "user": pk, "expiring": false})).await;
    assert_eq!(token["intent"], "app_password");
    let key = s
        .api(
            reqwest::Method::GET,
            "core/tokens/robot-app/view_key/",
            json!(null),
        )
        .await["key"]
        .as_str()
        .expect("key")
        .to_owned();
    // the public console client has client_credentials disabled
    let (status, _) = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "dezky-console"),
            ("username", "robot"),
            ("password", &key),
        ])
        .await;
    assert_eq!(status, 400);
    let provider = s
        .api(
            reqwest::Method::GET,
            "providers/oauth2/?client_id=dezky-console",
            json!(null),
        )
        .await;
    let ppk = provider["results"][0]["pk"].as_i64().expect("pk");
    s.api(
        reqwest::Method::PATCH,
        &format!("providers/oauth2/{ppk}/"),
        json!({"grant_types": ["authorization_code", "client_credentials"]}),
    )
    .await;
    let (status, tokens) = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "dezky-console"),
            ("username", "robot"),
            ("password", &key),
            ("scope", "openid profile"),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    let jwks: Value = s
        .http
        .get(format!("{}/application/o/dezky-console/jwks/", s.url))
        .send()
        .await
        .expect("j")
        .json()
        .await
        .expect("json");
    let claims = verify(tokens["access_token"].as_str().expect("at"), &jwks);
    assert_eq!(claims["groups"], json!(["tenant-acme"]));
    // the user's password is not an app password
    let (status, err) = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "dezky-console"),
            ("username", "robot"),
            ("password", "unused-password"),
        ])
        .await;
    assert_eq!(
        (status, err["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let (status, err) = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nope"),
            ("username", "robot"),
            ("password", &key),
        ])
        .await;
    assert_eq!(
        (status, err["error"].clone()),
        (401, json!("invalid_client"))
    );
    assert!(
        s.sim.dump()["providers"][0]["client_secret"] == "***",
        "dumps never show client secrets"
    );
}

#[tokio::test]
async fn a_service_account_app_password_cannot_call_the_api_but_can_get_tokens() {
    let s = start().await;
    let created = s
        .api(
            reqwest::Method::POST,
            "core/users/service_account/",
            json!({"name": "saas-operator", "create_group": false, "expiring": false}),
        )
        .await;
    assert_eq!(created["username"], "saas-operator");
    let app_password = created["token"].as_str().expect("token").to_owned();
    let api = s
        .http
        .get(format!("{}/api/v3/core/groups/", s.url))
        .bearer_auth(&app_password)
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), 403, "an app password is not an API token");
    let provider = s
        .api(
            reqwest::Method::GET,
            "providers/oauth2/?client_id=dezky-console",
            json!(null),
        )
        .await;
    let ppk = provider["results"][0]["pk"].as_i64().expect("pk");
    s.api(
        reqwest::Method::PATCH,
        &format!("providers/oauth2/{ppk}/"),
        json!({"grant_types": ["client_credentials"]}),
    )
    .await;
    let (status, tokens) = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "dezky-console"),
            ("username", "saas-operator"),
            ("password", &app_password),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
}
