//! In-memory snapshots of upstream collections, so that observation reads memory, not the upstream.
//!
//! A [`Snapshot`] holds one collection (Authentik users, Stalwart domains, OCIS spaces, ...) as
//! the upstream listed it by pages. It is loaded on first use and reloaded as a whole once its
//! resync interval (plus jitter) has passed; one load runs at a time, and readers that find the
//! snapshot stale wait for that load instead of starting their own. Between loads it is kept
//! fresh by the client's own writes: a create or update puts the upstream's answer in, a delete
//! takes the entry out. Writes made while a load is in flight are replayed onto its result, so a
//! list read before our write never hides it.
//!
//! Entries are found by id or by lookup keys (`name:<name>`, `marker:<key>`, ...) through an index.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use super::http::UpstreamMetrics;

/// How often snapshots are reloaded from the upstream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnapshotSettings {
    /// A snapshot older than this is reloaded before it is read.
    pub resync: Duration,
    /// Random spread added to each resync, as a fraction of it (0..=1).
    pub jitter: f64,
}

impl SnapshotSettings {
    /// The default resync interval.
    pub const DEFAULT_RESYNC: Duration = Duration::from_secs(300);

    /// Settings that reload the snapshots twice per object resync `interval`, so a resync pass
    /// never observes upstream state older than half its interval (at most the default).
    pub fn for_object_resync(interval: Duration) -> Self {
        Self {
            resync: (interval / 2).clamp(Duration::from_secs(1), Self::DEFAULT_RESYNC),
            ..Self::default()
        }
    }

    fn next_expiry(&self, now: Instant) -> Instant {
        let spread = self.resync.as_secs_f64() * self.jitter.clamp(0.0, 1.0);
        let jitter = if spread > 0.0 {
            rand::rng().random_range(0.0..=spread)
        } else {
            0.0
        };
        now + self.resync + Duration::from_secs_f64(jitter)
    }
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        Self {
            resync: Self::DEFAULT_RESYNC,
            jitter: 0.1,
        }
    }
}

/// An object a snapshot can hold: a stable id and the keys it is looked up by.
pub trait Keyed: Clone + Send + Sync + 'static {
    /// The upstream's id of the object (unique in its collection).
    fn id(&self) -> String;
    /// Lookup keys, each prefixed by what it is (`name:acme`); several objects may share one.
    fn lookup_keys(&self) -> Vec<String>;
}

enum Change<T> {
    Put(T),
    Remove(String),
}

struct State<T> {
    entries: HashMap<String, T>,
    index: HashMap<String, BTreeSet<String>>,
    /// `None` until the first successful load, and after [`Snapshot::invalidate`].
    fresh_until: Option<Instant>,
    /// Set while a load runs: our writes are recorded to be replayed onto its result.
    loading: bool,
    pending: Vec<Change<T>>,
}

impl<T: Keyed> State<T> {
    fn put(&mut self, item: T) {
        let id = item.id();
        self.unindex(&id);
        for key in item.lookup_keys() {
            self.index.entry(key).or_default().insert(id.clone());
        }
        self.entries.insert(id, item);
    }

    fn remove(&mut self, id: &str) {
        self.unindex(id);
        self.entries.remove(id);
    }

    fn unindex(&mut self, id: &str) {
        if let Some(old) = self.entries.get(id) {
            for key in old.lookup_keys() {
                if let Some(ids) = self.index.get_mut(&key) {
                    ids.remove(id);
                    if ids.is_empty() {
                        self.index.remove(&key);
                    }
                }
            }
        }
    }

    fn apply(&mut self, change: Change<T>) {
        match change {
            Change::Put(item) => self.put(item),
            Change::Remove(id) => self.remove(&id),
        }
    }
}

struct Shared<T> {
    upstream: &'static str,
    collection: &'static str,
    settings: SnapshotSettings,
    metrics: UpstreamMetrics,
    state: Mutex<State<T>>,
    /// Held by the one load in flight.
    loader: tokio::sync::Mutex<()>,
}

/// One upstream collection held in memory. Cheap to clone (shared).
#[derive(Clone)]
pub struct Snapshot<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("upstream", &self.shared.upstream)
            .field("collection", &self.shared.collection)
            .finish_non_exhaustive()
    }
}

/// Ends a load: on drop (also when the load's future is dropped) the pending writes stop
/// being recorded.
struct LoadGuard<'a, T: Keyed> {
    snapshot: &'a Snapshot<T>,
}

impl<T: Keyed> Drop for LoadGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.snapshot.lock();
        state.loading = false;
        state.pending.clear();
    }
}

impl<T: Keyed> Snapshot<T> {
    /// An empty snapshot of `collection` (a static, bounded label such as `users`) of `upstream`.
    pub fn new(
        upstream: &'static str,
        collection: &'static str,
        settings: SnapshotSettings,
        metrics: UpstreamMetrics,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                upstream,
                collection,
                settings,
                metrics,
                state: Mutex::new(State {
                    entries: HashMap::new(),
                    index: HashMap::new(),
                    fresh_until: None,
                    loading: false,
                    pending: Vec::new(),
                }),
                loader: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_fresh(&self) -> bool {
        self.lock()
            .fresh_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// Loads the snapshot through `load` (which reads every page) when it was never loaded or
    /// its resync interval has passed; otherwise does nothing. While one load runs, other
    /// callers wait for it and then use its result.
    pub async fn ensure<E, F, Fut>(&self, load: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, E>>,
    {
        if self.is_fresh() {
            return Ok(());
        }
        let _loading = self.shared.loader.lock().await;
        if self.is_fresh() {
            return Ok(());
        }
        self.load_locked(load).await
    }

    /// Reloads the snapshot now, whatever its age (one load at a time).
    pub async fn reload<E, F, Fut>(&self, load: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, E>>,
    {
        let _loading = self.shared.loader.lock().await;
        self.load_locked(load).await
    }

    async fn load_locked<E, F, Fut>(&self, load: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, E>>,
    {
        {
            let mut state = self.lock();
            state.loading = true;
            state.pending.clear();
        }
        let guard = LoadGuard { snapshot: self };
        let started = Instant::now();
        let result = load().await;
        let (upstream, collection) = (self.shared.upstream, self.shared.collection);
        let metrics = &self.shared.metrics;
        metrics.snapshot_refresh_duration(upstream, collection, started.elapsed());
        match result {
            Ok(items) => {
                let count = {
                    let mut state = self.lock();
                    state.entries.clear();
                    state.index.clear();
                    for item in items {
                        state.put(item);
                    }
                    let pending = std::mem::take(&mut state.pending);
                    for change in pending {
                        state.apply(change);
                    }
                    state.fresh_until = Some(self.shared.settings.next_expiry(Instant::now()));
                    state.entries.len()
                };
                metrics.snapshot_refreshed(upstream, collection, "success");
                metrics.snapshot_objects(upstream, collection, count);
                tracing::debug!(upstream, collection, count, "upstream snapshot loaded");
                drop(guard);
                Ok(())
            }
            Err(error) => {
                metrics.snapshot_refreshed(upstream, collection, "error");
                drop(guard);
                Err(error)
            }
        }
    }

    /// Marks the snapshot stale: the next [`ensure`](Self::ensure) reloads it.
    pub fn invalidate(&self) {
        self.lock().fresh_until = None;
    }

    /// True once a load has succeeded (and no invalidation happened since).
    pub fn is_loaded(&self) -> bool {
        self.lock().fresh_until.is_some()
    }

    /// Puts (or replaces) an object, e.g. from a write's answer or a live re-read.
    pub fn put(&self, item: T) {
        let count = {
            let mut state = self.lock();
            if state.loading {
                state.pending.push(Change::Put(item.clone()));
            }
            state.put(item);
            state.entries.len()
        };
        self.count_changed(count);
    }

    /// Takes an object out (deleted, or found gone).
    pub fn remove(&self, id: &str) {
        let count = {
            let mut state = self.lock();
            if state.loading {
                state.pending.push(Change::Remove(id.to_owned()));
            }
            state.remove(id);
            state.entries.len()
        };
        self.count_changed(count);
    }

    /// Changes one object in place, when it is held.
    pub fn modify(&self, id: &str, change: impl FnOnce(&mut T)) {
        let item = self.lock().entries.get(id).cloned();
        if let Some(mut item) = item {
            change(&mut item);
            self.put(item);
        }
    }

    fn count_changed(&self, count: usize) {
        self.shared
            .metrics
            .snapshot_objects(self.shared.upstream, self.shared.collection, count);
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<T> {
        self.lock().entries.get(id).cloned()
    }

    /// The objects with this lookup key, in id order.
    pub fn find(&self, key: &str) -> Vec<T> {
        let state = self.lock();
        state
            .index
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|id| state.entries.get(id).cloned())
            .collect()
    }

    /// The first object (in id order) with this lookup key.
    pub fn find_one(&self, key: &str) -> Option<T> {
        self.find(key).into_iter().next()
    }

    /// Every object held, in no particular order.
    pub fn all(&self) -> Vec<T> {
        self.lock().entries.values().cloned().collect()
    }

    /// How many objects are held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Item {
        id: u32,
        name: String,
    }

    impl Keyed for Item {
        fn id(&self) -> String {
            self.id.to_string()
        }
        fn lookup_keys(&self) -> Vec<String> {
            vec![format!("name:{}", self.name)]
        }
    }

    fn item(id: u32, name: &str) -> Item {
        Item {
            id,
            name: name.into(),
        }
    }

    fn snapshot(resync: Duration) -> Snapshot<Item> {
        Snapshot::new(
            "test",
            "items",
            SnapshotSettings {
                resync,
                jitter: 0.0,
            },
            UpstreamMetrics::default(),
        )
    }

    #[tokio::test]
    async fn loads_once_while_fresh_and_indexes_by_key() {
        let s = snapshot(Duration::from_secs(60));
        let loads = &AtomicUsize::new(0);
        for _ in 0..3 {
            s.ensure(|| async move {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(vec![item(1, "a"), item(2, "b")])
            })
            .await
            .unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(s.find_one("name:b"), Some(item(2, "b")));
        s.put(item(2, "c"));
        assert!(
            s.find("name:b").is_empty(),
            "a renamed entry leaves its old key"
        );
        assert_eq!(s.find_one("name:c"), Some(item(2, "c")));
        s.remove("2");
        assert!(s.find("name:c").is_empty());
        assert_eq!(s.len(), 1);
    }

    #[tokio::test]
    async fn a_stale_snapshot_reloads_and_a_failed_load_keeps_it_stale() {
        let s = snapshot(Duration::from_millis(20));
        s.ensure(|| async { Ok::<_, ()>(vec![item(1, "a")]) })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(
            s.ensure(|| async { Err::<Vec<Item>, _>("down") }).await,
            Err("down")
        );
        assert_eq!(s.len(), 1, "the old entries stay after a failed load");
        s.ensure(|| async { Ok::<_, ()>(vec![item(3, "c")]) })
            .await
            .unwrap();
        assert_eq!(s.get("1"), None);
        assert_eq!(s.get("3"), Some(item(3, "c")));
    }

    #[tokio::test]
    async fn concurrent_readers_wait_for_the_one_load() {
        let s = snapshot(Duration::from_secs(60));
        let loads = Arc::new(AtomicUsize::new(0));
        let readers = (0..8).map(|_| {
            let (s, loads) = (s.clone(), loads.clone());
            tokio::spawn(async move {
                let counter = loads.clone();
                s.ensure(|| async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    Ok::<_, ()>(vec![item(1, "a")])
                })
                .await
                .unwrap();
                s.get("1")
            })
        });
        for reader in readers.collect::<Vec<_>>() {
            assert_eq!(reader.await.unwrap(), Some(item(1, "a")));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn writes_during_a_load_survive_its_older_list() {
        let s = snapshot(Duration::from_secs(60));
        let writer = s.clone();
        s.reload(|| async move {
            // the list was read before these writes reached the upstream
            writer.put(item(9, "new"));
            writer.remove("1");
            Ok::<_, ()>(vec![item(1, "a"), item(2, "b")])
        })
        .await
        .unwrap();
        assert_eq!(s.get("9"), Some(item(9, "new")));
        assert_eq!(s.get("1"), None);
        assert_eq!(s.get("2"), Some(item(2, "b")));
    }
}
