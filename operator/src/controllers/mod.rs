//! The controllers, one per kind, and how the runtime starts them.
//!
//! # Contract between a controller module and the runtime
//!
//! Every kind's module (`partner`, `tenant`, `maildomain`, `member`, `ssoapp`) exposes
//!
//! ```ignore
//! pub const NAME: &str = "member";          // the controller's label in metrics, its field manager is `dezky-member`
//! pub fn controller(ctx: Arc<Context>) -> BoxFuture<'static, ()>;
//! ```
//!
//! `controller` builds a `kube::runtime::Controller` for its kind (plus `.watches(...)` for
//! cross-references), configured with [`controller_config`] and
//! `.graceful_shutdown_on(ctx.shutdown_signal())`, and runs it with
//!
//! - reconcile: `|obj, ctx| runtime::reconcile(ctx, NAME, obj, apply, cleanup)`: the wrapper adds
//!   the finalizer `dezky.io/cleanup`, times the pass, resets the object's backoff on success;
//!   `cleanup` runs once the object is being deleted and the finalizer is removed when it
//!   returns `Ok`. Before deleting anything upstream, call `ctx.allow_upstream_delete().await?`
//!   (CRD-deletion guard + breaker); a cleanup that finds `ctx.crd_being_deleted()` orphans.
//! - error policy: `runtime::policy_for::<Kind>(NAME)` (permanent → wait for a change;
//!   transient → per-object backoff honouring Retry-After).
//! - status: build the whole status, set conditions with `runtime::settle_conditions` (or
//!   `conditions::set`), and write it with `runtime::write_status(&ctx, &field_manager(NAME), &obj, &status)`:
//!   nothing is written when it is unchanged. On an upstream error, put `error.verdict(type)` in
//!   the part's condition and `error.stalled()` in Stalled, write status, then return the error.
//! - events: `ctx.event(&*obj, EventType::Normal, "GroupCreated", "Create", note)` for each upstream change.
//! - success: return `Ok(ctx.resync())` (the configured resync with jitter).
//!
//! and the stream is drained with [`drain`]. [`all`] lists every controller the runtime runs.

pub mod maildomain;
pub mod member;
pub mod partner;
pub mod ssoapp;
pub mod tenant;

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use kube::runtime::controller::Config as ControllerConfig;

use crate::runtime::Context;

/// The field manager of a controller's writes (status, namespaces): `dezky-<name>`.
pub fn field_manager(controller: &str) -> String {
    format!("dezky-{controller}")
}

/// The kube-runtime controller settings every controller uses (bounded concurrency).
pub fn controller_config(ctx: &Context) -> ControllerConfig {
    ControllerConfig::default().concurrency(ctx.config.operator.concurrency)
}

/// Drives a controller's output stream to its end, logging each reconcile's outcome.
pub async fn drain<S, T, E>(controller: &'static str, stream: S)
where
    S: futures::Stream<Item = Result<T, E>>,
    T: std::fmt::Debug,
    E: std::fmt::Display,
{
    stream
        .for_each(|result| async move {
            match result {
                Ok(done) => tracing::debug!(controller, ?done, "reconciled"),
                Err(error) => tracing::debug!(controller, %error, "reconcile failed"),
            }
        })
        .await;
}

/// Every controller, ready to be polled; they stop when `ctx.shutdown_signal()` fires.
pub fn all(ctx: Arc<Context>) -> Vec<BoxFuture<'static, ()>> {
    vec![
        partner::controller(ctx.clone()),
        tenant::controller(ctx.clone()),
        maildomain::controller(ctx.clone()),
        member::controller(ctx.clone()),
        ssoapp::controller(ctx),
    ]
}
