//! The examples are real manifests: every `examples/*.yaml` document of a dezky kind is admitted by the
//! generated CRDs (schema + CEL, as devcluster admits it), and every `examples/invalid/NAME.yaml` is refused
//! with exactly the lines kubectl prints, kept in `NAME.error` (an update when `NAME.old.yaml` exists).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use dezky_devcluster::admission::{Validator, invalid_status, kubectl_message, validators_for_crd};
use serde::Deserialize;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the repository")
        .to_path_buf()
}

/// The `.yaml` files directly in `dir`, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

/// Every non-empty document of a (multi-document) YAML file, as JSON.
fn documents(path: &Path) -> Vec<Value> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let v = serde_yaml::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
            serde_json::to_value(v)
                .unwrap_or_else(|e| panic!("{} is not JSON-compatible: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The admission of one kind: its group and a validator per served version.
struct Kind {
    group: String,
    versions: BTreeMap<String, Validator>,
}

/// Validators of every CRD in `charts/dezky/crds/`, keyed by kind.
fn crds() -> BTreeMap<String, Kind> {
    let dir = repo().join("charts/dezky/crds");
    let mut kinds = BTreeMap::new();
    for file in yaml_files(&dir) {
        for crd in documents(&file) {
            assert_eq!(
                crd["kind"],
                "CustomResourceDefinition",
                "{} holds a non-CRD",
                file.display()
            );
            let kind = crd["spec"]["names"]["kind"]
                .as_str()
                .expect("spec.names.kind")
                .to_string();
            let group = crd["spec"]["group"]
                .as_str()
                .expect("spec.group")
                .to_string();
            let versions = validators_for_crd(&crd)
                .unwrap_or_else(|e| panic!("{}: the CRD does not compile: {e}", file.display()));
            assert!(!versions.is_empty(), "{} serves no version", file.display());
            kinds.insert(kind, Kind { group, versions });
        }
    }
    assert!(
        kinds.len() >= 5,
        "expected the five dezky CRDs in {}, found {:?}",
        dir.display(),
        kinds.keys()
    );
    kinds
}

/// The validator for an object, or None when its kind is not a dezky CRD (Namespace, ...).
fn validator_for<'a>(
    kinds: &'a BTreeMap<String, Kind>,
    obj: &Value,
) -> Option<(&'a Kind, &'a Validator)> {
    let api_version = obj["apiVersion"].as_str()?;
    let (group, version) = api_version.split_once('/')?;
    let kind = kinds.get(obj["kind"].as_str()?)?;
    if kind.group != group {
        return None;
    }
    let v = kind
        .versions
        .get(version)
        .unwrap_or_else(|| panic!("{api_version} is not a served version of {}", obj["kind"]));
    Some((kind, v))
}

fn describe(obj: &Value) -> String {
    format!(
        "{} {}/{}",
        obj["kind"].as_str().unwrap_or("?"),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("?")
    )
}

#[test]
fn good_examples_are_admitted() {
    let kinds = crds();
    let files = yaml_files(&repo().join("examples"));
    assert!(!files.is_empty(), "no examples/*.yaml found");
    let mut admitted = 0;
    let mut failures = Vec::new();
    for file in &files {
        for mut obj in documents(file) {
            let Some((kind, validator)) = validator_for(&kinds, &obj) else {
                continue;
            };
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let what = describe(&obj);
            match validator.admit(&mut obj, None) {
                Ok(()) => admitted += 1,
                Err(causes) => {
                    let kind_name = obj["kind"].as_str().unwrap_or_default();
                    let status = invalid_status(&kind.group, kind_name, &name, &causes);
                    failures.push(format!(
                        "{} ({what}): {}",
                        file.display(),
                        kubectl_message(&status)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "examples refused:\n{}",
        failures.join("\n")
    );
    assert!(
        admitted > 0,
        "no document of a dezky kind in examples/*.yaml"
    );
}

#[test]
fn invalid_examples_are_refused_with_their_error() {
    let kinds = crds();
    let dir = repo().join("examples/invalid");
    let files: Vec<PathBuf> = yaml_files(&dir)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".old.yaml"))
        .collect();
    assert!(!files.is_empty(), "no examples/invalid/*.yaml found");
    let mut failures = Vec::new();
    for file in &files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a file name")
            .to_string();
        let error_file = dir.join(format!("{stem}.error"));
        let expected = fs::read_to_string(&error_file)
            .unwrap_or_else(|e| panic!("{} needs {}: {e}", file.display(), error_file.display()));
        let expected = expected.strip_suffix('\n').unwrap_or(&expected);
        let docs = documents(file);
        assert_eq!(
            docs.len(),
            1,
            "{} must hold exactly one manifest",
            file.display()
        );
        let mut obj = docs.into_iter().next().expect("one document");
        let (kind, validator) = validator_for(&kinds, &obj)
            .unwrap_or_else(|| panic!("{} is not of a dezky kind", file.display()));
        let old_file = dir.join(format!("{stem}.old.yaml"));
        let old = old_file.exists().then(|| {
            let mut old = documents(&old_file)
                .into_iter()
                .next()
                .expect("one old manifest");
            validator.admit(&mut old, None).unwrap_or_else(|c| {
                panic!("{} must itself be admitted: {c:?}", old_file.display())
            });
            old
        });
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match validator.admit(&mut obj, old.as_ref()) {
            Ok(()) => failures.push(format!(
                "{}: admitted, expected:\n{expected}",
                file.display()
            )),
            Err(causes) => {
                let kind_name = obj["kind"].as_str().unwrap_or_default().to_string();
                let got = kubectl_message(&invalid_status(&kind.group, &kind_name, &name, &causes));
                if got != expected {
                    failures.push(format!(
                        "{}:\n  expected: {expected}\n  got:      {got}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} invalid examples wrong:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_error_file_has_its_manifest() {
    let dir = repo().join("examples/invalid");
    let mut orphans = Vec::new();
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
    {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|x| x == "error") {
            count += 1;
            if !path.with_extension("yaml").exists() {
                orphans.push(path.display().to_string());
            }
        }
    }
    assert!(count > 0, "no .error files in {}", dir.display());
    assert!(
        orphans.is_empty(),
        "error files without a manifest: {orphans:?}"
    );
}
