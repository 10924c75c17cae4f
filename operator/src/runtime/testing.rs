//! The system-test harness (feature `testing`): a devcluster with the Dezky CRDs, the
//! upstream simulators, and the operator running against both over real HTTP, plus the
//! readers tests check them with (state dumps and request counts through the simulators'
//! control API, devcluster's write counters).

use std::time::{Duration, Instant};

use crate::backoff::BackoffPolicy;
use crate::config::{Config, Credentials};
use crate::runtime::{self, Operator, RunOptions, Tuning};
use dezky_devcluster::{Devcluster, DevclusterOptions};
use dezky_simulators::runner::{SimulatorOptions, Simulators};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Everything a system test needs. Dropped at the end of the test (each test is its own process).
pub struct Harness {
    pub cluster: Devcluster,
    pub client: Client,
    pub sims: Simulators,
    pub operator: Option<Operator>,
    pub resync: &'static str,
    _state: tempfile::TempDir,
    http: reqwest::Client,
}

/// The field manager tests apply objects with (as a user's kubectl would).
pub const USER: &str = "test-user";

impl Harness {
    /// A devcluster with the CRDs installed and the simulators running; no operator yet.
    pub async fn start() -> Harness {
        Self::start_with_resync("30s").await
    }

    /// Like [`Harness::start`], with the operator's resync interval (a Go duration).
    pub async fn start_with_resync(resync: &'static str) -> Harness {
        let state = tempfile::tempdir().expect("temp dir");
        let cluster = Devcluster::start(DevclusterOptions::new(state.path().join("cluster")))
            .await
            .expect("devcluster starts");
        let client = dezky_crds::cluster::client_from_kubeconfig(&cluster.kubeconfig_path())
            .await
            .expect("kube client");
        install_crds(&client).await;
        let sims = dezky_simulators::runner::start(SimulatorOptions::default())
            .await
            .expect("simulators start");
        Harness {
            cluster,
            client,
            sims,
            operator: None,
            resync,
            _state: state,
            http: reqwest::Client::new(),
        }
    }

    /// The operator configuration pointing at the simulators.
    pub fn config(&self) -> Config {
        let up = &self.sims.info.upstreams;
        let text = format!(
            r#"
installationId: test
upstreams:
  authentik: {{ url: "{}", rateLimit: {{ requestsPerSecond: 500, maxInFlight: 8 }} }}
  stalwart: {{ url: "{}", rateLimit: {{ requestsPerSecond: 500, maxInFlight: 8 }} }}
  ocis: {{ url: "{}", rateLimit: {{ requestsPerSecond: 500, maxInFlight: 8 }} }}
dns:
  resolvers: ["{}"]
operator:
  concurrency: 4
  resyncInterval: {}
  metricsAddress: "127.0.0.1:0"
"#,
            up.authentik.url, up.stalwart.url, up.ocis.url, self.sims.info.dns, self.resync
        );
        Config::parse(&text).expect("test config")
    }

    /// The simulators' credentials, as the environment would give them.
    pub fn credentials(&self, config: &Config) -> Credentials {
        let up = self.sims.info.upstreams.clone();
        config
            .credentials(&move |key: &str| match key {
                "DEZKY_AUTHENTIK_TOKEN" => Some(up.authentik.token.clone()),
                "DEZKY_STALWART_USERNAME" => Some(up.stalwart.username.clone()),
                "DEZKY_STALWART_PASSWORD" => Some(up.stalwart.password.clone()),
                "DEZKY_OCIS_USERNAME" => Some(up.ocis.username.clone()),
                "DEZKY_OCIS_PASSWORD" => Some(up.ocis.password.clone()),
                _ => None,
            })
            .expect("credentials")
    }

    /// Starts an operator (short backoff).
    pub async fn start_operator(&mut self) {
        let operator = self.spawn_operator(|_| {}).await;
        self.operator = Some(operator);
    }

    /// Starts one more operator, its configuration changed by `adjust` (e.g. leader election),
    /// and hands it to the caller.
    pub async fn spawn_operator(&self, adjust: impl FnOnce(&mut Config)) -> Operator {
        let mut config = self.config();
        adjust(&mut config);
        let credentials = self.credentials(&config);
        let mut options = RunOptions::new(config, credentials, self.client.clone());
        options.tuning = Tuning {
            backoff: BackoffPolicy {
                base: Duration::from_millis(200),
                max: Duration::from_secs(2),
                jitter: 0.2,
            },
            ..Tuning::default()
        };
        runtime::start(options).await.expect("operator starts")
    }

    /// Stops the operator gracefully.
    pub async fn stop_operator(&mut self) {
        if let Some(op) = self.operator.take() {
            op.stop().await.expect("operator stops cleanly");
        }
    }

    /// Server-side applies a manifest as the user.
    pub async fn apply<K>(&self, api: &Api<K>, name: &str, manifest: Value)
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        api.patch(
            name,
            &PatchParams::apply(USER).force(),
            &Patch::Apply(&manifest),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {name}: {e}"));
    }

    /// Polls `api.get(name)` until `check` holds, or panics after `timeout` with the last object.
    pub async fn wait_for<K, F>(&self, api: &Api<K>, name: &str, timeout: Duration, check: F) -> K
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
        F: Fn(&K) -> bool,
    {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Ok(Some(obj)) = api.get_opt(name).await {
                if check(&obj) {
                    return obj;
                }
                last = Some(obj);
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {name}; last seen: {last:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls until `name` is gone.
    pub async fn wait_gone<K>(&self, api: &Api<K>, name: &str, timeout: Duration)
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let deadline = Instant::now() + timeout;
        loop {
            match api.get_opt(name).await {
                Ok(None) => return,
                Ok(Some(obj)) if Instant::now() > deadline => {
                    panic!("{name} still exists: {obj:#?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// An upstream's state, read through the simulators' control API.
    pub async fn dump(&self, upstream: &str) -> Value {
        let control = &self.sims.info.simulator_control;
        self.http
            .get(format!(
                "{}/control/v1/state/{upstream}",
                control.url.trim_end_matches('/')
            ))
            .bearer_auth(&control.token)
            .send()
            .await
            .expect("control API answers")
            .error_for_status()
            .expect("dump")
            .json()
            .await
            .expect("dump JSON")
    }

    /// Requests counted by the simulators, read through their control API: (writes, total).
    /// A write is any request but GET/HEAD.
    pub async fn upstream_requests(&self) -> (u64, u64) {
        let control = &self.sims.info.simulator_control;
        let body: Value = self
            .http
            .get(format!(
                "{}/control/v1/requests",
                control.url.trim_end_matches('/')
            ))
            .bearer_auth(&control.token)
            .send()
            .await
            .expect("control API answers")
            .json()
            .await
            .expect("requests JSON");
        let mut writes = 0;
        let mut total = 0;
        for r in body["requests"].as_array().cloned().unwrap_or_default() {
            let count = r["count"].as_u64().unwrap_or(0);
            total += count;
            let method = r["method"].as_str().unwrap_or("");
            if !matches!(method, "GET" | "HEAD") {
                writes += count;
            }
        }
        (writes, total)
    }

    /// Adds a fault through the control API.
    pub async fn add_fault(&self, fault: Value) {
        let control = &self.sims.info.simulator_control;
        self.http
            .post(format!(
                "{}/control/v1/faults",
                control.url.trim_end_matches('/')
            ))
            .bearer_auth(&control.token)
            .json(&fault)
            .send()
            .await
            .expect("control API answers")
            .error_for_status()
            .expect("fault accepted");
    }

    /// Clears every fault through the control API.
    pub async fn clear_faults(&self) {
        let control = &self.sims.info.simulator_control;
        self.http
            .delete(format!(
                "{}/control/v1/faults",
                control.url.trim_end_matches('/')
            ))
            .bearer_auth(&control.token)
            .send()
            .await
            .expect("control API answers")
            .error_for_status()
            .expect("faults cleared");
    }

    /// Reconciles of `controller` counted by the running operator's metrics.
    pub fn reconciles(&self, controller: &'static str) -> u64 {
        let op = self.operator.as_ref().expect("operator running");
        op.metrics.reconciles(controller, "success") + op.metrics.reconciles(controller, "error")
    }
}

/// Installs the Dezky CRDs and waits until they are established.
pub async fn install_crds(client: &Client) {
    dezky_crds::cluster::install_crds(client, "dezky-test")
        .await
        .expect("the CRDs are installed");
}

/// The status of condition `type_` (`"True"`, `"False"`, `"Unknown"`) and its reason.
pub fn condition(
    conditions: &[dezky_crds::Condition],
    type_: &str,
) -> Option<(String, String, String)> {
    conditions.iter().find(|c| c.type_ == type_).map(|c| {
        let status = serde_json::to_value(c.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        (status, c.reason.clone(), c.message.clone())
    })
}

/// True when `Ready` is `True` for the object's current generation.
pub fn is_ready(conditions: &[dezky_crds::Condition], generation: Option<i64>) -> bool {
    conditions.iter().any(|c| {
        c.type_ == "Ready"
            && c.status == dezky_crds::ConditionStatus::True
            && c.observed_generation == generation
    })
}

/// Groups in an Authentik dump whose name starts with `prefix`.
pub fn authentik_groups(dump: &Value, prefix: &str) -> Vec<Value> {
    dump["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|g| g["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .collect()
}
