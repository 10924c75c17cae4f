//! The platform of one UI test (devcluster, simulators, API server) and its headless browser.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use dezky_api::{ApiConfig, ApiServer};
use dezky_devcluster::{Devcluster, DevclusterOptions};
use dezky_simulators::runner::{self, SimulatorOptions, Simulators};
use fantoccini::ClientBuilder;
use fantoccini::{Client as Browser, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

const ADMINS: &str = "platform-admins";
pub const PASSWORD: &str = "correct-horse-battery-staple";

/// The platform one test runs against: devcluster, the simulators and the API server.
pub struct Platform {
    pub dev: Devcluster,
    pub sims: Simulators,
    pub api: ApiServer,
    pub client: Client,
    pub http: reqwest::Client,
    pub base: String,
    pub admins_group: String,
    pub state: tempfile::TempDir,
}

/// The platform and a headless browser.
pub struct Env {
    platform: Platform,
    driver: tokio::process::Child,
    pub browser: Browser,
}

impl std::ops::Deref for Env {
    type Target = Platform;
    fn deref(&self) -> &Platform {
        &self.platform
    }
}

impl Env {
    pub async fn start() -> Env {
        let platform = Platform::start().await;
        let (driver, browser) = start_browser(platform.state.path().join("chromium")).await;
        Env {
            platform,
            driver,
            browser,
        }
    }

    pub async fn shutdown(mut self) {
        let _ = self.browser.close().await;
        let _ = self.driver.kill().await;
        self.platform.shutdown().await;
    }
}

impl Platform {
    pub async fn start() -> Platform {
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
    groupsTtlSeconds: 1
"#,
            sims.info.oidc.console.issuer,
            sims.info.oidc.console.client_id,
            sims.info.oidc.portal.issuer,
            sims.info.oidc.portal.client_id,
        );
        let config = ApiConfig::from_yaml(&yaml, "test").expect("api config");
        let api = ApiServer::start(config, client.clone())
            .await
            .expect("api starts");
        let base = format!("http://{}", api.addr);
        wait_http_ok(&http, &format!("{base}/readyz")).await;
        Platform {
            dev,
            sims,
            api,
            client,
            http,
            base,
            admins_group,
            state,
        }
    }

    pub async fn shutdown(self) {
        self.api.shutdown().await;
        self.sims.shutdown().await;
        self.dev.shutdown().await;
    }

    /// An Authentik user with a password, optionally a platform admin.
    pub async fn person(&self, email: &str, admin: bool) {
        let groups: Vec<&str> = if admin {
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
        authentik(
            &self.http,
            &self.sims,
            reqwest::Method::POST,
            &format!("/api/v3/core/users/{pk}/set_password/"),
            json!({"password": PASSWORD}),
        )
        .await;
    }

    /// A tenant with its labelled namespace, as kubectl and the operator would leave it.
    pub async fn tenant(&self, name: &str, display: &str) {
        let ns_api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {
            "name": format!("tenant-{name}"),
            "labels": BTreeMap::from([("dezky.io/tenant", name)])}}))
        .expect("namespace");
        ns_api
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        self.apply(
            "tenants",
            None,
            json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
                   "spec": {"displayName": display, "plan": "business", "seats": 10,
                            "storageQuota": "10Gi", "mailboxQuota": "1Gi"}}),
        )
        .await;
    }

    /// A Member (its Authentik user too, when `person`).
    pub async fn member(&self, tenant: &str, name: &str, email: &str, role: &str) {
        self.apply(
            "members",
            Some(&format!("tenant-{tenant}")),
            json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Member",
                   "metadata": {"name": name, "namespace": format!("tenant-{tenant}")},
                   "spec": {"email": email, "displayName": name, "role": role}}),
        )
        .await;
    }

    pub async fn apply(&self, plural: &str, ns: Option<&str>, obj: Value) {
        let api = dyn_api(&self.client, plural, ns);
        let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
        let obj: kube::api::DynamicObject = serde_json::from_value(obj).expect("object");
        api.patch(
            &name,
            &PatchParams::apply("ui-test").force(),
            &Patch::Apply(&obj),
        )
        .await
        .expect("applied");
    }

    /// Writes an object's status as the operator would.
    pub async fn status(&self, plural: &str, ns: Option<&str>, name: &str, status: Value) {
        dyn_api(&self.client, plural, ns)
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await
            .expect("status written");
    }
}

impl Env {
    /// Signs in through the start page and the identity provider's login form.
    pub async fn sign_in(&self, button: &str, email: &str) {
        let b = &self.browser;
        b.goto(&format!("{}/ui/", self.base))
            .await
            .expect("start page");
        b.find(Locator::Css(button))
            .await
            .expect("sign-in button")
            .click()
            .await
            .expect("click sign in");
        let user = b
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("input[name=username]"))
            .await
            .expect("the identity provider's login form");
        user.send_keys(email).await.expect("type the username");
        b.find(Locator::Css("input[name=password]"))
            .await
            .expect("password field")
            .send_keys(PASSWORD)
            .await
            .expect("type the password");
        b.find(Locator::Css("form button[type=submit]"))
            .await
            .expect("log in button")
            .click()
            .await
            .expect("log in");
        b.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("header.topbar .user"))
            .await
            .expect("signed in: the top bar names the user");
    }

    /// Opens a tenant's members page, retrying while the API's cache has not yet seen the
    /// signed-in admin's Member (the cache follows a watch).
    pub async fn open_members(&self, tenant: &str) {
        for _ in 0..50 {
            self.browser
                .goto(&format!("{}/ui/t/{tenant}/members", self.base))
                .await
                .expect("members page");
            if self
                .browser
                .find(Locator::Id("create-member"))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the members page of {tenant} never opened");
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.browser.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
    }

    pub async fn source(&self) -> String {
        self.browser.source().await.expect("page source")
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("ui-screenshots")
}

fn dyn_api(client: &Client, plural: &str, ns: Option<&str>) -> Api<kube::api::DynamicObject> {
    let kind = match plural {
        "tenants" => "Tenant",
        "members" => "Member",
        other => panic!("unexpected plural {other}"),
    };
    let ar = kube::api::ApiResource {
        group: "dezky.io".into(),
        version: "v1alpha1".into(),
        api_version: "dezky.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

pub fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1})
}

async fn wait_http_ok(http: &reqwest::Client, url: &str) {
    for _ in 0..200 {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not become ready");
}

/// Starts chromedriver on a free port and a headless Chromium session with a fresh profile.
async fn start_browser(profile: PathBuf) -> (tokio::process::Child, Browser) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("addr").port()
    };
    let driver = tokio::process::Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts (run scripts/install-browser)");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_http_ok(&http, &format!("{url}/status")).await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--window-size=1280,900",
            format!("--user-data-dir={}", profile.display())]}),
    );
    // chromedriver speaks plain HTTP on loopback: no TLS connector needed
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a browser session");
    (driver, browser)
}

/// An Authentik REST call with the simulator's API token.
async fn authentik(
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
    assert!(status.is_success(), "authentik {path}: {status}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Waits until `script` (a JavaScript expression) is truthy in the page.
pub async fn wait_js(b: &Browser, what: &str, script: &str) {
    for _ in 0..150 {
        if let Ok(v) = b.execute(&format!("return !!({script});"), vec![]).await
            && v == Value::Bool(true)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}
