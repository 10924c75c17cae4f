//! localstripe for the billing tests: one process per test (started with `scripts/localstripe`,
//! stopped on drop), and the few calls the tests make to seed it as Stripe's users would.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The API key the tests use (localstripe accepts any `sk_...`).
pub const STRIPE_KEY: &str = "sk_test_billing";

/// One localstripe process, stopped on drop.
pub struct Localstripe {
    dir: PathBuf,
    pub url: String,
    http: reqwest::Client,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/localstripe")
}

impl Localstripe {
    pub fn start(dir: PathBuf) -> Localstripe {
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .arg("--watch-pid")
            .arg(std::process::id().to_string())
            .output()
            .expect("run scripts/localstripe");
        assert!(
            out.status.success(),
            "scripts/localstripe could not start localstripe:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Localstripe {
            dir,
            url,
            http: reqwest::Client::new(),
        }
    }

    /// A form POST to localstripe; its JSON answer.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(STRIPE_KEY)
            .form(form)
            .send()
            .await
            .expect("send");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(STRIPE_KEY)
            .send()
            .await
            .expect("send");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.expect("json")
    }

    pub async fn delete(&self, path: &str) {
        let r = self
            .http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(STRIPE_KEY)
            .send()
            .await
            .expect("send");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// The per-seat plan the tenants subscribe to (12.00 EUR a month).
    pub async fn plan(&self) {
        self.post(
            "/v1/plans",
            &[
                ("id", "business"),
                ("amount", "1200"),
                ("currency", "eur"),
                ("interval", "month"),
                ("product[name]", "Business"),
            ],
        )
        .await;
    }

    /// A customer; with a card when `card` is given.
    pub async fn customer(&self, email: &str, card: Option<&str>) -> String {
        let mut form = vec![("email", email.to_owned())];
        if let Some(number) = card {
            let pm = self
                .post(
                    "/v1/payment_methods",
                    &[
                        ("type", "card"),
                        ("card[number]", number),
                        ("card[exp_month]", "12"),
                        ("card[exp_year]", "2034"),
                        ("card[cvc]", "123"),
                    ],
                )
                .await["id"]
                .as_str()
                .expect("pm")
                .to_owned();
            form.push(("payment_method", pm.clone()));
            form.push(("invoice_settings[default_payment_method]", pm));
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post("/v1/customers", &pairs).await["id"]
            .as_str()
            .expect("customer")
            .to_owned()
    }

    /// A subscription of `seats` seats on the business plan (its first invoice is paid when the
    /// customer has a card); the subscription id.
    pub async fn subscribe(&self, customer: &str, seats: &str) -> String {
        self.post(
            "/v1/subscriptions",
            &[
                ("customer", customer),
                ("items[0][plan]", "business"),
                ("items[0][quantity]", seats),
            ],
        )
        .await["id"]
            .as_str()
            .expect("subscription")
            .to_owned()
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}
