//! Durability: kill -9 the server during a stream of writes, restart it on the same state
//! directory, and check that every acknowledged write is there.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::client_for;

async fn spawn_server(dir: &std::path::Path) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_devcluster-server"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("server printed its URL");
    assert!(url.unwrap().unwrap().starts_with("https://127.0.0.1:"));
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_server(dir.path()).await;
    let client = client_for(&dir.path().join("kubeconfig")).await;
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let writer = {
        let acked = acked.clone();
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        tokio::spawn(async move {
            for i in 0.. {
                let name = format!("cm-{i}");
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        ..Default::default()
                    },
                    data: Some([("i".to_string(), i.to_string())].into()),
                    ..Default::default()
                };
                match cms.create(&PostParams::default(), &cm).await {
                    Ok(made) => acked
                        .lock()
                        .unwrap()
                        .push((name, made.metadata.resource_version.unwrap())),
                    Err(_) => return,
                }
            }
        })
    };
    // Let a few hundred writes through, then kill the server mid-stream.
    for _ in 0..200 {
        if acked.lock().unwrap().len() >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().expect("SIGKILL sent");
    child.wait().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(30), writer).await;
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 20,
        "only {} writes were acknowledged before the kill",
        acked.len()
    );

    let mut child = spawn_server(dir.path()).await;
    let client = client_for(&dir.path().join("kubeconfig")).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let list = cms.list(&ListParams::default()).await.unwrap();
    let stored: std::collections::HashMap<String, String> = list
        .items
        .iter()
        .map(|c| {
            (
                c.metadata.name.clone().unwrap(),
                c.metadata.resource_version.clone().unwrap(),
            )
        })
        .collect();
    for (name, rv) in &acked {
        assert_eq!(
            stored.get(name),
            Some(rv),
            "acknowledged write {name} at {rv} lost"
        );
    }
    // The revision counter continues past everything stored.
    let max_rv: i64 = stored
        .values()
        .map(|r| r.parse::<i64>().unwrap())
        .max()
        .unwrap();
    let next = cms
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("after".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        next.metadata
            .resource_version
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > max_rv
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
