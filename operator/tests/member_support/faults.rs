//! Failure end to end: an upstream outage shows in the member's conditions (naming the upstream)
//! and converges without a manual step; an operator killed mid-provisioning leaves no duplicate.

use dezky_crds::Member;
use kube::api::Api;
use serde_json::json;

use super::*;
use crate::runtime_support::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_outage_is_reported_and_recovers_by_itself() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({})).await;
    verified_domain(&h, &ns, "acme", "acme.test").await;
    h.add_fault(json!({"upstream": "stalwart", "outage": true}))
        .await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    h.apply(
        &members,
        "jdoe",
        member(&ns, "jdoe", "jdoe@acme.test", json!({})),
    )
    .await;
    let m = member_where(&h, &ns, "jdoe", |m| {
        m.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "MailboxReady"))
            .is_some_and(|c| {
                c.status != dezky_crds::ConditionStatus::True && c.message.contains("stalwart")
            })
    })
    .await;
    assert!(!member_ready(&m));
    let mailbox = m
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.type_ == "MailboxReady")
        .expect("condition");
    assert!(mailbox.reason.starts_with("Upstream"), "{mailbox:?}");
    h.clear_faults().await;
    h.wait_for(&members, "jdoe", WAIT, member_ready).await;
    let password = password_of(&h, &ns, "jdoe").await;
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        dezky_simulators::stalwart::Login::Accepted
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_create_and_status_leaves_no_duplicate() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({})).await;
    verified_domain(&h, &ns, "acme", "acme.test").await;
    // slow the mail server so the operator is killed while the member is half provisioned
    h.add_fault(json!({"upstream": "stalwart", "latencyMs": 300}))
        .await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    h.apply(
        &members,
        "jdoe",
        member(&ns, "jdoe", "jdoe@acme.test", json!({})),
    )
    .await;
    let deadline = std::time::Instant::now() + WAIT;
    while authentik_user(&h, "jdoe@acme.test").await.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the user was never created"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    h.operator.take().expect("operator").kill();
    let status = members
        .get("jdoe")
        .await
        .expect("member")
        .status
        .unwrap_or_default();
    assert!(
        status.identity.is_none(),
        "killed before the status was written"
    );
    h.clear_faults().await;
    h.start_operator().await;
    h.wait_for(&members, "jdoe", WAIT, member_ready).await;
    let dump = h.dump("authentik").await;
    let users = dump["users"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        users
            .iter()
            .filter(|u| u["username"] == "jdoe@acme.test")
            .count(),
        1
    );
    let mail = stalwart_state(&h).await;
    assert_eq!(
        mail.matches("tenant-acme/jdoe").count(),
        1,
        "one mailbox: {mail}"
    );
    let password = password_of(&h, &ns, "jdoe").await;
    assert!(authentik_login(&h, "jdoe@acme.test", &password).await);
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        dezky_simulators::stalwart::Login::Accepted
    );
    h.stop_operator().await;
}
