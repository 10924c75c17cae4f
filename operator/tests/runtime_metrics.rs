//! The operator's object and queue metrics against devcluster + simulators: `dezky_queue_depth`
//! rises while changes wait for a reconcile (one at a time, a slow upstream) and falls back to
//! zero; `dezky_objects{kind,ready}` and `dezky_objects_suspended{kind}` follow the objects.

pub mod runtime_support;

use std::time::{Duration, Instant};

use dezky_crds::Partner;
use kube::api::{Api, DeleteParams};
use runtime_support::{Harness, is_ready};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn partner(name: &str, suspended: bool) -> serde_json::Value {
    json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "Partner", "metadata": {"name": name},
        "spec": {"displayName": name, "domain": format!("{name}.test"), "marginPercent": 10,
                 "suspended": suspended},
    })
}

fn ready(p: &Partner) -> bool {
    p.status
        .as_ref()
        .is_some_and(|s| is_ready(&s.conditions, p.metadata.generation))
}

async fn scrape(address: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{address}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_depth_and_objects_by_ready_follow_the_partners() {
    let h = Harness::start().await;
    // every Authentik request takes 300 ms and one reconcile runs at a time: changes queue up
    h.add_fault(json!({"upstream": "authentik", "latencyMs": 300}))
        .await;
    let operator = h
        .spawn_operator(|config| config.operator.concurrency = 1)
        .await;
    let partners: Api<Partner> = Api::all(h.client.clone());
    let names = ["p1", "p2", "p3", "p4"];
    for name in names {
        h.apply(&partners, name, partner(name, name == "p4")).await;
    }
    let mut deepest = 0;
    let deadline = Instant::now() + WAIT;
    while deepest < 2 {
        assert!(
            Instant::now() < deadline,
            "the queue never held two partners"
        );
        deepest = deepest.max(operator.metrics.queue_depth("partner"));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.clear_faults().await;
    for name in names {
        h.wait_for(&partners, name, WAIT, ready).await;
    }
    // converged: nothing waits, every partner counts as Ready=True, one is suspended
    let deadline = Instant::now() + WAIT;
    loop {
        let text = scrape(operator.metrics_address).await;
        if text.contains("dezky_queue_depth{controller=\"partner\"} 0")
            && text.contains("dezky_objects{kind=\"Partner\",ready=\"True\"} 4")
            && text.contains("dezky_objects{kind=\"Partner\",ready=\"Unknown\"} 0")
            && text.contains("dezky_objects_suspended{kind=\"Partner\"} 1")
        {
            break;
        }
        assert!(Instant::now() < deadline, "metrics never settled:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // a deleted partner leaves the counts
    partners
        .delete("p4", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone(&partners, "p4", WAIT).await;
    let deadline = Instant::now() + WAIT;
    while operator.metrics.objects("Partner", "True") != 3 {
        assert!(
            Instant::now() < deadline,
            "the deleted partner is still counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = scrape(operator.metrics_address).await;
    assert!(
        text.contains("dezky_objects_suspended{kind=\"Partner\"} 0"),
        "{text}"
    );
    operator.stop().await.expect("stops");
}
