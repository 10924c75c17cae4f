//! Member adoption and refusal end to end: an unmarked user is adopted only with the annotation
//! AND the Tenant's allowAdoption; a user marked by another tenant is never taken over; paused
//! members change nothing; Orphan leaves the accounts as they are.

use dezky_crds::{Member, Tenant};
use kube::api::{Api, DeleteParams};
use serde_json::json;

use super::*;
use crate::runtime_support::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmarked_user_is_adopted_only_with_annotation_and_allow_adoption() {
    let mut h = Harness::start().await;
    let pk = create_user_by_hand(&h, "jdoe@acme.test", json!({"team": "sales"})).await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({})).await;
    verified_domain(&h, &ns, "acme", "acme.test").await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    h.apply(
        &members,
        "jdoe",
        member(&ns, "jdoe", "jdoe@acme.test", json!({})),
    )
    .await;
    member_where(&h, &ns, "jdoe", |m| {
        member_reason(m, "IdentityReady").as_deref() == Some("AdoptionRequired")
    })
    .await;
    let adopt = json!({"dezky.io/adopt": "true"});
    h.apply(
        &members,
        "jdoe",
        member_annotated(&ns, "jdoe", "jdoe@acme.test", json!({}), adopt.clone()),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    member_where(&h, &ns, "jdoe", |m| {
        member_reason(m, "IdentityReady").as_deref() == Some("AdoptionRequired")
    })
    .await;
    let user = authentik_user(&h, "jdoe@acme.test").await.expect("user");
    assert!(
        user["attributes"].get("dezky.io/marker").is_none(),
        "not adopted without allowAdoption"
    );

    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(
        &tenants,
        "acme",
        tenant("acme", 5, json!({"allowAdoption": true})),
    )
    .await;
    h.wait_for(&members, "jdoe", WAIT, member_ready).await;
    let user = authentik_user(&h, "jdoe@acme.test").await.expect("user");
    assert_eq!(user["pk"].as_i64(), Some(pk), "the same user, adopted");
    assert_eq!(
        user["attributes"]["dezky.io/marker"],
        "dezky:test:Member:tenant-acme/jdoe"
    );
    assert_eq!(
        user["attributes"]["team"], "sales",
        "other attributes are left alone"
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_marked_by_another_tenant_is_never_taken_over() {
    let mut h = Harness::start().await;
    let foreign = json!({"dezky.io/marker": "dezky:test:Member:tenant-evil/jdoe"});
    create_user_by_hand(&h, "jdoe@acme.test", foreign.clone()).await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({"allowAdoption": true})).await;
    verified_domain(&h, &ns, "acme", "acme.test").await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    let adopt = json!({"dezky.io/adopt": "true"});
    h.apply(
        &members,
        "jdoe",
        member_annotated(&ns, "jdoe", "jdoe@acme.test", json!({}), adopt),
    )
    .await;
    let m = member_where(&h, &ns, "jdoe", |m| {
        member_reason(m, "IdentityReady").as_deref() == Some("NameTaken")
    })
    .await;
    assert!(!member_ready(&m));
    let user = authentik_user(&h, "jdoe@acme.test").await.expect("user");
    assert_eq!(
        user["attributes"]["dezky.io/marker"],
        foreign["dezky.io/marker"]
    );
    assert!(
        !h.secret_exists(&ns, "member-jdoe-credentials").await,
        "no password was issued"
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_members_change_nothing_and_orphan_keeps_the_accounts() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({})).await;
    verified_domain(&h, &ns, "acme", "acme.test").await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    let paused = json!({"dezky.io/paused": "true"});
    let orphan = json!({"deletionPolicy": "Orphan"});
    h.apply(
        &members,
        "jdoe",
        member_annotated(&ns, "jdoe", "jdoe@acme.test", orphan.clone(), paused),
    )
    .await;
    member_where(&h, &ns, "jdoe", |m| {
        member_reason(m, "IdentityReady").as_deref() == Some("Paused")
    })
    .await;
    assert!(
        authentik_user(&h, "jdoe@acme.test").await.is_none(),
        "paused: nothing created"
    );

    h.apply(
        &members,
        "jdoe",
        member_annotated(&ns, "jdoe", "jdoe@acme.test", orphan, json!({})),
    )
    .await;
    h.wait_for(&members, "jdoe", WAIT, member_ready).await;
    let password = password_of(&h, &ns, "jdoe").await;
    members
        .delete("jdoe", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone(&members, "jdoe", WAIT).await;
    let user = authentik_user(&h, "jdoe@acme.test")
        .await
        .expect("user kept");
    assert_eq!(
        user["is_active"], true,
        "Orphan leaves the account as it is"
    );
    assert!(user["attributes"]["dezky.io/purge-after"].is_null());
    assert!(authentik_login(&h, "jdoe@acme.test", &password).await);
    h.stop_operator().await;
}
