//! Durable object storage in SQLite with one global revision counter, plus the in-memory event
//! history and broadcast that feed watches.
//!
//! Every committed change bumps the revision; the new revision is the object's
//! `metadata.resourceVersion`. SQLite runs in WAL mode with `synchronous=NORMAL`: a transaction is
//! in the WAL file before `COMMIT` returns, so an acknowledged write survives the process being
//! killed (power loss may roll back the last few transactions; this is a development server).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::errors::ApiError;

mod txn;
pub use txn::Txn;

/// Where an object lives: storage is keyed by group and plural resource, not by version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjKey {
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub fn new(group: &str, resource: &str, namespace: &str, name: &str) -> ObjKey {
        ObjKey {
            group: group.to_string(),
            resource: resource.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change, as watchers see it.
#[derive(Debug)]
pub struct WatchEvent {
    pub rv: i64,
    pub kind: EventType,
    pub key: ObjKey,
    pub object: Arc<Value>,
    /// The stored JSON before a MODIFIED change, so selector watches can tell objects that
    /// stopped (or started) matching.
    pub previous: Option<Arc<str>>,
}

/// Errors opening or using the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open the state database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("failed to query the state database: {0}")]
    Sql(#[from] rusqlite::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::internal(format!("storage error: {e}"))
    }
}

struct Inner {
    conn: Connection,
    rev: i64,
    history: VecDeque<Arc<WatchEvent>>,
    /// Every event with `rv > floor` is in `history`.
    floor: i64,
    cap: usize,
}

/// Counters a test can read to assert e.g. "an idle pass makes zero writes".
#[derive(Debug, Default)]
pub struct Counters {
    pub writes: AtomicU64,
    pub noop_writes: AtomicU64,
}

/// The object store.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<WatchEvent>>,
    pub counters: Counters,
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    pub rev: i64,
    /// `(namespace, name)` of the last item when more items remain.
    pub next: Option<(String, String)>,
}

/// One page of a list, as stored JSON text.
#[derive(Debug)]
pub struct RawPage {
    pub items: Vec<String>,
    pub rev: i64,
    pub next: Option<(String, String)>,
}

/// The list query for each combination, each one an index range scan.
fn list_sql(namespaced: bool, after: bool) -> &'static str {
    match (namespaced, after) {
        (true, false) => {
            "SELECT ns, name, body FROM objects WHERE grp = ?1 AND res = ?2 AND ns = ?3 ORDER BY name"
        }
        (true, true) => {
            "SELECT ns, name, body FROM objects WHERE grp = ?1 AND res = ?2 AND ns = ?3 AND name > ?4 ORDER BY name"
        }
        (false, false) => {
            "SELECT ns, name, body FROM objects WHERE grp = ?1 AND res = ?2 ORDER BY ns, name"
        }
        (false, true) => {
            "SELECT ns, name, body FROM objects WHERE grp = ?1 AND res = ?2 AND (ns, name) > (?3, ?4) ORDER BY ns, name"
        }
    }
}

fn list_query<'s>(
    stmt: &'s mut rusqlite::CachedStatement<'_>,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    after: Option<(&str, &str)>,
) -> Result<rusqlite::Rows<'s>, ApiError> {
    Ok(match (namespace, after) {
        (Some(ns), None) => stmt.query(params![group, resource, ns])?,
        // Within one namespace a continue token's namespace is that namespace.
        (Some(ns), Some((_, name))) => stmt.query(params![group, resource, ns, name])?,
        (None, None) => stmt.query(params![group, resource])?,
        (None, Some((a_ns, name))) => stmt.query(params![group, resource, a_ns, name])?,
    })
}

/// What a watch starts from: the events after its resourceVersion, then the live feed.
pub struct Subscription {
    pub backlog: Vec<Arc<WatchEvent>>,
    pub rx: broadcast::Receiver<Arc<WatchEvent>>,
    pub rev: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS objects (
    grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, uid TEXT NOT NULL, deleting INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL,
    PRIMARY KEY (grp, res, ns, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_uid ON objects(uid);
CREATE INDEX IF NOT EXISTS objects_ns ON objects(ns);
CREATE INDEX IF NOT EXISTS objects_deleting ON objects(deleting) WHERE deleting = 1;
CREATE TABLE IF NOT EXISTS owner_refs (
    owner_uid TEXT NOT NULL, grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (owner_uid, grp, res, ns, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
";

impl Store {
    /// Open (or create) the database; `history` bounds the watch event history.
    pub fn open(path: &Path, history: usize) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "busy_timeout", 5000)
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        let rev: i64 = conn
            .query_row("SELECT v FROM meta WHERE k = 'rev'", [], |r| r.get(0))
            .optional()
            .map_err(open_err)?
            .unwrap_or(0);
        let (tx, _) = broadcast::channel(16384);
        Ok(Store {
            inner: Mutex::new(Inner {
                conn,
                rev,
                history: VecDeque::new(),
                floor: rev,
                cap: history.max(1),
            }),
            tx,
            counters: Counters::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves SQLite consistent (the transaction rolls back).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current global revision.
    pub fn rev(&self) -> i64 {
        self.lock().rev
    }

    /// The oldest revision a watch can resume from.
    pub fn floor(&self) -> i64 {
        self.lock().floor
    }

    pub fn get(&self, key: &ObjKey) -> Result<Option<Value>, ApiError> {
        let inner = self.lock();
        txn::get_in(&inner.conn, key)
    }

    /// List objects of one resource, optionally in one namespace, in (namespace, name) order,
    /// starting after `after`, keeping those `keep` accepts, at most `limit` of them.
    pub fn list(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        after: Option<(&str, &str)>,
        limit: Option<usize>,
        mut keep: impl FnMut(&Value) -> bool,
    ) -> Result<Page, ApiError> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare_cached(list_sql(namespace.is_some(), after.is_some()))?;
        let mut rows = list_query(&mut stmt, group, resource, namespace, after)?;
        let mut items = Vec::new();
        let mut last: Option<(String, String)> = None;
        let mut next = None;
        while let Some(row) = rows.next()? {
            let body: String = row.get(2)?;
            let v: Value = serde_json::from_str(&body)
                .map_err(|e| ApiError::internal(format!("corrupt stored object: {e}")))?;
            if !keep(&v) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                next = last.clone();
                break;
            }
            last = Some((row.get(0)?, row.get(1)?));
            items.push(v);
        }
        Ok(Page {
            items,
            rev: inner.rev,
            next,
        })
    }

    /// The stored JSON of every object of one resource (optionally in one namespace), in
    /// (namespace, name) order, unparsed: the fast path for unfiltered lists.
    pub fn list_raw(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        after: Option<(&str, &str)>,
        limit: Option<usize>,
    ) -> Result<RawPage, ApiError> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare_cached(list_sql(namespace.is_some(), after.is_some()))?;
        let mut rows = list_query(&mut stmt, group, resource, namespace, after)?;
        let mut items = Vec::new();
        let mut next = None;
        let mut last: Option<(String, String)> = None;
        while let Some(row) = rows.next()? {
            if limit.is_some_and(|l| items.len() >= l) {
                next = last.clone();
                break;
            }
            last = Some((row.get(0)?, row.get(1)?));
            items.push(row.get::<_, String>(2)?);
        }
        Ok(RawPage {
            items,
            rev: inner.rev,
            next,
        })
    }

    /// Run a write transaction. On success it commits, records the events in the history and
    /// publishes them to watchers, all under the store lock so watches see one ordered stream.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Txn<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let sql_tx = inner.conn.transaction()?;
        let mut txn = Txn::new(sql_tx, inner.rev);
        let out = f(&mut txn)?;
        let (rev, events) = txn.commit()?;
        inner.rev = rev;
        self.counters
            .writes
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        for ev in events {
            let ev = Arc::new(ev);
            inner.history.push_back(ev.clone());
            while inner.history.len() > inner.cap {
                if let Some(old) = inner.history.pop_front() {
                    inner.floor = old.rv;
                }
            }
            // No receivers is fine: nobody is watching.
            let _ = self.tx.send(ev);
        }
        Ok(out)
    }

    /// Start a watch after `rv` (`None`: from now). 410 if `rv` is older than the history.
    pub fn subscribe(&self, rv: Option<i64>) -> Result<Subscription, ApiError> {
        let inner = self.lock();
        let rx = self.tx.subscribe();
        let backlog = match rv {
            None => Vec::new(),
            Some(rv) if rv < inner.floor => return Err(ApiError::expired(rv, inner.floor + 1)),
            Some(rv) => inner
                .history
                .iter()
                .filter(|e| e.rv > rv)
                .cloned()
                .collect(),
        };
        Ok(Subscription {
            backlog,
            rx,
            rev: inner.rev,
        })
    }

    /// Note a write that changed nothing (kept for the stats).
    pub fn note_noop(&self) {
        self.counters.noop_writes.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns", "uid": name}})
    }

    #[test]
    fn revisions_survive_reopen_and_history_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let s = Store::open(&path, 3).unwrap();
            for i in 0..5 {
                let name = format!("c{i}");
                s.write(|t| t.put(&ObjKey::new("", "configmaps", "ns", &name), obj(&name)))
                    .unwrap();
            }
            assert_eq!(s.rev(), 5);
            assert_eq!(s.floor(), 2);
            assert!(s.subscribe(Some(1)).is_err());
            assert_eq!(s.subscribe(Some(2)).unwrap().backlog.len(), 3);
        }
        let s = Store::open(&path, 3).unwrap();
        assert_eq!(s.rev(), 5);
        let got = s
            .get(&ObjKey::new("", "configmaps", "ns", "c4"))
            .unwrap()
            .unwrap();
        assert_eq!(got["metadata"]["resourceVersion"], "5");
        let page = s
            .list("", "configmaps", Some("ns"), None, Some(2), |_| true)
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next, Some(("ns".into(), "c1".into())));
        let rest = s
            .list(
                "",
                "configmaps",
                Some("ns"),
                Some(("ns", "c1")),
                None,
                |_| true,
            )
            .unwrap();
        assert_eq!(rest.items.len(), 3);
    }

    #[test]
    fn failed_transactions_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.db"), 10).unwrap();
        let r: Result<(), ApiError> = s.write(|t| {
            t.put(&ObjKey::new("", "configmaps", "ns", "a"), obj("a"))?;
            Err(ApiError::bad_request("no"))
        });
        assert!(r.is_err());
        assert_eq!(s.rev(), 0);
        assert!(
            s.get(&ObjKey::new("", "configmaps", "ns", "a"))
                .unwrap()
                .is_none()
        );
    }
}
