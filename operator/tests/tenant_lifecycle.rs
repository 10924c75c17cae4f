//! Tenant controller end to end: devcluster + simulators + the operator over real HTTP.

pub mod runtime_support;

use std::time::Duration;

use dezky_crds::{Member, Tenant};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use runtime_support::{Harness, authentik_groups, condition, is_ready};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const GIB: u64 = 1024 * 1024 * 1024;

fn tenant(name: &str, extra_spec: Value) -> Value {
    let mut spec = json!({
        "displayName": "Acme Corp.",
        "plan": "business",
        "seats": 5,
        "storageQuota": "2Gi",
        "mailboxQuota": "1Gi",
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name}, "spec": spec})
}

fn ready(t: &Tenant) -> bool {
    t.status
        .as_ref()
        .is_some_and(|s| is_ready(&s.conditions, t.metadata.generation))
}

fn reason_of(t: &Tenant, type_: &str) -> Option<String> {
    t.status
        .as_ref()
        .and_then(|s| condition(&s.conditions, type_))
        .map(|(_, reason, _)| reason)
}

fn drives(dump: &Value) -> Vec<Value> {
    dump["drives"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d["driveType"] == "project")
        .collect()
}

fn ocis_groups(dump: &Value, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = dump["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|g| g["displayName"].as_str().map(str::to_owned))
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

fn group_names(dump: &Value, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = authentik_groups(dump, prefix)
        .iter()
        .filter_map(|g| g["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The simulators hold exactly one tenant's objects: 4 Authentik groups, 1 space, 3 OCIS groups.
async fn assert_exactly_one_tenant(h: &Harness, name: &str) {
    let authentik = h.dump("authentik").await;
    let prefix = format!("tenant-{name}");
    assert_eq!(
        group_names(&authentik, &prefix),
        vec![
            prefix.clone(),
            format!("{prefix}-files-editor"),
            format!("{prefix}-files-manager"),
            format!("{prefix}-files-viewer"),
        ]
    );
    let ocis = h.dump("ocis").await;
    let ours: Vec<Value> = drives(&ocis)
        .into_iter()
        .filter(|d| {
            d["driveAlias"]
                .as_str()
                .is_some_and(|a| a.ends_with(&format!(":Tenant:-/{name}")))
        })
        .collect();
    assert_eq!(ours.len(), 1, "one space: {ours:#?}");
    assert_eq!(
        ocis_groups(&ocis, &prefix),
        vec![
            format!("{prefix}-files-editor"),
            format!("{prefix}-files-manager"),
            format!("{prefix}-files-viewer"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_converges_with_space_groups_and_shares_then_idles() {
    let mut h = Harness::start_with_resync("1s").await;
    h.start_operator().await;
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(&tenants, "acme", tenant("acme", json!({}))).await;
    let t = h.wait_for(&tenants, "acme", WAIT, ready).await;
    let status = t.status.clone().expect("status");
    assert_eq!(status.namespace.as_deref(), Some("tenant-acme"));
    assert_eq!(status.seats_used, Some(0));
    assert!(
        condition(&status.conditions, "BillingReady").is_none(),
        "no faked billing condition"
    );
    let files = status.files.clone().expect("files status");
    assert_eq!(files.quota_bytes, Some(2 * GIB as i64));
    assert_exactly_one_tenant(&h, "acme").await;
    // The space is shared with the three OCIS groups in their roles.
    let ocis = h.dump("ocis").await;
    let space = drives(&ocis)
        .into_iter()
        .find(|d| d["id"].as_str() == files.space_id.as_deref())
        .expect("space in dump");
    assert_eq!(space["quota"]["total"].as_u64(), Some(2 * GIB));
    assert_eq!(
        space["name"], "Acme Corp",
        "name without the characters OCIS refuses"
    );
    let shares = space.to_string();
    for role in ["viewer", "editor", "manager"] {
        let group = ocis["groups"]
            .as_array()
            .and_then(|gs| {
                gs.iter()
                    .find(|g| g["displayName"] == format!("tenant-acme-files-{role}"))
            })
            .cloned()
            .expect("group");
        let id = group["id"].as_str().expect("group id");
        assert!(
            shares.contains(id),
            "the space is shared with the {role} group: {space:#}"
        );
    }
    let ns = Api::<Namespace>::all(h.client.clone())
        .get("tenant-acme")
        .await
        .expect("namespace");
    assert_eq!(
        ns.metadata
            .labels
            .unwrap_or_default()
            .get("dezky.io/tenant")
            .map(String::as_str),
        Some("acme")
    );
    assert!(
        ns.metadata.owner_references.unwrap_or_default().is_empty(),
        "never owned"
    );

    // Each upstream change is a Kubernetes Event on the Tenant (cluster-scoped: namespace default).
    let events =
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(h.client.clone(), "default")
            .list(&Default::default())
            .await
            .expect("events");
    let reasons: Vec<String> = events
        .items
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("acme"))
        .filter_map(|e| e.reason.clone())
        .collect();
    for reason in [
        "NamespaceCreated",
        "GroupCreated",
        "SpaceCreated",
        "FilesGroupCreated",
        "SpaceShared",
    ] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "no {reason} event: {reasons:?}"
        );
    }

    // Idle passes: zero upstream writes, zero Kubernetes writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let k8s_before = h.cluster.stats().writes;
    let (up_writes_before, _) = h.upstream_requests().await;
    let passes = h.reconciles("tenant");
    let deadline = std::time::Instant::now() + WAIT;
    while h.reconciles("tenant") < passes + 2 {
        assert!(std::time::Instant::now() < deadline, "no resync happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        h.cluster.stats().writes,
        k8s_before,
        "an idle pass wrote to Kubernetes"
    );
    assert_eq!(
        h.upstream_requests().await.0,
        up_writes_before,
        "an idle pass wrote upstream"
    );

    // Suspension is recorded on the tenant group (Members cut their own access); resume restores it.
    h.apply(&tenants, "acme", tenant("acme", json!({"suspended": true})))
        .await;
    h.wait_for(&tenants, "acme", WAIT, ready).await;
    let suspended = |dump: &Value| {
        authentik_groups(dump, "tenant-acme")
            .iter()
            .find(|g| g["name"] == "tenant-acme")
            .map(|g| g["attributes"]["dezky.io/suspended"].clone())
    };
    assert_eq!(suspended(&h.dump("authentik").await), Some(json!(true)));
    // ... and the project space is disabled while suspended, which FilesReady says.
    let space_id = files.space_id.clone().expect("space id");
    let trashed = |dump: &Value| {
        drives(dump)
            .into_iter()
            .find(|d| d["id"].as_str() == Some(space_id.as_str()))
            .map(|d| d["root"]["deleted"]["state"] == "trashed")
    };
    assert_eq!(trashed(&h.dump("ocis").await), Some(true));
    let t = tenants.get("acme").await.expect("tenant");
    assert_eq!(reason_of(&t, "FilesReady").as_deref(), Some("Suspended"));
    h.apply(&tenants, "acme", tenant("acme", json!({}))).await;
    let t = h.wait_for(&tenants, "acme", WAIT, ready).await;
    assert_eq!(suspended(&h.dump("authentik").await), Some(json!(false)));
    assert_eq!(trashed(&h.dump("ocis").await), Some(false));
    assert_eq!(reason_of(&t, "FilesReady").as_deref(), Some("Reconciled"));

    // A quota change reaches the space.
    h.apply(
        &tenants,
        "acme",
        tenant("acme", json!({"storageQuota": "3Gi"})),
    )
    .await;
    h.wait_for(&tenants, "acme", WAIT, |t| {
        ready(t)
            && t.status
                .as_ref()
                .and_then(|s| s.files.as_ref())
                .and_then(|f| f.quota_bytes)
                == Some(3 * GIB as i64)
    })
    .await;
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_outage_is_named_then_recovers_without_help() {
    let mut h = Harness::start().await;
    h.add_fault(json!({"upstream": "ocis", "outage": true}))
        .await;
    h.start_operator().await;
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(&tenants, "outage", tenant("outage", json!({})))
        .await;
    let t = h
        .wait_for(&tenants, "outage", WAIT, |t| {
            reason_of(t, "FilesReady").as_deref() == Some("UpstreamUnavailable")
        })
        .await;
    let (_, _, message) =
        condition(&t.status.as_ref().expect("status").conditions, "FilesReady").expect("files");
    assert!(message.starts_with("ocis:"), "{message}");
    assert_eq!(
        reason_of(&t, "Ready").as_deref(),
        Some("UpstreamUnavailable")
    );
    assert!(
        reason_of(&t, "Stalled").is_none(),
        "an outage is retried, not stalled"
    );
    h.clear_faults().await;
    h.wait_for(&tenants, "outage", WAIT, ready).await;
    assert_exactly_one_tenant(&h, "outage").await;
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_upstream_create_and_status_write_leaves_no_duplicate() {
    let mut h = Harness::start().await;
    // OCIS is slow: the operator creates the Authentik groups, then hangs on OCIS.
    h.add_fault(json!({"upstream": "ocis", "latencyMs": 3000}))
        .await;
    h.start_operator().await;
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(&tenants, "crash", tenant("crash", json!({}))).await;
    let deadline = std::time::Instant::now() + WAIT;
    while group_names(&h.dump("authentik").await, "tenant-crash").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no group was created");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Killed before any status could record the group.
    h.operator.take().expect("operator").kill();
    let t = tenants.get("crash").await.expect("tenant");
    assert!(
        t.status
            .as_ref()
            .and_then(|s| s.identity.as_ref())
            .is_none(),
        "no status recorded the group"
    );
    h.clear_faults().await;
    h.start_operator().await;
    h.wait_for(&tenants, "crash", WAIT, ready).await;
    assert_exactly_one_tenant(&h, "crash").await;
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_is_blocked_while_members_remain_then_deletes_upstream() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(
        &tenants,
        "gone",
        tenant("gone", json!({"deletionPolicy": "Delete"})),
    )
    .await;
    h.apply(&tenants, "kept", tenant("kept", json!({}))).await;
    h.wait_for(&tenants, "gone", WAIT, ready).await;
    h.wait_for(&tenants, "kept", WAIT, ready).await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), "tenant-gone");
    h.apply(
        &members,
        "jdoe",
        json!({
            "apiVersion": "dezky.io/v1alpha1", "kind": "Member",
            "metadata": {"name": "jdoe", "namespace": "tenant-gone"},
            "spec": {"email": "jdoe@gone.test", "displayName": "Jane Doe", "role": "member", "deletionPolicy": "Orphan"},
        }),
    )
    .await;
    tenants
        .delete("gone", &DeleteParams::default())
        .await
        .expect("delete");
    let t = h
        .wait_for(&tenants, "gone", WAIT, |t| {
            reason_of(t, "Ready").as_deref() == Some("DeletionBlocked")
        })
        .await;
    let (_, _, message) =
        condition(&t.status.as_ref().expect("status").conditions, "Ready").expect("ready");
    assert!(message.contains("1 Member"), "{message}");
    assert_exactly_one_tenant(&h, "gone").await;
    members
        .delete("jdoe", &DeleteParams::default())
        .await
        .expect("delete member");
    h.wait_gone(&tenants, "gone", WAIT).await;
    // Delete: everything upstream is gone, the namespace stays. Orphan: the other tenant is untouched.
    let authentik = h.dump("authentik").await;
    assert!(
        group_names(&authentik, "tenant-gone").is_empty(),
        "{authentik:#}"
    );
    let ocis = h.dump("ocis").await;
    assert!(ocis_groups(&ocis, "tenant-gone").is_empty());
    assert!(
        !drives(&ocis).iter().any(|d| d["driveAlias"]
            .as_str()
            .is_some_and(|a| a.ends_with(":Tenant:-/gone"))),
        "the space is purged"
    );
    assert!(
        Api::<Namespace>::all(h.client.clone())
            .get_opt("tenant-gone")
            .await
            .expect("get")
            .is_some()
    );
    tenants
        .delete("kept", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone(&tenants, "kept", WAIT).await;
    assert_exactly_one_tenant(&h, "kept").await;
    h.stop_operator().await;
}
