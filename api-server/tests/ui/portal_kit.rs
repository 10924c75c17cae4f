//! Helpers of the portal's browser tests: objects and statuses the operator would write (mail
//! domains, SSO apps, partners, credentials Secrets), and patient page interactions (the pages
//! refresh parts of themselves live, and the API's cache follows a watch).

use std::collections::BTreeMap;
use std::time::Duration;

use fantoccini::{Client as Browser, Locator};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::platform::Env;

fn resource(plural: &str) -> ApiResource {
    let kind = match plural {
        "maildomains" => "MailDomain",
        "ssoapps" => "SsoApp",
        "partners" => "Partner",
        "members" => "Member",
        "tenants" => "Tenant",
        other => panic!("unexpected plural {other}"),
    };
    ApiResource {
        group: "dezky.io".into(),
        version: "v1alpha1".into(),
        api_version: "dezky.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// The API of one kind, in a namespace or cluster-wide.
pub fn objects(client: &Client, plural: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let ar = resource(plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// Merges `status` into an object's status, as the operator would.
pub async fn status(env: &Env, plural: &str, ns: Option<&str>, name: &str, status: Value) {
    objects(&env.client, plural, ns)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .expect("status written");
}

/// Merges `metadata` into an object's metadata (finalizers, as a controller would).
pub async fn metadata(env: &Env, plural: &str, ns: Option<&str>, name: &str, metadata: Value) {
    objects(&env.client, plural, ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": metadata})),
        )
        .await
        .expect("metadata written");
}

/// A partner with its labelled namespace `partner-<name>` and web domain `<name>.test`.
pub async fn partner(env: &Env, name: &str) {
    let ns_api: Api<Namespace> = Api::all(env.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {
        "name": format!("partner-{name}"),
        "labels": BTreeMap::from([("dezky.io/partner", name)])}}))
    .expect("namespace");
    ns_api
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "Partner", "metadata": {"name": name},
        "spec": {"displayName": format!("{name} IT"), "domain": format!("{name}.test"), "marginPercent": 20}}))
    .expect("partner");
    objects(&env.client, "partners", None)
        .patch(
            name,
            &PatchParams::apply("ui-test").force(),
            &Patch::Apply(&obj),
        )
        .await
        .expect("partner applied");
}

/// A Member in a partner's namespace: partner staff.
pub async fn staff(env: &Env, partner: &str, name: &str, email: &str) {
    env.apply(
        "members",
        Some(&format!("partner-{partner}")),
        json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Member",
               "metadata": {"name": name, "namespace": format!("partner-{partner}")},
               "spec": {"email": email, "displayName": name, "role": "member"}}),
    )
    .await;
}

/// Writes a credentials Secret (created, or replaced with new content).
pub async fn secret(env: &Env, ns: &str, name: &str, data: &[(&str, &str)]) {
    let api: Api<Secret> = Api::namespaced(env.client.clone(), ns);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns},
        "stringData": data.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>()}))
    .expect("secret");
    if api.get_opt(name).await.expect("read secret").is_some() {
        api.replace(name, &PostParams::default(), &s)
            .await
            .expect("secret replaced");
    } else {
        api.create(&PostParams::default(), &s)
            .await
            .expect("secret created");
    }
}

/// Opens `path`, again while the API's cache has not seen the signed-in person's role yet,
/// until `css` is on the page.
pub async fn open(env: &Env, path: &str, css: &str) {
    for _ in 0..60 {
        env.browser
            .goto(&format!("{}{path}", env.base))
            .await
            .expect("page");
        if env.browser.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{path} never showed {css}");
}

/// Waits for an element.
pub async fn wait_for(b: &Browser, css: &str) -> fantoccini::elements::Element {
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
}

/// Clicks an element, again when a live refresh replaced it under the pointer.
pub async fn click(b: &Browser, css: &str) {
    for _ in 0..20 {
        if let Ok(el) = b.find(Locator::Css(css)).await
            && el.click().await.is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not click {css}");
}

/// Types into a form field (cleared first).
pub async fn fill(b: &Browser, id: &str, text: &str) {
    let el = b.find(Locator::Id(id)).await.expect("the field");
    el.clear().await.expect("clear");
    el.send_keys(text).await.expect("type");
}

/// The page's text.
pub async fn text(b: &Browser) -> String {
    b.find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text")
}

/// A condition as the operator writes it.
pub fn cond(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    crate::platform::condition(kind, status, reason, message)
}
