//! The billing upstream: Stripe customers, per-seat subscriptions, invoices and payment methods.
//!
//! [`BillingClient`] is the crossplane-style contract the Tenant controller and the api-server use;
//! [`StripeClient`] implements it over the shared HTTP layer ([`UpstreamHttp`]) in Stripe's
//! form-encoded wire format.
//!
//! Why not async-stripe: its 1.x releases (1.0.0-rc.10 at the time of writing) decode responses
//! into strictly generated types whose fields Stripe always sends (a subscription's
//! `automatic_tax`, `billing_mode`, `invoice_settings`, `discounts`, ...). localstripe, the fake
//! Stripe our tests must run against, omits those fields, so every subscription answer fails to
//! decode; it also needs parameters localstripe refuses. The client therefore speaks the wire
//! format itself, with lenient types ([`wire`]), and keeps the few localstripe differences in
//! [`Dialect`].
//!
//! Ownership: a customer and its subscription carry our marker in their metadata
//! (`dezky_marker` = [`Marker::key`], `dezky_uid`, `dezky_tenant`). Stripe customers have no
//! unique natural key (an e-mail address may repeat), so there is no "unmarked clash": what
//! carries our marker is adopted, everything else is never touched. Every create carries an
//! `Idempotency-Key` derived from the marker and the request, so a retried create after a crash
//! returns the first result instead of a duplicate (Stripe keeps keys for 24 hours); within that
//! window, and beyond it, the marker lookup before each create finds what exists.

mod catalogue;
mod client;
pub mod converge;
mod dialect;
mod idempotency;
mod wire;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

pub use catalogue::dev_catalogue;
pub use client::StripeClient;
pub use dialect::{CataloguePrice, Dialect};

use crate::config::PlanConfig;
use crate::upstream::http::{ErrorCategory, Secret, UpstreamError};
use crate::upstream::marker::Marker;

/// Metadata key holding the marker key.
pub const METADATA_MARKER: &str = "dezky_marker";
/// Metadata key holding the object's UID (for humans; ownership is the marker alone).
pub const METADATA_UID: &str = "dezky_uid";
/// Metadata key holding the tenant's name, so webhook events can be routed without a lookup.
pub const METADATA_TENANT: &str = "dezky_tenant";

/// What a tenant's customer should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSpec {
    /// The name on invoices: the billing company, else the tenant's display name.
    pub name: String,
    /// Where invoices go.
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2 country of the billing address.
    pub country: Option<String>,
    /// A description for people browsing the Stripe dashboard.
    pub description: String,
}

/// A customer as Stripe holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// `cus_...`
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub country: Option<String>,
    pub description: Option<String>,
    /// The marker key in its metadata, if any.
    pub marker: Option<String>,
    /// The UID recorded beside the marker.
    pub uid: Option<String>,
    /// The default payment method (`pm_...`) invoices are charged to.
    pub default_payment_method: Option<String>,
}

/// What a tenant's subscription should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    /// The catalogue's price id (or plan id) billed per seat.
    pub price_id: String,
    /// The number of seats.
    pub quantity: u64,
    /// Days of free trial on creation (no first invoice, no card needed yet).
    pub trial_days: Option<u32>,
}

/// A subscription as Stripe holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `sub_...`
    pub id: String,
    pub customer_id: String,
    /// Stripe's status: `trialing`, `active`, `past_due`, `incomplete`, `canceled`, ...
    pub status: String,
    /// The one item we manage (`si_...`).
    pub item_id: Option<String>,
    /// The price (or plan) of that item.
    pub price_id: Option<String>,
    /// The seats billed.
    pub quantity: u64,
    /// Collection is paused (invoices voided) while the tenant is suspended.
    pub paused: bool,
    /// Set to end at the period's end.
    pub cancel_at_period_end: bool,
    /// The marker key in its metadata, if any.
    pub marker: Option<String>,
}

impl Subscription {
    /// A subscription that has ended and can never bill again.
    pub fn is_ended(&self) -> bool {
        matches!(self.status.as_str(), "canceled" | "incomplete_expired")
    }
}

/// How a subscription ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelMode {
    /// Now, without a final invoice.
    Immediately,
    /// At the end of the paid period.
    AtPeriodEnd,
}

/// One invoice, as shown in the portal and the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: String,
    pub number: Option<String>,
    /// `draft`, `open`, `paid`, `void`, `uncollectible`.
    pub status: Option<String>,
    pub currency: Option<String>,
    /// In the currency's smallest unit.
    pub amount_due: i64,
    pub amount_paid: i64,
    pub total: i64,
    /// Unix seconds.
    pub created: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub hosted_invoice_url: Option<String>,
    pub subscription_id: Option<String>,
}

/// A SetupIntent for collecting a payment method in the browser.
#[derive(Debug, Clone)]
pub struct SetupIntent {
    /// `seti_...`
    pub id: String,
    /// Handed to Stripe.js in the browser, and nowhere else (never logged).
    pub client_secret: Secret,
    pub status: String,
}

/// The default card, as much of it as may be shown: brand and last four digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
}

/// A failed billing operation.
#[derive(thiserror::Error, Debug)]
pub enum BillingError {
    /// The request failed (transport, rate limit, refusal).
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The tenant's plan has no Stripe price in the catalogue.
    #[error(
        "plan {plan:?} has no Stripe price: set plans.{plan}.stripePriceId in the configuration"
    )]
    PlanNotPriced { plan: String },
    /// Stripe could not charge the customer (no card, or the card was declined).
    #[error("Stripe could not charge customer {customer}: add a payment method")]
    PaymentRequired { customer: String },
    /// An answer lacked something it must carry.
    #[error("Stripe answered {operation} without {missing}")]
    Protocol {
        operation: &'static str,
        missing: &'static str,
    },
    /// A subscription carrying our marker has more than the one item we manage.
    #[error("subscription {subscription} has {items} items; Dezky manages exactly one")]
    UnexpectedItems { subscription: String, items: usize },
}

impl BillingError {
    /// The bounded category, for metrics, event reasons and requeue decisions.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Upstream(e) => e.category(),
            Self::PlanNotPriced { .. } | Self::PaymentRequired { .. } => ErrorCategory::Invalid,
            Self::UnexpectedItems { .. } => ErrorCategory::Conflict,
            Self::Protocol { .. } => ErrorCategory::Protocol,
        }
    }

    /// True when retrying cannot help until the spec, the configuration or the customer changes.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Upstream(e) => e.is_permanent(),
            Self::PlanNotPriced { .. }
            | Self::PaymentRequired { .. }
            | Self::UnexpectedItems { .. } => true,
            Self::Protocol { .. } => false,
        }
    }

    /// How long Stripe asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Upstream(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// A partner's earnings in one month and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarginLine {
    /// `YYYY-MM` (UTC) of the invoices' creation.
    pub month: String,
    pub currency: String,
    /// What the partner's customers paid, in the currency's smallest unit.
    pub paid: i64,
    /// The partner's cut: `paid * marginPercent / 100`, rounded down.
    pub margin: i64,
}

/// A partner's margin per month and currency over its customers' paid invoices (others are not
/// earned yet), oldest month first.
pub fn margin_by_month(invoices: &[Invoice], margin_percent: u8) -> Vec<MarginLine> {
    let mut sums: BTreeMap<(String, String), i64> = BTreeMap::new();
    for invoice in invoices
        .iter()
        .filter(|i| i.status.as_deref() == Some("paid"))
    {
        let Some(created) = chrono::DateTime::from_timestamp(invoice.created, 0) else {
            continue;
        };
        let month = created.format("%Y-%m").to_string();
        let currency = invoice.currency.clone().unwrap_or_default();
        *sums.entry((month, currency)).or_default() += invoice.amount_paid;
    }
    let percent = i128::from(margin_percent.min(100));
    sums.into_iter()
        .map(|((month, currency), paid)| MarginLine {
            month,
            currency,
            paid,
            margin: i64::try_from(i128::from(paid) * percent / 100).unwrap_or(i64::MAX),
        })
        .collect()
}

/// The price billed per seat for a plan, from the plan catalogue.
pub fn plan_price<'a>(
    plans: &'a BTreeMap<String, PlanConfig>,
    plan: &str,
) -> Result<&'a str, BillingError> {
    plans
        .get(plan)
        .and_then(|p| p.stripe_price_id.as_deref())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| BillingError::PlanNotPriced { plan: plan.into() })
}

/// The billing upstream, crossplane contract: lookups never change anything; creates adopt what
/// carries our marker; updates touch only managed fields and report whether they wrote; deleting
/// or cancelling what is gone is success.
pub trait BillingClient {
    /// Every customer carrying a Dezky marker (of any installation), page by page.
    fn list_customers(&self) -> impl Future<Output = Result<Vec<Customer>, BillingError>> + Send;
    /// A customer by id; `None` when it does not exist or was deleted.
    fn get_customer(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Customer>, BillingError>> + Send;
    /// The customer carrying this marker.
    fn find_customer(
        &self,
        marker: &Marker,
    ) -> impl Future<Output = Result<Option<Customer>, BillingError>> + Send;
    /// Adopts the customer carrying this marker, or creates it (with an idempotency key).
    fn create_customer(
        &self,
        spec: &CustomerSpec,
        marker: &Marker,
    ) -> impl Future<Output = Result<Customer, BillingError>> + Send;
    /// Brings name, e-mail, country and description to `spec`; returns the customer and whether
    /// anything was written.
    fn update_customer(
        &self,
        current: &Customer,
        spec: &CustomerSpec,
    ) -> impl Future<Output = Result<(Customer, bool), BillingError>> + Send;
    /// Deletes a customer (Stripe cancels its subscriptions); gone is success.
    fn delete_customer(&self, id: &str) -> impl Future<Output = Result<(), BillingError>> + Send;
    /// Every subscription of a customer, ended ones included.
    fn list_subscriptions(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Vec<Subscription>, BillingError>> + Send;
    /// The live (not ended) subscription of this customer carrying this marker.
    fn find_subscription(
        &self,
        customer_id: &str,
        marker: &Marker,
    ) -> impl Future<Output = Result<Option<Subscription>, BillingError>> + Send;
    /// Adopts the live subscription carrying this marker, or creates one on the spec's price with
    /// quantity = seats. A customer that cannot be charged yields [`BillingError::PaymentRequired`].
    fn create_subscription(
        &self,
        customer_id: &str,
        spec: &SubscriptionSpec,
        marker: &Marker,
    ) -> impl Future<Output = Result<Subscription, BillingError>> + Send;
    /// Brings price and quantity to `spec` (Stripe prorates); returns whether anything was written.
    fn update_subscription(
        &self,
        current: &Subscription,
        spec: &SubscriptionSpec,
    ) -> impl Future<Output = Result<(Subscription, bool), BillingError>> + Send;
    /// Pauses (`true`: invoices voided while suspended) or resumes collection; no write when it
    /// already is so.
    fn set_collection_paused(
        &self,
        current: &Subscription,
        paused: bool,
    ) -> impl Future<Output = Result<(Subscription, bool), BillingError>> + Send;
    /// Ends a subscription; gone or already ended is success.
    fn cancel_subscription(
        &self,
        id: &str,
        mode: CancelMode,
    ) -> impl Future<Output = Result<(), BillingError>> + Send;
    /// A customer's invoices, newest first, at most `limit` (1..=100).
    fn list_invoices(
        &self,
        customer_id: &str,
        limit: u8,
    ) -> impl Future<Output = Result<Vec<Invoice>, BillingError>> + Send;
    /// The newest invoices of every customer (the console's platform-wide view), at most `limit`
    /// (1..=100).
    fn list_recent_invoices(
        &self,
        limit: u8,
    ) -> impl Future<Output = Result<Vec<Invoice>, BillingError>> + Send;
    /// A SetupIntent for the portal to collect a card with Stripe.js.
    fn create_setup_intent(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<SetupIntent, BillingError>> + Send;
    /// Attaches a payment method to the customer and makes it the default for invoices.
    fn set_default_payment_method(
        &self,
        customer_id: &str,
        payment_method_id: &str,
    ) -> impl Future<Output = Result<(), BillingError>> + Send;
    /// The default card's brand and last four digits, if the customer has a default card.
    fn default_card(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Option<CardSummary>, BillingError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(created: i64, currency: &str, amount: i64, status: &str) -> Invoice {
        Invoice {
            id: format!("in_{created}"),
            number: None,
            status: Some(status.into()),
            currency: Some(currency.into()),
            amount_due: amount,
            amount_paid: if status == "paid" { amount } else { 0 },
            total: amount,
            created,
            period_start: None,
            period_end: None,
            hosted_invoice_url: None,
            subscription_id: None,
        }
    }

    #[test]
    fn margins_add_up_paid_invoices_per_month_and_currency() {
        // 2026-10-15, 2026-10-20, 2026-11-02 (UTC)
        let (oct15, oct20, nov2) = (1_792_022_400, 1_792_454_400, 1_793_577_600);
        let invoices = [
            paid(oct15, "eur", 6000, "paid"),
            paid(oct20, "eur", 2399, "paid"),
            paid(oct20, "usd", 1000, "paid"),
            paid(nov2, "eur", 6000, "open"),
            paid(nov2, "eur", 1200, "paid"),
        ];
        let lines = margin_by_month(&invoices, 20);
        let got: Vec<(&str, &str, i64, i64)> = lines
            .iter()
            .map(|l| (l.month.as_str(), l.currency.as_str(), l.paid, l.margin))
            .collect();
        assert_eq!(
            got,
            vec![
                ("2026-10", "eur", 8399, 1679),
                ("2026-10", "usd", 1000, 200),
                ("2026-11", "eur", 1200, 240),
            ]
        );
        assert!(margin_by_month(&invoices, 0).iter().all(|l| l.margin == 0));
    }

    #[test]
    fn plan_prices_come_from_the_catalogue() {
        let plan = |price: Option<&str>| PlanConfig {
            display_name: None,
            max_seats: None,
            storage_quota: None,
            mailbox_quota: None,
            stripe_price_id: price.map(str::to_owned),
        };
        let plans = BTreeMap::from([
            ("business".to_string(), plan(Some("price_123"))),
            ("starter".to_string(), plan(Some(""))),
            ("enterprise".to_string(), plan(None)),
        ]);
        assert_eq!(plan_price(&plans, "business").expect("priced"), "price_123");
        for unpriced in ["starter", "enterprise", "unknown"] {
            let err = plan_price(&plans, unpriced).expect_err("not priced");
            assert!(err.is_permanent());
            assert!(
                err.to_string()
                    .contains(&format!("plans.{unpriced}.stripePriceId")),
                "{err}"
            );
        }
    }
}
