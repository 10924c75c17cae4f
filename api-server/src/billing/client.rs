//! The HTTP side of the billing reads: GETs with query strings and form-encoded POSTs against the
//! Stripe API (or localstripe), answers read leniently from JSON, Stripe's error message kept.

use std::time::Duration;

use serde_json::Value;

use super::{BillingConfig, BillingError, CardSummary, Dialect, Invoice, InvoicePage, SetupIntent};

/// Invoices read per page when all of a customer's invoices are needed.
const PAGE: u8 = 100;
/// The most pages read for one customer's invoices (10 000 invoices).
const MAX_PAGES: usize = 100;

/// Reads billing data from Stripe with the api-server's key.
#[derive(Clone)]
pub struct StripeReader {
    http: reqwest::Client,
    base: String,
    config: BillingConfig,
    dialect: Dialect,
}

/// Whether `id` looks like a Stripe id with this prefix (`cus_`, `seti_`, `in_`, `pm_`), so
/// nothing a caller typed reaches a Stripe URL unchecked.
pub fn is_id(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len()
        && id.len() <= 255
        && id.starts_with(prefix)
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// An id that may be expanded into an object.
fn expandable(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn invoice(v: &Value) -> Option<Invoice> {
    let int = |key: &str| v.get(key).and_then(Value::as_i64);
    Some(Invoice {
        id: text(v, "id")?,
        number: text(v, "number"),
        status: text(v, "status"),
        currency: text(v, "currency"),
        amount_due: int("amount_due").unwrap_or_default(),
        amount_paid: int("amount_paid").unwrap_or_default(),
        total: int("total").unwrap_or_default(),
        created: int("created").or_else(|| int("date")).unwrap_or_default(),
        period_start: int("period_start"),
        period_end: int("period_end"),
        customer_id: expandable(v.get("customer")),
        // API versions since 2025 move the subscription under parent.subscription_details
        subscription_id: expandable(v.get("subscription"))
            .or_else(|| expandable(v.pointer("/parent/subscription_details/subscription"))),
        hosted_invoice_url: text(v, "hosted_invoice_url"),
        tenant: None,
    })
}

fn setup_intent(v: &Value, with_secret: bool) -> Result<SetupIntent, BillingError> {
    let id = text(v, "id").ok_or(BillingError::Protocol {
        operation: "read a SetupIntent",
        missing: "an id",
    })?;
    let client_secret = if with_secret {
        Some(text(v, "client_secret").ok_or(BillingError::Protocol {
            operation: "create a SetupIntent",
            missing: "a client secret",
        })?)
    } else {
        None
    };
    Ok(SetupIntent {
        id,
        status: text(v, "status").unwrap_or_default(),
        customer_id: expandable(v.get("customer")),
        payment_method: expandable(v.get("payment_method")),
        client_secret,
    })
}

impl StripeReader {
    /// A reader for the configured Stripe.
    pub fn new(config: &BillingConfig) -> StripeReader {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        StripeReader {
            http,
            base: config.url.trim_end_matches('/').to_owned(),
            dialect: Dialect::for_base_url(&config.url),
            config: config.clone(),
        }
    }

    /// Which server this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn send(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, BillingError> {
        let response = request
            .bearer_auth(self.config.api_key.expose())
            .send()
            .await
            .map_err(|e| BillingError::Transport {
                operation,
                reason: e.without_url().to_string(),
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .chars()
            .take(300)
            .collect();
        Err(BillingError::Refused {
            operation,
            status: status.as_u16(),
            message,
        })
    }

    async fn get(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, BillingError> {
        let request = self.http.get(format!("{}/{path}", self.base)).query(query);
        self.send(operation, request).await
    }

    async fn post(
        &self,
        operation: &'static str,
        path: &str,
        form: &[(String, String)],
    ) -> Result<Value, BillingError> {
        let request = self.http.post(format!("{}/{path}", self.base)).form(form);
        self.send(operation, request).await
    }

    /// One page of invoices, newest first: of one customer, or of every customer (`None`).
    pub async fn invoices(
        &self,
        customer: Option<&str>,
        limit: u8,
        starting_after: Option<&str>,
    ) -> Result<InvoicePage, BillingError> {
        let mut query = vec![("limit", limit.clamp(1, 100).to_string())];
        if let Some(c) = customer {
            query.push(("customer", c.to_owned()));
        }
        if let Some(after) = starting_after {
            query.push(("starting_after", after.to_owned()));
        }
        let page = self.get("list invoices", "v1/invoices", &query).await?;
        let items: Vec<Invoice> = page["data"]
            .as_array()
            .map(|a| a.iter().filter_map(invoice).collect())
            .unwrap_or_default();
        let has_more = page["has_more"].as_bool() == Some(true);
        let next_cursor = has_more
            .then(|| items.last().map(|i| i.id.clone()))
            .flatten();
        Ok(InvoicePage {
            items,
            has_more,
            next_cursor,
        })
    }

    /// Every invoice of a customer, page by page (bounded).
    pub async fn all_invoices(&self, customer: &str) -> Result<Vec<Invoice>, BillingError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .invoices(Some(customer), PAGE, after.as_deref())
                .await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(all)
    }

    /// A new SetupIntent for a customer's card, with its client secret.
    pub async fn create_setup_intent(&self, customer: &str) -> Result<SetupIntent, BillingError> {
        let form = [
            ("customer".to_owned(), customer.to_owned()),
            ("usage".to_owned(), "off_session".to_owned()),
            ("payment_method_types[0]".to_owned(), "card".to_owned()),
        ];
        let v = self
            .post("create a SetupIntent", "v1/setup_intents", &form)
            .await?;
        setup_intent(&v, true)
    }

    /// A SetupIntent's state (without its client secret).
    pub async fn setup_intent(&self, id: &str) -> Result<SetupIntent, BillingError> {
        let v = self
            .get("read a SetupIntent", &format!("v1/setup_intents/{id}"), &[])
            .await?;
        setup_intent(&v, false)
    }

    /// Confirms a SetupIntent with Stripe's test card (localstripe only).
    pub async fn confirm_with_test_card(&self, id: &str) -> Result<SetupIntent, BillingError> {
        let form = self.dialect.test_card_confirmation().ok_or(BillingError::Unsupported(
            "cards are entered with Stripe.js on the real Stripe; a test card is only for localstripe",
        ))?;
        let v = self
            .post(
                "confirm a SetupIntent",
                &format!("v1/setup_intents/{id}/confirm"),
                &form,
            )
            .await?;
        setup_intent(&v, false)
    }

    /// Makes a collected payment method the customer's default for invoices.
    pub async fn make_default(
        &self,
        customer: &str,
        payment_method: &str,
    ) -> Result<(), BillingError> {
        if self.dialect.attach_after_setup() {
            self.post(
                "attach the payment method",
                &format!("v1/payment_methods/{payment_method}/attach"),
                &[("customer".to_owned(), customer.to_owned())],
            )
            .await?;
        }
        self.post(
            "set the default payment method",
            &format!("v1/customers/{customer}"),
            &[(
                "invoice_settings[default_payment_method]".to_owned(),
                payment_method.to_owned(),
            )],
        )
        .await?;
        Ok(())
    }

    /// The customer's default card as brand and last four digits, if it has one.
    pub async fn default_card(&self, customer: &str) -> Result<Option<CardSummary>, BillingError> {
        let c = self
            .get(
                "read the customer",
                &format!("v1/customers/{customer}"),
                &[],
            )
            .await?;
        let Some(pm) = expandable(c.pointer("/invoice_settings/default_payment_method")) else {
            return Ok(None);
        };
        if !is_id(&pm, "pm_") {
            return Ok(None);
        }
        let v = self
            .get(
                "read the payment method",
                &format!("v1/payment_methods/{pm}"),
                &[],
            )
            .await?;
        let card = &v["card"];
        Ok(match (text(card, "brand"), text(card, "last4")) {
            (Some(brand), Some(last4)) => Some(CardSummary { brand, last4 }),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_they_reach_a_url() {
        assert!(is_id("seti_1AbC", "seti_"));
        assert!(!is_id("seti_", "seti_"));
        assert!(!is_id("seti_../customers", "seti_"));
        assert!(!is_id("cus_1", "seti_"));
    }

    #[test]
    fn invoices_are_read_leniently() {
        let v = serde_json::json!({"id": "in_1", "status": "paid", "currency": "eur",
            "amount_paid": 1200, "date": 1_792_022_400, "customer": {"id": "cus_1"},
            "parent": {"subscription_details": {"subscription": "sub_1"}}});
        let i = invoice(&v).expect("an invoice");
        assert_eq!(i.created, 1_792_022_400);
        assert_eq!(i.customer_id.as_deref(), Some("cus_1"));
        assert_eq!(i.subscription_id.as_deref(), Some("sub_1"));
        assert_eq!(i.amount_due, 0);
        assert!(invoice(&serde_json::json!({"status": "paid"})).is_none());
    }
}
