//! The object semantics of the API server, independent of HTTP: reads, writes with all their
//! metadata bookkeeping (uid, generation, finalizers, managedFields), and the registry of
//! served kinds that CRD writes change.

use std::sync::{Arc, RwLock};

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::errors::ApiError;
use crate::registry::{Registry, ResourceInfo};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{ObjKey, Store};

pub mod builtins;
mod delete;
pub mod gc;
mod meta;
mod write;

pub use write::{DeleteOptions, ObjRef, PatchType, Propagation, WriteOptions};

/// Options of a list (and of the initial state of a watch).
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// The cluster state: the store and the resources currently served.
pub struct Cluster {
    pub store: Store,
    registry: RwLock<Arc<Registry>>,
    /// Woken after deletions so the garbage collector looks at once.
    pub gc_wake: Notify,
}

/// RFC 3339 with seconds precision, as Kubernetes writes `metav1.Time`.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn key_of(info: &ResourceInfo, ns: Option<&str>, name: &str) -> ObjKey {
    ObjKey::new(
        &info.storage_group,
        &info.storage_resource,
        if info.namespaced {
            ns.unwrap_or("")
        } else {
            ""
        },
        name,
    )
}

impl Cluster {
    pub fn new(store: Store) -> Result<Cluster, ApiError> {
        let c = Cluster {
            store,
            registry: RwLock::new(Arc::new(Registry::default())),
            gc_wake: Notify::new(),
        };
        c.reload_registry()?;
        Ok(c)
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Rebuild the served kinds from the stored CRDs.
    pub fn reload_registry(&self) -> Result<(), ApiError> {
        let page = self.store.list(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            None,
            None,
            None,
            |_| true,
        )?;
        let reg = Arc::new(Registry::build(&page.items));
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = reg;
        Ok(())
    }

    pub fn get(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let obj = self
            .store
            .get(&key_of(info, ns, name))?
            .ok_or_else(|| ApiError::not_found(info.subject(name)))?;
        Ok(builtins::to_served(info, obj))
    }

    /// A list object (`kind: <Kind>List`) with `metadata.resourceVersion` and `continue`.
    pub fn list(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Value, ApiError> {
        let after = opts
            .continue_token
            .as_deref()
            .map(decode_continue)
            .transpose()?;
        let ns = if info.namespaced { ns } else { None };
        let page = self.store.list(
            &info.storage_group,
            &info.storage_resource,
            ns,
            after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            opts.limit.filter(|l| *l > 0),
            |o| {
                let o2;
                let view = if info.group == "events.k8s.io" {
                    o2 = builtins::to_served(info, o.clone());
                    &o2
                } else {
                    o
                };
                opts.labels.matches(view) && opts.fields.matches(view)
            },
        )?;
        let mut meta = json!({"resourceVersion": page.rev.to_string()});
        if let Some((ns, name)) = &page.next {
            meta["continue"] = json!(encode_continue(page.rev, ns, name));
        }
        let items: Vec<Value> = page
            .items
            .into_iter()
            .map(|o| builtins::to_served(info, o))
            .collect();
        Ok(
            json!({"apiVersion": info.api_version(), "kind": info.list_kind, "metadata": meta, "items": items}),
        )
    }
}

impl Cluster {
    /// The JSON body of an unfiltered list, assembled from the stored text without parsing
    /// each object; None when the list needs filtering or conversion (use [`Cluster::list`]).
    pub fn list_body(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        if !info.single_version
            || info.group == "events.k8s.io"
            || !opts.labels.is_empty()
            || !opts.fields.is_empty()
        {
            return Ok(None);
        }
        let after = opts
            .continue_token
            .as_deref()
            .map(decode_continue)
            .transpose()?;
        let ns = if info.namespaced { ns } else { None };
        let page = self.store.list_raw(
            &info.storage_group,
            &info.storage_resource,
            ns,
            after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            opts.limit.filter(|l| *l > 0),
        )?;
        let mut meta = json!({"resourceVersion": page.rev.to_string()});
        if let Some((ns, name)) = &page.next {
            meta["continue"] = json!(encode_continue(page.rev, ns, name));
        }
        let head =
            json!({"apiVersion": info.api_version(), "kind": info.list_kind, "metadata": meta})
                .to_string();
        let total: usize = page.items.iter().map(|i| i.len() + 1).sum();
        let mut out = Vec::with_capacity(head.len() + total + 16);
        out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
        out.extend_from_slice(b",\"items\":[");
        for (i, item) in page.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item.as_bytes());
        }
        out.extend_from_slice(b"]}");
        Ok(Some(out))
    }
}

fn encode_continue(rev: i64, ns: &str, name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"v": 1, "rv": rev, "start": [ns, name]}).to_string())
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("invalid continue token: {token}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    match (v["start"][0].as_str(), v["start"][1].as_str()) {
        (Some(ns), Some(name)) => Ok((ns.to_string(), name.to_string())),
        _ => Err(bad()),
    }
}
