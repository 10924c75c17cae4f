//! `dezky dev`: the whole platform on one machine, and `dezky devcluster` / `dezky simulators`
//! to run one part alone. Each starts what this build has and says plainly what it does not.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use kube::Client;
use serde_json::json;

use dezky_api::{ApiConfig, ApiServer};
use dezky_devcluster::{Devcluster, DevclusterOptions};
use dezky_operator::config::Config;
use dezky_operator::runtime::{Operator, RunOptions};
use dezky_operator::upstream::authentik::{AuthentikClient, UnmanagedAccount};
use dezky_operator::upstream::http::{Secret, UpstreamLimits, UpstreamMetrics};
use dezky_simulators::runner::{SimulatorOptions, SimulatorPorts, Simulators, SimulatorsInfo};

use crate::dns::{self, DnsControl};
use crate::manifests;

mod upstreams;

use upstreams::UpstreamsFile;

/// The field manager of everything `dezky dev` applies.
const FIELD_MANAGER: &str = "dezky-dev";

/// Default ports of `dezky dev` (so bookmarks and kubeconfigs survive restarts); `--random-ports` picks free ones.
const DEVCLUSTER_PORT: u16 = 17443;
const SIMULATOR_PORTS: SimulatorPorts = SimulatorPorts {
    authentik: 17001,
    stalwart: 17002,
    ocis: 17003,
    control: 17009,
};
const API_PORT: u16 = 17080;
const OPERATOR_METRICS_PORT: u16 = 17100;

/// The platform operator `dezky dev` creates in the Authentik simulator, to log in to the console.
const DEV_OPERATOR: &str = "operator@dezky.test";
/// The Authentik group whose members are platform operators.
const PLATFORM_ADMINS: &str = "platform-admins";

/// Flags of `dezky dev`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DevArgs {
    /// Tools for a running `dezky dev`.
    #[command(subcommand)]
    pub command: Option<DevCommand>,
    /// Where devcluster's SQLite file, the kubeconfig and dev.json live; a restart keeps the state.
    #[arg(long, default_value = ".dezky")]
    pub state_dir: PathBuf,
    /// Listen on free ports instead of the defaults (devcluster 17443, simulators 17001-17009,
    /// console and API 17080, operator metrics 17100).
    #[arg(long)]
    pub random_ports: bool,
    /// Manifests applied once the platform is up (a file or a folder; not recursive).
    #[arg(long, default_value = "examples")]
    pub apply: PathBuf,
    /// Real Authentik, Stalwart and OCIS instead of the simulators: a YAML file shaped like
    /// dev.json's `upstreams` (url and token or username/password each), with an optional `oidc`
    /// section naming the console and portal applications to log in with.
    #[arg(long, value_name = "FILE")]
    pub upstreams: Option<PathBuf>,
    /// Billing on, against this Stripe-compatible server (e.g. a localstripe started with
    /// `scripts/localstripe start DIR`); its Plans for the dev catalogue are created when missing.
    /// Without it billing is off.
    #[arg(long, value_name = "URL")]
    pub stripe_url: Option<String>,
    /// The Stripe secret key for `--stripe-url` (else `DEZKY_STRIPE_API_KEY`; a dummy `sk_test_`
    /// key is used only when the URL is on this machine).
    #[arg(long, value_name = "KEY", requires = "stripe_url")]
    pub stripe_key: Option<String>,
}

/// Tools for a running `dezky dev`.
#[derive(clap::Subcommand, Debug)]
pub enum DevCommand {
    /// The dev DNS server.
    Dns {
        #[command(subcommand)]
        command: DnsCommand,
    },
}

/// `dezky dev dns ...`
#[derive(clap::Subcommand, Debug)]
pub enum DnsCommand {
    /// Publish every record a MailDomain's status asks for (ownership, MX, SPF, DKIM, DMARC) into the
    /// dev DNS server, as the domain's owner would, and ask the operator to check again.
    Publish {
        /// The domain, as in the MailDomain's spec.domain.
        domain: String,
        /// The state directory of the running `dezky dev`.
        #[arg(long, default_value = ".dezky")]
        state_dir: PathBuf,
    },
}

/// `dezky dev dns publish DOMAIN`: reads dev.json of the running platform.
async fn run_dns_publish(domain: &str, state_dir: &Path) -> anyhow::Result<()> {
    let path = state_dir.join("dev.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "failed to read {}: is `dezky dev --state-dir {}` running?",
            path.display(),
            state_dir.display()
        )
    })?;
    let dev: serde_json::Value = serde_json::from_str(&text)?;
    let kubeconfig = dev["kubeconfig"]
        .as_str()
        .context("dev.json has no kubeconfig")?;
    let control = DnsControl {
        url: dev["simulatorControl"]["url"]
            .as_str()
            .context("dev.json has no simulatorControl.url")?
            .to_string(),
        token: dev["simulatorControl"]["token"]
            .as_str()
            .context("dev.json has no simulatorControl.token")?
            .to_string(),
    };
    let client = dezky_crds::cluster::client_from_kubeconfig(Path::new(kubeconfig)).await?;
    let published = dns::publish_domain(&client, &control, domain).await?;
    if published == 0 {
        println!(
            "{domain}: every record already verifies (or the operator has not listed them yet)"
        );
    } else {
        println!("{domain}: published {published} records; the operator checks them again now");
    }
    Ok(())
}

/// Flags of `dezky devcluster`.
#[derive(Args, Debug)]
pub struct DevclusterArgs {
    /// Where the SQLite file, the CA, the token and the kubeconfig live.
    #[arg(long, default_value = ".dezky")]
    pub state_dir: PathBuf,
    /// Address to listen on (loopback; a port of 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Flags of `dezky simulators`.
#[derive(Args, Debug)]
pub struct SimulatorsArgs {
    /// Where simulators.json is written.
    #[arg(long, default_value = ".dezky")]
    pub state_dir: PathBuf,
}

pub(crate) async fn start_devcluster(
    state_dir: &Path,
    listen: SocketAddr,
) -> anyhow::Result<Devcluster> {
    let mut opts = DevclusterOptions::new(state_dir);
    opts.listen = listen;
    Devcluster::start(opts)
        .await
        .context("failed to start devcluster")
}

pub(crate) async fn start_simulators(
    state_dir: &Path,
    ports: SimulatorPorts,
) -> anyhow::Result<Simulators> {
    let opts = SimulatorOptions {
        state_dir: Some(state_dir.to_path_buf()),
        ports,
        ..Default::default()
    };
    dezky_simulators::runner::start(opts)
        .await
        .context("failed to start the simulators")
}

async fn ctrl_c() -> anyhow::Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("failed to listen for Ctrl-C")
}

/// `dezky devcluster`: the embedded Kubernetes API alone.
pub async fn run_devcluster(args: DevclusterArgs) -> anyhow::Result<()> {
    let cluster = start_devcluster(&args.state_dir, args.listen).await?;
    println!("devcluster serving at {}", cluster.url());
    println!("kubeconfig: {}", cluster.kubeconfig_path().display());
    println!(
        "try: kubectl --kubeconfig {} get namespaces",
        cluster.kubeconfig_path().display()
    );
    ctrl_c().await?;
    println!("stopping devcluster");
    cluster.shutdown().await;
    Ok(())
}

/// `dezky simulators`: the upstream simulators alone.
pub async fn run_simulators(args: SimulatorsArgs) -> anyhow::Result<()> {
    let sims = start_simulators(&args.state_dir, SimulatorPorts::default()).await?;
    println!("Authentik simulator: {}", sims.info.upstreams.authentik.url);
    println!("Stalwart simulator:  {}", sims.info.upstreams.stalwart.url);
    println!("OCIS simulator:      {}", sims.info.upstreams.ocis.url);
    println!("control API:         {}", sims.info.simulator_control.url);
    if let Some(path) = &sims.info_path {
        println!("endpoints and credentials: {}", path.display());
    }
    ctrl_c().await?;
    println!("stopping the simulators");
    sims.shutdown().await;
    Ok(())
}

/// The configuration file and credential files `dezky dev` writes for the operator and the API
/// server: the same shape the Helm chart renders, pointed at the simulators.
pub(crate) fn write_dev_config(
    state_dir: &Path,
    sims: &SimulatorsInfo,
    api_port: u16,
    metrics_port: u16,
) -> anyhow::Result<PathBuf> {
    let secrets = state_dir.join("secrets");
    std::fs::create_dir_all(&secrets)
        .with_context(|| format!("failed to create {}", secrets.display()))?;
    let up = &sims.upstreams;
    for (key, value) in [
        ("authentik-token", up.authentik.token.as_str()),
        ("stalwart-username", up.stalwart.username.as_str()),
        ("stalwart-password", up.stalwart.password.as_str()),
        ("ocis-username", up.ocis.username.as_str()),
        ("ocis-password", up.ocis.password.as_str()),
    ] {
        write_private(&secrets.join(key), value)?;
    }
    let public_url = format!("http://127.0.0.1:{api_port}");
    let config = json!({
        "installationId": "dev",
        "logging": {"level": "info", "format": "text"},
        "credentialsDir": secrets,
        "upstreams": {
            "authentik": {"url": up.authentik.url, "rateLimit": {"requestsPerSecond": 100, "maxInFlight": 8}},
            "stalwart": {"url": up.stalwart.url, "rateLimit": {"requestsPerSecond": 100, "maxInFlight": 8}},
            "ocis": {"url": up.ocis.url, "rateLimit": {"requestsPerSecond": 100, "maxInFlight": 8}},
        },
        "dns": {"resolvers": [sims.dns]},
        "plans": {
            "starter": {"displayName": "Starter", "maxSeats": 10, "storageQuota": "50Gi", "mailboxQuota": "2Gi"},
            "business": {"displayName": "Business", "maxSeats": 250, "storageQuota": "1Ti", "mailboxQuota": "10Gi"},
            "enterprise": {"displayName": "Enterprise", "maxSeats": 10000, "storageQuota": "10Ti", "mailboxQuota": "50Gi"},
        },
        "operator": {
            "concurrency": 4,
            "resyncInterval": "10m",
            "maxUpstreamDeletesPerMinute": 30,
            "metricsAddress": format!("127.0.0.1:{metrics_port}"),
        },
        "api": {
            "listenAddress": format!("127.0.0.1:{api_port}"),
            "publicUrl": public_url,
            "oidc": {
                "console": {"issuer": sims.oidc.console.issuer, "clientId": sims.oidc.console.client_id},
                "portal": {"issuer": sims.oidc.portal.issuer, "clientId": sims.oidc.portal.client_id},
                "platformAdminsGroup": PLATFORM_ADMINS,
            },
        },
    });
    let path = state_dir.join("config.yaml");
    let text = format!(
        "# Written by `dezky dev`: the chart's configuration shape, pointed at the simulators.\n{}",
        serde_yaml::to_string(&config)?
    );
    std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(path)
}

/// `--stripe-url`: billing on in the dev configuration (`upstreams.stripe`, a price per plan from
/// the dev catalogue), the key and a webhook secret in the credentials, and the catalogue's Plans
/// on the server (created when missing).
async fn enable_dev_billing(
    config_path: &Path,
    state_dir: &Path,
    url: &str,
    key: Option<&str>,
) -> anyhow::Result<()> {
    use dezky_operator::upstream::http::{Auth, UpstreamHttp};
    use dezky_operator::upstream::stripe::{StripeClient, dev_catalogue};
    let parsed =
        url::Url::parse(url).with_context(|| format!("--stripe-url {url:?} is not a URL"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    let env_key = std::env::var("DEZKY_STRIPE_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let key = match key.map(str::to_owned).or(env_key) {
        Some(key) => key,
        None if loopback => "sk_test_dezky_dev".to_owned(),
        None => anyhow::bail!(
            "--stripe-url {url} is not on this machine: pass --stripe-key or set DEZKY_STRIPE_API_KEY"
        ),
    };
    let secrets = state_dir.join("secrets");
    write_private(&secrets.join("stripe-api-key"), &key)?;
    let webhook_secret = secrets.join("stripe-webhook-secret");
    if !webhook_secret.exists() {
        let secret = format!("whsec_{}", dezky_simulators::authentik::random_key(32));
        write_private(&webhook_secret, &secret)?;
    }
    let mut config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(config_path)?)?;
    config["upstreams"]["stripe"] = serde_yaml::to_value(json!({
        "enabled": true,
        "url": url,
        "rateLimit": {"requestsPerSecond": 20, "maxInFlight": 4},
    }))?;
    let catalogue = dev_catalogue();
    for (plan, price) in &catalogue {
        config["plans"][*plan]["stripePriceId"] = price.id.clone().into();
    }
    let text = format!(
        "# Written by `dezky dev`: the chart's configuration shape, billing against {url}.\n{}",
        serde_yaml::to_string(&config)?
    );
    std::fs::write(config_path, text)
        .with_context(|| format!("failed to write {}", config_path.display()))?;
    let http = UpstreamHttp::new(
        "stripe",
        parsed,
        Auth::Bearer(Secret::new(key)),
        UpstreamLimits::default(),
        UpstreamMetrics::default(),
    )?;
    let prices: Vec<_> = catalogue.into_iter().map(|(_, price)| price).collect();
    let created = StripeClient::new(http)
        .ensure_catalogue(&prices)
        .await
        .with_context(|| format!("failed to prepare the plan catalogue on {url}"))?;
    println!(
        "      billing on against {url} ({} plans created, {} already there)",
        created.len(),
        prices.len() - created.len()
    );
    Ok(())
}

/// `--stripe-url` on localstripe: points its webhook at the API server's `/webhooks/stripe`, signed
/// with the dev credential `stripe-webhook-secret` (`POST /_config/webhooks/{id}`, see
/// scripts/localstripe). On the real Stripe, webhook endpoints are set up in its dashboard instead.
async fn register_dev_webhook(state_dir: &Path, stripe_url: &str, api: &str) -> anyhow::Result<()> {
    if dezky_api::billing::Dialect::for_base_url(stripe_url)
        != dezky_api::billing::Dialect::Localstripe
    {
        println!(
            "      register {api}/webhooks/stripe as a webhook endpoint in the Stripe dashboard"
        );
        return Ok(());
    }
    let path = state_dir.join("secrets").join("stripe-webhook-secret");
    let secret = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let endpoint = format!("{api}/webhooks/stripe");
    let response = reqwest::Client::new()
        .post(format!(
            "{}/_config/webhooks/dezky",
            stripe_url.trim_end_matches('/')
        ))
        .form(&[("url", endpoint.as_str()), ("secret", secret.trim())])
        .send()
        .await
        .with_context(|| format!("failed to reach {stripe_url} to register the webhook"))?;
    if !response.status().is_success() {
        anyhow::bail!(
            "{stripe_url} refused the webhook registration: {}",
            response.status()
        );
    }
    println!("      localstripe delivers its webhooks to {endpoint}");
    Ok(())
}

/// Writes a file only its owner can read (credentials, passwords).
fn write_private(path: &Path, value: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("failed to write {}", path.display()))?;
    file.write_all(value.as_bytes())?;
    Ok(())
}

/// Creates (or finds) the platform operator's Authentik user in the `platform-admins` group through
/// the simulator's REST API, as an administrator would in a real Authentik. Returns its password.
async fn ensure_platform_operator(
    sims: &SimulatorsInfo,
    state_dir: &Path,
) -> anyhow::Result<String> {
    let secrets = state_dir.join("secrets");
    std::fs::create_dir_all(&secrets)
        .with_context(|| format!("failed to create {}", secrets.display()))?;
    let password_file = secrets.join("dev-operator-password");
    let password = match std::fs::read_to_string(&password_file) {
        Ok(p) if !p.trim().is_empty() => p.trim().to_string(),
        _ => {
            let p = format!("Dev-{}", dezky_simulators::authentik::random_key(20));
            write_private(&password_file, &p)?;
            p
        }
    };
    let url = url::Url::parse(&sims.upstreams.authentik.url)
        .context("the Authentik simulator's URL is invalid")?;
    let authentik = AuthentikClient::new(
        &url,
        Secret::new(sims.upstreams.authentik.token.clone()),
        UpstreamLimits::default(),
        UpstreamMetrics::default(),
    )
    .context("failed to build the Authentik client")?;
    authentik
        .ensure_unmanaged_account(
            &UnmanagedAccount {
                username: DEV_OPERATOR,
                name: "Dev Operator",
                path: "dezky/operators",
                group: PLATFORM_ADMINS,
            },
            &Secret::new(password.clone()),
        )
        .await
        .context("failed to create the dev platform operator in the Authentik simulator")?;
    Ok(password)
}

/// The example members' one-time passwords, read from the credentials Secrets the operator wrote.
async fn member_logins(client: &Client) -> Vec<serde_json::Value> {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, ListParams};
    let members: Api<dezky_crds::Member> = Api::all(client.clone());
    let Ok(list) = members.list(&ListParams::default()).await else {
        return Vec::new();
    };
    let mut users = Vec::new();
    for member in list {
        let ns = member.metadata.namespace.clone().unwrap_or_default();
        let Some(secret_name) = member
            .status
            .as_ref()
            .and_then(|s| s.credentials_secret_ref.as_ref())
            .map(|r| r.name.clone())
        else {
            continue;
        };
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let Ok(secret) = secrets.get(&secret_name).await else {
            continue;
        };
        let Some(password) = secret
            .data
            .as_ref()
            .and_then(|d| d.get("password"))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        else {
            continue;
        };
        let (role, tenant) = if let Some(partner) = ns.strip_prefix("partner-") {
            ("partner", json!(partner))
        } else {
            let role = if member.spec.role == dezky_crds::member::MemberRole::Admin {
                "admin"
            } else {
                "member"
            };
            (role, json!(ns.strip_prefix("tenant-").unwrap_or(&ns)))
        };
        users.push(json!({"username": member.spec.email, "password": password, "role": role, "tenant": tenant}));
    }
    users
}

/// Waits (showing progress) until every Dezky object reports Ready=True, or `timeout` passes.
async fn wait_for_ready(
    client: &Client,
    timeout: std::time::Duration,
    control: &DnsControl,
    example_domains: &[String],
) -> (usize, usize) {
    use kube::api::{Api, DynamicObject, ListParams};
    use kube::discovery::ApiResource;
    let kinds = ["Partner", "Tenant", "MailDomain", "Member", "SsoApp"];
    let deadline = std::time::Instant::now() + timeout;
    let mut last = (0, 0);
    let mut pass = 0u32;
    loop {
        let (mut ready, mut total) = (0, 0);
        for kind in kinds {
            let gvk =
                kube::core::GroupVersionKind::gvk(dezky_crds::GROUP, dezky_crds::VERSION, kind);
            let resource = ApiResource::from_gvk(&gvk);
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
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
        if (ready, total) != last {
            println!("      {ready}/{total} objects Ready");
            last = (ready, total);
        }
        if ready == total || std::time::Instant::now() > deadline {
            return last;
        }
        // as the example domains' owners would: publish what their MailDomains ask for (every
        // few seconds, so the operator has time to check what was published before)
        pass += 1;
        if pass % 6 == 1 {
            match dns::publish_domains(client, control, example_domains).await {
                Ok(results) => {
                    for (domain, result) in results {
                        if let Err(err) = result {
                            eprintln!("      could not publish the records of {domain}: {err:#}");
                        }
                    }
                }
                Err(err) => eprintln!("      could not publish the example domains: {err:#}"),
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// `dezky dev`: devcluster, the CRDs, the simulators, the operator, the API server and the examples.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    if let Some(DevCommand::Dns {
        command: DnsCommand::Publish { domain, state_dir },
    }) = &args.command
    {
        return run_dns_publish(domain, state_dir).await;
    }
    let state_dir = &args.state_dir;
    let upstreams_file = args
        .upstreams
        .as_deref()
        .map(UpstreamsFile::load)
        .transpose()?;
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("failed to create {}", state_dir.display()))?;
    let (cluster_port, sim_ports, api_port, metrics_port) = if args.random_ports {
        (0, SimulatorPorts::default(), free_port()?, free_port()?)
    } else {
        (
            DEVCLUSTER_PORT,
            SIMULATOR_PORTS,
            API_PORT,
            OPERATOR_METRICS_PORT,
        )
    };

    println!(
        "[1/6] starting devcluster (state in {})",
        state_dir.display()
    );
    let cluster =
        start_devcluster(state_dir, SocketAddr::from(([127, 0, 0, 1], cluster_port))).await?;
    println!("      Kubernetes API at {}", cluster.url());

    match &args.upstreams {
        Some(path) => println!(
            "[2/6] using the Authentik, Stalwart and OCIS of {}; starting the DNS server",
            path.display()
        ),
        None => println!(
            "[2/6] starting the Authentik, Stalwart and OCIS simulators and the DNS server"
        ),
    }
    let sims = start_simulators(state_dir, sim_ports).await?;
    let info = match &upstreams_file {
        Some(file) => file.over(&sims.info),
        None => sims.info.clone(),
    };
    // the platform operator is created where logins happen: only the simulator is ours to change
    let operator_password = match &upstreams_file {
        Some(file) if !file.logs_in_at_the_simulator() => None,
        _ => Some(ensure_platform_operator(&sims.info, state_dir).await?),
    };

    println!("[3/6] installing the dezky.io CRDs");
    let client = dezky_crds::cluster::client_from_kubeconfig(&cluster.kubeconfig_path()).await?;
    dezky_crds::cluster::install_crds(&client, FIELD_MANAGER).await?;

    println!("[4/6] starting the operator and the API server");
    let config_path = write_dev_config(state_dir, &info, api_port, metrics_port)?;
    if let Some(url) = &args.stripe_url {
        enable_dev_billing(&config_path, state_dir, url, args.stripe_key.as_deref()).await?;
    }
    let config = Config::load(&config_path)?;
    let credentials = config.credentials(&|key| std::env::var(key).ok())?;
    let operator =
        dezky_operator::runtime::start(RunOptions::new(config, credentials, client.clone()))
            .await
            .context("failed to start the operator")?;
    let api = ApiServer::start(ApiConfig::from_file(&config_path)?, client.clone())
        .await
        .context("failed to start the API server")?;
    let console = format!("http://{}", api.addr);
    if let Some(url) = &args.stripe_url {
        register_dev_webhook(state_dir, url, &console).await?;
    }

    println!("[5/6] applying {}", args.apply.display());
    let applied = manifests::apply_path(&client, FIELD_MANAGER, &args.apply).await?;
    println!("      {} objects applied", applied.len());

    println!(
        "[6/6] waiting for the examples to converge (publishing their domains' DNS records as their owners would)"
    );
    let control = DnsControl {
        url: sims.info.simulator_control.url.clone(),
        token: sims.info.simulator_control.token.clone(),
    };
    let example_domains = example_domains(&args.apply)?;
    let (ready, total) = wait_for_ready(
        &client,
        std::time::Duration::from_secs(90),
        &control,
        &example_domains,
    )
    .await;

    let mut users: Vec<serde_json::Value> = operator_password
        .iter()
        .map(|password| json!({"username": DEV_OPERATOR, "password": password, "role": "operator", "tenant": null}))
        .collect();
    users.extend(member_logins(&client).await);
    let dev_json = json!({
        "kubeconfig": cluster.kubeconfig_path(),
        "console": console,
        "api": console,
        "metrics": {"operator": format!("http://{}/metrics", operator.metrics_address), "api": format!("{console}/metrics")},
        "upstreams": info.upstreams,
        "simulatorControl": info.simulator_control,
        "dns": info.dns,
        "oidc": info.oidc,
        "users": users,
    });
    let dev_json_path = state_dir.join("dev.json");
    write_private(&dev_json_path, &serde_json::to_string_pretty(&dev_json)?)?;

    let kubeconfig = cluster.kubeconfig_path();
    println!();
    println!("Dezky dev is up ({ready}/{total} objects Ready).");
    println!("  console and portal: {console}");
    if operator_password.is_some() {
        println!(
            "  log in as:          {DEV_OPERATOR} (platform operator; password in {})",
            dev_json_path.display()
        );
    } else {
        println!(
            "  log in as:          a member of `{PLATFORM_ADMINS}` in your Authentik (console), or an example member (portal; passwords in {})",
            dev_json_path.display()
        );
    }
    println!("  kubeconfig:         {}", kubeconfig.display());
    println!(
        "  try:                kubectl --kubeconfig {} get dezky -A",
        kubeconfig.display()
    );
    println!(
        "  operator metrics:   http://{}/metrics",
        operator.metrics_address
    );
    println!("  Authentik:          {}", info.upstreams.authentik.url);
    println!(
        "  for scripts:        {} (users and passwords, endpoints, credentials)",
        dev_json_path.display()
    );
    println!();
    println!(
        "Ctrl-C stops everything; the state in {} is kept for the next start.",
        state_dir.display()
    );
    ctrl_c().await?;
    println!("stopping");
    api.shutdown().await;
    stop_operator(operator).await;
    sims.shutdown().await;
    cluster.shutdown().await;
    Ok(())
}

pub(crate) async fn stop_operator(operator: Operator) {
    if let Err(err) = operator.stop().await {
        eprintln!("the operator stopped with an error: {err}");
    }
}

/// The `spec.domain` of every MailDomain in the applied manifests.
fn example_domains(path: &Path) -> anyhow::Result<Vec<String>> {
    let mut domains = Vec::new();
    for file in manifests::manifest_files(path)? {
        let text = std::fs::read_to_string(&file)?;
        for obj in manifests::parse_documents(&text)? {
            let is_domain = obj.types.as_ref().is_some_and(|t| t.kind == "MailDomain");
            if let Some(domain) = obj.data["spec"]["domain"].as_str().filter(|_| is_domain) {
                domains.push(domain.to_string());
            }
        }
    }
    Ok(domains)
}

/// A free loopback port (for `--random-ports` where the server needs to know its port up front).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}
