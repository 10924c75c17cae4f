//! The shipped `examples/` applied as a user would (server-side apply of every document): the
//! Partner and both Tenants converge to Ready through the operator, adopting the pre-labelled
//! namespaces, and the simulators hold exactly their upstream objects.

pub mod runtime_support;

use std::time::Duration;

use dezky_crds::{MailDomain, Member, Partner, SsoApp, Tenant};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use runtime_support::{Harness, authentik_groups, is_ready};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(40);

fn examples() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("example");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("yaml");
            if !value.is_null() {
                docs.push(value);
            }
        }
    }
    docs
}

async fn apply(h: &Harness, doc: &Value) {
    let name = doc["metadata"]["name"].as_str().expect("name");
    let ns = doc["metadata"]["namespace"].as_str();
    let params = PatchParams::apply("examples").force();
    let patch = Patch::Apply(doc);
    let c = h.client.clone();
    let result = match doc["kind"].as_str().expect("kind") {
        "Namespace" => Api::<Namespace>::all(c)
            .patch(name, &params, &patch)
            .await
            .map(drop),
        "Partner" => Api::<Partner>::all(c)
            .patch(name, &params, &patch)
            .await
            .map(drop),
        "Tenant" => Api::<Tenant>::all(c)
            .patch(name, &params, &patch)
            .await
            .map(drop),
        "MailDomain" => Api::<MailDomain>::namespaced(c, ns.expect("ns"))
            .patch(name, &params, &patch)
            .await
            .map(drop),
        "Member" => Api::<Member>::namespaced(c, ns.expect("ns"))
            .patch(name, &params, &patch)
            .await
            .map(drop),
        "SsoApp" => Api::<SsoApp>::namespaced(c, ns.expect("ns"))
            .patch(name, &params, &patch)
            .await
            .map(drop),
        other => panic!("an example of unexpected kind {other}"),
    };
    result.unwrap_or_else(|e| panic!("apply {name}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_partner_and_tenants_converge() {
    let mut h = Harness::start().await;
    h.start_operator().await;
    let docs = examples();
    for doc in &docs {
        apply(&h, doc).await;
    }
    let partners: Api<Partner> = Api::all(h.client.clone());
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    let expected_tenants = docs
        .iter()
        .filter(|d| d["kind"] == "Tenant" && d["spec"]["partnerRef"]["name"] == "northwind")
        .count() as i32;
    let p = h
        .wait_for(&partners, "northwind", WAIT, |p| {
            p.status.as_ref().is_some_and(|s| {
                is_ready(&s.conditions, p.metadata.generation)
                    && s.tenants == Some(expected_tenants)
            })
        })
        .await;
    assert_eq!(
        p.status.and_then(|s| s.namespace).as_deref(),
        Some("partner-northwind")
    );
    for tenant in docs.iter().filter(|d| d["kind"] == "Tenant") {
        let name = tenant["metadata"]["name"].as_str().expect("name");
        let members = docs
            .iter()
            .filter(|d| {
                d["kind"] == "Member" && d["metadata"]["namespace"] == format!("tenant-{name}")
            })
            .count() as i32;
        let t = h
            .wait_for(&tenants, name, WAIT, |t| {
                t.status
                    .as_ref()
                    .is_some_and(|s| is_ready(&s.conditions, t.metadata.generation))
            })
            .await;
        let status = t.status.expect("status");
        assert_eq!(status.namespace, Some(format!("tenant-{name}")));
        let seats = tenant["spec"]["seats"].as_i64().expect("seats") as i32;
        assert_eq!(
            status.seats_used,
            Some(members.min(seats)),
            "seats of {name}"
        );
    }
    // Upstream: the partner group and four groups per tenant; one space per tenant.
    let dump = h.dump("authentik").await;
    assert_eq!(authentik_groups(&dump, "partner-").len(), 1);
    let tenant_count = docs.iter().filter(|d| d["kind"] == "Tenant").count();
    assert_eq!(authentik_groups(&dump, "tenant-").len(), 4 * tenant_count);
    let ocis = h.dump("ocis").await;
    let spaces = ocis["drives"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter(|d| {
                    d["driveAlias"]
                        .as_str()
                        .is_some_and(|a| a.contains(":Tenant:-/"))
                })
                .count()
        })
        .unwrap_or(0);
    assert_eq!(spaces, tenant_count);
    h.stop_operator().await;
}
