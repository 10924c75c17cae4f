//! The DNS simulator's publishing routes: records put and deleted over HTTP are listed back,
//! and invalid records are refused.

use dezky_simulators::dns::{DnsZones, control_routes};
use serde_json::{Value, json};

async fn start() -> (DnsZones, String) {
    let zones = DnsZones::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = control_routes(zones.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (zones, url)
}

#[tokio::test]
async fn records_are_published_listed_and_removed() {
    let (zones, url) = start().await;
    let http = reqwest::Client::new();
    let records = format!("{url}/control/v1/dns/records");
    let response = http
        .put(&records)
        .json(&json!([{"name": "acme.test.", "type": "TXT", "value": "v=spf1 mx -all"}, {"name": "Acme.test", "type": "mx", "value": "10 mail.dezky.test."}]))
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), 200);
    let listed: Value = http
        .get(&records)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["records"].as_array().expect("records").len(), 2);
    assert_eq!(
        listed["records"][1],
        json!({"name": "acme.test", "type": "MX", "value": "10 mail.dezky.test.", "ttl": 60})
    );
    let bad = http
        .put(&records)
        .json(&json!({"name": "acme.test", "type": "MX", "value": "mail"}))
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status(), 400);
    let bad = http
        .put(&records)
        .json(&json!({"name": "acme.test", "type": "SRV", "value": "0 1 993 x."}))
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status(), 400);
    let removed: Value = http
        .delete(&records)
        .json(&json!({"name": "acme.test", "type": "TXT"}))
        .send()
        .await
        .expect("delete")
        .json()
        .await
        .expect("json");
    assert_eq!(removed["removed"], 1);
    assert_eq!(zones.records().len(), 1);
}
