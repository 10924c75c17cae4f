//! Member deletion end to end: access is cut at once, the data is kept with a purge time, and a
//! Member re-created with the same address inside the window gets its accounts back; the seat limit.

use dezky_crds::{Member, Tenant};
use dezky_simulators::stalwart::Login;
use kube::api::{Api, DeleteParams};
use serde_json::json;

use super::*;
use crate::runtime_support::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_cuts_access_and_a_new_member_gets_the_accounts_back() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let (ns, password) = provisioned_member(&h, "jdoe", 5).await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    let before = authentik_user(&h, "jdoe@acme.test").await.expect("user");
    assert!(authentik_login(&h, "jdoe@acme.test", &password).await);

    members
        .delete("jdoe", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_gone(&members, "jdoe", WAIT).await;
    let retained = authentik_user(&h, "jdoe@acme.test")
        .await
        .expect("the user is kept");
    assert_eq!(retained["is_active"], false, "access cut at once");
    assert!(
        retained["attributes"]["dezky.io/purge-after"].is_string(),
        "{retained:#}"
    );
    assert!(
        retained["attributes"]["dezky.io/retained-mailbox"].is_string(),
        "{retained:#}"
    );
    assert_eq!(
        sessions_of(&h, retained["pk"].as_i64().expect("pk")).await,
        0
    );
    assert!(!authentik_login(&h, "jdoe@acme.test", &password).await);
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        Login::Suspended
    );

    // another Member of the same tenant with the same address takes the retained accounts over
    h.apply(
        &members,
        "jane",
        member(&ns, "jane", "jdoe@acme.test", json!({})),
    )
    .await;
    h.wait_for(&members, "jane", WAIT, member_ready).await;
    let restored = authentik_user(&h, "jdoe@acme.test").await.expect("user");
    assert_eq!(
        restored["pk"], before["pk"],
        "the same account, not a new one"
    );
    assert_eq!(restored["is_active"], true);
    assert!(restored["attributes"]["dezky.io/purge-after"].is_null());
    assert_eq!(
        restored["attributes"]["dezky.io/marker"],
        "dezky:test:Member:tenant-acme/jane"
    );
    let new_password = password_of(&h, &ns, "jane").await;
    assert!(authentik_login(&h, "jdoe@acme.test", &new_password).await);
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &new_password),
        Login::Accepted
    );
    let users = h.dump("authentik").await["users"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        users
            .iter()
            .filter(|u| u["username"] == "jdoe@acme.test")
            .count(),
        1
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_beyond_the_seats_wait_and_nothing_is_removed() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let (ns, _) = provisioned_member(&h, "first", 1).await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    h.apply(
        &members,
        "second",
        member(&ns, "second", "second@acme.test", json!({})),
    )
    .await;
    let m = member_where(&h, &ns, "second", |m| {
        member_reason(m, "Ready").as_deref() == Some("SeatLimitExceeded")
    })
    .await;
    assert!(m.status.expect("status").identity.is_none());
    assert!(
        authentik_user(&h, "second@acme.test").await.is_none(),
        "the extra member is not provisioned"
    );
    let first = members.get("first").await.expect("first");
    assert!(
        member_ready(&first),
        "the member holding the seat is untouched"
    );
    assert_eq!(
        authentik_user(&h, "first@acme.test").await.expect("user")["is_active"],
        true
    );

    // one more seat: the waiting member is provisioned
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(&tenants, "acme", tenant("acme", 2, json!({})))
        .await;
    h.wait_for(&members, "second", WAIT, member_ready).await;
    assert!(authentik_user(&h, "second@acme.test").await.is_some());
    h.stop_operator().await;
}
