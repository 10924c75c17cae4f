//! Member access lifecycle end to end: suspend/resume keeps the password, credentials rotation
//! issues a new one (the old one is refused), session revocation ends sessions.

use dezky_crds::Member;
use dezky_simulators::stalwart::Login;
use kube::api::Api;
use serde_json::json;

use super::*;
use crate::runtime_support::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_resume_keep_the_password() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let (ns, password) = provisioned_member(&h, "jdoe", 5).await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    assert!(authentik_login(&h, "jdoe@acme.test", &password).await);
    let pk = authentik_user(&h, "jdoe@acme.test").await.expect("user")["pk"]
        .as_i64()
        .expect("pk");
    assert!(sessions_of(&h, pk).await >= 1, "the login made a session");

    h.apply(
        &members,
        "jdoe",
        member(&ns, "jdoe", "jdoe@acme.test", json!({"suspended": true})),
    )
    .await;
    member_where(&h, &ns, "jdoe", member_ready).await;
    let user = authentik_user(&h, "jdoe@acme.test").await.expect("user");
    assert_eq!(user["is_active"], false);
    assert_eq!(sessions_of(&h, pk).await, 0, "suspension ends the sessions");
    assert!(!authentik_login(&h, "jdoe@acme.test", &password).await);
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        Login::Suspended
    );

    h.apply(
        &members,
        "jdoe",
        member(&ns, "jdoe", "jdoe@acme.test", json!({"suspended": false})),
    )
    .await;
    member_where(&h, &ns, "jdoe", member_ready).await;
    assert_eq!(
        password_of(&h, &ns, "jdoe").await,
        password,
        "no new password on resume"
    );
    assert!(
        authentik_login(&h, "jdoe@acme.test", &password).await,
        "the original password works again"
    );
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        Login::Accepted
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_issues_a_new_password_and_revocation_ends_sessions() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let (ns, old) = provisioned_member(&h, "jdoe", 5).await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);

    h.apply(
        &members,
        "jdoe",
        member(
            &ns,
            "jdoe",
            "jdoe@acme.test",
            json!({"credentialsRotation": "2"}),
        ),
    )
    .await;
    let m = member_where(&h, &ns, "jdoe", |m| {
        m.status
            .as_ref()
            .and_then(|s| s.observed_credentials_rotation.as_deref())
            == Some("2")
    })
    .await;
    assert!(member_ready(&m));
    let new = password_of(&h, &ns, "jdoe").await;
    assert_ne!(new, old, "a new Secret value");
    assert!(
        !authentik_login(&h, "jdoe@acme.test", &old).await,
        "the old password is refused"
    );
    assert!(authentik_login(&h, "jdoe@acme.test", &new).await);
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &old),
        Login::Refused
    );
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &new),
        Login::Accepted
    );
    // the password is never in the status
    let status = serde_json::to_string(&m.status).expect("status json");
    assert!(!status.contains(&new) && !status.contains(&old));

    let pk = authentik_user(&h, "jdoe@acme.test").await.expect("user")["pk"]
        .as_i64()
        .expect("pk");
    assert!(authentik_login(&h, "jdoe@acme.test", &new).await);
    assert!(sessions_of(&h, pk).await >= 2);
    h.apply(
        &members,
        "jdoe",
        member(
            &ns,
            "jdoe",
            "jdoe@acme.test",
            json!({"credentialsRotation": "2", "sessionsRevocation": "a"}),
        ),
    )
    .await;
    member_where(&h, &ns, "jdoe", |m| {
        m.status
            .as_ref()
            .and_then(|s| s.observed_sessions_revocation.as_deref())
            == Some("a")
    })
    .await;
    assert_eq!(sessions_of(&h, pk).await, 0, "every session ended");
    assert!(
        authentik_login(&h, "jdoe@acme.test", &new).await,
        "the password still works"
    );
    assert_eq!(
        password_of(&h, &ns, "jdoe").await,
        new,
        "revocation does not rotate"
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_staff_get_single_sign_on_in_the_partner_group_only() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let partners: Api<dezky_crds::Partner> = Api::all(h.client.clone());
    let manifest = json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "Partner", "metadata": {"name": "northwind"},
        "spec": {"displayName": "Northwind IT", "domain": "northwind.test", "marginPercent": 20},
    });
    h.apply(&partners, "northwind", manifest).await;
    let p = h
        .wait_for(&partners, "northwind", WAIT, |p| {
            p.status
                .as_ref()
                .and_then(|s| s.identity.as_ref())
                .and_then(|i| i.group_pk.as_ref())
                .is_some()
        })
        .await;
    let group_pk = p
        .status
        .and_then(|s| s.identity)
        .and_then(|i| i.group_pk)
        .expect("group");
    let ns = "partner-northwind";
    let members: Api<Member> = Api::namespaced(h.client.clone(), ns);
    h.apply(
        &members,
        "desk",
        member(ns, "desk", "desk@northwind.test", json!({})),
    )
    .await;
    let m = h.wait_for(&members, "desk", WAIT, member_ready).await;
    let status = m.status.expect("status");
    assert!(
        status.mail.is_none() && status.files.is_none(),
        "SSO only: {status:?}"
    );
    let user = authentik_user(&h, "desk@northwind.test")
        .await
        .expect("user");
    assert_eq!(user["path"], "partners/northwind");
    let groups: Vec<String> = user["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect();
    assert_eq!(groups, [group_pk], "in the partner group only");
    let password = password_of(&h, ns, "desk").await;
    assert!(authentik_login(&h, "desk@northwind.test", &password).await);
    assert!(
        !stalwart_state(&h).await.contains("northwind"),
        "no mailbox for partner staff"
    );
    // an address outside the partner's domain is refused
    h.apply(
        &members,
        "other",
        member(ns, "other", "other@elsewhere.test", json!({})),
    )
    .await;
    member_where(&h, ns, "other", |m| {
        member_reason(m, "Ready").as_deref() == Some("DomainNotVerified")
    })
    .await;
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_turned_off_refuses_login_keeps_its_mail_and_comes_back() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let (ns, password) = provisioned_member(&h, "jdoe", 5).await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    let account = members
        .get("jdoe")
        .await
        .expect("member")
        .status
        .expect("status")
        .mail;
    assert!(account.is_some());
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        Login::Accepted
    );

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
    let m = member_where(&h, &ns, "jdoe", |m| {
        member_reason(m, "MailboxReady").as_deref() == Some("MailboxDisabled") && member_ready(m)
    })
    .await;
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        Login::Suspended,
        "the account is kept, its login refused"
    );
    assert_eq!(m.status.expect("status").mail, account, "the same account");
    assert!(
        authentik_login(&h, "jdoe@acme.test", &password).await,
        "single sign-on is not affected"
    );

    h.apply(
        &members,
        "jdoe",
        member(
            &ns,
            "jdoe",
            "jdoe@acme.test",
            json!({"mailbox": {"enabled": true}}),
        ),
    )
    .await;
    let m = member_where(&h, &ns, "jdoe", |m| {
        member_reason(m, "MailboxReady").as_deref() == Some("Reconciled") && member_ready(m)
    })
    .await;
    assert_eq!(m.status.expect("status").mail, account);
    assert_eq!(
        h.sims.stalwart.check_login("jdoe@acme.test", &password),
        Login::Accepted,
        "turned on again: the same password works"
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_authenticator_shows_as_mfa_on_the_next_pass() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let (ns, _) = provisioned_member(&h, "jdoe", 5).await;
    let mfa = |m: &Member| {
        m.status
            .as_ref()
            .and_then(|s| s.identity.as_ref())
            .and_then(|i| i.mfa_enrolled)
    };
    let m = member_where(&h, &ns, "jdoe", |m| mfa(m).is_some()).await;
    assert_eq!(mfa(&m), Some(false));
    let pk = authentik_user(&h, "jdoe@acme.test").await.expect("user")["pk"]
        .as_i64()
        .expect("pk");
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    let recheck = |value: &'static str| {
        let members = members.clone();
        async move {
            let patch = json!({"metadata": {"annotations": {"dezky.io/recheck": value}}});
            members
                .patch(
                    "jdoe",
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(&patch),
                )
                .await
                .expect("recheck annotation");
        }
    };

    // an enrollment not confirmed yet does not count
    let totp = "authentik_stages_authenticator_totp.TOTPDevice";
    h.sims
        .authentik
        .add_device(pk, totp, false)
        .expect("device");
    recheck("1").await;
    let passes = h.reconciles("member");
    let deadline = std::time::Instant::now() + WAIT;
    while h.reconciles("member") <= passes {
        assert!(
            std::time::Instant::now() < deadline,
            "no pass after the recheck"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let m = members.get("jdoe").await.expect("member");
    assert_eq!(mfa(&m), Some(false));

    // a confirmed one does, on the next pass
    h.sims.authentik.add_device(pk, totp, true).expect("device");
    recheck("2").await;
    member_where(&h, &ns, "jdoe", |m| mfa(m) == Some(true)).await;
    h.stop_operator().await;
}
