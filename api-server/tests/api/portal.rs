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

async fn write_secret(env: &Env, ns: &str, name: &str, data: &[(&str, &str)]) {
    use k8s_openapi::api::core::v1::Secret;
    let api: kube::Api<Secret> = kube::Api::namespaced(env.client.clone(), ns);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns},
        "stringData": data.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>()}))
    .expect("secret");
    match api.get_opt(name).await.expect("read secret") {
        Some(_) => {
            api.replace(name, &kube::api::PostParams::default(), &s)
                .await
                .expect("secret replaced");
        }
        None => {
            api.create(&kube::api::PostParams::default(), &s)
                .await
                .expect("secret created");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_staff_add_a_team_member_and_see_the_password_once() {
    let env = Env::start().await;
    let p = seed(&env).await;

    // an address off the partner's domain is refused, naming the field, and nothing is written
    let before = env.write_requests();
    let (s, problem) = env
        .post(
            "/api/v1/partners/northwind/staff",
            &p.pat,
            json!({"spec": {"email": "kim@acme.test", "displayName": "Kim"}}),
        )
        .await;
    assert_eq!(s, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "spec.email", "{problem}");
    assert!(
        problem["errors"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("@northwind.test")),
        "{problem}"
    );
    assert_eq!(
        env.write_requests(),
        before,
        "a refused staff member was written"
    );

    let (s, created) = env
        .post(
            "/api/v1/partners/northwind/staff",
            &p.pat,
            json!({"spec": {"email": "kim@northwind.test", "displayName": "Kim"}}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["name"], "kim");
    assert_eq!(
        created["member"]["metadata"]["namespace"],
        "partner-northwind"
    );
    assert_eq!(
        created["member"]["metadata"]["annotations"]["dezky.io/last-changed-by"],
        "pat@northwind.test (partner-staff)"
    );
    env.eventually("kim on the team", || async {
        env.get("/api/v1/partners/northwind/staff", &p.pat).await.1["items"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["email"] == "kim@northwind.test"))
    })
    .await;
    // southwind's staff list does not show northwind's new member
    let (_, theirs) = env.get("/api/v1/partners/southwind/staff", &p.sam).await;
    assert!(
        !theirs.to_string().contains("kim@northwind.test"),
        "{theirs}"
    );

    // the one-time password: not before the operator wrote it, then once, then never again
    let (s, problem) = env
        .get("/api/v1/partners/northwind/staff/kim/credentials", &p.pat)
        .await;
    assert_eq!(s, 409, "{problem}");
    write_secret(
        &env,
        "partner-northwind",
        "member-kim-credentials",
        &[
            ("username", "kim@northwind.test"),
            ("password", "Staff-0tp-9"),
        ],
    )
    .await;
    env.set_status(
        "members",
        Some("partner-northwind"),
        "kim",
        json!({"credentialsSecretRef": {"name": "member-kim-credentials"}}),
    )
    .await;
    let (s, first) = env
        .get("/api/v1/partners/northwind/staff/kim/credentials", &p.pat)
        .await;
    assert_eq!(
        (s, &first["password"]),
        (200, &json!("Staff-0tp-9")),
        "{first}"
    );
    let (s, second) = env
        .get("/api/v1/partners/northwind/staff/kim/credentials", &p.pat)
        .await;
    assert_eq!(s, 410, "{second}");
    assert!(!second.to_string().contains("Staff-0tp-9"));

    // a duplicate is a conflict, not a second member
    let (s, dup) = env
        .post(
            "/api/v1/partners/northwind/staff",
            &p.pat,
            json!({"spec": {"email": "kim@northwind.test", "displayName": "Kim again"}}),
        )
        .await;
    assert_eq!(s, 409, "{dup}");
    // an operator may add staff to any partner
    let (s, by_op) = env
        .post(
            "/api/v1/partners/southwind/staff",
            &p.op,
            json!({"name": "lee", "spec": {"email": "lee@southwind.test", "displayName": "Lee"}}),
        )
        .await;
    assert_eq!(s, 201, "{by_op}");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_is_shown_only_once_the_operator_issued_it() {
    let env = Env::start().await;
    let p = seed(&env).await;
    write_secret(
        &env,
        "tenant-acme",
        "member-joe-credentials",
        &[("username", "joe@acme.test"), ("password", "Old-Pass-1")],
    )
    .await;
    env.set_status(
        "members",
        Some("tenant-acme"),
        "joe",
        json!({"credentialsSecretRef": {"name": "member-joe-credentials"}}),
    )
    .await;
    let (s, m) = env
        .post("/api/v1/me/acme/reset-password", &p.joe, json!({}))
        .await;
    assert_eq!(s, 200, "{m}");
    let wanted = m["member"]["spec"]["credentialsRotation"]
        .as_str()
        .expect("a rotation")
        .to_owned();
    assert_eq!(m["passwordPending"], true, "{m}");
    // the Secret still holds the old password: it must not be shown as the new one
    let (s, c) = env.get("/api/v1/me/acme/credentials", &p.joe).await;
    assert_eq!(s, 409, "{c}");
    assert!(!c.to_string().contains("Old-Pass-1"));
    let (s, c) = env
        .get("/api/v1/tenants/acme/members/joe/credentials", &p.ann)
        .await;
    assert_eq!(s, 409, "{c}");
    // the operator issues the new one and records the rotation it acted on
    write_secret(
        &env,
        "tenant-acme",
        "member-joe-credentials",
        &[("username", "joe@acme.test"), ("password", "New-Pass-2")],
    )
    .await;
    env.set_status(
        "members",
        Some("tenant-acme"),
        "joe",
        json!({"observedCredentialsRotation": wanted}),
    )
    .await;
    let (s, c) = env.get("/api/v1/me/acme/credentials", &p.joe).await;
    assert_eq!((s, &c["password"]), (200, &json!("New-Pass-2")), "{c}");
    let (s, _) = env.get("/api/v1/me/acme/credentials", &p.joe).await;
    assert_eq!(s, 410);
    env.eventually("joe's password no longer pending", || async {
        let (_, me) = env.get("/api/v1/me", &p.joe).await;
        me["members"][0]["passwordPending"] == json!(false)
            && me["members"][0]["credentialsAvailable"] == json!(true)
    })
    .await;
    env.shutdown().await;
}
