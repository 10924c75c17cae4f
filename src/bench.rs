//! `dezky bench`: the operator benchmark. Starts devcluster, the simulators (with latency injected
//! through their control API) and the operator in this process, creates N tenants with a verified
//! MailDomain and M members each, and prints cold-converge time beside its lower bound, upstream
//! reads and writes per object, the requests of a no-op resync (one resync interval of a running
//! operator over the converged objects, with the Kubernetes writes in it), those of a restart, and
//! memory per cached object.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::json;

use dezky_devcluster::Devcluster;
use dezky_operator::config::Config;
use dezky_operator::runtime::{Operator, RunOptions};
use dezky_simulators::control::RecordedRequest;
use dezky_simulators::runner::{SimulatorPorts, Simulators};

use crate::dev;
use crate::dns::{self, DnsControl};
use crate::manifests;

mod report;

use report::{Figures, ResyncWindow, print_report};

/// The field manager of everything `dezky bench` applies.
const FIELD_MANAGER: &str = "dezky-bench";
/// The upstreams the simulators count requests for.
const UPSTREAMS: [&str; 3] = ["authentik", "stalwart", "ocis"];
/// The kinds the benchmark creates, whose Ready condition ends the cold converge.
const KINDS: [&str; 3] = ["Tenant", "MailDomain", "Member"];
/// Every controller, as the operator's metrics name them.
const CONTROLLERS: [&str; 5] = ["partner", "tenant", "maildomain", "member", "ssoapp"];

/// Flags of `dezky bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// How many tenants (each with one verified MailDomain).
    #[arg(long, default_value_t = 5)]
    pub tenants: usize,
    /// How many members per tenant.
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Latency the simulators add to every upstream request, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pub latency_ms: u64,
    /// The operator's rate limit per upstream, in requests per second.
    #[arg(long, default_value_t = 100.0)]
    pub rps: f64,
    /// The operator's resync interval for the no-op resync measurement, in seconds (the window
    /// measured is one interval plus its jitter).
    #[arg(long, default_value_t = 5)]
    pub resync_secs: u64,
    /// A fresh (missing or empty) folder for devcluster's state; default a new temporary folder,
    /// removed afterwards.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

/// Reads and writes of one upstream.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ReadsWrites {
    reads: u64,
    writes: u64,
}

impl ReadsWrites {
    fn total(self) -> u64 {
        self.reads + self.writes
    }
}

/// Whether a JMAP request body changes anything: any `*/set`, `*/import` or `*/copy` call is a
/// write; a request of only `*/get`, `*/query`, `*/changes` calls is a read.
fn jmap_is_write(body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        // an unparsable body is counted as a write: the conservative side for a benchmark
        return true;
    };
    value["methodCalls"].as_array().is_some_and(|calls| {
        calls.iter().any(|call| {
            call[0].as_str().is_some_and(|name| {
                name.ends_with("/set") || name.ends_with("/import") || name.ends_with("/copy")
            })
        })
    })
}

/// Whether one recorded upstream request is a write. HTTP methods decide, except Stalwart's JMAP
/// endpoint, where every call is a POST and the JMAP method names decide.
fn is_write(request: &RecordedRequest) -> bool {
    if request.upstream == "stalwart" && request.path.starts_with("/jmap") {
        return request.method == "POST" && jmap_is_write(&request.body);
    }
    !matches!(
        request.method.as_str(),
        "GET" | "HEAD" | "OPTIONS" | "PROPFIND" | "REPORT"
    )
}

/// Reads and writes per upstream of the requests recorded since `since`, and the bytes of their
/// recorded bodies (held in this process, so subtracted from the memory figure).
fn classify(sims: &Simulators, since: usize) -> (BTreeMap<String, ReadsWrites>, u64) {
    let mut by_upstream: BTreeMap<String, ReadsWrites> = UPSTREAMS
        .iter()
        .map(|u| (u.to_string(), ReadsWrites::default()))
        .collect();
    let mut body_bytes = 0u64;
    for request in sims.control.recorded().iter().skip(since) {
        body_bytes += request.body.len() as u64;
        let entry = by_upstream.entry(request.upstream.clone()).or_default();
        if is_write(request) {
            entry.writes += 1;
        } else {
            entry.reads += 1;
        }
    }
    (by_upstream, body_bytes)
}

/// The simulators' control API over HTTP, as any script would drive it.
struct ControlApi {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl ControlApi {
    /// Adds `latency_ms` to every request of every upstream.
    async fn set_latency(&self, latency_ms: u64) -> anyhow::Result<()> {
        let faults: Vec<_> = UPSTREAMS
            .iter()
            .map(|u| json!({"upstream": u, "latencyMs": latency_ms}))
            .collect();
        let resp = self
            .http
            .put(format!("{}/control/v1/faults", self.url))
            .bearer_auth(&self.token)
            .json(&faults)
            .send()
            .await
            .context("failed to reach the simulators' control API")?;
        if !resp.status().is_success() {
            bail!("the control API answered {} to PUT faults", resp.status());
        }
        Ok(())
    }

    /// The total request count so far, over every upstream.
    async fn total_requests(&self) -> anyhow::Result<u64> {
        let resp = self
            .http
            .get(format!("{}/control/v1/requests", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .context("failed to reach the simulators' control API")?;
        if !resp.status().is_success() {
            bail!("the control API answered {} to GET requests", resp.status());
        }
        let body: serde_json::Value = resp.json().await?;
        body["total"]
            .as_u64()
            .context("the control API's request counts have no total")
    }

    /// Resets the request counts.
    async fn reset_requests(&self) -> anyhow::Result<()> {
        let resp = self
            .http
            .delete(format!("{}/control/v1/requests", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .context("failed to reach the simulators' control API")?;
        if !resp.status().is_success() {
            bail!(
                "the control API answered {} to DELETE requests",
                resp.status()
            );
        }
        Ok(())
    }
}

/// The resident set size of this process, in bytes (from /proc/self/status).
fn rss_bytes() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("failed to read /proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("/proc/self/status has no VmRSS line")?;
    Ok(kib * 1024)
}

/// The manifests of tenant `i`: its namespace, Tenant, MailDomain and `members` Members.
fn tenant_objects(i: usize, members: usize) -> anyhow::Result<Vec<DynamicObject>> {
    let tenant = format!("bench-{i}");
    let namespace = format!("tenant-{tenant}");
    let domain = format!("{tenant}.test");
    let mut values = vec![
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": namespace, "labels": {"dezky.io/tenant": tenant}}}),
        json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": tenant},
               "spec": {"displayName": format!("Bench {i}"), "plan": "business",
                        "seats": members + 1, "storageQuota": "10Gi", "mailboxQuota": "1Gi",
                        "billing": {"email": format!("billing@{domain}"), "company": format!("Bench {i}"), "country": "DE"}}}),
        json!({"apiVersion": "dezky.io/v1alpha1", "kind": "MailDomain",
               "metadata": {"name": tenant, "namespace": namespace},
               "spec": {"domain": domain, "primary": true, "dmarcPolicy": "quarantine"}}),
    ];
    for j in 0..members {
        values.push(json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Member",
            "metadata": {"name": format!("m{j}"), "namespace": namespace},
            "spec": {"email": format!("m{j}@{domain}"), "displayName": format!("Member {j}"),
                     "role": "member", "files": {"enabled": true, "role": "editor"}}}));
    }
    values
        .into_iter()
        .map(|v| serde_json::from_value(v).context("a benchmark manifest"))
        .collect()
}

/// How many of the benchmark's objects report Ready=True, and how many there are.
async fn count_ready(client: &Client) -> (usize, usize) {
    let (mut ready, mut total) = (0, 0);
    for kind in KINDS {
        let gvk = kube::core::GroupVersionKind::gvk(dezky_crds::GROUP, dezky_crds::VERSION, kind);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk));
        let Ok(list) = api.list(&ListParams::default()).await else {
            continue;
        };
        for obj in list {
            total += 1;
            let is_ready = obj.data["status"]["conditions"]
                .as_array()
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                });
            ready += usize::from(is_ready);
        }
    }
    (ready, total)
}

/// Waits until every object is Ready, publishing each domain's DNS records as its owner would.
async fn converge(
    client: &Client,
    control: &DnsControl,
    domains: &[String],
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut pass = 0u32;
    loop {
        let (ready, total) = count_ready(client).await;
        if ready == expected && total == expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "only {ready} of {expected} objects were Ready after {} s",
                timeout.as_secs()
            );
        }
        // every second, publish what the domains ask for (0 once they verify)
        if pass.is_multiple_of(4) {
            for domain in domains {
                if let Err(err) = dns::publish_domain(client, control, domain).await {
                    tracing::debug!("publishing {domain} failed (retrying): {err:#}");
                }
            }
        }
        pass += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Loads the dev configuration with the benchmark's rate limit and a free metrics port.
pub(crate) fn bench_config(path: &Path, rps: f64) -> anyhow::Result<Config> {
    let mut config = Config::load(path)?;
    for upstream in [
        &mut config.upstreams.authentik,
        &mut config.upstreams.stalwart,
        &mut config.upstreams.ocis,
    ] {
        upstream.rate_limit.requests_per_second = rps;
    }
    config.operator.metrics_address = "127.0.0.1:0".into();
    Ok(config)
}

/// Starts the operator; `resync` replaces the configured resync interval.
async fn start_operator(
    config_path: &Path,
    rps: f64,
    client: &Client,
    resync: Option<Duration>,
) -> anyhow::Result<Operator> {
    let mut config = bench_config(config_path, rps)?;
    if let Some(resync) = resync {
        config.operator.resync_interval = resync;
    }
    let credentials = config.credentials(&|key| std::env::var(key).ok())?;
    dezky_operator::runtime::start(RunOptions::new(config, credentials, client.clone()))
        .await
        .context("failed to start the operator")
}

/// Waits until the simulators have seen no request for `quiet`, at least `min` after the start.
async fn wait_quiet(control: &ControlApi, min: Duration, quiet: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut last = control.total_requests().await?;
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = control.total_requests().await?;
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet && start.elapsed() >= min {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("the operator did not settle within 120 s after a restart");
        }
    }
}

/// `dezky bench`.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.tenants == 0 || !args.rps.is_finite() || args.rps <= 0.0 || args.resync_secs == 0 {
        bail!("--tenants and --resync-secs must be at least 1 and --rps a positive number");
    }
    let (state_dir, remove_after) = match &args.state_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("dezky-bench-{}", std::process::id())),
            true,
        ),
    };
    if std::fs::read_dir(&state_dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: a cold converge needs a fresh state directory",
            state_dir.display()
        );
    }
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("failed to create {}", state_dir.display()))?;
    let result = bench(&args, &state_dir).await;
    if remove_after {
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    result
}

async fn bench(args: &BenchArgs, state_dir: &Path) -> anyhow::Result<()> {
    let objects = args.tenants * (2 + args.members);
    eprintln!(
        "starting devcluster, the simulators ({} ms latency) and creating {objects} objects",
        args.latency_ms
    );
    let cluster = dev::start_devcluster(state_dir, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let sims = dev::start_simulators(state_dir, SimulatorPorts::default()).await?;
    let result = measure(args, state_dir, &cluster, &sims, objects).await;
    sims.shutdown().await;
    cluster.shutdown().await;
    let figures = result?;
    let config = bench_config(&state_dir.join("config.yaml"), args.rps)?;
    print_report(args, &config, objects, &figures);
    Ok(())
}

/// Reconciles the operator has finished so far, every controller and outcome together.
fn reconciles(operator: &Operator) -> u64 {
    CONTROLLERS
        .iter()
        .map(|c| {
            operator.metrics.reconciles(c, "success") + operator.metrics.reconciles(c, "error")
        })
        .sum()
}

/// Waits until a fresh operator has reconciled every object once and the upstreams saw no
/// request for half a second.
async fn first_pass_done(
    operator: &Operator,
    control: &ControlApi,
    objects: usize,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = control.total_requests().await?;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = control.total_requests().await?;
        if reconciles(operator) >= objects as u64 && now == last {
            return Ok(());
        }
        last = now;
        if Instant::now() > deadline {
            bail!("the operator's first pass did not end within 120 s");
        }
    }
}

/// One resync interval of a running, settled operator over converged objects: waits the interval
/// plus its jitter, and longer until every object was reconciled at least once more (at most
/// three intervals); counts upstream requests, Kubernetes writes and reconciles in that window.
async fn resync_window(
    operator: &Operator,
    cluster: &Devcluster,
    sims: &Simulators,
    objects: usize,
    interval: Duration,
) -> anyhow::Result<ResyncWindow> {
    let recorded_before = sims.control.recorded().len();
    let writes_before = cluster.stats().writes;
    let reconciles_before = reconciles(operator);
    let started = Instant::now();
    // the operator's default tuning spreads each resync by up to 10 % of the interval
    let minimum = interval.mul_f64(1.1) + Duration::from_millis(500);
    let limit = interval * 3 + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let done = reconciles(operator) - reconciles_before;
        if started.elapsed() >= minimum && done >= objects as u64 {
            break;
        }
        if started.elapsed() > limit {
            bail!(
                "only {done} reconciles of {objects} objects in {} s with a {} s resync interval",
                limit.as_secs(),
                interval.as_secs()
            );
        }
    }
    let (requests, _) = classify(sims, recorded_before);
    Ok(ResyncWindow {
        secs: started.elapsed().as_secs_f64(),
        requests,
        kube_writes: cluster.stats().writes - writes_before,
        reconciles: reconciles(operator) - reconciles_before,
    })
}

async fn measure(
    args: &BenchArgs,
    state_dir: &Path,
    cluster: &Devcluster,
    sims: &Simulators,
    objects: usize,
) -> anyhow::Result<Figures> {
    let kubeconfig = cluster.kubeconfig_path();
    let kubeconfig = kubeconfig.as_path();
    let control = ControlApi {
        url: sims
            .info
            .simulator_control
            .url
            .trim_end_matches('/')
            .to_string(),
        token: sims.info.simulator_control.token.clone(),
        http: reqwest::Client::new(),
    };
    let dns_control = DnsControl {
        url: control.url.clone(),
        token: control.token.clone(),
    };
    control.set_latency(args.latency_ms).await?;

    let client = dezky_crds::cluster::client_from_kubeconfig(kubeconfig).await?;
    dezky_crds::cluster::install_crds(&client, FIELD_MANAGER).await?;
    let config_path =
        dev::write_dev_config(state_dir, &sims.info, dev::free_port()?, dev::free_port()?)?;

    // the operator starts over an empty cluster, so its fixed cost is not counted per object
    let operator = start_operator(&config_path, args.rps, &client, None).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // cold converge: the objects are created, nothing of them exists upstream
    control.reset_requests().await?;
    sims.control.record_bodies(true);
    let recorded_before = sims.control.recorded().len();
    let rss_before = rss_bytes()?;
    let started = Instant::now();
    let domains: Vec<String> = (0..args.tenants)
        .map(|i| format!("bench-{i}.test"))
        .collect();
    let timeout = Duration::from_secs(60 + 2 * objects as u64);
    let converged = async {
        for i in 0..args.tenants {
            for obj in tenant_objects(i, args.members)? {
                manifests::apply_object(&client, FIELD_MANAGER, &obj).await?;
            }
        }
        converge(&client, &dns_control, &domains, objects, timeout).await
    }
    .await;
    let cold_secs = started.elapsed().as_secs_f64();
    let rss_after = rss_bytes()?;
    let (cold, body_bytes) = classify(sims, recorded_before);
    if let Err(err) = converged {
        dev::stop_operator(operator).await;
        return Err(err);
    }
    eprintln!("converged in {cold_secs:.1} s; restarting the operator");

    // restart: a new operator visits every object once, finding nothing to do
    dev::stop_operator(operator).await;
    control.reset_requests().await?;
    let recorded_before = sims.control.recorded().len();
    let writes_before = cluster.stats().writes;
    let operator = start_operator(&config_path, args.rps, &client, None).await?;
    let settled = wait_quiet(&control, Duration::from_secs(3), Duration::from_secs(2)).await;
    let restart_counted = control.total_requests().await?;
    let (restart, _) = classify(sims, recorded_before);
    let restart_kube_writes = cluster.stats().writes - writes_before;
    dev::stop_operator(operator).await;
    settled?;

    // no-op resync: an operator with a short resync interval, once its first pass is done, is
    // watched for one interval
    let interval = Duration::from_secs(args.resync_secs);
    eprintln!(
        "measuring one {} s resync interval of a running operator",
        interval.as_secs()
    );
    let operator = start_operator(&config_path, args.rps, &client, Some(interval)).await?;
    let window = async {
        first_pass_done(&operator, &control, objects).await?;
        resync_window(&operator, cluster, sims, objects, interval).await
    }
    .await;
    sims.control.record_bodies(false);
    dev::stop_operator(operator).await;

    Ok(Figures {
        cold_secs,
        cold,
        resync: window?,
        resync_interval: interval,
        restart,
        restart_counted,
        restart_kube_writes,
        rss_delta: rss_after as i64 - rss_before as i64,
        body_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(upstream: &str, method: &str, path: &str, body: &str) -> RecordedRequest {
        RecordedRequest {
            upstream: upstream.into(),
            method: method.into(),
            path: path.into(),
            template: path.into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn jmap_reads_and_writes_are_told_by_method_names() {
        let read =
            r#"{"methodCalls": [["x:Principal/query", {}, "q"], ["x:Principal/get", {}, "g"]]}"#;
        let write =
            r#"{"methodCalls": [["x:Principal/get", {}, "g"], ["x:Principal/set", {}, "s"]]}"#;
        assert!(!is_write(&request("stalwart", "POST", "/jmap", read)));
        assert!(is_write(&request("stalwart", "POST", "/jmap", write)));
        assert!(!is_write(&request(
            "authentik",
            "GET",
            "/api/v3/core/groups/",
            ""
        )));
        assert!(is_write(&request(
            "authentik",
            "POST",
            "/api/v3/core/groups/",
            "{}"
        )));
        assert!(!is_write(&request("ocis", "PROPFIND", "/dav/spaces/x", "")));
    }
}
