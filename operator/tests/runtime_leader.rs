//! Leader election and the operator process: two replicas share one Lease, one leads, and the
//! standby takes over when the leader stops; metrics and health are served by both.

pub mod runtime_support;

use std::time::{Duration, Instant};

use dezky_crds::Partner;
use dezky_operator::config::LeaderElection;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use runtime_support::{Harness, is_ready};
use serde_json::json;

fn leader_election(config: &mut dezky_operator::config::Config) {
    config.operator.leader_election = Some(LeaderElection {
        lease_name: "dezky-operator".into(),
        lease_namespace: "default".into(),
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_secs(1),
    });
}

async fn until(what: &str, timeout: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_the_standby_takes_over() {
    let h = Harness::start().await;
    let first = h.spawn_operator(leader_election).await;
    until("the first replica leads", Duration::from_secs(15), || {
        first.metrics.is_leader()
    })
    .await;
    let second = h.spawn_operator(leader_election).await;
    // The standby is ready (it serves) but does not lead.
    until("the standby is ready", Duration::from_secs(5), || {
        second.health.is_ready()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(first.metrics.is_leader());
    assert!(!second.metrics.is_leader(), "two leaders at once");
    let lease = Api::<Lease>::namespaced(h.client.clone(), "default")
        .get("dezky-operator")
        .await
        .expect("the lease exists");
    let holder = lease
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap_or_default();
    assert!(!holder.is_empty(), "the lease names its holder");

    // Only the leader reconciles: a Partner converges through it.
    let partners: Api<Partner> = Api::all(h.client.clone());
    let manifest = json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "Partner", "metadata": {"name": "lead"},
        "spec": {"displayName": "Lead", "domain": "lead.test"},
    });
    h.apply(&partners, "lead", manifest).await;
    h.wait_for(&partners, "lead", Duration::from_secs(20), |p| {
        p.status
            .as_ref()
            .is_some_and(|s| is_ready(&s.conditions, p.metadata.generation))
    })
    .await;
    assert!(first.metrics.reconciles("partner", "success") > 0);
    assert_eq!(
        second.metrics.reconciles("partner", "success"),
        0,
        "the standby reconciled"
    );

    // The leader stops (releasing the lease): the standby takes over.
    first.stop().await.expect("the first replica stops");
    until("the standby leads", Duration::from_secs(20), || {
        second.metrics.is_leader()
    })
    .await;
    let addr = second.metrics_address;
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(text.contains("dezky_leader 1"), "{text}");
    second.stop().await.expect("the second replica stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_is_named_at_start() {
    let h = Harness::start().await;
    let mut config = h.config();
    config.operator.metrics_address = "not-an-address".into();
    let credentials = h.credentials(&config);
    let error = dezky_operator::runtime::start(dezky_operator::runtime::RunOptions::new(
        config,
        credentials,
        h.client.clone(),
    ))
    .await
    .expect_err("a bad metrics address");
    assert!(error.to_string().contains("not-an-address"), "{error}");
    let mut config = h.config();
    config.dns.resolvers = vec!["nowhere".into()];
    let credentials = h.credentials(&config);
    let error = dezky_operator::runtime::start(dezky_operator::runtime::RunOptions::new(
        config,
        credentials,
        h.client.clone(),
    ))
    .await
    .expect_err("a bad resolver");
    assert!(error.to_string().contains("dns.resolvers"), "{error}");
}
