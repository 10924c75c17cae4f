//! The namespace a Tenant or Partner owns by label (`dezky.io/tenant` / `dezky.io/partner`):
//! observed, created when missing, adopted when it carries the label, never owned through an
//! ownerReference (deleting the Tenant never cascades into it).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

use super::context::Context;
use super::error::ReconcileError;

/// What exists under the namespace's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceObs {
    /// No such namespace.
    Missing,
    /// It carries our label with our name: ours.
    Ours,
    /// It exists without the label.
    Unlabelled,
    /// It carries the label naming someone else.
    Foreign(String),
    /// It is being deleted.
    Terminating,
}

/// How a label names the owner.
#[derive(Debug, Clone, Copy)]
pub struct OwnerLabel<'a> {
    /// `dezky.io/tenant` or `dezky.io/partner`.
    pub key: &'a str,
    /// The Tenant's or Partner's name.
    pub value: &'a str,
}

/// Reads the namespace `name` and classifies it against `owner`.
pub async fn observe(
    ctx: &Context,
    name: &str,
    owner: OwnerLabel<'_>,
) -> Result<NamespaceObs, ReconcileError> {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let found = api
        .get_opt(name)
        .await
        .map_err(|source| ReconcileError::Kube {
            action: "read a namespace",
            source,
        })?;
    Ok(classify(found.as_ref(), owner))
}

/// Classifies a namespace (pure).
pub fn classify(found: Option<&Namespace>, owner: OwnerLabel<'_>) -> NamespaceObs {
    let Some(ns) = found else {
        return NamespaceObs::Missing;
    };
    if ns.metadata.deletion_timestamp.is_some() {
        return NamespaceObs::Terminating;
    }
    match ns
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(owner.key))
    {
        Some(value) if value == owner.value => NamespaceObs::Ours,
        Some(value) => NamespaceObs::Foreign(value.clone()),
        None => NamespaceObs::Unlabelled,
    }
}

/// Creates the namespace with the owner label (no ownerReference).
pub async fn create(
    ctx: &Context,
    name: &str,
    owner: OwnerLabel<'_>,
) -> Result<(), ReconcileError> {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(owner.key.into(), owner.value.into())])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        // Created concurrently: the next pass classifies what is there.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(ReconcileError::Kube {
            action: "create a namespace",
            source,
        }),
    }
}

/// Adopts an unlabelled namespace by adding the owner label (a merge patch of that one label).
pub async fn adopt(
    ctx: &Context,
    name: &str,
    owner: OwnerLabel<'_>,
    manager: &str,
) -> Result<(), ReconcileError> {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let patch = serde_json::json!({"metadata": {"labels": {owner.key: owner.value}}});
    api.patch(name, &PatchParams::apply(manager), &Patch::Merge(&patch))
        .await
        .map_err(|source| ReconcileError::Kube {
            action: "label a namespace",
            source,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(labels: &[(&str, &str)], deleting: bool) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some("tenant-acme".into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                deletion_timestamp: deleting.then_some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                    ),
                ),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    #[test]
    fn classifies_by_the_owner_label() {
        let owner = OwnerLabel {
            key: "dezky.io/tenant",
            value: "acme",
        };
        assert_eq!(classify(None, owner), NamespaceObs::Missing);
        assert_eq!(
            classify(Some(&ns(&[("dezky.io/tenant", "acme")], false)), owner),
            NamespaceObs::Ours
        );
        assert_eq!(
            classify(Some(&ns(&[("dezky.io/tenant", "evil")], false)), owner),
            NamespaceObs::Foreign("evil".into())
        );
        assert_eq!(
            classify(Some(&ns(&[("team", "x")], false)), owner),
            NamespaceObs::Unlabelled
        );
        assert_eq!(
            classify(Some(&ns(&[("dezky.io/tenant", "acme")], true)), owner),
            NamespaceObs::Terminating
        );
    }
}
