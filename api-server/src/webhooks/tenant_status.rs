//! The webhook's Kubernetes side: finds the tenant of a billing update (by `status.billing.customerId`,
//! else the `dezky_tenant` metadata hint of a tenant that has no customer yet), writes its next
//! `status.billing` through the status subresource (field manager `dezky-api`, the tenant's
//! resourceVersion as a precondition, retried on a conflict) only when it changes, and records a
//! Kubernetes Event on the tenant, which is part of its audit trail.

use dezky_crds::Tenant;
use dezky_crds::tenant::TenantBilling;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::{ApplyError, ApplyOutcome, BillingEventKind, BillingUpdate, next_billing_status};
use crate::cache::Cache;
use crate::writes::{self, Audit, FIELD_MANAGER};

/// Who the audit trail names for webhook writes.
pub const ACTOR: &str = "Stripe (webhook)";
/// How often a write is retried when the tenant changed under it.
const ATTEMPTS: usize = 4;

fn billing_of(t: &Tenant) -> Option<&TenantBilling> {
    t.status.as_ref().and_then(|s| s.billing.as_ref())
}

/// The tenant an update is about, among `tenants`.
fn tenant_for<'a>(
    tenants: impl Iterator<Item = &'a Tenant> + Clone,
    update: &BillingUpdate,
) -> Option<String> {
    let by_customer = tenants.clone().find(|t| {
        billing_of(t).and_then(|b| b.customer_id.as_deref()) == Some(update.customer_id.as_str())
    });
    if let Some(t) = by_customer {
        return Some(t.name_any());
    }
    let hint = update.tenant.as_deref()?;
    tenants
        .into_iter()
        .find(|t| {
            t.name_any() == hint && billing_of(t).and_then(|b| b.customer_id.as_ref()).is_none()
        })
        .map(|t| t.name_any())
}

fn what_happened(kind: &BillingEventKind) -> &'static str {
    match kind {
        BillingEventKind::InvoicePaid => "an invoice was paid",
        BillingEventKind::InvoicePaymentFailed => "an invoice payment failed",
        BillingEventKind::SubscriptionUpdated { .. } => "the subscription was updated",
        BillingEventKind::SubscriptionDeleted => "the subscription was deleted",
    }
}

/// Applies one update to tenant status; see the module documentation.
pub async fn apply(
    client: Client,
    cache: Cache,
    update: BillingUpdate,
) -> Result<ApplyOutcome, ApplyError> {
    let api: Api<Tenant> = Api::all(client.clone());
    let cached = cache.tenants.state();
    let name = match tenant_for(cached.iter().map(|t| t.as_ref()), &update) {
        Some(name) => Some(name),
        // the cache may not have seen the operator's latest status yet: ask the API server
        None => {
            let list = api
                .list(&ListParams::default())
                .await
                .map_err(|e| ApplyError::Lookup(e.to_string()))?;
            tenant_for(list.items.iter(), &update)
        }
    };
    let Some(name) = name else {
        return Ok(ApplyOutcome::UnknownTenant);
    };
    for _ in 0..ATTEMPTS {
        let Some(tenant) = api
            .get_opt(&name)
            .await
            .map_err(|e| ApplyError::Lookup(e.to_string()))?
        else {
            return Ok(ApplyOutcome::UnknownTenant);
        };
        let current = billing_of(&tenant).cloned();
        let Some(next) = next_billing_status(current.as_ref(), &update) else {
            return Ok(ApplyOutcome::Unchanged { tenant: name });
        };
        let patch = json!({
            "metadata": {"resourceVersion": tenant.resource_version()},
            "status": {"billing": next},
        });
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        match api
            .patch_status(&name, &params, &Patch::Merge(&patch))
            .await
        {
            Ok(written) => {
                let was = current
                    .and_then(|b| b.subscription_status)
                    .unwrap_or_else(|| "unknown".into());
                let now = next
                    .subscription_status
                    .clone()
                    .unwrap_or_else(|| "unknown".into());
                let message = format!(
                    "Stripe reported that {} (event {}): subscription status {was} → {now}",
                    what_happened(&update.kind),
                    update.event_id
                );
                writes::record(
                    &client,
                    &written,
                    &Audit {
                        actor: ACTOR,
                        reason: "BillingStatusChanged",
                        message,
                        tenant: Some(&name),
                        partner: None,
                    },
                )
                .await;
                return Ok(ApplyOutcome::Applied { tenant: name });
            }
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => {
                return Err(ApplyError::Write {
                    tenant: name,
                    reason: e.to_string(),
                });
            }
        }
    }
    Err(ApplyError::Write {
        tenant: name,
        reason: "the tenant kept changing while its billing status was written".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dezky_crds::tenant::TenantStatus;

    fn tenant(name: &str, customer: Option<&str>) -> Tenant {
        let mut t: Tenant = serde_json::from_value(json!({
            "apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
            "spec": {"displayName": name, "plan": "business", "seats": 1,
                     "storageQuota": "1Gi", "mailboxQuota": "1Gi"}}))
        .expect("a tenant");
        t.status = Some(TenantStatus {
            billing: customer.map(|c| TenantBilling {
                customer_id: Some(c.into()),
                ..TenantBilling::default()
            }),
            ..TenantStatus::default()
        });
        t
    }

    fn update(customer: &str, hint: Option<&str>) -> BillingUpdate {
        BillingUpdate {
            event_id: "evt_1".into(),
            created: 1,
            kind: BillingEventKind::SubscriptionDeleted,
            customer_id: customer.into(),
            subscription_id: None,
            tenant: hint.map(str::to_owned),
        }
    }

    #[test]
    fn the_customer_id_decides_and_a_hint_only_names_a_tenant_without_one() {
        let tenants = [
            tenant("acme", Some("cus_a")),
            tenant("globex", Some("cus_g")),
            tenant("initech", None),
        ];
        let find = |u: &BillingUpdate| tenant_for(tenants.iter(), u);
        assert_eq!(
            find(&update("cus_g", Some("acme"))).as_deref(),
            Some("globex")
        );
        // a hint never points an event at a tenant that has another customer
        assert_eq!(find(&update("cus_x", Some("acme"))), None);
        assert_eq!(
            find(&update("cus_x", Some("initech"))).as_deref(),
            Some("initech")
        );
        assert_eq!(find(&update("cus_x", None)), None);
    }
}
