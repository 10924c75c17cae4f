//! The operator's Prometheus metrics (names prefixed `dezky_`, labels bounded: controller, kind,
//! ready, outcome, error category, upstream, operation) and the `/metrics`, `/healthz`, `/readyz`
//! server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;

use super::error::RuntimeError;
use super::index::KindIndex;
use crate::upstream::http::UpstreamMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    controller: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    controller: &'static str,
    category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    kind: String,
    ready: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// The `ready` label values of `dezky_objects`.
const READY_VALUES: [&str; 3] = ["True", "False", "Unknown"];

/// Every metric the operator exports. Cheap to clone (the families are shared).
#[derive(Clone, Debug)]
pub struct Metrics {
    reconciles: Family<OutcomeLabels, Counter>,
    objects: Family<ObjectLabels, Gauge>,
    suspended: Family<KindLabels, Gauge>,
    queue_depth: Family<ControllerLabels, Gauge>,
    /// Each controller's kind and index, by controller name.
    indexes: Arc<Mutex<HashMap<&'static str, (String, KindIndex)>>>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<ControllerLabels, Histogram>,
    in_flight: Family<ControllerLabels, Gauge>,
    in_backoff: Gauge,
    leader: Gauge,
    /// The upstream request metrics, shared with every upstream client.
    pub upstream: UpstreamMetrics,
    registry: Arc<Registry>,
}

impl Metrics {
    /// Creates and registers every metric in a fresh registry.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let upstream = UpstreamMetrics::register(&mut registry);
        let reconciles = Family::<OutcomeLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let duration = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
        });
        let in_flight = Family::<ControllerLabels, Gauge>::default();
        let in_backoff = Gauge::default();
        let leader = Gauge::default();
        registry.register(
            "dezky_reconciles",
            "Reconciles by controller and outcome (success or error)",
            reconciles.clone(),
        );
        registry.register(
            "dezky_reconcile_errors",
            "Failed reconciles by controller and error category",
            errors.clone(),
        );
        registry.register(
            "dezky_reconcile_duration_seconds",
            "Reconcile duration by controller",
            duration.clone(),
        );
        registry.register(
            "dezky_reconcile_in_flight",
            "Reconciles running now, by controller (the work queue being drained)",
            in_flight.clone(),
        );
        registry.register(
            "dezky_objects_in_backoff",
            "Objects waiting in per-object backoff after an error",
            in_backoff.clone(),
        );
        let objects = Family::<ObjectLabels, Gauge>::default();
        let suspended = Family::<KindLabels, Gauge>::default();
        let queue_depth = Family::<ControllerLabels, Gauge>::default();
        registry.register(
            "dezky_objects",
            "Dezky objects by kind and the status of their Ready condition (True, False, or Unknown, also before the first reconcile), as the leader's watch sees them",
            objects.clone(),
        );
        registry.register(
            "dezky_objects_suspended",
            "Dezky objects with spec.suspended true, by kind (Partner, Tenant, Member)",
            suspended.clone(),
        );
        registry.register(
            "dezky_queue_depth",
            "Objects of the controller's kind whose latest change, as the leader's watch delivered it, no reconcile has started on yet (the watch-triggered work queue; timer requeues and triggers from related kinds are not counted)",
            queue_depth.clone(),
        );
        registry.register(
            "dezky_leader",
            "1 while this replica leads and runs the controllers",
            leader.clone(),
        );
        Metrics {
            reconciles,
            objects,
            suspended,
            queue_depth,
            indexes: Arc::default(),
            errors,
            duration,
            in_flight,
            in_backoff,
            leader,
            upstream,
            registry: Arc::new(registry),
        }
    }

    /// Starts timing one reconcile of `controller`; the guard records duration and outcome on drop.
    pub fn reconcile(&self, controller: &'static str) -> ReconcileTimer {
        self.in_flight
            .get_or_create(&ControllerLabels { controller })
            .inc();
        ReconcileTimer {
            metrics: self.clone(),
            controller,
            start: Instant::now(),
            outcome: "error",
        }
    }

    /// Counts one failed reconcile by category.
    pub fn error(&self, controller: &'static str, category: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels {
                controller,
                category,
            })
            .inc();
    }

    /// Changes the index of `controller`'s kind `kind` with `change`, then sets its gauges.
    pub fn index(&self, controller: &'static str, kind: &str, change: impl FnOnce(&mut KindIndex)) {
        let mut indexes = self
            .indexes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (_, index) = indexes
            .entry(controller)
            .or_insert_with(|| (kind.to_string(), KindIndex::default()));
        change(index);
        let counts = index.counts();
        for ready in READY_VALUES {
            self.objects
                .get_or_create(&ObjectLabels {
                    kind: kind.to_string(),
                    ready,
                })
                .set(counts.by_ready.get(ready).copied().unwrap_or(0));
        }
        self.suspended
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .set(counts.suspended);
        self.queue_depth
            .get_or_create(&ControllerLabels { controller })
            .set(counts.pending);
    }

    /// Records that a reconcile of `key` (`Kind/namespace/name`) started on `version`.
    pub fn reconcile_started(
        &self,
        controller: &'static str,
        kind: &str,
        key: &str,
        version: &str,
    ) {
        self.index(controller, kind, |index| index.started(key, version));
    }

    /// Forgets every index and zeroes its gauges (this replica stopped leading).
    pub fn clear_indexes(&self) {
        let kinds: Vec<(&'static str, String)> = self
            .indexes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(controller, (kind, _))| (*controller, kind.clone()))
            .collect();
        for (controller, kind) in kinds {
            self.index(controller, &kind, |index| *index = KindIndex::default());
        }
    }

    /// The queue depth of `controller` now (tests, diagnostics).
    pub fn queue_depth(&self, controller: &'static str) -> i64 {
        self.queue_depth
            .get_or_create(&ControllerLabels { controller })
            .get()
    }

    /// How many objects of `kind` have `Ready` at `ready` now (tests, diagnostics).
    pub fn objects(&self, kind: &str, ready: &'static str) -> i64 {
        self.objects
            .get_or_create(&ObjectLabels {
                kind: kind.to_string(),
                ready,
            })
            .get()
    }

    /// Sets how many objects are backing off.
    pub fn set_in_backoff(&self, count: usize) {
        self.in_backoff
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Sets whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Whether this replica currently leads (tests, diagnostics).
    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    /// Reconciles counted so far (tests, diagnostics).
    pub fn reconciles(&self, controller: &'static str, outcome: &'static str) -> u64 {
        self.reconciles
            .get_or_create(&OutcomeLabels {
                controller,
                outcome,
            })
            .get()
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Records one reconcile's duration and outcome when dropped (`error` unless [`ReconcileTimer::succeeded`]).
#[derive(Debug)]
pub struct ReconcileTimer {
    metrics: Metrics,
    controller: &'static str,
    start: Instant,
    outcome: &'static str,
}

impl ReconcileTimer {
    /// Marks the reconcile as successful.
    pub fn succeeded(&mut self) {
        self.outcome = "success";
    }
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        let labels = ControllerLabels {
            controller: self.controller,
        };
        self.metrics
            .duration
            .get_or_create(&labels)
            .observe(self.start.elapsed().as_secs_f64());
        self.metrics.in_flight.get_or_create(&labels).dec();
        self.metrics
            .reconciles
            .get_or_create(&OutcomeLabels {
                controller: self.controller,
                outcome: self.outcome,
            })
            .inc();
    }
}

/// Readiness of this process: ready once it has reached the Kubernetes API and is either
/// leading with its controllers started or standing by.
#[derive(Debug, Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
}

impl Health {
    /// Marks the process ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct ServerState {
    metrics: Metrics,
    health: Health,
}

async fn metrics_handler(State(state): State<ServerState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

async fn readyz(State(state): State<ServerState>) -> impl IntoResponse {
    if state.health.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `address` (`127.0.0.1:0` picks a free port).
/// Returns the bound address and the server task.
pub async fn serve(
    address: &str,
    metrics: Metrics,
    health: Health,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, JoinHandle<()>), RuntimeError> {
    let serve_error = |source| RuntimeError::Serve {
        address: address.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(serve_error)?;
    let bound = listener.local_addr().map_err(serve_error)?;
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(ServerState { metrics, health });
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "the metrics server stopped");
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_bounded_dezky_metrics() {
        let metrics = Metrics::new();
        {
            let mut timer = metrics.reconcile("tenant");
            timer.succeeded();
        }
        drop(metrics.reconcile("tenant"));
        metrics.error("tenant", "unavailable");
        metrics.set_in_backoff(2);
        metrics.set_leader(true);
        metrics.index("tenant", "Tenant", |index| {
            index.seen("Tenant/-/acme", "5", "True", true);
            index.seen("Tenant/-/globex", "6", "Unknown", false);
        });
        metrics.reconcile_started("tenant", "Tenant", "Tenant/-/globex", "6");
        assert_eq!(metrics.queue_depth("tenant"), 1);
        assert_eq!(metrics.reconciles("tenant", "success"), 1);
        assert_eq!(metrics.reconciles("tenant", "error"), 1);
        assert!(metrics.is_leader());
        let text = metrics.encode();
        for expected in [
            "dezky_reconciles_total{controller=\"tenant\",outcome=\"success\"} 1",
            "dezky_reconcile_errors_total{controller=\"tenant\",category=\"unavailable\"} 1",
            "dezky_reconcile_duration_seconds_count{controller=\"tenant\"} 2",
            "dezky_reconcile_in_flight{controller=\"tenant\"} 0",
            "dezky_objects_in_backoff 2",
            "dezky_leader 1",
            "dezky_objects{kind=\"Tenant\",ready=\"True\"} 1",
            "dezky_objects{kind=\"Tenant\",ready=\"False\"} 0",
            "dezky_objects{kind=\"Tenant\",ready=\"Unknown\"} 1",
            "dezky_objects_suspended{kind=\"Tenant\"} 1",
            "dezky_queue_depth{controller=\"tenant\"} 1",
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
        assert!(
            text.lines()
                .all(|l| l.starts_with('#') || l.starts_with("dezky_") || l.is_empty())
        );
        metrics.clear_indexes();
        assert_eq!(metrics.queue_depth("tenant"), 0);
        assert_eq!(metrics.objects("Tenant", "True"), 0);
    }
}
