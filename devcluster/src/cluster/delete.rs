//! Deletion: preconditions, propagation policies (the orphan and foreground finalizers),
//! finalizer-pending deletion marks, namespaces' Terminating phase, and deletecollection.

use serde_json::{Value, json};

use super::meta::{finalizers, is_deleting, meta_str};
use super::write::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use super::{Cluster, DeleteOptions, ListOptions, Propagation, builtins, key_of, now_rfc3339};
use crate::errors::{ApiError, success_status};
use crate::registry::ResourceInfo;
use crate::store::{ObjKey, Txn};

impl Cluster {
    pub fn delete(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let key = key_of(info, ns, name);
        let out = self
            .store
            .write(|txn| self.delete_in(txn, info, &key, opts))?;
        self.after_write(info);
        self.gc_wake.notify_one();
        Ok(out)
    }

    /// Delete one object inside a transaction; the answer is the object (pending finalizers)
    /// or a Success Status.
    pub(crate) fn delete_in(
        &self,
        txn: &mut Txn<'_>,
        info: &ResourceInfo,
        key: &ObjKey,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let name = key.name.as_str();
        let old = txn
            .get(key)?
            .ok_or_else(|| ApiError::not_found(info.subject(name)))?;
        let uid = meta_str(&old, "uid").unwrap_or_default().to_string();
        if let Some(want) = &opts.uid
            && *want != uid
        {
            return Err(ApiError::conflict(
                info.subject(name),
                &format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
                ),
            ));
        }
        if let Some(want) = &opts.resource_version
            && Some(want.as_str()) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(
                info.subject(name),
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                    meta_str(&old, "resourceVersion").unwrap_or_default()
                ),
            ));
        }
        let mut fins = finalizers(&old);
        let has_dependents = !txn.dependents_of(&uid)?.is_empty();
        match opts.propagation {
            Some(Propagation::Foreground)
                if has_dependents && !fins.iter().any(|f| f == FOREGROUND_FINALIZER) =>
            {
                fins.push(FOREGROUND_FINALIZER.into())
            }
            Some(Propagation::Orphan)
                if has_dependents && !fins.iter().any(|f| f == ORPHAN_FINALIZER) =>
            {
                fins.push(ORPHAN_FINALIZER.into())
            }
            _ => {}
        }
        let namespace = info.group.is_empty() && info.resource == "namespaces";
        if !fins.is_empty() || namespace {
            if is_deleting(&old) && fins == finalizers(&old) {
                return Ok(builtins::to_served(info, old));
            }
            let mut new = old.clone();
            if !fins.is_empty() {
                new["metadata"]["finalizers"] = json!(fins);
            }
            if !is_deleting(&old) {
                new["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
                new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                if info.generation {
                    let g = old
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    new["metadata"]["generation"] = json!(g + 1);
                }
                if namespace {
                    new["status"]["phase"] = json!("Terminating");
                }
            }
            if opts.dry_run {
                return Ok(builtins::to_served(info, new));
            }
            let stored = txn.put(key, new)?;
            return Ok(builtins::to_served(info, stored));
        }
        if !opts.dry_run {
            txn.delete(key, old)?;
        }
        Ok(success_status(info.subject(name), &uid))
    }

    /// Delete every object a list selects; answers the list of what was deleted.
    pub fn delete_collection(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let all = ListOptions {
            limit: None,
            continue_token: None,
            ..list.clone()
        };
        let current = self.list(info, ns, &all)?;
        let mut deleted = Vec::new();
        for item in current["items"].as_array().into_iter().flatten() {
            let name = meta_str(item, "name").unwrap_or_default();
            let item_ns = meta_str(item, "namespace");
            match self.delete(info, item_ns, name, opts) {
                Ok(v) if v["kind"] == "Status" => deleted.push(item.clone()),
                Ok(v) => deleted.push(v),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(
            json!({"apiVersion": info.api_version(), "kind": info.list_kind,
            "metadata": {"resourceVersion": self.store.rev().to_string()}, "items": deleted}),
        )
    }
}
