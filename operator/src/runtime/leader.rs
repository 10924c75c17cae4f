//! Leader election through a Lease (kube-lease-manager): the controllers run only while this
//! replica holds the Lease, stop when it is lost, and start again when it comes back. Without
//! `operator.leaderElection` this process always leads (one replica, dev mode).

use std::sync::Arc;

use futures::future::join_all;
use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use rand::Rng;
use tokio::sync::watch;

use super::context::{Context, Tuning};
use super::error::RuntimeError;
use super::metrics::{Health, Metrics};
use crate::config::{Config, Credentials, LeaderElection};
use crate::controllers;

/// What the leading loop needs to build a fresh [`Context`] each time it leads.
pub(crate) struct Setup {
    pub config: Config,
    pub credentials: Credentials,
    pub client: Client,
    pub tuning: Tuning,
    pub metrics: Metrics,
    pub health: Health,
}

impl Setup {
    /// Runs every controller until `stop_controllers` turns true.
    async fn run_controllers(
        &self,
        stop_controllers: watch::Receiver<bool>,
    ) -> Result<(), RuntimeError> {
        let ctx = Arc::new(Context::new(
            self.config.clone(),
            &self.credentials,
            self.client.clone(),
            self.metrics.clone(),
            self.tuning.clone(),
            stop_controllers,
        )?);
        self.metrics.set_leader(true);
        self.health.set_ready(true);
        tracing::info!("leading: controllers started");
        // the metrics' object index watches while the controllers run, and ends with them
        let watches = async {
            super::index::watch_all(self.client.clone(), self.metrics.clone()).await;
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = join_all(controllers::all(ctx)) => {}
            () = watches => {}
        }
        self.metrics.clear_indexes();
        self.metrics.set_leader(false);
        tracing::info!("controllers stopped");
        Ok(())
    }
}

/// This replica's identity in the Lease: the Pod name when known, else the host name, with a
/// random suffix so two processes on one host never share it.
fn identity(tuning: &Tuning) -> String {
    let base = tuning
        .instance
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "dezky-operator".into());
    format!("{base}-{:08x}", rand::rng().random::<u32>())
}

/// Lease duration and grace in whole seconds, satisfying kube-lease-manager's rules
/// (both positive, grace below duration).
fn lease_params(le: &LeaderElection, identity: String) -> LeaseParams {
    let duration = le.lease_duration.as_secs().max(2);
    let renew = le.renew_deadline.as_secs().clamp(1, duration - 1);
    // The holder renews `grace` seconds before expiry: renewing by the deadline leaves
    // `duration - renew` seconds of grace.
    let grace = (duration - renew).clamp(1, duration - 1);
    LeaseParams::new(identity, duration, grace)
}

/// Runs the controllers until `stop` turns true (returns `true`), the lease is lost or they
/// end by themselves (returns `false`).
async fn run_until(
    setup: &Setup,
    stop: &mut watch::Receiver<bool>,
    leading: Option<&mut watch::Receiver<bool>>,
) -> Result<bool, RuntimeError> {
    let (tx, rx) = watch::channel(false);
    let run = setup.run_controllers(rx);
    tokio::pin!(run);
    let lost = async move {
        match leading {
            Some(leading) => {
                let _ = leading.wait_for(|l| !*l).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let (finished, stopping) = tokio::select! {
        result = &mut run => (Some(result), false),
        _ = stop.wait_for(|s| *s) => (None, true),
        () = lost => {
            tracing::warn!("lost the lease: stopping the controllers");
            (None, false)
        }
    };
    let result = match finished {
        Some(result) => result,
        None => {
            let _ = tx.send(true);
            run.await
        }
    };
    result.map(|()| stopping)
}

/// The leading loop: runs until `stop` turns true.
pub(crate) async fn lead(
    setup: Setup,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RuntimeError> {
    let Some(le) = setup.config.operator.leader_election.clone() else {
        return run_until(&setup, &mut stop, None).await.map(|_| ());
    };
    let identity = identity(&setup.tuning);
    let manager = LeaseManagerBuilder::new(setup.client.clone(), &le.lease_name)
        .with_namespace(&le.lease_namespace)
        .with_parameters(lease_params(&le, identity.clone()))
        .build()
        .await
        .map_err(|e| RuntimeError::Lease(e.to_string()))?;
    let (mut leading, lease_task) = manager.watch().await;
    // A standby is ready: it serves metrics and takes over when the leader stops.
    setup.health.set_ready(true);
    tracing::info!(%identity, lease = %le.lease_name, "waiting for the lease");
    let outcome = loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break Ok(()),
            changed = leading.wait_for(|l| *l) => {
                if changed.is_err() {
                    break Err(RuntimeError::Lease("the lease watcher stopped".into()));
                }
            }
        }
        match run_until(&setup, &mut stop, Some(&mut leading)).await {
            Ok(true) => break Ok(()),
            // Lost the lease, or the controllers ended by themselves: wait before trying again.
            Ok(false) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
            Err(e) => break Err(e),
        }
    };
    // Closing the channel makes the watcher release the Lease and end.
    drop(leading);
    match lease_task.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "failed to release the lease"),
        Err(e) => tracing::warn!(error = %e, "the lease task failed"),
    }
    outcome
}
