//! `dezky dev`, the README's first command, run as a newcomer runs it: it comes up, converges the
//! examples, writes dev.json with users to log in with, serves kubectl, the console and metrics,
//! stops cleanly on Ctrl-C and keeps its state.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn start_dev(state: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dezky"))
        .args(["dev", "--random-ports", "--state-dir"])
        .arg(state)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dezky dev starts")
}

/// Waits for a fresh dev.json (the last thing `dezky dev` writes before it says it is up).
fn wait_for_dev_json(state: &Path, child: &mut Child) -> Value {
    let path = state.join("dev.json");
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let parsed = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        if let Some(v) = parsed {
            return v;
        }
        if let Some(status) = child.try_wait().expect("child status") {
            let out = child.wait_with_output_ref();
            panic!("dezky dev exited early with {status}:\n{out}");
        }
        assert!(
            Instant::now() < deadline,
            "dezky dev did not write dev.json within 90 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

trait OutputRef {
    fn wait_with_output_ref(&mut self) -> String;
}

impl OutputRef for Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let mut text = String::new();
        if let Some(out) = self.stdout.as_mut() {
            out.read_to_string(&mut text).ok();
        }
        if let Some(err) = self.stderr.as_mut() {
            err.read_to_string(&mut text).ok();
        }
        text
    }
}

/// Sends Ctrl-C (SIGINT) and requires a clean exit within 20 s; returns what it printed.
fn interrupt(mut child: Child) -> String {
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("child status") {
            let printed = child.wait_with_output_ref();
            assert!(
                status.success(),
                "dezky dev did not stop cleanly ({status}):\n{printed}"
            );
            return printed;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("dezky dev did not stop within 20 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kubectl(kubeconfig: &str, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dev_comes_up_applies_the_examples_stops_on_ctrl_c_and_keeps_its_state() {
    let state = tempfile::tempdir().expect("temp dir");
    let mut child = start_dev(state.path());
    let dev = wait_for_dev_json(state.path(), &mut child);

    // dev.json has the documented shape
    for key in [
        "kubeconfig",
        "console",
        "api",
        "metrics",
        "upstreams",
        "simulatorControl",
        "dns",
        "oidc",
        "users",
    ] {
        assert!(dev.get(key).is_some(), "dev.json has {key}: {dev}");
    }
    for upstream in ["authentik", "stalwart", "ocis"] {
        let url = dev["upstreams"][upstream]["url"]
            .as_str()
            .expect("an upstream URL");
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "{upstream} on loopback: {url}"
        );
    }
    assert!(
        dev["oidc"]["console"]["issuer"]
            .as_str()
            .is_some_and(|i| i.contains("/application/o/"))
    );
    let kubeconfig = dev["kubeconfig"]
        .as_str()
        .expect("kubeconfig path")
        .to_string();

    // users to log in with: the platform operator and every example member, each with a password
    let users = dev["users"].as_array().expect("users");
    let roles: Vec<&str> = users
        .iter()
        .map(|u| u["role"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        roles.iter().filter(|r| **r == "operator").count(),
        1,
        "{roles:?}"
    );
    assert!(
        roles.contains(&"admin") && roles.contains(&"member") && roles.contains(&"partner"),
        "{roles:?}"
    );
    assert!(
        users.len() >= 13,
        "the operator and a dozen members: {}",
        users.len()
    );
    assert!(
        users
            .iter()
            .all(|u| u["password"].as_str().is_some_and(|p| p.len() >= 8)),
        "every user has a password"
    );

    // the console, the API and the operator's metrics answer
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let get = |url: String| {
        runtime.block_on(async move {
            reqwest::get(&url)
                .await
                .expect("reachable")
                .text()
                .await
                .expect("a body")
        })
    };
    let console = dev["console"].as_str().expect("console URL").to_string();
    let health: Value =
        serde_json::from_str(&get(format!("{console}/healthz"))).expect("JSON health");
    assert_eq!(
        health["status"], "ok",
        "the API server is healthy: {health}"
    );
    let metrics = get(dev["metrics"]["operator"]
        .as_str()
        .expect("operator metrics URL")
        .to_string());
    assert!(
        metrics.contains("dezky_reconciles_total"),
        "the operator exports its metrics"
    );

    // the examples converged: the operator provisioned them against the simulators
    let ready = kubectl(
        &kubeconfig,
        &[
            "get",
            "tenant",
            "acme",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
    );
    assert_eq!(ready, "True", "the example tenant is Ready");
    let domain = kubectl(
        &kubeconfig,
        &[
            "get",
            "maildomain",
            "-n",
            "tenant-acme",
            "acme-test",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
    );
    assert_eq!(
        domain, "True",
        "dezky dev published the example domain's records, so it verified"
    );
    let uid = kubectl(
        &kubeconfig,
        &["get", "tenant", "acme", "-o", "jsonpath={.metadata.uid}"],
    );
    assert!(!uid.is_empty());

    let printed = interrupt(child);
    assert!(printed.contains("Dezky dev is up"), "{printed}");
    assert!(
        printed.contains("kubectl --kubeconfig"),
        "it shows a kubectl command to try: {printed}"
    );
    assert!(
        printed.contains("console and portal: http://127.0.0.1:"),
        "it shows the console URL: {printed}"
    );

    // a restart keeps the state: same object, same UID
    std::fs::remove_file(state.path().join("dev.json")).expect("remove dev.json");
    let mut child = start_dev(state.path());
    let dev = wait_for_dev_json(state.path(), &mut child);
    let kubeconfig = dev["kubeconfig"]
        .as_str()
        .expect("kubeconfig path")
        .to_string();
    let uid_after = kubectl(
        &kubeconfig,
        &["get", "tenant", "acme", "-o", "jsonpath={.metadata.uid}"],
    );
    assert_eq!(
        uid_after, uid,
        "the restarted platform holds the same tenant"
    );
    interrupt(child);
}

/// Reads a simulator's state dump through the control API named in a simulators.json or dev.json.
fn state_dump(control: &Value, upstream: &str) -> Value {
    let url = format!(
        "{}/control/v1/state/{upstream}",
        control["url"].as_str().expect("control URL")
    );
    let token = control["token"]
        .as_str()
        .expect("control token")
        .to_string();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("control API reachable")
                .json::<Value>()
                .await
                .expect("a JSON state dump")
        })
}

fn group_names(dump: &Value) -> Vec<String> {
    dump["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn dev_with_an_upstreams_file_provisions_there_and_refuses_a_bad_file() {
    // a bad file stops dev before it starts anything, naming the file and the setting
    let state = tempfile::tempdir().expect("temp dir");
    let bad = state.path().join("bad-upstreams.yaml");
    std::fs::write(&bad, "authentik: {url: 'not a url', token: t}\nstalwart: {url: 'http://127.0.0.1:1', username: u, password: p}\nocis: {url: 'http://127.0.0.1:1', username: u, password: p}\n").expect("write");
    let refused = Command::new(env!("CARGO_BIN_EXE_dezky"))
        .args(["dev", "--random-ports", "--state-dir"])
        .arg(state.path().join("refused"))
        .arg("--upstreams")
        .arg(&bad)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("dezky dev runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("bad-upstreams.yaml") && stderr.contains("authentik.url"),
        "{stderr}"
    );
    assert!(!state.path().join("refused").join("dev.json").exists());

    // "real" upstreams: a second, separate set of simulators started by `dezky simulators`
    let outside = tempfile::tempdir().expect("temp dir");
    let servers = Command::new(env!("CARGO_BIN_EXE_dezky"))
        .args(["simulators", "--state-dir"])
        .arg(outside.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dezky simulators starts");
    let info_path = outside.path().join("simulators.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    let info: Value = loop {
        if let Some(v) = std::fs::read_to_string(&info_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
        {
            break v;
        }
        assert!(Instant::now() < deadline, "simulators.json not written");
        std::thread::sleep(Duration::from_millis(100));
    };
    let file = state.path().join("upstreams.yaml");
    std::fs::write(
        &file,
        serde_json::to_string(&info["upstreams"]).expect("json"),
    )
    .expect("write");

    let mut child = Command::new(env!("CARGO_BIN_EXE_dezky"))
        .args(["dev", "--random-ports", "--state-dir"])
        .arg(state.path().join("dev"))
        .arg("--upstreams")
        .arg(&file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dezky dev starts");
    let dev = wait_for_dev_json(&state.path().join("dev"), &mut child);
    assert_eq!(
        dev["upstreams"], info["upstreams"],
        "dev.json names the file's upstreams"
    );

    // the examples were provisioned in the file's Authentik, and nothing in dev's own simulator
    let kubeconfig = dev["kubeconfig"].as_str().expect("kubeconfig").to_string();
    let ready = kubectl(
        &kubeconfig,
        &[
            "get",
            "tenant",
            "acme",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
    );
    assert_eq!(ready, "True");
    let theirs = group_names(&state_dump(&info["simulatorControl"], "authentik"));
    assert!(theirs.iter().any(|g| g == "tenant-acme"), "{theirs:?}");
    let ours = group_names(&state_dump(&dev["simulatorControl"], "authentik"));
    assert!(!ours.iter().any(|g| g.starts_with("tenant-")), "{ours:?}");

    interrupt(child);
    interrupt(servers);
}
