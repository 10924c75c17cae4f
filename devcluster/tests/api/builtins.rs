//! Built-in kinds through kube-rs: ConfigMaps, Secrets, Events in both API groups, Leases with
//! leader election, namespaces (contents deleted first), ownerReference GC and auth.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube_lease_manager::LeaseManagerBuilder;
use serde_json::json;

use crate::common::*;

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([("k".to_string(), "v".to_string())].into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmaps_secrets_and_events() {
    let tc = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    let made = cms.create(&PostParams::default(), &cm("c1")).await.unwrap();
    assert!(made.metadata.generation.is_none());
    // Built-ins allow unconditional updates (no resourceVersion).
    let mut upd = cm("c1");
    upd.data = Some([("k".to_string(), "w".to_string())].into());
    let replaced = cms
        .replace("c1", &PostParams::default(), &upd)
        .await
        .unwrap();
    assert_eq!(replaced.data.unwrap()["k"], "w");
    let sp = cms
        .patch(
            "c1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"data": {"x": "y"}})),
        )
        .await
        .unwrap();
    assert_eq!(sp.data.unwrap().len(), 2);

    let secrets: Api<Secret> = Api::namespaced(tc.client.clone(), "default");
    let s = Secret {
        metadata: ObjectMeta {
            name: Some("s1".into()),
            ..Default::default()
        },
        string_data: Some([("password".to_string(), "hunter2".to_string())].into()),
        ..Default::default()
    };
    let s = secrets.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(s.data.unwrap()["password"].0, b"hunter2");
    assert_eq!(s.type_.as_deref(), Some("Opaque"));

    // events.k8s.io/v1 writes are visible as core/v1 Events with field selectors (describe).
    let events: Api<Event> = Api::namespaced(tc.client.clone(), "default");
    let ev = Event {
        metadata: ObjectMeta {
            name: Some("e1".into()),
            ..Default::default()
        },
        note: Some("created upstream".into()),
        reason: Some("Created".into()),
        type_: Some("Normal".into()),
        action: Some("Create".into()),
        reporting_controller: Some("dezky.io/operator".into()),
        reporting_instance: Some("op-1".into()),
        event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
        regarding: Some(k8s_openapi::api::core::v1::ObjectReference {
            kind: Some("Widget".into()),
            name: Some("w1".into()),
            namespace: Some("default".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    events.create(&PostParams::default(), &ev).await.unwrap();
    let core: Api<CoreEvent> = Api::namespaced(tc.client.clone(), "default");
    let found = core
        .list(&ListParams::default().fields("involvedObject.name=w1,involvedObject.kind=Widget"))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].message.as_deref(), Some("created upstream"));
    assert_eq!(
        events.get("e1").await.unwrap().note.as_deref(),
        Some("created upstream")
    );
    tc.dc.shutdown().await;
}

/// kube-runtime's event Recorder (events.k8s.io create, then merge patches for repeats) and
/// `kubectl describe`'s core/v1 view of the same events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_recorder_publishes_and_repeats() {
    use kube::runtime::events::{Event as RecEvent, EventType, Recorder, Reporter};
    let tc = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    let target = cms
        .create(&PostParams::default(), &cm("target"))
        .await
        .unwrap();
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        name: target.metadata.name.clone(),
        namespace: Some("default".into()),
        uid: target.metadata.uid.clone(),
        ..Default::default()
    };
    let reporter: Reporter = "dezky-operator".into();
    let recorder = Recorder::new(tc.client.clone(), reporter);
    let ev = RecEvent {
        type_: EventType::Normal,
        reason: "Provisioned".into(),
        note: Some("group created upstream".into()),
        action: "Provision".into(),
        secondary: None,
    };
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let core: Api<CoreEvent> = Api::namespaced(tc.client.clone(), "default");
    let found = core
        .list(&ListParams::default().fields(&format!(
            "involvedObject.uid={}",
            target.metadata.uid.unwrap()
        )))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1, "a repeat updates the same event");
    assert_eq!(found.items[0].reason.as_deref(), Some("Provisioned"));
    assert_eq!(
        found.items[0].message.as_deref(),
        Some("group created upstream")
    );
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_deletion_removes_contents_first() {
    let tc = start().await;
    let nss: Api<Namespace> = Api::all(tc.client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("tenant-a".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let made = nss.create(&PostParams::default(), &ns).await.unwrap();
    assert_eq!(made.status.unwrap().phase.as_deref(), Some("Active"));
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "tenant-a");
    cms.create(&PostParams::default(), &cm("inside"))
        .await
        .unwrap();
    let mut held = cm("held");
    held.metadata.finalizers = Some(vec!["dezky.io/cleanup".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    let deleting = nss
        .delete("tenant-a", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(
        deleting.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    // New content is refused while terminating.
    let err = cms
        .create(&PostParams::default(), &cm("late"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403),
        "{err:?}"
    );
    eventually(5, || async {
        cms.get_opt("inside").await.unwrap().is_none().then_some(())
    })
    .await;
    // The namespace waits for the finalizer on its last object.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(nss.get_opt("tenant-a").await.unwrap().is_some());
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually(5, || async {
        nss.get_opt("tenant-a")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_references_are_garbage_collected() {
    let tc = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    let child_of = |name: &str, owner: &ConfigMap| {
        let mut c = cm(name);
        c.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: owner.metadata.name.clone().unwrap(),
            uid: owner.metadata.uid.clone().unwrap(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        c
    };
    // Background: the child goes after the owner.
    let owner = cms
        .create(&PostParams::default(), &cm("owner-bg"))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &child_of("child-bg", &owner))
        .await
        .unwrap();
    cms.delete("owner-bg", &DeleteParams::background())
        .await
        .unwrap();
    eventually(5, || async {
        cms.get_opt("child-bg")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;

    // Foreground: the owner stays (deletionTimestamp) until the child is gone.
    let owner = cms
        .create(&PostParams::default(), &cm("owner-fg"))
        .await
        .unwrap();
    let mut child = child_of("child-fg", &owner);
    child.metadata.finalizers = Some(vec!["dezky.io/hold".into()]);
    cms.create(&PostParams::default(), &child).await.unwrap();
    let pending = cms
        .delete("owner-fg", &DeleteParams::foreground())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(
        pending
            .metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_string())
    );
    eventually(5, || async {
        cms.get("child-fg")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
            .then_some(())
    })
    .await;
    assert!(cms.get_opt("owner-fg").await.unwrap().is_some());
    cms.patch(
        "child-fg",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually(5, || async {
        cms.get_opt("owner-fg")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;

    // Orphan: the child stays, without the reference.
    let owner = cms
        .create(&PostParams::default(), &cm("owner-or"))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &child_of("child-or", &owner))
        .await
        .unwrap();
    cms.delete("owner-or", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually(5, || async {
        cms.get_opt("owner-or")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let orphan = cms.get("child-or").await.unwrap();
    assert!(orphan.metadata.owner_references.is_none());
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_leader_election_hands_over() {
    let tc = start().await;
    let build = |id: &str| {
        LeaseManagerBuilder::new(tc.client.clone(), "dezky-leader")
            .with_namespace("default")
            .with_identity(id)
            .with_duration(3)
            .with_grace(1)
            .build()
    };
    let a = build("pod-a").await.unwrap();
    let b = build("pod-b").await.unwrap();
    let (mut a_rx, a_task) = a.watch().await;
    eventually(10, || {
        let v = *a_rx.borrow_and_update();
        async move { v.then_some(()) }
    })
    .await;
    let (mut b_rx, b_task) = b.watch().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!*b_rx.borrow_and_update(), "only one leader at a time");
    // The leader stops (releases on drop of its channel); b takes over.
    drop(a_rx);
    let _ = a_task.await;
    eventually(15, || {
        let v = *b_rx.borrow_and_update();
        async move { v.then_some(()) }
    })
    .await;
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(tc.client.clone(), "default");
    let lease = leases.get("dezky-leader").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("pod-b")
    );
    drop(b_rx);
    let _ = b_task.await;
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_required_except_public_info() {
    let tc = start().await;
    let http = reqwest_like_get(&tc, "/api/v1/namespaces", None).await;
    assert_eq!(http.0, 401);
    assert!(http.1.contains("Unauthorized"));
    let ok = reqwest_like_get(&tc, "/version", None).await;
    assert_eq!(ok.0, 200);
    assert!(ok.1.contains("\"minor\":\"32\""), "{}", ok.1);
    for health in ["/healthz", "/readyz", "/livez"] {
        assert_eq!(
            reqwest_like_get(&tc, health, None).await,
            (200, "ok".to_string())
        );
    }
    let v2 = reqwest_like_get(&tc, "/openapi/v2", Some(tc.dc.token())).await;
    assert_eq!(v2.0, 404);
    assert!(v2.1.contains("\"kind\":\"Status\""), "{}", v2.1);
    let token = tc.dc.token().to_string();
    let authed = reqwest_like_get(&tc, "/debug/devcluster/stats", Some(&token)).await;
    assert_eq!(authed.0, 200);
    assert!(authed.1.contains("\"writes\""));
    let addr = tc.dc.addr();
    tc.dc.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );
}

/// A raw HTTPS GET through kube's own client stack, with or without the bearer token.
async fn reqwest_like_get(tc: &TestCluster, path: &str, token: Option<&str>) -> (u16, String) {
    let kc = kube::config::Kubeconfig::read_from(tc.dc.kubeconfig_path()).unwrap();
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    cfg.auth_info.token = token.map(|t| t.to_string().into());
    let client = kube::Client::try_from(cfg).unwrap();
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (code, String::from_utf8_lossy(&body).into_owned())
}
