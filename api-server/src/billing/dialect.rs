//! The one place where the real Stripe API and localstripe differ, as far as the api-server's
//! billing reads care. Nothing outside this file branches on the server kind.
//!
//! - A SetupIntent created for a customer attaches the card it collects to that customer on
//!   Stripe; localstripe only records the payment method on the SetupIntent, so the card is
//!   attached explicitly there.
//! - On Stripe a card is entered in the browser with Stripe.js and never reaches us. localstripe
//!   serves no usable Stripe.js to our pages (and our pages load no third-party script), so in
//!   development the server confirms the SetupIntent itself with Stripe's public test card; the
//!   real Stripe refuses raw card numbers, and this path is refused before it is sent there.

use reqwest::Url;

/// Which Stripe-compatible server the api-server talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The real Stripe API.
    Stripe,
    /// localstripe, the fake Stripe of the tests and `dezky dev`.
    Localstripe,
}

/// Stripe's public test card (Visa), the only card number this code ever sends.
const TEST_CARD: [(&str, &str); 5] = [
    ("payment_method_data[type]", "card"),
    ("payment_method_data[card][number]", "4242424242424242"),
    ("payment_method_data[card][exp_month]", "12"),
    ("payment_method_data[card][exp_year]", "2034"),
    ("payment_method_data[card][cvc]", "123"),
];

impl Dialect {
    /// The dialect of a base URL: `*.stripe.com` is Stripe; anything else is taken to be
    /// localstripe (a loopback or development server).
    pub fn for_base_url(url: &str) -> Dialect {
        let host = Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        match host.as_deref() {
            Some(h) if h == "stripe.com" || h.ends_with(".stripe.com") => Dialect::Stripe,
            _ => Dialect::Localstripe,
        }
    }

    /// Whether a succeeded SetupIntent's payment method must still be attached to the customer.
    pub fn attach_after_setup(self) -> bool {
        self == Dialect::Localstripe
    }

    /// The form that confirms a SetupIntent server-side with the test card; `None` on Stripe,
    /// where cards are entered with Stripe.js in the browser only.
    pub fn test_card_confirmation(self) -> Option<Vec<(String, String)>> {
        match self {
            Dialect::Stripe => None,
            Dialect::Localstripe => Some(
                TEST_CARD
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
        }
    }

    /// A word for the UI and the API: `stripe` or `localstripe`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Stripe => "stripe",
            Dialect::Localstripe => "localstripe",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_decides() {
        assert_eq!(
            Dialect::for_base_url("https://api.stripe.com"),
            Dialect::Stripe
        );
        assert_eq!(
            Dialect::for_base_url("http://127.0.0.1:8420"),
            Dialect::Localstripe
        );
        assert_eq!(
            Dialect::for_base_url("https://stripe.com.evil.test"),
            Dialect::Localstripe
        );
    }

    #[test]
    fn only_localstripe_is_sent_a_card_number_or_an_attach() {
        assert!(Dialect::Stripe.test_card_confirmation().is_none());
        assert!(!Dialect::Stripe.attach_after_setup());
        let form = Dialect::Localstripe
            .test_card_confirmation()
            .expect("localstripe");
        assert!(
            form.iter()
                .any(|(k, v)| k.ends_with("[number]") && v.ends_with("4242"))
        );
        assert!(Dialect::Localstripe.attach_after_setup());
    }
}
