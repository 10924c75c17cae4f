//! The report of `dezky bench`: the lower bound of a cold converge and the table of figures.

use std::collections::BTreeMap;
use std::time::Duration;

use dezky_operator::config::Config;

use super::{BenchArgs, ReadsWrites};

/// One resync interval of a running operator over converged objects.
pub(super) struct ResyncWindow {
    /// How long the window lasted.
    pub(super) secs: f64,
    pub(super) requests: BTreeMap<String, ReadsWrites>,
    /// Object changes devcluster committed in the window.
    pub(super) kube_writes: u64,
    /// Reconciles finished in the window.
    pub(super) reconciles: u64,
}

/// The figures of one run.
pub(super) struct Figures {
    pub(super) cold_secs: f64,
    pub(super) cold: BTreeMap<String, ReadsWrites>,
    pub(super) resync: ResyncWindow,
    pub(super) resync_interval: Duration,
    pub(super) restart: BTreeMap<String, ReadsWrites>,
    pub(super) restart_counted: u64,
    pub(super) restart_kube_writes: u64,
    pub(super) rss_delta: i64,
    pub(super) body_bytes: u64,
}

/// The lower bound of a phase that made `requests` to one upstream: neither the rate limit nor
/// `max_in_flight` requests of `latency` each can be beaten.
fn lower_bound_secs(requests: u64, rps: f64, max_in_flight: usize, latency_ms: u64) -> f64 {
    let by_rate = requests as f64 / rps.max(f64::MIN_POSITIVE);
    let by_latency = requests as f64 * latency_ms as f64 / 1000.0 / max_in_flight.max(1) as f64;
    by_rate.max(by_latency)
}

fn per_object(count: u64, objects: usize) -> f64 {
    count as f64 / objects.max(1) as f64
}

/// Prints the per-upstream table, the figures and how they were counted.
pub(super) fn print_report(args: &BenchArgs, config: &Config, objects: usize, f: &Figures) {
    let limits = [
        ("authentik", &config.upstreams.authentik.rate_limit),
        ("stalwart", &config.upstreams.stalwart.rate_limit),
        ("ocis", &config.upstreams.ocis.rate_limit),
    ];
    let mut bound = 0f64;
    println!(
        "dezky bench: {} tenants x {} members ({objects} objects: {} tenants, {} mail domains, {} members), {} ms upstream latency",
        args.tenants,
        args.members,
        args.tenants,
        args.tenants,
        args.tenants * args.members,
        args.latency_ms
    );
    println!();
    println!(
        "{:<10} {:>8} {:>8} {:>10} {:>10} {:>9} {:>9} {:>10} {:>10} {:>11}",
        "upstream",
        "reads",
        "writes",
        "reads/obj",
        "writes/obj",
        "limit/s",
        "inflight",
        "bound (s)",
        "resync r/w",
        "restart r/w"
    );
    for (name, limit) in limits {
        let cold = f.cold.get(name).copied().unwrap_or_default();
        let resync = f.resync.requests.get(name).copied().unwrap_or_default();
        let restart = f.restart.get(name).copied().unwrap_or_default();
        let b = lower_bound_secs(
            cold.total(),
            limit.requests_per_second,
            limit.max_in_flight,
            args.latency_ms,
        );
        bound = bound.max(b);
        println!(
            "{name:<10} {:>8} {:>8} {:>10.2} {:>10.2} {:>9} {:>9} {:>10.2} {:>10} {:>11}",
            cold.reads,
            cold.writes,
            per_object(cold.reads, objects),
            per_object(cold.writes, objects),
            limit.requests_per_second,
            limit.max_in_flight,
            b,
            format!("{}/{}", resync.reads, resync.writes),
            format!("{}/{}", restart.reads, restart.writes)
        );
    }
    let cold_reads: u64 = f.cold.values().map(|c| c.reads).sum();
    let cold_writes: u64 = f.cold.values().map(|c| c.writes).sum();
    let resync_reads: u64 = f.resync.requests.values().map(|c| c.reads).sum();
    let resync_writes: u64 = f.resync.requests.values().map(|c| c.writes).sum();
    let restart_reads: u64 = f.restart.values().map(|c| c.reads).sum();
    let restart_writes: u64 = f.restart.values().map(|c| c.writes).sum();
    let memory = (f.rss_delta - f.body_bytes as i64).max(0) as f64 / objects.max(1) as f64;
    println!();
    println!("{:<44} value", "figure");
    println!("{:<44} {:.2} s", "cold-converge time", f.cold_secs);
    println!(
        "{:<44} {:.2} s (busiest upstream: max(requests / rate limit, requests x latency / in flight))",
        "cold-converge lower bound", bound
    );
    println!(
        "{:<44} {:.2} ({cold_reads} reads)",
        "upstream reads per object",
        per_object(cold_reads, objects)
    );
    println!(
        "{:<44} {:.2} ({cold_writes} writes)",
        "upstream writes per object",
        per_object(cold_writes, objects)
    );
    println!(
        "{:<44} {} ({resync_reads} reads = {:.2} per object, {resync_writes} upstream writes, {} Kubernetes writes; {} reconciles in {:.1} s, resync interval {} s)",
        "no-op resync requests",
        resync_reads + resync_writes,
        per_object(resync_reads, objects),
        f.resync.kube_writes,
        f.resync.reconciles,
        f.resync.secs,
        f.resync_interval.as_secs()
    );
    println!(
        "{:<44} {} ({restart_reads} reads = {:.2} per object, {restart_writes} upstream writes, {} Kubernetes writes; control API total {})",
        "no-op restart requests",
        restart_reads + restart_writes,
        per_object(restart_reads, objects),
        f.restart_kube_writes,
        f.restart_counted
    );
    if resync_writes + f.resync.kube_writes > 0 {
        println!(
            "WARNING: the no-op resync wrote {resync_writes} times upstream and {} times to Kubernetes; it should write nothing",
            f.resync.kube_writes
        );
    }
    println!(
        "{:<44} {:.1} KiB (RSS delta {} KiB less {} KiB of recorded request bodies)",
        "operator memory per cached object",
        memory / 1024.0,
        f.rss_delta / 1024,
        f.body_bytes / 1024
    );
    println!();
    println!(
        "How counted: reads are GET/HEAD/PROPFIND/REPORT requests and Stalwart JMAP POSTs with only */get, */query \
         or */changes calls; writes are the rest (JMAP */set, */import, */copy). The no-op resync is one resync interval (plus \
         its 10 % jitter, and until every object was reconciled again) of a running operator over the converged \
         objects, started after that operator's first pass; Kubernetes writes are object changes devcluster \
         committed in it. The no-op restart is a new operator's first pass over them, counted until 2 s without \
         requests. Cold-converge time includes \
         the DNS publishing a domain owner does (polled every second). The memory figure is this whole process's \
         RSS growth from the idle, started operator to the converged one (its caches, but also the simulators' and \
         devcluster's new state), so it is an upper bound."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bound_is_the_tighter_of_rate_and_latency() {
        // 200 requests at 100/s: 2 s; at 5 ms with 8 in flight: 0.125 s
        assert!((lower_bound_secs(200, 100.0, 8, 5) - 2.0).abs() < 1e-9);
        // 200 requests at 1000/s: 0.2 s; at 100 ms with 4 in flight: 5 s
        assert!((lower_bound_secs(200, 1000.0, 4, 100) - 5.0).abs() < 1e-9);
    }
}
