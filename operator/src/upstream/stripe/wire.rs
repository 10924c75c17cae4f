//! Stripe's wire format: lenient JSON shapes of the objects we read, and the form encoding of requests.
//!
//! Stripe takes `application/x-www-form-urlencoded` bodies with bracketed keys
//! (`metadata[dezky_marker]=...`, `items[0][quantity]=3`) and answers JSON. Only the fields we use
//! are declared; unknown fields are ignored and most fields are optional, so both the real API
//! and localstripe (which lacks many of Stripe's newer fields) decode.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Customer, Invoice, METADATA_MARKER, METADATA_UID};

/// A list page: `{"object": "list", "data": [...], "has_more": bool}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListWire<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// A search page: `{"object": "search_result", "data": [...], "has_more": bool, "next_page": ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchWire<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub next_page: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AddressWire {
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InvoiceSettingsWire {
    /// An id, or the expanded object.
    #[serde(default)]
    pub default_payment_method: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CustomerWire {
    pub id: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub address: Option<AddressWire>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub invoice_settings: Option<InvoiceSettingsWire>,
}

/// A price or plan reference inside a subscription item (both carry an `id`).
#[derive(Debug, Deserialize)]
pub(crate) struct PriceRefWire {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SubscriptionItemWire {
    pub id: String,
    #[serde(default)]
    pub quantity: Option<u64>,
    #[serde(default)]
    pub price: Option<PriceRefWire>,
    #[serde(default)]
    pub plan: Option<PriceRefWire>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PauseCollectionWire {
    #[serde(default)]
    pub behavior: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SubscriptionWire {
    pub id: String,
    /// An id, or the expanded customer.
    pub customer: serde_json::Value,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub items: Option<ListWire<SubscriptionItemWire>>,
    #[serde(default)]
    pub pause_collection: Option<PauseCollectionWire>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InvoiceWire {
    pub id: String,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub amount_due: i64,
    #[serde(default)]
    pub amount_paid: i64,
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub period_start: Option<i64>,
    #[serde(default)]
    pub period_end: Option<i64>,
    #[serde(default)]
    pub hosted_invoice_url: Option<String>,
    /// An id (older API versions and localstripe); newer versions move it under `parent`.
    #[serde(default)]
    pub subscription: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetupIntentWire {
    pub id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CardWire {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PaymentMethodWire {
    #[serde(default)]
    pub card: Option<CardWire>,
}

/// The id of a field that is either an id string or an expanded object with an `id`.
pub(crate) fn expandable_id(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(id) => Some(id.clone()),
        serde_json::Value::Object(map) => map.get("id").and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    }
}

/// The domain view of a customer.
pub(crate) fn customer(wire: CustomerWire) -> Customer {
    let metadata = wire.metadata.unwrap_or_default();
    // an unset field reads back as null on Stripe and as "" on localstripe: both are "none"
    let present = |v: Option<String>| v.filter(|s| !s.is_empty());
    Customer {
        id: wire.id,
        name: present(wire.name),
        email: present(wire.email),
        country: present(wire.address.and_then(|a| a.country)),
        description: present(wire.description),
        marker: metadata.get(METADATA_MARKER).cloned(),
        uid: metadata.get(METADATA_UID).cloned(),
        default_payment_method: wire
            .invoice_settings
            .and_then(|s| s.default_payment_method)
            .as_ref()
            .and_then(expandable_id),
    }
}

/// The domain view of an invoice.
pub(crate) fn invoice(wire: InvoiceWire) -> Invoice {
    Invoice {
        id: wire.id,
        number: wire.number,
        status: wire.status,
        currency: wire.currency,
        amount_due: wire.amount_due,
        amount_paid: wire.amount_paid,
        total: wire.total,
        created: wire.created,
        period_start: wire.period_start,
        period_end: wire.period_end,
        hosted_invoice_url: wire.hosted_invoice_url,
        subscription_id: wire.subscription.as_ref().and_then(expandable_id),
    }
}

/// A form body in Stripe's bracket notation, built field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key=value`.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push((key.into(), value.into()));
        self
    }

    /// Adds `key=value` when there is a value.
    pub fn set_opt(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// Adds `metadata[key]=value`.
    pub fn metadata(self, key: &str, value: &str) -> Self {
        self.set(format!("metadata[{key}]"), value)
    }

    /// The fields, for the HTTP layer.
    pub fn into_fields(self) -> Vec<(String, String)> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_localstripe_subscription_without_stripes_newer_fields() {
        let body = r#"{"id":"sub_1","object":"subscription","customer":"cus_1","status":"active",
            "items":{"object":"list","data":[{"id":"si_1","quantity":5,"plan":{"id":"business"}}],"has_more":false},
            "metadata":{"dezky_marker":"dezky:x:Tenant:-/a"},"cancel_at_period_end":false}"#;
        let sub: SubscriptionWire = serde_json::from_str(body).expect("decodes");
        let item = &sub.items.expect("items").data[0];
        assert_eq!(item.plan.as_ref().map(|p| p.id.as_str()), Some("business"));
        assert!(item.price.is_none());
        assert_eq!(expandable_id(&sub.customer).as_deref(), Some("cus_1"));
        assert_eq!(
            expandable_id(&serde_json::json!({"id": "cus_2", "object": "customer"})).as_deref(),
            Some("cus_2")
        );
    }

    #[test]
    fn form_uses_bracket_notation() {
        let form = Form::new()
            .set("email", "a@b.test")
            .metadata("dezky_marker", "m")
            .set_opt("name", None);
        assert_eq!(
            form.into_fields(),
            vec![
                ("email".to_string(), "a@b.test".to_string()),
                ("metadata[dezky_marker]".to_string(), "m".to_string())
            ]
        );
    }
}
