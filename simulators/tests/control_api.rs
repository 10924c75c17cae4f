//! The control API over HTTP and the runner: its own token, request counts, faults, state dumps,
//! and `simulators.json` pointing at live simulators.

use std::time::Duration;

use dezky_simulators::runner::{self, SimulatorOptions, SimulatorsInfo};
use serde_json::{Value, json};

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let response = req.send().await.expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("text");
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        },
    )
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dezky-sim-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn runner_writes_simulators_json_for_live_servers() {
    let dir = temp_dir();
    let sims = runner::start(SimulatorOptions {
        state_dir: Some(dir.clone()),
        ..SimulatorOptions::default()
    })
    .await
    .expect("start");
    let raw: Value =
        serde_json::from_slice(&std::fs::read(dir.join("simulators.json")).expect("file"))
            .expect("json");
    for key in ["upstreams", "simulatorControl", "dns", "oidc"] {
        assert!(raw.get(key).is_some(), "{key} missing: {raw}");
    }
    for (upstream, fields) in [
        ("authentik", &["url", "token"][..]),
        ("stalwart", &["url", "username", "password"]),
        ("ocis", &["url", "username", "password"]),
    ] {
        for field in fields {
            assert!(
                raw["upstreams"][upstream][field].is_string(),
                "upstreams.{upstream}.{field}: {raw}"
            );
        }
    }
    assert!(
        raw["oidc"]["console"]["issuer"].is_string()
            && raw["oidc"]["portal"]["clientId"].is_string()
    );
    let info: SimulatorsInfo = serde_json::from_value(raw).expect("typed");
    assert_eq!(info, sims.info);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("simulators.json"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "credentials file is private");
    }

    let http = reqwest::Client::new();
    let authentik = &info.upstreams.authentik;
    let (status, _) = send(
        http.get(format!("{}/api/v3/core/groups/", authentik.url))
            .bearer_auth(&authentik.token),
    )
    .await;
    assert_eq!(status, 200);
    let discovery = format!(
        "{}.well-known/openid-configuration",
        info.oidc.console.issuer
    );
    let (status, doc) = send(http.get(discovery)).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], json!(info.oidc.console.issuer));
    let ocis = &info.upstreams.ocis;
    let (status, _) = send(
        http.get(format!("{}/graph/v1.0/drives", ocis.url))
            .basic_auth(&ocis.username, Some(&ocis.password)),
    )
    .await;
    assert_eq!(status, 200);
    let stalwart = &info.upstreams.stalwart;
    let (status, _) = send(
        http.get(format!("{}/jmap/session", stalwart.url))
            .basic_auth(&stalwart.username, Some(&stalwart.password)),
    )
    .await;
    assert_eq!(status, 200);

    // the control API sees every upstream's requests
    let control = &info.simulator_control;
    let (status, counts) = send(
        http.get(format!("{}/control/v1/requests", control.url))
            .bearer_auth(&control.token),
    )
    .await;
    assert_eq!(status, 200);
    let upstreams: Vec<&str> = counts["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["upstream"].as_str().expect("u"))
        .collect();
    for upstream in ["authentik", "ocis", "stalwart"] {
        assert!(
            upstreams.contains(&upstream),
            "{upstream} not counted: {counts}"
        );
    }
    let dns: std::net::SocketAddr = info.dns.parse().expect("dns is ip:port");
    assert!(dns.ip().is_loopback() && dns.port() > 0);
    let (status, _) = send(
        http.get(format!("{}/control/v1/dns/records", control.url))
            .bearer_auth(&control.token),
    )
    .await;
    assert_eq!(
        status, 200,
        "the DNS publishing routes are merged into the control API"
    );
    let (status, _) = send(http.get(format!("{}/control/v1/dns/records", control.url))).await;
    assert_eq!(status, 401, "and share its token");
    let (status, dump) = send(
        http.get(format!("{}/control/v1/state/authentik", control.url))
            .bearer_auth(&control.token),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        dump["applications"].as_array().expect("apps").len() >= 2,
        "console and portal are seeded"
    );
    sims.shutdown().await;
    assert!(
        http.get(format!("{}/api/v3/core/groups/", authentik.url))
            .send()
            .await
            .is_err(),
        "stopped"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn control_api_counts_requests_injects_faults_and_requires_its_token() {
    let sims = runner::start(SimulatorOptions::default())
        .await
        .expect("start");
    let control = sims.info.simulator_control.clone();
    let authentik = sims.info.upstreams.authentik.clone();
    let http = reqwest::Client::new();
    let ctl = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", control.url))
            .bearer_auth(&control.token)
    };

    let (status, _) = send(http.get(format!("{}/control/v1/requests", control.url))).await;
    assert_eq!(status, 401, "the control API has its own token");
    let (status, _) = send(
        http.get(format!("{}/control/v1/requests", control.url))
            .bearer_auth(&authentik.token),
    )
    .await;
    assert_eq!(status, 401, "an upstream token is not the control token");

    let group_list = || {
        http.get(format!("{}/api/v3/core/groups/", authentik.url))
            .bearer_auth(&authentik.token)
    };
    for _ in 0..3 {
        send(group_list()).await;
    }
    let (_, counts) = send(ctl(reqwest::Method::GET, "/control/v1/requests?reset=true")).await;
    let entry = counts["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["path"] == "/api/v3/core/groups/" && r["method"] == "GET")
        .cloned()
        .expect("counted");
    assert_eq!(entry["count"], 3);
    let (_, counts) = send(ctl(reqwest::Method::GET, "/control/v1/requests")).await;
    assert_eq!(counts["total"], 0, "reset after reading");

    // a 429 with Retry-After, scoped to one path prefix and method
    let (status, faults) = send(ctl(reqwest::Method::PUT, "/control/v1/faults").json(&json!([
        {"upstream": "authentik", "pathPrefix": "/api/v3/core/groups/", "method": "GET", "rateLimitRetryAfter": 3}
    ])))
    .await;
    assert_eq!(status, 200);
    assert_eq!(faults.as_array().expect("faults").len(), 1);
    let response = group_list().send().await.expect("send");
    assert_eq!(response.status(), 429);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("s")),
        Some("3")
    );
    let (status, _) = send(
        http.get(format!("{}/api/v3/core/users/", authentik.url))
            .bearer_auth(&authentik.token),
    )
    .await;
    assert_eq!(status, 200, "other paths are not affected");

    // an outage of one upstream, then latency
    let (status, _) = send(
        ctl(reqwest::Method::POST, "/control/v1/faults")
            .json(&json!({"upstream": "ocis", "outage": true})),
    )
    .await;
    assert_eq!(status, 201);
    let ocis = &sims.info.upstreams.ocis;
    let (status, _) = send(
        http.get(format!("{}/graph/v1.0/drives", ocis.url))
            .basic_auth(&ocis.username, Some(&ocis.password)),
    )
    .await;
    assert_eq!(status, 503);
    let (status, _) = send(ctl(
        reqwest::Method::DELETE,
        "/control/v1/faults?upstream=ocis",
    ))
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        http.get(format!("{}/graph/v1.0/drives", ocis.url))
            .basic_auth(&ocis.username, Some(&ocis.password)),
    )
    .await;
    assert_eq!(status, 200, "recovered without a restart");
    let (_, left) = send(ctl(reqwest::Method::GET, "/control/v1/faults")).await;
    assert_eq!(
        left.as_array().expect("faults").len(),
        1,
        "only the ocis fault was cleared"
    );

    send(
        ctl(reqwest::Method::PUT, "/control/v1/faults")
            .json(&json!([{"upstream": "authentik", "latencyMs": 300}])),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, _) = send(group_list()).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    send(
        ctl(reqwest::Method::PUT, "/control/v1/faults")
            .json(&json!([{"upstream": "authentik", "errorRate": 1.0, "errorStatus": 502}])),
    )
    .await;
    assert_eq!(send(group_list()).await.0, 502);
    assert_eq!(
        send(ctl(reqwest::Method::DELETE, "/control/v1/faults"))
            .await
            .0,
        204
    );
    assert_eq!(send(group_list()).await.0, 200);

    let (status, _) = send(ctl(reqwest::Method::GET, "/control/v1/state/nothing")).await;
    assert_eq!(status, 404);
    let (status, dump) = send(ctl(reqwest::Method::GET, "/control/v1/state/ocis")).await;
    assert_eq!(status, 200);
    assert!(dump.is_object());
    sims.shutdown().await;
}
