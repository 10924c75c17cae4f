//! Writes: create, update and the four patch types, sharing one commit
//! step that does the metadata bookkeeping, admission, managedFields, generation, the no-op
//! check and finalizer-driven removal.

use serde_json::{Value, json};

use super::meta::{
    check_identity, compose, finalizers, generate_name, generation_view, is_deleting, meta_str,
    pruned_field, same_ignoring_times, tidy_meta,
};
use super::{Cluster, builtins, key_of, now_rfc3339};
use crate::errors::ApiError;
use crate::patch::apply::{self, Writer, conflict_message, track_update};
use crate::patch::{json::json_patch, merge::merge_patch, strategic::strategic_merge};
use crate::registry::ResourceInfo;
use crate::store::{ObjKey, Txn};

/// Options every write takes from its query string.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `fieldManager`, or the User-Agent's product name.
    pub manager: String,
    pub dry_run: bool,
    /// `fieldValidation=Strict`: unknown fields are a 400.
    pub strict: bool,
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// `DeleteOptions` of a delete request.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
pub const ORPHAN_FINALIZER: &str = "orphan";

/// What a commit writes to: the kind, the storage key and the request's options.
#[derive(Clone, Copy)]
struct Target<'a> {
    info: &'a ResourceInfo,
    key: &'a ObjKey,
    opts: &'a WriteOptions,
}

/// The object a request names: its namespace, name and subresource (`""` or `"status"`).
#[derive(Debug, Clone, Copy)]
pub struct ObjRef<'a> {
    pub ns: Option<&'a str>,
    pub name: &'a str,
    pub sub: &'a str,
}

/// How the commit step treats managedFields.
enum Managed<'a> {
    /// An ordinary write by this writer: track what it changed.
    Track(Writer<'a>),
    /// Server-side apply already computed them.
    Done,
}

impl Cluster {
    fn writer<'a>(
        &self,
        info: &ResourceInfo,
        opts: &'a WriteOptions,
        api_version: &'a str,
        sub: &'a str,
        now: &'a str,
    ) -> Writer<'a> {
        Writer {
            manager: &opts.manager,
            api_version,
            subresource: sub,
            has_status: info.status,
            now,
        }
    }

    /// Refuse writes into missing or terminating namespaces.
    fn check_namespace(
        &self,
        txn: &Txn<'_>,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        if !info.namespaced {
            return Ok(());
        }
        let key = ObjKey::new("", "namespaces", "", ns);
        match txn.get(&key)? {
            None => Err(ApiError::not_found(crate::errors::Subject { group: "", resource: "namespaces", name: ns })),
            Some(n) if is_deleting(&n) => Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                info.subject(name).qualified()
            ))
            .with_details(json!({"name": name, "group": info.group, "kind": info.resource}))),
            Some(_) => Ok(()),
        }
    }

    /// The shared tail of every write. `old` is None for creation. Returns the stored (or,
    /// for a no-op, unchanged) object in storage form.
    fn commit(
        &self,
        txn: &mut Txn<'_>,
        at: Target<'_>,
        old: Option<&Value>,
        mut new: Value,
        managed: Managed<'_>,
    ) -> Result<Value, ApiError> {
        let Target { info, key, opts } = at;
        let now = now_rfc3339();
        let name = key.name.clone();
        if old.is_none() {
            let meta = &mut new["metadata"];
            meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
            meta["creationTimestamp"] = json!(now);
            if let Some(m) = meta.as_object_mut() {
                for f in [
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "resourceVersion",
                    "selfLink",
                ] {
                    m.remove(f);
                }
            }
        }
        if let Some(old) = old
            && is_deleting(old)
        {
            let before = finalizers(old);
            if let Some(added) = finalizers(&new).into_iter().find(|f| !before.contains(f)) {
                return Err(ApiError::invalid(
                    &info.group,
                    &info.kind,
                    &name,
                    vec![ApiError::cause(
                        "FieldValueForbidden",
                        "metadata.finalizers",
                        format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{added:?}}}"
                        ),
                    )],
                ));
            }
        }
        tidy_meta(&mut new);
        builtins::prepare(info, old, &mut new, &now)?;
        if let Some(v) = &info.validator {
            let before = opts.strict.then(|| new.clone());
            let old_served = old.map(|o| builtins::to_served(info, o.clone()));
            v.admit(&mut new, old_served.as_ref()).map_err(|causes| {
                ApiError::from_status(&crate::admission::invalid_status(
                    &info.group,
                    &info.kind,
                    &name,
                    &causes,
                ))
            })?;
            if let Some(before) = before
                && let Some(field) = pruned_field(&before, &new, "")
            {
                return Err(ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: strict decoding error: unknown field \"{field}\"",
                    info.kind, info.version, info.kind
                )));
            }
        }
        if let Managed::Track(w) = &managed {
            track_update(old, &mut new, w, info.schema.as_ref());
        }
        if info.generation {
            let generation = match old {
                None => 1,
                Some(o) => {
                    let g = o
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    if generation_view(info, o) != generation_view(info, &new) {
                        g + 1
                    } else {
                        g
                    }
                }
            };
            new["metadata"]["generation"] = json!(generation);
        } else if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("generation");
        }
        tidy_meta(&mut new);
        if let Some(old) = old {
            let mut cmp = new.clone();
            cmp["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
            if same_ignoring_times(old, &cmp) {
                self.store.note_noop();
                return Ok(old.clone());
            }
        }
        if is_deleting(&new) && finalizers(&new).is_empty() && key.resource != "namespaces" {
            if opts.dry_run {
                return Ok(new);
            }
            let gone = txn.delete(key, new)?;
            self.gc_wake.notify_one();
            return Ok(gone);
        }
        if opts.dry_run {
            return Ok(new);
        }
        txn.put(key, new)
    }

    pub(super) fn after_write(&self, info: &ResourceInfo) {
        if info.group == "apiextensions.k8s.io" {
            // Registry reload failures leave the previous registry in place; the next write retries.
            if let Err(e) = self.reload_registry() {
                tracing::warn!(error = %e, "failed to reload served kinds");
            }
        }
    }

    pub fn create(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut body = body;
        check_identity(info, &mut body, ns, None)?;
        let mut body = builtins::to_stored(info, body);
        let name = match (meta_str(&body, "name"), meta_str(&body, "generateName")) {
            (Some(n), _) => n.to_string(),
            (None, Some(prefix)) => generate_name(prefix),
            (None, None) => {
                return Err(ApiError::invalid(
                    &info.group,
                    &info.kind,
                    "",
                    vec![ApiError::cause(
                        "FieldValueRequired",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    )],
                ));
            }
        };
        body["metadata"]["name"] = json!(name);
        if info.status
            && let Some(m) = body.as_object_mut()
        {
            m.remove("status");
        }
        let key = key_of(info, ns, &name);
        let api_version = info.api_version();
        let now = now_rfc3339();
        let out = self.store.write(|txn| {
            self.check_namespace(txn, info, &key.namespace, &name)?;
            if txn.get(&key)?.is_some() {
                return Err(ApiError::already_exists(info.subject(&name)));
            }
            let w = self.writer(info, opts, &api_version, "", &now);
            self.commit(
                txn,
                Target {
                    info,
                    key: &key,
                    opts,
                },
                None,
                body,
                Managed::Track(w),
            )
        })?;
        self.after_write(info);
        Ok(builtins::to_served(info, out))
    }

    pub fn update(
        &self,
        info: &ResourceInfo,
        at: ObjRef<'_>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let ObjRef { ns, name, sub } = at;
        let mut body = body;
        check_identity(info, &mut body, ns, Some(name))?;
        let body = builtins::to_stored(info, body);
        let key = key_of(info, ns, name);
        let api_version = info.api_version();
        let now = now_rfc3339();
        let out = self.store.write(|txn| {
            let old = txn
                .get(&key)?
                .ok_or_else(|| ApiError::not_found(info.subject(name)))?;
            match meta_str(&body, "resourceVersion") {
                None if info.custom => {
                    return Err(ApiError::invalid(
                        &info.group,
                        &info.kind,
                        name,
                        vec![ApiError::cause(
                            "FieldValueInvalid",
                            "metadata.resourceVersion",
                            "Invalid value: 0x0: must be specified for an update",
                        )],
                    ));
                }
                Some(rv) if Some(rv) != meta_str(&old, "resourceVersion") => {
                    return Err(ApiError::stale(info.subject(name)));
                }
                _ => {}
            }
            if let Some(uid) = meta_str(&body, "uid")
                && Some(uid) != meta_str(&old, "uid")
            {
                return Err(ApiError::conflict(
                    info.subject(name),
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(&old, "uid").unwrap_or_default()
                    ),
                ));
            }
            let new = compose(info, &old, body, sub);
            let w = self.writer(info, opts, &api_version, sub, &now);
            self.commit(
                txn,
                Target {
                    info,
                    key: &key,
                    opts,
                },
                Some(&old),
                new,
                Managed::Track(w),
            )
        })?;
        self.after_write(info);
        Ok(builtins::to_served(info, out))
    }

    /// Patch; returns 201 when an apply created the object, else 200.
    pub fn patch(
        &self,
        info: &ResourceInfo,
        at: ObjRef<'_>,
        ptype: PatchType,
        patch: Value,
        opts: &WriteOptions,
    ) -> Result<(u16, Value), ApiError> {
        let ObjRef { ns, name, sub } = at;
        if ptype == PatchType::Strategic && info.custom {
            return Err(ApiError::unsupported_media(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        if ptype == PatchType::Apply {
            if opts.manager.is_empty() {
                return Err(ApiError::invalid(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    vec![ApiError::cause(
                        "FieldValueRequired",
                        "fieldManager",
                        "Required value: is required for apply patch",
                    )],
                ));
            }
            let mut cfg = patch.clone();
            check_identity(info, &mut cfg, ns, Some(name))?;
        }
        let key = key_of(info, ns, name);
        let api_version = info.api_version();
        let now = now_rfc3339();
        let out = self.store.write(|txn| {
            let old = txn.get(&key)?;
            let Some(old) = old else {
                if ptype != PatchType::Apply || sub == "status" {
                    return Err(ApiError::not_found(info.subject(name)));
                }
                self.check_namespace(txn, info, &key.namespace, name)?;
                let mut skeleton = json!({"apiVersion": api_version, "kind": info.kind, "metadata": {"name": name}});
                if info.namespaced {
                    skeleton["metadata"]["namespace"] = json!(key.namespace);
                }
                let w = self.writer(info, opts, &api_version, sub, &now);
                let created = self.apply_config(info, &skeleton, &patch, &w, opts)?;
                let created = builtins::to_stored(info, created);
                return self.commit(txn, Target { info, key: &key, opts }, None, created, Managed::Done).map(|o| (201, o));
            };
            let served_old = builtins::to_served(info, old.clone());
            let w = self.writer(info, opts, &api_version, sub, &now);
            let (patched, managed) = match ptype {
                PatchType::Apply => (self.apply_config(info, &served_old, &patch, &w, opts)?, Managed::Done),
                other => {
                    let mut doc = served_old.clone();
                    match other {
                        PatchType::Merge => merge_patch(&mut doc, &patch),
                        PatchType::Strategic => strategic_merge(&mut doc, &patch),
                        _ => json_patch(&mut doc, &patch).map_err(|e| ApiError::patch_failed(e.to_string()))?,
                    }
                    if let Some(rv) = meta_str(&doc, "resourceVersion")
                        && Some(rv) != meta_str(&old, "resourceVersion")
                    {
                        return Err(ApiError::stale(info.subject(name)));
                    }
                    (doc, Managed::Track(w))
                }
            };
            if !patched.is_object() {
                return Err(ApiError::patch_failed("the patch did not produce an object"));
            }
            let patched = builtins::to_stored(info, patched);
            let new = compose(info, &old, patched, sub);
            self.commit(txn, Target { info, key: &key, opts }, Some(&old), new, managed).map(|o| (200, o))
        })?;
        self.after_write(info);
        Ok((out.0, builtins::to_served(info, out.1)))
    }

    fn apply_config(
        &self,
        info: &ResourceInfo,
        live: &Value,
        config: &Value,
        w: &Writer<'_>,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut config = config.clone();
        if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
        apply::apply(live, &config, w, opts.force, info.schema.as_ref()).map_err(|conflicts| {
            let (message, causes) = conflict_message(&conflicts);
            let mut d =
                json!({"name": live["metadata"]["name"], "kind": info.resource, "causes": causes});
            if !info.group.is_empty() {
                d["group"] = json!(info.group);
            }
            ApiError::new(409, "Conflict", message).with_details(d)
        })
    }

    /// A controller's own update of a stored object (GC, namespace lifecycle). No-op when `f`
    /// changes nothing; removes the object when it empties the finalizers of a deleting object.
    pub(crate) fn mutate_in(
        &self,
        txn: &mut Txn<'_>,
        info: &ResourceInfo,
        key: &ObjKey,
        manager: &str,
        f: impl FnOnce(&mut Value),
    ) -> Result<(), ApiError> {
        let Some(old) = txn.get(key)? else {
            return Ok(());
        };
        let mut new = old.clone();
        f(&mut new);
        if new == old {
            return Ok(());
        }
        let opts = WriteOptions {
            manager: manager.to_string(),
            ..Default::default()
        };
        let api_version = old["apiVersion"].as_str().unwrap_or_default().to_string();
        let now = now_rfc3339();
        let w = self.writer(info, &opts, &api_version, "", &now);
        self.commit(
            txn,
            Target {
                info,
                key,
                opts: &opts,
            },
            Some(&old),
            new,
            Managed::Track(w),
        )?;
        Ok(())
    }
}
