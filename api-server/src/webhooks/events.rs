//! Stripe events the platform acts on, read leniently from the event JSON, and the pure rule that
//! turns one into a tenant's next billing status.

use dezky_crds::tenant::TenantBilling;
use serde::Deserialize;
use serde_json::Value;

/// Metadata key that names the tenant (set by the operator on customers and subscriptions).
pub const METADATA_TENANT: &str = "dezky_tenant";

/// What happened, reduced to what tenant status needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingEventKind {
    /// `invoice.paid` (and `invoice.payment_succeeded`, which older API versions and localstripe send).
    InvoicePaid,
    /// `invoice.payment_failed`.
    InvoicePaymentFailed,
    /// `customer.subscription.updated`, with the subscription's new status.
    SubscriptionUpdated { status: String },
    /// `customer.subscription.deleted`.
    SubscriptionDeleted,
}

/// One event to apply to a tenant's billing status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingUpdate {
    /// `evt_...`
    pub event_id: String,
    /// When Stripe created the event (Unix seconds).
    pub created: i64,
    pub kind: BillingEventKind,
    /// The customer the event is about; the tenant whose `status.billing.customerId` it is.
    pub customer_id: String,
    /// The subscription the event is about, if any.
    pub subscription_id: Option<String>,
    /// The tenant named in the object's metadata (`dezky_tenant`), when the object carries it.
    pub tenant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct EventWire {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created: i64,
    data: DataWire,
}

#[derive(Debug, Deserialize)]
struct DataWire {
    object: Value,
}

/// Why an event body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the event is not a Stripe event: {0}")]
pub struct EventParseError(&'static str);

/// An event that was read: either one we act on, or one we ignore (by id and type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedEvent {
    Update(BillingUpdate),
    Ignored {
        event_id: String,
        event_type: String,
    },
}

impl ParsedEvent {
    /// The event id.
    pub fn id(&self) -> &str {
        match self {
            ParsedEvent::Update(u) => &u.event_id,
            ParsedEvent::Ignored { event_id, .. } => event_id,
        }
    }
}

fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn tenant_of(metadata: Option<&Value>) -> Option<String> {
    metadata?.get(METADATA_TENANT)?.as_str().map(str::to_owned)
}

/// Reads an event body (JSON as Stripe posts it).
pub fn parse_event(body: &[u8]) -> Result<ParsedEvent, EventParseError> {
    let event: EventWire =
        serde_json::from_slice(body).map_err(|_| EventParseError("not an event object"))?;
    let object = &event.data.object;
    let kind = match event.kind.as_str() {
        "invoice.paid" | "invoice.payment_succeeded" => BillingEventKind::InvoicePaid,
        "invoice.payment_failed" => BillingEventKind::InvoicePaymentFailed,
        "customer.subscription.updated" => BillingEventKind::SubscriptionUpdated {
            status: object
                .get("status")
                .and_then(Value::as_str)
                .ok_or(EventParseError("the subscription has no status"))?
                .to_owned(),
        },
        "customer.subscription.deleted" => BillingEventKind::SubscriptionDeleted,
        _ => {
            return Ok(ParsedEvent::Ignored {
                event_id: event.id,
                event_type: event.kind,
            });
        }
    };
    let customer_id =
        id_of(object.get("customer")).ok_or(EventParseError("the object names no customer"))?;
    let (subscription_id, tenant) = match kind {
        BillingEventKind::InvoicePaid | BillingEventKind::InvoicePaymentFailed => {
            // API versions since 2025 move the subscription under parent.subscription_details
            let details = object.pointer("/parent/subscription_details");
            let subscription = id_of(object.get("subscription"))
                .or_else(|| id_of(details.and_then(|d| d.get("subscription"))));
            let tenant = tenant_of(details.and_then(|d| d.get("metadata")))
                .or_else(|| tenant_of(object.pointer("/subscription_details/metadata")))
                .or_else(|| tenant_of(object.get("metadata")));
            (subscription, tenant)
        }
        _ => (id_of(object.get("id")), tenant_of(object.get("metadata"))),
    };
    Ok(ParsedEvent::Update(BillingUpdate {
        event_id: event.id,
        created: event.created,
        kind,
        customer_id,
        subscription_id,
        tenant,
    }))
}

/// A tenant's billing status after `update`, or `None` when the update does not concern this
/// tenant's current customer and subscription or changes nothing. Applying the same update twice
/// gives `None` the second time, which is what makes applying events idempotent.
pub fn next_billing_status(
    current: Option<&TenantBilling>,
    update: &BillingUpdate,
) -> Option<TenantBilling> {
    let current = current.cloned().unwrap_or_default();
    if current
        .customer_id
        .as_deref()
        .is_some_and(|c| c != update.customer_id)
    {
        return None;
    }
    if let (Some(ours), Some(theirs)) = (&current.subscription_id, &update.subscription_id)
        && ours != theirs
    {
        // an event about an older (replaced) subscription
        return None;
    }
    let status = current.subscription_status.as_deref();
    let ended = matches!(status, Some("canceled" | "incomplete_expired"));
    let new_status = match &update.kind {
        BillingEventKind::SubscriptionUpdated { status } => Some(status.clone()),
        BillingEventKind::SubscriptionDeleted => Some("canceled".to_owned()),
        // a paid invoice settles what was owed; it does not end a trial or revive an ended one
        BillingEventKind::InvoicePaid => match status {
            Some("past_due" | "unpaid" | "incomplete") => Some("active".to_owned()),
            _ => current.subscription_status.clone(),
        },
        BillingEventKind::InvoicePaymentFailed if ended => current.subscription_status.clone(),
        BillingEventKind::InvoicePaymentFailed => match status {
            None | Some("active" | "trialing") => Some("past_due".to_owned()),
            _ => current.subscription_status.clone(),
        },
    };
    let next = TenantBilling {
        customer_id: Some(update.customer_id.clone()),
        subscription_id: current
            .subscription_id
            .clone()
            .or_else(|| update.subscription_id.clone()),
        subscription_status: new_status,
    };
    (next != current).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn billing(status: &str) -> TenantBilling {
        TenantBilling {
            customer_id: Some("cus_1".into()),
            subscription_id: Some("sub_1".into()),
            subscription_status: Some(status.into()),
        }
    }

    fn update(kind: BillingEventKind) -> BillingUpdate {
        BillingUpdate {
            event_id: "evt_1".into(),
            created: 1,
            kind,
            customer_id: "cus_1".into(),
            subscription_id: Some("sub_1".into()),
            tenant: Some("acme".into()),
        }
    }

    #[test]
    fn reads_invoice_and_subscription_events() {
        let invoice = br#"{"id":"evt_a","type":"invoice.payment_failed","created":5,
            "data":{"object":{"id":"in_1","customer":"cus_1","subscription":"sub_1","metadata":{}}}}"#;
        let ParsedEvent::Update(u) = parse_event(invoice).expect("parses") else {
            panic!("not an update");
        };
        assert_eq!(u.kind, BillingEventKind::InvoicePaymentFailed);
        assert_eq!(u.subscription_id.as_deref(), Some("sub_1"));
        let newer = br#"{"id":"evt_b","type":"invoice.paid","created":5,"data":{"object":{"id":"in_1",
            "customer":"cus_1","parent":{"subscription_details":{"subscription":"sub_9","metadata":{"dezky_tenant":"acme"}}}}}}"#;
        let ParsedEvent::Update(u) = parse_event(newer).expect("parses") else {
            panic!("not an update");
        };
        assert_eq!(
            (u.subscription_id.as_deref(), u.tenant.as_deref()),
            (Some("sub_9"), Some("acme"))
        );
        let sub = br#"{"id":"evt_c","type":"customer.subscription.updated","created":5,"data":{"object":{
            "id":"sub_1","customer":{"id":"cus_1"},"status":"past_due","metadata":{"dezky_tenant":"acme"}}}}"#;
        let ParsedEvent::Update(u) = parse_event(sub).expect("parses") else {
            panic!("not an update");
        };
        assert_eq!(
            u.kind,
            BillingEventKind::SubscriptionUpdated {
                status: "past_due".into()
            }
        );
        assert_eq!(u.customer_id, "cus_1");
        let other = br#"{"id":"evt_d","type":"charge.succeeded","data":{"object":{}}}"#;
        assert_eq!(
            parse_event(other).expect("parses"),
            ParsedEvent::Ignored {
                event_id: "evt_d".into(),
                event_type: "charge.succeeded".into()
            }
        );
        assert!(parse_event(b"{}").is_err());
        assert!(parse_event(br#"{"id":"e","type":"invoice.paid","data":{"object":{}}}"#).is_err());
    }

    #[test]
    fn statuses_follow_the_events_and_repeat_as_no_change() {
        let failed = update(BillingEventKind::InvoicePaymentFailed);
        let next = next_billing_status(Some(&billing("active")), &failed).expect("changes");
        assert_eq!(next.subscription_status.as_deref(), Some("past_due"));
        assert_eq!(
            next_billing_status(Some(&next), &failed),
            None,
            "applied twice"
        );
        let paid = update(BillingEventKind::InvoicePaid);
        let next = next_billing_status(Some(&next), &paid).expect("changes");
        assert_eq!(next.subscription_status.as_deref(), Some("active"));
        assert_eq!(next_billing_status(Some(&billing("trialing")), &paid), None);
        let deleted = update(BillingEventKind::SubscriptionDeleted);
        let next = next_billing_status(Some(&billing("active")), &deleted).expect("changes");
        assert_eq!(next.subscription_status.as_deref(), Some("canceled"));
        // a late failure does not revive an ended subscription
        assert_eq!(next_billing_status(Some(&next), &failed), None);
        let updated = update(BillingEventKind::SubscriptionUpdated {
            status: "paused".into(),
        });
        assert_eq!(
            next_billing_status(Some(&billing("active")), &updated)
                .and_then(|b| b.subscription_status),
            Some("paused".into())
        );
    }

    #[test]
    fn events_about_other_customers_or_old_subscriptions_change_nothing() {
        let mut other_customer = update(BillingEventKind::SubscriptionDeleted);
        other_customer.customer_id = "cus_2".into();
        assert_eq!(
            next_billing_status(Some(&billing("active")), &other_customer),
            None
        );
        let mut old_sub = update(BillingEventKind::SubscriptionDeleted);
        old_sub.subscription_id = Some("sub_0".into());
        assert_eq!(
            next_billing_status(Some(&billing("active")), &old_sub),
            None
        );
        // a tenant without billing status yet takes the ids from the event
        let next = next_billing_status(None, &update(BillingEventKind::InvoicePaymentFailed))
            .expect("changes");
        assert_eq!(next.subscription_id.as_deref(), Some("sub_1"));
        assert_eq!(next.subscription_status.as_deref(), Some("past_due"));
    }
}
