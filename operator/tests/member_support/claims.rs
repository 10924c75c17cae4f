//! MailDomain ownership end to end: a domain another tenant has proven is refused without
//! touching that tenant's objects; a domain in use cannot be deleted.

use dezky_crds::{MailDomain, Member};
use kube::api::{Api, DeleteParams};
use serde_json::json;

use super::*;
use crate::runtime_support::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_proven_by_another_tenant_is_refused() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let acme = tenant_ready(&h, "acme", 5, json!({})).await;
    let owned = verified_domain(&h, &acme, "acme", "acme.test").await;
    let domain_id = owned
        .status
        .and_then(|s| s.mail)
        .and_then(|m| m.domain_id)
        .expect("domain id");
    let stalwart_before = stalwart_state(&h).await;

    let evil = tenant_ready(&h, "evil", 5, json!({})).await;
    let domains: Api<MailDomain> = Api::namespaced(h.client.clone(), &evil);
    let members: Api<Member> = Api::namespaced(h.client.clone(), &evil);
    h.apply(
        &domains,
        "acme",
        maildomain(&evil, "acme", "acme.test", json!({})),
    )
    .await;
    h.apply(
        &members,
        "mallory",
        member(&evil, "mallory", "mallory@acme.test", json!({})),
    )
    .await;
    let d = h
        .wait_for(&domains, "acme", WAIT, |d| {
            d.status
                .as_ref()
                .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.reason == "DomainClaimed")
        })
        .await;
    assert_eq!(
        domain_condition(&d, "OwnershipVerified").as_deref(),
        Some("False")
    );
    member_where(&h, &evil, "mallory", |m| {
        member_reason(m, "Ready").as_deref() == Some("DomainNotVerified")
    })
    .await;
    assert!(authentik_user(&h, "mallory@acme.test").await.is_none());
    assert_eq!(
        stalwart_state(&h).await,
        stalwart_before,
        "nothing of the other tenant was touched"
    );
    let acme_domains: Api<MailDomain> = Api::namespaced(h.client.clone(), &acme);
    let still = acme_domains.get("acme").await.expect("acme's domain");
    assert_eq!(
        still.status.and_then(|s| s.mail).and_then(|m| m.domain_id),
        Some(domain_id)
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_in_use_is_not_deleted() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({})).await;
    verified_domain(&h, &ns, "acme", "acme.test").await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    let domains: Api<MailDomain> = Api::namespaced(h.client.clone(), &ns);
    h.apply(
        &members,
        "jdoe",
        member(
            &ns,
            "jdoe",
            "jdoe@acme.test",
            json!({"mailbox": {"enabled": false}}),
        ),
    )
    .await;
    h.wait_for(&members, "jdoe", WAIT, member_ready).await;

    domains
        .delete("acme", &DeleteParams::default())
        .await
        .expect("delete");
    let d = h
        .wait_for(&domains, "acme", WAIT, |d| {
            d.status
                .as_ref()
                .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.reason == "DomainInUse")
        })
        .await;
    assert!(d.metadata.deletion_timestamp.is_some());
    assert!(
        stalwart_state(&h).await.contains("acme.test"),
        "the mail server domain stays"
    );

    members
        .delete("jdoe", &DeleteParams::default())
        .await
        .expect("delete member");
    h.wait_gone(&members, "jdoe", WAIT).await;
    h.wait_gone(&domains, "acme", WAIT).await;
    assert!(
        !stalwart_state(&h).await.contains("\"acme.test\""),
        "the domain was removed from the mail server"
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_primary_domain_is_reported() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({})).await;
    let domains: Api<MailDomain> = Api::namespaced(h.client.clone(), &ns);
    let mut first = maildomain(&ns, "first", "acme.test", json!({}));
    first["spec"]["primary"] = json!(true);
    h.apply(&domains, "first", first).await;
    h.wait_for(&domains, "first", WAIT, |d| d.status.is_some())
        .await;
    let mut second = maildomain(&ns, "second", "acme2.test", json!({}));
    second["spec"]["primary"] = json!(true);
    h.apply(&domains, "second", second).await;
    let d = h
        .wait_for(&domains, "second", WAIT, |d| {
            d.status
                .as_ref()
                .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.reason == "DuplicatePrimary")
        })
        .await;
    let ready = d
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .expect("ready");
    assert!(ready.message.contains("first"), "{ready:?}");
    let first = domains.get("first").await.expect("first");
    let reason = first
        .status
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.reason);
    assert_ne!(
        reason.as_deref(),
        Some("DuplicatePrimary"),
        "the first primary keeps its place"
    );
    h.stop_operator().await;
}
