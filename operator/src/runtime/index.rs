//! What each controller's kind looks like right now, for metrics: one watch per kind keeps, per
//! object, its latest resourceVersion, its `Ready` status and whether it is suspended, and the
//! reconcile wrapper records the version each reconcile started on. From that come
//! `dezky_objects{kind,ready}`, `dezky_objects_suspended{kind}` and `dezky_queue_depth{controller}`.
//!
//! Queue depth, as measured here: the objects of a controller's kind whose latest change, as its
//! watch delivered it, no reconcile has started on yet (kube-runtime does not expose its scheduler;
//! this counts what its watch-triggered work queue holds, not timer requeues or related-kind
//! triggers). [`KindIndex`] is the pure bookkeeping; [`watch_kind`] feeds it from a watch.

use std::collections::{BTreeMap, HashMap, HashSet};

use dezky_crds::ConditionStatus;
use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};

use super::context::Context;
use super::metrics::Metrics;
use super::reconcile::Managed;

/// The `ready` label of an object: its `Ready` condition's status, `Unknown` before the first one.
pub fn ready_label(status: Option<&ConditionStatus>) -> &'static str {
    match status {
        Some(ConditionStatus::True) => "True",
        Some(ConditionStatus::False) => "False",
        _ => "Unknown",
    }
}

/// One object as the index knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry {
    /// The latest resourceVersion the watch delivered; `None` until the watch has seen it.
    seen: Option<String>,
    /// The resourceVersion the latest reconcile started on.
    started: Option<String>,
    ready: &'static str,
    suspended: bool,
}

/// `a` is a later version than `b`. Versions are opaque strings to clients; every server we
/// know (etcd, devcluster) writes increasing integers, which are compared as such, anything else
/// by inequality.
fn newer(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a != b,
    }
}

impl Entry {
    /// The watch delivered a change that no reconcile has started on yet.
    fn pending(&self) -> bool {
        match (&self.seen, &self.started) {
            (Some(_), None) => true,
            (Some(seen), Some(started)) => newer(seen, started),
            (None, _) => false,
        }
    }
}

/// The counts one kind contributes to the gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Objects by `ready` label (`True`, `False`, `Unknown`).
    pub by_ready: BTreeMap<&'static str, i64>,
    /// Objects with `spec.suspended: true`.
    pub suspended: i64,
    /// Objects whose latest watched change no reconcile has started on.
    pub pending: i64,
}

/// The pure bookkeeping of one kind: watch events and reconcile starts in, counts out.
#[derive(Debug, Default)]
pub struct KindIndex {
    entries: HashMap<String, Entry>,
    /// Keys seen since the watch began a relist (`Init`), to drop the others at `InitDone`.
    relisting: Option<HashSet<String>>,
    counts: KindCounts,
}

impl KindIndex {
    /// The counts now.
    pub fn counts(&self) -> &KindCounts {
        &self.counts
    }

    fn add(&mut self, entry: &Entry, sign: i64) {
        if entry.seen.is_some() {
            *self.counts.by_ready.entry(entry.ready).or_default() += sign;
            self.counts.suspended += sign * i64::from(entry.suspended);
        }
        self.counts.pending += sign * i64::from(entry.pending());
    }

    fn update(&mut self, key: &str, change: impl FnOnce(&mut Entry)) {
        let mut entry = self.entries.remove(key).unwrap_or_default();
        self.add(&entry, -1);
        change(&mut entry);
        self.add(&entry, 1);
        self.entries.insert(key.to_string(), entry);
    }

    /// The watch delivered `key` at `version` (an add, an update, or part of a relist).
    pub fn seen(&mut self, key: &str, version: &str, ready: &'static str, suspended: bool) {
        if let Some(relisting) = &mut self.relisting {
            relisting.insert(key.to_string());
        }
        self.update(key, |e| {
            e.seen = Some(version.to_string());
            e.ready = ready;
            e.suspended = suspended;
        });
    }

    /// The watch delivered the deletion of `key`.
    pub fn deleted(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.add(&entry, -1);
        }
    }

    /// A reconcile of `key` started on `version`.
    pub fn started(&mut self, key: &str, version: &str) {
        self.update(key, |e| e.started = Some(version.to_string()));
    }

    /// The watch (re)starts listing everything.
    pub fn relist_began(&mut self) {
        self.relisting = Some(HashSet::new());
    }

    /// The relist is complete: objects it did not deliver are gone.
    pub fn relist_done(&mut self) {
        let Some(listed) = self.relisting.take() else {
            return;
        };
        let gone: Vec<String> = self
            .entries
            .iter()
            .filter(|(k, e)| e.seen.is_some() && !listed.contains(*k))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.deleted(&key);
        }
    }
}

/// Watches kind `K` (reconciled by `controller`) and keeps its index in `metrics` current until
/// the watch stream ends; a failed watch is retried with backoff by the watcher itself.
pub async fn watch_kind<K: Managed>(client: Client, metrics: Metrics, controller: &'static str) {
    let api = K::api(client, None);
    let kind = K::kind(&()).into_owned();
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => metrics.index(controller, &kind, KindIndex::relist_began),
            Ok(Event::InitDone) => metrics.index(controller, &kind, KindIndex::relist_done),
            Ok(Event::Apply(obj) | Event::InitApply(obj)) => {
                let key = Context::key(&obj);
                let version = obj.resource_version().unwrap_or_default();
                let ready = ready_label(obj.ready());
                let suspended = obj.suspended();
                metrics.index(controller, &kind, |index| {
                    index.seen(&key, &version, ready, suspended);
                });
            }
            Ok(Event::Delete(obj)) => {
                let key = Context::key(&obj);
                metrics.index(controller, &kind, |index| index.deleted(&key));
            }
            Err(error) => {
                tracing::debug!(controller, %error, "the metrics watch failed; retrying");
            }
        }
    }
}

/// Watches every kind (see [`watch_kind`]) until dropped.
pub async fn watch_all(client: Client, metrics: Metrics) {
    use crate::controllers::{maildomain, member, partner, ssoapp, tenant};
    use dezky_crds::{MailDomain, Member, Partner, SsoApp, Tenant};
    futures::join!(
        watch_kind::<Partner>(client.clone(), metrics.clone(), partner::NAME),
        watch_kind::<Tenant>(client.clone(), metrics.clone(), tenant::NAME),
        watch_kind::<MailDomain>(client.clone(), metrics.clone(), maildomain::NAME),
        watch_kind::<Member>(client.clone(), metrics.clone(), member::NAME),
        watch_kind::<SsoApp>(client, metrics, ssoapp::NAME),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(index: &KindIndex, ready: &str) -> i64 {
        index.counts().by_ready.get(ready).copied().unwrap_or(0)
    }

    #[test]
    fn a_change_is_pending_until_a_reconcile_starts_on_it() {
        let mut index = KindIndex::default();
        index.seen("Member/a/x", "10", "Unknown", false);
        index.seen("Member/a/y", "11", "True", true);
        assert_eq!(index.counts().pending, 2);
        index.started("Member/a/x", "10");
        assert_eq!(index.counts().pending, 1);
        // a status write after the start is a new change: pending again
        index.seen("Member/a/x", "12", "True", false);
        assert_eq!(index.counts().pending, 2);
        index.started("Member/a/x", "12");
        index.started("Member/a/y", "11");
        assert_eq!(index.counts().pending, 0);
        assert_eq!(count(&index, "True"), 2);
        assert_eq!(count(&index, "Unknown"), 0);
        assert_eq!(index.counts().suspended, 1);
    }

    #[test]
    fn a_start_seen_before_the_watch_delivers_it_counts_nothing_pending() {
        let mut index = KindIndex::default();
        index.started("Tenant/-/acme", "7");
        assert_eq!(index.counts(), &KindCounts::default());
        // the watch lags behind the controller's own: the same version is not pending,
        // an older one is not either
        index.seen("Tenant/-/acme", "6", "Unknown", false);
        assert_eq!(index.counts().pending, 0);
        index.seen("Tenant/-/acme", "7", "False", false);
        assert_eq!(index.counts().pending, 0);
        assert_eq!(count(&index, "False"), 1);
    }

    #[test]
    fn deletions_and_relists_drop_objects_and_their_counts() {
        let mut index = KindIndex::default();
        index.seen("Partner/-/a", "1", "True", true);
        index.seen("Partner/-/b", "2", "False", false);
        index.seen("Partner/-/c", "3", "Unknown", false);
        index.deleted("Partner/-/b");
        assert_eq!(count(&index, "False"), 0);
        assert_eq!(index.counts().pending, 2);
        // a relist that no longer delivers `a` (deleted while the watch was down)
        index.relist_began();
        index.seen("Partner/-/c", "3", "Unknown", false);
        index.relist_done();
        assert_eq!(count(&index, "True"), 0);
        assert_eq!(count(&index, "Unknown"), 1);
        assert_eq!(index.counts().suspended, 0);
        assert_eq!(index.counts().pending, 1);
    }

    #[test]
    fn opaque_versions_compare_by_inequality() {
        assert!(newer("12", "9"));
        assert!(!newer("9", "12"));
        assert!(newer("b", "a"));
        assert!(!newer("a", "a"));
    }
}
