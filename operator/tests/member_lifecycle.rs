//! Member and MailDomain end to end (devcluster + simulators + operator over real HTTP): a member
//! waits for its domain's ownership and is provisioned once it verifies; suspension, rotation and
//! session revocation act on the real upstreams.

mod member_support;
mod runtime_support;

use dezky_crds::{MailDomain, Member};
use dezky_simulators::stalwart::Login;
use kube::api::Api;
use member_support::*;
use runtime_support::Harness;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_waits_for_ownership_then_is_provisioned() {
    let mut h = Harness::start_with_resync("1s").await;
    h.start_operator().await;
    let ns = tenant_ready(&h, "acme", 5, json!({})).await;
    publish(
        &h,
        json!({"name": "www.acme.test", "type": "A", "value": "127.0.0.1"}),
    )
    .await;
    let domains: Api<MailDomain> = Api::namespaced(h.client.clone(), &ns);
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    h.apply(
        &domains,
        "acme",
        maildomain(&ns, "acme", "acme.test", json!({})),
    )
    .await;
    h.apply(
        &members,
        "jdoe",
        member(&ns, "jdoe", "jdoe@acme.test", json!({})),
    )
    .await;

    // not verified: the member waits and nothing exists upstream
    let d = h
        .wait_for(&domains, "acme", WAIT, |d| {
            domain_condition(d, "OwnershipVerified").as_deref() == Some("False")
        })
        .await;
    let records = d.status.clone().expect("status").dns_records;
    assert_eq!(
        records.len(),
        1,
        "only the ownership record before verification: {records:?}"
    );
    assert!(records[0].value.starts_with("dezky-verify="));
    let m = h
        .wait_for(&members, "jdoe", WAIT, |m| {
            member_reason(m, "Ready").as_deref() == Some("DomainNotVerified")
        })
        .await;
    assert!(m.status.expect("status").identity.is_none());
    assert!(authentik_user(&h, "jdoe@acme.test").await.is_none());
    let stalwart = h.dump("stalwart").await.to_string();
    assert!(
        !stalwart.contains("acme.test"),
        "nothing on the mail server before ownership"
    );

    // publish the record and ask for a re-check: the domain and then the member converge
    publish(
        &h,
        json!({"name": records[0].name, "type": "TXT", "value": records[0].value}),
    )
    .await;
    recheck(&h, &ns, "acme", "now").await;
    let d = h
        .wait_for(&domains, "acme", WAIT, |d| {
            domain_condition(d, "MailServerReady").as_deref() == Some("True")
        })
        .await;
    let status = d.status.clone().expect("status");
    assert_eq!(status.observed_recheck.as_deref(), Some("now"));
    assert!(
        status
            .mail
            .as_ref()
            .and_then(|m| m.domain_id.clone())
            .is_some()
    );
    let names: Vec<&str> = status.dns_records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names[0], "_dezky-verification.acme.test.");
    assert!(names.contains(&"_dmarc.acme.test."), "{names:?}");
    assert!(
        names.iter().any(|n| n.contains("._domainkey.")),
        "{names:?}"
    );
    assert_eq!(
        domain_condition(&d, "DnsVerified").as_deref(),
        Some("False"),
        "MX/SPF/DKIM not published yet"
    );

    let m = h.wait_for(&members, "jdoe", WAIT, member_ready).await;
    let status = m.status.clone().expect("status");
    assert_eq!(
        status
            .credentials_secret_ref
            .as_ref()
            .map(|r| r.name.as_str()),
        Some("member-jdoe-credentials")
    );
    let user = authentik_user(&h, "jdoe@acme.test")
        .await
        .expect("authentik user");
    assert_eq!(
        user["attributes"]["dezky.io/marker"],
        "dezky:test:Member:tenant-acme/jdoe"
    );
    assert_eq!(user["path"], "tenants/acme");
    assert_eq!(status.identity.and_then(|i| i.user_pk), user["pk"].as_i64());
    let password = password_of(&h, &ns, "jdoe").await;
    assert!(
        authentik_login(&h, "jdoe@acme.test", &password).await,
        "SSO login with the one-time password"
    );
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        Login::Accepted
    );
    assert!(!authentik_login(&h, "jdoe@acme.test", "wrong-password").await);

    // publishing the mail records makes the domain Ready after a re-check
    let d = domains.get("acme").await.expect("domain");
    let to_publish: Vec<_> = d
        .status
        .expect("status")
        .dns_records
        .iter()
        .map(|r| json!({"name": r.name, "type": format!("{:?}", r.type_), "value": r.value}))
        .collect();
    publish(&h, json!(to_publish)).await;
    recheck(&h, &ns, "acme", "again").await;
    h.wait_for(&domains, "acme", WAIT, |d| {
        domain_condition(d, "Ready").as_deref() == Some("True")
    })
    .await;

    // idle: a few passes later nothing was written upstream or in Kubernetes
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let k8s_before = h.cluster.stats().writes;
    let (writes_before, _) = upstream_writes(&h).await;
    let mail_before = stalwart_state(&h).await;
    let (members_before, domains_before) = (h.reconciles("member"), h.reconciles("maildomain"));
    let deadline = std::time::Instant::now() + WAIT;
    while h.reconciles("member") < members_before + 2
        || h.reconciles("maildomain") < domains_before + 2
    {
        assert!(std::time::Instant::now() < deadline, "no resync happened");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (writes_after, seen) = upstream_writes(&h).await;
    assert_eq!(
        writes_after, writes_before,
        "an idle operator wrote upstream: {seen:#?}"
    );
    assert_eq!(
        stalwart_state(&h).await,
        mail_before,
        "an idle operator changed the mail server"
    );
    assert_eq!(
        h.cluster.stats().writes,
        k8s_before,
        "an idle operator wrote to Kubernetes"
    );

    // the member passes read the tenant's groups from the identity client's group snapshot:
    // every Authentik group list the operator sent was a snapshot load (one page each with
    // this few groups), none a lookup by name. Compared once stopped, with no load in flight.
    let upstream = h
        .operator
        .as_ref()
        .expect("operator running")
        .metrics
        .upstream
        .clone();
    h.stop_operator().await;
    let loads = upstream.snapshot_refreshes("authentik", "groups", "success");
    let lists = upstream.requests("authentik", "group.list", "success");
    assert!(loads >= 1, "the group snapshot was never loaded");
    assert_eq!(
        lists, loads,
        "group lists beyond the snapshot loads: the member passes looked groups up live"
    );
}
