//! devcluster figures: list of 100,000 objects (time, peak memory), watch fan-out to 10
//! watchers (events/s), and write throughput (sequential and concurrent), over HTTPS with kube-rs.
//! Run with `cargo bench -p dezky-devcluster`.

use std::time::{Duration, Instant};

use dezky_devcluster::cluster::{Cluster, WriteOptions};
use dezky_devcluster::store::Store;
use dezky_devcluster::{Devcluster, DevclusterOptions};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

const LIST_OBJECTS: usize = 100_000;
const WRITES: usize = 2_000;
const WATCHERS: usize = 10;
const WATCHED_WRITES: usize = 1_000;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Reset the peak-RSS counter (Linux), so the next VmHWM reading covers only what follows.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn cm(name: &str, i: usize) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("bench".to_string(), "yes".to_string())].into()),
            ..Default::default()
        },
        data: Some(
            [
                ("index".to_string(), i.to_string()),
                ("payload".to_string(), "x".repeat(200)),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

async fn client(dc: &Devcluster) -> kube::Client {
    let kc = Kubeconfig::read_from(dc.kubeconfig_path()).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(cfg).expect("client")
}

/// Load objects straight through the library (fast), before the server starts.
fn preload(dir: &std::path::Path, n: usize) -> Duration {
    let t = Instant::now();
    let store = Store::open(&dir.join("state.db"), 10_000).expect("store");
    let cluster = Cluster::new(store).expect("cluster");
    let reg = cluster.registry();
    let ns = reg.get("", "v1", "namespaces").expect("namespaces");
    let cms = reg.get("", "v1", "configmaps").expect("configmaps");
    let opts = WriteOptions {
        manager: "bench".into(),
        ..Default::default()
    };
    cluster
        .create(&ns, None, json!({"metadata": {"name": "big"}}), &opts)
        .expect("namespace");
    for i in 0..n {
        let body = json!({"metadata": {"name": format!("cm-{i:06}"), "labels": {"bench": "yes"}},
            "data": {"index": i.to_string(), "payload": "x".repeat(200)}});
        cluster
            .create(&cms, Some("big"), body, &opts)
            .expect("create");
    }
    t.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    println!("devcluster benchmark (state in {})", dir.path().display());
    let load = preload(dir.path(), LIST_OBJECTS);
    println!(
        "preload: {LIST_OBJECTS} ConfigMaps through the library in {:.1?} ({:.0}/s)",
        load,
        LIST_OBJECTS as f64 / load.as_secs_f64()
    );

    let dc = Devcluster::start(DevclusterOptions::new(dir.path()))
        .await
        .expect("start");
    let c = client(&dc).await;
    let big: Api<ConfigMap> = Api::namespaced(c.clone(), "big");

    // 1. List 100,000 objects.
    let rss_before = status_kib("VmRSS:");
    reset_peak();
    let t = Instant::now();
    let all = big.list(&ListParams::default()).await.expect("list");
    let one_shot = t.elapsed();
    let peak = status_kib("VmHWM:");
    assert_eq!(all.items.len(), LIST_OBJECTS);
    drop(all);
    let t = Instant::now();
    let mut paged = 0;
    let mut lp = ListParams::default().limit(500);
    loop {
        let page = big.list(&lp).await.expect("page");
        paged += page.items.len();
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
            _ => break,
        }
    }
    let pages = t.elapsed();
    assert_eq!(paged, LIST_OBJECTS);
    println!(
        "list {LIST_OBJECTS}: one request {:.2?}; in pages of 500 {:.2?}; peak RSS {} MiB (server and client in one process; {} MiB before)",
        one_shot,
        pages,
        peak / 1024,
        rss_before / 1024
    );

    // 2. Write throughput.
    let small: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let t = Instant::now();
    for i in 0..WRITES {
        small
            .create(&PostParams::default(), &cm(&format!("seq-{i}"), i))
            .await
            .expect("create");
    }
    let seq = t.elapsed();
    let t = Instant::now();
    futures::stream::iter(0..WRITES)
        .map(|i| {
            let small = small.clone();
            async move {
                small
                    .create(&PostParams::default(), &cm(&format!("par-{i}"), i))
                    .await
                    .expect("create")
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let par = t.elapsed();
    println!(
        "writes: {WRITES} creates sequential {:.0}/s, 16 concurrent {:.0}/s",
        WRITES as f64 / seq.as_secs_f64(),
        WRITES as f64 / par.as_secs_f64()
    );

    // 3. Watch fan-out.
    let target: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    target
        .create(&PostParams::default(), &cm("hot", 0))
        .await
        .expect("create");
    let rv = target
        .get("hot")
        .await
        .expect("get")
        .metadata
        .resource_version
        .expect("rv");
    let mut handles = Vec::new();
    for _ in 0..WATCHERS {
        let stream = target
            .watch(
                &WatchParams::default()
                    .fields("metadata.name=hot")
                    .timeout(290),
                &rv,
            )
            .await
            .expect("watch");
        handles.push(tokio::spawn(async move {
            let mut s = stream.boxed();
            let mut n = 0;
            while n < WATCHED_WRITES {
                if let Some(WatchEvent::Modified(_)) = s.try_next().await.expect("event") {
                    n += 1;
                }
            }
            n
        }));
    }
    let t = Instant::now();
    for i in 0..WATCHED_WRITES {
        target
            // index 0 is the created value: start at 1 so every patch is a real change.
            .patch(
                "hot",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"index": (i + 1).to_string()}})),
            )
            .await
            .expect("patch");
    }
    let mut delivered = 0;
    for h in handles {
        delivered += h.await.expect("watcher");
    }
    let fan = t.elapsed();
    println!(
        "watch fan-out: {WATCHED_WRITES} updates to {WATCHERS} watchers, {delivered} events delivered in {:.2?} ({:.0} events/s)",
        fan,
        delivered as f64 / fan.as_secs_f64()
    );
    let stats = dc.stats();
    println!(
        "stats: {} requests, {} writes, resourceVersion {}",
        stats.requests, stats.writes, stats.resource_version
    );
    dc.shutdown().await;
}
