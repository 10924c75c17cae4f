//! Health, readiness, metrics, and the OpenAPI document checked against the served routes.

use reqwest::Method;

use crate::common::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_nothing_else() {
    let env = Env::start().await;
    let (s, _, doc) = env.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let (status, ct, _) = env.call(method.clone(), &concrete, None, None).await;
            if op["security"].is_array() {
                assert_eq!(
                    (status, ct.as_str()),
                    (401, "application/problem+json"),
                    "{method} {path} is documented but answered {status}"
                );
            } else if path != "/readyz" {
                assert_eq!(status, 200, "{method} {path}");
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        dezky_api::routes::routes().len(),
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
