//! The test platform: a devcluster with the Dezky CRDs, the simulators (Authentik issues the
//! tokens), a second test-controlled ES256 issuer for the JWT attack suite, and the API server,
//! all on loopback ports chosen free, each test with its own state directory.

use std::collections::BTreeMap;
use std::time::Duration;

use dezky_api::{ApiConfig, ApiServer};
use dezky_devcluster::{Devcluster, DevclusterOptions};
use dezky_simulators::runner::{self, SimulatorOptions, Simulators};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};

#[path = "../support/authentik_admin.rs"]
mod authentik_admin;

pub use authentik_admin::authentik;
use authentik_admin::enable_password_grant;

pub const ADMINS: &str = "platform-admins";
pub const TEST_ISSUER_CLIENT: &str = "attack-test-client";

/// A test OIDC issuer whose ES256 key the test holds.
pub struct TestIssuer {
    pub issuer: String,
    /// How many times its JWKS was fetched.
    pub jwks_hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub kid: String,
    key_pem: String,
}

impl TestIssuer {
    async fn start() -> TestIssuer {
        let mut bytes = [0u8; 32];
        loop {
            rand::fill(&mut bytes);
            if p256::SecretKey::from_slice(&bytes).is_ok() {
                break;
            }
        }
        let secret = p256::SecretKey::from_slice(&bytes).expect("a P-256 key");
        let key_pem = secret
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .expect("PKCS#8")
            .to_string();
        let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
            &secret.public_key(),
            false,
        );
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let kid = "test-key-1".to_string();
        let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
                         "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let issuer = format!("http://{addr}/test-issuer/");
        let discovery = json!({"issuer": issuer, "jwks_uri": format!("http://{addr}/test-issuer/jwks"),
                               "userinfo_endpoint": format!("http://{addr}/test-issuer/userinfo")});
        let jwks = json!({"keys": [jwk]});
        let jwks_hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hits = jwks_hits.clone();
        let app = axum::Router::new()
            .route(
                "/test-issuer/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/test-issuer/jwks",
                axum::routing::get(move || {
                    hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let jwks = jwks.clone();
                    async move { axum::Json(jwks) }
                }),
            );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestIssuer {
            issuer,
            jwks_hits,
            kid,
            key_pem,
        }
    }

    /// Signs `claims` with this issuer's key (ES256) and the given kid.
    pub fn sign(&self, claims: &Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        let key = EncodingKey::from_ec_pem(self.key_pem.as_bytes()).expect("an EC key");
        jsonwebtoken::encode(&header, claims, &key).expect("signs")
    }

    /// Claims that this issuer's configured client accepts.
    pub fn claims(&self, email: &str) -> Value {
        let now = now();
        json!({"iss": self.issuer, "aud": TEST_ISSUER_CLIENT, "sub": email, "email": email,
               "iat": now, "nbf": now - 5, "exp": now + 600})
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

/// The running platform of one test.
pub struct Env {
    pub dev: Devcluster,
    pub sims: Simulators,
    pub api: ApiServer,
    pub client: Client,
    pub http: reqwest::Client,
    pub base: String,
    pub issuer: TestIssuer,
    pub admins_group: String,
    _state: tempfile::TempDir,
}

impl Env {
    pub async fn start() -> Env {
        // more than one rustls crypto backend may be compiled into the tests: pick one
        let _ = rustls::crypto::ring::default_provider().install_default();
        let state = tempfile::tempdir().expect("a temp dir");
        let dev = Devcluster::start(DevclusterOptions::new(state.path().join("cluster")))
            .await
            .expect("devcluster starts");
        let client = dezky_crds::cluster::client_from_kubeconfig(&dev.kubeconfig_path())
            .await
            .expect("kube client");
        dezky_crds::cluster::install_crds(&client, "test")
            .await
            .expect("the CRDs are installed");
        let sims = runner::start(SimulatorOptions::default())
            .await
            .expect("simulators start");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let issuer = TestIssuer::start().await;
        enable_password_grant(&http, &sims).await;
        let admins_group = authentik(
            &http,
            &sims,
            reqwest::Method::POST,
            "/api/v3/core/groups/",
            json!({"name": ADMINS}),
        )
        .await["pk"]
            .as_str()
            .expect("group pk")
            .to_owned();
        let yaml = format!(
            r#"
api:
  listenAddress: "127.0.0.1:0"
  publicUrl: "http://127.0.0.1"
  oidc:
    console: {{issuer: "{}", clientId: "{}"}}
    portal: {{issuer: "{}", clientId: "{}"}}
    platformAdminsGroup: {ADMINS}
    jwksMinRefreshSeconds: 1
    groupsTtlSeconds: 1
    leewaySeconds: 5
    additionalIssuers:
      - {{issuer: "{}", clientId: "{TEST_ISSUER_CLIENT}", audience: portal}}
"#,
            sims.info.oidc.console.issuer,
            sims.info.oidc.console.client_id,
            sims.info.oidc.portal.issuer,
            sims.info.oidc.portal.client_id,
            issuer.issuer,
        );
        let config = ApiConfig::from_yaml(&yaml, "test").expect("api config");
        let api = ApiServer::start(config, client.clone())
            .await
            .expect("api starts");
        let base = format!("http://{}", api.addr);
        let env = Env {
            dev,
            sims,
            api,
            client,
            http,
            base,
            issuer,
            admins_group,
            _state: state,
        };
        env.wait_ready().await;
        env
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the API server did not become ready");
    }

    /// Write requests the devcluster has served so far.
    pub fn write_requests(&self) -> u64 {
        self.dev.stats().write_requests
    }

    /// A user in Authentik with an app password; returns the password.
    pub async fn user(&self, email: &str, groups: &[&str]) -> String {
        let mut group_pks = Vec::new();
        for g in groups {
            let pk = if *g == ADMINS {
                self.admins_group.clone()
            } else {
                authentik(
                    &self.http,
                    &self.sims,
                    reqwest::Method::POST,
                    "/api/v3/core/groups/",
                    json!({"name": g}),
                )
                .await["pk"]
                    .as_str()
                    .expect("group pk")
                    .to_owned()
            };
            group_pks.push(pk);
        }
        let user = authentik(
            &self.http,
            &self.sims,
            reqwest::Method::POST,
            "/api/v3/core/users/",
            json!({"username": email, "name": email, "email": email, "groups": group_pks}),
        )
        .await;
        let pk = user["pk"].as_i64().expect("user pk");
        let identifier = format!("app-{pk}");
        authentik(&self.http, &self.sims, reqwest::Method::POST, "/api/v3/core/tokens/",
            json!({"identifier": identifier, "intent": "app_password", "user": pk, "expiring": false})).await;
        let key = authentik(
            &self.http,
            &self.sims,
            reqwest::Method::GET,
            &format!("/api/v3/core/tokens/{identifier}/view_key/"),
            Value::Null,
        )
        .await;
        key["key"].as_str().expect("key").to_owned()
    }

    /// Removes a user from the platform-admins group.
    pub async fn remove_admin(&self, email: &str) {
        let users = authentik(
            &self.http,
            &self.sims,
            reqwest::Method::GET,
            &format!("/api/v3/core/users/?username={email}"),
            Value::Null,
        )
        .await;
        let pk = users["results"][0]["pk"].as_i64().expect("user");
        authentik(
            &self.http,
            &self.sims,
            reqwest::Method::POST,
            &format!("/api/v3/core/groups/{}/remove_user/", self.admins_group),
            json!({"pk": pk}),
        )
        .await;
    }

    /// A token issued by the simulator for the console or the portal client.
    pub async fn token(&self, console: bool, email: &str, password: &str) -> String {
        let client = if console {
            &self.sims.info.oidc.console
        } else {
            &self.sims.info.oidc.portal
        };
        let url = format!(
            "{}/application/o/token/",
            self.sims.info.upstreams.authentik.url
        );
        let r = self
            .http
            .post(url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client.client_id.as_str()),
                ("username", email),
                ("password", password),
                ("scope", "openid email profile"),
            ])
            .send()
            .await
            .expect("token request");
        let status = r.status();
        let body: Value = r.json().await.expect("token json");
        assert!(status.is_success(), "token request failed: {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A platform operator's console token.
    pub async fn operator(&self, email: &str) -> String {
        let pw = self.user(email, &[ADMINS]).await;
        self.token(true, email, &pw).await
    }

    /// A portal token for a (new) Authentik user.
    pub async fn portal(&self, email: &str) -> String {
        let pw = self.user(email, &[]).await;
        self.token(false, email, &pw).await
    }

    /// Calls the API; returns the status, the content type and the JSON body (Null when none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = r.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, ct, json)
    }

    /// Calls the API; returns the status and the JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (s, _, v) = self.call(method, path, token, body).await;
        (s, v)
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let (s, _, v) = self
            .call(reqwest::Method::GET, path, Some(token), None)
            .await;
        (s, v)
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let (s, _, v) = self
            .call(reqwest::Method::POST, path, Some(token), Some(body))
            .await;
        (s, v)
    }

    // ----- seeding the cluster directly, as kubectl or the operator would -----

    /// A namespace labelled for a tenant or partner.
    pub async fn namespace(&self, name: &str, labels: BTreeMap<&str, &str>) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))
                .expect("ns");
        api.create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
    }

    /// Applies a dezky object (as kubectl apply would).
    pub async fn apply(&self, obj: Value) {
        let ar = ar_of(&obj);
        let api = dyn_api(&self.client, &ar, obj["metadata"]["namespace"].as_str());
        let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
        let dynobj: kube::api::DynamicObject = serde_json::from_value(obj).expect("object");
        api.patch(
            &name,
            &PatchParams::apply("test-seed").force(),
            &Patch::Apply(&dynobj),
        )
        .await
        .expect("applied");
    }

    /// Writes an object's status through the status subresource (the operator is not running).
    pub async fn set_status(&self, plural: &str, ns: Option<&str>, name: &str, status: Value) {
        let ar = kube::api::ApiResource {
            group: "dezky.io".into(),
            version: "v1alpha1".into(),
            api_version: "dezky.io/v1alpha1".into(),
            kind: String::new(),
            plural: plural.into(),
        };
        let api = dyn_api(&self.client, &ar, ns);
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .expect("status written");
    }

    /// A tenant with its namespace `tenant-<name>`, optionally sold by a partner.
    pub async fn tenant(&self, name: &str, partner: Option<&str>) {
        self.namespace(
            &format!("tenant-{name}"),
            BTreeMap::from([("dezky.io/tenant", name)]),
        )
        .await;
        let mut spec = json!({"displayName": format!("{name} corp"), "plan": "business", "seats": 10,
                              "storageQuota": "10Gi", "mailboxQuota": "1Gi"});
        if let Some(p) = partner {
            spec["partnerRef"] = json!({"name": p});
        }
        self.apply(json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name}, "spec": spec})).await;
    }

    /// A partner with its namespace `partner-<name>`.
    pub async fn partner(&self, name: &str) {
        self.namespace(
            &format!("partner-{name}"),
            BTreeMap::from([("dezky.io/partner", name)]),
        )
        .await;
        self.apply(
            json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Partner", "metadata": {"name": name},
            "spec": {"displayName": name, "domain": format!("{name}.test"), "marginPercent": 20}}),
        )
        .await;
    }

    /// A Member object in a namespace.
    pub async fn member(&self, ns: &str, name: &str, email: &str, role: &str) {
        self.apply(json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Member",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"email": email, "displayName": name, "role": role}}))
            .await;
    }

    /// Waits until `check` holds (the API's cache follows the watches).
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..100 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// Waits until the caller's roles (GET /api/v1/me) satisfy `check`.
    pub async fn wait_roles(&self, token: &str, check: impl Fn(&Value) -> bool) {
        self.eventually("the caller's roles", || async {
            let (s, v) = self.get("/api/v1/me", token).await;
            s == 200 && check(&v["roles"])
        })
        .await;
    }

    pub async fn shutdown(self) {
        self.api.shutdown().await;
        self.sims.shutdown().await;
        self.dev.shutdown().await;
    }
}

fn ar_of(obj: &Value) -> kube::api::ApiResource {
    let kind = obj["kind"].as_str().expect("kind");
    let plural = match kind {
        "Tenant" => "tenants",
        "Partner" => "partners",
        "Member" => "members",
        "MailDomain" => "maildomains",
        "SsoApp" => "ssoapps",
        other => panic!("unexpected kind {other}"),
    };
    kube::api::ApiResource {
        group: "dezky.io".into(),
        version: "v1alpha1".into(),
        api_version: "dezky.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn dyn_api(
    client: &Client,
    ar: &kube::api::ApiResource,
    ns: Option<&str>,
) -> Api<kube::api::DynamicObject> {
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}
