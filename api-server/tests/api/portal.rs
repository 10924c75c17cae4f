//! The partner portal and member self-service over HTTP.

use reqwest::Method;
use serde_json::json;

use crate::common::Env;
use crate::fixtures::seed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_staff_manage_their_customers() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let (s, list) = env
        .get("/api/v1/partners/northwind/customers", &p.pat)
        .await;
    assert_eq!(s, 200);
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["acme"]);
    // the partner cannot be bypassed: partnerRef is forced to the partner
    let (s, created) = env.post("/api/v1/partners/northwind/customers", &p.pat, json!({"name": "wayne", "spec": {"displayName": "Wayne",
        "plan": "starter", "seats": 3, "storageQuota": "5Gi", "mailboxQuota": "1Gi", "partnerRef": {"name": "southwind"}, "allowAdoption": true}})).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["spec"]["partnerRef"]["name"], "northwind");
    assert!(
        created["spec"]["allowAdoption"].is_null()
            || created["spec"]["allowAdoption"] == json!(false),
        "{created}"
    );
    assert_eq!(
        created["metadata"]["annotations"]["dezky.io/last-changed-by"],
        "pat@northwind.test (partner-staff)"
    );
    let (s, t) = env
        .post(
            "/api/v1/partners/northwind/customers/acme/suspend",
            &p.pat,
            json!({}),
        )
        .await;
    assert_eq!((s, &t["spec"]["suspended"]), (200, &json!(true)), "{t}");
    let (s, t) = env
        .post(
            "/api/v1/partners/northwind/customers/acme/resume",
            &p.pat,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    let (s, view) = env
        .get("/api/v1/partners/northwind/customers/acme", &p.pat)
        .await;
    assert_eq!(
        (s, &view["summary"]["name"]),
        (200, &json!("acme")),
        "{view}"
    );
    let (s, staff) = env.get("/api/v1/partners/northwind/staff", &p.pat).await;
    assert_eq!(
        (s, &staff["items"][0]["email"]),
        (200, &json!("pat@northwind.test")),
        "{staff}"
    );
    let (s, partner) = env.get("/api/v1/partners/northwind", &p.pat).await;
    assert_eq!(s, 200, "{partner}");
    // the staff read their customer's status through the tenant view too
    assert_eq!(env.get("/api/v1/tenants/acme", &p.pat).await.0, 200);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_serves_themselves_only() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let (s, me) = env.get("/api/v1/me", &p.joe).await;
    assert_eq!(s, 200);
    assert_eq!(me["email"], "joe@acme.test");
    assert_eq!(me["members"][0]["tenant"], "acme");
    assert_eq!(me["roles"]["tenantAdmin"], json!([]));
    let (s, m) = env
        .post("/api/v1/me/acme/reset-password", &p.joe, json!({}))
        .await;
    assert_eq!(s, 200, "{m}");
    assert!(m["member"]["spec"]["credentialsRotation"].is_string());
    assert_eq!(
        m["member"]["metadata"]["annotations"]["dezky.io/last-changed-by"],
        "joe@acme.test (member)"
    );
    let (s, m) = env.post("/api/v1/me/acme/logout", &p.joe, json!({})).await;
    assert_eq!(s, 200, "{m}");
    assert!(m["member"]["spec"]["sessionsRevocation"].is_string());
    let (s, c) = env.get("/api/v1/me/acme/credentials", &p.joe).await;
    assert_eq!(s, 409, "{c}");
    // ann was not touched by joe's requests
    let (_, ann) = env.get("/api/v1/tenants/acme/members/ann", &p.ann).await;
    assert!(
        ann["member"]["spec"]["credentialsRotation"].is_null(),
        "{ann}"
    );
    let (s, _, _) = env.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(s, 401);
    env.shutdown().await;
}
