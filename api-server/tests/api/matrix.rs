//! Cross-tenant and cross-partner attempts: each is refused with 403 problem+json and makes no
//! write at all (the devcluster's write counter does not move).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Env;
use crate::fixtures::{People, has, seed};

fn member_body(email: &str) -> Value {
    json!({"spec": {"email": email, "displayName": "X", "role": "member"}})
}

fn tenant_body(name: &str) -> Value {
    json!({"name": name, "spec": {"displayName": "New", "plan": "starter", "seats": 5, "storageQuota": "10Gi", "mailboxQuota": "1Gi"}})
}

fn attempts(p: &People) -> Vec<(&'static str, &str, Method, String, Option<Value>)> {
    let t = |s: &str| s.to_string();
    vec![
        // a tenant admin against another tenant
        (
            "ann→globex members",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/globex/members"),
            None,
        ),
        (
            "ann→globex create member",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/members"),
            Some(member_body("x@globex.test")),
        ),
        (
            "ann→globex suspend member",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/members/gil/suspend"),
            None,
        ),
        (
            "ann→globex reset password",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/members/gil/reset-password"),
            None,
        ),
        (
            "ann→globex credentials",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/globex/members/gil/credentials"),
            None,
        ),
        (
            "ann→globex remove member",
            &p.ann,
            Method::DELETE,
            t("/api/v1/tenants/globex/members/gil"),
            None,
        ),
        (
            "ann→globex add domain",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/domains"),
            Some(json!({"spec": {"domain": "globex.test"}})),
        ),
        (
            "ann→globex create app",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/ssoapps"),
            Some(
                json!({"name": "wiki", "spec": {"displayName": "Wiki", "redirectUris": ["https://wiki.globex.test/cb"]}}),
            ),
        ),
        (
            "ann→globex tenant",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/globex"),
            None,
        ),
        (
            "ann→globex audit",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/globex/audit"),
            None,
        ),
        (
            "ann→globex mfa",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/globex/mfa"),
            None,
        ),
        (
            "ann→globex stream",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/globex/stream"),
            None,
        ),
        (
            "ann→missing tenant",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/nope/members"),
            None,
        ),
        // a tenant admin against console routes, even on its own tenant
        (
            "ann→list tenants",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants"),
            None,
        ),
        (
            "ann→create tenant",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants"),
            Some(tenant_body("evil")),
        ),
        (
            "ann→edit own tenant",
            &p.ann,
            Method::PATCH,
            t("/api/v1/tenants/acme"),
            Some(json!({"seats": 1000})),
        ),
        (
            "ann→suspend own tenant",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/acme/suspend"),
            None,
        ),
        (
            "ann→partners",
            &p.ann,
            Method::GET,
            t("/api/v1/partners"),
            None,
        ),
        (
            "ann→overview",
            &p.ann,
            Method::GET,
            t("/api/v1/overview"),
            None,
        ),
        (
            "ann→partner customers",
            &p.ann,
            Method::GET,
            t("/api/v1/partners/northwind/customers"),
            None,
        ),
        // a plain member against admin routes and other members
        (
            "joe→members",
            &p.joe,
            Method::GET,
            t("/api/v1/tenants/acme/members"),
            None,
        ),
        (
            "joe→create member",
            &p.joe,
            Method::POST,
            t("/api/v1/tenants/acme/members"),
            Some(member_body("y@acme.test")),
        ),
        (
            "joe→suspend ann",
            &p.joe,
            Method::POST,
            t("/api/v1/tenants/acme/members/ann/suspend"),
            None,
        ),
        (
            "joe→other tenant self-service",
            &p.joe,
            Method::POST,
            t("/api/v1/me/globex/reset-password"),
            None,
        ),
        // a suspended admin
        (
            "sue→members",
            &p.sue,
            Method::GET,
            t("/api/v1/tenants/acme/members"),
            None,
        ),
        (
            "sue→own reset",
            &p.sue,
            Method::POST,
            t("/api/v1/me/acme/reset-password"),
            None,
        ),
        // partner staff against another partner and its customers
        (
            "pat→southwind customers",
            &p.pat,
            Method::GET,
            t("/api/v1/partners/southwind/customers"),
            None,
        ),
        (
            "pat→create southwind customer",
            &p.pat,
            Method::POST,
            t("/api/v1/partners/southwind/customers"),
            Some(tenant_body("stolen")),
        ),
        (
            "pat→suspend globex via own partner",
            &p.pat,
            Method::POST,
            t("/api/v1/partners/northwind/customers/globex/suspend"),
            None,
        ),
        (
            "pat→suspend initech via own partner",
            &p.pat,
            Method::POST,
            t("/api/v1/partners/northwind/customers/initech/suspend"),
            None,
        ),
        (
            "pat→read globex via own partner",
            &p.pat,
            Method::GET,
            t("/api/v1/partners/northwind/customers/globex"),
            None,
        ),
        (
            "pat→southwind staff",
            &p.pat,
            Method::GET,
            t("/api/v1/partners/southwind/staff"),
            None,
        ),
        (
            "pat→globex tenant",
            &p.pat,
            Method::GET,
            t("/api/v1/tenants/globex"),
            None,
        ),
        (
            "pat→acme members (staff are not tenant admins)",
            &p.pat,
            Method::GET,
            t("/api/v1/tenants/acme/members"),
            None,
        ),
        (
            "pat→edit acme",
            &p.pat,
            Method::PATCH,
            t("/api/v1/tenants/acme"),
            Some(json!({"seats": 1})),
        ),
        (
            "pat→attach globex",
            &p.pat,
            Method::PUT,
            t("/api/v1/partners/northwind/tenants/globex"),
            None,
        ),
        (
            "pat→edit own partner",
            &p.pat,
            Method::PATCH,
            t("/api/v1/partners/northwind"),
            Some(json!({"marginPercent": 99})),
        ),
        (
            "sam→northwind customers",
            &p.sam,
            Method::GET,
            t("/api/v1/partners/northwind/customers"),
            None,
        ),
        (
            "sam→resume acme via own partner",
            &p.sam,
            Method::POST,
            t("/api/v1/partners/southwind/customers/acme/resume"),
            None,
        ),
        // a console token without platform-admins, and an admin with a portal token
        (
            "eve→tenants",
            &p.eve,
            Method::GET,
            t("/api/v1/tenants"),
            None,
        ),
        (
            "eve→create tenant",
            &p.eve,
            Method::POST,
            t("/api/v1/tenants"),
            Some(tenant_body("eve")),
        ),
        (
            "eve→overview",
            &p.eve,
            Method::GET,
            t("/api/v1/overview"),
            None,
        ),
        (
            "eve→acme members",
            &p.eve,
            Method::GET,
            t("/api/v1/tenants/acme/members"),
            None,
        ),
        (
            "op portal→tenants",
            &p.op_portal,
            Method::GET,
            t("/api/v1/tenants"),
            None,
        ),
        (
            "op portal→suspend acme",
            &p.op_portal,
            Method::POST,
            t("/api/v1/tenants/acme/suspend"),
            None,
        ),
        (
            "gil→acme via me",
            &p.gil,
            Method::GET,
            t("/api/v1/me/acme/credentials"),
            None,
        ),
        (
            "pat→create southwind staff",
            &p.pat,
            Method::POST,
            t("/api/v1/partners/southwind/staff"),
            Some(member_body("x@southwind.test")),
        ),
        (
            "pat→southwind staff credentials",
            &p.pat,
            Method::GET,
            t("/api/v1/partners/southwind/staff/sam/credentials"),
            None,
        ),
        (
            "ann→create northwind staff",
            &p.ann,
            Method::POST,
            t("/api/v1/partners/northwind/staff"),
            Some(member_body("x@northwind.test")),
        ),
        (
            "joe→create northwind staff",
            &p.joe,
            Method::POST,
            t("/api/v1/partners/northwind/staff"),
            Some(member_body("x@northwind.test")),
        ),
        (
            "gil→northwind staff credentials",
            &p.gil,
            Method::GET,
            t("/api/v1/partners/northwind/staff/pat/credentials"),
            None,
        ),
        (
            "op portal→create northwind staff",
            &p.op_portal,
            Method::POST,
            t("/api/v1/partners/northwind/staff"),
            Some(member_body("x@northwind.test")),
        ),
        (
            "ann→globex sign member out",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/members/gil/logout"),
            None,
        ),
        (
            "ann→globex removed members",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/globex/removed-members"),
            None,
        ),
        (
            "ann→globex restore member",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/removed-members/gil/restore"),
            None,
        ),
        (
            "ann→globex domain recheck",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/domains/globex-test/recheck"),
            None,
        ),
        (
            "ann→globex domain dmarc",
            &p.ann,
            Method::PUT,
            t("/api/v1/tenants/globex/domains/globex-test/dmarc"),
            Some(json!({"policy": "none"})),
        ),
        (
            "ann→globex domain primary",
            &p.ann,
            Method::POST,
            t("/api/v1/tenants/globex/domains/globex-test/primary"),
            None,
        ),
        (
            "ann→globex remove domain",
            &p.ann,
            Method::DELETE,
            t("/api/v1/tenants/globex/domains/globex-test"),
            None,
        ),
        (
            "ann→globex app credentials",
            &p.ann,
            Method::GET,
            t("/api/v1/tenants/globex/ssoapps/wiki/credentials"),
            None,
        ),
        (
            "ann→globex delete app",
            &p.ann,
            Method::DELETE,
            t("/api/v1/tenants/globex/ssoapps/wiki"),
            None,
        ),
        (
            "pat→acme domains (staff are not tenant admins)",
            &p.pat,
            Method::GET,
            t("/api/v1/tenants/acme/domains"),
            None,
        ),
        (
            "joe→own tenant apps",
            &p.joe,
            Method::GET,
            t("/api/v1/tenants/acme/ssoapps"),
            None,
        ),
        (
            "sam→northwind team",
            &p.sam,
            Method::GET,
            t("/api/v1/partners/northwind/staff"),
            None,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_outside_its_scope_is_refused_and_writes_nothing() {
    let env = Env::start().await;
    let people = seed(&env).await;
    let mut failures = Vec::new();
    for (what, token, method, path, body) in attempts(&people) {
        let before = env.write_requests();
        let (status, ct, problem) = env.call(method.clone(), &path, Some(token), body).await;
        let after = env.write_requests();
        if status != 403 || ct != "application/problem+json" || problem["status"] != 403 {
            failures.push(format!(
                "{what}: {method} {path} answered {status} {ct} {problem}"
            ));
        }
        if after != before {
            failures.push(format!("{what}: {} write(s) happened", after - before));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // nothing of globex leaked into a refusal
    let (_, _, body) = env
        .call(
            Method::GET,
            "/api/v1/tenants/globex/members",
            Some(&people.ann),
            None,
        )
        .await;
    assert!(!body.to_string().contains("gil@globex.test"), "{body}");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_removed_from_the_group_loses_access_with_a_valid_token() {
    let env = Env::start().await;
    let op = env.operator("ops@dezky.test").await;
    assert_eq!(env.get("/api/v1/overview", &op).await.0, 200);
    env.remove_admin("ops@dezky.test").await;
    // groupsTtlSeconds is 1 in the tests (60 by default)
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, body) = env.get("/api/v1/overview", &op).await;
    assert_eq!(status, 403, "{body}");
    let (status, me) = env.get("/api/v1/me", &op).await;
    assert_eq!(status, 200);
    assert_eq!(me["roles"]["operator"], false);
    assert!(!has(&me["roles"], "tenantAdmin", "acme"));
    env.shutdown().await;
}
