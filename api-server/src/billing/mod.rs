//! Stripe reads for the portal, the console and the partner pages: a tenant's invoices, the
//! platform's invoices (paged), a SetupIntent to add a card, the default card as brand and last
//! four digits, and a partner's margin per month. The operator owns customers and subscriptions;
//! this module only reads them, and writes nothing but SetupIntents and the default payment method.
//!
//! [`StripeReader`] speaks Stripe's form-encoded wire format with `reqwest`; the few places where
//! localstripe (the fake the tests and `dezky dev` use) differs are answered by [`Dialect`].

mod client;
mod dialect;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;

pub use client::{StripeReader, is_id};
pub use dialect::Dialect;

use crate::webhooks::WebhookSecret;

/// A Stripe secret API key (`sk_...`); never shown in `Debug` output, errors or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(value: impl Into<String>) -> ApiKey {
        ApiKey(value.into())
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Billing settings of the api-server, present only when billing is switched on.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// Base URL of the Stripe API (`https://api.stripe.com`, or localstripe's).
    pub url: String,
    /// `stripe-api-key`.
    pub api_key: ApiKey,
    /// `stripe-webhook-secret`, the signing secret of the `/webhooks/stripe` endpoint.
    pub webhook_secret: WebhookSecret,
}

/// One invoice, as the portal, the console and the partner pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    /// `in_...`
    pub id: String,
    pub number: Option<String>,
    /// `draft`, `open`, `paid`, `void` or `uncollectible`.
    pub status: Option<String>,
    pub currency: Option<String>,
    /// In the currency's smallest unit (cents).
    pub amount_due: i64,
    pub amount_paid: i64,
    pub total: i64,
    /// Unix seconds.
    pub created: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub hosted_invoice_url: Option<String>,
    /// The tenant whose customer this is (filled in by the platform-wide listing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// One page of invoices, newest first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoicePage {
    pub items: Vec<Invoice>,
    /// Whether there are older invoices.
    pub has_more: bool,
    /// Pass as `startingAfter` to read the next page.
    pub next_cursor: Option<String>,
}

/// A SetupIntent: how far collecting a card has come.
#[derive(Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupIntent {
    /// `seti_...`
    pub id: String,
    /// `requires_payment_method`, `requires_action`, `succeeded`, `canceled`, ...
    pub status: String,
    /// The customer it collects a card for.
    #[serde(skip)]
    pub customer_id: Option<String>,
    /// The payment method it collected, once it did.
    #[serde(skip)]
    pub payment_method: Option<String>,
    /// Handed to Stripe.js in the browser once, in the answer that created the SetupIntent;
    /// never logged, never in `Debug` output, never in later answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl fmt::Debug for SetupIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetupIntent")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("customer_id", &self.customer_id)
            .finish_non_exhaustive()
    }
}

/// The default card, as much of it as may be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardSummary {
    /// `visa`, `mastercard`, ...
    pub brand: String,
    pub last4: String,
}

/// A partner's earnings in one month and currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarginLine {
    /// `YYYY-MM` (UTC) of the invoices' creation.
    pub period: String,
    pub currency: String,
    /// What the partner's customers paid, in the currency's smallest unit.
    pub paid: i64,
    /// The partner's cut: `paid * marginPercent / 100`, rounded down.
    pub margin: i64,
    /// How many paid invoices make up the line.
    pub invoices: usize,
}

/// A partner's margin per month and currency over its customers' paid invoices (invoices not paid
/// are not earned), oldest month first.
pub fn margin_by_period(invoices: &[Invoice], margin_percent: u8) -> Vec<MarginLine> {
    let mut sums: BTreeMap<(String, String), (i64, usize)> = BTreeMap::new();
    for invoice in invoices
        .iter()
        .filter(|i| i.status.as_deref() == Some("paid"))
    {
        let Some(created) = chrono::DateTime::from_timestamp(invoice.created, 0) else {
            continue;
        };
        let period = created.format("%Y-%m").to_string();
        let currency = invoice.currency.clone().unwrap_or_default();
        let entry = sums.entry((period, currency)).or_default();
        entry.0 += invoice.amount_paid;
        entry.1 += 1;
    }
    let percent = i128::from(margin_percent.min(100));
    sums.into_iter()
        .map(|((period, currency), (paid, count))| MarginLine {
            period,
            currency,
            paid,
            margin: i64::try_from(i128::from(paid) * percent / 100).unwrap_or(i64::MAX),
            invoices: count,
        })
        .collect()
}

/// A failed Stripe request. Messages name the operation and Stripe's own error message, never the
/// API key, a client secret or card data.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("failed to {operation}: Stripe could not be reached: {reason}")]
    Transport {
        operation: &'static str,
        reason: String,
    },
    #[error("failed to {operation}: Stripe answered {status}: {message}")]
    Refused {
        operation: &'static str,
        status: u16,
        message: String,
    },
    #[error("failed to {operation}: Stripe's answer lacked {missing}")]
    Protocol {
        operation: &'static str,
        missing: &'static str,
    },
    #[error("{0}")]
    Unsupported(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice(created: i64, currency: &str, amount: i64, status: &str) -> Invoice {
        Invoice {
            id: format!("in_{created}_{amount}"),
            number: None,
            status: Some(status.into()),
            currency: Some(currency.into()),
            amount_due: amount,
            amount_paid: if status == "paid" { amount } else { 0 },
            total: amount,
            created,
            period_start: None,
            period_end: None,
            customer_id: None,
            subscription_id: None,
            hosted_invoice_url: None,
            tenant: None,
        }
    }

    #[test]
    fn margins_add_up_paid_invoices_per_month_and_currency() {
        // 2026-10-15, 2026-10-20, 2026-11-02 (UTC), computed with `date -u -d ... +%s`
        let (oct15, oct20, nov2) = (1_792_022_400, 1_792_454_400, 1_793_577_600);
        let invoices = [
            invoice(oct15, "eur", 6000, "paid"),
            invoice(oct20, "eur", 2399, "paid"),
            invoice(oct20, "usd", 1000, "paid"),
            invoice(nov2, "eur", 6000, "open"),
            invoice(nov2, "eur", 1200, "paid"),
            invoice(nov2, "eur", 900, "void"),
        ];
        let got: Vec<(String, String, i64, i64, usize)> = margin_by_period(&invoices, 20)
            .into_iter()
            .map(|l| (l.period, l.currency, l.paid, l.margin, l.invoices))
            .collect();
        let want = [
            ("2026-10", "eur", 8399, 1679, 2),
            ("2026-10", "usd", 1000, 200, 1),
            ("2026-11", "eur", 1200, 240, 1),
        ];
        assert_eq!(
            got,
            want.map(|(p, c, paid, m, n)| (p.to_owned(), c.to_owned(), paid, m, n))
        );
        assert!(margin_by_period(&invoices, 0).iter().all(|l| l.margin == 0));
        assert_eq!(margin_by_period(&invoices, 250)[0].margin, 8399);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let key = ApiKey::new("sk_live_secret");
        assert_eq!(format!("{key:?}"), "***");
        let intent = SetupIntent {
            id: "seti_1".into(),
            status: "requires_payment_method".into(),
            customer_id: Some("cus_1".into()),
            payment_method: None,
            client_secret: Some("seti_1_secret_abc".into()),
        };
        assert!(!format!("{intent:?}").contains("secret_abc"));
        let later = SetupIntent {
            client_secret: None,
            ..intent
        };
        let json = serde_json::to_string(&later).expect("json");
        assert!(!json.contains("clientSecret"), "{json}");
    }
}
