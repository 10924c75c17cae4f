//! The portal in a real browser: a tenant admin's domains (the wizard with live record states,
//! check again, DMARC, a refused removal with its reason), SSO apps (the secret shown once),
//! a member's password reset (the new password once, never the old), removing a member and
//! undoing it; partner staff creating a customer and a team member; a
//! member resetting their own password on a phone-sized window.

use dezky_crds::{MailDomain, Member, SsoApp, Tenant};
use fantoccini::Locator;
use kube::Api;
use serde_json::{Value, json};

use crate::platform::{Env, wait_js};
use crate::portal_kit::{
    click, cond, fill, metadata, open, partner, secret, staff, status, text, wait_for,
};

async fn same_document(env: &Env) -> bool {
    env.browser
        .execute("return window.__sameDocument === true;", vec![])
        .await
        .expect("js")
        == Value::Bool(true)
}

async fn mark_document(env: &Env) {
    env.browser
        .execute("window.__sameDocument = true; return null;", vec![])
        .await
        .expect("mark the document");
}

/// Tenant acme, its admin ann and her session; `others` are further members of acme.
async fn admin_of_acme(env: &Env, others: &[(&str, &str)]) {
    env.tenant("acme", "Acme Corp").await;
    for (name, email) in others {
        env.member("acme", name, email, "member").await;
    }
    env.member("acme", "ann", "ann@acme.test", "admin").await;
    env.person("ann@acme.test", false).await;
    env.sign_in("#login-portal", "ann@acme.test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_adds_a_domain_and_sees_its_records_verify_live() {
    let env = Env::start().await;
    admin_of_acme(&env, &[]).await;
    let b = &env.browser;
    open(&env, "/ui/t/acme/domains", "#add-domain").await;

    // an address instead of a domain is refused, naming the field and what to do
    fill(b, "domain", "jane@acme.test").await;
    click(b, "#add-domain button[type=submit]").await;
    let error = wait_for(b, "#domain-error").await;
    let said = error.text().await.expect("text");
    assert!(
        said.starts_with("Domain:") && said.contains("after the @"),
        "{said}"
    );

    fill(b, "domain", "Acme.test").await;
    click(b, "#add-domain button[type=submit]").await;
    wait_for(b, "#step-ownership").await;
    assert!(
        b.current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/ui/t/acme/domains/acme-test")
    );
    let domains: Api<MailDomain> = Api::namespaced(env.client.clone(), "tenant-acme");
    let d = domains.get("acme-test").await.expect("the MailDomain");
    assert_eq!(d.spec.domain, "acme.test");
    assert!(d.spec.primary, "the first domain is primary by default");
    wait_js(
        b,
        "the live connection",
        "document.getElementById('portal-live').classList.contains('on')",
    )
    .await;
    mark_document(&env).await;

    // step 1: the ownership record appears, pending, without a reload
    status(
        &env,
        "maildomains",
        Some("tenant-acme"),
        "acme-test",
        json!({"dnsRecords": [{"type": "TXT", "name": "_dezky-verification.acme.test.", "value": "dezky-verify=tok-1", "state": "Pending"}],
               "conditions": [cond("OwnershipVerified", "Unknown", "Checking", "looking up the record"),
                              cond("Ready", "Unknown", "Checking", "")]}),
    )
    .await;
    wait_js(
        b,
        "the ownership record, pending",
        "document.querySelector('#ownership-records tr[data-state=Pending]')",
    )
    .await;
    assert!(text(b).await.contains("dezky-verify=tok-1"));
    env.screenshot("portal-domain-ownership").await;

    // step 2: ownership verified, the mail records with each state
    status(
        &env,
        "maildomains",
        Some("tenant-acme"),
        "acme-test",
        json!({"dnsRecords": [
                 {"type": "TXT", "name": "_dezky-verification.acme.test.", "value": "dezky-verify=tok-1", "state": "Verified"},
                 {"type": "MX", "name": "acme.test.", "value": "10 mail.dezky.test.", "state": "Missing"},
                 {"type": "TXT", "name": "acme.test.", "value": "v=spf1 include:dezky.test -all", "state": "Verified"},
                 {"type": "TXT", "name": "dkim1._domainkey.acme.test.", "value": "v=DKIM1; k=rsa; p=NEW", "state": "Mismatch", "observed": "v=DKIM1; k=rsa; p=OLD"},
                 {"type": "TXT", "name": "_dmarc.acme.test.", "value": "v=DMARC1; p=quarantine", "state": "Verified"}],
               "conditions": [cond("OwnershipVerified", "True", "Verified", ""),
                              cond("DnsVerified", "False", "RecordsMissing", "MX is missing and DKIM differs."),
                              cond("Ready", "False", "DnsNotVerified", "")]}),
    )
    .await;
    wait_js(
        b,
        "ownership verified and the mail records",
        "document.querySelector('#step-ownership[data-verified=true]') && document.querySelector('#mail-records tr[data-state=Missing]')",
    )
    .await;
    let page = text(b).await;
    assert!(page.contains("2 of 4 verified"), "{page}");
    assert!(
        page.contains("Found instead: v=DKIM1; k=rsa; p=OLD"),
        "{page}"
    );
    assert!(
        same_document(&env).await,
        "the page was reloaded instead of updated live"
    );
    env.screenshot("portal-domain-records").await;

    // check again asks the operator for a new look
    click(b, "#recheck").await;
    // the notice of an earlier step may still be on the page: wait for this step's answer
    wait_js(
        b,
        "the recheck to be answered",
        "location.search.includes('done=recheck') && document.getElementById('notice')",
    )
    .await;
    let d = domains.get("acme-test").await.expect("the MailDomain");
    assert!(
        d.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("dezky.io/recheck"),
        "no recheck was requested"
    );

    // the DMARC policy
    b.find(Locator::Id("policy"))
        .await
        .expect("policy")
        .select_by_value("reject")
        .await
        .expect("choose reject");
    click(b, "#dmarc-form button[type=submit]").await;
    wait_js(
        b,
        "the DMARC policy to be saved",
        "location.search.includes('done=dmarc') && document.getElementById('notice')",
    )
    .await;
    let d = domains.get("acme-test").await.expect("the MailDomain");
    assert_eq!(
        serde_json::to_value(d.spec.dmarc_policy).expect("json"),
        json!("reject")
    );

    // removal asks first; the operator holds it while the domain is in use, and says why
    metadata(
        &env,
        "maildomains",
        Some("tenant-acme"),
        "acme-test",
        json!({"finalizers": ["dezky.io/cleanup"]}),
    )
    .await;
    open(&env, "/ui/t/acme/domains/acme-test", "#remove-domain").await;
    click(b, "#remove-domain").await;
    wait_for(b, "#confirm").await;
    assert!(
        text(b)
            .await
            .contains("refused while any mailbox or alias still uses it")
    );
    assert!(
        domains
            .get("acme-test")
            .await
            .expect("domain")
            .metadata
            .deletion_timestamp
            .is_none(),
        "removed before confirming"
    );
    click(b, "#confirm").await;
    wait_for(b, "#removal").await;
    status(
        &env,
        "maildomains",
        Some("tenant-acme"),
        "acme-test",
        json!({"conditions": [cond("OwnershipVerified", "True", "Verified", ""),
                              cond("Ready", "False", "DomainInUse", "The mailbox of jane@acme.test still uses acme.test.")]}),
    )
    .await;
    wait_js(
        b,
        "the operator's reason",
        "document.getElementById('removal').textContent.includes('The mailbox of jane@acme.test still uses acme.test.')",
    )
    .await;
    env.screenshot("portal-domain-removal-refused").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_creates_an_sso_app_and_sees_its_secret_once() {
    let env = Env::start().await;
    admin_of_acme(&env, &[]).await;
    let b = &env.browser;
    open(&env, "/ui/t/acme/apps", "#create-app").await;

    fill(b, "display_name", "Team Wiki").await;
    fill(b, "redirect_uris", "wiki.acme.test/callback").await;
    click(b, "#create-app button[type=submit]").await;
    let error = wait_for(b, "#redirect_uris-error").await;
    assert!(
        error
            .text()
            .await
            .expect("text")
            .starts_with("Redirect URLs:")
    );
    fill(b, "redirect_uris", "https://wiki.acme.test/oauth/callback").await;
    click(b, "#create-app button[type=submit]").await;
    wait_for(b, "#app-secret").await;
    let apps: Api<SsoApp> = Api::namespaced(env.client.clone(), "tenant-acme");
    let app = apps.get("team-wiki").await.expect("the SsoApp");
    assert_eq!(
        app.spec.redirect_uris,
        ["https://wiki.acme.test/oauth/callback"]
    );
    wait_js(
        b,
        "the live connection",
        "document.getElementById('portal-live').classList.contains('on')",
    )
    .await;

    // the operator provisions it: the secret appears once, with the issuer and discovery URL
    secret(
        &env,
        "tenant-acme",
        "ssoapp-team-wiki-credentials",
        &[
            ("client_id", "cid-wiki"),
            ("client_secret", "S3cr3t-Wiki-42"),
        ],
    )
    .await;
    status(
        &env,
        "ssoapps",
        Some("tenant-acme"),
        "team-wiki",
        json!({"clientId": "cid-wiki", "issuer": "https://auth.dezky.test/application/o/team-wiki/",
               "credentialsSecretRef": {"name": "ssoapp-team-wiki-credentials"},
               "conditions": [cond("IdentityReady", "True", "ProviderReady", ""), cond("Ready", "True", "Provisioned", "")]}),
    )
    .await;
    wait_js(
        b,
        "the client secret",
        "document.querySelector('#app-secret .reveal-value').textContent === 'S3cr3t-Wiki-42'",
    )
    .await;
    let page = text(b).await;
    assert!(page.contains("shown only once"), "{page}");
    assert!(page.contains(
        "https://auth.dezky.test/application/o/team-wiki/.well-known/openid-configuration"
    ));
    assert!(page.contains("cid-wiki"));
    env.screenshot("portal-sso-app-secret").await;

    // a reload does not show it again
    b.refresh().await.expect("reload");
    wait_js(
        b,
        "the refusal to show it again",
        "!document.querySelector('#app-secret .reveal-error').hidden",
    )
    .await;
    let source = env.source().await;
    assert!(
        !source.contains("S3cr3t-Wiki-42"),
        "the secret was shown twice"
    );
    assert!(source.contains("already shown"));
    open(&env, "/ui/t/acme/apps/team-wiki", "#secret-note").await;
    assert!(!env.source().await.contains("S3cr3t-Wiki-42"));

    // deleting asks first
    click(b, "#delete-app").await;
    wait_for(b, "#confirm").await;
    assert!(apps.get_opt("team-wiki").await.expect("read").is_some());
    click(b, "#confirm").await;
    wait_for(b, "#notice").await;
    assert!(
        apps.get_opt("team-wiki").await.expect("read").is_none(),
        "the app was not deleted"
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_resets_a_password_removes_a_member_and_undoes_it() {
    let env = Env::start().await;
    admin_of_acme(&env, &[("jane", "jane@acme.test")]).await;
    let b = &env.browser;
    // the start page of an admin is the dashboard: seats, plan and recent activity
    open(&env, "/ui/portal", "#kpi-seats").await;
    let page = text(b).await;
    assert!(
        page.contains("Seats used") && page.contains("business"),
        "{page}"
    );
    click(b, "nav a[href='/ui/t/acme/security']").await;
    wait_for(b, "#mfa tr[data-member=jane]").await;
    assert!(text(b).await.contains("0 of 2"));
    open(&env, "/ui/t/acme/members", "tr[data-member=jane]").await;
    let members: Api<Member> = Api::namespaced(env.client.clone(), "tenant-acme");

    // a password reset shows the new password once, never the one it replaces
    secret(
        &env,
        "tenant-acme",
        "member-jane-credentials",
        &[("username", "jane@acme.test"), ("password", "Old-Jane-1")],
    )
    .await;
    status(
        &env,
        "members",
        Some("tenant-acme"),
        "jane",
        json!({"credentialsSecretRef": {"name": "member-jane-credentials"}}),
    )
    .await;
    wait_for(b, "tr[data-member=jane][data-credentials=true]").await;
    click(b, "tr[data-member=jane] a[data-action=reset-password]").await;
    wait_for(b, "#confirm").await;
    assert!(text(b).await.contains("shown to you once"));
    click(b, "#confirm").await;
    wait_for(b, "#otp").await;
    let rotation = members
        .get("jane")
        .await
        .expect("jane")
        .spec
        .credentials_rotation
        .expect("a new password was requested");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        !env.source().await.contains("Old-Jane-1"),
        "the replaced password was shown"
    );
    secret(
        &env,
        "tenant-acme",
        "member-jane-credentials",
        &[("username", "jane@acme.test"), ("password", "New-Jane-2")],
    )
    .await;
    status(
        &env,
        "members",
        Some("tenant-acme"),
        "jane",
        json!({"observedCredentialsRotation": rotation}),
    )
    .await;
    wait_js(
        b,
        "jane's new password",
        "document.getElementById('otp-value').textContent === 'New-Jane-2'",
    )
    .await;
    open(&env, "/ui/t/acme/members", "tr[data-member=jane]").await;

    // the action is reachable with the keyboard alone
    wait_js(
        b,
        "the live connection",
        "document.getElementById('live').classList.contains('on')",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let target = "document.activeElement && document.activeElement.matches('tr[data-member=jane] a[data-action=remove]')";
    let mut reached = false;
    for _ in 0..60 {
        b.active_element()
            .await
            .expect("the focused element")
            .send_keys("\u{e004}")
            .await
            .expect("Tab");
        if b.execute(&format!("return !!({target});"), vec![])
            .await
            .expect("js")
            == Value::Bool(true)
        {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached jane's Remove action");
    b.active_element()
        .await
        .expect("the focused element")
        .send_keys("\u{e007}")
        .await
        .expect("Enter");
    wait_for(b, "#confirm").await;
    let page = text(b).await;
    assert!(page.contains("7 days") && page.contains("undo"), "{page}");
    assert!(members.get_opt("jane").await.expect("read").is_some());
    env.screenshot("portal-confirm-remove").await;
    click(b, "#confirm").await;
    wait_for(b, "#removed-notice").await;
    wait_for(b, "#removed li[data-removed=jane]").await;
    assert!(
        members.get_opt("jane").await.expect("read").is_none(),
        "jane was not removed"
    );
    wait_js(
        b,
        "jane's row gone",
        "!document.querySelector('tr[data-member=jane]')",
    )
    .await;
    env.screenshot("portal-member-removed").await;

    click(b, "button[data-undo=jane]").await;
    wait_for(b, "#notice").await;
    let jane = members.get("jane").await.expect("jane is back");
    assert_eq!(jane.spec.email, "jane@acme.test");
    wait_for(b, "tr[data-member=jane]").await;
    assert!(
        b.find(Locator::Css("#removed li[data-removed=jane]"))
            .await
            .is_err()
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_staff_create_a_customer_and_a_team_member() {
    let env = Env::start().await;
    partner(&env, "northwind").await;
    staff(&env, "northwind", "pat", "pat@northwind.test").await;
    env.tenant("acme", "Acme Corp").await;
    env.apply(
        "tenants",
        None,
        json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"},
               "spec": {"displayName": "Acme Corp", "plan": "business", "seats": 10, "partnerRef": {"name": "northwind"},
                        "storageQuota": "10Gi", "mailboxQuota": "1Gi"}}),
    )
    .await;
    env.tenant("globex", "Globex Secret Corp").await;
    env.person("pat@northwind.test", false).await;
    env.sign_in("#login-portal", "pat@northwind.test").await;
    let b = &env.browser;
    open(&env, "/ui/p/northwind/customers", "tr[data-customer=acme]").await;
    assert!(
        !env.source().await.contains("Globex Secret Corp"),
        "another partner's or the platform's tenant was shown"
    );

    fill(b, "display_name", "Wayne Enterprises").await;
    fill(b, "seats", "5").await;
    b.find(Locator::Id("plan"))
        .await
        .expect("plan")
        .select_by_value("starter")
        .await
        .expect("choose starter");
    click(b, "#create-customer button[type=submit]").await;
    wait_for(b, "#notice").await;
    let tenants: Api<Tenant> = Api::all(env.client.clone());
    let wayne = tenants.get("wayne-enterprises").await.expect("the Tenant");
    assert_eq!(
        wayne.spec.partner_ref.as_ref().map(|p| p.name.as_str()),
        Some("northwind")
    );
    assert_eq!(wayne.spec.seats, 5);
    wait_for(b, "tr[data-customer=wayne-enterprises]").await;
    status(
        &env,
        "tenants",
        None,
        "wayne-enterprises",
        json!({"conditions": [cond("IdentityReady", "True", "GroupReady", ""), cond("Ready", "True", "Provisioned", "")]}),
    )
    .await;
    wait_js(
        b,
        "wayne Ready",
        "document.querySelector('tr[data-customer=wayne-enterprises][data-ready=True]')",
    )
    .await;
    env.screenshot("portal-partner-customers").await;

    // suspending a customer asks first, then shows it suspended
    click(b, "tr[data-customer=acme] a[data-action=suspend]").await;
    wait_for(b, "#confirm").await;
    assert!(text(b).await.contains("Nothing is deleted"));
    assert!(!tenants.get("acme").await.expect("acme").spec.suspended);
    click(b, "#confirm").await;
    wait_for(b, "tr[data-customer=acme][data-suspended=true]").await;
    assert!(tenants.get("acme").await.expect("acme").spec.suspended);

    // the team: an address off the partner's domain is refused, naming the field
    click(b, "nav a[href='/ui/p/northwind/team']").await;
    wait_for(b, "#create-staff").await;
    fill(b, "email", "kim@acme.test").await;
    fill(b, "display_name", "Kim").await;
    click(b, "#create-staff button[type=submit]").await;
    let error = wait_for(b, "#email-error").await;
    let said = error.text().await.expect("text");
    assert!(
        said.starts_with("E-mail address:") && said.contains("@northwind.test"),
        "{said}"
    );
    fill(b, "email", "kim@northwind.test").await;
    click(b, "#create-staff button[type=submit]").await;
    wait_for(b, "#staff-otp").await;
    let staff_api: Api<Member> = Api::namespaced(env.client.clone(), "partner-northwind");
    let kim = staff_api.get("kim").await.expect("kim is staff");
    assert_eq!(kim.spec.email, "kim@northwind.test");
    secret(
        &env,
        "partner-northwind",
        "member-kim-credentials",
        &[
            ("username", "kim@northwind.test"),
            ("password", "Kim-0tp-31"),
        ],
    )
    .await;
    status(
        &env,
        "members",
        Some("partner-northwind"),
        "kim",
        json!({"credentialsSecretRef": {"name": "member-kim-credentials"},
               "conditions": [cond("Ready", "True", "Provisioned", "")]}),
    )
    .await;
    wait_js(
        b,
        "kim's one-time password",
        "document.querySelector('#staff-otp .reveal-value').textContent === 'Kim-0tp-31'",
    )
    .await;
    env.screenshot("portal-partner-team").await;

    // another partner's pages and a customer's admin pages are refused, naming nothing of them
    partner(&env, "southwind").await;
    for path in [
        "/ui/p/southwind/customers",
        "/ui/p/southwind/team",
        "/ui/t/acme/members",
    ] {
        b.goto(&format!("{}{path}", env.base)).await.expect("page");
        wait_for(b, "p[role=alert]").await;
        let page = text(b).await;
        assert!(page.contains("Not allowed"), "{path}: {page}");
        assert!(
            !page.contains("Globex") && !page.contains("southwind IT"),
            "{path}: {page}"
        );
    }
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_resets_their_own_password_on_a_phone() {
    let env = Env::start().await;
    env.tenant("acme", "Acme Corp").await;
    env.member("acme", "joe", "joe@acme.test", "member").await;
    env.person("joe@acme.test", false).await;
    let b = &env.browser;
    b.set_window_size(375, 812)
        .await
        .expect("a phone-sized window");
    env.sign_in("#login-portal", "joe@acme.test").await;
    open(&env, "/ui/portal", "#reset-acme").await;
    assert!(
        b.current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/ui/me")
    );
    let fits = "document.documentElement.scrollWidth <= window.innerWidth";
    wait_js(b, "the page fits a 375 px screen", fits).await;
    assert!(text(b).await.contains("joe@acme.test"));
    env.screenshot("portal-me-phone").await;

    click(b, "#reset-acme").await;
    wait_for(b, "#confirm").await;
    wait_js(b, "the confirmation fits", fits).await;
    env.screenshot("portal-me-phone-confirm").await;
    click(b, "#confirm").await;
    wait_for(b, "#own-otp").await;
    let members: Api<Member> = Api::namespaced(env.client.clone(), "tenant-acme");
    let joe = members.get("joe").await.expect("joe");
    let rotation = joe
        .spec
        .credentials_rotation
        .clone()
        .expect("a new password was requested");

    // the operator issues it; the page shows it once, live
    secret(
        &env,
        "tenant-acme",
        "member-joe-credentials",
        &[("username", "joe@acme.test"), ("password", "Ph0ne-New-77")],
    )
    .await;
    status(
        &env,
        "members",
        Some("tenant-acme"),
        "joe",
        json!({"credentialsSecretRef": {"name": "member-joe-credentials"}, "observedCredentialsRotation": rotation}),
    )
    .await;
    wait_js(
        b,
        "the new one-time password",
        "document.querySelector('#own-otp .reveal-value').textContent === 'Ph0ne-New-77'",
    )
    .await;
    wait_js(b, "the password panel fits", fits).await;
    click(b, "#theme-toggle").await;
    wait_js(
        b,
        "the dark theme",
        "document.documentElement.getAttribute('data-theme') === 'dark'",
    )
    .await;
    env.screenshot("portal-me-phone-password").await;
    env.shutdown().await;
}
