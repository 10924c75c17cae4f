//! The controllers kube-controller-manager and apiextensions run for us: namespace deletion
//! (contents first), CRD deletion (its custom resources first), and ownerReference garbage
//! collection (background, foreground and orphan propagation).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::write::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use super::{Cluster, DeleteOptions, Propagation, builtins::CRD_CLEANUP_FINALIZER};
use crate::errors::ApiError;
use crate::registry::Registry;
use crate::store::{ObjKey, Txn};

const MANAGER: &str = "kube-controller-manager";

fn remove_finalizer(obj: &mut Value, f: &str) {
    if let Some(a) = obj
        .pointer_mut("/metadata/finalizers")
        .and_then(Value::as_array_mut)
    {
        a.retain(|x| x != f);
    }
}

fn has_finalizer(obj: &Value, f: &str) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == f))
}

fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
}

fn background() -> DeleteOptions {
    DeleteOptions {
        propagation: Some(Propagation::Background),
        ..Default::default()
    }
}

impl Cluster {
    /// Delete `key` unless it is already being deleted.
    fn gc_delete(&self, txn: &mut Txn<'_>, reg: &Registry, key: &ObjKey) -> Result<bool, ApiError> {
        let Some(info) = reg.by_storage(&key.group, &key.resource) else {
            return Ok(false);
        };
        match txn.get(key)? {
            Some(o) if !deleting(&o) => {
                self.delete_in(txn, &info, key, &background())?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn gc_mutate(
        &self,
        txn: &mut Txn<'_>,
        reg: &Registry,
        key: &ObjKey,
        f: impl FnOnce(&mut Value),
    ) -> Result<(), ApiError> {
        match reg.by_storage(&key.group, &key.resource) {
            Some(info) => self.mutate_in(txn, &info, key, MANAGER, f),
            None => Ok(()),
        }
    }

    /// Work on one object that carries a deletionTimestamp.
    fn finish_deletion(
        &self,
        txn: &mut Txn<'_>,
        reg: &Registry,
        key: &ObjKey,
    ) -> Result<(), ApiError> {
        let Some(obj) = txn.get(key)? else {
            return Ok(());
        };
        let uid = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if key.group.is_empty() && key.resource == "namespaces" {
            let contents = txn.keys_in_namespace(&key.name)?;
            if contents.is_empty() {
                if obj.pointer("/metadata/finalizers").is_none() {
                    txn.delete(key, obj)?;
                }
                return Ok(());
            }
            for c in contents {
                self.gc_delete(txn, reg, &c)?;
            }
            return Ok(());
        }
        if key.group == "apiextensions.k8s.io" && has_finalizer(&obj, CRD_CLEANUP_FINALIZER) {
            let group = obj["spec"]["group"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let plural = obj["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let crs = txn.keys_of(&group, &plural)?;
            if crs.is_empty() {
                self.gc_mutate(txn, reg, key, |o| {
                    remove_finalizer(o, CRD_CLEANUP_FINALIZER)
                })?;
            }
            for cr in crs {
                self.gc_delete(txn, reg, &cr)?;
            }
            return Ok(());
        }
        if has_finalizer(&obj, ORPHAN_FINALIZER) {
            for dep in txn.dependents_of(&uid)? {
                self.gc_mutate(txn, reg, &dep, |d| {
                    if let Some(refs) = d
                        .pointer_mut("/metadata/ownerReferences")
                        .and_then(Value::as_array_mut)
                    {
                        refs.retain(|r| r["uid"] != json!(uid));
                    }
                })?;
            }
            self.gc_mutate(txn, reg, key, |o| remove_finalizer(o, ORPHAN_FINALIZER))?;
            return Ok(());
        }
        if has_finalizer(&obj, FOREGROUND_FINALIZER) {
            let deps = txn.dependents_of(&uid)?;
            if deps.is_empty() {
                self.gc_mutate(txn, reg, key, |o| remove_finalizer(o, FOREGROUND_FINALIZER))?;
            }
            for dep in deps {
                self.gc_delete(txn, reg, &dep)?;
            }
        }
        Ok(())
    }

    /// Dependents whose owners are gone: delete them when no owner is left, else drop the
    /// dangling references.
    fn collect_orphans(
        &self,
        txn: &mut Txn<'_>,
        reg: &Registry,
        owner_uid: &str,
    ) -> Result<(), ApiError> {
        for dep in txn.dependents_of(owner_uid)? {
            let Some(obj) = txn.get(&dep)? else { continue };
            let refs: Vec<Value> = obj
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut live = Vec::new();
            for r in &refs {
                if txn.uid_exists(r["uid"].as_str().unwrap_or_default())? {
                    live.push(r.clone());
                }
            }
            if live.is_empty() {
                self.gc_delete(txn, reg, &dep)?;
            } else {
                self.gc_mutate(txn, reg, &dep, |d| {
                    d["metadata"]["ownerReferences"] = Value::Array(live)
                })?;
            }
        }
        Ok(())
    }

    /// One pass of every controller; returns whether it changed anything.
    pub fn collect_once(&self) -> Result<bool, ApiError> {
        let reg = self.registry();
        let before = self.store.rev();
        let deleting = self.store.write(|t| t.keys_deleting())?;
        let mut crds = false;
        for key in deleting {
            crds |= key.group == "apiextensions.k8s.io";
            self.store
                .write(|txn| self.finish_deletion(txn, &reg, &key))?;
        }
        let dangling = self.store.write(|t| t.dangling_owner_uids())?;
        for uid in dangling {
            self.store
                .write(|txn| self.collect_orphans(txn, &reg, &uid))?;
        }
        if crds {
            self.reload_registry()?;
        }
        Ok(self.store.rev() != before)
    }
}

/// Run the controllers until `shutdown` flips: after every wake-up and once a second.
pub async fn run(cluster: Arc<Cluster>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        for _ in 0..20 {
            match cluster.collect_once() {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "garbage collection pass failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = cluster.gc_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
