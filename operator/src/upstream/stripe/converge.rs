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

/// The tenant's customer and subscription as Stripe holds them (`None`: not there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedBilling {
    pub customer: Option<Customer>,
    /// The live subscription carrying our marker.
    pub subscription: Option<Subscription>,
}

/// Observes the tenant's customer and subscription (the customer by the id in `known` when it
/// still carries our marker, else by marker). Reads only.
pub async fn observe<C: BillingClient + Sync>(
    client: &C,
    marker: &Marker,
    known: Option<&TenantBilling>,
) -> Result<ObservedBilling, BillingError> {
    let customer = match known.and_then(|k| k.customer_id.as_deref()) {
        Some(id) => match client.get_customer(id).await? {
            // an id in status that now carries someone else's marker is not trusted
            Some(c) if c.marker.as_deref() == Some(marker.key().as_str()) => Some(c),
            _ => client.find_customer(marker).await?,
        },
        None => client.find_customer(marker).await?,
    };
    let subscription = match &customer {
        Some(c) => client.find_subscription(&c.id, marker).await?,
        None => None,
    };
    Ok(ObservedBilling {
        customer,
        subscription,
    })
}

/// Takes one planned step, updating `state` with what Stripe answered. Creates adopt what
/// carries our marker and send an idempotency key.
pub async fn apply_step<C: BillingClient + Sync>(
    client: &C,
    marker: &Marker,
    desired: &DesiredBilling,
    state: &mut ObservedBilling,
    step: BillingStep,
) -> Result<(), BillingError> {
    match step {
        BillingStep::CreateCustomer => {
            state.customer = Some(client.create_customer(&desired.customer, marker).await?);
        }
        BillingStep::UpdateCustomer => {
            if let Some(c) = &state.customer {
                state.customer = Some(client.update_customer(c, &desired.customer).await?.0);
            }
        }
        BillingStep::CreateSubscription => {
            let c = state.customer.as_ref().ok_or(BillingError::Protocol {
                operation: "subscription.create",
                missing: "a customer",
            })?;
            state.subscription = Some(
                client
                    .create_subscription(&c.id, &desired.subscription, marker)
                    .await?,
            );
        }
        BillingStep::UpdateSubscription => {
            if let Some(s) = &state.subscription {
                state.subscription = Some(
                    client
                        .update_subscription(s, &desired.subscription)
                        .await?
                        .0,
                );
            }
        }
        BillingStep::PauseCollection | BillingStep::ResumeCollection => {
            if let Some(s) = &state.subscription {
                let paused = step == BillingStep::PauseCollection;
                state.subscription = Some(client.set_collection_paused(s, paused).await?.0);
            }
        }
    }
    Ok(())
}

impl ObservedBilling {
    /// The outcome once every step is taken: both objects must exist by then.
    pub fn into_outcome(self, steps: Vec<BillingStep>) -> Result<BillingOutcome, BillingError> {
        match (self.customer, self.subscription) {
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
}

/// Observes the tenant's customer and subscription (by the ids in `known`, else by marker) and
/// takes the planned steps. A steady state makes reads only.
pub async fn converge<C: BillingClient + Sync>(
    client: &C,
    marker: &Marker,
    known: Option<&TenantBilling>,
    desired: &DesiredBilling,
) -> Result<BillingOutcome, BillingError> {
    let mut state = observe(client, marker, known).await?;
    let steps = plan_billing(
        desired,
        state.customer.as_ref(),
        state.subscription.as_ref(),
    );
    for step in &steps {
        apply_step(client, marker, desired, &mut state, *step).await?;
    }
    state.into_outcome(steps)
}

/// What deletion removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    /// Subscriptions cancelled (ids).
    pub cancelled: Vec<String>,
    /// The customer deleted (id).
    pub deleted_customer: Option<String>,
}

/// Deletion with `deletionPolicy: Delete`: the subscription ends now (no final invoice) and the
/// customer carrying our marker is deleted. Gone is success; a customer that carries anything
/// but our marker is never touched. (With `Orphan` nothing is called.)
pub async fn release<C: BillingClient + Sync>(
    client: &C,
    marker: &Marker,
    known: Option<&TenantBilling>,
) -> Result<Released, BillingError> {
    let mut released = Released::default();
    let observed = observe(client, marker, known).await?;
    let Some(customer) = observed.customer else {
        return Ok(released);
    };
    let key = marker.key();
    for s in client.list_subscriptions(&customer.id).await? {
        if !s.is_ended() && s.marker.as_deref() == Some(key.as_str()) {
            client
                .cancel_subscription(&s.id, CancelMode::Immediately)
                .await?;
            released.cancelled.push(s.id);
        }
    }
    client.delete_customer(&customer.id).await?;
    released.deleted_customer = Some(customer.id);
    Ok(released)
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
