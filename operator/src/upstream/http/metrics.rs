//! Prometheus metrics of the upstream requests, labelled by upstream, operation and outcome only.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OutcomeLabels {
    pub(super) upstream: &'static str,
    pub(super) operation: &'static str,
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OperationLabels {
    pub(super) upstream: &'static str,
    pub(super) operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CollectionLabels {
    pub(super) upstream: &'static str,
    pub(super) collection: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RefreshLabels {
    pub(super) upstream: &'static str,
    pub(super) collection: &'static str,
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct UpstreamLabels {
    pub(super) upstream: &'static str,
}

/// Prometheus metrics of the upstream requests, labelled by upstream, operation and outcome only.
///
/// Exported as `dezky_upstream_requests_total{upstream,operation,outcome}` (outcome is `success`
/// or an [`ErrorCategory`] label), `dezky_upstream_request_duration_seconds{upstream,operation}`,
/// `dezky_upstream_in_flight{upstream}` and `dezky_upstream_throttled_total{upstream}` (429s seen).
/// The in-memory snapshots of upstream collections export
/// `dezky_upstream_snapshot_objects{upstream,collection}`,
/// `dezky_upstream_snapshot_refreshes_total{upstream,collection,outcome}` (`success` or `error`)
/// and `dezky_upstream_snapshot_refresh_duration_seconds{upstream,collection}`.
#[derive(Clone, Debug)]
pub struct UpstreamMetrics {
    pub(super) requests: Family<OutcomeLabels, Counter>,
    pub(super) duration: Family<OperationLabels, Histogram>,
    pub(super) in_flight: Family<UpstreamLabels, Gauge>,
    pub(super) throttled: Family<UpstreamLabels, Counter>,
    snapshot_objects: Family<CollectionLabels, Gauge>,
    snapshot_refreshes: Family<RefreshLabels, Counter>,
    snapshot_duration: Family<CollectionLabels, Histogram>,
}

impl Default for UpstreamMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
            }),
            in_flight: Family::default(),
            throttled: Family::default(),
            snapshot_objects: Family::default(),
            snapshot_refreshes: Family::default(),
            snapshot_duration: Family::new_with_constructor(|| {
                Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
            }),
        }
    }
}

impl UpstreamMetrics {
    /// Creates the metrics and registers them (names prefixed `dezky_upstream_`). Create one set
    /// per registry and clone it into every upstream's [`UpstreamHttp`].
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "dezky_upstream_requests",
            "Upstream requests by outcome",
            metrics.requests.clone(),
        );
        registry.register(
            "dezky_upstream_request_duration_seconds",
            "Upstream request latency, each attempt",
            metrics.duration.clone(),
        );
        registry.register(
            "dezky_upstream_in_flight",
            "Upstream requests in flight",
            metrics.in_flight.clone(),
        );
        registry.register(
            "dezky_upstream_throttled",
            "Upstream 429 answers (the upstream is paused for Retry-After)",
            metrics.throttled.clone(),
        );
        registry.register(
            "dezky_upstream_snapshot_objects",
            "Objects held in the in-memory snapshot of an upstream collection",
            metrics.snapshot_objects.clone(),
        );
        registry.register(
            "dezky_upstream_snapshot_refreshes",
            "Full reloads of an upstream collection's snapshot, by outcome",
            metrics.snapshot_refreshes.clone(),
        );
        registry.register(
            "dezky_upstream_snapshot_refresh_duration_seconds",
            "Time to reload an upstream collection's snapshot, every page",
            metrics.snapshot_duration.clone(),
        );
        metrics
    }

    /// Sets the number of objects a snapshot holds.
    pub(crate) fn snapshot_objects(
        &self,
        upstream: &'static str,
        collection: &'static str,
        count: usize,
    ) {
        self.snapshot_objects
            .get_or_create(&CollectionLabels {
                upstream,
                collection,
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Counts one snapshot reload (`success` or `error`).
    pub(crate) fn snapshot_refreshed(
        &self,
        upstream: &'static str,
        collection: &'static str,
        outcome: &'static str,
    ) {
        self.snapshot_refreshes
            .get_or_create(&RefreshLabels {
                upstream,
                collection,
                outcome,
            })
            .inc();
    }

    /// Records how long a snapshot reload took.
    pub(crate) fn snapshot_refresh_duration(
        &self,
        upstream: &'static str,
        collection: &'static str,
        took: std::time::Duration,
    ) {
        self.snapshot_duration
            .get_or_create(&CollectionLabels {
                upstream,
                collection,
            })
            .observe(took.as_secs_f64());
    }

    /// Snapshot reloads counted so far for this upstream, collection and outcome (tests, diagnostics).
    pub fn snapshot_refreshes(
        &self,
        upstream: &'static str,
        collection: &'static str,
        outcome: &'static str,
    ) -> u64 {
        self.snapshot_refreshes
            .get_or_create(&RefreshLabels {
                upstream,
                collection,
                outcome,
            })
            .get()
    }

    /// Requests counted so far for this upstream, operation and outcome (tests, diagnostics).
    pub fn requests(
        &self,
        upstream: &'static str,
        operation: &'static str,
        outcome: &'static str,
    ) -> u64 {
        self.requests
            .get_or_create(&OutcomeLabels {
                upstream,
                operation,
                outcome,
            })
            .get()
    }
}
