//! Watches through kube-rs: the watcher, resumption from a resourceVersion, the in-stream 410
//! after compaction, and a kube-runtime Controller with the finalizer helper end to end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::watcher;
use serde_json::json;

use crate::common::*;

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_changes_and_noops_emit_nothing() {
    let tc = start().await;
    install_crd(&tc.client).await;
    let api = widgets(&tc.client, "default");
    api.create(&PostParams::default(), &widget("a", "a@b.test"))
        .await
        .unwrap();
    let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    let mut saw_init_a = false;
    while let Some(ev) = stream.try_next().await.unwrap() {
        match ev {
            watcher::Event::InitApply(o) => saw_init_a |= o.metadata.name.as_deref() == Some("a"),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert!(saw_init_a);
    api.create(&PostParams::default(), &widget("b", "b@b.test"))
        .await
        .unwrap();
    // A no-op patch: no event may precede the next real change.
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"email": "a@b.test"}})),
    )
    .await
    .unwrap();
    api.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"owner": "z"}})),
    )
    .await
    .unwrap();
    api.delete("b", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match ev {
            watcher::Event::Apply(o) => seen.push(format!(
                "apply {} {}",
                o.metadata.name.unwrap(),
                o.data["spec"]["owner"]
            )),
            watcher::Event::Delete(o) => seen.push(format!("delete {}", o.metadata.name.unwrap())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, vec!["apply b null", "apply b \"z\"", "delete b"]);
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_and_expires_with_in_stream_410() {
    let tc = start_with(5).await;
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    let first = cms.create(&PostParams::default(), &cm("c0")).await.unwrap();
    let first_rv = first.metadata.resource_version.unwrap();
    let mut rvs = Vec::new();
    for i in 1..4 {
        rvs.push(
            cms.create(&PostParams::default(), &cm(&format!("c{i}")))
                .await
                .unwrap()
                .metadata
                .resource_version
                .unwrap(),
        );
    }
    // Resume after c1: exactly c2 and c3 follow.
    let mut s = cms
        .watch(&WatchParams::default().timeout(2), &rvs[0])
        .await
        .unwrap()
        .boxed();
    let mut names = Vec::new();
    while names.len() < 2 {
        match s.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(o) => names.push(o.metadata.name.unwrap()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(names, ["c2", "c3"]);
    // Compact the history past the first write; watching from it gives HTTP 200 + ERROR 410.
    for i in 4..12 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}")))
            .await
            .unwrap();
    }
    let mut s = cms
        .watch(&WatchParams::default(), &first_rv)
        .await
        .unwrap()
        .boxed();
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // kube-runtime's watcher recovers by relisting.
    let mut w = watcher::watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut count = 0;
    while let Some(ev) = w.try_next().await.unwrap() {
        match ev {
            watcher::Event::InitApply(_) => count += 1,
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(count, 12);
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_watches_see_objects_enter_and_leave() {
    let tc = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    let start_rv = cms
        .create(&PostParams::default(), &cm("x"))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut s = cms
        .watch(
            &WatchParams::default().labels("team=a").timeout(5),
            &start_rv,
        )
        .await
        .unwrap()
        .boxed();
    let label = |v: Option<&str>| Patch::Merge(json!({"metadata": {"labels": {"team": v}}}));
    cms.patch("x", &PatchParams::default(), &label(Some("a")))
        .await
        .unwrap();
    cms.patch("x", &PatchParams::default(), &label(Some("b")))
        .await
        .unwrap();
    cms.patch("x", &PatchParams::default(), &label(Some("c")))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        match s.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(_) => kinds.push("ADDED"),
            WatchEvent::Modified(_) => kinds.push("MODIFIED"),
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "DELETED"]);

    // The metadata watcher (Controller::owns) gets PartialObjectMetadata.
    let mut meta = watcher::watcher(
        Api::<kube::core::PartialObjectMeta<ConfigMap>>::namespaced(tc.client.clone(), "default"),
        watcher::Config::default(),
    )
    .boxed();
    let mut names = Vec::new();
    while let Some(ev) = meta.try_next().await.unwrap() {
        match ev {
            watcher::Event::InitApply(m) => names.push(m.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(names, ["x"]);
    cms.create(&PostParams::default(), &cm("y")).await.unwrap();
    loop {
        if let watcher::Event::Apply(m) = meta.try_next().await.unwrap().unwrap() {
            assert_eq!(m.metadata.name.as_deref(), Some("y"));
            assert_eq!(m.types.unwrap().kind, "PartialObjectMetadata");
            break;
        }
    }
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_ends_with_the_initial_events_bookmark() {
    let tc = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    for n in ["s1", "s2"] {
        cms.create(&PostParams::default(), &cm(n)).await.unwrap();
    }
    let mut w = watcher::watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut names = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), w.try_next())
            .await
            .expect("InitDone arrives")
            .unwrap()
            .unwrap();
        match ev {
            watcher::Event::InitApply(o) => names.push(o.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(names, ["s1", "s2"]);
    cms.create(&PostParams::default(), &cm("s3")).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), w.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        watcher::Event::Apply(o) => assert_eq!(o.metadata.name.as_deref(), Some("s3")),
        other => panic!("unexpected {other:?}"),
    }
    tc.dc.shutdown().await;
}

#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error("kube: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[from] Box<kube::runtime::finalizer::Error<kube::Error>>),
}

struct Ctx {
    api: Api<DynamicObject>,
    cleanups: AtomicUsize,
}

async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let api = ctx.api.clone();
    finalizer(&api, "dezky.io/cleanup", obj, |ev| async {
        match ev {
            FinalizerEvent::Apply(o) => {
                let name = o.metadata.name.clone().unwrap();
                let status = json!({"apiVersion": "test.dezky.io/v1", "kind": "Widget",
                    "status": {"observedGeneration": o.metadata.generation,
                        "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "ok",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
                ctx.api.patch_status(&name, &PatchParams::apply("widget-controller").force(), &Patch::Apply(status)).await?;
                Ok(Action::await_change())
            }
            FinalizerEvent::Cleanup(_) => {
                ctx.cleanups.fetch_add(1, Ordering::SeqCst);
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| ReconcileError::Finalizer(Box::new(e)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_with_finalizer_reconciles_and_goes_idle() {
    let tc = start().await;
    install_crd(&tc.client).await;
    let api = widgets(&tc.client, "default");
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        cleanups: AtomicUsize::new(0),
    });
    let controller =
        Controller::new_with(api.clone(), watcher::Config::default(), widget_resource())
            .run(
                reconcile,
                |_, _: &ReconcileError, _| Action::requeue(Duration::from_millis(200)),
                ctx.clone(),
            )
            .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    api.create(&PostParams::default(), &widget("c1", "c@b.test"))
        .await
        .unwrap();
    let ready = eventually(10, || async {
        let o = api.get("c1").await.unwrap();
        (o.data["status"]["conditions"][0]["status"] == "True").then_some(o)
    })
    .await;
    assert_eq!(
        ready.metadata.finalizers.unwrap(),
        vec!["dezky.io/cleanup".to_string()]
    );
    // Steady state: the controller makes no further writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = tc.dc.stats();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        tc.dc.stats().writes,
        before.writes,
        "an idle controller must not write"
    );
    // Deletion runs the cleanup, then the object goes.
    api.delete("c1", &DeleteParams::default()).await.unwrap();
    eventually(10, || async {
        api.get_opt("c1").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(ctx.cleanups.load(Ordering::SeqCst), 1);
    handle.abort();
    tc.dc.shutdown().await;
}
