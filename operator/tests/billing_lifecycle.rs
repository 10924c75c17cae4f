//! Billing in the Tenant controller end to end: devcluster + simulators + localstripe (behind a
//! counting proxy) + the operator with billing on, all over real HTTP. Billing off (no
//! `BillingReady` at all) is covered in `tenant_lifecycle.rs`.

pub mod billing_support;
pub mod runtime_support;

use std::time::{Duration, Instant};

use billing_support::{
    CountingProxy, Localstripe, PRICE_BUSINESS, PRICE_ENTERPRISE, start_billing_operator,
};
use dezky_crds::Tenant;
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::stripe::{BillingClient, StripeClient, Subscription};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use runtime_support::{Harness, condition, is_ready};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(40);

fn tenant(name: &str, extra_spec: Value) -> Value {
    let mut spec = json!({
        "displayName": "Acme Corp",
        "plan": "business",
        "seats": 5,
        "storageQuota": "2Gi",
        "mailboxQuota": "1Gi",
        "billing": {"email": "billing@acme.test", "company": "Acme GmbH", "country": "DE"},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"apiVersion": "dezky.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name}, "spec": spec})
}

fn ready(t: &Tenant) -> bool {
    t.status
        .as_ref()
        .is_some_and(|s| is_ready(&s.conditions, t.metadata.generation))
}

/// (status, reason, message) of a condition, for the current generation only.
fn cond(t: &Tenant, type_: &str) -> Option<(String, String, String)> {
    let status = t.status.as_ref()?;
    let c = status.conditions.iter().find(|c| c.type_ == type_)?;
    (c.observed_generation == t.metadata.generation).then_some(())?;
    condition(&status.conditions, type_)
}

fn reason_is(t: &Tenant, type_: &str, status: &str, reason: &str) -> bool {
    cond(t, type_).is_some_and(|(s, r, _)| s == status && r == reason)
}

fn marker(t: &Tenant) -> Marker {
    Marker {
        installation: "test".into(),
        kind: "Tenant".into(),
        namespace: None,
        name: t.name_any(),
        uid: t.uid().unwrap_or_default(),
    }
}

/// The tenant's live subscription as localstripe holds it.
async fn subscription(stripe: &StripeClient, t: &Tenant) -> Subscription {
    let customer = stripe
        .find_customer(&marker(t))
        .await
        .expect("find customer")
        .expect("the tenant's customer");
    stripe
        .find_subscription(&customer.id, &marker(t))
        .await
        .expect("find subscription")
        .expect("a live subscription")
}

/// Polls the tenant's subscription until `check` holds.
async fn wait_subscription(
    stripe: &StripeClient,
    t: &Tenant,
    check: impl Fn(&Subscription) -> bool,
) -> Subscription {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = subscription(stripe, t).await;
        if check(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "subscription never matched: {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn event_reasons(h: &Harness, name: &str) -> Vec<String> {
    Api::<k8s_openapi::api::events::v1::Event>::namespaced(h.client.clone(), "default")
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.reason)
        .collect()
}

/// The tenant's OCIS space is disabled (trashed) in the simulator.
async fn space_disabled(h: &Harness, t: &Tenant) -> bool {
    let id = t
        .status
        .as_ref()
        .and_then(|s| s.files.as_ref())
        .and_then(|f| f.space_id.clone())
        .expect("space id");
    let dump = h.dump("ocis").await;
    let drive = dump["drives"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["id"].as_str() == Some(id.as_str())))
        .cloned()
        .expect("the space in the dump");
    drive["root"]["deleted"]["state"] == "trashed"
}

struct Setup {
    h: Harness,
    ls: Localstripe,
    proxy: CountingProxy,
    _secrets: tempfile::TempDir,
}

async fn setup() -> Setup {
    let ls = Localstripe::start();
    ls.catalogue().await;
    let proxy = CountingProxy::start(&ls.url).await;
    let mut h = Harness::start_with_resync("1s").await;
    let secrets = tempfile::tempdir().expect("secrets");
    let op = start_billing_operator(&h, &proxy.url, &secrets.path().to_path_buf()).await;
    h.operator = Some(op);
    Setup {
        h,
        ls,
        proxy,
        _secrets: secrets,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_converges_follows_seats_and_plan_and_idles_without_writes() {
    let Setup {
        mut h,
        ls,
        proxy,
        _secrets,
    } = setup().await;
    let stripe = ls.client();
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(&tenants, "acme", tenant("acme", json!({}))).await;
    let t = h
        .wait_for(&tenants, "acme", WAIT, |t| {
            ready(t) && reason_is(t, "BillingReady", "True", "Reconciled")
        })
        .await;
    let billing = t.status.clone().and_then(|s| s.billing).expect("billing");
    let sub = subscription(&stripe, &t).await;
    assert_eq!(
        billing.customer_id.as_deref(),
        Some(sub.customer_id.as_str())
    );
    assert_eq!(billing.subscription_id.as_deref(), Some(sub.id.as_str()));
    assert_eq!(
        billing.subscription_status.as_deref(),
        Some(sub.status.as_str())
    );
    assert_eq!(
        (sub.price_id.as_deref(), sub.quantity, sub.paused),
        (Some(PRICE_BUSINESS), 5, false)
    );
    let customer = stripe
        .get_customer(&sub.customer_id)
        .await
        .expect("get")
        .expect("customer");
    assert_eq!(
        (customer.name.as_deref(), customer.email.as_deref()),
        (Some("Acme GmbH"), Some("billing@acme.test"))
    );
    assert_eq!(customer.uid, t.uid());
    let reasons = event_reasons(&h, "acme").await;
    for reason in ["CustomerCreated", "SubscriptionCreated"] {
        assert!(reasons.iter().any(|r| r == reason), "{reason}: {reasons:?}");
    }

    // Idle passes: zero Stripe writes, zero Kubernetes writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stripe_writes = proxy.writes();
    let k8s_before = h.cluster.stats().writes;
    let passes = h.reconciles("tenant");
    let deadline = Instant::now() + WAIT;
    while h.reconciles("tenant") < passes + 2 {
        assert!(Instant::now() < deadline, "no resync happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        proxy.writes(),
        stripe_writes,
        "an idle pass wrote to Stripe"
    );
    assert_eq!(
        h.cluster.stats().writes,
        k8s_before,
        "an idle pass wrote to Kubernetes"
    );

    // A seat change is the subscription's quantity; a plan change its price.
    h.apply(&tenants, "acme", tenant("acme", json!({"seats": 8})))
        .await;
    let t = h.wait_for(&tenants, "acme", WAIT, ready).await;
    let resized = wait_subscription(&stripe, &t, |s| s.quantity == 8).await;
    assert_eq!(resized.id, sub.id, "the same subscription, changed");
    h.apply(
        &tenants,
        "acme",
        tenant("acme", json!({"seats": 8, "plan": "enterprise"})),
    )
    .await;
    let t = h.wait_for(&tenants, "acme", WAIT, ready).await;
    let moved = wait_subscription(&stripe, &t, |s| {
        s.price_id.as_deref() == Some(PRICE_ENTERPRISE)
    })
    .await;
    assert_eq!((moved.id.as_str(), moved.quantity), (sub.id.as_str(), 8));
    assert!(
        event_reasons(&h, "acme")
            .await
            .iter()
            .any(|r| r == "SubscriptionUpdated")
    );
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_pauses_collection_and_disables_the_space_until_resumed() {
    let Setup {
        mut h,
        ls,
        proxy,
        _secrets,
    } = setup().await;
    let stripe = ls.client();
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(&tenants, "acme", tenant("acme", json!({}))).await;
    let t = h.wait_for(&tenants, "acme", WAIT, ready).await;
    assert!(!space_disabled(&h, &t).await);

    h.apply(&tenants, "acme", tenant("acme", json!({"suspended": true})))
        .await;
    let t = h
        .wait_for(&tenants, "acme", WAIT, |t| {
            ready(t)
                && reason_is(t, "BillingReady", "True", "Suspended")
                && reason_is(t, "FilesReady", "True", "Suspended")
        })
        .await;
    assert!(subscription(&stripe, &t).await.paused, "collection paused");
    assert!(space_disabled(&h, &t).await, "the space is disabled");
    let reasons = event_reasons(&h, "acme").await;
    for reason in ["CollectionPaused", "SpaceDisabled"] {
        assert!(reasons.iter().any(|r| r == reason), "{reason}: {reasons:?}");
    }

    h.apply(&tenants, "acme", tenant("acme", json!({}))).await;
    let t = h
        .wait_for(&tenants, "acme", WAIT, |t| {
            ready(t)
                && reason_is(t, "BillingReady", "True", "Reconciled")
                && reason_is(t, "FilesReady", "True", "Reconciled")
        })
        .await;
    assert!(
        !subscription(&stripe, &t).await.paused,
        "collection resumed"
    );
    assert!(!space_disabled(&h, &t).await, "the space is back");
    let reasons = event_reasons(&h, "acme").await;
    for reason in ["CollectionResumed", "SpaceRestored"] {
        assert!(reasons.iter().any(|r| r == reason), "{reason}: {reasons:?}");
    }

    // Paused: the seat change is observed and reported, not made; unpaused, it is made.
    let mut paused = tenant("acme", json!({"seats": 9}));
    paused["metadata"]["annotations"] = json!({"dezky.io/paused": "true"});
    let writes = proxy.writes();
    h.apply(&tenants, "acme", paused).await;
    let t = h
        .wait_for(&tenants, "acme", WAIT, |t| {
            reason_is(t, "BillingReady", "False", "Paused")
        })
        .await;
    let (_, _, message) = cond(&t, "BillingReady").expect("condition");
    assert!(message.contains("subscription changed"), "{message}");
    assert_eq!(proxy.writes(), writes, "paused: no Stripe write");
    assert_eq!(subscription(&stripe, &t).await.quantity, 5);
    h.apply(&tenants, "acme", tenant("acme", json!({"seats": 9})))
        .await;
    let t = h.wait_for(&tenants, "acme", WAIT, ready).await;
    wait_subscription(&stripe, &t, |s| s.quantity == 9).await;
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_delete_ends_billing_and_orphan_keeps_it() {
    let Setup {
        mut h,
        ls,
        proxy: _proxy,
        _secrets,
    } = setup().await;
    let stripe = ls.client();
    let tenants: Api<Tenant> = Api::all(h.client.clone());
    h.apply(&tenants, "kept", tenant("kept", json!({}))).await;
    h.apply(
        &tenants,
        "gone",
        tenant("gone", json!({"deletionPolicy": "Delete"})),
    )
    .await;
    let kept = h.wait_for(&tenants, "kept", WAIT, ready).await;
    let gone = h.wait_for(&tenants, "gone", WAIT, ready).await;
    let kept_sub = subscription(&stripe, &kept).await;
    let gone_sub = subscription(&stripe, &gone).await;

    for name in ["kept", "gone"] {
        tenants
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }
    h.wait_gone(&tenants, "kept", WAIT).await;
    h.wait_gone(&tenants, "gone", WAIT).await;

    // Delete: the subscription is cancelled and the customer deleted.
    assert_eq!(
        stripe
            .get_customer(&gone_sub.customer_id)
            .await
            .expect("get"),
        None,
        "the Delete tenant's customer is deleted"
    );
    assert_eq!(
        stripe.find_customer(&marker(&gone)).await.expect("find"),
        None
    );
    // Orphan: both stay, untouched.
    let still = subscription(&stripe, &kept).await;
    assert_eq!(still, kept_sub, "the Orphan tenant's billing is untouched");
    h.stop_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpriced_plan_and_a_stripe_outage_are_conditions_not_crashes() {
    let Setup {
        mut h,
        ls,
        proxy,
        _secrets,
    } = setup().await;
    let stripe = ls.client();
    let tenants: Api<Tenant> = Api::all(h.client.clone());

    // starter has no price in the catalogue: a clear condition; the other parts converge.
    h.apply(
        &tenants,
        "small",
        tenant("small", json!({"plan": "starter"})),
    )
    .await;
    let t = h
        .wait_for(&tenants, "small", WAIT, |t| {
            reason_is(t, "BillingReady", "False", "PlanNotPriced")
                && reason_is(t, "FilesReady", "True", "Reconciled")
        })
        .await;
    let (_, _, message) = cond(&t, "BillingReady").expect("condition");
    assert!(
        message.contains("starter") && message.contains("plans.starter.stripePriceId"),
        "{message}"
    );
    assert!(!ready(&t), "Ready waits for billing when billing is on");
    assert_eq!(
        cond(&t, "Stalled").map(|(s, r, _)| (s, r)),
        Some(("True".into(), "PlanNotPriced".into()))
    );
    assert_eq!(stripe.find_customer(&marker(&t)).await.expect("find"), None);

    // An outage: the condition names Stripe and the reason; recovery needs no help.
    proxy.set_failing(true);
    h.apply(&tenants, "acme", tenant("acme", json!({}))).await;
    let t = h
        .wait_for(&tenants, "acme", WAIT, |t| {
            reason_is(t, "BillingReady", "False", "UpstreamUnavailable")
        })
        .await;
    let (_, _, message) = cond(&t, "BillingReady").expect("condition");
    assert!(message.starts_with("stripe: "), "{message}");
    assert!(!ready(&t));
    assert!(
        cond(&t, "Stalled").is_none(),
        "an outage is retried, not stalled"
    );
    proxy.set_failing(false);
    let t = h
        .wait_for(&tenants, "acme", WAIT, |t| {
            ready(t) && reason_is(t, "BillingReady", "True", "Reconciled")
        })
        .await;
    assert_eq!(subscription(&stripe, &t).await.quantity, 5);

    // Moving the tenant to a priced plan clears the condition and Stalled.
    h.apply(
        &tenants,
        "small",
        tenant("small", json!({"plan": "business"})),
    )
    .await;
    let t = h.wait_for(&tenants, "small", WAIT, ready).await;
    assert!(cond(&t, "Stalled").is_none());
    assert_eq!(
        subscription(&stripe, &t).await.price_id.as_deref(),
        Some(PRICE_BUSINESS)
    );
    h.stop_operator().await;
}
