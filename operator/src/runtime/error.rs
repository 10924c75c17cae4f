//! Typed errors of the runtime and of reconciles, their bounded categories, the condition a
//! failure shows as, and the requeue policy (permanent → wait for a change; transient →
//! per-object backoff honouring `Retry-After`).

use std::sync::Arc;
use std::time::Duration;

use dezky_crds::condition::{reasons, types};
use kube::Resource;
use kube::runtime::controller::Action;

use super::context::Context;
use crate::breaker::BreakerOpen;
use crate::conditions::Verdict;
use crate::upstream::authentik::IdentityError;
use crate::upstream::dns::DnsCheckError;
use crate::upstream::http::ErrorCategory;
use crate::upstream::ocis::FilesError;
use crate::upstream::stalwart::MailError;
use crate::upstream::stripe::BillingError;

/// A failure that stops the operator (at start, or when its servers fail).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Something could not be set up from the configuration.
    #[error("failed to set up {what}: {reason}")]
    Setup { what: String, reason: String },
    /// The Kubernetes API refused something the runtime needs.
    #[error("failed to {action} through the Kubernetes API: {source}")]
    Kube {
        action: &'static str,
        source: kube::Error,
    },
    /// The metrics and health server failed.
    #[error("failed to serve metrics and health on {address}: {source}")]
    Serve {
        address: String,
        source: std::io::Error,
    },
    /// Leader election failed.
    #[error("failed to take part in leader election: {0}")]
    Lease(String),
}

/// A failed reconcile. Messages name the upstream and operation; never a secret or a body.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Kubernetes API failed.
    #[error("failed to {action} through the Kubernetes API: {source}")]
    Kube {
        action: &'static str,
        source: kube::Error,
    },
    /// Authentik failed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Stalwart failed.
    #[error(transparent)]
    Mail(#[from] MailError),
    /// OCIS failed.
    #[error(transparent)]
    Files(#[from] FilesError),
    /// Stripe failed (an unpriced plan is a configuration problem: [`ReconcileError::Invalid`]).
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// A DNS lookup could not decide.
    #[error(transparent)]
    Dns(#[from] DnsCheckError),
    /// The deletion breaker is open.
    #[error(transparent)]
    Breaker(#[from] BreakerOpen),
    /// A dezky.io CRD is being deleted: nothing is deleted upstream.
    #[error("upstream deletion refused: the CRD {crd} is being deleted")]
    CrdDeleting { crd: String },
    /// The spec cannot be acted on until it changes (the message says why).
    #[error("{0}")]
    Invalid(String),
    /// Something this object needs is not there yet (e.g. its Tenant); retried with backoff.
    #[error("{0}")]
    Waiting(String),
    /// The finalizer helper failed (adding or removing the finalizer, or a nested reconcile error).
    #[error("{0}")]
    Finalizer(Box<kube::runtime::finalizer::Error<ReconcileError>>),
}

impl From<kube::Error> for ReconcileError {
    fn from(source: kube::Error) -> Self {
        ReconcileError::Kube {
            action: "call",
            source,
        }
    }
}

/// A bounded label for a Kubernetes API failure.
fn kube_category(error: &kube::Error) -> &'static str {
    match error {
        kube::Error::Api(status) => match status.code {
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            422 | 400 => "invalid",
            429 => "rate_limited",
            _ => "unavailable",
        },
        _ => "unavailable",
    }
}

impl ReconcileError {
    /// The innermost error, unwrapping the finalizer helper.
    pub fn inner(&self) -> &ReconcileError {
        use kube::runtime::finalizer::Error as F;
        match self {
            ReconcileError::Finalizer(boxed) => match boxed.as_ref() {
                F::ApplyFailed(e) | F::CleanupFailed(e) => e.inner(),
                _ => self,
            },
            other => other,
        }
    }

    /// The upstream that failed (`authentik`, `stalwart`, `ocis`, `stripe`, `dns`, `kubernetes`), or
    /// `operator`.
    pub fn upstream(&self) -> &'static str {
        match self.inner() {
            ReconcileError::Identity(_) => "authentik",
            ReconcileError::Mail(_) => "stalwart",
            ReconcileError::Files(_) => "ocis",
            ReconcileError::Billing(_) => "stripe",
            ReconcileError::Dns(_) => "dns",
            ReconcileError::Kube { .. } | ReconcileError::Finalizer(_) => "kubernetes",
            _ => "operator",
        }
    }

    /// A bounded category, for metric labels and event reasons.
    pub fn category(&self) -> &'static str {
        match self.inner() {
            ReconcileError::Identity(e) => e.category().as_str(),
            ReconcileError::Mail(e) => e.category().as_str(),
            ReconcileError::Files(e) => e.category().as_str(),
            ReconcileError::Billing(e) => e.category().as_str(),
            ReconcileError::Dns(_) => ErrorCategory::Unavailable.as_str(),
            ReconcileError::Kube { source, .. } => kube_category(source),
            ReconcileError::Breaker(_) => "breaker_open",
            ReconcileError::CrdDeleting { .. } => "crd_deleting",
            ReconcileError::Invalid(_) => "invalid",
            ReconcileError::Waiting(_) => "waiting",
            ReconcileError::Finalizer(_) => "finalizer",
        }
    }

    /// True when retrying cannot help until the spec or configuration changes (→ Stalled).
    pub fn is_permanent(&self) -> bool {
        match self.inner() {
            ReconcileError::Identity(e) => e.is_permanent(),
            ReconcileError::Mail(e) => e.is_permanent(),
            ReconcileError::Files(e) => e.is_permanent(),
            ReconcileError::Billing(e) => e.is_permanent(),
            ReconcileError::Invalid(_) => true,
            _ => false,
        }
    }

    /// How long the upstream asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.inner() {
            ReconcileError::Identity(IdentityError::Upstream(e)) => e.retry_after(),
            ReconcileError::Mail(MailError::Upstream(e)) => e.retry_after(),
            ReconcileError::Files(FilesError::Upstream(e)) => e.retry_after(),
            ReconcileError::Billing(e) => e.retry_after(),
            ReconcileError::Breaker(open) => Some(open.retry_in),
            _ => None,
        }
    }

    /// The CamelCase condition reason of this failure, naming the upstream's problem:
    /// `AdoptionRequired`, `NameTaken`, `PlanNotPriced`, `PaymentRequired`, `UpstreamUnavailable`,
    /// `UpstreamForbidden`, ...
    pub fn reason(&self) -> String {
        match self.inner() {
            ReconcileError::Identity(IdentityError::AdoptionRequired { .. })
            | ReconcileError::Mail(MailError::AdoptionRequired { .. })
            | ReconcileError::Files(FilesError::AdoptionRequired { .. }) => {
                reasons::ADOPTION_REQUIRED.into()
            }
            ReconcileError::Identity(IdentityError::NameTaken { .. })
            | ReconcileError::Mail(MailError::NameTaken { .. })
            | ReconcileError::Files(FilesError::NameTaken { .. }) => reasons::NAME_TAKEN.into(),
            ReconcileError::Billing(BillingError::PlanNotPriced { .. }) => {
                reasons::PLAN_NOT_PRICED.into()
            }
            ReconcileError::Billing(BillingError::PaymentRequired { .. }) => {
                reasons::PAYMENT_REQUIRED.into()
            }
            ReconcileError::Breaker(_) => "DeletionRateLimited".into(),
            ReconcileError::CrdDeleting { .. } => "CrdDeleting".into(),
            ReconcileError::Invalid(_) => "InvalidSpec".into(),
            ReconcileError::Waiting(_) => reasons::RECONCILING.into(),
            ReconcileError::Kube { .. } | ReconcileError::Finalizer(_) => "KubernetesError".into(),
            other => {
                let camel: String = other
                    .category()
                    .split('_')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                format!("Upstream{camel}")
            }
        }
    }

    /// The condition `type_` as this failure makes it: False, with the reason and a message
    /// naming the upstream and the operation.
    pub fn verdict(&self, type_: &'static str) -> Verdict {
        Verdict::failed(type_, self.reason(), format!("{}: {self}", self.upstream()))
    }

    /// The `Stalled` condition (True) for a permanent failure; `None` when retrying may help.
    pub fn stalled(&self) -> Option<Verdict> {
        self.is_permanent().then(|| Verdict {
            type_: types::STALLED,
            status: dezky_crds::ConditionStatus::True,
            reason: self.reason(),
            message: format!("{}: {self}", self.upstream()),
        })
    }
}

/// The requeue policy, shared by every controller: a permanent error waits for a change of the
/// object (re-checked at the resync interval); anything else backs off per object, never sooner
/// than an upstream's `Retry-After`.
pub fn error_policy<K: Resource<DynamicType = ()>>(
    controller: &'static str,
    obj: &K,
    error: &ReconcileError,
    ctx: &Arc<Context>,
) -> Action {
    let key = Context::key(obj);
    ctx.metrics.error(controller, error.category());
    if error.is_permanent() {
        ctx.backoffs.success(&key);
        tracing::warn!(object = %key, category = error.category(), %error, "reconcile stalled");
        ctx.metrics.set_in_backoff(ctx.backoffs.in_backoff());
        return Action::requeue(ctx.resync_interval());
    }
    let delay = ctx.backoffs.failure(&key, error.retry_after());
    ctx.metrics.set_in_backoff(ctx.backoffs.in_backoff());
    tracing::info!(object = %key, category = error.category(), retry_in = ?delay, %error, "reconcile failed, retrying");
    Action::requeue(delay)
}

/// Convenience for controllers: an error policy closure for `Controller::run`.
pub fn policy_for<K: Resource<DynamicType = ()>>(
    controller: &'static str,
) -> impl Fn(Arc<K>, &ReconcileError, Arc<Context>) -> Action {
    move |obj, error, ctx| error_policy(controller, obj.as_ref(), error, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::http::{ErrorDetail, UpstreamError};

    fn status(code: u16) -> UpstreamError {
        UpstreamError::Status {
            upstream: "authentik",
            operation: "group.create",
            status: code,
            detail: ErrorDetail::default(),
        }
    }

    #[test]
    fn outages_are_retried_and_named_after_the_upstream() {
        let e = ReconcileError::Files(FilesError::Upstream(UpstreamError::Unavailable {
            upstream: "ocis",
            operation: "space.list",
            reason: "connection refused".into(),
        }));
        assert!(!e.is_permanent());
        assert_eq!(e.upstream(), "ocis");
        assert_eq!(e.category(), "unavailable");
        assert_eq!(e.reason(), "UpstreamUnavailable");
        assert!(e.stalled().is_none());
        let v = e.verdict(types::FILES_READY);
        assert_eq!(v.status, dezky_crds::ConditionStatus::False);
        assert!(v.message.starts_with("ocis: "), "{}", v.message);
    }

    #[test]
    fn refusals_stall_and_rate_limits_carry_retry_after() {
        let forbidden = ReconcileError::Identity(IdentityError::Upstream(status(403)));
        assert!(forbidden.is_permanent());
        assert_eq!(forbidden.reason(), "UpstreamForbidden");
        let stalled = forbidden.stalled().expect("stalled");
        assert_eq!(stalled.status, dezky_crds::ConditionStatus::True);
        assert_eq!(stalled.type_, types::STALLED);

        let limited =
            ReconcileError::Identity(IdentityError::Upstream(UpstreamError::RateLimited {
                upstream: "authentik",
                operation: "group.list",
                retry_after: Some(Duration::from_secs(7)),
            }));
        assert!(!limited.is_permanent());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(limited.reason(), "UpstreamRateLimited");

        let taken = ReconcileError::Identity(IdentityError::NameTaken {
            kind: "group",
            name: "tenant-acme".into(),
        });
        assert_eq!(taken.reason(), reasons::NAME_TAKEN);
        let breaker = ReconcileError::Breaker(BreakerOpen {
            limit: 3,
            retry_in: Duration::from_secs(20),
        });
        assert!(!breaker.is_permanent());
        assert_eq!(breaker.retry_after(), Some(Duration::from_secs(20)));
    }

    #[test]
    fn stripe_failures_keep_their_category_stall_and_retry_after() {
        let limited = ReconcileError::Billing(BillingError::Upstream(UpstreamError::RateLimited {
            upstream: "stripe",
            operation: "subscription.update",
            retry_after: Some(Duration::from_secs(11)),
        }));
        assert_eq!(limited.upstream(), "stripe");
        assert_eq!(limited.category(), "rate_limited");
        assert!(!limited.is_permanent());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(11)));
        assert_eq!(limited.reason(), "UpstreamRateLimited");
        assert!(limited.stalled().is_none());

        let refused = ReconcileError::Billing(BillingError::Upstream(UpstreamError::Status {
            upstream: "stripe",
            operation: "customer.create",
            status: 401,
            detail: ErrorDetail::default(),
        }));
        assert_eq!(refused.category(), "unauthorized");
        assert!(refused.is_permanent());
        assert_eq!(refused.retry_after(), None);
        let stalled = refused.stalled().expect("stalled");
        assert_eq!(stalled.reason, "UpstreamUnauthorized");
        assert!(
            stalled.message.starts_with("stripe: "),
            "{}",
            stalled.message
        );

        let card = ReconcileError::Billing(BillingError::PaymentRequired {
            customer: "cus_1".into(),
        });
        assert_eq!(card.category(), "invalid");
        assert!(card.is_permanent());
        assert_eq!(card.reason(), reasons::PAYMENT_REQUIRED);
        let v = card.verdict(types::BILLING_READY);
        assert_eq!(v.reason, reasons::PAYMENT_REQUIRED);
        assert!(v.message.starts_with("stripe: "), "{}", v.message);

        let unpriced = ReconcileError::Billing(BillingError::PlanNotPriced {
            plan: "business".into(),
        });
        assert_eq!(unpriced.reason(), reasons::PLAN_NOT_PRICED);

        let items = ReconcileError::Billing(BillingError::UnexpectedItems {
            subscription: "sub_1".into(),
            items: 2,
        });
        assert_eq!(items.category(), "conflict");
        assert!(items.is_permanent());
        assert_eq!(items.reason(), "UpstreamConflict");
    }
}
