//! The real kubectl (the Cloud SDK dispatcher at /usr/bin/kubectl) against devcluster:
//! apply, get with printer columns, describe, explain, wait, patch, server-side apply,
//! refusals, deletion that waits for finalizers, and the chart's CRDs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;

struct Kubectl {
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn new(kubeconfig: &Path) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("kubectl");
        c.args(args)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.cache.path())
            .kill_on_drop(true);
        c
    }

    async fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Out {
        use tokio::io::AsyncWriteExt;
        let mut c = self.command(args);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().expect("kubectl runs");
        let mut input = child.stdin.take().unwrap();
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .await
            .unwrap();
        drop(input);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl finished")
            .unwrap();
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, None).await
    }

    async fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args).await;
        assert!(o.ok, "kubectl {args:?} failed:\n{}\n{}", o.stdout, o.stderr);
        o.stdout
    }

    async fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let o = self.run_stdin(args, Some(stdin)).await;
        assert!(o.ok, "kubectl {args:?} failed:\n{}\n{}", o.stdout, o.stderr);
        o.stdout
    }
}

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n";
const WIDGET: &str = "apiVersion: test.dezky.io/v1
kind: Widget
metadata:
  name: w1
  namespace: demo
  labels: {app: dezky}
spec:
  email: a@b.test
  owner: alice
";

async fn with_crd() -> (TestCluster, Kubectl) {
    let tc = start().await;
    let k = Kubectl::new(&tc.dc.kubeconfig_path());
    let crd_path = format!("{}/tests/fixtures/crd.yaml", env!("CARGO_MANIFEST_DIR"));
    let out = k.ok(&["apply", "-f", &crd_path]).await;
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io/widgets.test.dezky.io created"),
        "{out}"
    );
    let out = k
        .ok(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.test.dezky.io",
            "--timeout=20s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");
    k.ok_stdin(&["apply", "-f", "-"], NAMESPACE).await;
    (tc, k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_get_describe_explain() {
    let (tc, k) = with_crd().await;
    let out = k.ok_stdin(&["apply", "-f", "-"], WIDGET).await;
    assert!(out.contains("widget.test.dezky.io/w1 created"), "{out}");
    let out = k.ok_stdin(&["apply", "-f", "-"], WIDGET).await;
    assert!(out.contains("unchanged"), "{out}");
    let out = k
        .ok_stdin(&["apply", "-f", "-"], &WIDGET.replace("alice", "bob"))
        .await;
    assert!(out.contains("configured"), "{out}");

    let table = k.ok(&["get", "widgets", "-n", "demo"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "EMAIL", "SIZE", "READY", "AGE"], "{table}");
    assert!(table.contains("a@b.test"), "{table}");
    let wide = k.ok(&["get", "wdg", "-A", "-o", "wide"]).await;
    assert!(wide.starts_with("NAMESPACE"), "{wide}");
    assert!(wide.contains("OWNER") && wide.contains("bob"), "{wide}");
    let cat = k.ok(&["get", "dezkytest", "-A"]).await;
    assert!(cat.contains("w1"), "{cat}");
    let yaml = k
        .ok(&["get", "widget", "w1", "-n", "demo", "-o", "yaml"])
        .await;
    assert!(
        yaml.contains("email: a@b.test")
            && yaml.contains("size: 1")
            && yaml.contains("generation: 2"),
        "{yaml}"
    );

    let described = k.ok(&["describe", "widget", "w1", "-n", "demo"]).await;
    assert!(
        described.contains("Email:") && described.contains("a@b.test"),
        "{described}"
    );
    let explained = k.ok(&["explain", "widget.spec.email"]).await;
    assert!(
        explained.contains("Email address of the widget's owner"),
        "{explained}"
    );

    // Switching a client-side-applied object to server-side apply: a changed field conflicts
    // with kubectl-client-side-apply (as on a real server); the same values migrate ownership
    // to "kubectl", after which changes apply.
    let conflict = k
        .run_stdin(
            &["apply", "--server-side", "-f", "-"],
            Some(&WIDGET.replace("alice", "carol")),
        )
        .await;
    assert!(
        !conflict.ok
            && conflict
                .stderr
                .contains(r#"conflict with "kubectl-client-side-apply""#),
        "{}",
        conflict.stderr
    );
    let out = k
        .ok_stdin(
            &["apply", "--server-side", "-f", "-"],
            &WIDGET.replace("alice", "bob"),
        )
        .await;
    assert!(out.contains("serverside-applied"), "{out}");
    let out = k
        .ok_stdin(
            &["apply", "--server-side", "-f", "-"],
            &WIDGET.replace("alice", "carol"),
        )
        .await;
    assert!(out.contains("serverside-applied"), "{out}");
    assert!(
        k.ok(&["get", "widget", "w1", "-n", "demo", "-o", "yaml"])
            .await
            .contains("owner: carol")
    );
    tc.dc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_patch_wait_refuse_and_delete() {
    let (tc, k) = with_crd().await;
    k.ok_stdin(&["apply", "-f", "-"], WIDGET).await;
    let out = k
        .ok(&[
            "patch",
            "widget",
            "w1",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":3}}"#,
        ])
        .await;
    assert!(out.contains("patched"), "{out}");
    let out = k
        .ok(&[
            "patch",
            "widget",
            "w1",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":3}}"#,
        ])
        .await;
    assert!(out.contains("(no change)"), "{out}");
    let refused = k
        .run(&[
            "patch",
            "widget",
            "w1",
            "-n",
            "demo",
            "-p",
            r#"{"spec":{"size":4}}"#,
        ])
        .await;
    assert!(
        !refused.ok
            && refused
                .stderr
                .contains("application/strategic-merge-patch+json is not supported"),
        "{}",
        refused.stderr
    );
    let status = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Done","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    k.ok(&[
        "patch",
        "widget",
        "w1",
        "-n",
        "demo",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ])
    .await;
    let out = k
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "widget/w1",
            "-n",
            "demo",
            "--timeout=20s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");

    let bad = "apiVersion: test.dezky.io/v1\nkind: Widget\nmetadata:\n  name: bad\n  namespace: demo\nspec:\n  email: not-an-email\n";
    let o = k.run_stdin(&["create", "-f", "-"], Some(bad)).await;
    assert!(!o.ok);
    assert!(
        o.stderr.contains(r#"The Widget "bad" is invalid: spec.email: Invalid value: "not-an-email": spec.email in body should match '^[^@]+@[^@]+$'"#),
        "{}",
        o.stderr
    );

    // Deletion waits for the finalizer to go.
    k.ok(&[
        "patch",
        "widget",
        "w1",
        "-n",
        "demo",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["dezky.io/cleanup"]}}"#,
    ])
    .await;
    let mut del = k.command(&["delete", "widget", "w1", "-n", "demo", "--timeout=30s"]);
    del.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let del = del.spawn().unwrap();
    let api = widgets(&tc.client, "demo");
    eventually(20, || async {
        api.get("w1")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    k.ok(&[
        "patch",
        "widget",
        "w1",
        "-n",
        "demo",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await;
    let out = tokio::time::timeout(Duration::from_secs(30), del.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted"));
    assert!(api.get_opt("w1").await.unwrap().is_none());
    tc.dc.shutdown().await;
}

/// The generated dezky CRDs (charts/dezky/crds) apply and become established.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_the_chart_crds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/dezky/crds");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    assert!(!files.is_empty(), "no CRDs generated in {}", dir.display());
    let tc = start().await;
    let k = Kubectl::new(&tc.dc.kubeconfig_path());
    for f in &files {
        let out = k.ok(&["apply", "-f", f.to_str().unwrap()]).await;
        assert!(out.contains("created"), "{out}");
    }
    let out = k
        .ok(&[
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=20s",
        ])
        .await;
    assert_eq!(out.lines().count(), files.len(), "{out}");
    let listed = k.ok(&["get", "crd"]).await;
    assert!(
        listed.starts_with("NAME")
            && listed.contains("CREATED AT")
            && listed.contains("tenants.dezky.io"),
        "{listed}"
    );
    assert!(
        listed.lines().nth(1).unwrap().contains("20"),
        "creation time, not an age: {listed}"
    );
    tc.dc.shutdown().await;
}

/// kubectl's typed `create` commands send protobuf; `get -w` streams Table rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_typed_creates_and_watch() {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use kube::api::{Api, PostParams};
    use tokio::io::AsyncBufReadExt;

    let tc = start().await;
    let k = Kubectl::new(&tc.dc.kubeconfig_path());
    assert!(
        k.ok(&["create", "namespace", "demo"])
            .await
            .contains("namespace/demo created")
    );
    k.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "-n",
        "demo",
        "--from-literal=password=hunter2",
    ])
    .await;
    k.ok(&[
        "create",
        "configmap",
        "c1",
        "-n",
        "demo",
        "--from-literal=a=b",
    ])
    .await;
    let secret = Api::<Secret>::namespaced(tc.client.clone(), "demo")
        .get("s1")
        .await
        .unwrap();
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert_eq!(secret.data.unwrap()["password"].0, b"hunter2");

    // Events: `get events` columns and `describe`'s event lookup by involvedObject.
    let c1 = Api::<ConfigMap>::namespaced(tc.client.clone(), "demo")
        .get("c1")
        .await
        .unwrap();
    let event = serde_json::json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "c1.provisioned", "namespace": "demo"},
        "involvedObject": {"kind": "ConfigMap", "name": "c1", "namespace": "demo", "uid": c1.metadata.uid, "apiVersion": "v1"},
        "reason": "Provisioned", "message": "mailbox created upstream", "type": "Normal", "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z",
        "source": {"component": "dezky-operator"}});
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(tc.client.clone(), "demo");
    events
        .create(
            &PostParams::default(),
            &serde_json::from_value(event).unwrap(),
        )
        .await
        .unwrap();
    let listed = k.ok(&["get", "events", "-n", "demo"]).await;
    let header: Vec<&str> = listed.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{listed}"
    );
    assert!(
        listed.contains("configmap/c1") && listed.contains("mailbox created upstream"),
        "{listed}"
    );
    let described = k.ok(&["describe", "configmap", "c1", "-n", "demo"]).await;
    assert!(
        described.contains("Provisioned") && described.contains("mailbox created upstream"),
        "{described}"
    );

    let mut watch = k.command(&["get", "configmaps", "-n", "demo", "-w"]);
    watch
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = watch.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        first.starts_with("NAME") && first.contains("DATA"),
        "{first}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "demo");
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut created = false;
    while !seen.iter().any(|l: &String| l.starts_with("c2")) {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("watch row arrives")
            .unwrap()
            .unwrap();
        if line.starts_with("c1") && !created {
            cms.create(
                &PostParams::default(),
                &ConfigMap {
                    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        name: Some("c2".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            created = true;
        }
        seen.push(line);
    }
    child.start_kill().unwrap();
    tc.dc.shutdown().await;
}
