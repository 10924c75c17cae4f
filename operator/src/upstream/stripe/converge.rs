//! One tenant's billing brought to its spec: the pure plan of steps and the function that applies
//! them, for the Tenant controller (`BillingReady`, `status.billing`) and for deletion.

use dezky_crds::tenant::{BillingDetails, Plan, TenantBilling};

use super::{
    BillingClient, BillingError, CancelMode, Customer, CustomerSpec, Subscription, SubscriptionSpec,
};
use crate::upstream::marker::Marker;

/// What a tenant's billing should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredBilling {
    pub customer: CustomerSpec,
    pub subscription: SubscriptionSpec,
    /// Collection paused while the tenant is suspended.
    pub suspended: bool,
}

/// The plan's catalogue name (`starter`, `business`, `enterprise`).
pub fn plan_name(plan: Plan) -> &'static str {
    match plan {
        Plan::Starter => "starter",
        Plan::Business => "business",
        Plan::Enterprise => "enterprise",
    }
}

impl DesiredBilling {
    /// The billing a tenant's spec asks for: the customer named after the billing company (else
    /// the display name), the plan's price per seat from the catalogue, quantity = seats.
    pub fn for_tenant(
        name: &str,
        display_name: &str,
        billing: Option<&BillingDetails>,
        price_id: &str,
        seats: i32,
        suspended: bool,
    ) -> DesiredBilling {
        DesiredBilling {
            customer: CustomerSpec {
                name: billing
                    .and_then(|b| b.company.clone())
                    .unwrap_or_else(|| display_name.to_owned()),
                email: billing.map(|b| b.email.clone()),
                country: billing.and_then(|b| b.country.clone()),
                description: format!("Dezky tenant {name}"),
            },
            subscription: SubscriptionSpec {
                price_id: price_id.to_owned(),
                quantity: u64::try_from(seats.max(1)).unwrap_or(1),
                trial_days: None,
            },
            suspended,
        }
    }
}

/// One step toward the desired billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingStep {
    CreateCustomer,
    UpdateCustomer,
    CreateSubscription,
    /// Plan or seat change.
    UpdateSubscription,
    PauseCollection,
    ResumeCollection,
}

impl BillingStep {
    /// A short label for events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateCustomer => "customer created",
            Self::UpdateCustomer => "customer updated",
            Self::CreateSubscription => "subscription created",
            Self::UpdateSubscription => "subscription changed",
            Self::PauseCollection => "collection paused",
            Self::ResumeCollection => "collection resumed",
        }
    }
}

fn customer_differs(current: &Customer, want: &CustomerSpec) -> bool {
    let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    current.name.as_deref() != Some(want.name.as_str())
        || current.description.as_deref() != Some(want.description.as_str())
        || current.email != some(&want.email)
        || current.country != some(&want.country)
}

/// The steps from what was observed to what is desired (pure). A subscription is planned only
/// on a customer, so a missing customer plans its creation and the subscription's.
pub fn plan_billing(
    desired: &DesiredBilling,
    customer: Option<&Customer>,
    subscription: Option<&Subscription>,
) -> Vec<BillingStep> {
    let mut steps = Vec::new();
    match customer {
        None => steps.push(BillingStep::CreateCustomer),
        Some(c) if customer_differs(c, &desired.customer) => {
            steps.push(BillingStep::UpdateCustomer)
        }
        Some(_) => {}
    }
    let paused = match subscription.filter(|s| !s.is_ended()) {
        None => {
            steps.push(BillingStep::CreateSubscription);
            false
        }
        Some(s) => {
            let want = &desired.subscription;
            if s.price_id.as_deref() != Some(want.price_id.as_str()) || s.quantity != want.quantity
            {
                steps.push(BillingStep::UpdateSubscription);
            }
            s.paused
        }
    };
    match (paused, desired.suspended) {
        (false, true) => steps.push(BillingStep::PauseCollection),
        (true, false) => steps.push(BillingStep::ResumeCollection),
        _ => {}
    }
    steps
}

/// What converging did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingOutcome {
    pub customer: Customer,
    pub subscription: Subscription,
    /// The steps taken (empty on a steady state: no write was made).
    pub steps: Vec<BillingStep>,
}

impl BillingOutcome {
    /// The tenant's `status.billing`.
    pub fn status(&self) -> TenantBilling {
        TenantBilling {
            customer_id: Some(self.customer.id.clone()),
            subscription_id: Some(self.subscription.id.clone()),
            subscription_status: Some(self.subscription.status.clone()),
        }
    }
}

/// Observes the tenant's customer and subscription (by the ids in `known`, else by marker) and
/// takes the planned steps. A steady state makes reads only.
pub async fn converge<C: BillingClient + Sync>(
    client: &C,
    marker: &Marker,
    known: Option<&TenantBilling>,
    desired: &DesiredBilling,
) -> Result<BillingOutcome, BillingError> {
    let mut customer = match known.and_then(|k| k.customer_id.as_deref()) {
        Some(id) => match client.get_customer(id).await? {
            // an id in status that now carries someone else's marker is not trusted
            Some(c) if c.marker.as_deref() == Some(marker.key().as_str()) => Some(c),
            _ => client.find_customer(marker).await?,
        },
        None => client.find_customer(marker).await?,
    };
    let mut subscription = match &customer {
        Some(c) => client.find_subscription(&c.id, marker).await?,
        None => None,
    };
    let steps = plan_billing(desired, customer.as_ref(), subscription.as_ref());
    for step in &steps {
        match step {
            BillingStep::CreateCustomer => {
                customer = Some(client.create_customer(&desired.customer, marker).await?);
            }
            BillingStep::UpdateCustomer => {
                if let Some(c) = &customer {
                    customer = Some(client.update_customer(c, &desired.customer).await?.0);
                }
            }
            BillingStep::CreateSubscription => {
                let c = customer.as_ref().ok_or(BillingError::Protocol {
                    operation: "subscription.create",
                    missing: "a customer",
                })?;
                subscription = Some(
                    client
                        .create_subscription(&c.id, &desired.subscription, marker)
                        .await?,
                );
            }
            BillingStep::UpdateSubscription => {
                if let Some(s) = &subscription {
                    subscription = Some(
                        client
                            .update_subscription(s, &desired.subscription)
                            .await?
                            .0,
                    );
                }
            }
            BillingStep::PauseCollection | BillingStep::ResumeCollection => {
                if let Some(s) = &subscription {
                    let paused = *step == BillingStep::PauseCollection;
                    subscription = Some(client.set_collection_paused(s, paused).await?.0);
                }
            }
        }
    }
    match (customer, subscription) {
        (Some(customer), Some(subscription)) => Ok(BillingOutcome {
            customer,
            subscription,
            steps,
        }),
        _ => Err(BillingError::Protocol {
            operation: "billing.converge",
            missing: "a customer and a subscription",
        }),
    }
}

/// Deletion with `deletionPolicy: Delete`: the subscription ends now (no final invoice); the
/// customer is kept, since Stripe keeps invoices and payments with it. Gone is success.
/// (With `Orphan` nothing is called.)
pub async fn release<C: BillingClient + Sync>(
    client: &C,
    marker: &Marker,
    known: Option<&TenantBilling>,
) -> Result<(), BillingError> {
    if let Some(id) = known.and_then(|k| k.subscription_id.as_deref()) {
        client
            .cancel_subscription(id, CancelMode::Immediately)
            .await?;
    }
    let customer = match known.and_then(|k| k.customer_id.as_deref()) {
        Some(id) => client.get_customer(id).await?,
        None => client.find_customer(marker).await?,
    };
    if let Some(c) = customer
        && let Some(s) = client.find_subscription(&c.id, marker).await?
    {
        client
            .cancel_subscription(&s.id, CancelMode::Immediately)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(seats: i32, suspended: bool) -> DesiredBilling {
        let billing = BillingDetails {
            email: "billing@acme.test".into(),
            company: Some("Acme GmbH".into()),
            country: Some("DE".into()),
            vat_id: None,
        };
        DesiredBilling::for_tenant(
            "acme",
            "Acme",
            Some(&billing),
            "price_business",
            seats,
            suspended,
        )
    }

    fn customer() -> Customer {
        Customer {
            id: "cus_1".into(),
            name: Some("Acme GmbH".into()),
            email: Some("billing@acme.test".into()),
            country: Some("DE".into()),
            description: Some("Dezky tenant acme".into()),
            marker: Some("m".into()),
            uid: None,
            default_payment_method: None,
        }
    }

    fn subscription(quantity: u64, paused: bool, status: &str) -> Subscription {
        Subscription {
            id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status: status.into(),
            item_id: Some("si_1".into()),
            price_id: Some("price_business".into()),
            quantity,
            paused,
            cancel_at_period_end: false,
            marker: Some("m".into()),
        }
    }

    #[test]
    fn the_spec_maps_to_customer_and_seats() {
        let d = desired(25, false);
        assert_eq!(d.customer.name, "Acme GmbH");
        assert_eq!(d.subscription.quantity, 25);
        let plain = DesiredBilling::for_tenant("acme", "Acme Corp", None, "p", 3, false);
        assert_eq!(
            (
                plain.customer.name.as_str(),
                plain.customer.email.as_deref()
            ),
            ("Acme Corp", None)
        );
        assert_eq!(plan_name(Plan::Business), "business");
    }

    #[test]
    fn plans_only_what_differs() {
        use BillingStep::*;
        assert_eq!(
            plan_billing(&desired(5, false), None, None),
            vec![CreateCustomer, CreateSubscription]
        );
        assert_eq!(
            plan_billing(&desired(5, true), None, None),
            vec![CreateCustomer, CreateSubscription, PauseCollection]
        );
        let c = customer();
        let s = subscription(5, false, "active");
        assert_eq!(plan_billing(&desired(5, false), Some(&c), Some(&s)), vec![]);
        assert_eq!(
            plan_billing(&desired(7, false), Some(&c), Some(&s)),
            vec![UpdateSubscription]
        );
        assert_eq!(
            plan_billing(&desired(5, true), Some(&c), Some(&s)),
            vec![PauseCollection]
        );
        let paused = subscription(5, true, "active");
        assert_eq!(
            plan_billing(&desired(5, true), Some(&c), Some(&paused)),
            vec![]
        );
        assert_eq!(
            plan_billing(&desired(5, false), Some(&c), Some(&paused)),
            vec![ResumeCollection]
        );
        let renamed = Customer {
            name: Some("Old".into()),
            ..c.clone()
        };
        assert_eq!(
            plan_billing(&desired(5, false), Some(&renamed), Some(&s)),
            vec![UpdateCustomer]
        );
        let ended = subscription(5, false, "canceled");
        assert_eq!(
            plan_billing(&desired(5, false), Some(&c), Some(&ended)),
            vec![CreateSubscription]
        );
    }
}
