//! Reads shared by the MailDomain, Member and SsoApp controllers: who owns a namespace (Tenant or
//! Partner, through the namespace's label), the verified MailDomains of a tenant, and Authentik
//! groups by name.

use std::collections::BTreeMap;

use dezky_crds::condition::types;
use dezky_crds::{ConditionStatus, LABEL_PARTNER, LABEL_TENANT, MailDomain, Partner, Tenant};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};

use crate::runtime::{Context, ReconcileError};

/// Who owns a namespace.
#[derive(Debug, Clone)]
pub enum Owner {
    /// No label, a label naming nothing, or no namespace.
    None,
    Tenant(Box<Tenant>),
    Partner(Box<Partner>),
}

fn kube(action: &'static str) -> impl FnOnce(kube::Error) -> ReconcileError {
    move |source| ReconcileError::Kube { action, source }
}

/// The Tenant (or Partner) that owns `namespace`, by its `dezky.io/tenant` (`dezky.io/partner`) label.
pub async fn owner(ctx: &Context, namespace: &str) -> Result<Owner, ReconcileError> {
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let Some(ns) = namespaces
        .get_opt(namespace)
        .await
        .map_err(kube("read the namespace"))?
    else {
        return Ok(Owner::None);
    };
    let labels = ns.metadata.labels.unwrap_or_default();
    if let Some(tenant) = labels.get(LABEL_TENANT) {
        let tenants: Api<Tenant> = Api::all(ctx.client.clone());
        return Ok(tenants
            .get_opt(tenant)
            .await
            .map_err(kube("read the tenant"))?
            .map_or(Owner::None, |t| Owner::Tenant(Box::new(t))));
    }
    if let Some(partner) = labels.get(LABEL_PARTNER) {
        let partners: Api<Partner> = Api::all(ctx.client.clone());
        return Ok(partners
            .get_opt(partner)
            .await
            .map_err(kube("read the partner"))?
            .map_or(Owner::None, |p| Owner::Partner(Box::new(p))));
    }
    Ok(Owner::None)
}

/// True when the MailDomain's ownership record has verified.
pub fn ownership_verified(domain: &MailDomain) -> bool {
    domain.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == types::OWNERSHIP_VERIFIED && c.status == ConditionStatus::True)
    })
}

/// A verified domain of a tenant: its mail-server id once it exists there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDomain {
    pub domain_id: Option<String>,
}

/// The verified MailDomains in `namespace`, by domain name (not being deleted).
pub async fn verified_domains(
    ctx: &Context,
    namespace: &str,
) -> Result<BTreeMap<String, VerifiedDomain>, ReconcileError> {
    let api: Api<MailDomain> = Api::namespaced(ctx.client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(kube("list the tenant's mail domains"))?;
    Ok(list
        .items
        .into_iter()
        .filter(|d| d.metadata.deletion_timestamp.is_none() && ownership_verified(d))
        .map(|d| {
            let domain_id = d
                .status
                .as_ref()
                .and_then(|s| s.mail.as_ref())
                .and_then(|m| m.domain_id.clone());
            (d.spec.domain.clone(), VerifiedDomain { domain_id })
        })
        .collect())
}

/// The pks of Authentik groups by exact name, from the identity client's group snapshot (no
/// live lookup per name); absent names are left out. The groups belong to the Tenant or Partner
/// controller; this only reads them.
pub async fn group_pks(
    ctx: &Context,
    names: &[String],
) -> Result<BTreeMap<String, String>, ReconcileError> {
    Ok(ctx.identity.group_pks_by_name(names).await?)
}
