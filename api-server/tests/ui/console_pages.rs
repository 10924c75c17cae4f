//! The operator console in a real browser: the Ctrl/⌘-K palette used by keyboard alone, the
//! tenants list's filter chips with live counts, every tab of a tenant, the danger zone's suspend
//! behind a confirmation with the status turning live, and creating a partner and attaching a
//! tenant to it. Screenshots of every page in both themes land in target/ui-screenshots.

use std::time::Duration;

use dezky_crds::Tenant;
use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use kube::Api;
use serde_json::{Value, json};

use crate::platform::{Env, condition, wait_js};

/// The platform with three tenants (globex failing), members and a signed-in operator.
async fn console() -> Env {
    let env = Env::start().await;
    env.tenant("acme", "Acme Corp").await;
    env.tenant("globex", "Globex Corp").await;
    env.tenant("initech", "Initech").await;
    env.member("acme", "ann", "ann@acme.test", "admin").await;
    env.member("globex", "gil", "gil@globex.test", "admin")
        .await;
    env.status(
        "tenants",
        None,
        "acme",
        json!({"namespace": "tenant-acme", "seatsUsed": 1, "conditions": [
            condition("IdentityReady", "True", "GroupReady", "group tenant-acme exists"),
            condition("FilesReady", "True", "SpaceReady", "space exists"),
            condition("BillingReady", "True", "Subscribed", "subscription active"),
            condition("Ready", "True", "Provisioned", "all upstreams ready")]}),
    )
    .await;
    env.status(
        "tenants",
        None,
        "globex",
        json!({"namespace": "tenant-globex", "identity": {"groupPk": "g-17", "groupName": "tenant-globex"},
               "billing": {"customerId": "cus_123", "subscriptionStatus": "past_due"}, "conditions": [
            condition("IdentityReady", "True", "GroupReady", "group tenant-globex exists"),
            condition("BillingReady", "False", "PaymentFailed", "the card was declined"),
            condition("Ready", "False", "PaymentFailed", "billing is not ready")]}),
    )
    .await;
    env.person("op@dezky.test", true).await;
    env.sign_in("#login-console", "op@dezky.test").await;
    env
}

/// Takes a screenshot in the current theme and one in the other.
async fn both_themes(env: &Env, name: &str) {
    let b = &env.browser;
    env.screenshot(&format!("{name}-light")).await;
    b.execute(
        "document.documentElement.setAttribute('data-theme', 'dark'); return null;",
        vec![],
    )
    .await
    .expect("dark");
    env.screenshot(&format!("{name}-dark")).await;
    b.execute(
        "document.documentElement.setAttribute('data-theme', 'light'); return null;",
        vec![],
    )
    .await
    .expect("light");
}

async fn goto(env: &Env, path: &str) {
    env.browser
        .goto(&format!("{}{path}", env.base))
        .await
        .expect("navigate");
}

async fn text_of(env: &Env, css: &str) -> String {
    env.browser
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} on the page"))
        .text()
        .await
        .expect("text")
}

async fn press(env: &Env, key: Key) {
    env.browser
        .active_element()
        .await
        .expect("focus")
        .send_keys(&key.to_string())
        .await
        .expect("key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_jumps_by_keyboard_filters_tenants_and_walks_every_tab() {
    let env = console().await;
    let b = &env.browser;
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("kpis"))
        .await
        .expect("the overview");
    let nav = text_of(&env, "#sidebar").await;
    for section in ["Overview", "Tenants", "Partners", "Users"] {
        assert!(nav.contains(section), "{nav}");
    }
    both_themes(&env, "console-overview").await;

    // Ctrl-K, type, arrow, Enter: the keyboard alone reaches globex
    b.perform_actions(
        KeyActions::new("keyboard".into())
            .then(KeyAction::Down {
                value: Key::Control.into(),
            })
            .then(KeyAction::Down { value: 'k' })
            .then(KeyAction::Up { value: 'k' })
            .then(KeyAction::Up {
                value: Key::Control.into(),
            }),
    )
    .await
    .expect("Ctrl-K");
    wait_js(
        b,
        "the palette, focused",
        "document.getElementById('palette').open && document.activeElement.id === 'palette-input'",
    )
    .await;
    b.active_element()
        .await
        .expect("focus")
        .send_keys("glob")
        .await
        .expect("type");
    wait_js(
        b,
        "globex among the results",
        "document.querySelector('#palette-list [role=option][data-href=\"/ui/console/tenants/globex\"]')",
    )
    .await;
    both_themes(&env, "console-palette").await;
    // choose the tenant by arrows (it is listed after any matching page)
    for _ in 0..10 {
        let selected: Value = b
            .execute(
                "var o = document.querySelector('#palette-list [aria-selected=true]'); return o ? o.getAttribute('data-href') : null;",
                vec![],
            )
            .await
            .expect("js");
        if selected == json!("/ui/console/tenants/globex") {
            break;
        }
        press(&env, Key::Down).await;
    }
    press(&env, Key::Enter).await;
    wait_js(
        b,
        "globex's page",
        "location.pathname === '/ui/console/tenants/globex'",
    )
    .await;
    let head = text_of(&env, "#tenant-head").await;
    assert!(
        head.contains("Globex Corp") && head.contains("failing"),
        "{head}"
    );

    // filter chips with counts
    goto(&env, "/ui/console/tenants").await;
    let chips = text_of(&env, ".chips").await;
    assert!(chips.contains("All 3"), "{chips}");
    assert!(
        chips.contains("Failing 1") && chips.contains("Ready 1") && chips.contains("Pending 1"),
        "{chips}"
    );
    let acme_dots: Value = b
        .execute(
            "return Array.from(document.querySelectorAll('tr[data-tenant=acme] .dots .dot')).map(d => d.title);",
            vec![],
        )
        .await
        .expect("js");
    assert_eq!(
        acme_dots,
        json!([
            "Identity: True",
            "Mail: Unknown",
            "Files: True",
            "Billing: True"
        ])
    );
    both_themes(&env, "console-tenants").await;
    b.find(Locator::Css(".chip[data-state=failing]"))
        .await
        .expect("failing chip")
        .click()
        .await
        .expect("click");
    wait_js(
        b,
        "the failing filter",
        "location.search.includes('state=failing')",
    )
    .await;
    let table = text_of(&env, "#tenants").await;
    assert!(
        table.contains("globex") && !table.contains("acme"),
        "{table}"
    );
    // the counts follow live: initech fails too, without a reload
    b.execute("window.__sameDocument = true; return null;", vec![])
        .await
        .expect("mark");
    wait_js(
        b,
        "the live connection",
        "document.getElementById('console-live').classList.contains('on')",
    )
    .await;
    env.status(
        "tenants",
        None,
        "initech",
        json!({"conditions": [condition("Ready", "False", "UpstreamUnavailable", "ocis answered 503")]}),
    )
    .await;
    wait_js(
        b,
        "two failing, live",
        "document.querySelector('.chip[data-state=failing] .count').textContent === '2' && document.querySelector('tr[data-tenant=initech]')",
    )
    .await;
    let same: Value = b
        .execute("return window.__sameDocument === true;", vec![])
        .await
        .expect("js");
    assert_eq!(
        same,
        json!(true),
        "the list was reloaded instead of updated live"
    );

    // every tab of globex
    for (suffix, must) in [
        ("", "Billing details"),
        ("/members", "gil@globex.test"),
        ("/resources", "the card was declined"),
        ("/domains", "No mail domain yet"),
        ("/audit", "Who changed what"),
        ("/danger", "Suspend globex"),
    ] {
        goto(&env, &format!("/ui/console/tenants/globex{suffix}")).await;
        let main = text_of(&env, "#main").await;
        assert!(main.contains(must), "{suffix}: {main}");
        let current = text_of(&env, ".tabs a[aria-current=page]").await;
        assert!(!current.is_empty());
        let name = if suffix.is_empty() {
            "overview"
        } else {
            &suffix[1..]
        };
        both_themes(&env, &format!("console-tenant-{name}")).await;
    }
    let resources = {
        goto(&env, "/ui/console/tenants/globex/resources").await;
        text_of(&env, "#upstream-ids").await
    };
    assert!(
        resources.contains("g-17") && resources.contains("cus_123"),
        "{resources}"
    );
    // the billing tab is a link to the billing page
    let billing: Value = b
        .execute("return document.querySelector('.tabs a[href=\"/ui/console/tenants/globex/billing\"]') !== null;", vec![])
        .await
        .expect("js");
    assert_eq!(billing, json!(true));

    // reconcile now: says what it does, then what happened
    let form = text_of(&env, "form[action$='/act/reconcile']").await;
    assert!(form.contains("Nothing else changes"), "{form}");
    b.find(Locator::Id("reconcile"))
        .await
        .expect("reconcile")
        .click()
        .await
        .expect("click");
    let notice = text_of(&env, "#notice").await;
    assert!(notice.contains("Reconcile requested"), "{notice}");
    let globex: Tenant = Api::all(env.client.clone())
        .get("globex")
        .await
        .expect("globex");
    assert!(
        globex
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("dezky.io/reconcile-requested")
    );

    goto(&env, "/ui/console/users?role=admin").await;
    let users = text_of(&env, "#users").await;
    assert!(
        users.contains("ann@acme.test") && users.contains("gil@globex.test"),
        "{users}"
    );
    both_themes(&env, "console-users").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_suspends_a_tenant_after_a_confirmation_and_sees_it_turn_live() {
    let env = console().await;
    let b = &env.browser;
    goto(&env, "/ui/console/tenants/acme/danger").await;
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("suspend"))
        .await
        .expect("the suspend action")
        .click()
        .await
        .expect("click");
    let consequence = text_of(&env, "#consequence").await;
    assert!(consequence.contains("Nothing is deleted"), "{consequence}");
    let tenants: Api<Tenant> = Api::all(env.client.clone());
    assert!(
        !tenants.get("acme").await.expect("acme").spec.suspended,
        "suspended before confirming"
    );
    both_themes(&env, "console-confirm-suspend").await;
    b.find(Locator::Id("confirm"))
        .await
        .expect("confirm")
        .click()
        .await
        .expect("click");
    let notice = text_of(&env, "#notice").await;
    assert!(notice.starts_with("Suspended"), "{notice}");
    assert!(tenants.get("acme").await.expect("acme").spec.suspended);
    wait_js(
        b,
        "acme shown suspended",
        "document.querySelector('#tenant-state[data-state=suspended]')",
    )
    .await;
    // the operator cuts access upstream and reports it: the page follows without a reload
    b.execute("window.__sameDocument = true; return null;", vec![])
        .await
        .expect("mark");
    wait_js(
        b,
        "the live connection",
        "document.getElementById('console-live').classList.contains('on')",
    )
    .await;
    env.status(
        "tenants",
        None,
        "acme",
        json!({"conditions": [
            condition("IdentityReady", "False", "Suspended", "the tenant group's users are inactive"),
            condition("Ready", "False", "Suspended", "access is cut off while suspended")]}),
    )
    .await;
    wait_js(
        b,
        "the operator's reason, live",
        "(document.getElementById('tenant-reason') || {textContent: ''}).textContent.includes('access is cut off while suspended')",
    )
    .await;
    let same: Value = b
        .execute("return window.__sameDocument === true;", vec![])
        .await
        .expect("js");
    assert_eq!(
        same,
        json!(true),
        "the page was reloaded instead of updated live"
    );
    both_themes(&env, "console-tenant-suspended").await;

    // deleting is refused while members remain, and the page says why and what to do
    goto(&env, "/ui/console/tenants/acme/act/delete").await;
    b.find(Locator::Id("confirm"))
        .await
        .expect("confirm")
        .click()
        .await
        .expect("click");
    let refused = text_of(&env, "#refused").await;
    assert!(
        refused.contains("1 member") && refused.contains("remove them first"),
        "{refused}"
    );
    both_themes(&env, "console-delete-refused").await;
    assert!(tenants.get("acme").await.is_ok(), "acme was deleted");

    // resuming asks first as well
    goto(&env, "/ui/console/tenants/acme/danger").await;
    b.find(Locator::Id("resume"))
        .await
        .expect("resume")
        .click()
        .await
        .expect("click");
    b.find(Locator::Id("confirm"))
        .await
        .expect("confirm")
        .click()
        .await
        .expect("click");
    let notice = text_of(&env, "#notice").await;
    assert!(notice.starts_with("Resumed"), "{notice}");
    assert!(!tenants.get("acme").await.expect("acme").spec.suspended);

    // initech has nothing left in it: deleting it asks first, then it leaves the list
    goto(&env, "/ui/console/tenants/initech/danger").await;
    b.find(Locator::Id("delete"))
        .await
        .expect("delete")
        .click()
        .await
        .expect("click");
    let consequence = text_of(&env, "#consequence").await;
    assert!(consequence.contains("deletion policy"), "{consequence}");
    assert!(
        tenants.get("initech").await.is_ok(),
        "deleted before confirming"
    );
    b.find(Locator::Id("confirm"))
        .await
        .expect("confirm")
        .click()
        .await
        .expect("click");
    let notice = text_of(&env, "#notice").await;
    assert!(notice.starts_with("Tenant initech deleted"), "{notice}");
    assert!(
        tenants.get("initech").await.is_err(),
        "initech is still there"
    );
    wait_js(
        b,
        "initech gone from the list",
        "document.querySelector('tr[data-tenant=acme]') && !document.querySelector('tr[data-tenant=initech]')",
    )
    .await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_creates_a_partner_and_attaches_a_tenant() {
    let env = console().await;
    let b = &env.browser;
    goto(&env, "/ui/console/partners").await;
    let form = b
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("create-partner"))
        .await
        .expect("the create form");
    for (id, value) in [("name", "eastwind"), ("display_name", "Eastwind IT")] {
        b.find(Locator::Id(id))
            .await
            .expect(id)
            .send_keys(value)
            .await
            .expect("type");
    }
    form.find(Locator::Css("button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    let error = text_of(&env, "#domain-error").await;
    assert!(error.starts_with("Web domain:"), "{error}");
    both_themes(&env, "console-partner-create-error").await;
    b.find(Locator::Id("domain"))
        .await
        .expect("domain")
        .send_keys("eastwind.test")
        .await
        .expect("type");
    for (id, value) in [
        ("contact_name", "East Desk"),
        ("contact_email", "desk@eastwind.test"),
    ] {
        b.find(Locator::Id(id))
            .await
            .expect(id)
            .send_keys(value)
            .await
            .expect("type");
    }
    b.find(Locator::Css("#create-partner button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    let notice = text_of(&env, "#notice").await;
    assert!(notice.contains("Partner eastwind created"), "{notice}");
    let contact = text_of(&env, "#contact").await;
    assert!(contact.contains("desk@eastwind.test"), "{contact}");

    // attach acme
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#attach-tenant option[value=acme]"))
        .await
        .expect("acme offered")
        .click()
        .await
        .expect("choose acme");
    b.find(Locator::Css("#attach button[type=submit]"))
        .await
        .expect("attach")
        .click()
        .await
        .expect("click");
    let notice = text_of(&env, "#notice").await;
    assert!(notice.contains("Tenant acme attached"), "{notice}");
    let tenants: Api<Tenant> = Api::all(env.client.clone());
    assert_eq!(
        tenants
            .get("acme")
            .await
            .expect("acme")
            .spec
            .partner_ref
            .map(|p| p.name),
        Some("eastwind".to_owned())
    );
    wait_js(
        b,
        "acme among the customers",
        "document.querySelector('#customers tr[data-tenant=acme]')",
    )
    .await;
    both_themes(&env, "console-partner-detail").await;

    goto(&env, "/ui/console/partners").await;
    wait_js(
        b,
        "eastwind listed with one customer",
        "(document.querySelector('tr[data-partner=eastwind] .customers') || {textContent: ''}).textContent === '1'",
    )
    .await;
    both_themes(&env, "console-partners").await;

    // terminating is refused while acme is attached, and says what to do
    goto(&env, "/ui/console/partners/eastwind/terminate").await;
    b.find(Locator::Id("confirm"))
        .await
        .expect("confirm")
        .click()
        .await
        .expect("click");
    let refused = text_of(&env, "#refused").await;
    assert!(refused.contains("detach them first"), "{refused}");

    // detach (behind a confirmation), then terminate
    b.find(Locator::Css(
        "#customers tr[data-tenant=acme] a[data-action=detach]",
    ))
    .await
    .expect("detach acme")
    .click()
    .await
    .expect("click");
    let consequence = text_of(&env, "#consequence").await;
    assert!(consequence.contains("not changed"), "{consequence}");
    assert!(
        tenants
            .get("acme")
            .await
            .expect("acme")
            .spec
            .partner_ref
            .is_some(),
        "detached before confirming"
    );
    b.find(Locator::Id("confirm"))
        .await
        .expect("confirm")
        .click()
        .await
        .expect("click");
    let notice = text_of(&env, "#notice").await;
    assert!(notice.contains("Tenant acme detached"), "{notice}");
    assert!(
        tenants
            .get("acme")
            .await
            .expect("acme")
            .spec
            .partner_ref
            .is_none()
    );
    // the API's cache follows the watch: terminate once it has seen the detach
    for attempt in 0.. {
        goto(&env, "/ui/console/partners/eastwind/terminate").await;
        b.find(Locator::Id("confirm"))
            .await
            .expect("confirm")
            .click()
            .await
            .expect("click");
        if env.source().await.contains("id=\"notice\"") || attempt == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let notice = text_of(&env, "#notice").await;
    assert!(notice.contains("Partner eastwind terminated"), "{notice}");

    // a tenant admin signed in to the portal reaches none of the console's pages or endpoints
    b.find(Locator::Css("form[action=\"/ui/logout\"] button"))
        .await
        .expect("sign out")
        .click()
        .await
        .expect("click");
    env.person("ann@acme.test", false).await;
    env.sign_in("#login-portal", "ann@acme.test").await;
    for path in [
        "/ui/console/partners",
        "/ui/console/users",
        "/ui/console/tenants/globex/danger",
        "/ui/console/tenants/acme/act/delete",
    ] {
        goto(&env, path).await;
        let page = env.source().await;
        assert!(page.contains("Not allowed"), "{path}: {page}");
        assert!(
            !page.contains("gil@globex.test") && !page.contains("Globex Corp"),
            "{path}"
        );
    }
    for path in ["/ui/console/search?q=glob", "/ui/console/events"] {
        let status = b
            .execute_async(
                &format!("const done = arguments[0]; fetch('{path}').then(r => done(r.status));"),
                vec![],
            )
            .await
            .expect("fetch");
        assert_eq!(status, json!(403), "{path}");
    }
    let refused = b
        .execute_async(
            "const done = arguments[0]; fetch('/ui/console/tenants/acme/act/suspend', {method: 'POST'}).then(r => done(r.status));",
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(refused, json!(403));
    assert!(
        !tenants.get("acme").await.expect("acme").spec.suspended,
        "a portal user suspended acme"
    );
    env.shutdown().await;
}
