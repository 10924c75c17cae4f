//! What a user does first: `kubectl apply` the generated CRDs and `examples/` against devcluster
//! with the real kubectl, look at them with `get dezky -A`, and see every manifest of
//! `examples/invalid/` refused with exactly the error written beside it.

use std::collections::BTreeSet;

use dezky_system_tests::{TestCluster, repo_root};

fn install_crds_and_examples(cluster: &TestCluster) {
    cluster.kubectl_ok(&["apply", "-f", "charts/dezky/crds/"]);
    cluster.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd",
        "--all",
    ]);
    cluster.kubectl_ok(&["apply", "-f", "examples/"]);
}

/// Every (kind, namespace, name) of the Dezky objects in examples/.
fn example_objects() -> BTreeSet<(String, String, String)> {
    let mut objects = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v: serde_json::Value = serde::Deserialize::deserialize(doc).expect("YAML");
            if v["apiVersion"]
                .as_str()
                .is_some_and(|a| a.starts_with("dezky.io/"))
            {
                let ns = v["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                objects.insert((
                    v["kind"].as_str().unwrap().to_lowercase(),
                    ns,
                    v["metadata"]["name"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    objects
}

#[test]
fn kubectl_applies_the_examples_and_lists_them_by_category() {
    let cluster = TestCluster::start();
    install_crds_and_examples(&cluster);
    let expected = example_objects();
    assert!(
        expected.len() >= 18,
        "the examples hold a partner, tenants, domains, a dozen members and apps"
    );

    let listed = cluster.kubectl_ok(&[
        "get",
        "dezky",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
    ]);
    let got: BTreeSet<(String, String, String)> = listed
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, '/');
            let kind = parts.next().unwrap().to_lowercase();
            (
                kind,
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got, expected,
        "`kubectl get dezky -A` lists exactly the examples"
    );

    // the printer columns answer "what is there": plan, seats and partner of each tenant
    let table = cluster.kubectl_ok(&["get", "tenants"]);
    let header = table.lines().next().expect("a header");
    for column in ["NAME", "READY", "PLAN", "SEATS", "PARTNER", "AGE"] {
        assert!(header.contains(column), "column {column} in {header}");
    }
    let acme = table
        .lines()
        .find(|l| l.starts_with("acme "))
        .expect("acme row");
    assert!(
        acme.contains("business") && acme.contains("25") && acme.contains("northwind"),
        "{acme}"
    );

    // defaults were applied by the API server, as kube-apiserver does from the CRD schema
    let policy = cluster.kubectl_ok(&[
        "get",
        "member",
        "-n",
        "tenant-acme",
        "jdoe",
        "-o",
        "jsonpath={.spec.deletionPolicy}",
    ]);
    assert_eq!(policy, "Delete");
    let policy = cluster.kubectl_ok(&[
        "get",
        "tenant",
        "acme",
        "-o",
        "jsonpath={.spec.deletionPolicy}",
    ]);
    assert_eq!(policy, "Orphan");

    // kubectl explain reads the field documentation from the CRD
    let explained = cluster.kubectl_ok(&["explain", "tenant.spec.seats"]);
    assert!(
        explained.contains("The most Members this tenant may have"),
        "{explained}"
    );
}

#[test]
fn kubectl_refuses_every_invalid_example_with_its_error() {
    let cluster = TestCluster::start();
    install_crds_and_examples(&cluster);
    let dir = repo_root().join("examples/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/invalid/")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && !p.to_string_lossy().ends_with(".old.yaml")
        })
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "examples/invalid holds the refused manifests"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let stem = case.file_stem().unwrap().to_string_lossy().into_owned();
        let expected = std::fs::read_to_string(dir.join(format!("{stem}.error")))
            .expect("an .error beside each manifest");
        let old = dir.join(format!("{stem}.old.yaml"));
        if old.exists() {
            cluster.kubectl_ok(&["apply", "-f", old.to_str().unwrap()]);
        }
        let out = cluster.kubectl(&["apply", "-f", case.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            failures.push(format!(
                "{stem}: accepted, but should be refused with:\n{expected}"
            ));
        } else if stderr.trim_end() != expected.trim_end() {
            failures.push(format!(
                "{stem}: kubectl printed\n{stderr}\nbut the expected error is\n{expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}
