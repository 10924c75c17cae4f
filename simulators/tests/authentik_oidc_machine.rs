//! The Authentik simulator's OIDC provider for machines: the `client_credentials` grant with a
//! username and an app password (a token or a service account's), as real Authentik offers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dezky_simulators::authentik::{AuthentikOptions, AuthentikSim, OidcApp};
use dezky_simulators::control::Control;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

const TOKEN: &str = "oidc-token";

struct Server {
    url: String,
    api: reqwest::Client,
    sim: AuthentikSim,
}

async fn start() -> Server {
    let sim = AuthentikSim::new(AuthentikOptions {
        api_token: TOKEN.into(),
        signing_key_path: None,
    });
    sim.seed_oidc_app(&OidcApp {
        slug: "dezky-console".into(),
        name: "Dezky console".into(),
        client_id: "dezky-console".into(),
        redirect_uris: vec![("regex".into(), r"http://127\.0\.0\.1(:[0-9]+)?/.*".into())],
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router(&Control::new("c".into()));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        url,
        api: reqwest::Client::new(),
        sim,
    }
}

impl Server {
    async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .api
            .request(method, format!("{}/api/v3/{path}", self.url))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("send");
        let text = response.text().await.expect("text");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json")
        }
    }

    /// A member of `group` (created if needed) with a password.
    async fn user(&self, username: &str, password: &str, group: Option<&str>) -> i64 {
        let user = self.api(reqwest::Method::POST, "core/users/", json!({"username": username, "name": username, "email": format!("{username}@acme.test")})).await;
        let pk = user["pk"].as_i64().expect("pk");
        self.api(
            reqwest::Method::POST,
            &format!("core/users/{pk}/set_password/"),
            json!({"password": password}),
        )
        .await;
        if let Some(group) = group {
            let g = self
                .api(
                    reqwest::Method::POST,
                    "core/groups/",
                    json!({"name": group}),
                )
                .await;
            self.api(
                reqwest::Method::POST,
                &format!("core/groups/{}/add_user/", g["pk"].as_str().expect("g")),
                json!({"pk": pk}),
            )
            .await;
        }
        pk
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .api
            .post(format!("{}/application/o/token/", self.url))
            .form(form)
            .send()
            .await
            .expect("token");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }
}

/// Verifies an RS256 JWT against the JWKS and returns its claims.
fn verify(jwt: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("header");
    assert_eq!(header["alg"], "RS256");
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in JWKS");
    let n = BigUint::from_bytes_be(
        &URL_SAFE_NO_PAD
            .decode(key["n"].as_str().expect("n"))
            .expect("n"),
    );
    let e = BigUint::from_bytes_be(
        &URL_SAFE_NO_PAD
            .decode(key["e"].as_str().expect("e"))
            .expect("e"),
    );
    let public = RsaPublicKey::new(n, e).expect("key");
    let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).expect("sig").as_slice())
        .expect("sig");
    VerifyingKey::<Sha256>::new(public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("signature verifies");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("claims")
}

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
        .api
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
        .api
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
