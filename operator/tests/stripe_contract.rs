//! Contract tests of the Stripe client against localstripe over real HTTP: customer and
//! subscription lifecycle, adoption by marker, plan and seat changes, suspension (paused
//! collection), cancellation, invoices, the SetupIntent flow and the default card.
//!
//! Each test starts its own localstripe with `scripts/localstripe` (installing it into
//! target/py-venv when missing) and fails when it cannot.

use std::path::PathBuf;
use std::process::Command;

use dezky_operator::upstream::http::{
    Auth, ErrorCategory, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics,
};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::stripe::converge::{BillingStep, DesiredBilling, converge, release};
use dezky_operator::upstream::stripe::{
    BillingClient, BillingError, CancelMode, CustomerSpec, Dialect, StripeClient, SubscriptionSpec,
};
use serde_json::Value;

const API_KEY: &str = "sk_test_dezky";

/// One localstripe process, stopped on drop.
struct Localstripe {
    dir: tempfile::TempDir,
    url: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/localstripe")
}

impl Localstripe {
    fn start() -> Localstripe {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
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
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected url {url:?}"
        );
        Localstripe { dir, url }
    }

    fn client_with_key(&self, key: &str) -> StripeClient {
        self.client_with_metrics(key, UpstreamMetrics::default())
    }

    fn client_with_metrics(&self, key: &str, metrics: UpstreamMetrics) -> StripeClient {
        let http = UpstreamHttp::new(
            "stripe",
            self.url.parse().expect("url"),
            Auth::Bearer(Secret::new(key)),
            UpstreamLimits::default(),
            metrics,
        )
        .expect("http");
        StripeClient::new(http)
    }

    fn client(&self) -> StripeClient {
        self.client_with_key(API_KEY)
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(API_KEY)
            .form(form)
            .send()
            .await
            .expect("send");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }

    /// A per-seat monthly plan (localstripe has Plans, not Prices).
    async fn plan(&self, id: &str, cents: &str) {
        self.post(
            "/v1/plans",
            &[
                ("id", id),
                ("amount", cents),
                ("currency", "eur"),
                ("interval", "month"),
                ("product[name]", id),
            ],
        )
        .await;
    }

    /// A card payment method, as Stripe.js would create it in the browser.
    async fn card(&self) -> String {
        let pm = self
            .post(
                "/v1/payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", "4242424242424242"),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2034"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        pm["id"].as_str().expect("pm id").to_string()
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn tenant(installation: &str, name: &str, uid: &str) -> Marker {
    Marker {
        installation: installation.into(),
        kind: "Tenant".into(),
        namespace: None,
        name: name.into(),
        uid: uid.into(),
    }
}

fn customer_spec(name: &str) -> CustomerSpec {
    CustomerSpec {
        name: name.into(),
        email: Some("billing@acme.test".into()),
        country: Some("DE".into()),
        description: "Dezky tenant acme".into(),
    }
}

fn seats(plan: &str, quantity: u64) -> SubscriptionSpec {
    SubscriptionSpec {
        price_id: plan.into(),
        quantity,
        trial_days: None,
    }
}

#[tokio::test]
async fn customer_lifecycle_with_adoption_by_marker() {
    let ls = Localstripe::start();
    let client = ls.client();
    assert_eq!(client.dialect(), Dialect::Localstripe);
    let acme = tenant("test", "acme", "uid-1");

    assert_eq!(client.find_customer(&acme).await.expect("find"), None);
    let created = client
        .create_customer(&customer_spec("Acme Corp"), &acme)
        .await
        .expect("create");
    assert!(created.id.starts_with("cus_"), "{}", created.id);
    assert_eq!(created.marker.as_deref(), Some(acme.key().as_str()));
    assert_eq!(created.uid.as_deref(), Some("uid-1"));
    assert_eq!(created.country.as_deref(), Some("DE"));

    // a lost status (or a restore from Git with a new UID) adopts, never duplicates
    let restored = tenant("test", "acme", "uid-2");
    let adopted = client
        .create_customer(&customer_spec("Acme Corp"), &restored)
        .await
        .expect("adopt");
    assert_eq!(adopted.id, created.id);
    // another tenant, or the same tenant of another installation, is never matched
    assert_eq!(
        client
            .find_customer(&tenant("test", "other", "uid-3"))
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        client
            .find_customer(&tenant("staging", "acme", "uid-1"))
            .await
            .expect("find"),
        None
    );
    let other = client
        .create_customer(&customer_spec("Other"), &tenant("test", "other", "uid-3"))
        .await
        .expect("create");
    assert_ne!(other.id, created.id);
    // a customer made by hand is not listed as ours
    ls.post("/v1/customers", &[("email", "hand@made.test")])
        .await;
    let listed = client.list_customers().await.expect("list");
    let mut ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    let mut want = vec![created.id.as_str(), other.id.as_str()];
    want.sort();
    assert_eq!(ids, want);

    // updates write only what changed
    let (same, wrote) = client
        .update_customer(&created, &customer_spec("Acme Corp"))
        .await
        .expect("noop");
    assert!(!wrote);
    assert_eq!(same, created);
    let mut changed = customer_spec("Acme Corporation");
    changed.email = Some("invoices@acme.test".into());
    changed.country = Some("AT".into());
    let (updated, wrote) = client
        .update_customer(&created, &changed)
        .await
        .expect("update");
    assert!(wrote);
    let fetched = client
        .get_customer(&created.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(fetched, updated);
    assert_eq!(
        (
            fetched.name.as_deref(),
            fetched.email.as_deref(),
            fetched.country.as_deref()
        ),
        (
            Some("Acme Corporation"),
            Some("invoices@acme.test"),
            Some("AT")
        )
    );
    // the marker survives an update
    assert_eq!(fetched.marker.as_deref(), Some(acme.key().as_str()));

    client.delete_customer(&created.id).await.expect("delete");
    assert_eq!(client.get_customer(&created.id).await.expect("get"), None);
    client
        .delete_customer(&created.id)
        .await
        .expect("deleting what is gone is success");
    assert_eq!(client.find_customer(&acme).await.expect("find"), None);
}

#[tokio::test]
async fn subscription_lifecycle_plan_and_seat_changes() {
    let ls = Localstripe::start();
    ls.plan("business", "1200").await;
    ls.plan("enterprise", "2400").await;
    let client = ls.client();
    let acme = tenant("test", "acme", "uid-1");
    let customer = client
        .create_customer(&customer_spec("Acme Corp"), &acme)
        .await
        .expect("customer");
    let card = ls.card().await;
    client
        .set_default_payment_method(&customer.id, &card)
        .await
        .expect("default card");

    assert_eq!(
        client
            .find_subscription(&customer.id, &acme)
            .await
            .expect("find"),
        None
    );
    let sub = client
        .create_subscription(&customer.id, &seats("business", 5), &acme)
        .await
        .expect("create");
    assert!(sub.id.starts_with("sub_"));
    assert_eq!(sub.status, "active");
    assert_eq!(
        (sub.price_id.as_deref(), sub.quantity),
        (Some("business"), 5)
    );
    assert_eq!(sub.marker.as_deref(), Some(acme.key().as_str()));
    assert!(!sub.paused);
    // creating again adopts
    let again = client
        .create_subscription(&customer.id, &seats("business", 5), &acme)
        .await
        .expect("adopt");
    assert_eq!(again.id, sub.id);
    assert_eq!(
        client
            .list_subscriptions(&customer.id)
            .await
            .expect("list")
            .len(),
        1
    );

    // the first invoice: 5 seats at 12.00
    let invoices = client
        .list_invoices(&customer.id, 10)
        .await
        .expect("invoices");
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    assert_eq!(
        (invoices[0].total, invoices[0].status.as_deref()),
        (6000, Some("paid"))
    );
    assert_eq!(
        invoices[0].subscription_id.as_deref(),
        Some(sub.id.as_str())
    );
    // the console's platform-wide view holds it too
    let recent = client.list_recent_invoices(10).await.expect("recent");
    assert_eq!(recent, invoices);

    // seat change
    let (unchanged, wrote) = client
        .update_subscription(&sub, &seats("business", 5))
        .await
        .expect("noop");
    assert!(!wrote);
    assert_eq!(unchanged, sub);
    let (more_seats, wrote) = client
        .update_subscription(&sub, &seats("business", 7))
        .await
        .expect("seats");
    assert!(wrote);
    assert_eq!(
        (more_seats.price_id.as_deref(), more_seats.quantity),
        (Some("business"), 7)
    );
    // plan change
    let (upgraded, wrote) = client
        .update_subscription(&more_seats, &seats("enterprise", 7))
        .await
        .expect("plan");
    assert!(wrote);
    let observed = client
        .find_subscription(&customer.id, &acme)
        .await
        .expect("find")
        .expect("live");
    assert_eq!(observed, upgraded);
    assert_eq!(
        (observed.price_id.as_deref(), observed.quantity),
        (Some("enterprise"), 7)
    );
    assert_eq!(observed.id, sub.id);
    // an unknown price is refused, and nothing changes
    let err = client
        .update_subscription(&observed, &seats("no-such-plan", 7))
        .await
        .expect_err("unknown plan");
    assert_eq!(err.category(), ErrorCategory::NotFound, "{err}");

    // deletion per deletionPolicy: cancel at period end, then immediately
    client
        .cancel_subscription(&sub.id, CancelMode::AtPeriodEnd)
        .await
        .expect("at period end");
    let ending = client
        .find_subscription(&customer.id, &acme)
        .await
        .expect("find")
        .expect("still live");
    assert!(ending.cancel_at_period_end);
    client
        .cancel_subscription(&sub.id, CancelMode::Immediately)
        .await
        .expect("cancel");
    assert_eq!(
        client
            .find_subscription(&customer.id, &acme)
            .await
            .expect("find"),
        None
    );
    let all = client.list_subscriptions(&customer.id).await.expect("list");
    assert_eq!(all.len(), 1);
    assert!(all[0].is_ended(), "{:?}", all[0]);
    client
        .cancel_subscription(&sub.id, CancelMode::Immediately)
        .await
        .expect("cancelling what ended is success");
    client
        .cancel_subscription("sub_doesnotexist", CancelMode::Immediately)
        .await
        .expect("gone is success");

    // a tenant billed again gets a new subscription, not the ended one
    let renewed = client
        .create_subscription(&customer.id, &seats("business", 2), &acme)
        .await
        .expect("renew");
    assert_ne!(renewed.id, sub.id);
    assert_eq!(renewed.quantity, 2);
}

#[tokio::test]
async fn suspension_pauses_and_resumes_collection() {
    let ls = Localstripe::start();
    ls.plan("business", "1200").await;
    let client = ls.client();
    let acme = tenant("test", "acme", "uid-1");
    let customer = client
        .create_customer(&customer_spec("Acme Corp"), &acme)
        .await
        .expect("customer");
    // a trial needs no card
    let spec = SubscriptionSpec {
        trial_days: Some(14),
        ..seats("business", 3)
    };
    let sub = client
        .create_subscription(&customer.id, &spec, &acme)
        .await
        .expect("create");
    // Stripe says `trialing`, localstripe `incomplete`; either way it is live and issued no invoice
    assert!(!sub.is_ended(), "{sub:?}");
    assert_eq!(
        client
            .list_invoices(&customer.id, 10)
            .await
            .expect("invoices"),
        vec![]
    );

    let (paused, wrote) = client
        .set_collection_paused(&sub, true)
        .await
        .expect("pause");
    assert!(wrote && paused.paused);
    let observed = client
        .find_subscription(&customer.id, &acme)
        .await
        .expect("find")
        .expect("live");
    assert!(
        observed.paused,
        "the pause is visible to a fresh observation"
    );
    let (_, wrote) = client
        .set_collection_paused(&observed, true)
        .await
        .expect("pause again");
    assert!(!wrote, "pausing what is paused writes nothing");
    // seats still change while suspended, and the pause stays
    let (resized, _) = client
        .update_subscription(&observed, &seats("business", 4))
        .await
        .expect("seats");
    assert!(resized.paused && resized.quantity == 4);

    let (resumed, wrote) = client
        .set_collection_paused(&resized, false)
        .await
        .expect("resume");
    assert!(wrote && !resumed.paused);
    let observed = client
        .find_subscription(&customer.id, &acme)
        .await
        .expect("find")
        .expect("live");
    assert!(!observed.paused);
    assert_eq!(observed.quantity, 4);
}

#[tokio::test]
async fn setup_intent_and_default_card() {
    let ls = Localstripe::start();
    let client = ls.client();
    let acme = tenant("test", "acme", "uid-1");
    let customer = client
        .create_customer(&customer_spec("Acme Corp"), &acme)
        .await
        .expect("customer");
    assert_eq!(client.default_card(&customer.id).await.expect("card"), None);

    let intent = client
        .create_setup_intent(&customer.id)
        .await
        .expect("setup intent");
    assert!(intent.id.starts_with("seti_"));
    assert_eq!(intent.status, "requires_payment_method");
    assert!(
        intent
            .client_secret
            .expose()
            .starts_with(&format!("{}_secret", intent.id))
    );
    assert!(
        !format!("{intent:?}").contains(intent.client_secret.expose()),
        "the client secret never prints"
    );

    // the browser confirms it with Stripe.js and the card it collected
    let confirmed = ls
        .post(
            &format!("/v1/setup_intents/{}/confirm", intent.id),
            &[
                ("client_secret", intent.client_secret.expose()),
                ("payment_method_data[type]", "card"),
                ("payment_method_data[card][number]", "4000056655665556"),
                ("payment_method_data[card][exp_month]", "4"),
                ("payment_method_data[card][exp_year]", "2033"),
                ("payment_method_data[card][cvc]", "314"),
            ],
        )
        .await;
    assert_eq!(confirmed["status"], "succeeded");
    let pm = confirmed["payment_method"]
        .as_str()
        .expect("pm")
        .to_string();

    client
        .set_default_payment_method(&customer.id, &pm)
        .await
        .expect("set default");
    let card = client
        .default_card(&customer.id)
        .await
        .expect("card")
        .expect("a default card");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("visa", "5556"));
    let raw = ls.get(&format!("/v1/customers/{}", customer.id)).await;
    assert_eq!(
        raw["invoice_settings"]["default_payment_method"],
        pm.as_str()
    );
}

#[tokio::test]
async fn refusals_are_typed_and_never_leak_the_key() {
    let ls = Localstripe::start();
    let bad_key = "not-a-secret-key-hunter2";
    let client = ls.client_with_key(bad_key);
    let err = client
        .find_customer(&tenant("test", "acme", "uid"))
        .await
        .expect_err("unauthorized");
    assert_eq!(err.category(), ErrorCategory::Unauthorized, "{err}");
    assert!(err.is_permanent());
    assert!(!format!("{err} {err:?}").contains("hunter2"));

    let client = ls.client();
    let acme = tenant("test", "acme", "uid-1");
    let customer = client
        .create_customer(&customer_spec("Acme Corp"), &acme)
        .await
        .expect("customer");
    // a plan that is not in Stripe
    let err = client
        .create_subscription(
            &customer.id,
            &SubscriptionSpec {
                trial_days: Some(1),
                ..seats("missing", 1)
            },
            &acme,
        )
        .await
        .expect_err("unknown plan");
    assert!(matches!(err, BillingError::Upstream(_)), "{err:?}");
    assert_eq!(err.category(), ErrorCategory::NotFound);
    assert_eq!(
        client
            .find_subscription(&customer.id, &acme)
            .await
            .expect("find"),
        None
    );
}

/// Successful writes counted by the HTTP layer's metrics.
fn writes(metrics: &UpstreamMetrics) -> u64 {
    [
        "customer.create",
        "customer.update",
        "subscription.create",
        "subscription.update",
        "subscription.pause",
        "subscription.resume",
        "subscription.cancel",
    ]
    .into_iter()
    .map(|op| metrics.requests("stripe", op, "success"))
    .sum()
}

#[tokio::test]
async fn converging_a_tenant_is_idempotent_and_follows_its_spec() {
    let ls = Localstripe::start();
    ls.plan("business", "1200").await;
    let metrics = UpstreamMetrics::default();
    let client = ls.client_with_metrics(API_KEY, metrics.clone());
    let acme = tenant("test", "acme", "uid-1");
    let desired = |seats: i32, suspended: bool| {
        let mut d =
            DesiredBilling::for_tenant("acme", "Acme Corp", None, "business", seats, suspended);
        // localstripe charges at once and refuses without a card; a trial needs none
        d.subscription.trial_days = Some(30);
        d
    };

    let first = converge(&client, &acme, None, &desired(5, false))
        .await
        .expect("converge");
    assert_eq!(
        first.steps,
        vec![BillingStep::CreateCustomer, BillingStep::CreateSubscription]
    );
    let status = first.status();
    assert_eq!(
        status.customer_id.as_deref(),
        Some(first.customer.id.as_str())
    );
    assert_eq!(first.subscription.quantity, 5);

    // a steady state reads and writes nothing
    let before = writes(&metrics);
    let again = converge(&client, &acme, Some(&status), &desired(5, false))
        .await
        .expect("steady");
    assert_eq!(again.steps, vec![]);
    assert_eq!(writes(&metrics), before);
    // a lost status adopts by marker, without creating anything
    let adopted = converge(&client, &acme, None, &desired(5, false))
        .await
        .expect("adopt");
    assert_eq!(
        (adopted.steps.clone(), adopted.status()),
        (vec![], status.clone())
    );
    assert_eq!(writes(&metrics), before);

    // seats, suspension and resumption
    let resized = converge(&client, &acme, Some(&status), &desired(9, false))
        .await
        .expect("seats");
    assert_eq!(resized.steps, vec![BillingStep::UpdateSubscription]);
    assert_eq!(resized.subscription.quantity, 9);
    let suspended = converge(&client, &acme, Some(&status), &desired(9, true))
        .await
        .expect("suspend");
    assert_eq!(suspended.steps, vec![BillingStep::PauseCollection]);
    let still = converge(&client, &acme, Some(&status), &desired(9, true))
        .await
        .expect("steady");
    assert_eq!(still.steps, vec![]);
    let resumed = converge(&client, &acme, Some(&status), &desired(9, false))
        .await
        .expect("resume");
    assert_eq!(resumed.steps, vec![BillingStep::ResumeCollection]);

    // deletion with deletionPolicy Delete ends the subscription and deletes the customer
    let released = release(&client, &acme, Some(&status))
        .await
        .expect("release");
    assert_eq!(released.cancelled, vec![first.subscription.id.clone()]);
    assert_eq!(
        released.deleted_customer.as_deref(),
        Some(first.customer.id.as_str())
    );
    let twice = release(&client, &acme, Some(&status))
        .await
        .expect("releasing twice is success");
    assert_eq!(twice, Default::default(), "nothing left to release");
    assert_eq!(client.find_customer(&acme).await.expect("find"), None);
    assert_eq!(
        client.get_customer(&first.customer.id).await.expect("get"),
        None
    );
    // re-created later (a new object, a new UID), it is billed again on a new customer
    let acme_again = tenant("test", "acme", "uid-2");
    let back = converge(&client, &acme_again, Some(&status), &desired(2, false))
        .await
        .expect("again");
    assert_eq!(
        back.steps,
        vec![BillingStep::CreateCustomer, BillingStep::CreateSubscription]
    );
    assert_ne!(back.customer.id, first.customer.id);
    assert_ne!(back.subscription.id, first.subscription.id);
}
