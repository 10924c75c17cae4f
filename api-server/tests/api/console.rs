//! The operator console over HTTP: tenants, partners, overview and the audit trail, with the
//! acting operator recorded on the objects and in Events.

use reqwest::Method;
use serde_json::json;

use crate::common::Env;
use crate::fixtures::seed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_manages_tenants_and_sees_the_audit_trail() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let body = json!({"name": "hooli", "spec": {"displayName": "Hooli", "plan": "starter", "seats": 5,
        "storageQuota": "10Gi", "mailboxQuota": "1Gi"}});
    let (s, created) = env.post("/api/v1/tenants", &p.op, body.clone()).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(
        created["metadata"]["annotations"]["dezky.io/last-changed-by"],
        "op@dezky.test (operator)"
    );
    let (s, again) = env.post("/api/v1/tenants", &p.op, body).await;
    assert_eq!(s, 409, "{again}");

    // the Kubernetes API refuses seats: 0 (schema) and the causes come back per field
    let (s, ct, problem) = env
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(&p.op),
            Some(json!({"name": "bad", "spec": {"displayName": "Bad",
            "plan": "starter", "seats": 0, "storageQuota": "10Gi", "mailboxQuota": "1Gi"}})),
        )
        .await;
    assert_eq!(
        (s, ct.as_str()),
        (422, "application/problem+json"),
        "{problem}"
    );
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(fields.iter().any(|f| f.contains("seats")), "{problem}");
    // a body that is not a tenant at all is a 400 problem naming the cause
    let (s, ct, problem) = env
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(&p.op),
            Some(json!({"name": 5})),
        )
        .await;
    assert_eq!(
        (s, ct.as_str()),
        (400, "application/problem+json"),
        "{problem}"
    );

    env.eventually("hooli in the cache", || async {
        env.get("/api/v1/tenants?q=hool", &p.op).await.1["items"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    })
    .await;
    let (_, all) = env.get("/api/v1/tenants", &p.op).await;
    let names: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["acme", "globex", "hooli", "initech"]);

    // per-upstream conditions in the status view
    env.set_status("tenants", None, "acme", json!({"namespace": "tenant-acme", "conditions": [
        {"type": "IdentityReady", "status": "True", "reason": "Provisioned", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "FilesReady", "status": "False", "reason": "UpstreamUnavailable", "message": "ocis 503", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Ready", "status": "False", "reason": "FilesNotReady", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})).await;
    env.eventually("acme failing", || async {
        env.get("/api/v1/tenants?state=failing", &p.op).await.1["items"][0]["name"] == "acme"
    })
    .await;
    // a state that names no state is refused, naming the filter and its values
    for path in [
        "/api/v1/tenants?state=broken",
        "/api/v1/partners/northwind/customers?state=",
    ] {
        let (s, ct, problem) = env.call(Method::GET, path, Some(&p.op), None).await;
        assert_eq!(
            (s, ct.as_str()),
            (400, "application/problem+json"),
            "{path}: {problem}"
        );
        assert_eq!(problem["errors"][0]["field"], "state", "{problem}");
        assert!(
            problem["errors"][0]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("ready, pending, suspended, failing")),
            "{problem}"
        );
    }
    let (s, view) = env.get("/api/v1/tenants/acme", &p.op).await;
    assert_eq!(s, 200);
    assert_eq!(view["summary"]["upstreams"]["FilesReady"], "False");
    assert_eq!(view["summary"]["reason"], "FilesNotReady");

    let (s, edited) = env
        .send(
            Method::PATCH,
            "/api/v1/tenants/hooli",
            Some(&p.op),
            Some(json!({"seats": 30, "plan": "business", "partner": "northwind"})),
        )
        .await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["spec"]["seats"], 30);
    assert_eq!(edited["spec"]["partnerRef"]["name"], "northwind");
    // a partner that does not exist is a well-formed request the API cannot carry out: 422
    let (s, ct, problem) = env
        .call(
            Method::PATCH,
            "/api/v1/tenants/hooli",
            Some(&p.op),
            Some(json!({"partner": "nobody"})),
        )
        .await;
    assert_eq!(
        (s, ct.as_str()),
        (422, "application/problem+json"),
        "{problem}"
    );
    assert_eq!(problem["errors"][0]["field"], "partner", "{problem}");
    let (s, suspended) = env
        .post("/api/v1/tenants/hooli/suspend", &p.op, json!({}))
        .await;
    assert_eq!(
        (s, &suspended["spec"]["suspended"]),
        (200, &json!(true)),
        "{suspended}"
    );
    let (s, resumed) = env
        .post("/api/v1/tenants/hooli/resume", &p.op, json!({}))
        .await;
    assert_eq!(s, 200);
    assert_ne!(resumed["spec"]["suspended"], json!(true));
    let (s, rec) = env
        .post("/api/v1/tenants/hooli/reconcile", &p.op, json!({}))
        .await;
    assert_eq!(s, 200);
    assert!(
        rec["metadata"]["annotations"]["dezky.io/reconcile-requested"].is_string(),
        "{rec}"
    );

    // operators may also use the tenant admin routes of any tenant
    let (s, members) = env.get("/api/v1/tenants/globex/members", &p.op).await;
    assert_eq!(
        (s, &members["items"][0]["email"]),
        (200, &json!("gil@globex.test")),
        "{members}"
    );
    let (s, overview) = env.get("/api/v1/overview", &p.op).await;
    assert_eq!(s, 200);
    assert_eq!(overview["tenants"]["total"], 4);
    assert_eq!(overview["followUp"][0]["name"], "acme");
    assert_eq!(overview["upstreams"]["FilesReady"]["False"], 1);

    let (s, audit) = env.get("/api/v1/tenants/hooli/audit", &p.op).await;
    assert_eq!(s, 200);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "TenantCreated",
        "TenantEdited",
        "TenantSuspended",
        "TenantResumed",
        "ReconcileRequested",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert!(
        audit["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|e| e["actor"] == "op@dezky.test (operator)")
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_manages_partners() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let (s, created) = env.post("/api/v1/partners", &p.op, json!({"name": "eastwind", "spec": {"displayName": "Eastwind", "domain": "eastwind.test", "marginPercent": 10}})).await;
    assert_eq!(s, 201, "{created}");
    env.eventually("eastwind listed", || async {
        env.get("/api/v1/partners", &p.op).await.1["items"]
            .as_array()
            .is_some_and(|a| a.len() == 3)
    })
    .await;
    let (s, edited) = env
        .send(
            Method::PATCH,
            "/api/v1/partners/eastwind",
            Some(&p.op),
            Some(json!({"marginPercent": 25})),
        )
        .await;
    assert_eq!(
        (s, &edited["spec"]["marginPercent"]),
        (200, &json!(25)),
        "{edited}"
    );
    let (s, attached) = env
        .send(
            Method::PUT,
            "/api/v1/partners/eastwind/tenants/initech",
            Some(&p.op),
            None,
        )
        .await;
    assert_eq!(
        (s, &attached["spec"]["partnerRef"]["name"]),
        (200, &json!("eastwind")),
        "{attached}"
    );
    env.eventually("initech attached", || async {
        env.get("/api/v1/partners/eastwind", &p.op).await.1["customers"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    })
    .await;
    let (s, refused) = env
        .send(
            Method::DELETE,
            "/api/v1/partners/eastwind",
            Some(&p.op),
            None,
        )
        .await;
    assert_eq!(s, 409, "{refused}");
    let (s, wrong) = env
        .send(
            Method::DELETE,
            "/api/v1/partners/northwind/tenants/initech",
            Some(&p.op),
            None,
        )
        .await;
    assert_eq!(s, 409, "{wrong}");
    let (s, detached) = env
        .send(
            Method::DELETE,
            "/api/v1/partners/eastwind/tenants/initech",
            Some(&p.op),
            None,
        )
        .await;
    assert_eq!(s, 200, "{detached}");
    assert!(detached["spec"]["partnerRef"].is_null(), "{detached}");
    env.eventually("initech detached", || async {
        env.get("/api/v1/partners/eastwind", &p.op).await.1["customers"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    })
    .await;
    let (s, _, _) = env
        .call(
            Method::DELETE,
            "/api/v1/partners/eastwind",
            Some(&p.op),
            None,
        )
        .await;
    assert_eq!(s, 204);
    env.shutdown().await;
}
