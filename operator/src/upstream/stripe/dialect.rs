//! The one place where the real Stripe API and localstripe differ, as far as this client cares.
//!
//! localstripe (the fake Stripe the tests run against) implements Plans but not Prices, has no
//! search API, does not know `pause_collection` and ignores metadata updates of subscriptions. Everything else the client sends is the same
//! for both. [`Dialect`] answers each difference; nothing outside this file branches on it.

use url::Url;

use super::wire::Form;

/// Which Stripe-compatible server the client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The real Stripe API: Prices, customer search, `pause_collection`.
    Stripe,
    /// localstripe: Plans only (a plan id stands where a price id would), no search (customers are
    /// found by listing them page by page), and no `pause_collection` (the pause is recorded in the
    /// customer's metadata instead, which is all a fake that never bills needs).
    Localstripe,
}

/// Customer metadata key naming the subscription whose collection is paused, on localstripe.
pub(crate) const LOCAL_PAUSE_KEY: &str = "dezky_pause_collection";

impl Dialect {
    /// The dialect of a base URL: `*.stripe.com` is Stripe; anything else (a loopback test server)
    /// is taken to be localstripe.
    pub fn for_base_url(url: &Url) -> Dialect {
        match url.host_str() {
            Some(host) if host == "stripe.com" || host.ends_with(".stripe.com") => Dialect::Stripe,
            _ => Dialect::Localstripe,
        }
    }

    /// Whether customers can be found by a metadata search.
    pub(crate) fn has_search(self) -> bool {
        self == Dialect::Stripe
    }

    /// The subscription item field that names what is billed: a Price on Stripe, a Plan on
    /// localstripe (Stripe still accepts plan ids as prices, so a catalogue of plan ids works on both).
    pub(crate) fn item_field(self, index: usize) -> String {
        match self {
            Dialect::Stripe => format!("items[{index}][price]"),
            Dialect::Localstripe => format!("items[{index}][plan]"),
        }
    }

    /// Where the pause of a subscription's collection is written, and with which fields:
    /// `pause_collection[behavior]=void` on the subscription for Stripe (an empty value resumes);
    /// for localstripe, which neither knows `pause_collection` nor updates a subscription's
    /// metadata, the paused subscription's id in its customer's metadata.
    pub(crate) fn pause_write(
        self,
        subscription_id: &str,
        customer_id: &str,
        paused: bool,
    ) -> (String, Form) {
        match self {
            Dialect::Stripe => {
                let form = if paused {
                    Form::new().set("pause_collection[behavior]", "void")
                } else {
                    Form::new().set("pause_collection", "")
                };
                (format!("v1/subscriptions/{subscription_id}"), form)
            }
            Dialect::Localstripe => (
                format!("v1/customers/{customer_id}"),
                Form::new().metadata(LOCAL_PAUSE_KEY, if paused { subscription_id } else { "" }),
            ),
        }
    }

    /// Whether reading a subscription's pause needs its customer's metadata (localstripe).
    pub(crate) fn pause_is_on_customer(self) -> bool {
        self == Dialect::Localstripe
    }

    /// Whether collection is paused: from the subscription's `pause_collection.behavior` (Stripe),
    /// or from the customer's pause metadata naming this subscription (localstripe).
    pub(crate) fn is_paused(
        self,
        subscription_id: &str,
        pause_behavior: Option<&str>,
        customer_pause_mark: Option<&str>,
    ) -> bool {
        match self {
            Dialect::Stripe => pause_behavior.is_some_and(|b| !b.is_empty()),
            Dialect::Localstripe => customer_pause_mark == Some(subscription_id),
        }
    }
}

/// One entry of the plan catalogue that must exist on the server (what `dezky dev` bills with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CataloguePrice {
    /// The id the catalogue names (`plans.<plan>.stripePriceId`).
    pub id: String,
    /// The product's name, as invoices show it.
    pub name: String,
    /// Per seat and month, in the currency's smallest unit.
    pub unit_amount: u64,
    /// ISO 4217, lower case (`eur`).
    pub currency: String,
}

impl Dialect {
    /// Where one catalogue entry is read: a Price on Stripe, a Plan on localstripe.
    pub(crate) fn catalogue_path(self, id: &str) -> String {
        match self {
            Dialect::Stripe => format!("v1/prices/{id}"),
            Dialect::Localstripe => format!("v1/plans/{id}"),
        }
    }

    /// How a missing catalogue entry is created with its own id: a monthly per-seat Plan on
    /// localstripe. `None` on Stripe, which assigns price ids itself: there the prices are made
    /// in the dashboard and their ids put into the configuration.
    pub(crate) fn catalogue_create(self, price: &CataloguePrice) -> Option<(String, Form)> {
        match self {
            Dialect::Stripe => None,
            Dialect::Localstripe => Some((
                "v1/plans".into(),
                Form::new()
                    .set("id", price.id.clone())
                    .set("amount", price.unit_amount.to_string())
                    .set("currency", price.currency.clone())
                    .set("interval", "month")
                    .set("product[name]", price.name.clone()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_decides() {
        let url = |s: &str| Url::parse(s).expect("url");
        assert_eq!(
            Dialect::for_base_url(&url("https://api.stripe.com")),
            Dialect::Stripe
        );
        assert_eq!(
            Dialect::for_base_url(&url("http://127.0.0.1:8420")),
            Dialect::Localstripe
        );
        assert_eq!(
            Dialect::for_base_url(&url("https://stripe.com.evil.test")),
            Dialect::Localstripe
        );
    }

    #[test]
    fn pausing_differs_and_reads_back() {
        let (path, form) = Dialect::Stripe.pause_write("sub_1", "cus_1", true);
        assert_eq!(path, "v1/subscriptions/sub_1");
        assert_eq!(
            form.into_fields(),
            vec![("pause_collection[behavior]".into(), "void".into())]
        );
        let (_, form) = Dialect::Stripe.pause_write("sub_1", "cus_1", false);
        assert_eq!(
            form.into_fields(),
            vec![("pause_collection".into(), String::new())]
        );
        let (path, form) = Dialect::Localstripe.pause_write("sub_1", "cus_1", true);
        assert_eq!(path, "v1/customers/cus_1");
        assert_eq!(
            form.into_fields(),
            vec![(format!("metadata[{LOCAL_PAUSE_KEY}]"), "sub_1".into())]
        );
        assert!(Dialect::Stripe.is_paused("sub_1", Some("void"), None));
        assert!(!Dialect::Stripe.is_paused("sub_1", None, Some("sub_1")));
        assert!(Dialect::Localstripe.is_paused("sub_1", None, Some("sub_1")));
        assert!(!Dialect::Localstripe.is_paused("sub_2", None, Some("sub_1")));
        assert!(!Dialect::Localstripe.is_paused("sub_1", None, Some("")));
        assert_eq!(Dialect::Stripe.item_field(0), "items[0][price]");
        assert_eq!(Dialect::Localstripe.item_field(0), "items[0][plan]");
    }

    #[test]
    fn the_catalogue_is_plans_on_localstripe_and_read_only_on_stripe() {
        let price = CataloguePrice {
            id: "dezky-business".into(),
            name: "Business".into(),
            unit_amount: 1200,
            currency: "eur".into(),
        };
        assert_eq!(
            Dialect::Stripe.catalogue_path("price_1"),
            "v1/prices/price_1"
        );
        assert_eq!(
            Dialect::Localstripe.catalogue_path("dezky-business"),
            "v1/plans/dezky-business"
        );
        assert_eq!(Dialect::Stripe.catalogue_create(&price), None);
        let (path, form) = Dialect::Localstripe
            .catalogue_create(&price)
            .expect("localstripe creates plans");
        assert_eq!(path, "v1/plans");
        let fields = form.into_fields();
        assert!(fields.contains(&("id".into(), "dezky-business".into())));
        assert!(fields.contains(&("amount".into(), "1200".into())));
        assert!(fields.contains(&("interval".into(), "month".into())));
    }
}
