//! The operator runtime: one kube-runtime `Controller` per kind sharing one [`Context`], the
//! reconcile wrapper and status writer, the error → requeue policy, metrics and health (with the
//! per-kind object index behind `dezky_objects` and `dezky_queue_depth`), leader election
//! through a Lease, and [`run`], the entry point of `dezky operator`.
//!
//! Start with [`start`] (tests: it returns a handle with the metrics address and `stop`), or
//! [`run`] (the binary: runs until Ctrl-C or SIGTERM).

pub mod context;
pub mod error;
pub mod index;
pub mod leader;
pub mod metrics;
pub mod namespace;
pub mod reconcile;
#[cfg(feature = "testing")]
pub mod testing;

use kube::Client;
use std::net::SocketAddr;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use context::{Context, Tuning};
pub use error::{ReconcileError, RuntimeError, error_policy, policy_for};
pub use metrics::{Health, Metrics};
pub use reconcile::{Managed, reconcile, settle_conditions, write_status};

use crate::config::{Config, Credentials};

/// What [`start`] needs.
pub struct RunOptions {
    /// The configuration.
    pub config: Config,
    /// The upstream credentials.
    pub credentials: Credentials,
    /// The Kubernetes client.
    pub client: Client,
    /// Backoff, jitter and reporter settings (tests shorten them).
    pub tuning: Tuning,
}

impl RunOptions {
    /// Options with the default tuning.
    pub fn new(config: Config, credentials: Credentials, client: Client) -> RunOptions {
        RunOptions {
            config,
            credentials,
            client,
            tuning: Tuning::default(),
        }
    }
}

/// A running operator.
#[derive(Debug)]
pub struct Operator {
    /// Where `/metrics`, `/healthz` and `/readyz` answer.
    pub metrics_address: SocketAddr,
    /// The operator's metrics.
    pub metrics: Metrics,
    /// Readiness.
    pub health: Health,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), RuntimeError>>,
    server: JoinHandle<()>,
}

impl Operator {
    /// Stops the controllers gracefully (releasing the Lease when leading) and waits.
    pub async fn stop(self) -> Result<(), RuntimeError> {
        // The receiver may already be gone when the operator ended by itself.
        let _ = self.stop.send(true);
        let result = self.task.await.unwrap_or(Ok(()));
        let _ = self.server.await;
        result
    }

    /// Ends the operator at once, as a crash would: nothing is released or written.
    pub fn kill(self) {
        self.task.abort();
        self.server.abort();
    }

    /// Waits until the operator ends by itself (an error), or forever.
    pub async fn wait(&mut self) -> Result<(), RuntimeError> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(RuntimeError::Setup {
                what: "the operator task".into(),
                reason: join.to_string(),
            }),
        }
    }
}

/// Starts the operator: checks the Kubernetes API is reachable, serves metrics and health,
/// and runs the controllers while this replica leads (always, without leader election).
pub async fn start(options: RunOptions) -> Result<Operator, RuntimeError> {
    let RunOptions {
        config,
        credentials,
        client,
        tuning,
    } = options;
    client
        .apiserver_version()
        .await
        .map_err(|source| RuntimeError::Kube {
            action: "reach the API server",
            source,
        })?;
    let metrics = Metrics::new();
    let health = Health::default();
    let (stop, stop_rx) = watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let (metrics_address, server) = metrics::serve(
        &config.operator.metrics_address,
        metrics.clone(),
        health.clone(),
        async move {
            let _ = server_stop.wait_for(|s| *s).await;
        },
    )
    .await?;
    // Fail early on a bad setting rather than when leadership arrives.
    let (_probe_tx, probe_rx) = watch::channel(true);
    drop(Context::new(
        config.clone(),
        &credentials,
        client.clone(),
        metrics.clone(),
        tuning.clone(),
        probe_rx,
    )?);
    let setup = leader::Setup {
        config,
        credentials,
        client,
        tuning,
        metrics: metrics.clone(),
        health: health.clone(),
    };
    let task = tokio::spawn(leader::lead(setup, stop_rx));
    tracing::info!(%metrics_address, "operator started");
    Ok(Operator {
        metrics_address,
        metrics,
        health,
        stop,
        task,
        server,
    })
}

/// Runs the operator until Ctrl-C or SIGTERM (`dezky operator --config FILE`).
pub async fn run(
    config: Config,
    credentials: Credentials,
    client: Client,
) -> Result<(), RuntimeError> {
    let mut operator = start(RunOptions::new(config, credentials, client)).await?;
    tokio::select! {
        result = operator.wait() => return result,
        () = termination() => {}
    }
    tracing::info!("stopping the operator");
    operator.stop().await
}

async fn termination() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
