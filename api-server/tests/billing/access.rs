//! Invoices and partner revenue follow the roles: a tenant's admin, its partner's staff and
//! operators read them; every attempt across tenants or partners is refused and writes nothing.

use serde_json::json;

use super::harness::Env;
use super::wait_role;

#[tokio::test]
async fn invoices_and_revenue_follow_the_roles() {
    let env = Env::start(true).await;
    env.partner("northwind", 20).await;
    env.partner("southwind", 30).await;
    env.tenant("acme", Some("northwind")).await;
    env.tenant("globex", Some("southwind")).await;
    env.member("tenant-acme", "ann", "ann@acme.test", "admin")
        .await;
    env.member("tenant-acme", "joe", "joe@acme.test", "member")
        .await;
    env.member("tenant-globex", "gil", "gil@globex.test", "admin")
        .await;
    env.member("partner-northwind", "pat", "pat@northwind.test", "member")
        .await;
    env.member("partner-southwind", "sam", "sam@southwind.test", "member")
        .await;
    let ls = env.ls();
    ls.plan().await;
    let acme = ls
        .customer("billing@acme.test", Some("4242424242424242"))
        .await;
    let globex = ls
        .customer("billing@globex.test", Some("5555555555554444"))
        .await;
    ls.subscribe(&acme, "5").await;
    ls.subscribe(&globex, "2").await;
    env.billing_status("acme", json!({"customerId": acme}))
        .await;
    env.billing_status("globex", json!({"customerId": globex}))
        .await;

    let op = env.token("op@dezky.test", true).await;
    let ann = env.token("ann@acme.test", false).await;
    let joe = env.token("joe@acme.test", false).await;
    let gil = env.token("gil@globex.test", false).await;
    let pat = env.token("pat@northwind.test", false).await;
    let sam = env.token("sam@southwind.test", false).await;
    wait_role(&env, &ann, "tenantAdmin", "acme").await;
    wait_role(&env, &gil, "tenantAdmin", "globex").await;
    wait_role(&env, &pat, "partnerStaff", "northwind").await;
    wait_role(&env, &sam, "partnerStaff", "southwind").await;
    env.eventually("the customers in the API's cache", || async {
        let (s, v) = env.get("/api/v1/tenants/globex/billing", &op).await;
        s == 200 && v["customerId"] == globex.as_str()
    })
    .await;

    // a tenant's invoices: its admin, its partner's staff and operators
    for (who, token, tenant, total) in [
        ("ann", &ann, "acme", 6000),
        ("pat", &pat, "acme", 6000),
        ("op", &op, "globex", 2400),
        ("gil", &gil, "globex", 2400),
    ] {
        let (status, page) = env
            .get(&format!("/api/v1/tenants/{tenant}/invoices"), token)
            .await;
        assert_eq!(status, 200, "{who} reads {tenant}'s invoices: {page}");
        let items = page["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{who}: {page}");
        assert_eq!(
            (items[0]["status"].as_str(), items[0]["amountPaid"].as_i64()),
            (Some("paid"), Some(total)),
            "{who}: {page}"
        );
    }

    // refused across tenants and partners, and for roles that may not read billing
    let before_writes = env.write_requests();
    let refused: [(&str, &String, reqwest::Method, &str); 14] = [
        (
            "ann",
            &ann,
            reqwest::Method::GET,
            "/api/v1/tenants/globex/invoices",
        ),
        (
            "ann",
            &ann,
            reqwest::Method::GET,
            "/api/v1/tenants/nope/invoices",
        ),
        (
            "ann",
            &ann,
            reqwest::Method::GET,
            "/api/v1/tenants/globex/billing",
        ),
        (
            "joe",
            &joe,
            reqwest::Method::GET,
            "/api/v1/tenants/acme/invoices",
        ),
        (
            "sam",
            &sam,
            reqwest::Method::GET,
            "/api/v1/tenants/acme/invoices",
        ),
        (
            "pat",
            &pat,
            reqwest::Method::GET,
            "/api/v1/tenants/globex/payment-method",
        ),
        (
            "ann",
            &ann,
            reqwest::Method::GET,
            "/api/v1/billing/invoices",
        ),
        (
            "pat",
            &pat,
            reqwest::Method::GET,
            "/api/v1/billing/invoices",
        ),
        (
            "pat",
            &pat,
            reqwest::Method::GET,
            "/api/v1/partners/southwind/revenue",
        ),
        (
            "ann",
            &ann,
            reqwest::Method::GET,
            "/api/v1/partners/northwind/revenue",
        ),
        (
            "gil",
            &gil,
            reqwest::Method::POST,
            "/api/v1/tenants/acme/payment-method/setup-intents",
        ),
        (
            "pat",
            &pat,
            reqwest::Method::POST,
            "/api/v1/tenants/acme/payment-method/setup-intents",
        ),
        (
            "joe",
            &joe,
            reqwest::Method::POST,
            "/api/v1/tenants/acme/payment-method/setup-intents",
        ),
        (
            "sam",
            &sam,
            reqwest::Method::POST,
            "/api/v1/tenants/globex/payment-method/setup-intents",
        ),
    ];
    for (who, token, method, path) in refused {
        let (status, ct, body) = env.raw(method.clone(), path, Some(token)).await;
        assert_eq!(status, 403, "{who} {method} {path}: {body}");
        assert!(
            ct.starts_with("application/problem+json"),
            "{who} {path}: {ct}"
        );
    }
    assert_eq!(
        env.write_requests(),
        before_writes,
        "refusals wrote nothing"
    );
    let intents = ls.get("/v1/setup_intents").await;
    assert_eq!(
        intents["data"].as_array().map(Vec::len),
        Some(0),
        "refusals created nothing in Stripe: {intents}"
    );

    // the console: every tenant's invoices, paged, each named by its tenant
    let (status, first) = env.get("/api/v1/billing/invoices?limit=1", &op).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["hasMore"], true, "{first}");
    let cursor = first["nextCursor"].as_str().expect("a cursor");
    let (status, second) = env
        .get(
            &format!("/api/v1/billing/invoices?limit=1&startingAfter={cursor}"),
            &op,
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let mut tenants = vec![
        first["items"][0]["tenant"].as_str().unwrap_or_default(),
        second["items"][0]["tenant"].as_str().unwrap_or_default(),
    ];
    tenants.sort();
    assert_eq!(tenants, ["acme", "globex"]);
    let (status, _) = env.get("/api/v1/billing/invoices?limit=0", &op).await;
    assert_eq!(status, 400);

    // a partner's margin: its share of what its customers paid
    let (status, revenue) = env.get("/api/v1/partners/northwind/revenue", &pat).await;
    assert_eq!(status, 200, "{revenue}");
    assert_eq!(revenue["marginPercent"], 20);
    let periods = revenue["periods"].as_array().expect("periods");
    assert_eq!(periods.len(), 1, "{revenue}");
    assert_eq!(
        (
            periods[0]["paid"].as_i64(),
            periods[0]["margin"].as_i64(),
            periods[0]["currency"].as_str()
        ),
        (Some(6000), Some(1200), Some("eur")),
        "{revenue}"
    );
    assert_eq!(
        periods[0]["period"],
        chrono::Utc::now().format("%Y-%m").to_string()
    );
    let (status, revenue) = env.get("/api/v1/partners/southwind/revenue", &op).await;
    assert_eq!(status, 200, "{revenue}");
    assert_eq!(
        revenue["periods"][0]["margin"], 720,
        "30% of 24.00: {revenue}"
    );

    // the pages: the partner's revenue, the console's invoices and a tenant's Billing tab
    let (status, _, page) = env
        .page(
            reqwest::Method::GET,
            "/ui/p/northwind/revenue",
            "portal",
            &pat,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("60.00 EUR") && page.contains("12.00 EUR"),
        "{page}"
    );
    let (status, _, page) = env
        .page(
            reqwest::Method::GET,
            "/ui/p/southwind/revenue",
            "portal",
            &pat,
        )
        .await;
    assert_eq!(status, 403, "{page}");
    let (status, _, page) = env
        .page(reqwest::Method::GET, "/ui/console/invoices", "console", &op)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("/ui/console/tenants/acme/billing")
            && page.contains("/ui/console/tenants/globex/billing"),
        "{page}"
    );
    let (status, _, page) = env
        .page(
            reqwest::Method::GET,
            "/ui/console/tenants/globex/billing",
            "console",
            &op,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("24.00 EUR") && page.contains(&globex),
        "{page}"
    );
    env.shutdown().await;
}
