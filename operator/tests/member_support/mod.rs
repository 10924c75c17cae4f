//! Helpers of the MailDomain, Member and SsoApp system tests: manifests, publishing DNS records
//! through the simulators' control API, verifying a domain, and logging in as a member.

#![cfg(test)]

mod access;
mod adoption;
mod claims;
mod faults;
mod retention;
mod ssoapp;

use std::time::Duration;

use dezky_crds::{MailDomain, Member, Tenant};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::Api;
use serde_json::{Value, json};

use crate::runtime_support::{Harness, condition};

/// How long a test waits for a convergence.
pub const WAIT: Duration = Duration::from_secs(30);

/// A Tenant manifest.
pub fn tenant(name: &str, seats: i32, extra: Value) -> Value {
    let mut spec = json!({
        "displayName": name, "plan": "business", "seats": seats,
        "storageQuota": "10Gi", "mailboxQuota": "1Gi",
        "retention": {"deletedMembers": "1h"},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name}, "spec": spec})
}

/// A MailDomain manifest.
pub fn maildomain(namespace: &str, name: &str, domain: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "MailDomain",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {"domain": domain, "dmarcPolicy": "quarantine"},
    })
}

/// A Member manifest.
pub fn member(namespace: &str, name: &str, email: &str, extra: Value) -> Value {
    let mut spec = json!({"email": email, "displayName": name, "files": {"role": "editor"}});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "Member",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

/// The reason of condition `type_` of a status' conditions.
pub fn reason(conditions: Option<&Vec<dezky_crds::Condition>>, type_: &str) -> Option<String> {
    conditions
        .and_then(|c| condition(c, type_))
        .map(|(_, r, _)| r)
}

/// The status (`True`/`False`/`Unknown`) of condition `type_`.
pub fn status_of(conditions: Option<&Vec<dezky_crds::Condition>>, type_: &str) -> Option<String> {
    conditions
        .and_then(|c| condition(c, type_))
        .map(|(s, _, _)| s)
}

pub fn member_reason(m: &Member, type_: &str) -> Option<String> {
    reason(m.status.as_ref().map(|s| &s.conditions), type_)
}

pub fn member_ready(m: &Member) -> bool {
    m.status.as_ref().is_some_and(|s| {
        s.observed_generation == m.metadata.generation
            && status_of(Some(&s.conditions), "Ready").as_deref() == Some("True")
    })
}

pub fn domain_condition(d: &MailDomain, type_: &str) -> Option<String> {
    status_of(d.status.as_ref().map(|s| &s.conditions), type_)
}

/// Applies a Tenant and waits until its namespace and groups exist (the Tenant controller's part).
pub async fn tenant_ready(h: &Harness, name: &str, seats: i32, extra: Value) -> String {
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(&tenants, name, tenant(name, seats, extra)).await;
    let t = h
        .wait_for(&tenants, name, WAIT, |t| {
            t.status.as_ref().is_some_and(|s| {
                s.identity
                    .as_ref()
                    .and_then(|i| i.group_pk.as_ref())
                    .is_some()
                    && status_of(Some(&s.conditions), "IdentityReady").as_deref() == Some("True")
            })
        })
        .await;
    let namespace = t
        .status
        .and_then(|s| s.namespace)
        .unwrap_or_else(|| format!("tenant-{name}"));
    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    h.wait_for(&namespaces, &namespace, WAIT, |_| true).await;
    namespace
}

/// Publishes DNS records through the simulators' control API.
pub async fn publish(h: &Harness, records: Value) {
    let control = &h.sims.info.simulator_control;
    reqwest::Client::new()
        .put(format!(
            "{}/control/v1/dns/records",
            control.url.trim_end_matches('/')
        ))
        .bearer_auth(&control.token)
        .json(&records)
        .send()
        .await
        .expect("control API answers")
        .error_for_status()
        .expect("records published");
}

/// Asks for an immediate DNS re-check with a new `dezky.io/recheck` value.
pub async fn recheck(h: &Harness, namespace: &str, name: &str, value: &str) {
    let api: Api<MailDomain> = Api::namespaced(h.client.clone(), namespace);
    let patch = json!({
        "apiVersion": "dezky.io/v1alpha1", "kind": "MailDomain",
        "metadata": {"name": name, "annotations": {"dezky.io/recheck": value}},
    });
    api.patch(
        name,
        &kube::api::PatchParams::apply("test-recheck").force(),
        &kube::api::Patch::Apply(&patch),
    )
    .await
    .expect("recheck annotation");
}

/// Creates a MailDomain, publishes the ownership record its status asks for, and waits until
/// ownership verified and the mail server has the domain.
pub async fn verified_domain(h: &Harness, namespace: &str, name: &str, domain: &str) -> MailDomain {
    let api: Api<MailDomain> = Api::namespaced(h.client.clone(), namespace);
    // the customer's zone exists before any record of ours
    publish(
        h,
        json!({"name": format!("www.{domain}"), "type": "A", "value": "127.0.0.1"}),
    )
    .await;
    h.apply(&api, name, maildomain(namespace, name, domain, json!({})))
        .await;
    let d = h
        .wait_for(&api, name, WAIT, |d| {
            d.status.as_ref().is_some_and(|s| !s.dns_records.is_empty())
        })
        .await;
    let ownership = d.status.expect("status").dns_records[0].clone();
    assert_eq!(ownership.name, format!("_dezky-verification.{domain}."));
    publish(
        h,
        json!({"name": ownership.name, "type": "TXT", "value": ownership.value}),
    )
    .await;
    recheck(h, namespace, name, "1").await;
    h.wait_for(&api, name, WAIT, |d| {
        domain_condition(d, "MailServerReady").as_deref() == Some("True")
    })
    .await
}

/// The one-time password in a member's credentials Secret.
pub async fn password_of(h: &Harness, namespace: &str, member: &str) -> String {
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), namespace);
    let secret = h
        .wait_for(
            &secrets,
            &format!("member-{member}-credentials"),
            WAIT,
            |_| true,
        )
        .await;
    let data = secret.data.expect("secret data");
    String::from_utf8(data["password"].0.clone()).expect("utf-8 password")
}

/// Logs in through the Authentik simulator's login flow; true when the password was accepted.
pub async fn authentik_login(h: &Harness, username: &str, password: &str) -> bool {
    let url = format!(
        "{}/if/flow/default-authentication-flow/",
        h.sims.info.upstreams.authentik.url.trim_end_matches('/')
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let response = client
        .post(url)
        .form(&[
            ("username", username),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("authentik answers");
    response.status().is_redirection() && response.headers().contains_key("set-cookie")
}

/// The Authentik user with this username, from the simulator's state dump.
pub async fn authentik_user(h: &Harness, username: &str) -> Option<Value> {
    let dump = h.dump("authentik").await;
    dump["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["username"] == username).cloned())
}

/// Sessions of a user, from the simulator's state dump.
pub async fn sessions_of(h: &Harness, user_pk: i64) -> usize {
    let dump = h.dump("authentik").await;
    dump["sessions"].as_array().map_or(0, |s| {
        s.iter()
            .filter(|s| s["user"].as_i64() == Some(user_pk))
            .count()
    })
}

/// A tenant `acme` with the verified domain `acme.test` and a provisioned member; returns the
/// namespace and the member's one-time password.
pub async fn provisioned_member(h: &Harness, name: &str, seats: i32) -> (String, String) {
    let ns = tenant_ready(h, "acme", seats, json!({})).await;
    verified_domain(h, &ns, "acme", "acme.test").await;
    let members: Api<Member> = Api::namespaced(h.client.clone(), &ns);
    h.apply(
        &members,
        name,
        member(&ns, name, &format!("{name}@acme.test"), json!({})),
    )
    .await;
    h.wait_for(&members, name, WAIT, member_ready).await;
    let password = password_of(h, &ns, name).await;
    (ns, password)
}

/// Waits until the member's status reflects its current generation and `check` holds.
pub async fn member_where(
    h: &Harness,
    ns: &str,
    name: &str,
    check: impl Fn(&Member) -> bool,
) -> Member {
    let members: Api<Member> = Api::namespaced(h.client.clone(), ns);
    h.wait_for(&members, name, WAIT, |m| {
        m.status
            .as_ref()
            .is_some_and(|s| s.observed_generation == m.metadata.generation)
            && check(m)
    })
    .await
}

/// Upstream writes counted by the simulators' control API: requests other than GET/HEAD, except
/// Stalwart's JMAP endpoint where reads are POSTs too (its state is compared instead, see
/// [`stalwart_state`]). Returns the count and the (upstream, method, path) entries counted.
pub async fn upstream_writes(h: &Harness) -> (u64, Vec<String>) {
    let control = &h.sims.info.simulator_control;
    let body: Value = reqwest::Client::new()
        .get(format!(
            "{}/control/v1/requests",
            control.url.trim_end_matches('/')
        ))
        .bearer_auth(&control.token)
        .send()
        .await
        .expect("control API answers")
        .json()
        .await
        .expect("requests JSON");
    let mut count = 0;
    let mut seen = Vec::new();
    for r in body["requests"].as_array().cloned().unwrap_or_default() {
        let method = r["method"].as_str().unwrap_or("");
        let path = r["path"].as_str().unwrap_or("");
        let jmap = r["upstream"] == "stalwart" && path.contains("jmap");
        if !matches!(method, "GET" | "HEAD") && !jmap {
            count += r["count"].as_u64().unwrap_or(0);
            seen.push(format!("{} {method} {path} x{}", r["upstream"], r["count"]));
        }
    }
    (count, seen)
}

/// The mail server's whole state, to prove an idle pass changed nothing there.
pub async fn stalwart_state(h: &Harness) -> String {
    h.dump("stalwart").await.to_string()
}

/// A Member manifest with annotations.
pub fn member_annotated(
    namespace: &str,
    name: &str,
    email: &str,
    extra: Value,
    annotations: Value,
) -> Value {
    let mut manifest = member(namespace, name, email, extra);
    manifest["metadata"]["annotations"] = annotations;
    manifest
}

/// Creates an Authentik user directly in the simulator, as an administrator would by hand.
pub async fn create_user_by_hand(h: &Harness, username: &str, attributes: Value) -> i64 {
    let up = &h.sims.info.upstreams.authentik;
    let user: Value = reqwest::Client::new()
        .post(format!("{}/api/v3/core/users/", up.url.trim_end_matches('/')))
        .bearer_auth(&up.token)
        .json(&json!({"username": username, "name": "By Hand", "email": username, "path": "users", "attributes": attributes}))
        .send()
        .await
        .expect("authentik answers")
        .error_for_status()
        .expect("user created")
        .json()
        .await
        .expect("user JSON");
    user["pk"].as_i64().expect("pk")
}

/// Test-side reads that do not belong to the shared harness.
pub trait HarnessExt {
    /// Whether a Secret exists in `namespace`.
    fn secret_exists(&self, namespace: &str, name: &str)
    -> impl std::future::Future<Output = bool>;
}

impl HarnessExt for Harness {
    async fn secret_exists(&self, namespace: &str, name: &str) -> bool {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        secrets.get_opt(name).await.expect("read secret").is_some()
    }
}
