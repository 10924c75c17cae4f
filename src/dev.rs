//! `dezky dev`: the whole platform on one machine, and `dezky devcluster` / `dezky simulators`
//! to run one part alone. Each starts what this build has and says plainly what it does not.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

use dezky_devcluster::{Devcluster, DevclusterOptions};
use dezky_simulators::runner::{SimulatorOptions, SimulatorPorts, Simulators};

use crate::manifests;

/// The field manager of everything `dezky dev` applies.
const FIELD_MANAGER: &str = "dezky-dev";

/// Default ports of `dezky dev` (so bookmarks and kubeconfigs survive restarts); `--random-ports` picks free ones.
const DEVCLUSTER_PORT: u16 = 17443;
const SIMULATOR_PORTS: SimulatorPorts = SimulatorPorts { authentik: 17001, stalwart: 17002, ocis: 17003, control: 17009 };

/// Parts of the platform this build does not have yet; `dezky dev` names them instead of pretending.
const NOT_YET_BUILT: &[&str] = &[
    "operator (the controllers that provision Authentik, Stalwart and OCIS)",
    "api-server and web UI (console and portal)",
];

/// Flags of `dezky dev`.
#[derive(Args, Debug)]
pub struct DevArgs {
    /// Where devcluster's SQLite file, the kubeconfig and dev.json live; a restart keeps the state.
    #[arg(long, default_value = ".dezky")]
    pub state_dir: PathBuf,
    /// Listen on free ports instead of the defaults (devcluster 17443, simulators 17001-17009).
    #[arg(long)]
    pub random_ports: bool,
    /// Manifests applied once the platform is up (a file or a folder; not recursive).
    #[arg(long, default_value = "examples")]
    pub apply: PathBuf,
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

async fn start_devcluster(state_dir: &Path, listen: SocketAddr) -> anyhow::Result<Devcluster> {
    let mut opts = DevclusterOptions::new(state_dir);
    opts.listen = listen;
    Devcluster::start(opts).await.context("failed to start devcluster")
}

async fn start_simulators(state_dir: &Path, ports: SimulatorPorts) -> anyhow::Result<Simulators> {
    let opts = SimulatorOptions { state_dir: Some(state_dir.to_path_buf()), ports, ..Default::default() };
    dezky_simulators::runner::start(opts).await.context("failed to start the simulators")
}

/// A kube client from a kubeconfig file, exactly as the operator builds one.
pub async fn client_from_kubeconfig(path: &Path) -> anyhow::Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path).with_context(|| format!("failed to read {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

async fn ctrl_c() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("failed to listen for Ctrl-C")
}

/// `dezky devcluster`: the embedded Kubernetes API alone.
pub async fn run_devcluster(args: DevclusterArgs) -> anyhow::Result<()> {
    let cluster = start_devcluster(&args.state_dir, args.listen).await?;
    println!("devcluster serving at {}", cluster.url());
    println!("kubeconfig: {}", cluster.kubeconfig_path().display());
    println!("try: kubectl --kubeconfig {} get namespaces", cluster.kubeconfig_path().display());
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

/// `dezky dev`: devcluster, the CRDs, the simulators and the example manifests.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let state_dir = &args.state_dir;
    std::fs::create_dir_all(state_dir).with_context(|| format!("failed to create {}", state_dir.display()))?;
    let (cluster_port, sim_ports) =
        if args.random_ports { (0, SimulatorPorts::default()) } else { (DEVCLUSTER_PORT, SIMULATOR_PORTS) };

    println!("[1/4] starting devcluster (state in {})", state_dir.display());
    let cluster = start_devcluster(state_dir, SocketAddr::from(([127, 0, 0, 1], cluster_port))).await?;
    println!("      Kubernetes API at {}", cluster.url());

    println!("[2/4] starting the Authentik, Stalwart and OCIS simulators and the DNS server");
    let sims = start_simulators(state_dir, sim_ports).await?;

    println!("[3/4] installing the dezky.io CRDs");
    let client = client_from_kubeconfig(&cluster.kubeconfig_path()).await?;
    manifests::install_crds(&client, FIELD_MANAGER).await?;

    println!("[4/4] applying {}", args.apply.display());
    let applied = manifests::apply_path(&client, FIELD_MANAGER, &args.apply).await?;
    println!("      {} objects applied", applied.len());

    let dev_json = json!({
        "kubeconfig": cluster.kubeconfig_path(),
        "console": null,
        "api": null,
        "metrics": {"operator": null, "api": null},
        "upstreams": sims.info.upstreams,
        "simulatorControl": sims.info.simulator_control,
        "dns": sims.info.dns,
        "oidc": sims.info.oidc,
        "users": [],
    });
    let dev_json_path = state_dir.join("dev.json");
    std::fs::write(&dev_json_path, serde_json::to_vec_pretty(&dev_json)?)
        .with_context(|| format!("failed to write {}", dev_json_path.display()))?;

    let kubeconfig = cluster.kubeconfig_path();
    println!();
    println!("Dezky dev is up.");
    println!("  kubeconfig:  {}", kubeconfig.display());
    println!("  try:         kubectl --kubeconfig {} get dezky -A", kubeconfig.display());
    println!("  Authentik:   {}", sims.info.upstreams.authentik.url);
    println!("  Stalwart:    {}", sims.info.upstreams.stalwart.url);
    println!("  OCIS:        {}", sims.info.upstreams.ocis.url);
    println!("  for scripts: {}", dev_json_path.display());
    println!();
    println!("Not in this build yet, so nothing converges to Ready and there is no console to log in to:");
    for part in NOT_YET_BUILT {
        println!("  - {part}");
    }
    println!();
    println!("Ctrl-C stops everything; the state in {} is kept for the next start.", state_dir.display());
    ctrl_c().await?;
    println!("stopping");
    sims.shutdown().await;
    cluster.shutdown().await;
    Ok(())
}
