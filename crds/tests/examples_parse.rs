//! Every example manifest of a Dezky kind deserializes into its Rust type without losing a field.

use std::path::PathBuf;

use serde_json::Value;

fn example_documents() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut docs = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for path in files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(&path).expect("readable");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
            docs.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                value,
            ));
        }
    }
    docs
}

/// Whether every field of `example` is in `typed` with the same value (the typed side may add defaults).
fn is_subset(example: &Value, typed: &Value) -> bool {
    match (example, typed) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| is_subset(v, w))),
        _ => example == typed,
    }
}

fn roundtrip<K: serde::de::DeserializeOwned + serde::Serialize>(file: &str, doc: &Value) {
    let typed: K = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert!(
        is_subset(&doc["spec"], &back["spec"]),
        "{file}: the typed spec lost fields of {}",
        doc["metadata"]["name"]
    );
}

#[test]
fn examples_deserialize_into_the_rust_types() {
    let mut counted = std::collections::BTreeMap::<String, usize>::new();
    for (file, doc) in example_documents() {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "Partner" => roundtrip::<dezky_crds::Partner>(&file, &doc),
            "Tenant" => roundtrip::<dezky_crds::Tenant>(&file, &doc),
            "MailDomain" => roundtrip::<dezky_crds::MailDomain>(&file, &doc),
            "Member" => roundtrip::<dezky_crds::Member>(&file, &doc),
            "SsoApp" => roundtrip::<dezky_crds::SsoApp>(&file, &doc),
            _ => continue,
        }
        *counted.entry(kind).or_default() += 1;
    }
    assert_eq!(counted.get("Partner"), Some(&1));
    assert_eq!(counted.get("Tenant"), Some(&2));
    assert!(
        counted.get("Member").copied().unwrap_or(0) >= 12,
        "a dozen members: {counted:?}"
    );
    assert_eq!(counted.get("SsoApp"), Some(&2));
    assert!(counted.get("MailDomain").copied().unwrap_or(0) >= 2);
}
