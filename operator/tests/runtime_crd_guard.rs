//! Deleting a Dezky CRD never deletes anything upstream, even for objects whose policy is Delete.

pub mod runtime_support;

use std::time::{Duration, Instant};

use dezky_crds::Tenant;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams};
use runtime_support::{Harness, authentik_groups, is_ready};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_tenant_crd_orphans_everything_upstream() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    let manifest = json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "keep"},
        "spec": {"displayName": "Keep", "plan": "starter", "seats": 1, "storageQuota": "1Gi",
                 "mailboxQuota": "1Gi", "deletionPolicy": "Delete"},
    });
    h.apply(&tenants, "keep", manifest).await;
    h.wait_for(&tenants, "keep", Duration::from_secs(30), |t| {
        t.status
            .as_ref()
            .is_some_and(|s| is_ready(&s.conditions, t.metadata.generation))
    })
    .await;
    let (writes_before, _) = h.upstream_requests().await;
    let before = authentik_groups(&h.dump("authentik").await, "tenant-keep").len();
    assert_eq!(before, 4);

    let crds: Api<CustomResourceDefinition> = Api::all(h.client.clone());
    crds.delete("tenants.dezky.io", &DeleteParams::default())
        .await
        .expect("delete the CRD");
    let deadline = Instant::now() + Duration::from_secs(30);
    while crds
        .get_opt("tenants.dezky.io")
        .await
        .expect("get")
        .is_some()
    {
        assert!(
            Instant::now() < deadline,
            "the CRD was not deleted (finalizer kept?)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        authentik_groups(&h.dump("authentik").await, "tenant-keep").len(),
        4,
        "groups deleted although the CRD was being deleted"
    );
    let ocis = h.dump("ocis").await;
    assert!(
        ocis["drives"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["driveAlias"]
                .as_str()
                .is_some_and(|a| a.ends_with(":Tenant:-/keep")))),
        "the space was deleted"
    );
    let (writes_after, _) = h.upstream_requests().await;
    assert_eq!(
        writes_after, writes_before,
        "something was written upstream"
    );
    h.stop_operator().await;
}
