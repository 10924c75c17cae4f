//! A platform with two partners, three tenants and people in every role, seeded as kubectl and
//! the operator would leave it.

use serde_json::Value;

use crate::common::Env;

/// Tokens of people in every role.
pub struct People {
    /// Platform operator (console token, in platform-admins).
    pub op: String,
    /// Console token of someone not in platform-admins.
    pub eve: String,
    /// Portal token of a platform admin (the portal never makes an operator).
    pub op_portal: String,
    /// Admin of tenant acme (sold by northwind).
    pub ann: String,
    /// Plain member of acme.
    pub joe: String,
    /// Suspended admin of acme.
    pub sue: String,
    /// Admin of tenant globex (sold by southwind).
    pub gil: String,
    /// Staff of partner northwind.
    pub pat: String,
    /// Staff of partner southwind.
    pub sam: String,
}

pub async fn seed(env: &Env) -> People {
    env.partner("northwind").await;
    env.partner("southwind").await;
    env.tenant("acme", Some("northwind")).await;
    env.tenant("globex", Some("southwind")).await;
    env.tenant("initech", None).await;
    env.member("tenant-acme", "ann", "ann@acme.test", "admin")
        .await;
    env.member("tenant-acme", "joe", "joe@acme.test", "member")
        .await;
    env.member("tenant-acme", "sue", "sue@acme.test", "admin")
        .await;
    env.apply(serde_json::json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Member",
        "metadata": {"name": "sue", "namespace": "tenant-acme"},
        "spec": {"email": "sue@acme.test", "displayName": "sue", "role": "admin", "suspended": true}})).await;
    env.member("tenant-globex", "gil", "gil@globex.test", "admin")
        .await;
    env.member("partner-northwind", "pat", "pat@northwind.test", "member")
        .await;
    env.member("partner-southwind", "sam", "sam@southwind.test", "member")
        .await;
    let op_pw = env.user("op@dezky.test", &[crate::common::ADMINS]).await;
    let people = People {
        op: env.token(true, "op@dezky.test", &op_pw).await,
        op_portal: env.token(false, "op@dezky.test", &op_pw).await,
        eve: {
            let pw = env.user("eve@dezky.test", &[]).await;
            env.token(true, "eve@dezky.test", &pw).await
        },
        ann: env.portal("ann@acme.test").await,
        joe: env.portal("joe@acme.test").await,
        sue: env.portal("sue@acme.test").await,
        gil: env.portal("gil@globex.test").await,
        pat: env.portal("pat@northwind.test").await,
        sam: env.portal("sam@southwind.test").await,
    };
    // the API's cache has seen everything once these roles show
    env.wait_roles(&people.gil, |r| has(r, "tenantAdmin", "globex"))
        .await;
    env.wait_roles(&people.sam, |r| has(r, "partnerStaff", "southwind"))
        .await;
    env.wait_roles(&people.joe, |r| {
        r["member"].as_array().is_some_and(|m| !m.is_empty())
    })
    .await;
    env.wait_roles(&people.ann, |r| has(r, "tenantAdmin", "acme"))
        .await;
    env.wait_roles(&people.pat, |r| has(r, "partnerStaff", "northwind"))
        .await;
    people
}

pub fn has(roles: &Value, role: &str, name: &str) -> bool {
    roles[role]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == name))
}
