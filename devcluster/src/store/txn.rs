//! A write transaction on the store: reads see its own writes; each write takes the next revision.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Value, json};
use std::sync::Arc;

use super::{EventType, ObjKey, WatchEvent};
use crate::errors::ApiError;

pub struct Txn<'a> {
    tx: Transaction<'a>,
    rev: i64,
    events: Vec<WatchEvent>,
}

pub(super) fn get_in(conn: &Connection, key: &ObjKey) -> Result<Option<Value>, ApiError> {
    let body: Option<String> = conn
        .prepare_cached(
            "SELECT body FROM objects WHERE grp = ?1 AND res = ?2 AND ns = ?3 AND name = ?4",
        )?
        .query_row(
            params![key.group, key.resource, key.namespace, key.name],
            |r| r.get(0),
        )
        .optional()?;
    body.map(|b| {
        serde_json::from_str(&b)
            .map_err(|e| ApiError::internal(format!("corrupt stored object: {e}")))
    })
    .transpose()
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r["uid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl<'a> Txn<'a> {
    pub(super) fn new(tx: Transaction<'a>, rev: i64) -> Txn<'a> {
        Txn {
            tx,
            rev,
            events: Vec::new(),
        }
    }

    pub(super) fn commit(self) -> Result<(i64, Vec<WatchEvent>), ApiError> {
        if !self.events.is_empty() {
            self.tx.execute(
                "INSERT INTO meta (k, v) VALUES ('rev', ?1) ON CONFLICT(k) DO UPDATE SET v = ?1",
                [self.rev],
            )?;
        }
        self.tx.commit()?;
        Ok((self.rev, self.events))
    }

    /// The revision the next write will get.
    pub fn next_rev(&self) -> i64 {
        self.rev + 1
    }

    pub fn get(&self, key: &ObjKey) -> Result<Option<Value>, ApiError> {
        get_in(&self.tx, key)
    }

    /// Store `obj` under `key` with the next revision as its resourceVersion; returns it.
    pub fn put(&mut self, key: &ObjKey, mut obj: Value) -> Result<Value, ApiError> {
        let previous: Option<String> = self
            .tx
            .prepare_cached(
                "SELECT body FROM objects WHERE grp = ?1 AND res = ?2 AND ns = ?3 AND name = ?4",
            )?
            .query_row(
                params![key.group, key.resource, key.namespace, key.name],
                |r| r.get(0),
            )
            .optional()?;
        self.rev += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rev.to_string());
        let uid = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let deleting = obj
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|d| !d.is_null());
        let body = serde_json::to_string(&obj).map_err(|e| ApiError::internal(e.to_string()))?;
        self.tx
            .prepare_cached(
                "INSERT INTO objects (grp, res, ns, name, rv, uid, deleting, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(grp, res, ns, name) DO UPDATE SET rv = ?5, uid = ?6, deleting = ?7, body = ?8",
            )?
            .execute(params![key.group, key.resource, key.namespace, key.name, self.rev, uid, deleting as i64, body])?;
        self.set_owner_refs(key, &owner_uids(&obj))?;
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.events.push(WatchEvent {
            rv: self.rev,
            kind,
            key: key.clone(),
            object: Arc::new(obj.clone()),
            previous: previous.map(Arc::from),
        });
        Ok(obj)
    }

    /// Remove the object; watchers get a DELETED event carrying `last` at a new revision.
    pub fn delete(&mut self, key: &ObjKey, mut last: Value) -> Result<Value, ApiError> {
        let n = self
            .tx
            .prepare_cached(
                "DELETE FROM objects WHERE grp = ?1 AND res = ?2 AND ns = ?3 AND name = ?4",
            )?
            .execute(params![key.group, key.resource, key.namespace, key.name])?;
        if n == 0 {
            return Ok(last);
        }
        self.set_owner_refs(key, &[])?;
        self.rev += 1;
        last["metadata"]["resourceVersion"] = json!(self.rev.to_string());
        self.events.push(WatchEvent {
            rv: self.rev,
            kind: EventType::Deleted,
            key: key.clone(),
            object: Arc::new(last.clone()),
            previous: None,
        });
        Ok(last)
    }

    fn set_owner_refs(&mut self, key: &ObjKey, uids: &[String]) -> Result<(), ApiError> {
        self.tx
            .prepare_cached(
                "DELETE FROM owner_refs WHERE grp = ?1 AND res = ?2 AND ns = ?3 AND name = ?4",
            )?
            .execute(params![key.group, key.resource, key.namespace, key.name])?;
        for uid in uids {
            self.tx
                .prepare_cached("INSERT OR IGNORE INTO owner_refs (owner_uid, grp, res, ns, name) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![uid, key.group, key.resource, key.namespace, key.name])?;
        }
        Ok(())
    }

    fn keys(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<ObjKey>, ApiError> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let rows = stmt.query_map(p, |r| {
            Ok(ObjKey {
                group: r.get(0)?,
                resource: r.get(1)?,
                namespace: r.get(2)?,
                name: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Every object in a namespace, of any resource.
    pub fn keys_in_namespace(&self, ns: &str) -> Result<Vec<ObjKey>, ApiError> {
        self.keys("SELECT grp, res, ns, name FROM objects WHERE ns = ?1", [ns])
    }

    /// Every object of one resource.
    pub fn keys_of(&self, group: &str, resource: &str) -> Result<Vec<ObjKey>, ApiError> {
        self.keys(
            "SELECT grp, res, ns, name FROM objects WHERE grp = ?1 AND res = ?2",
            [group, resource],
        )
    }

    /// Objects that carry a deletionTimestamp.
    pub fn keys_deleting(&self) -> Result<Vec<ObjKey>, ApiError> {
        self.keys(
            "SELECT grp, res, ns, name FROM objects WHERE deleting = 1",
            [],
        )
    }

    /// Objects whose ownerReferences name `uid`.
    pub fn dependents_of(&self, uid: &str) -> Result<Vec<ObjKey>, ApiError> {
        self.keys(
            "SELECT grp, res, ns, name FROM owner_refs WHERE owner_uid = ?1",
            [uid],
        )
    }

    /// Owner UIDs referenced by some object but matching no stored object.
    pub fn dangling_owner_uids(&self) -> Result<Vec<String>, ApiError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT owner_uid FROM owner_refs WHERE owner_uid NOT IN (SELECT uid FROM objects)",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    }

    pub fn uid_exists(&self, uid: &str) -> Result<bool, ApiError> {
        Ok(self
            .tx
            .prepare_cached("SELECT 1 FROM objects WHERE uid = ?1")?
            .exists([uid])?)
    }
}
