//! The Tenant controller purges a deleted member's retained account and mailbox once the
//! tenant's `retention.deletedMembers` has passed (the Member controller retires and marks them).

pub mod runtime_support;

use std::time::{Duration, Instant};

use dezky_crds::{MailDomain, Member, Tenant};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use runtime_support::{Harness, condition, is_ready};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// Publishes DNS records through the simulators' control API.
async fn publish(h: &Harness, records: Value) {
    let control = &h.sims.info.simulator_control;
    reqwest::Client::new()
        .put(format!(
            "{}/control/v1/dns/records",
            control.url.trim_end_matches('/')
        ))
        .bearer_auth(&control.token)
        .json(&records)
        .send()
        .await
        .expect("control API answers")
        .error_for_status()
        .expect("records published");
}

/// A MailDomain whose ownership record is published, verified.
async fn verified_domain(h: &Harness, ns: &str, domain: &str) {
    let api: Api<MailDomain> = Api::namespaced(h.client.clone(), ns);
    publish(
        h,
        json!({"name": format!("www.{domain}"), "type": "A", "value": "127.0.0.1"}),
    )
    .await;
    let manifest = json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "MailDomain",
        "metadata": {"name": "primary", "namespace": ns},
        "spec": {"domain": domain, "dmarcPolicy": "quarantine"},
    });
    h.apply(&api, "primary", manifest).await;
    let d = h
        .wait_for(&api, "primary", WAIT, |d| {
            d.status.as_ref().is_some_and(|s| !s.dns_records.is_empty())
        })
        .await;
    let ownership = d.status.expect("status").dns_records[0].clone();
    publish(
        h,
        json!({"name": ownership.name, "type": "TXT", "value": ownership.value}),
    )
    .await;
    let recheck = json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "MailDomain",
        "metadata": {"name": "primary", "annotations": {"dezky.io/recheck": "1"}},
    });
    api.patch(
        "primary",
        &PatchParams::apply("test-recheck").force(),
        &Patch::Apply(&recheck),
    )
    .await
    .expect("recheck");
    h.wait_for(&api, "primary", WAIT, |d| {
        d.status
            .as_ref()
            .and_then(|s| condition(&s.conditions, "MailServerReady"))
            .is_some_and(|(status, _, _)| status == "True")
    })
    .await;
}

async fn authentik_user(h: &Harness, username: &str) -> Option<Value> {
    let dump = h.dump("authentik").await;
    dump["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["username"] == username).cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_member_data_is_purged_after_the_retention() {
    let mut h = Harness::start_with_resync("30s").await;
    h.start_operator().await;
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    let manifest = json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"},
        "spec": {"displayName": "Acme", "plan": "business", "seats": 5, "storageQuota": "10Gi",
                 "mailboxQuota": "1Gi", "retention": {"deletedMembers": "3s"}},
    });
    h.apply(&tenants, "acme", manifest).await;
    h.wait_for(&tenants, "acme", WAIT, |t| {
        t.status
            .as_ref()
            .is_some_and(|s| is_ready(&s.conditions, t.metadata.generation))
    })
    .await;
    verified_domain(&h, "tenant-acme", "acme.test").await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), "tenant-acme");
    let manifest = json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "Member",
        "metadata": {"name": "jdoe", "namespace": "tenant-acme"},
        "spec": {"email": "jdoe@acme.test", "displayName": "Jane Doe", "mailbox": {"enabled": true}},
    });
    h.apply(&members, "jdoe", manifest).await;
    h.wait_for(&members, "jdoe", WAIT, |m| {
        m.status
            .as_ref()
            .is_some_and(|s| is_ready(&s.conditions, m.metadata.generation))
    })
    .await;
    assert!(
        h.dump("stalwart").await.to_string().contains("jdoe"),
        "the mailbox exists"
    );

    members
        .delete("jdoe", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone(&members, "jdoe", WAIT).await;
    // Retained first: the user is still there, inactive, with a purge time.
    let user = authentik_user(&h, "jdoe@acme.test")
        .await
        .expect("retained user");
    assert_eq!(user["is_active"], false);
    assert!(
        user["attributes"]["dezky.io/purge-after"].is_string(),
        "{user:#}"
    );

    // Purged after the retention, without any change to the Tenant (its requeue is timed).
    let deadline = Instant::now() + WAIT;
    while authentik_user(&h, "jdoe@acme.test").await.is_some() {
        assert!(
            Instant::now() < deadline,
            "the retained user was never purged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stalwart = h.dump("stalwart").await.to_string();
    assert!(
        !stalwart.contains("jdoe"),
        "the retained mailbox was not purged: {stalwart}"
    );
    h.stop_operator().await;
}
