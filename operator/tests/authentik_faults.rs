//! Fault injection through the simulator control against the shared HTTP layer, driven by the
//! Authentik client: rate limiting, 429 storms with Retry-After, outages and recovery, timeouts.

use std::time::{Duration, Instant};

use dezky_operator::upstream::authentik::{AuthentikClient, GroupSpec, IdentityClient};
use dezky_operator::upstream::http::{ErrorCategory, Secret, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_simulators::authentik::{AuthentikOptions, AuthentikSim};
use dezky_simulators::control::{Control, Fault};
use prometheus_client::registry::Registry;

const TOKEN: &str = "fault-token";

async fn start(limits: UpstreamLimits, metrics: UpstreamMetrics) -> (Control, AuthentikClient) {
    let control = Control::new("control-token".into());
    let sim = AuthentikSim::new(AuthentikOptions {
        api_token: TOKEN.into(),
        signing_key_path: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router(&control);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let client = AuthentikClient::new(
        &url.parse().expect("url"),
        Secret::new(TOKEN),
        limits,
        metrics,
    )
    .expect("client");
    (control, client)
}

fn marker() -> Marker {
    Marker {
        installation: "t".into(),
        kind: "Tenant".into(),
        namespace: None,
        name: "acme".into(),
        uid: "u".into(),
    }
}

fn limits(rps: f64, retries: u32) -> UpstreamLimits {
    UpstreamLimits {
        requests_per_second: rps,
        max_in_flight: 4,
        timeout: Duration::from_secs(2),
        read_retries: retries,
        ..UpstreamLimits::default()
    }
}

fn storm(retry_after: u64) -> Fault {
    Fault {
        upstream: "authentik".into(),
        path_prefix: Some("/api/v3/core/groups/".into()),
        rate_limit_retry_after: Some(retry_after),
        ..Fault::default()
    }
}

#[tokio::test]
async fn the_limiter_holds_the_configured_rate() {
    let (control, client) = start(limits(10.0, 0), UpstreamMetrics::default()).await;
    let started = Instant::now();
    // live reads (observations come from a snapshot, loaded once)
    let reads = (0..15).map(|_| {
        let client = client.clone();
        async move { client.list_sessions("someone").await }
    });
    for result in futures_join(reads).await {
        result.expect("list");
    }
    let elapsed = started.elapsed();
    // 15 requests at 10/s: the 15th starts 1.4 s after the first
    assert!(
        elapsed >= Duration::from_millis(1350),
        "too fast: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "too slow: {elapsed:?}");
    assert_eq!(
        control.request_count(
            "authentik",
            Some("GET"),
            "/api/v3/core/authenticated_sessions/"
        ),
        15
    );
}

async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("join"));
    }
    out
}

#[tokio::test]
async fn a_429_storm_pauses_the_upstream_for_retry_after_and_reads_recover() {
    let mut registry = Registry::default();
    let metrics = UpstreamMetrics::register(&mut registry);
    let (control, client) = start(limits(50.0, 5), metrics.clone()).await;
    control.add_fault(Fault {
        path_prefix: Some("/api/v3/core/".into()),
        ..storm(1)
    });
    let lifter = control.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        lifter.clear_faults(Some("authentik"));
    });
    let started = Instant::now();
    // several live readers at once: the whole upstream pauses, nobody hammers it
    let reads = (0..4).map(|_| {
        let client = client.clone();
        async move { client.list_sessions("someone").await }
    });
    for result in futures_join(reads).await {
        result.expect("reads succeed once the storm ends");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1500),
        "waited for the storm to end: {elapsed:?}"
    );
    let throttled = metrics.requests("authentik", "session.list", "rate_limited");
    // at most one request per reader per Retry-After window (two windows at most): not a retry loop
    assert!(
        throttled <= 8,
        "{throttled} throttled requests: Retry-After not honoured"
    );
    assert!(throttled >= 1);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    assert!(
        text.contains("dezky_upstream_throttled_total{upstream=\"authentik\"}"),
        "{text}"
    );
    assert!(text.contains("dezky_upstream_requests_total{upstream=\"authentik\",operation=\"session.list\",outcome=\"success\"} 4"), "{text}");
    // an observation during a storm waits for it too, and then loads its snapshot once
    control.add_fault(storm(1));
    let lifter = control.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        lifter.clear_faults(Some("authentik"));
    });
    let observers = (0..4).map(|_| {
        let client = client.clone();
        async move { client.list_groups("t", "Tenant").await }
    });
    for result in futures_join(observers).await {
        result.expect("observations succeed once the storm ends");
    }
    assert_eq!(metrics.requests("authentik", "group.list", "success"), 1);
}

#[tokio::test]
async fn a_rate_limited_write_returns_retry_after_to_the_caller() {
    let (control, client) = start(limits(50.0, 5), UpstreamMetrics::default()).await;
    control.add_fault(Fault {
        method: Some("POST".into()),
        ..storm(7)
    });
    let spec = GroupSpec {
        name: "tenant-acme".into(),
        attributes: Default::default(),
    };
    let err = client
        .create_group(&spec, &marker(), false)
        .await
        .expect_err("429");
    assert_eq!(err.category(), ErrorCategory::RateLimited);
    match err {
        dezky_operator::upstream::authentik::IdentityError::Upstream(e) => {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        }
        other => panic!("unexpected {other}"),
    }
    // a write is never retried by the HTTP layer
    assert_eq!(
        control.request_count("authentik", Some("POST"), "/api/v3/core/groups/"),
        1
    );
}

#[tokio::test]
async fn an_outage_is_a_clear_error_and_recovery_needs_no_restart() {
    let (control, client) = start(limits(100.0, 2), UpstreamMetrics::default()).await;
    control.add_fault(Fault {
        upstream: "authentik".into(),
        outage: true,
        ..Fault::default()
    });
    let err = client.list_groups("t", "Tenant").await.expect_err("outage");
    assert_eq!(err.category(), ErrorCategory::Unavailable);
    assert!(
        err.to_string().contains("authentik") && err.to_string().contains("group.list"),
        "{err}"
    );
    assert!(!err.is_permanent());
    // reads were retried (1 + 2 retries), then gave up
    assert_eq!(
        control.request_count("authentik", Some("GET"), "/api/v3/core/groups/"),
        3
    );
    control.clear_faults(None);
    client
        .list_groups("t", "Tenant")
        .await
        .expect("recovered with the same client");
}

#[tokio::test]
async fn slow_answers_time_out_and_flaky_reads_are_retried() {
    let (control, client) = start(
        UpstreamLimits {
            requests_per_second: 100.0,
            max_in_flight: 4,
            timeout: Duration::from_millis(300),
            read_retries: 0,
            ..UpstreamLimits::default()
        },
        UpstreamMetrics::default(),
    )
    .await;
    control.set_faults(vec![Fault {
        upstream: "authentik".into(),
        latency_ms: 1000,
        ..Fault::default()
    }]);
    let err = client
        .list_groups("t", "Tenant")
        .await
        .expect_err("timeout");
    assert_eq!(err.category(), ErrorCategory::Timeout);

    let (control, client) = start(limits(100.0, 8), UpstreamMetrics::default()).await;
    control.set_faults(vec![Fault {
        upstream: "authentik".into(),
        error_rate: 0.3,
        error_status: Some(502),
        ..Fault::default()
    }]);
    for _ in 0..5 {
        client
            .list_groups("t", "Tenant")
            .await
            .expect("retried through 30% errors");
    }
}
