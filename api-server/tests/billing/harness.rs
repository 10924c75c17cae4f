//! The billing test platform: a devcluster with the Dezky CRDs, the simulators (Authentik issues
//! the tokens), localstripe (started with `scripts/localstripe`; a test fails when it cannot start
//! it) and the API server with billing configured the way `dezky api` reads it (the shared file's
//! `upstreams.stripe` plus the credentials `stripe-api-key` and `stripe-webhook-secret`), each test
//! on its own free ports and in its own temp dir.

use std::collections::BTreeMap;
use std::time::Duration;

use dezky_api::{ApiConfig, ApiServer};
use dezky_devcluster::{Devcluster, DevclusterOptions};
use dezky_simulators::runner::{self, SimulatorOptions, Simulators};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

#[path = "../support/authentik_admin.rs"]
mod authentik_admin;

use authentik_admin::{authentik, enable_password_grant};

use super::localstripe::Localstripe;
use super::localstripe::STRIPE_KEY;

pub const ADMINS: &str = "platform-admins";
pub const WEBHOOK_SECRET: &str = "whsec_billing_test";

/// The running platform of one test.
pub struct Env {
    pub dev: Devcluster,
    pub sims: Simulators,
    pub api: ApiServer,
    pub client: Client,
    pub http: reqwest::Client,
    pub base: String,
    pub stripe: Option<Localstripe>,
    admins_group: String,
    _state: tempfile::TempDir,
}

impl Env {
    /// The platform; with billing on localstripe (its webhook pointed at the API server) or without.
    pub async fn start(billing: bool) -> Env {
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
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        enable_password_grant(&http, &sims).await;
        let stripe = billing.then(|| Localstripe::start(state.path().join("localstripe")));
        // the API key comes from a credential file, the webhook secret from the environment
        let secrets = state.path().join("secrets");
        std::fs::create_dir_all(&secrets).expect("secrets dir");
        std::fs::write(secrets.join("stripe-api-key"), STRIPE_KEY).expect("key file");
        let stripe_section = match &stripe {
            Some(ls) => format!(
                "upstreams:\n  stripe: {{enabled: true, url: \"{}\"}}\n",
                ls.url
            ),
            None => "upstreams:\n  stripe: {enabled: false, url: \"https://api.stripe.com\"}\n"
                .to_owned(),
        };
        let yaml = format!(
            r#"
credentialsDir: "{}"
{stripe_section}
api:
  listenAddress: "127.0.0.1:0"
  publicUrl: "http://127.0.0.1"
  oidc:
    console: {{issuer: "{}", clientId: "{}"}}
    portal: {{issuer: "{}", clientId: "{}"}}
    platformAdminsGroup: {ADMINS}
    groupsTtlSeconds: 1
"#,
            secrets.display(),
            sims.info.oidc.console.issuer,
            sims.info.oidc.console.client_id,
            sims.info.oidc.portal.issuer,
            sims.info.oidc.portal.client_id,
        );
        let env_vars =
            |k: &str| (k == "DEZKY_STRIPE_WEBHOOK_SECRET").then(|| WEBHOOK_SECRET.to_owned());
        let config = ApiConfig::from_yaml_with_env(&yaml, "test", &env_vars).expect("api config");
        assert_eq!(config.billing.is_some(), billing);
        let api = ApiServer::start(config, client.clone())
            .await
            .expect("api starts");
        let base = format!("http://{}", api.addr);
        if let Some(ls) = &stripe {
            let url = format!("{base}/webhooks/stripe");
            ls.post(
                "/_config/webhooks/dezky",
                &[("url", url.as_str()), ("secret", WEBHOOK_SECRET)],
            )
            .await;
        }
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
        let env = Env {
            dev,
            sims,
            api,
            client,
            http,
            base,
            stripe,
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

    /// localstripe (billing is on).
    pub fn ls(&self) -> &Localstripe {
        self.stripe.as_ref().expect("billing is on")
    }

    /// Write requests the devcluster has served so far.
    pub fn write_requests(&self) -> u64 {
        self.dev.stats().write_requests
    }

    /// A token of a new Authentik user: a console token in platform-admins, or a portal token.
    pub async fn token(&self, email: &str, operator: bool) -> String {
        let groups: Vec<&str> = if operator {
            vec![self.admins_group.as_str()]
        } else {
            Vec::new()
        };
        let user = authentik(
            &self.http,
            &self.sims,
            reqwest::Method::POST,
            "/api/v3/core/users/",
            json!({"username": email, "name": email, "email": email, "groups": groups}),
        )
        .await;
        let pk = user["pk"].as_i64().expect("user pk");
        let identifier = format!("app-{pk}");
        authentik(&self.http, &self.sims, reqwest::Method::POST, "/api/v3/core/tokens/",
            json!({"identifier": identifier, "intent": "app_password", "user": pk, "expiring": false})).await;
        let password = authentik(
            &self.http,
            &self.sims,
            reqwest::Method::GET,
            &format!("/api/v3/core/tokens/{identifier}/view_key/"),
            Value::Null,
        )
        .await["key"]
            .as_str()
            .expect("key")
            .to_owned();
        let client = if operator {
            &self.sims.info.oidc.console
        } else {
            &self.sims.info.oidc.portal
        };
        let r = self
            .http
            .post(format!(
                "{}/application/o/token/",
                self.sims.info.upstreams.authentik.url
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client.client_id.as_str()),
                ("username", email),
                ("password", password.as_str()),
                ("scope", "openid email profile"),
            ])
            .send()
            .await
            .expect("token request");
        let body: Value = r.json().await.expect("token json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Calls the API: the status, the content type and the body as text.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> (u16, String, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, ct, r.text().await.unwrap_or_default())
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let (s, _, text) = self.raw(reqwest::Method::GET, path, Some(token)).await;
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: &str) -> (u16, Value) {
        let (s, _, text) = self.raw(reqwest::Method::POST, path, Some(token)).await;
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A UI request with the session cookie of `token`: the status, the `Location` and the body.
    pub async fn page(
        &self,
        method: reqwest::Method,
        path: &str,
        audience: &str,
        token: &str,
    ) -> (u16, String, String) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", format!("dezky_session={audience}~{token}"))
            .send()
            .await
            .expect("page request");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, location, r.text().await.unwrap_or_default())
    }

    /// Delivers a webhook body with a `Stripe-Signature` header (or none).
    pub async fn deliver(&self, signature: Option<&str>, body: &[u8]) -> (u16, String, Value) {
        let mut req = self
            .http
            .post(format!("{}/webhooks/stripe", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("stripe-signature", s);
        }
        let r = req.send().await.expect("delivery");
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            ct,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    // ----- seeding the cluster directly, as kubectl or the operator would -----

    async fn namespace(&self, name: &str, label: &str, value: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": BTreeMap::from([(label, value)])}}),
        )
        .expect("ns");
        api.create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
    }

    async fn apply(&self, plural: &str, obj: Value) {
        let ns = obj["metadata"]["namespace"].as_str().map(str::to_owned);
        let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
        let api = dyn_api(&self.client, plural, ns.as_deref());
        let dynobj: DynamicObject = serde_json::from_value(obj).expect("object");
        api.patch(
            &name,
            &PatchParams::apply("test-seed").force(),
            &Patch::Apply(&dynobj),
        )
        .await
        .expect("applied");
    }

    pub async fn partner(&self, name: &str, margin: i32) {
        self.namespace(&format!("partner-{name}"), "dezky.io/partner", name)
            .await;
        self.apply("partners", json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Partner",
            "metadata": {"name": name},
            "spec": {"displayName": name, "domain": format!("{name}.test"), "marginPercent": margin}}))
            .await;
    }

    pub async fn tenant(&self, name: &str, partner: Option<&str>) {
        self.namespace(&format!("tenant-{name}"), "dezky.io/tenant", name)
            .await;
        let mut spec = json!({"displayName": format!("{name} corp"), "plan": "business", "seats": 5,
                              "storageQuota": "10Gi", "mailboxQuota": "1Gi"});
        if let Some(p) = partner {
            spec["partnerRef"] = json!({"name": p});
        }
        self.apply(
            "tenants",
            json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name}, "spec": spec}),
        )
        .await;
    }

    pub async fn member(&self, ns: &str, name: &str, email: &str, role: &str) {
        self.apply(
            "members",
            json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Member",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"email": email, "displayName": name, "role": role}}),
        )
        .await;
    }

    /// Writes a tenant's `status.billing` as the operator would.
    pub async fn billing_status(&self, tenant: &str, billing: Value) {
        dyn_api(&self.client, "tenants", None)
            .patch_status(
                tenant,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": {"billing": billing}})),
            )
            .await
            .expect("status written");
    }

    /// A tenant's `status.billing` as the Kubernetes API has it.
    pub async fn tenant_billing(&self, tenant: &str) -> Value {
        let t = dyn_api(&self.client, "tenants", None)
            .get(tenant)
            .await
            .expect("tenant");
        t.data["status"]["billing"].clone()
    }

    /// Waits until `check` holds.
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        // up to 30 s: localstripe delivers webhooks a second after the change, slower under load
        for _ in 0..600 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    pub async fn shutdown(self) {
        self.api.shutdown().await;
        self.sims.shutdown().await;
        self.dev.shutdown().await;
    }
}

fn dyn_api(client: &Client, plural: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: "dezky.io".into(),
        version: "v1alpha1".into(),
        api_version: "dezky.io/v1alpha1".into(),
        kind: String::new(),
        plural: plural.into(),
    };
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}
