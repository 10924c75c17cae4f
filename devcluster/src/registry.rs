//! The served resources: the built-in kinds and every established CustomResourceDefinition,
//! indexed by group, version and plural name.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::admission::{Validator, validators_for_crd};
use crate::errors::Subject;

/// One resource in one served version.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    /// Plural name, e.g. `members`.
    pub resource: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a status subresource.
    pub status: bool,
    /// A custom resource (defined by a CRD).
    pub custom: bool,
    /// Tracks `metadata.generation`.
    pub generation: bool,
    /// The storage group and resource (core and events.k8s.io Events share one).
    pub storage_group: String,
    pub storage_resource: String,
    /// `additionalPrinterColumns` of this version (CRDs only).
    pub printer_columns: Vec<Value>,
    /// `openAPIV3Schema` of this version (CRDs only).
    pub schema: Option<Value>,
    /// Extra field-selector fields the resource accepts.
    pub field_selectors: Vec<&'static str>,
    /// Admission of this version (CRDs only).
    pub validator: Option<Arc<Validator>>,
    /// The only version serving its storage: stored objects need no conversion on read.
    pub single_version: bool,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn subject<'a>(&'a self, name: &'a str) -> Subject<'a> {
        Subject {
            group: &self.group,
            resource: &self.resource,
            name,
        }
    }

    /// `/api/v1` or `/apis/G/V`.
    pub fn gv_path(&self) -> String {
        if self.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// Base64 of the first 8 bytes of sha256("group/version/Kind"), as kube-apiserver computes it.
    pub fn storage_version_hash(&self) -> String {
        use base64::Engine;
        use sha2::Digest;
        let d = sha2::Sha256::digest(format!("{}/{}/{}", self.group, self.version, self.kind));
        base64::engine::general_purpose::STANDARD.encode(&d[..8])
    }
}

fn builtin(
    group: &str,
    version: &str,
    resource: &str,
    kind: &str,
    namespaced: bool,
    short: &[&str],
    status: bool,
) -> ResourceInfo {
    ResourceInfo {
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        singular: kind.to_lowercase(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: Vec::new(),
        status,
        custom: false,
        generation: false,
        storage_group: group.into(),
        storage_resource: resource.into(),
        printer_columns: Vec::new(),
        schema: None,
        field_selectors: Vec::new(),
        validator: None,
        single_version: true,
    }
}

/// The built-in kinds devcluster serves.
pub fn builtins() -> Vec<ResourceInfo> {
    let mut ns = builtin("", "v1", "namespaces", "Namespace", false, &["ns"], true);
    ns.field_selectors = vec!["status.phase"];
    let mut secrets = builtin("", "v1", "secrets", "Secret", true, &[], false);
    secrets.field_selectors = vec!["type"];
    let mut events = builtin("", "v1", "events", "Event", true, &["ev"], false);
    events.field_selectors = vec![
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ];
    let mut new_events = builtin(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        true,
        &["ev"],
        false,
    );
    new_events.storage_group = String::new();
    new_events.field_selectors = vec![
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "type",
    ];
    let mut crd = builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        true,
    );
    crd.generation = true;
    crd.categories = vec!["api-extensions".into()];
    vec![
        ns,
        builtin("", "v1", "configmaps", "ConfigMap", true, &["cm"], false),
        secrets,
        events,
        new_events,
        builtin(
            "coordination.k8s.io",
            "v1",
            "leases",
            "Lease",
            true,
            &[],
            false,
        ),
        crd,
    ]
}

/// Is this CRD `Established=True`?
pub fn crd_established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
}

/// The resources one CRD serves, one per served version.
pub fn from_crd(crd: &Value) -> Vec<ResourceInfo> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // A CRD whose schemas do not compile was refused at write time; serve it unvalidated if
    // one is stored anyway (e.g. from an older devcluster) rather than not at all.
    let mut validators = validators_for_crd(crd).unwrap_or_default();
    let mut out = Vec::new();
    for ver in spec["versions"].as_array().into_iter().flatten() {
        if ver["served"] != json!(true) {
            continue;
        }
        out.push(ResourceInfo {
            group: group.into(),
            version: ver["name"].as_str().unwrap_or_default().into(),
            resource: plural.into(),
            singular: names["singular"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| kind.to_lowercase()),
            kind: kind.into(),
            list_kind: names["listKind"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{kind}List")),
            namespaced: spec["scope"] == "Namespaced",
            short_names: strs(&names["shortNames"]),
            categories: strs(&names["categories"]),
            status: ver.pointer("/subresources/status").is_some(),
            custom: true,
            generation: true,
            storage_group: group.into(),
            storage_resource: plural.into(),
            printer_columns: ver["additionalPrinterColumns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            schema: ver.pointer("/schema/openAPIV3Schema").cloned(),
            field_selectors: Vec::new(),
            validator: ver["name"]
                .as_str()
                .and_then(|n| validators.remove(n))
                .map(Arc::new),
            single_version: true,
        });
    }
    out
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first, then non-kube names.
pub fn version_priority(v: &str) -> (u8, u32, u32, String) {
    let parse = |v: &str| -> Option<(u8, u32, u32)> {
        let rest = v.strip_prefix('v')?;
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let major: u32 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        for (pre, rank) in [("beta", 2u8), ("alpha", 1u8)] {
            if let Some(n) = tail.strip_prefix(pre) {
                let minor: u32 = n.parse().ok()?;
                return Some((rank, major, minor));
            }
        }
        None
    };
    match parse(v) {
        Some((rank, major, minor)) => (rank, major, minor, String::new()),
        None => (0, 0, 0, v.to_string()),
    }
}

/// A group and its served versions, preferred first.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub name: String,
    pub versions: Vec<String>,
}

/// Everything served right now.
#[derive(Debug, Default)]
pub struct Registry {
    by_gvr: HashMap<(String, String, String), Arc<ResourceInfo>>,
    groups: Vec<GroupInfo>,
    /// Resources per group-version, sorted by plural name.
    by_gv: BTreeMap<(String, String), Vec<Arc<ResourceInfo>>>,
}

impl Registry {
    /// Build from the built-ins and the stored CRDs (only established ones are served).
    pub fn build(crds: &[Value]) -> Registry {
        let mut reg = Registry::default();
        let mut order: Vec<String> = Vec::new();
        let mut add = |reg: &mut Registry, info: ResourceInfo| {
            if !order.contains(&info.group) {
                order.push(info.group.clone());
            }
            let info = Arc::new(info);
            reg.by_gvr.insert(
                (
                    info.group.clone(),
                    info.version.clone(),
                    info.resource.clone(),
                ),
                info.clone(),
            );
            reg.by_gv
                .entry((info.group.clone(), info.version.clone()))
                .or_default()
                .push(info);
        };
        let mut crds: Vec<&Value> = crds.iter().filter(|c| crd_established(c)).collect();
        crds.sort_by_key(|c| c["spec"]["group"].as_str().unwrap_or_default().to_string());
        let mut infos = builtins();
        infos.extend(crds.into_iter().flat_map(from_crd));
        let mut per_storage: HashMap<(String, String), usize> = HashMap::new();
        for i in &infos {
            *per_storage
                .entry((i.storage_group.clone(), i.storage_resource.clone()))
                .or_default() += 1;
        }
        for mut info in infos {
            info.single_version =
                per_storage[&(info.storage_group.clone(), info.storage_resource.clone())] == 1;
            add(&mut reg, info);
        }
        for list in reg.by_gv.values_mut() {
            list.sort_by(|a, b| a.resource.cmp(&b.resource));
        }
        for g in order {
            let mut versions: Vec<String> = reg
                .by_gv
                .keys()
                .filter(|(gg, _)| *gg == g)
                .map(|(_, v)| v.clone())
                .collect();
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
            reg.groups.push(GroupInfo { name: g, versions });
        }
        reg
    }

    pub fn get(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceInfo>> {
        self.by_gvr
            .get(&(group.to_string(), version.to_string(), resource.to_string()))
            .cloned()
    }

    /// The resource of a kind in a group-version (`apiVersion` + `kind` of an object).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceInfo>> {
        let (g, v) = api_version.split_once('/').unwrap_or(("", api_version));
        self.by_gv
            .get(&(g.to_string(), v.to_string()))?
            .iter()
            .find(|r| r.kind == kind)
            .cloned()
    }

    /// The preferred version's resource for a storage group/resource (for GC across kinds).
    pub fn by_storage(&self, group: &str, resource: &str) -> Option<Arc<ResourceInfo>> {
        let g = self.groups.iter().find(|g| g.name == group)?;
        g.versions.iter().find_map(|v| {
            self.by_gv
                .get(&(group.to_string(), v.clone()))?
                .iter()
                .find(|r| r.storage_resource == resource)
                .cloned()
        })
    }

    pub fn groups(&self) -> &[GroupInfo] {
        &self.groups
    }

    pub fn resources(&self, group: &str, version: &str) -> &[Arc<ResourceInfo>] {
        self.by_gv
            .get(&(group.to_string(), version.to_string()))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v2", "v1beta1", "v1", "foo"];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(v, ["v2", "v1", "v1beta1", "v1alpha1", "foo"]);
    }

    #[test]
    fn storage_version_hash_matches_kube() {
        let info = &from_crd(&json!({"spec": {"group": "dezky.io", "scope": "Namespaced",
            "names": {"plural": "members", "kind": "Member"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true}]}}))[0];
        assert_eq!(info.storage_version_hash(), "pdghHWhPXUw=");
    }
}
