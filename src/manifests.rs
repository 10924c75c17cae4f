//! Applying manifests (CRDs, examples) to a Kubernetes API with server-side apply, as
//! `kubectl apply --server-side` would: one field manager, forced, in file order.

use std::path::{Path, PathBuf};

use anyhow::Context;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use kube::{Client, ResourceExt};

/// The YAML files of `path` (a file, or a folder's `*.yaml`/`*.yml`, not recursive), in name order.
pub fn manifest_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("failed to read {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The objects of a multi-document YAML text, skipping empty documents.
pub fn parse_documents(text: &str) -> anyhow::Result<Vec<DynamicObject>> {
    let mut objects = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        objects
            .push(serde_json::from_value(value).context("a document is not a Kubernetes object")?);
    }
    Ok(objects)
}

/// Server-side applies one object; returns `kind/name` for progress output.
pub async fn apply_object(
    client: &Client,
    manager: &str,
    obj: &DynamicObject,
) -> anyhow::Result<String> {
    let types = obj
        .types
        .as_ref()
        .context("an object without apiVersion/kind")?;
    let (group, version) = match types.api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), types.api_version.clone()),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, &types.kind);
    let (resource, caps) = pinned_kind(client, &gvk).await.with_context(|| {
        format!(
            "the API server does not serve {}",
            types.api_version.clone() + "/" + &types.kind
        )
    })?;
    let name = obj.name_any();
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            let ns = obj.namespace().unwrap_or_else(|| "default".into());
            Api::namespaced_with(client.clone(), &ns, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        &name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(obj),
    )
    .await
    .with_context(|| format!("failed to apply {} {name}", types.kind))?;
    Ok(format!("{}/{name}", types.kind.to_lowercase()))
}

/// Applies every object of every manifest file under `path`, in order.
pub async fn apply_path(
    client: &Client,
    manager: &str,
    path: &Path,
) -> anyhow::Result<Vec<String>> {
    let mut applied = Vec::new();
    for file in manifest_files(path)? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("failed to read {}", file.display()))?;
        for obj in parse_documents(&text).with_context(|| format!("in {}", file.display()))? {
            applied.push(apply_object(client, manager, &obj).await?);
        }
    }
    Ok(applied)
}
