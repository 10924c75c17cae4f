//! The Stalwart client under injected faults (through the simulators' control layer): a 429
//! storm is waited out on reads and reported with its Retry-After on writes, the configured
//! rate holds, and an outage is a clear error that heals without a restart.

use std::time::{Duration, Instant};

use dezky_operator::upstream::http::{
    Auth, ErrorCategory, Secret, UpstreamError, UpstreamHttp, UpstreamLimits, UpstreamMetrics,
};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::stalwart::{
    DkimMode, DomainSpec, MailClient, MailError, StalwartClient,
};
use dezky_simulators::control::{Control, Fault};
use dezky_simulators::stalwart::{Stalwart, StalwartConfig};

async fn env(limits: UpstreamLimits) -> (Control, StalwartClient) {
    let control = Control::new("control-token".into());
    let sim = Stalwart::new(StalwartConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = control.apply("stalwart", sim.router());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let auth = Auth::Basic {
        username: "admin".into(),
        password: Secret::new("stalwart-admin-secret"),
    };
    let http = UpstreamHttp::new(
        "stalwart",
        url.parse().expect("url"),
        auth,
        limits,
        UpstreamMetrics::default(),
    )
    .expect("http");
    (control, StalwartClient::new(http))
}

fn marker() -> Marker {
    Marker {
        installation: "t".into(),
        kind: "MailDomain".into(),
        namespace: Some("tenant-acme".into()),
        name: "acme".into(),
        uid: "u".into(),
    }
}

fn storm(retry_after: u64) -> Fault {
    Fault {
        upstream: "stalwart".into(),
        rate_limit_retry_after: Some(retry_after),
        ..Fault::default()
    }
}

#[tokio::test]
async fn a_read_waits_out_retry_after_and_a_write_reports_it() {
    let (control, client) = env(UpstreamLimits {
        read_retries: 3,
        ..UpstreamLimits::default()
    })
    .await;
    // Writes are not retried: the 429 comes back with its Retry-After for the caller's backoff.
    control.add_fault(storm(2));
    match client
        .create_domain(
            &DomainSpec {
                name: "acme.test".into(),
                dkim: DkimMode::Manual,
            },
            &marker(),
            false,
        )
        .await
    {
        Err(MailError::Upstream(error @ UpstreamError::RateLimited { .. })) => {
            assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
            assert_eq!(error.category(), ErrorCategory::RateLimited);
            assert!(!error.is_permanent());
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // A read during the storm waits Retry-After and succeeds once the storm is over.
    control.clear_faults(None);
    control.add_fault(storm(1));
    let healer = control.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        healer.clear_faults(None);
    });
    let started = Instant::now();
    assert_eq!(
        client
            .find_domain("acme.test")
            .await
            .expect("read after the storm"),
        None
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited only {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_configured_rate_holds() {
    let (control, client) = env(UpstreamLimits {
        requests_per_second: 5.0,
        ..UpstreamLimits::default()
    })
    .await;
    let started = Instant::now();
    // pages of the domain list: always sent (observations are answered from a snapshot)
    for _ in 0..6 {
        client.list_domains(0, 10).await.expect("read");
    }
    // Six paced requests at 5/s span at least five intervals of 200 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "took only {:?}",
        started.elapsed()
    );
    assert_eq!(control.request_count("stalwart", Some("POST"), "/jmap"), 6);
}

#[tokio::test]
async fn an_outage_is_a_clear_error_and_recovery_needs_no_restart() {
    let (control, client) = env(UpstreamLimits {
        read_retries: 1,
        ..UpstreamLimits::default()
    })
    .await;
    control.add_fault(Fault {
        upstream: "stalwart".into(),
        outage: true,
        ..Fault::default()
    });
    let error = client.find_domain("acme.test").await.expect_err("outage");
    assert_eq!(error.category(), ErrorCategory::Unavailable);
    assert!(!error.is_permanent());
    assert!(error.to_string().contains("stalwart"), "{error}");
    control.clear_faults(Some("stalwart"));
    let domain = client
        .create_domain(
            &DomainSpec {
                name: "acme.test".into(),
                dkim: DkimMode::Manual,
            },
            &marker(),
            false,
        )
        .await
        .expect("recovered");
    assert_eq!(
        client
            .find_domain("acme.test")
            .await
            .expect("read")
            .map(|d| d.id),
        Some(domain.id)
    );
}
