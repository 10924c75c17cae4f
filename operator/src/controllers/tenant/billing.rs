//! The Tenant controller's billing part (only when billing is enabled in the configuration):
//! the tenant's Stripe customer and per-seat subscription observed by marker, planned with
//! `stripe::converge::plan_billing` (pure), applied one step at a time with an Event each, and
//! reported as `BillingReady` and `status.billing`.
//!
//! Billing never blocks the other parts: its failure is its own condition, and the pass then
//! backs off (transient) or stalls (a missing price, a refusal, a customer without a card).

use dezky_crds::Tenant;
use dezky_crds::condition::{reasons, types};
use dezky_crds::tenant::TenantBilling;
use kube::ResourceExt;
use kube::runtime::events::EventType;

use crate::conditions::Verdict;
use crate::runtime::{Context, ReconcileError};
use crate::upstream::stripe::converge::{
    self, BillingStep, DesiredBilling, ObservedBilling, plan_billing, plan_name,
};
use crate::upstream::stripe::{BillingError, StripeClient, plan_price};

/// What one billing pass found and did.
#[derive(Debug)]
pub(super) struct BillingPass {
    /// `BillingReady`.
    pub verdict: Verdict,
    /// The new `status.billing` (`None`: keep what status holds).
    pub status: Option<TenantBilling>,
    /// `Stalled`, for a failure retrying cannot fix.
    pub stalled: Option<Verdict>,
    /// The failure to hand to the requeue policy once status is written.
    pub failure: Option<ReconcileError>,
}

impl BillingPass {
    /// A Stripe failure as the pass reports it: `BillingReady` False with the error's reason,
    /// `Stalled` when retrying cannot help, and [`ReconcileError::Billing`] for the requeue policy
    /// (counted by its category, backing off per tenant no sooner than Stripe's `Retry-After`).
    /// An unpriced plan is a configuration problem, not Stripe's: [`ReconcileError::Invalid`].
    fn failed(error: BillingError, status: Option<TenantBilling>) -> BillingPass {
        let typed = ReconcileError::Billing(error);
        let verdict = typed.verdict(types::BILLING_READY);
        let stalled = typed.stalled();
        let failure = match typed {
            ReconcileError::Billing(BillingError::PlanNotPriced { .. }) => {
                ReconcileError::Invalid(verdict.message.clone())
            }
            other => other,
        };
        BillingPass {
            verdict,
            status,
            stalled,
            failure: Some(failure),
        }
    }
}

fn status_of(state: &ObservedBilling) -> Option<TenantBilling> {
    let customer = state.customer.as_ref()?;
    Some(TenantBilling {
        customer_id: Some(customer.id.clone()),
        subscription_id: state.subscription.as_ref().map(|s| s.id.clone()),
        subscription_status: state.subscription.as_ref().map(|s| s.status.clone()),
    })
}

/// The billing the tenant's spec asks for, with the price from the plan catalogue.
pub(super) fn desired_billing(
    ctx: &Context,
    tenant: &Tenant,
) -> Result<DesiredBilling, BillingError> {
    let spec = &tenant.spec;
    let price = plan_price(&ctx.config.plans, plan_name(spec.plan))?;
    let mut desired = DesiredBilling::for_tenant(
        &tenant.name_any(),
        &spec.display_name,
        spec.billing.as_ref(),
        price,
        spec.seats,
        spec.suspended,
    );
    let trial_days = ctx
        .config
        .upstreams
        .stripe
        .as_ref()
        .map_or(0, |s| s.trial_days);
    desired.subscription.trial_days = (trial_days > 0).then_some(trial_days);
    Ok(desired)
}

fn event_reason(step: BillingStep) -> &'static str {
    match step {
        BillingStep::CreateCustomer => "CustomerCreated",
        BillingStep::UpdateCustomer => "CustomerUpdated",
        BillingStep::CreateSubscription => "SubscriptionCreated",
        BillingStep::UpdateSubscription => "SubscriptionUpdated",
        BillingStep::PauseCollection => "CollectionPaused",
        BillingStep::ResumeCollection => "CollectionResumed",
    }
}

fn event_note(step: BillingStep, desired: &DesiredBilling, state: &ObservedBilling) -> String {
    let customer = state.customer.as_ref().map_or("-", |c| c.id.as_str());
    let subscription = state.subscription.as_ref().map_or("-", |s| s.id.as_str());
    let seats = desired.subscription.quantity;
    let price = &desired.subscription.price_id;
    match step {
        BillingStep::CreateCustomer => format!("Stripe customer {customer} ready"),
        BillingStep::UpdateCustomer => format!("updated Stripe customer {customer}"),
        BillingStep::CreateSubscription => {
            format!("Stripe subscription {subscription} ready: {seats} seats on {price}")
        }
        BillingStep::UpdateSubscription => {
            format!("Stripe subscription {subscription} changed to {seats} seats on {price}")
        }
        BillingStep::PauseCollection => {
            format!("paused the collection of Stripe subscription {subscription}")
        }
        BillingStep::ResumeCollection => {
            format!("resumed the collection of Stripe subscription {subscription}")
        }
    }
}

fn ok_verdict(desired: &DesiredBilling, state: &ObservedBilling) -> Verdict {
    let customer = state.customer.as_ref().map_or("-", |c| c.id.as_str());
    let (subscription, status) = state
        .subscription
        .as_ref()
        .map_or(("-", "-"), |s| (s.id.as_str(), s.status.as_str()));
    let seats = desired.subscription.quantity;
    let price = &desired.subscription.price_id;
    if desired.suspended {
        return Verdict {
            reason: reasons::SUSPENDED.into(),
            ..Verdict::ok(
                types::BILLING_READY,
                format!(
                    "the tenant is suspended: collection of subscription {subscription} ({seats} seats on {price}) is paused"
                ),
            )
        };
    }
    Verdict::ok(
        types::BILLING_READY,
        format!(
            "customer {customer} is billed for {seats} seats on {price} (subscription {subscription}, {status})"
        ),
    )
}

/// One billing pass over `tenant`; `None` when billing is off (then there is no `BillingReady`).
pub(super) async fn reconcile_billing(ctx: &Context, tenant: &Tenant) -> Option<BillingPass> {
    let client = ctx.billing.as_ref()?;
    Some(billing_pass(ctx, client, tenant).await)
}

async fn billing_pass(ctx: &Context, client: &StripeClient, tenant: &Tenant) -> BillingPass {
    let desired = match desired_billing(ctx, tenant) {
        Ok(desired) => desired,
        Err(error) => return BillingPass::failed(error, None),
    };
    let marker = ctx.marker(tenant);
    let known = tenant.status.as_ref().and_then(|s| s.billing.as_ref());
    let mut state = match converge::observe(client, &marker, known).await {
        Ok(state) => state,
        Err(error) => return BillingPass::failed(error, None),
    };
    let steps = plan_billing(
        &desired,
        state.customer.as_ref(),
        state.subscription.as_ref(),
    );
    if Context::is_paused(tenant) && !steps.is_empty() {
        let would: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
        return BillingPass {
            verdict: Verdict::failed(
                types::BILLING_READY,
                reasons::PAUSED,
                format!("paused: would have the {}", would.join(", ")),
            ),
            status: status_of(&state),
            stalled: None,
            failure: None,
        };
    }
    for step in steps {
        if let Err(error) = converge::apply_step(client, &marker, &desired, &mut state, step).await
        {
            return BillingPass::failed(error, status_of(&state));
        }
        ctx.event(
            tenant,
            EventType::Normal,
            event_reason(step),
            if matches!(
                step,
                BillingStep::CreateCustomer | BillingStep::CreateSubscription
            ) {
                "Create"
            } else {
                "Update"
            },
            event_note(step, &desired, &state),
        )
        .await;
    }
    BillingPass {
        verdict: ok_verdict(&desired, &state),
        status: status_of(&state),
        stalled: None,
        failure: None,
    }
}

/// Deletion with `deletionPolicy: Delete`: the subscription is cancelled and the customer deleted
/// (each through the deletion breaker), with an Event each. Billing off: nothing.
pub(super) async fn release_billing(ctx: &Context, tenant: &Tenant) -> Result<(), ReconcileError> {
    let Some(client) = ctx.billing.as_ref() else {
        return Ok(());
    };
    let marker = ctx.marker(tenant);
    let known = tenant.status.as_ref().and_then(|s| s.billing.as_ref());
    let observed = converge::observe(client, &marker, known).await?;
    if observed.customer.is_none() {
        return Ok(());
    }
    ctx.allow_upstream_delete().await?;
    let released = converge::release(client, &marker, known).await?;
    for id in &released.cancelled {
        ctx.event(
            tenant,
            EventType::Normal,
            "SubscriptionCanceled",
            "Delete",
            format!("cancelled Stripe subscription {id}"),
        )
        .await;
    }
    if let Some(id) = &released.deleted_customer {
        ctx.event(
            tenant,
            EventType::Normal,
            "CustomerDeleted",
            "Delete",
            format!("deleted Stripe customer {id}"),
        )
        .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::upstream::http::UpstreamError;

    #[test]
    fn failures_name_their_reason_and_stall_only_when_retrying_cannot_help() {
        let priced = BillingPass::failed(
            BillingError::PlanNotPriced {
                plan: "business".into(),
            },
            None,
        );
        assert_eq!(priced.verdict.reason, reasons::PLAN_NOT_PRICED);
        assert!(
            priced
                .verdict
                .message
                .contains("plans.business.stripePriceId"),
            "{}",
            priced.verdict.message
        );
        assert!(priced.stalled.is_some());
        let Some(ReconcileError::Invalid(message)) = &priced.failure else {
            panic!(
                "an unpriced plan is a configuration problem: {:?}",
                priced.failure
            );
        };
        assert!(message.starts_with("stripe: "), "{message}");

        let down = BillingPass::failed(
            BillingError::Upstream(UpstreamError::Unavailable {
                upstream: "stripe",
                operation: "customer.list",
                reason: "connection refused".into(),
            }),
            None,
        );
        assert_eq!(down.verdict.reason, "UpstreamUnavailable");
        assert!(down.verdict.message.starts_with("stripe: "));
        assert!(down.stalled.is_none());
        let failure = down.failure.expect("a failure for the requeue policy");
        assert!(matches!(failure, ReconcileError::Billing(_)), "{failure:?}");
        assert_eq!(failure.category(), "unavailable");
        assert!(!failure.is_permanent());

        let limited = BillingPass::failed(
            BillingError::Upstream(UpstreamError::RateLimited {
                upstream: "stripe",
                operation: "subscription.update",
                retry_after: Some(Duration::from_secs(9)),
            }),
            None,
        );
        assert_eq!(limited.verdict.reason, "UpstreamRateLimited");
        assert!(limited.stalled.is_none());
        let failure = limited.failure.expect("a failure for the requeue policy");
        assert_eq!(failure.category(), "rate_limited");
        assert_eq!(failure.retry_after(), Some(Duration::from_secs(9)));

        let card = BillingPass::failed(
            BillingError::PaymentRequired {
                customer: "cus_1".into(),
            },
            None,
        );
        assert_eq!(card.verdict.reason, reasons::PAYMENT_REQUIRED);
        assert_eq!(
            card.stalled.as_ref().map(|v| v.reason.as_str()),
            Some(reasons::PAYMENT_REQUIRED)
        );
        let failure = card.failure.expect("a failure for the requeue policy");
        assert!(matches!(failure, ReconcileError::Billing(_)), "{failure:?}");
        assert!(failure.is_permanent());
    }
}
