//! The member's credentials Secret (`member-<name>-credentials`, owned by the Member): the
//! one-time password and the `credentialsRotation` value it was issued for. The password never
//! leaves this Secret and the upstreams; it is never logged.

use std::collections::BTreeMap;

use dezky_crds::Member;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use rand::Rng;

use super::plan::credentials_secret_name;
use crate::runtime::{Context, ReconcileError};
use crate::upstream::http::Secret;

/// Annotation on the Secret: the `spec.credentialsRotation` value the password was issued for.
pub const ANNOTATION_ROTATION: &str = "dezky.io/credentials-rotation";
/// Keys of the Secret.
pub const KEY_USERNAME: &str = "username";
pub const KEY_PASSWORD: &str = "password";

/// The rotation value as recorded (the empty string when the spec has none).
pub fn rotation_value(member: &Member) -> String {
    member.spec.credentials_rotation.clone().unwrap_or_default()
}

/// A new random password: 24 letters and digits (about 142 bits).
pub fn generate_password() -> Secret {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let password: String = (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    Secret::new(password)
}

/// What the credentials Secret holds now.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The rotation value the password was issued for.
    pub rotation: String,
    pub password: Secret,
}

/// Reads the member's credentials Secret, if it exists with a password.
pub async fn read(ctx: &Context, member: &Member) -> Result<Option<Issued>, ReconcileError> {
    let api: Api<KubeSecret> =
        Api::namespaced(ctx.client.clone(), &member.namespace().unwrap_or_default());
    let Some(secret) = api
        .get_opt(&credentials_secret_name(&member.name_any()))
        .await
        .map_err(|source| ReconcileError::Kube {
            action: "read the credentials Secret",
            source,
        })?
    else {
        return Ok(None);
    };
    let rotation = secret
        .annotations()
        .get(ANNOTATION_ROTATION)
        .cloned()
        .unwrap_or_default();
    let password = secret
        .data
        .as_ref()
        .and_then(|d| d.get(KEY_PASSWORD))
        .and_then(|b| String::from_utf8(b.0.clone()).ok());
    Ok(password.map(|p| Issued {
        rotation,
        password: Secret::new(p),
    }))
}

/// Writes the Secret (server-side apply, owned by the Member so it goes with it).
pub async fn write(
    ctx: &Context,
    manager: &str,
    member: &Member,
    password: &Secret,
) -> Result<(), ReconcileError> {
    let name = credentials_secret_name(&member.name_any());
    let api: Api<KubeSecret> =
        Api::namespaced(ctx.client.clone(), &member.namespace().unwrap_or_default());
    let owner = member.controller_owner_ref(&());
    let secret = KubeSecret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            annotations: Some(BTreeMap::from([(
                ANNOTATION_ROTATION.to_string(),
                rotation_value(member),
            )])),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "dezky-operator".to_string(),
            )])),
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (
                KEY_USERNAME.to_string(),
                ByteString(member.spec.email.clone().into_bytes()),
            ),
            (
                KEY_PASSWORD.to_string(),
                ByteString(password.expose().as_bytes().to_vec()),
            ),
        ])),
        ..KubeSecret::default()
    };
    let mut value = serde_json::to_value(&secret).map_err(|e| {
        ReconcileError::Invalid(format!("failed to encode the credentials Secret: {e}"))
    })?;
    value["apiVersion"] = serde_json::json!("v1");
    value["kind"] = serde_json::json!("Secret");
    api.patch(
        &name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(&value),
    )
    .await
    .map_err(|source| ReconcileError::Kube {
        action: "write the credentials Secret",
        source,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_and_never_print() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.expose().len(), 24);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(format!("{a:?} {a}"), "*** ***");
    }
}
