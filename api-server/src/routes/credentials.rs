//! One-time credentials: a member's password or an SSO app's client secret, read from the
//! Secret the operator wrote and shown exactly once per content (a fingerprint annotation marks
//! the Secret as shown; a new password or secret can be shown once again).

use std::collections::BTreeMap;

use dezky_crds::Member;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::{ApiError, ApiResult};
use crate::writes::{self, Audit, FIELD_MANAGER};

/// Set on a credentials Secret once its content was shown: the fingerprint of what was shown.
pub const SHOWN: &str = "dezky.io/credentials-shown";

/// The fingerprint of a Secret's shown values (not reversible to them).
fn fingerprint(values: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in values {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads `keys` of a Secret and marks it shown, exactly once per content: a second read of the
/// same content is 410 Gone. The mark is a server-side apply with the read resourceVersion as a
/// precondition, so two concurrent readers cannot both get it.
pub async fn reveal_once(
    state: &AppState,
    ns: &str,
    secret: &str,
    keys: &[&str],
) -> ApiResult<BTreeMap<String, String>> {
    let api: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    let s = api
        .get_opt(secret)
        .await
        .map_err(|e| ApiError::from_kube("read the credentials", e))?
        .ok_or_else(|| {
            ApiError::NotReady("the credentials are not written yet; try again shortly".into())
        })?;
    let data = s.data.clone().unwrap_or_default();
    let mut values = BTreeMap::new();
    for key in keys {
        let v = data
            .get(*key)
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .or_else(|| s.string_data.as_ref().and_then(|d| d.get(*key).cloned()));
        if let Some(v) = v {
            values.insert((*key).to_owned(), v);
        }
    }
    if values.is_empty() {
        return Err(ApiError::NotReady(
            "the credentials are not written yet; try again shortly".into(),
        ));
    }
    let fp = fingerprint(&values);
    if s.annotations().get(SHOWN) == Some(&fp) {
        return Err(ApiError::Gone(
            "these credentials were already shown once and are never shown again; issue new ones"
                .into(),
        ));
    }
    let mark = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret, "namespace": ns, "resourceVersion": s.resource_version(), "annotations": {SHOWN: fp}},
    });
    match api
        .patch(
            secret,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&mark),
        )
        .await
    {
        Ok(_) => Ok(values),
        Err(kube::Error::Api(status)) if status.code == 409 => Err(ApiError::Gone(
            "these credentials were just shown to someone else".into(),
        )),
        Err(e) => Err(ApiError::from_kube("mark the credentials as shown", e)),
    }
}

/// Where a member belongs, for the audit trail of showing its password.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Tenant(&'a str),
    Partner(&'a str),
}

/// Whether the member's latest password request (`credentialsRotation`) has been acted on, so
/// the Secret holds the password it asked for (not an earlier one).
pub fn rotation_observed(m: &Member) -> bool {
    match &m.spec.credentials_rotation {
        None => true,
        Some(wanted) => {
            m.status
                .as_ref()
                .and_then(|s| s.observed_credentials_rotation.as_ref())
                == Some(wanted)
        }
    }
}

/// The one-time password of a member, shown once. While a new password is requested but not
/// yet issued, 409: the Secret still holds the previous one, which must not be shown instead.
pub async fn member_password_once(
    state: &AppState,
    scope: Scope<'_>,
    m: &Member,
    actor: &str,
) -> ApiResult<Value> {
    let ns = m.namespace().unwrap_or_default();
    let not_yet =
        || ApiError::NotReady("the one-time password is not issued yet; try again shortly".into());
    let secret = m
        .status
        .as_ref()
        .and_then(|s| s.credentials_secret_ref.as_ref())
        .ok_or_else(not_yet)?;
    if !rotation_observed(m) {
        return Err(not_yet());
    }
    let values = reveal_once(state, &ns, &secret.name, &["password", "username"]).await?;
    let (tenant, partner) = match scope {
        Scope::Tenant(t) => (Some(t), None),
        Scope::Partner(p) => (None, Some(p)),
    };
    writes::record(
        &state.client,
        m,
        &Audit {
            actor,
            reason: "CredentialsShown",
            message: format!(
                "the one-time password of member {} was shown to {actor}",
                m.name_any()
            ),
            tenant,
            partner,
        },
    )
    .await;
    Ok(json!({
        "username": values.get("username").cloned().unwrap_or_else(|| m.spec.email.clone()),
        "password": values.get("password"),
        "notice": "This password is shown once and never again.",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_changes_with_the_content() {
        let a = BTreeMap::from([("password".to_string(), "a".to_string())]);
        let b = BTreeMap::from([("password".to_string(), "b".to_string())]);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 24);
    }

    #[test]
    fn a_requested_password_waits_for_the_operator() {
        let mut m: Member = serde_json::from_value(json!({
            "metadata": {"name": "kim", "namespace": "tenant-acme"},
            "spec": {"email": "kim@acme.test", "displayName": "Kim"}}))
        .expect("member");
        assert!(rotation_observed(&m));
        m.spec.credentials_rotation = Some("2".into());
        assert!(!rotation_observed(&m));
        m.status = serde_json::from_value(json!({"observedCredentialsRotation": "1"})).ok();
        assert!(!rotation_observed(&m));
        m.status = serde_json::from_value(json!({"observedCredentialsRotation": "2"})).ok();
        assert!(rotation_observed(&m));
    }
}
