//! [`StripeClient`]: the [`BillingClient`] over the shared HTTP layer in Stripe's wire format.

use super::dialect::{Dialect, LOCAL_PAUSE_KEY};
use super::idempotency::idempotency_key;
use super::wire::{
    CustomerWire, Form, InvoiceWire, ListWire, PaymentMethodWire, SearchWire, SetupIntentWire,
    SubscriptionWire, customer, expandable_id, invoice,
};
use super::{
    BillingClient, BillingError, CancelMode, CardSummary, Customer, CustomerSpec, Invoice,
    METADATA_MARKER, METADATA_TENANT, METADATA_UID, SetupIntent, Subscription, SubscriptionSpec,
};
use crate::upstream::http::{ErrorCategory, RequestSpec, Secret, UpstreamError, UpstreamHttp};
use crate::upstream::marker::{MARKER_PREFIX, Marker};

/// The most pages one listing reads (100 objects each), a guard against a server that never ends.
const MAX_PAGES: usize = 1000;
const PAGE_SIZE: &str = "100";

/// The Stripe client; cheap to clone. Authenticate the [`UpstreamHttp`] with
/// `Auth::Bearer(<secret key>)`.
#[derive(Clone, Debug)]
pub struct StripeClient {
    pub(super) http: UpstreamHttp,
    pub(super) dialect: Dialect,
}

impl StripeClient {
    /// A client whose dialect follows the base URL ([`Dialect::for_base_url`]).
    pub fn new(http: UpstreamHttp) -> StripeClient {
        let dialect = Dialect::for_base_url(http.base_url());
        StripeClient { http, dialect }
    }

    /// A client speaking the given dialect.
    pub fn with_dialect(http: UpstreamHttp, dialect: Dialect) -> StripeClient {
        StripeClient { http, dialect }
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Every object of a list endpoint, following `starting_after` cursors.
    async fn list_all<T, F>(
        &self,
        operation: &'static str,
        request: F,
        id_of: fn(&T) -> &str,
    ) -> Result<Vec<T>, BillingError>
    where
        T: serde::de::DeserializeOwned,
        F: Fn() -> RequestSpec,
    {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut req = request().query("limit", PAGE_SIZE);
            if let Some(cursor) = &after {
                req = req.query("starting_after", cursor.clone());
            }
            let page: ListWire<T> = self.http.send_json(operation, req).await?;
            let more = page.has_more && !page.data.is_empty();
            after = page.data.last().map(|item| id_of(item).to_owned());
            all.extend(page.data);
            if !more {
                return Ok(all);
            }
        }
        Ok(all)
    }

    async fn search_customers(&self, marker: &Marker) -> Result<Vec<CustomerWire>, BillingError> {
        // marker keys are made of DNS labels, ':', '-' and '/', never a quote
        let query = format!("metadata['{METADATA_MARKER}']:'{}'", marker.key());
        let mut all = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut req = RequestSpec::get("v1/customers/search")
                .query("query", query.clone())
                .query("limit", PAGE_SIZE);
            if let Some(token) = &page_token {
                req = req.query("page", token.clone());
            }
            let page: SearchWire<CustomerWire> =
                self.http.send_json("customer.search", req).await?;
            all.extend(page.data);
            match page.next_page {
                Some(token) if page.has_more => page_token = Some(token),
                _ => break,
            }
        }
        Ok(all)
    }

    async fn all_customers(&self) -> Result<Vec<CustomerWire>, BillingError> {
        self.list_all(
            "customer.list",
            || RequestSpec::get("v1/customers"),
            |c: &CustomerWire| &c.id,
        )
        .await
    }

    async fn subscriptions_of(
        &self,
        customer_id: &str,
    ) -> Result<Vec<SubscriptionWire>, BillingError> {
        self.list_all(
            "subscription.list",
            || {
                RequestSpec::get("v1/subscriptions")
                    .query("customer", customer_id)
                    .query("status", "all")
            },
            |s: &SubscriptionWire| &s.id,
        )
        .await
    }

    async fn get_subscription(&self, id: &str) -> Result<Option<Subscription>, BillingError> {
        let req = RequestSpec::get(format!("v1/subscriptions/{id}"));
        match self
            .http
            .send_json::<SubscriptionWire>("subscription.get", req)
            .await
        {
            // only cancellation reads one subscription, and it does not look at the pause
            Ok(wire) => Ok(Some(self.subscription(wire, None)?)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The customer's pause mark, when the dialect keeps pauses on the customer (else no request).
    async fn pause_mark(&self, customer_id: &str) -> Result<Option<String>, BillingError> {
        if !self.dialect.pause_is_on_customer() {
            return Ok(None);
        }
        let req = RequestSpec::get(format!("v1/customers/{customer_id}"));
        match self
            .http
            .send_json::<CustomerWire>("customer.get", req)
            .await
        {
            Ok(wire) => Ok(wire.metadata.and_then(|mut m| m.remove(LOCAL_PAUSE_KEY))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn subscription(
        &self,
        wire: SubscriptionWire,
        pause_mark: Option<&str>,
    ) -> Result<Subscription, BillingError> {
        let items = wire.items.map(|l| l.data).unwrap_or_default();
        if items.len() > 1 {
            return Err(BillingError::UnexpectedItems {
                subscription: wire.id,
                items: items.len(),
            });
        }
        let item = items.into_iter().next();
        let metadata = wire.metadata.unwrap_or_default();
        let paused = self.dialect.is_paused(
            &wire.id,
            wire.pause_collection
                .as_ref()
                .and_then(|p| p.behavior.as_deref()),
            pause_mark,
        );
        Ok(Subscription {
            customer_id: expandable_id(&wire.customer).ok_or(BillingError::Protocol {
                operation: "subscription",
                missing: "customer",
            })?,
            id: wire.id,
            status: wire.status,
            item_id: item.as_ref().map(|i| i.id.clone()),
            price_id: item
                .as_ref()
                .and_then(|i| i.price.as_ref().or(i.plan.as_ref()))
                .map(|p| p.id.clone()),
            quantity: item.as_ref().and_then(|i| i.quantity).unwrap_or(0),
            paused,
            cancel_at_period_end: wire.cancel_at_period_end,
            marker: metadata.get(METADATA_MARKER).cloned(),
        })
    }

    pub(super) async fn post_form<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        path: String,
        form: Form,
        idempotency_key: Option<String>,
    ) -> Result<T, BillingError> {
        let mut req = RequestSpec::post(path).form(form.into_fields());
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        Ok(self.http.send_json(operation, req).await?)
    }
}

pub(super) fn is_not_found(error: &UpstreamError) -> bool {
    error.category() == ErrorCategory::NotFound
}

fn marker_metadata(form: Form, marker: &Marker) -> Form {
    form.metadata(METADATA_MARKER, &marker.key())
        .metadata(METADATA_UID, &marker.uid)
        .metadata(METADATA_TENANT, &marker.name)
}

impl BillingClient for StripeClient {
    async fn list_customers(&self) -> Result<Vec<Customer>, BillingError> {
        Ok(self
            .all_customers()
            .await?
            .into_iter()
            .filter(|c| !c.deleted)
            .map(customer)
            .filter(|c| {
                c.marker
                    .as_deref()
                    .is_some_and(|m| m.starts_with(MARKER_PREFIX))
            })
            .collect())
    }

    async fn get_customer(&self, id: &str) -> Result<Option<Customer>, BillingError> {
        let req = RequestSpec::get(format!("v1/customers/{id}"));
        match self
            .http
            .send_json::<CustomerWire>("customer.get", req)
            .await
        {
            Ok(wire) if wire.deleted => Ok(None),
            Ok(wire) => Ok(Some(customer(wire))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn find_customer(&self, marker: &Marker) -> Result<Option<Customer>, BillingError> {
        let candidates = if self.dialect.has_search() {
            self.search_customers(marker).await?
        } else {
            self.all_customers().await?
        };
        let key = marker.key();
        Ok(candidates
            .into_iter()
            .filter(|c| !c.deleted)
            .map(customer)
            .find(|c| c.marker.as_deref() == Some(key.as_str())))
    }

    async fn create_customer(
        &self,
        spec: &CustomerSpec,
        marker: &Marker,
    ) -> Result<Customer, BillingError> {
        if let Some(found) = self.find_customer(marker).await? {
            return Ok(found);
        }
        let form = Form::new()
            .set("name", spec.name.clone())
            .set("description", spec.description.clone())
            .set_opt("email", spec.email.as_deref())
            .set_opt("address[country]", spec.country.as_deref());
        let form = marker_metadata(form, marker);
        let key = idempotency_key("customer.create", marker, &form, 0);
        let wire: CustomerWire = self
            .post_form("customer.create", "v1/customers".into(), form, Some(key))
            .await?;
        Ok(customer(wire))
    }

    async fn update_customer(
        &self,
        current: &Customer,
        spec: &CustomerSpec,
    ) -> Result<(Customer, bool), BillingError> {
        let mut form = Form::new();
        if current.name.as_deref() != Some(spec.name.as_str()) {
            form = form.set("name", spec.name.clone());
        }
        if current.description.as_deref() != Some(spec.description.as_str()) {
            form = form.set("description", spec.description.clone());
        }
        let want_email = spec.email.clone().filter(|s| !s.is_empty());
        if current.email != want_email {
            // an empty value unsets it
            form = form.set("email", want_email.unwrap_or_default());
        }
        let want_country = spec.country.clone().filter(|s| !s.is_empty());
        if current.country != want_country {
            form = form.set("address[country]", want_country.unwrap_or_default());
        }
        if form.0.is_empty() {
            return Ok((current.clone(), false));
        }
        let wire: CustomerWire = self
            .post_form(
                "customer.update",
                format!("v1/customers/{}", current.id),
                form,
                None,
            )
            .await?;
        Ok((customer(wire), true))
    }

    async fn delete_customer(&self, id: &str) -> Result<(), BillingError> {
        let req = RequestSpec::delete(format!("v1/customers/{id}"));
        match self.http.send("customer.delete", req).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list_subscriptions(
        &self,
        customer_id: &str,
    ) -> Result<Vec<Subscription>, BillingError> {
        let mark = self.pause_mark(customer_id).await?;
        self.subscriptions_of(customer_id)
            .await?
            .into_iter()
            .map(|w| self.subscription(w, mark.as_deref()))
            .collect()
    }

    async fn find_subscription(
        &self,
        customer_id: &str,
        marker: &Marker,
    ) -> Result<Option<Subscription>, BillingError> {
        let key = marker.key();
        Ok(self
            .list_subscriptions(customer_id)
            .await?
            .into_iter()
            .find(|s| !s.is_ended() && s.marker.as_deref() == Some(key.as_str())))
    }

    async fn create_subscription(
        &self,
        customer_id: &str,
        spec: &SubscriptionSpec,
        marker: &Marker,
    ) -> Result<Subscription, BillingError> {
        let key = marker.key();
        let ours: Vec<Subscription> = self
            .list_subscriptions(customer_id)
            .await?
            .into_iter()
            .filter(|s| s.marker.as_deref() == Some(key.as_str()))
            .collect();
        if let Some(live) = ours.iter().find(|s| !s.is_ended()) {
            return Ok(live.clone());
        }
        let mut form = Form::new()
            .set("customer", customer_id)
            .set(self.dialect.item_field(0), spec.price_id.clone())
            .set("items[0][quantity]", spec.quantity.to_string());
        if let Some(days) = spec.trial_days {
            form = form.set("trial_period_days", days.to_string());
        }
        let form = marker_metadata(form, marker);
        // a new attempt once earlier subscriptions have ended, so Stripe does not replay them
        let idem = idempotency_key("subscription.create", marker, &form, ours.len());
        match self
            .post_form::<SubscriptionWire>(
                "subscription.create",
                "v1/subscriptions".into(),
                form,
                Some(idem),
            )
            .await
        {
            Ok(wire) => self.subscription(wire, None),
            Err(BillingError::Upstream(e)) if e.status() == Some(402) => {
                Err(BillingError::PaymentRequired {
                    customer: customer_id.into(),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn update_subscription(
        &self,
        current: &Subscription,
        spec: &SubscriptionSpec,
    ) -> Result<(Subscription, bool), BillingError> {
        if current.price_id.as_deref() == Some(spec.price_id.as_str())
            && current.quantity == spec.quantity
        {
            return Ok((current.clone(), false));
        }
        let mut form = Form::new();
        if let Some(item) = &current.item_id {
            form = form.set("items[0][id]", item.clone());
        }
        let form = form
            .set(self.dialect.item_field(0), spec.price_id.clone())
            .set("items[0][quantity]", spec.quantity.to_string());
        let wire: SubscriptionWire = self
            .post_form(
                "subscription.update",
                format!("v1/subscriptions/{}", current.id),
                form,
                None,
            )
            .await?;
        let mark = current.paused.then_some(current.id.as_str());
        Ok((self.subscription(wire, mark)?, true))
    }

    async fn set_collection_paused(
        &self,
        current: &Subscription,
        paused: bool,
    ) -> Result<(Subscription, bool), BillingError> {
        if current.paused == paused {
            return Ok((current.clone(), false));
        }
        let (path, form) = self
            .dialect
            .pause_write(&current.id, &current.customer_id, paused);
        let operation = if paused {
            "subscription.pause"
        } else {
            "subscription.resume"
        };
        let answer: serde_json::Value = self.post_form(operation, path, form, None).await?;
        if self.dialect.pause_is_on_customer() {
            // the answer is the customer: the subscription itself did not change
            return Ok((
                Subscription {
                    paused,
                    ..current.clone()
                },
                true,
            ));
        }
        let wire: SubscriptionWire =
            serde_json::from_value(answer).map_err(|_| BillingError::Protocol {
                operation: "subscription.pause",
                missing: "a subscription",
            })?;
        Ok((self.subscription(wire, None)?, true))
    }

    async fn cancel_subscription(&self, id: &str, mode: CancelMode) -> Result<(), BillingError> {
        let Some(current) = self.get_subscription(id).await? else {
            return Ok(());
        };
        if current.is_ended() {
            return Ok(());
        }
        let result = match mode {
            CancelMode::Immediately => self
                .http
                .send(
                    "subscription.cancel",
                    RequestSpec::delete(format!("v1/subscriptions/{id}")),
                )
                .await
                .map(drop),
            CancelMode::AtPeriodEnd if current.cancel_at_period_end => Ok(()),
            CancelMode::AtPeriodEnd => self
                .http
                .send(
                    "subscription.cancel_at_period_end",
                    RequestSpec::post(format!("v1/subscriptions/{id}"))
                        .form(vec![("cancel_at_period_end".into(), "true".into())]),
                )
                .await
                .map(drop),
        };
        match result {
            Err(e) if !is_not_found(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list_invoices(
        &self,
        customer_id: &str,
        limit: u8,
    ) -> Result<Vec<Invoice>, BillingError> {
        let req = RequestSpec::get("v1/invoices")
            .query("customer", customer_id)
            .query("limit", limit.clamp(1, 100).to_string());
        let page: ListWire<InvoiceWire> = self.http.send_json("invoice.list", req).await?;
        let mut invoices: Vec<Invoice> = page.data.into_iter().map(invoice).collect();
        invoices.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(invoices)
    }

    async fn list_recent_invoices(&self, limit: u8) -> Result<Vec<Invoice>, BillingError> {
        let req = RequestSpec::get("v1/invoices").query("limit", limit.clamp(1, 100).to_string());
        let page: ListWire<InvoiceWire> = self.http.send_json("invoice.list", req).await?;
        let mut invoices: Vec<Invoice> = page.data.into_iter().map(invoice).collect();
        invoices.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(invoices)
    }

    async fn create_setup_intent(&self, customer_id: &str) -> Result<SetupIntent, BillingError> {
        let form = Form::new()
            .set("customer", customer_id)
            .set("usage", "off_session")
            .set("payment_method_types[0]", "card");
        let wire: SetupIntentWire = self
            .post_form("setup_intent.create", "v1/setup_intents".into(), form, None)
            .await?;
        Ok(SetupIntent {
            id: wire.id,
            client_secret: Secret::new(wire.client_secret.ok_or(BillingError::Protocol {
                operation: "setup_intent.create",
                missing: "client_secret",
            })?),
            status: wire.status,
        })
    }

    async fn set_default_payment_method(
        &self,
        customer_id: &str,
        payment_method_id: &str,
    ) -> Result<(), BillingError> {
        let attach = Form::new().set("customer", customer_id);
        let _: PaymentMethodWire = self
            .post_form(
                "payment_method.attach",
                format!("v1/payment_methods/{payment_method_id}/attach"),
                attach,
                None,
            )
            .await?;
        let form = Form::new().set(
            "invoice_settings[default_payment_method]",
            payment_method_id,
        );
        let _: CustomerWire = self
            .post_form(
                "customer.update",
                format!("v1/customers/{customer_id}"),
                form,
                None,
            )
            .await?;
        Ok(())
    }

    async fn default_card(&self, customer_id: &str) -> Result<Option<CardSummary>, BillingError> {
        let Some(found) = self.get_customer(customer_id).await? else {
            return Ok(None);
        };
        let Some(pm) = found.default_payment_method else {
            return Ok(None);
        };
        let req = RequestSpec::get(format!("v1/payment_methods/{pm}"));
        let wire: PaymentMethodWire = match self.http.send_json("payment_method.get", req).await {
            Ok(wire) => wire,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(wire.card.and_then(|card| {
            Some(CardSummary {
                brand: card.brand?,
                last4: card.last4?,
            })
        }))
    }
}
