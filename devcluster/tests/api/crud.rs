//! kube-rs CRUD on a CRD-defined kind: create, get, list, replace (409 on stale), the patch
//! types, status subresource, generation, admission refusals and deletion.

use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resource_crud_and_conflicts() {
    let tc = start().await;
    install_crd(&tc.client).await;
    let api = widgets(&tc.client, "default");

    let created = api
        .create(&PostParams::default(), &widget("w1", "a@b.test"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some());
    assert_eq!(created.data["spec"]["size"], 1, "schema default applied");
    let dup = api
        .create(&PostParams::default(), &widget("w1", "a@b.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(dup, kube::Error::Api(ref s) if s.reason == "AlreadyExists" && s.code == 409),
        "{dup:?}"
    );

    // Stale replace → 409 Conflict; fresh replace works and bumps generation.
    let mut stale = created.clone();
    let mut fresh = api.get("w1").await.unwrap();
    fresh.data["spec"]["owner"] = json!("me");
    let updated = api
        .replace("w1", &PostParams::default(), &fresh)
        .await
        .unwrap();
    assert_eq!(updated.metadata.generation, Some(2));
    stale.data["spec"]["owner"] = json!("you");
    let err = api
        .replace("w1", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );
    // No resourceVersion on a CR update → 422.
    let mut no_rv = updated.clone();
    no_rv.metadata.resource_version = None;
    let err = api
        .replace("w1", &PostParams::default(), &no_rv)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );

    // Merge patch; an identical patch keeps the resourceVersion.
    let p = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 3}})),
        )
        .await
        .unwrap();
    let again = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.resource_version, again.metadata.resource_version);
    assert_eq!(again.metadata.generation, Some(3));

    // JSON patch with a failing test → 422; strategic merge on a CR → 415.
    let jp: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/owner", "value": "nobody"}]))
            .unwrap();
    let err = api
        .patch("w1", &PatchParams::default(), &Patch::<()>::Json(jp))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );
    let err = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 4}})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 415 && s.reason == "UnsupportedMediaType"),
        "{err:?}"
    );

    // Status subresource: main endpoint ignores status, /status takes only status, no generation bump.
    let ignored = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 9}})),
        )
        .await
        .unwrap();
    assert!(ignored.data.get("status").is_none());
    let st = api
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 3}, "spec": {"size": 99}})),
        )
        .await
        .unwrap();
    assert_eq!(st.data["status"]["observedGeneration"], 3);
    assert_eq!(st.data["spec"]["size"], 3);
    assert_eq!(st.metadata.generation, Some(3));

    // Admission: schema and CEL transition rule refusals are 422 Invalid with causes.
    let err = api
        .create(&PostParams::default(), &widget("bad", "no-at-sign"))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422);
            assert!(s.message.contains("spec.email"), "{}", s.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"email": "x@y.test"}})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422 && s.message.contains("immutable")),
        "{err:?}"
    );

    // Lists: label selectors and pagination.
    for i in 0..5 {
        let mut w = widget(&format!("p{i}"), "p@b.test");
        w.metadata.labels = Some(
            [(
                "batch".to_string(),
                if i % 2 == 0 { "even" } else { "odd" }.to_string(),
            )]
            .into(),
        );
        api.create(&PostParams::default(), &w).await.unwrap();
    }
    let even = api
        .list(&ListParams::default().labels("batch=even"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 3);
    let page = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("more pages");
    let rest = api
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 4);
    assert!(rest.metadata.continue_.is_none());
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=p3"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);

    // generateName.
    let mut g = widget("", "g@b.test");
    g.metadata.name = None;
    g.metadata.generate_name = Some("gen-".into());
    let made = api.create(&PostParams::default(), &g).await.unwrap();
    assert!(made.metadata.name.unwrap().starts_with("gen-"));

    // Dry runs change nothing.
    let dry = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &widget("dry", "d@b.test"),
        )
        .await
        .unwrap();
    assert_eq!(dry.metadata.name.as_deref(), Some("dry"));
    assert!(api.get_opt("dry").await.unwrap().is_none());

    // Delete without finalizers: a Success Status, then 404.
    let gone = api.delete("w1", &DeleteParams::default()).await.unwrap();
    assert!(gone.is_right());
    assert!(api.get_opt("w1").await.unwrap().is_none());

    // deletecollection with a selector.
    let deleted = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("batch=odd"),
        )
        .await
        .unwrap();
    assert_eq!(deleted.left().unwrap().items.len(), 2);
    assert_eq!(
        api.list(&ListParams::default().labels("batch"))
            .await
            .unwrap()
            .items
            .len(),
        3
    );

    // Deleting the CRD removes its objects, then stops serving the kind.
    let crds: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        kube::Api::all(tc.client.clone());
    crds.delete("widgets.test.dezky.io", &DeleteParams::default())
        .await
        .unwrap();
    eventually(10, || async {
        crds.get_opt("widgets.test.dezky.io")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    // The kind stops being served once the registry catches up (asynchronously, as in kube-apiserver).
    eventually(10, || async {
        match api.list(&ListParams::default()).await {
            Err(kube::Error::Api(s)) if s.code == 404 => Some(()),
            _ => None,
        }
    })
    .await;
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_field_managers() {
    let tc = start().await;
    install_crd(&tc.client).await;
    let api = widgets(&tc.client, "default");
    let cfg = json!({"apiVersion": "test.dezky.io/v1", "kind": "Widget", "metadata": {"name": "s1"}, "spec": {"email": "s@b.test", "owner": "alice"}});
    let created = api
        .patch("s1", &PatchParams::apply("alice"), &Patch::Apply(&cfg))
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["owner"], "alice");
    let mf = created.metadata.managed_fields.clone().unwrap();
    assert_eq!(mf[0].manager.as_deref(), Some("alice"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));

    // Another manager changing alice's field conflicts, unless forced.
    let bob = json!({"apiVersion": "test.dezky.io/v1", "kind": "Widget", "metadata": {"name": "s1"}, "spec": {"owner": "bob"}});
    let err = api
        .patch("s1", &PatchParams::apply("bob"), &Patch::Apply(&bob))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(s.message.contains(".spec.owner"), "{}", s.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    let forced = api
        .patch(
            "s1",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(&bob),
        )
        .await
        .unwrap();
    assert_eq!(forced.data["spec"]["owner"], "bob");

    // Status through SSA with two controllers owning different conditions.
    let st = |t: &str| json!({"apiVersion": "test.dezky.io/v1", "kind": "Widget", "status": {"conditions": [{"type": t, "status": "True"}]}});
    api.patch_status(
        "s1",
        &PatchParams::apply("ctl-a").force(),
        &Patch::Apply(st("A")),
    )
    .await
    .unwrap();
    let both = api
        .patch_status(
            "s1",
            &PatchParams::apply("ctl-b").force(),
            &Patch::Apply(st("B")),
        )
        .await
        .unwrap();
    assert_eq!(
        both.data["status"]["conditions"].as_array().unwrap().len(),
        2
    );
    // Re-applying the same status is a no-op: same resourceVersion, no write.
    let before = tc.dc.stats().writes;
    let same = api
        .patch_status(
            "s1",
            &PatchParams::apply("ctl-b").force(),
            &Patch::Apply(st("B")),
        )
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        both.metadata.resource_version
    );
    assert_eq!(tc.dc.stats().writes, before);
    // A manager that stops applying a condition removes it.
    let none = json!({"apiVersion": "test.dezky.io/v1", "kind": "Widget", "status": {}});
    let after = api
        .patch_status(
            "s1",
            &PatchParams::apply("ctl-a").force(),
            &Patch::Apply(none),
        )
        .await
        .unwrap();
    let types: Vec<_> = after.data["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].clone())
        .collect();
    assert_eq!(types, vec![json!("B")]);
    // Apply without a field manager is refused by the server.
    let err = api
        .patch("s1", &PatchParams::default(), &Patch::Apply(&cfg))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizers_hold_deletion_until_removed() {
    let tc = start().await;
    install_crd(&tc.client).await;
    let api = widgets(&tc.client, "default");
    let mut w = widget("f1", "f@b.test");
    w.metadata.finalizers = Some(vec!["dezky.io/cleanup".into()]);
    api.create(&PostParams::default(), &w).await.unwrap();
    let pending = api.delete("f1", &DeleteParams::default()).await.unwrap();
    let obj = pending
        .left()
        .expect("object returned while finalizers are pending");
    assert!(obj.metadata.deletion_timestamp.is_some());
    assert_eq!(obj.metadata.generation, Some(2));
    // No new finalizers on a deleting object.
    let err = api
        .patch(
            "f1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["dezky.io/cleanup", "x/y"]}})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );
    let jp: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "dezky.io/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"}]))
    .unwrap();
    api.patch("f1", &PatchParams::default(), &Patch::<()>::Json(jp))
        .await
        .unwrap();
    assert!(api.get_opt("f1").await.unwrap().is_none());
    tc.dc.shutdown().await;
}
