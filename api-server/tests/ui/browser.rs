//! The browser tests: a tenant admin's member lifecycle, tenant isolation, the operator console.

use std::time::Duration;

use dezky_crds::Member;
use fantoccini::Locator;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

use crate::platform::{Env, condition, wait_js};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_creates_a_member_sees_the_password_once_watches_it_turn_ready_and_suspends_it()
 {
    let env = Env::start().await;
    env.tenant("acme", "Acme Corp").await;
    env.member("acme", "ann", "ann@acme.test", "admin").await;
    env.person("ann@acme.test", false).await;

    env.sign_in("#login-portal", "ann@acme.test").await;
    env.open_members("acme").await;
    let b = &env.browser;
    assert!(
        b.current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/ui/t/acme/members")
    );
    wait_js(
        b,
        "the live connection",
        "document.getElementById('live').classList.contains('on')",
    )
    .await;
    env.screenshot("portal-members").await;

    // an address without a domain is refused, naming the field
    b.find(Locator::Id("email"))
        .await
        .expect("email")
        .send_keys("jane")
        .await
        .expect("type");
    b.find(Locator::Id("display_name"))
        .await
        .expect("name")
        .send_keys("Jane Doe")
        .await
        .expect("type");
    b.find(Locator::Css("#create-member button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    let error = b
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("email-error"))
        .await
        .expect("the e-mail field's error");
    assert!(
        error
            .text()
            .await
            .expect("text")
            .starts_with("E-mail address:")
    );

    let email = b.find(Locator::Id("email")).await.expect("email");
    email.clear().await.expect("clear");
    email.send_keys("jane@acme.test").await.expect("type");
    b.find(Locator::Css("#create-member button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("otp"))
        .await
        .expect("the one-time password panel");
    wait_js(
        b,
        "the live connection",
        "document.getElementById('live').classList.contains('on')",
    )
    .await;
    let members: Api<Member> = Api::namespaced(env.client.clone(), "tenant-acme");
    let jane = members.get("jane").await.expect("the Member was created");
    assert_eq!(jane.spec.email, "jane@acme.test");
    assert_eq!(jane.spec.display_name, "Jane Doe");
    wait_js(
        b,
        "jane's row, provisioning",
        "document.querySelector('tr[data-member=jane][data-ready=Unknown]')",
    )
    .await;

    // the operator issues the credentials and visits the Member for the first time
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "member-jane-credentials", "namespace": "tenant-acme"},
        "stringData": {"username": "jane@acme.test", "password": "Otp-7f3K-q9Zx"}}))
    .expect("secret");
    Api::<Secret>::namespaced(env.client.clone(), "tenant-acme")
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret created");
    env.status(
        "members",
        Some("tenant-acme"),
        "jane",
        json!({"credentialsSecretRef": {"name": "member-jane-credentials"},
               "conditions": [condition("Ready", "Unknown", "Provisioning", "creating the SSO account")]}),
    )
    .await;
    wait_js(
        b,
        "the one-time password",
        "document.getElementById('otp-value').textContent === 'Otp-7f3K-q9Zx'",
    )
    .await;
    let warning = b
        .find(Locator::Css("#otp-shown .warning"))
        .await
        .expect("warning");
    assert!(
        warning
            .text()
            .await
            .expect("text")
            .contains("shown only once")
    );
    b.find(Locator::Id("otp-copy")).await.expect("copy button");
    env.screenshot("portal-one-time-password").await;

    // Ready turns True live, without a reload
    b.execute("window.__sameDocument = true; return null;", vec![])
        .await
        .expect("mark the document");
    env.status(
        "members",
        Some("tenant-acme"),
        "jane",
        json!({"conditions": [
            condition("IdentityReady", "True", "UserReady", "SSO account exists"),
            condition("Ready", "True", "Provisioned", "all upstreams ready")]}),
    )
    .await;
    wait_js(
        b,
        "jane Ready",
        "document.querySelector('tr[data-member=jane][data-ready=True] .dot.ok[title=\"Identity: True\"]')",
    )
    .await;
    let same: Value = b
        .execute("return window.__sameDocument === true;", vec![])
        .await
        .expect("js");
    assert_eq!(
        same,
        Value::Bool(true),
        "the page was reloaded instead of updated live"
    );
    env.screenshot("portal-member-ready").await;

    // the password is never shown again
    b.goto(&format!("{}/ui/t/acme/members?created=jane", env.base))
        .await
        .expect("reload");
    wait_js(
        b,
        "the refusal to show it again",
        "!document.getElementById('otp-error').hidden",
    )
    .await;
    let page = env.source().await;
    assert!(
        !page.contains("Otp-7f3K-q9Zx"),
        "the one-time password was shown twice"
    );
    assert!(page.contains("already shown"));

    // suspending asks first, names the consequence, then suspends
    click_in_live_row(b, "tr[data-member=jane] a[data-action=suspend]").await;
    let confirm = b
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("confirm"))
        .await
        .expect("a confirmation");
    assert!(env.source().await.contains("Nothing is deleted"));
    assert!(
        !members.get("jane").await.expect("jane").spec.suspended,
        "suspended before confirming"
    );
    env.screenshot("portal-confirm-suspend").await;
    confirm.click().await.expect("confirm");
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("tr[data-member=jane][data-suspended=true]"))
        .await
        .expect("jane shown suspended");
    assert!(members.get("jane").await.expect("jane").spec.suspended);

    // and resuming, also behind a confirmation, restores access
    click_in_live_row(b, "tr[data-member=jane] a[data-action=resume]").await;
    let confirm = b
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("confirm"))
        .await
        .expect("a confirmation");
    assert!(
        members.get("jane").await.expect("jane").spec.suspended,
        "resumed before confirming"
    );
    confirm.click().await.expect("confirm");
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("tr[data-member=jane][data-suspended=false]"))
        .await
        .expect("jane shown active again");
    assert!(!members.get("jane").await.expect("jane").spec.suspended);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_cannot_see_another_tenants_pages() {
    let env = Env::start().await;
    env.tenant("acme", "Acme Corp").await;
    env.tenant("globex", "Globex Secret Corp").await;
    env.member("acme", "ann", "ann@acme.test", "admin").await;
    env.member("globex", "gil", "gil@globex.test", "admin")
        .await;
    env.person("ann@acme.test", false).await;
    env.sign_in("#login-portal", "ann@acme.test").await;
    env.open_members("acme").await;
    let b = &env.browser;
    assert!(
        !env.source().await.contains("globex"),
        "the portal names another tenant"
    );
    for path in [
        "/ui/t/globex/members",
        "/ui/t/globex/members/rows",
        "/ui/t/globex/members/gil/suspend",
        "/ui/t/nosuch/members",
        "/ui/console",
        "/ui/console/tenants/globex",
    ] {
        b.goto(&format!("{}{path}", env.base))
            .await
            .expect("navigate");
        let page = env.source().await;
        assert!(
            page.contains("Not allowed"),
            "{path} was not refused: {page}"
        );
        for secret in ["gil@globex.test", "Globex Secret Corp", "create-member"] {
            assert!(!page.contains(secret), "{path} rendered {secret}");
        }
    }
    env.screenshot("portal-other-tenant-refused").await;
    let events = b
        .execute_async(
            "const done = arguments[0]; fetch('/ui/t/globex/events').then(r => done(r.status));",
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(events, json!(403));
    let gil: Member = Api::namespaced(env.client.clone(), "tenant-globex")
        .get("gil")
        .await
        .expect("gil");
    assert!(!gil.spec.suspended);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_the_platform_overview_and_tenants() {
    let env = Env::start().await;
    env.tenant("acme", "Acme Corp").await;
    env.tenant("globex", "Globex Corp").await;
    env.member("acme", "ann", "ann@acme.test", "admin").await;
    env.status(
        "tenants",
        None,
        "globex",
        json!({"seatsUsed": 3, "conditions": [
            condition("IdentityReady", "True", "GroupReady", "group tenant-globex exists"),
            condition("BillingReady", "False", "PaymentFailed", "the card was declined"),
            condition("Ready", "False", "PaymentFailed", "billing is not ready")]}),
    )
    .await;
    env.person("op@dezky.test", true).await;
    env.sign_in("#login-console", "op@dezky.test").await;
    let b = &env.browser;
    let kpis = b
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("kpis"))
        .await
        .expect("the overview's KPIs");
    let text = kpis.text().await.expect("text");
    assert!(text.contains("Tenants"), "{text}");
    assert!(text.contains("Seats used"), "{text}");
    wait_js(
        b,
        "globex needing follow-up",
        "document.querySelector('#follow-up a[href=\"/ui/console/tenants/globex\"]')",
    )
    .await;
    let follow = b
        .find(Locator::Id("follow-up"))
        .await
        .expect("follow-up")
        .text()
        .await
        .expect("text");
    assert!(follow.contains("PaymentFailed"), "{follow}");
    env.screenshot("console-overview").await;

    b.goto(&format!("{}/ui/console/tenants", env.base))
        .await
        .expect("tenants");
    let table = b
        .find(Locator::Id("tenants"))
        .await
        .expect("tenants table")
        .text()
        .await
        .expect("text");
    assert!(
        table.contains("acme") && table.contains("globex"),
        "{table}"
    );
    env.screenshot("console-tenants").await;
    b.goto(&format!("{}/ui/console/tenants?state=failing", env.base))
        .await
        .expect("filter");
    let table = b
        .find(Locator::Id("tenants"))
        .await
        .expect("tenants table")
        .text()
        .await
        .expect("text");
    assert!(
        table.contains("globex") && !table.contains("acme"),
        "{table}"
    );

    b.goto(&format!("{}/ui/console/tenants/globex", env.base))
        .await
        .expect("detail");
    let conditions = b
        .find(Locator::Id("conditions"))
        .await
        .expect("conditions")
        .text()
        .await
        .expect("text");
    assert!(conditions.contains("the card was declined"), "{conditions}");
    env.screenshot("console-tenant-detail").await;

    // light and dark: the switch is remembered by the browser
    b.find(Locator::Id("theme-toggle"))
        .await
        .expect("theme")
        .click()
        .await
        .expect("click");
    let first: Value = b
        .execute(
            "return document.documentElement.getAttribute('data-theme');",
            vec![],
        )
        .await
        .expect("js");
    b.refresh().await.expect("reload");
    let after: Value = b
        .execute(
            "return document.documentElement.getAttribute('data-theme');",
            vec![],
        )
        .await
        .expect("js");
    assert_eq!(first, after);
    env.screenshot("console-tenant-detail-other-theme").await;

    // signing out ends the session
    b.find(Locator::Css("form[action=\"/ui/logout\"] button"))
        .await
        .expect("sign out")
        .click()
        .await
        .expect("click");
    b.goto(&format!("{}/ui/console", env.base))
        .await
        .expect("console");
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("input[name=username]"))
        .await
        .expect("signed out: the login form again");
    env.shutdown().await;
}

/// Clicks a link in a table row that live status updates may re-render between finding and
/// clicking it (a stale element): finds it anew and tries again, for at most two seconds.
async fn click_in_live_row(b: &fantoccini::Client, css: &str) {
    for _ in 0..10 {
        let link = b
            .find(Locator::Css(css))
            .await
            .expect("the link is on the page");
        if link.click().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not click {css}: the row kept changing");
}
