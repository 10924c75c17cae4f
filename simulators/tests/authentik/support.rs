//! What every Authentik simulator test starts from: the simulator on a free loopback port, a
//! REST client with the API token, a cookie-keeping browser for the login flows, and a JWT check
//! against the JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dezky_simulators::authentik::{AuthentikOptions, AuthentikSim, OidcApp};
use dezky_simulators::control::Control;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

/// The simulator's API token.
pub const TOKEN: &str = "sim-token";

/// A running simulator and the clients tests drive it with.
pub struct Server {
    pub url: String,
    /// The REST client (API calls, token requests).
    pub http: reqwest::Client,
    /// A browser of its own (cookies), for the login flows.
    pub browser: Browser,
    pub sim: AuthentikSim,
}

/// A browser without redirects that keeps the `authentik_session` cookie.
#[derive(Default)]
pub struct Browser {
    http: reqwest::Client,
    cookie: std::sync::Mutex<Option<String>>,
}

impl Browser {
    pub fn new() -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("browser"),
            cookie: Default::default(),
        }
    }

    pub fn remember(&self, response: &reqwest::Response) {
        if let Some(set) = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            let pair = set.split(';').next().unwrap_or_default().to_owned();
            *self.cookie.lock().expect("lock") = if pair.ends_with('=') {
                None
            } else {
                Some(pair)
            };
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        let mut req = self.http.get(url);
        if let Some(cookie) = self.cookie.lock().expect("lock").clone() {
            req = req.header("cookie", cookie);
        }
        let response = req.send().await.expect("get");
        self.remember(&response);
        response
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let response = self.http.post(url).form(form).send().await.expect("post");
        self.remember(&response);
        response
    }
}

/// A fresh simulator.
pub async fn start() -> Server {
    let sim = AuthentikSim::new(AuthentikOptions {
        api_token: TOKEN.into(),
        signing_key_path: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router(&Control::new("c".into()));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        url,
        http: reqwest::Client::new(),
        browser: Browser::new(),
        sim,
    }
}

/// A fresh simulator with the console's OIDC application (`dezky-console`, any loopback redirect).
pub async fn start_with_console_app() -> Server {
    let server = start().await;
    server.sim.seed_oidc_app(&OidcApp {
        slug: "dezky-console".into(),
        name: "Dezky console".into(),
        client_id: "dezky-console".into(),
        redirect_uris: vec![("regex".into(), r"http://127\.0\.0\.1(:[0-9]+)?/.*".into())],
    });
    server
}

impl Server {
    /// The same simulator seen from a second browser (no cookies).
    pub fn with_new_browser(&self) -> Server {
        Server {
            url: self.url.clone(),
            http: self.http.clone(),
            browser: Browser::new(),
            sim: self.sim.clone(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v3/{path}", self.url))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        read(req.send().await.expect("send")).await
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    pub async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
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
    pub async fn user(&self, username: &str, password: &str, group: Option<&str>) -> i64 {
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

    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/application/o/token/", self.url))
            .form(form)
            .send()
            .await
            .expect("token");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json body")
        },
    )
}

/// Verifies an RS256 JWT against the JWKS and returns its claims.
pub fn verify(jwt: &str, jwks: &Value) -> Value {
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
