//! The one Dezky binary: `dezky dev`, `dezky operator`, `dezky api`, `dezky crds`, and the
//! single parts of the dev platform, `dezky devcluster` and `dezky simulators`.

mod bench;
mod crds;
mod dev;
mod dns;
mod manifests;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Dezky control plane: a declarative reconciler for multi-tenant SSO, mail and files.
#[derive(Parser, Debug)]
#[command(name = "dezky", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the whole platform on this machine (embedded default).
    Dev(dev::DevArgs),
    /// Print the five CustomResourceDefinitions as YAML (or write one file each with --output-dir).
    Crds {
        /// Write `<plural>.dezky.io.yaml` files into this folder instead of printing.
        #[arg(long)]
        output_dir: Option<PathBuf>,
    },
    /// Run devcluster alone: an embedded Kubernetes-compatible API server (writes STATE_DIR/kubeconfig).
    Devcluster(dev::DevclusterArgs),
    /// Run the Authentik, Stalwart and OCIS simulators and the DNS server alone (writes STATE_DIR/simulators.json).
    Simulators(dev::SimulatorsArgs),
    /// Run the operator: the five controllers, against the cluster of the in-cluster service
    /// account or of KUBECONFIG.
    Operator {
        /// The configuration file (the Helm chart mounts it at /etc/dezky/config.yaml).
        #[arg(long, env = "DEZKY_CONFIG", default_value = "/etc/dezky/config.yaml")]
        config: PathBuf,
    },
    /// Benchmark the operator: N tenants x M members against the simulators with a set latency.
    Bench(bench::BenchArgs),
    /// Run the API server and web UI, against the cluster of the in-cluster service account or of KUBECONFIG.
    Api {
        /// The configuration file (its `api:` section).
        #[arg(long, env = "DEZKY_CONFIG", default_value = "/etc/dezky/config.yaml")]
        config: PathBuf,
    },
}

fn init_tracing() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("DEZKY_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// `dezky operator`: configuration and credentials are checked before anything starts.
async fn run_operator(config: &std::path::Path) -> anyhow::Result<()> {
    let config = dezky_operator::config::Config::load(config)?;
    let credentials = config.credentials(&|key| std::env::var(key).ok())?;
    let client = kube::Client::try_default().await?;
    dezky_operator::runtime::run(config, credentials, client).await?;
    Ok(())
}

/// `dezky api`: the stateless API server and web UI.
async fn run_api(config: &std::path::Path) -> anyhow::Result<()> {
    let config = dezky_api::ApiConfig::from_file(config)?;
    let client = kube::Client::try_default().await?;
    dezky_api::run(config, client).await?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds { output_dir } => crds::run(output_dir.as_deref()),
        command => {
            init_tracing();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async {
                match command {
                    Command::Dev(args) => dev::run(args).await,
                    Command::Devcluster(args) => dev::run_devcluster(args).await,
                    Command::Simulators(args) => dev::run_simulators(args).await,
                    Command::Operator { config } => run_operator(&config).await,
                    Command::Api { config } => run_api(&config).await,
                    Command::Bench(args) => bench::run(args).await,
                    Command::Crds { .. } => unreachable!("handled above"),
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
