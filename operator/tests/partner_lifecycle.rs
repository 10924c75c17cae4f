//! Partner controller end to end: devcluster + simulators + the operator over real HTTP.

pub mod runtime_support;

use std::time::Duration;

use dezky_crds::{Member, Partner, Tenant};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use runtime_support::{Harness, authentik_groups, condition, is_ready};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn partner(name: &str, extra_spec: Value, annotations: Value) -> Value {
    let mut spec =
        json!({"displayName": "Northwind IT", "domain": "northwind.test", "marginPercent": 20});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    json!({
        "apiVersion": "dezky.io/v1alpha1",
        "kind": "Partner",
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    })
}

fn ready(p: &Partner) -> bool {
    p.status
        .as_ref()
        .is_some_and(|s| is_ready(&s.conditions, p.metadata.generation))
}

fn reason_of(p: &Partner, type_: &str) -> Option<String> {
    p.status
        .as_ref()
        .and_then(|s| condition(&s.conditions, type_))
        .map(|(_, reason, _)| reason)
}

/// Creates a group directly in the Authentik simulator (as an administrator would by hand).
async fn create_group_by_hand(h: &Harness, name: &str, attributes: Value) {
    let up = &h.sims.info.upstreams.authentik;
    reqwest::Client::new()
        .post(format!(
            "{}/api/v3/core/groups/",
            up.url.trim_end_matches('/')
        ))
        .bearer_auth(&up.token)
        .json(&json!({"name": name, "attributes": attributes}))
        .send()
        .await
        .expect("authentik answers")
        .error_for_status()
        .expect("group created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_converges_then_an_idle_pass_writes_nothing() {
    let mut h = Harness::start_with_resync("1s").await;
    h.start_operator().await;
    let partners: Api<Partner> = Api::all(h.client.clone());
    h.apply(
        &partners,
        "northwind",
        partner("northwind", json!({}), json!({})),
    )
    .await;
    let p = h.wait_for(&partners, "northwind", WAIT, ready).await;
    let status = p.status.clone().expect("status");
    assert_eq!(status.namespace.as_deref(), Some("partner-northwind"));
    assert_eq!(status.tenants, Some(0));
    assert_eq!(status.observed_generation, p.metadata.generation);
    assert!(
        p.finalizers().iter().any(|f| f == "dezky.io/cleanup"),
        "finalizer added"
    );
    // The namespace carries the partner label and no ownerReference.
    let ns = Api::<Namespace>::all(h.client.clone())
        .get("partner-northwind")
        .await
        .expect("namespace");
    assert_eq!(
        ns.metadata
            .labels
            .unwrap_or_default()
            .get("dezky.io/partner")
            .map(String::as_str),
        Some("northwind")
    );
    assert!(ns.metadata.owner_references.unwrap_or_default().is_empty());
    // Exactly one group, marked as ours.
    let dump = h.dump("authentik").await;
    let groups = authentik_groups(&dump, "partner-");
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0]["name"], "partner-northwind");
    assert_eq!(
        groups[0]["attributes"]["dezky.io/marker"],
        "dezky:test:Partner:-/northwind"
    );
    assert_eq!(
        status.identity.and_then(|i| i.group_pk),
        groups[0]["pk"].as_str().map(str::to_owned)
    );

    // Idle: several resync passes later, nothing was written upstream or in Kubernetes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let k8s_before = h.cluster.stats().writes;
    let (up_writes_before, up_total_before) = h.upstream_requests().await;
    let passes_before = h.reconciles("partner");
    let deadline = std::time::Instant::now() + WAIT;
    while h.reconciles("partner") < passes_before + 2 {
        assert!(std::time::Instant::now() < deadline, "no resync happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (up_writes_after, up_total_after) = h.upstream_requests().await;
    assert_eq!(
        h.cluster.stats().writes,
        k8s_before,
        "an idle pass wrote to Kubernetes"
    );
    assert_eq!(
        up_writes_after, up_writes_before,
        "an idle pass wrote upstream"
    );
    assert!(
        up_total_after > up_total_before,
        "the passes did observe upstream"
    );

    // The metrics endpoint exports the reconcile metrics.
    let addr = h.operator.as_ref().expect("operator").metrics_address;
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(
        text.contains("dezky_reconciles_total{controller=\"partner\",outcome=\"success\"}"),
        "{text}"
    );
    assert!(text.contains("dezky_upstream_requests_total"), "{text}");
    let health = reqwest::get(format!("http://{addr}/readyz"))
        .await
        .expect("readyz");
    assert!(health.status().is_success());
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmarked_group_is_adopted_only_with_annotation_and_allow_adoption() {
    let mut h = Harness::start().await;
    create_group_by_hand(&h, "partner-initech", json!({"team": "ops"})).await;
    h.start_operator().await;
    let partners: Api<Partner> = Api::all(h.client.clone());
    h.apply(
        &partners,
        "initech",
        partner("initech", json!({}), json!({})),
    )
    .await;
    let p = h
        .wait_for(&partners, "initech", WAIT, |p| {
            reason_of(p, "IdentityReady").as_deref() == Some("AdoptionRequired")
        })
        .await;
    assert_eq!(reason_of(&p, "Ready").as_deref(), Some("AdoptionRequired"));
    // The annotation alone is not enough.
    h.apply(
        &partners,
        "initech",
        partner("initech", json!({}), json!({"dezky.io/adopt": "true"})),
    )
    .await;
    let p = h
        .wait_for(&partners, "initech", WAIT, |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.observed_generation == p.metadata.generation)
                && reason_of(p, "IdentityReady").as_deref() == Some("AdoptionRequired")
        })
        .await;
    assert!(!ready(&p));
    let dump = h.dump("authentik").await;
    assert!(
        authentik_groups(&dump, "partner-initech")[0]["attributes"]
            .get("dezky.io/marker")
            .is_none()
    );
    // With allowAdoption it is adopted: marked, and still the only one.
    h.apply(
        &partners,
        "initech",
        partner(
            "initech",
            json!({"allowAdoption": true}),
            json!({"dezky.io/adopt": "true"}),
        ),
    )
    .await;
    h.wait_for(&partners, "initech", WAIT, ready).await;
    let dump = h.dump("authentik").await;
    let groups = authentik_groups(&dump, "partner-initech");
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0]["attributes"]["dezky.io/marker"],
        "dezky:test:Partner:-/initech"
    );
    assert_eq!(
        groups[0]["attributes"]["team"], "ops",
        "other attributes are left alone"
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_marked_by_someone_else_is_never_taken_over() {
    let mut h = Harness::start().await;
    let foreign = json!({"dezky.io/marker": "dezky:other:Partner:-/umbrella"});
    create_group_by_hand(&h, "partner-umbrella", foreign.clone()).await;
    h.start_operator().await;
    let partners: Api<Partner> = Api::all(h.client.clone());
    h.apply(
        &partners,
        "umbrella",
        partner(
            "umbrella",
            json!({"allowAdoption": true}),
            json!({"dezky.io/adopt": "true"}),
        ),
    )
    .await;
    let p = h
        .wait_for(&partners, "umbrella", WAIT, |p| {
            reason_of(p, "IdentityReady").as_deref() == Some("NameTaken")
        })
        .await;
    assert!(!ready(&p));
    let dump = h.dump("authentik").await;
    let groups = authentik_groups(&dump, "partner-umbrella");
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0]["attributes"]["dezky.io/marker"],
        foreign["dezky.io/marker"]
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_observes_only_and_deletion_policy_decides_cleanup() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let partners: Api<Partner> = Api::all(h.client.clone());
    // Paused: nothing is created upstream, the condition says why.
    h.apply(
        &partners,
        "paused",
        partner(
            "paused",
            json!({"deletionPolicy": "Delete"}),
            json!({"dezky.io/paused": "true"}),
        ),
    )
    .await;
    h.wait_for(&partners, "paused", WAIT, |p| {
        reason_of(p, "IdentityReady").as_deref() == Some("Paused")
    })
    .await;
    assert!(authentik_groups(&h.dump("authentik").await, "partner-paused").is_empty());
    // Unpaused: converges.
    h.apply(
        &partners,
        "paused",
        partner("paused", json!({"deletionPolicy": "Delete"}), json!({})),
    )
    .await;
    h.wait_for(&partners, "paused", WAIT, ready).await;
    h.apply(&partners, "kept", partner("kept", json!({}), json!({})))
        .await;
    h.wait_for(&partners, "kept", WAIT, ready).await;
    assert_eq!(
        authentik_groups(&h.dump("authentik").await, "partner-").len(),
        2
    );

    // Delete removes the group; Orphan (the default) leaves it; neither touches the namespace.
    partners
        .delete("paused", &DeleteParams::default())
        .await
        .expect("delete");
    partners
        .delete("kept", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone(&partners, "paused", WAIT).await;
    h.wait_gone(&partners, "kept", WAIT).await;
    let dump = h.dump("authentik").await;
    let names: Vec<String> = authentik_groups(&dump, "partner-")
        .iter()
        .map(|g| g["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, vec!["partner-kept".to_string()]);
    let namespaces = Api::<Namespace>::all(h.client.clone());
    assert!(
        namespaces
            .get_opt("partner-paused")
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        namespaces
            .get_opt("partner-kept")
            .await
            .expect("get")
            .is_some()
    );
    h.stop_operator().await;
}

fn condition_message(p: &Partner, type_: &str) -> String {
    p.status
        .as_ref()
        .and_then(|s| condition(&s.conditions, type_))
        .map(|(_, _, message)| message)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_waits_until_the_partners_tenants_and_staff_are_gone() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let partners: Api<Partner> = Api::all(h.client.clone());
    h.apply(
        &partners,
        "northwind",
        partner("northwind", json!({"deletionPolicy": "Delete"}), json!({})),
    )
    .await;
    h.wait_for(&partners, "northwind", WAIT, ready).await;
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(
        &tenants,
        "acme",
        json!({
            "apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"},
            "spec": {"displayName": "Acme", "plan": "business", "seats": 5,
                     "storageQuota": "1Gi", "mailboxQuota": "1Gi",
                     "partnerRef": {"name": "northwind"}},
        }),
    )
    .await;
    let staff: Api<Member> = Api::namespaced(h.client.clone(), "partner-northwind");
    h.apply(
        &staff,
        "desk",
        json!({
            "apiVersion": "dezky.io/v1alpha1", "kind": "Member",
            "metadata": {"name": "desk", "namespace": "partner-northwind"},
            "spec": {"email": "desk@northwind.test", "displayName": "Partner Desk"},
        }),
    )
    .await;
    h.wait_for(&partners, "northwind", WAIT, |p| {
        p.status.as_ref().and_then(|s| s.tenants) == Some(1)
    })
    .await;

    // Refused while both remain: the finalizer stays, Ready says what remains, the group stays.
    partners
        .delete("northwind", &DeleteParams::default())
        .await
        .expect("delete");
    let p = h
        .wait_for(&partners, "northwind", WAIT, |p| {
            reason_of(p, "Ready").as_deref() == Some("DeletionBlocked")
        })
        .await;
    let message = condition_message(&p, "Ready");
    assert!(message.contains("1 Tenant(s)"), "{message}");
    assert!(message.contains("1 staff Member(s)"), "{message}");
    let events = Api::<Event>::all(h.client.clone())
        .list(&Default::default())
        .await
        .expect("events");
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("DeletionBlocked")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("northwind")),
        "an Event says the deletion is blocked"
    );
    assert_eq!(
        authentik_groups(&h.dump("authentik").await, "partner-northwind").len(),
        1
    );

    // The tenant gone, the staff member still blocks it.
    tenants
        .delete("acme", &DeleteParams::default())
        .await
        .expect("delete tenant");
    h.wait_gone(&tenants, "acme", WAIT).await;
    let p = h
        .wait_for(&partners, "northwind", WAIT, |p| {
            !condition_message(p, "Ready").contains("Tenant")
        })
        .await;
    assert_eq!(reason_of(&p, "Ready").as_deref(), Some("DeletionBlocked"));
    assert!(condition_message(&p, "Ready").contains("1 staff Member(s)"));

    // Both gone: the deletion proceeds (policy Delete removes the group).
    staff
        .delete("desk", &DeleteParams::default())
        .await
        .expect("delete member");
    h.wait_gone(&partners, "northwind", WAIT).await;
    assert!(authentik_groups(&h.dump("authentik").await, "partner-northwind").is_empty());
    h.stop_operator().await;
}
