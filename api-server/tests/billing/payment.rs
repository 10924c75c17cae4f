//! Adding a card through a SetupIntent (API and portal page), the card shown as brand and last
//! four only; and billing switched off: the webhook endpoint and the routes answer 404, the pages
//! say so.

use dezky_api::webhooks::{WebhookSecret, sign};
use serde_json::{Value, json};

use super::harness::{Env, WEBHOOK_SECRET};
use super::{event, now, wait_role};

#[tokio::test]
async fn a_card_is_added_through_a_setup_intent_and_shown_as_brand_and_last_four() {
    let env = Env::start(true).await;
    env.tenant("acme", None).await;
    env.tenant("globex", None).await;
    env.member("tenant-acme", "ann", "ann@acme.test", "admin")
        .await;
    env.member("tenant-globex", "gil", "gil@globex.test", "admin")
        .await;
    let ls = env.ls();
    let acme = ls.customer("billing@acme.test", None).await;
    let globex = ls.customer("billing@globex.test", None).await;
    env.billing_status("acme", json!({"customerId": acme}))
        .await;
    env.billing_status("globex", json!({"customerId": globex}))
        .await;
    let ann = env.token("ann@acme.test", false).await;
    let gil = env.token("gil@globex.test", false).await;
    wait_role(&env, &ann, "tenantAdmin", "acme").await;
    wait_role(&env, &gil, "tenantAdmin", "globex").await;
    env.eventually("the customer in the API's cache", || async {
        let (s, v) = env.get("/api/v1/tenants/acme/billing", &ann).await;
        s == 200 && v["customerId"] == acme.as_str()
    })
    .await;
    let (_, billing) = env.get("/api/v1/tenants/acme/billing", &ann).await;
    assert!(billing["card"].is_null(), "{billing}");

    // created: the client secret is in this answer only
    let base = "/api/v1/tenants/acme/payment-method/setup-intents";
    let (status, created) = env.post(base, &ann).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(
        created["clientSecret"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("{id}_secret_"))),
        "{created}"
    );
    assert_eq!(created["status"], "requires_payment_method");
    let (status, read) = env.get(&format!("{base}/{id}"), &ann).await;
    assert_eq!(status, 200, "{read}");
    assert!(read.get("clientSecret").is_none(), "{read}");
    // not completable before a card was collected; not usable by another tenant's admin
    let (status, refused) = env.post(&format!("{base}/{id}/complete"), &ann).await;
    assert_eq!(status, 409, "{refused}");
    let (status, _) = env
        .get(
            &format!("/api/v1/tenants/globex/payment-method/setup-intents/{id}"),
            &gil,
        )
        .await;
    assert_eq!(status, 403, "a SetupIntent of another customer");

    // confirmed with the test card (localstripe), then made the default
    let (status, confirmed) = env.post(&format!("{base}/{id}/test-confirm"), &ann).await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["status"], "succeeded");
    let (status, done) = env.post(&format!("{base}/{id}/complete"), &ann).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["card"], json!({"brand": "visa", "last4": "4242"}));
    let (status, _, text) = env
        .raw(
            reqwest::Method::GET,
            "/api/v1/tenants/acme/payment-method",
            Some(&ann),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let pm: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(pm, json!({"card": {"brand": "visa", "last4": "4242"}}));
    assert!(!text.contains("4242424242424242"));
    let customer = ls.get(&format!("/v1/customers/{acme}")).await;
    assert!(
        customer["invoice_settings"]["default_payment_method"]
            .as_str()
            .is_some_and(|p| p.starts_with("pm_")),
        "{customer}"
    );

    // the portal's Billing page shows the card; adding one there runs the same flow
    let (status, _, page) = env
        .page(reqwest::Method::GET, "/ui/t/acme/billing", "portal", &ann)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("visa ending in 4242"), "{page}");
    let (status, location, _) = env
        .page(
            reqwest::Method::POST,
            "/ui/t/acme/billing/card",
            "portal",
            &ann,
        )
        .await;
    assert_eq!(status, 303, "add a card");
    assert!(
        location.starts_with("/ui/t/acme/billing/card/seti_"),
        "{location}"
    );
    let (status, _, intent_page) = env
        .page(reqwest::Method::GET, &location, "portal", &ann)
        .await;
    assert_eq!(status, 200, "{intent_page}");
    assert!(
        intent_page.contains("Confirm with the test card"),
        "{intent_page}"
    );
    assert!(
        !intent_page.contains("_secret_"),
        "no client secret in the page"
    );
    let (status, back, _) = env
        .page(
            reqwest::Method::POST,
            &format!("{location}/confirm"),
            "portal",
            &ann,
        )
        .await;
    assert_eq!(
        (status, back.as_str()),
        (303, "/ui/t/acme/billing?done=card-added")
    );
    // another tenant's admin cannot see this page
    let (status, _, _) = env
        .page(reqwest::Method::GET, "/ui/t/acme/billing", "portal", &gil)
        .await;
    assert_eq!(status, 403);
    env.shutdown().await;
}

#[tokio::test]
async fn with_billing_off_the_endpoint_and_routes_answer_404_and_the_pages_say_so() {
    let env = Env::start(false).await;
    env.tenant("acme", None).await;
    env.member("tenant-acme", "ann", "ann@acme.test", "admin")
        .await;
    let ann = env.token("ann@acme.test", false).await;
    let op = env.token("op@dezky.test", true).await;
    wait_role(&env, &ann, "tenantAdmin", "acme").await;

    let body = event(
        "evt_1",
        "customer.subscription.deleted",
        json!({"id": "sub_1", "customer": "cus_1"}),
    );
    let signed = sign(&body, &WebhookSecret::new(WEBHOOK_SECRET), now());
    let (status, ct, _) = env.deliver(Some(&signed), &body).await;
    assert_eq!(status, 404);
    assert!(ct.starts_with("application/problem+json"), "{ct}");

    let (status, v) = env.get("/api/v1/billing", &ann).await;
    assert_eq!((status, v["enabled"].as_bool()), (200, Some(false)));
    for path in [
        "/api/v1/tenants/acme/invoices",
        "/api/v1/tenants/acme/billing",
    ] {
        let (status, ct, text) = env.raw(reqwest::Method::GET, path, Some(&ann)).await;
        assert_eq!(status, 404, "{path}: {text}");
        assert!(ct.starts_with("application/problem+json"), "{path}: {ct}");
        let problem: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(problem["type"], "https://dezky.io/problems/billing-off");
    }
    let (status, _, text) = env
        .raw(reqwest::Method::GET, "/api/v1/billing/invoices", Some(&op))
        .await;
    assert_eq!(status, 404, "{text}");

    let (status, _, page) = env
        .page(reqwest::Method::GET, "/ui/t/acme/billing", "portal", &ann)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Billing is switched off"), "{page}");
    let (status, _, page) = env
        .page(reqwest::Method::GET, "/ui/console/invoices", "console", &op)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Billing is switched off"), "{page}");
    env.shutdown().await;
}
