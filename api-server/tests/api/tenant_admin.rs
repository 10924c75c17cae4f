//! Tenant admin over HTTP: members with the one-time password shown once, the imperative
//! requests as spec changes, removal and its undo, domains, SSO apps, MFA and the live stream.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Env;
use crate::fixtures::seed;

async fn write_secret(env: &Env, ns: &str, name: &str, data: &[(&str, &str)]) {
    let api: Api<Secret> = Api::namespaced(env.client.clone(), ns);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns},
        "stringData": data.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect::<serde_json::Map<_, _>>()}))
    .expect("secret");
    api.create(&PostParams::default(), &s)
        .await
        .expect("secret created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_manages_members_and_sees_the_password_once() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let (s, created) = env
        .post(
            "/api/v1/tenants/acme/members",
            &p.ann,
            json!({"spec": {"email": "kim@acme.test", "displayName": "Kim", "role": "member"}}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["name"], "kim");
    assert_eq!(
        created["member"]["metadata"]["annotations"]["dezky.io/last-changed-by"],
        "ann@acme.test (tenant-admin)"
    );
    env.eventually("kim listed", || async {
        env.get("/api/v1/tenants/acme/members", &p.ann).await.1["items"]
            .as_array()
            .is_some_and(|a| a.len() == 4)
    })
    .await;

    // no password before the operator wrote it
    let (s, problem) = env
        .get("/api/v1/tenants/acme/members/kim/credentials", &p.ann)
        .await;
    assert_eq!(s, 409, "{problem}");
    write_secret(
        &env,
        "tenant-acme",
        "member-kim-credentials",
        &[
            ("username", "kim@acme.test"),
            ("password", "Corr3ct-Horse-1"),
        ],
    )
    .await;
    env.set_status("members", Some("tenant-acme"), "kim", json!({"credentialsSecretRef": {"name": "member-kim-credentials"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Provisioned", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})).await;
    let (s, first) = env
        .get("/api/v1/tenants/acme/members/kim/credentials", &p.ann)
        .await;
    assert_eq!(
        (s, &first["password"]),
        (200, &json!("Corr3ct-Horse-1")),
        "{first}"
    );
    let (s, second) = env
        .get("/api/v1/tenants/acme/members/kim/credentials", &p.ann)
        .await;
    assert_eq!(s, 410, "{second}");
    assert!(!second.to_string().contains("Corr3ct"), "{second}");

    let (s, m) = env
        .post(
            "/api/v1/tenants/acme/members/kim/suspend",
            &p.ann,
            json!({}),
        )
        .await;
    assert_eq!((s, &m["suspended"]), (200, &json!(true)), "{m}");
    let (s, m) = env
        .post("/api/v1/tenants/acme/members/kim/resume", &p.ann, json!({}))
        .await;
    assert_eq!((s, &m["suspended"]), (200, &json!(false)), "{m}");
    let (s, m) = env
        .post(
            "/api/v1/tenants/acme/members/kim/reset-password",
            &p.ann,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let rotation = m["member"]["spec"]["credentialsRotation"]
        .as_str()
        .expect("rotation")
        .to_owned();
    let (s, m) = env
        .post("/api/v1/tenants/acme/members/kim/logout", &p.ann, json!({}))
        .await;
    assert_eq!(s, 200);
    assert!(m["member"]["spec"]["sessionsRevocation"].is_string(), "{m}");
    assert_eq!(m["member"]["spec"]["credentialsRotation"], json!(rotation));

    // while the operator has not acted on the request, the old password is not shown as new
    let (s, early) = env
        .get("/api/v1/tenants/acme/members/kim/credentials", &p.ann)
        .await;
    assert_eq!(s, 409, "{early}");
    // a new password (the operator rotated it and recorded the request) is shown once again
    let api: Api<Secret> = Api::namespaced(env.client.clone(), "tenant-acme");
    api.patch(
        "member-kim-credentials",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&json!({"stringData": {"password": "N3w-Secret-2"}})),
    )
    .await
    .expect("rotated");
    env.set_status(
        "members",
        Some("tenant-acme"),
        "kim",
        json!({"observedCredentialsRotation": rotation}),
    )
    .await;
    let (s, again) = env
        .get("/api/v1/tenants/acme/members/kim/credentials", &p.ann)
        .await;
    assert_eq!(
        (s, &again["password"]),
        (200, &json!("N3w-Secret-2")),
        "{again}"
    );

    // remove, list the removed, undo
    let (s, _) = env
        .send(
            Method::DELETE,
            "/api/v1/tenants/acme/members/kim",
            Some(&p.ann),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, removed) = env
        .get("/api/v1/tenants/acme/removed-members", &p.ann)
        .await;
    assert_eq!(s, 200);
    assert_eq!(removed["items"][0]["email"], "kim@acme.test", "{removed}");
    env.eventually("kim gone", || async {
        env.get("/api/v1/tenants/acme/members/kim", &p.ann).await.0 == 404
    })
    .await;
    let (s, restored) = env
        .post(
            "/api/v1/tenants/acme/removed-members/kim/restore",
            &p.ann,
            json!({}),
        )
        .await;
    assert_eq!(s, 201, "{restored}");
    assert_eq!(restored["email"], "kim@acme.test");
    let (s, _) = env
        .post(
            "/api/v1/tenants/acme/removed-members/kim/restore",
            &p.ann,
            json!({}),
        )
        .await;
    assert_eq!(s, 404);

    let (s, audit) = env.get("/api/v1/tenants/acme/audit", &p.ann).await;
    assert_eq!(s, 200);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "MemberCreated",
        "CredentialsShown",
        "MemberSuspended",
        "PasswordReset",
        "SessionsRevoked",
        "MemberRemoved",
        "MemberRestored",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_manages_domains_apps_and_sees_mfa() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let (s, d) = env
        .post(
            "/api/v1/tenants/acme/domains",
            &p.ann,
            json!({"spec": {"domain": "acme.test", "primary": true}}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["name"], "acme-test");
    let (s, d2) = env
        .post(
            "/api/v1/tenants/acme/domains",
            &p.ann,
            json!({"spec": {"domain": "acme-mail.test"}}),
        )
        .await;
    assert_eq!(s, 201, "{d2}");
    env.eventually("domains listed", || async {
        env.get("/api/v1/tenants/acme/domains", &p.ann).await.1["items"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    })
    .await;
    env.set_status("maildomains", Some("tenant-acme"), "acme-test", json!({"dnsRecords": [
        {"type": "TXT", "name": "_dezky-verification.acme.test.", "value": "dezky-verify=abc", "state": "Verified"},
        {"type": "MX", "name": "acme.test.", "value": "10 mail.dezky.test.", "state": "Missing"}]})).await;
    env.eventually("records shown", || async {
        env.get("/api/v1/tenants/acme/domains/acme-test", &p.ann)
            .await
            .1["records"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    })
    .await;
    let (s, r) = env
        .post(
            "/api/v1/tenants/acme/domains/acme-test/recheck",
            &p.ann,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(
        r["mailDomain"]["metadata"]["annotations"]["dezky.io/recheck"].is_string(),
        "{r}"
    );
    let (s, r) = env
        .send(
            Method::PUT,
            "/api/v1/tenants/acme/domains/acme-test/dmarc",
            Some(&p.ann),
            Some(json!({"policy": "reject"})),
        )
        .await;
    assert_eq!((s, &r["dmarcPolicy"]), (200, &json!("reject")), "{r}");
    let (s, r) = env
        .send(
            Method::PUT,
            "/api/v1/tenants/acme/domains/acme-test/dmarc",
            Some(&p.ann),
            Some(json!({"policy": "sometimes"})),
        )
        .await;
    assert_eq!(s, 400, "{r}");
    let (s, r) = env
        .post(
            "/api/v1/tenants/acme/domains/acme-mail-test/primary",
            &p.ann,
            json!({}),
        )
        .await;
    assert_eq!((s, &r["primary"]), (200, &json!(true)), "{r}");
    env.eventually("one primary", || async {
        let (_, l) = env.get("/api/v1/tenants/acme/domains", &p.ann).await;
        l["items"].as_array().is_some_and(|a| {
            a.iter().filter(|d| d["primary"] == json!(true)).count() == 1
                && a.iter()
                    .any(|d| d["name"] == "acme-mail-test" && d["primary"] == json!(true))
        })
    })
    .await;
    let (s, _) = env
        .send(
            Method::DELETE,
            "/api/v1/tenants/acme/domains/acme-test",
            Some(&p.ann),
            None,
        )
        .await;
    assert_eq!(s, 204);

    let (s, app) = env.post("/api/v1/tenants/acme/ssoapps", &p.ann, json!({"name": "wiki", "spec": {"displayName": "Wiki", "redirectUris": ["https://wiki.acme.test/cb"]}})).await;
    assert_eq!(s, 201, "{app}");
    env.eventually("wiki listed", || async {
        env.get("/api/v1/tenants/acme/ssoapps/wiki", &p.ann).await.0 == 200
    })
    .await;
    write_secret(
        &env,
        "tenant-acme",
        "ssoapp-wiki-credentials",
        &[("client_id", "cid-1"), ("client_secret", "s3cr3t-value")],
    )
    .await;
    env.set_status("ssoapps", Some("tenant-acme"), "wiki", json!({"clientId": "cid-1", "issuer": "https://auth.test/application/o/wiki/", "credentialsSecretRef": {"name": "ssoapp-wiki-credentials"}})).await;
    let (s, c) = env
        .get("/api/v1/tenants/acme/ssoapps/wiki/credentials", &p.ann)
        .await;
    assert_eq!(
        (s, &c["clientSecret"]),
        (200, &json!("s3cr3t-value")),
        "{c}"
    );
    let (s, c) = env
        .get("/api/v1/tenants/acme/ssoapps/wiki/credentials", &p.ann)
        .await;
    assert_eq!(s, 410, "{c}");
    env.eventually("the app's client id listed", || async {
        env.get("/api/v1/tenants/acme/ssoapps", &p.ann).await.1["items"][0]["clientId"]
            == json!("cid-1")
    })
    .await;
    let (s, _) = env
        .send(
            Method::DELETE,
            "/api/v1/tenants/acme/ssoapps/wiki",
            Some(&p.ann),
            None,
        )
        .await;
    assert_eq!(s, 204);

    env.set_status(
        "members",
        Some("tenant-acme"),
        "joe",
        json!({"identity": {"mfaEnrolled": true}}),
    )
    .await;
    env.eventually("mfa", || async {
        env.get("/api/v1/tenants/acme/mfa", &p.ann).await.1["enrolled"] == json!(1)
    })
    .await;
    let (_, mfa) = env.get("/api/v1/tenants/acme/mfa", &p.ann).await;
    assert_eq!(mfa["members"], 3);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_sends_the_tenants_changes_and_nothing_of_others() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let stream_client = reqwest::Client::new();
    let response = stream_client
        .get(format!("{}/api/v1/tenants/acme/stream", env.base))
        .bearer_auth(&p.ann)
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/event-stream")
    );
    let mut response = response;
    // a change in another tenant, then one in acme
    env.member("tenant-globex", "gus", "gus@globex.test", "member")
        .await;
    env.member("tenant-acme", "liz", "liz@acme.test", "member")
        .await;
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.expect("chunk") {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("\"name\":\"liz\"") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the change arrives");
    assert!(text.contains("event: ready"), "{text}");
    assert!(text.contains("event: change"), "{text}");
    assert!(!text.contains("gus"), "{text}");
    env.shutdown().await;
}
