//! The console's platform-wide routes over HTTP: the palette search (only what the caller may
//! see), the member directory (paged, filtered), deleting a tenant (refused while dependents
//! remain) and the console event stream (operators only, bounded per operator); every other role
//! is refused with 403 and nothing is written.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::PostParams;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Env;
use crate::fixtures::seed;

fn kinds_and_names(v: &Value) -> Vec<(String, String)> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().unwrap_or_default().to_owned(),
                h["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_finds_only_what_the_caller_may_see() {
    let env = Env::start().await;
    let p = seed(&env).await;

    // an operator finds tenants, partners and members across the platform
    let (s, v) = env.get("/api/v1/search?q=e", &p.op).await;
    assert_eq!(s, 200, "{v}");
    let hits = kinds_and_names(&v);
    for want in [
        ("tenant", "acme"),
        ("tenant", "globex"),
        ("member", "ann"),
        ("member", "gil"),
    ] {
        assert!(
            hits.contains(&(want.0.into(), want.1.into())),
            "{want:?} not in {hits:?}"
        );
    }
    let (_, v) = env.get("/api/v1/search?q=northw", &p.op).await;
    assert_eq!(v["items"][0]["kind"], "partner", "{v}");
    assert_eq!(v["items"][0]["name"], "northwind", "{v}");
    // prefixes first, and the limit holds
    let (_, v) = env.get("/api/v1/search?q=&limit=2", &p.op).await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2), "{v}");
    assert!(v["total"].as_u64().unwrap_or(0) > 2, "{v}");
    let (s, _, problem) = env
        .call(Method::GET, "/api/v1/search?limit=0", Some(&p.op), None)
        .await;
    assert_eq!(s, 400);
    assert_eq!(problem["errors"][0]["field"], "limit", "{problem}");

    // a tenant admin finds its own tenant and members, nothing of globex
    let (s, v) = env.get("/api/v1/search?q=", &p.ann).await;
    assert_eq!(s, 200, "{v}");
    let hits = kinds_and_names(&v);
    assert!(hits.contains(&("tenant".into(), "acme".into())), "{hits:?}");
    assert!(hits.contains(&("member".into(), "joe".into())), "{hits:?}");
    let text = v.to_string();
    for other in ["globex", "gil@", "southwind", "initech"] {
        assert!(!text.contains(other), "ann's search shows {other}: {text}");
    }
    assert!(!hits.iter().any(|(k, _)| k == "partner"), "{hits:?}");
    // partner staff find their partner and its customers, no member of a customer
    let (_, v) = env.get("/api/v1/search?q=", &p.pat).await;
    let hits = kinds_and_names(&v);
    assert!(
        hits.contains(&("partner".into(), "northwind".into())),
        "{hits:?}"
    );
    assert!(hits.contains(&("tenant".into(), "acme".into())), "{hits:?}");
    assert!(
        !hits.iter().any(|(k, n)| k == "tenant" && n == "globex"),
        "{hits:?}"
    );
    assert!(
        !hits.iter().any(|(k, n)| k == "member" && n == "ann"),
        "{hits:?}"
    );
    // a plain member finds itself only
    let (_, v) = env.get("/api/v1/search?q=", &p.joe).await;
    assert_eq!(
        kinds_and_names(&v),
        [("member".to_owned(), "joe".to_owned())],
        "{v}"
    );
    // a console token outside platform-admins finds nothing
    let (_, v) = env.get("/api/v1/search?q=", &p.eve).await;
    assert_eq!(v["items"], json!([]), "{v}");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_page_and_filter_the_member_directory() {
    let env = Env::start().await;
    let p = seed(&env).await;
    env.set_status(
        "members",
        Some("tenant-acme"),
        "ann",
        json!({"identity": {"mfaEnrolled": true}, "conditions": [
            {"type": "Ready", "status": "True", "reason": "Provisioned", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
    )
    .await;
    env.eventually("ann ready in the directory", || async {
        env.get("/api/v1/members?status=ready", &p.op).await.1["items"][0]["email"]
            == "ann@acme.test"
    })
    .await;
    let (s, all) = env.get("/api/v1/members", &p.op).await;
    assert_eq!(s, 200, "{all}");
    // ann, joe, sue (acme), gil (globex), pat and sam (partner staff)
    assert_eq!(all["total"], 6, "{all}");
    let emails: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort();
    assert_eq!(emails, sorted, "sorted by address");
    let pat = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["email"] == "pat@northwind.test")
        .expect("pat");
    assert_eq!(
        (&pat["partner"], &pat["tenant"]),
        (&json!("northwind"), &Value::Null)
    );

    let (_, page2) = env.get("/api/v1/members?pageSize=4&page=2", &p.op).await;
    assert_eq!(page2["items"].as_array().map(Vec::len), Some(2), "{page2}");
    assert_eq!(
        (page2["page"].clone(), page2["total"].clone()),
        (json!(2), json!(6))
    );
    let (_, acme_admins) = env
        .get("/api/v1/members?tenant=acme&role=admin", &p.op)
        .await;
    let names: Vec<&str> = acme_admins["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["ann", "sue"], "{acme_admins}");
    let (_, suspended) = env.get("/api/v1/members?status=suspended", &p.op).await;
    assert_eq!(
        suspended["items"][0]["email"], "sue@acme.test",
        "{suspended}"
    );
    assert_eq!(suspended["total"], 1);
    let (_, mfa) = env.get("/api/v1/members?mfa=enrolled", &p.op).await;
    assert_eq!(
        (mfa["total"].clone(), mfa["items"][0]["mfaEnrolled"].clone()),
        (json!(1), json!(true))
    );
    let (_, found) = env.get("/api/v1/members?q=GIL", &p.op).await;
    assert_eq!(found["items"][0]["tenant"], "globex", "{found}");

    for (query, field) in [
        ("page=0", "page"),
        ("pageSize=1000", "pageSize"),
        ("role=owner", "role"),
        ("status=gone", "status"),
        ("mfa=maybe", "mfa"),
    ] {
        let (s, ct, problem) = env
            .call(
                Method::GET,
                &format!("/api/v1/members?{query}"),
                Some(&p.op),
                None,
            )
            .await;
        assert_eq!(
            (s, ct.as_str()),
            (400, "application/problem+json"),
            "{query}"
        );
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_is_refused_while_dependents_remain() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let (s, _, problem) = env
        .call(Method::DELETE, "/api/v1/tenants/acme", Some(&p.op), None)
        .await;
    assert_eq!(s, 409, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("3 members") && detail.contains("remove them first"),
        "{detail}"
    );
    // initech has no member, domain or app: it goes, and the operator is on record
    let (s, _, body) = env
        .call(Method::DELETE, "/api/v1/tenants/initech", Some(&p.op), None)
        .await;
    assert_eq!(s, 204, "{body}");
    env.eventually("initech gone", || async {
        env.get("/api/v1/tenants/initech", &p.op).await.0 == 404
    })
    .await;
    let (_, overview) = env.get("/api/v1/overview", &p.op).await;
    let recent = overview["recent"].as_array().expect("recent changes");
    assert!(
        recent.iter().any(|e| e["action"] == "TenantDeleted"
            && e["actor"] == "op@dezky.test (operator)"
            && e["name"] == "initech"),
        "{overview}"
    );
    let (s, _, _) = env
        .call(Method::DELETE, "/api/v1/tenants/initech", Some(&p.op), None)
        .await;
    assert_eq!(s, 404);
    env.shutdown().await;
}

/// Reads server-sent events until `want` matches one, for at most ten seconds.
async fn next_event(
    response: &mut reqwest::Response,
    buffer: &mut String,
    want: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if want(&event) {
                return event;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("an event in time")
            .expect("the stream is open")
            .expect("a chunk");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// Opens the console stream (a client without a total timeout: the stream stays open).
async fn open_stream(env: &Env, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/api/v1/stream", env.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("stream")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_stream_sends_every_tenants_changes_to_operators_only() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let mut r = open_stream(&env, &p.op).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/event-stream")
    );
    let mut buffer = String::new();
    next_event(&mut r, &mut buffer, |e| e.contains("event: ready")).await;
    // changes of two different tenants both arrive
    for t in ["acme", "globex"] {
        let (s, _) = env
            .post(&format!("/api/v1/tenants/{t}/reconcile"), &p.op, json!({}))
            .await;
        assert_eq!(s, 200);
        let e = next_event(&mut r, &mut buffer, |e| {
            e.contains("event: change") && e.contains(&format!("\"tenant\":\"{t}\""))
        })
        .await;
        assert!(e.contains("\"kind\":\"Tenant\""), "{e}");
    }

    // everyone else is refused, the stream is never opened
    for (who, token) in [
        ("ann", &p.ann),
        ("pat", &p.pat),
        ("joe", &p.joe),
        ("eve", &p.eve),
    ] {
        let (s, ct, problem) = env
            .call(Method::GET, "/api/v1/stream", Some(token), None)
            .await;
        assert_eq!(
            (s, ct.as_str()),
            (403, "application/problem+json"),
            "{who}: {problem}"
        );
    }
    let (s, _, _) = env.call(Method::GET, "/api/v1/stream", None, None).await;
    assert_eq!(s, 401);

    // bounded per operator: the ninth concurrent stream is refused, a closed one frees its slot
    let mut open = vec![r];
    for _ in 1..8 {
        let r = open_stream(&env, &p.op).await;
        assert_eq!(r.status(), 200);
        open.push(r);
    }
    let (s, _, problem) = env
        .call(Method::GET, "/api/v1/stream", Some(&p.op), None)
        .await;
    assert_eq!(s, 429, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("close a console tab")
    );
    drop(open.pop());
    // the server notices the closed stream when it next writes to it: make changes happen
    env.eventually("a slot freed", || async {
        env.post("/api/v1/tenants/acme/reconcile", &p.op, json!({}))
            .await;
        open_stream(&env, &p.op).await.status() == 200
    })
    .await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operators_use_the_console_routes_and_refusals_write_nothing() {
    let env = Env::start().await;
    let p = seed(&env).await;
    let attempts: Vec<(&str, Method, &str)> = vec![
        ("member directory", Method::GET, "/api/v1/members"),
        ("delete a tenant", Method::DELETE, "/api/v1/tenants/acme"),
        (
            "delete another tenant",
            Method::DELETE,
            "/api/v1/tenants/globex",
        ),
        (
            "delete a missing tenant",
            Method::DELETE,
            "/api/v1/tenants/nope",
        ),
        ("overview", Method::GET, "/api/v1/overview"),
    ];
    for (who, token) in [
        ("ann (tenant admin)", &p.ann),
        ("pat (partner staff)", &p.pat),
        ("joe (member)", &p.joe),
        ("eve (console, not an operator)", &p.eve),
        ("op's portal token", &p.op_portal),
    ] {
        for (what, method, path) in &attempts {
            let before = env.write_requests();
            let (s, ct, problem) = env.call(method.clone(), path, Some(token), None).await;
            assert_eq!(
                (s, ct.as_str()),
                (403, "application/problem+json"),
                "{who}: {what}: {problem}"
            );
            assert_eq!(env.write_requests(), before, "{who}: {what} wrote");
        }
    }
    // the tenants survive
    let (_, list) = env.get("/api/v1/tenants", &p.op).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(3), "{list}");
    env.shutdown().await;
}

/// An Event as the operator records it (no actor: the platform acted).
fn operator_event(ns: &str, kind: &str, name: &str, reason: &str) -> Event {
    serde_json::from_value(json!({
        "metadata": {"name": format!("{name}.{reason}").to_lowercase(), "namespace": ns},
        "involvedObject": {"apiVersion": "dezky.io/v1alpha1", "kind": kind, "name": name},
        "reason": reason, "message": format!("{reason} for {name}"), "type": "Normal",
        "lastTimestamp": "2026-01-01T00:00:00Z", "source": {"component": "dezky-operator"}
    }))
    .expect("event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_shows_what_people_and_the_platform_did() {
    let env = Env::start().await;
    let p = seed(&env).await;
    for (ns, kind, name, reason) in [
        ("default", "Tenant", "acme", "GroupCreated"),
        ("tenant-acme", "Member", "ann", "UserCreated"),
        ("default", "Tenant", "globex", "GroupCreated"),
        ("tenant-globex", "Member", "gil", "UserCreated"),
    ] {
        Api::<Event>::namespaced(env.client.clone(), ns)
            .create(
                &PostParams::default(),
                &operator_event(ns, kind, name, reason),
            )
            .await
            .expect("event created");
    }
    let (s, _) = env
        .post("/api/v1/tenants/acme/reconcile", &p.op, json!({}))
        .await;
    assert_eq!(s, 200);

    let (s, audit) = env.get("/api/v1/tenants/acme/audit", &p.op).await;
    assert_eq!(s, 200, "{audit}");
    let people: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(people, ["ReconcileRequested"], "{audit}");
    let platform: Vec<(&str, &str)> = audit["platform"]
        .as_array()
        .expect("platform")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(platform.len(), 2, "{audit}");
    assert!(platform.contains(&("GroupCreated", "acme")), "{platform:?}");
    assert!(platform.contains(&("UserCreated", "ann")), "{platform:?}");
    let text = audit.to_string();
    assert!(!text.contains("gil") && !text.contains("globex"), "{text}");
    // a tenant admin reads its own tenant's trail, not another's
    let (s, own) = env.get("/api/v1/tenants/acme/audit", &p.ann).await;
    assert_eq!(
        (s, own["platform"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    let (s, _) = env.get("/api/v1/tenants/globex/audit", &p.ann).await;
    assert_eq!(s, 403);
    env.shutdown().await;
}
