//! The OCIS client under injected faults: a rate-limited write reports its Retry-After, and an
//! outage is a clear error that heals without a restart.

use std::time::Duration;

use dezky_operator::upstream::http::{
    Auth, ErrorCategory, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics,
};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::ocis::{FilesClient, FilesError, OcisClient, SpaceSpec};
use dezky_simulators::control::{Control, Fault};
use dezky_simulators::ocis::{Ocis, OcisConfig};

async fn env() -> (Control, OcisClient) {
    let control = Control::new("control-token".into());
    let sim = Ocis::new(OcisConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = control.apply("ocis", sim.router());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let auth = Auth::Basic {
        username: "svc-dezky".into(),
        password: Secret::new("ocis-app-token-secret"),
    };
    let limits = UpstreamLimits {
        read_retries: 1,
        ..UpstreamLimits::default()
    };
    let http = UpstreamHttp::new(
        "ocis",
        url.parse().expect("url"),
        auth,
        limits,
        UpstreamMetrics::default(),
    )
    .expect("http");
    (control, OcisClient::new(http))
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

fn spec() -> SpaceSpec {
    SpaceSpec {
        name: "Acme".into(),
        description: None,
        quota_bytes: 1 << 30,
    }
}

#[tokio::test]
async fn a_rate_limited_create_reports_retry_after() {
    let (control, client) = env().await;
    control.add_fault(Fault {
        upstream: "ocis".into(),
        method: Some("POST".into()),
        rate_limit_retry_after: Some(3),
        ..Fault::default()
    });
    match client.create_space(&spec(), &marker(), false).await {
        Err(FilesError::Upstream(error)) => {
            assert_eq!(error.category(), ErrorCategory::RateLimited);
            assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // Nothing was created: the lookup before the create went through, the create did not.
    control.clear_faults(None);
    assert!(client.list_project_spaces().await.expect("list").is_empty());
}

#[tokio::test]
async fn an_outage_is_a_clear_error_and_recovery_needs_no_restart() {
    let (control, client) = env().await;
    control.add_fault(Fault {
        upstream: "ocis".into(),
        outage: true,
        ..Fault::default()
    });
    let error = client
        .create_space(&spec(), &marker(), false)
        .await
        .expect_err("outage");
    assert_eq!(error.category(), ErrorCategory::Unavailable);
    assert!(error.to_string().contains("ocis"), "{error}");
    control.clear_faults(Some("ocis"));
    let space = client
        .create_space(&spec(), &marker(), false)
        .await
        .expect("recovered");
    assert_eq!(
        client
            .find_space(&marker())
            .await
            .expect("find")
            .map(|s| s.id),
        Some(space.id)
    );
}
