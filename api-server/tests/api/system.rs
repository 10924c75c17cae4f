//! Health, readiness, metrics, and the OpenAPI document checked against the served routes.

use reqwest::Method;

use crate::common::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_nothing_else() {
    let env = Env::start().await;
    let (s, _, doc) = env.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            // each parameter as the document's example of it (a value of the documented format)
            let example = |name: &str| {
                op["parameters"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["name"] == name))
                    .and_then(|p| p["schema"]["examples"][0].as_str())
                    .unwrap_or_else(|| panic!("{path}: no example of {name}"))
                    .to_owned()
            };
            let concrete = path
                .split('/')
                .map(
                    |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => example(name),
                        None => seg.to_owned(),
                    },
                )
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let (status, ct, _) = env.call(method.clone(), &concrete, None, None).await;
            // an operation that needs a header instead of a token (the Stripe webhook's signature)
            let needs_header = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["in"] == "header" && p["required"] == true)
            });
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                assert_eq!(
                    (status, ct.as_str()),
                    (401, "application/problem+json"),
                    "{method} {path} is documented but answered {status}"
                );
            } else if needs_header {
                // refused without it (400), or not served here at all (the webhook without billing)
                assert!(
                    matches!(status, 400 | 404) && ct == "application/problem+json",
                    "{method} {path} without its header answered {status} {ct}"
                );
            } else if path != "/readyz" {
                assert_eq!(status, 200, "{method} {path}");
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        dezky_api::routes::routes().len() + dezky_api::openapi::outside_operations().len(),
        "the document and the route table differ"
    );
    // an undocumented path or method is not served
    let (s, ct, _) = env
        .call(Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    assert_eq!((s, ct.as_str()), (404, "application/problem+json"));
    let (s, ct, _) = env
        .call(Method::DELETE, "/api/v1/overview", None, None)
        .await;
    assert_eq!((s, ct.as_str()), (405, "application/problem+json"));
    // the webhook, served outside the route table, answers the same way
    let (s, ct, _) = env.call(Method::GET, "/webhooks/stripe", None, None).await;
    assert_eq!((s, ct.as_str()), (405, "application/problem+json"));
    env.shutdown().await;
}

/// Sends raw bytes with a content type; returns the status, the content type and the problem.
async fn send_raw(
    env: &Env,
    method: Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String, serde_json::Value) {
    let mut req = env
        .http
        .request(method, format!("{}{path}", env.base))
        .bearer_auth(token)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let problem = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, ct, problem)
}

/// What is wrong, the content type, the body, the status and the field the problem names.
type MalformedCase = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

/// Announces a 3 MiB JSON body and sends none of it; returns the status and the raw answer.
async fn oversized_post(env: &Env, path: &str, token: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = env.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        3 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_as_documented_problems() {
    let env = Env::start().await;
    let op = env.operator("op@dezky.test").await;
    let writes = env.write_requests();
    let create = "/api/v1/tenants";
    let good = serde_json::json!({"name": "fuzzed", "spec": {"displayName": "Fuzzed", "plan": "starter", "seats": 1,
        "storageQuota": "1Gi", "mailboxQuota": "1Gi", "billing": {"email": "b@fuzzed.test"}}})
    .to_string();
    let cases: Vec<MalformedCase> = vec![
        (
            "wrong content type",
            Some("text/plain"),
            good.clone().into_bytes(),
            415,
            "",
        ),
        ("no content type", None, good.clone().into_bytes(), 415, ""),
        (
            "not JSON",
            Some("application/json"),
            b"{\"name\":".to_vec(),
            400,
            "body",
        ),
        (
            "trailing bytes",
            Some("application/json"),
            format!("{good} x").into_bytes(),
            400,
            "body",
        ),
        (
            "wrong type",
            Some("application/json"),
            br#"{"name": 5}"#.to_vec(),
            400,
            "body",
        ),
    ];
    for (what, ct, body, status, field) in cases {
        let (s, got_ct, problem) = send_raw(&env, Method::POST, create, &op, ct, body).await;
        assert_eq!(
            (s, got_ct.as_str()),
            (status, "application/problem+json"),
            "{what}: {problem}"
        );
        assert_eq!(problem["status"], status, "{what}: {problem}");
        for key in ["type", "title", "detail"] {
            assert!(problem[key].is_string(), "{what}: no {key} in {problem}");
        }
        if !field.is_empty() {
            assert_eq!(problem["errors"][0]["field"], field, "{what}: {problem}");
        }
    }
    // a body past the limit: 413, answered from its announced length before it is read
    let (s, answer) = oversized_post(&env, create, &op).await;
    assert_eq!(s, 413, "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert_eq!(env.write_requests(), writes, "a malformed request wrote");
    // a float with no fraction is an integer, as JSON Schema says: it reaches the handler, which
    // answers as it would for `1`
    let float_seats = good.replace("\"seats\":1", "\"seats\":1.0");
    let (s, _, problem) = send_raw(
        &env,
        Method::POST,
        create,
        &op,
        Some("application/json"),
        float_seats.into_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{problem}");
    // path parameters out of their documented format: 400 naming the parameter, before anything
    // reaches the Kubernetes API
    for (path, param) in [
        ("/api/v1/tenants/Acme", "tenant"),
        ("/api/v1/tenants/a%0Ab/members", "tenant"),
        ("/api/v1/tenants/acme/members/-x", "member"),
        ("/api/v1/partners/null%2Cnull/customers", "partner"),
    ] {
        let (s, ct, problem) = env.call(Method::GET, path, Some(&op), None).await;
        assert_eq!(
            (s, ct.as_str()),
            (400, "application/problem+json"),
            "{path}: {problem}"
        );
        assert_eq!(problem["errors"][0]["field"], param, "{path}: {problem}");
    }
    let long = format!("/api/v1/tenants/{}", "a".repeat(41));
    assert_eq!(env.call(Method::GET, &long, Some(&op), None).await.0, 400);
    // a query the handler cannot read (`q` twice) is a problem too, not axum's plain text
    let (s, ct, problem) = env
        .call(Method::GET, "/api/v1/tenants?q=a&q=b", Some(&op), None)
        .await;
    assert_eq!(
        (s, ct.as_str()),
        (400, "application/problem+json"),
        "{problem}"
    );
    assert_eq!(problem["status"], 400, "{problem}");
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.contains("q")),
        "{problem}"
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_bounded_metrics() {
    let env = Env::start().await;
    assert_eq!(env.call(Method::GET, "/healthz", None, None).await.0, 200);
    assert_eq!(env.call(Method::GET, "/readyz", None, None).await.0, 200);
    let token = env.portal("zed@nowhere.test").await;
    for tenant in ["a1", "a2", "a3"] {
        assert_eq!(
            env.get(&format!("/api/v1/tenants/{tenant}/members"), &token)
                .await
                .0,
            403
        );
    }
    let text = env
        .http
        .get(format!("{}/metrics", env.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains(r#"dezky_api_http_requests_total{method="GET",route="/api/v1/tenants/{tenant}/members",status="4xx"} 3"#), "{text}");
    assert!(
        text.contains("dezky_api_auth_failures_total{outcome=\"denied\"} 3"),
        "{text}"
    );
    assert!(!text.contains("a1"), "a concrete path leaked into a label");
    env.shutdown().await;
}
