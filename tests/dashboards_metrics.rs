//! Every Grafana dashboard in `dashboards/` queries only metrics that a running `dezky dev`
//! exports: the test scrapes the operator's and the API server's `/metrics`, extracts the metric
//! names from every PromQL expression of every dashboard, and names each one nobody exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// PromQL keywords that look like identifiers but are no metric names.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    "atan2",
];

/// Keywords followed by a parenthesised list of label names.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Skips the bracketed region that opens at `bytes[start]` (`open`), honouring quoted strings;
/// returns the index just past its closing bracket.
fn skip_bracketed(bytes: &[u8], start: usize, open: u8, close: u8) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' | b'`' => i = skip_string(bytes, i),
            b if b == open => {
                depth += 1;
                i += 1;
            }
            b if b == close => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// Skips the string literal that opens at `bytes[start]`; returns the index past its end.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == b'\\' && quote != b'`' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    i
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_ident(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

/// The metric names a PromQL expression selects: identifiers that are not functions or
/// aggregations (followed by `(`), keywords, label names (in `{...}`, `by (...)`, ...), numbers,
/// durations, strings or Grafana variables (`$x`, `${x}`, `$__rate_interval`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let bytes = expr.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' || b == b'\'' || b == b'`' {
            i = skip_string(bytes, i);
        } else if b == b'{' {
            i = skip_bracketed(bytes, i, b'{', b'}');
        } else if b == b'[' {
            i = skip_bracketed(bytes, i, b'[', b']');
        } else if b == b'$' {
            i += 1;
            if bytes.get(i) == Some(&b'{') {
                i = skip_bracketed(bytes, i, b'{', b'}');
            } else {
                while i < bytes.len() && is_ident(bytes[i]) {
                    i += 1;
                }
            }
        } else if b.is_ascii_digit()
            || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            // a number or a duration (0.95, 1e3, 5m, 0x1f)
            while i < bytes.len() && (is_ident(bytes[i]) || bytes[i] == b'.') {
                i += 1;
            }
        } else if is_ident_start(b) {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let mut next = i;
            while next < bytes.len() && bytes[next].is_ascii_whitespace() {
                next += 1;
            }
            let followed_by_paren = bytes.get(next) == Some(&b'(');
            // `sum by (le) (...)`, `count without (pod) (...)`: an aggregation before its modifier
            let next_word = expr[next..]
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let aggregation = next_word == "by" || next_word == "without";
            let lower = word.to_ascii_lowercase();
            if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                if followed_by_paren {
                    i = skip_bracketed(bytes, next, b'(', b')');
                }
            } else if followed_by_paren || aggregation || KEYWORDS.contains(&lower.as_str()) {
                // a function, an aggregation or an operator keyword
            } else {
                names.insert(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The selector of a Grafana `label_values(SELECTOR, label)` variable query, or the query itself.
fn variable_selector(query: &str) -> &str {
    let trimmed = query.trim();
    match trimmed
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        Some(args) => args
            .rsplit_once(',')
            .map_or(args, |(selector, _label)| selector),
        None => trimmed,
    }
}

/// One PromQL query found in a dashboard, with where it was found.
struct Query {
    dashboard: String,
    place: String,
    expr: String,
}

/// Collects every panel target's `expr` (rows' nested panels too) and every query variable.
fn dashboard_queries(dashboard: &str, json: &Value) -> Vec<Query> {
    fn panels(dashboard: &str, list: &Value, out: &mut Vec<Query>) {
        for panel in list.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("(untitled)");
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push(Query {
                        dashboard: dashboard.to_string(),
                        place: format!("panel {title:?} target {}", target["refId"]),
                        expr: expr.to_string(),
                    });
                }
            }
            panels(dashboard, &panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(dashboard, &json["panels"], &mut out);
    for variable in json["templating"]["list"].as_array().into_iter().flatten() {
        if variable["type"] != "query" {
            continue;
        }
        let query = variable["query"]["query"]
            .as_str()
            .or_else(|| variable["query"].as_str());
        if let Some(query) = query {
            out.push(Query {
                dashboard: dashboard.to_string(),
                place: format!("variable {}", variable["name"]),
                expr: variable_selector(query).to_string(),
            });
        }
    }
    out
}

/// Every sample name a Prometheus/OpenMetrics text exposition offers: the names of the samples
/// present, plus the sample names each `# TYPE` declares (a counter `x` is queried as `x_total`,
/// a histogram as `x_bucket`, `x_sum`, `x_count`), so a declared family without series yet counts.
fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let mut parts = declaration.split_whitespace();
            let (Some(family), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                _ => &[""],
            };
            for suffix in suffixes {
                let name = if family.ends_with("_total") && *suffix == "_total" {
                    family.to_string()
                } else {
                    format!("{family}{suffix}")
                };
                names.insert(name);
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line
                .find(|c: char| c == '{' || c.is_whitespace())
                .unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    names
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `dashboards/*.json`, parsed; panics when there is none.
fn load_dashboards() -> BTreeMap<String, Value> {
    let dir = repo_root().join("dashboards");
    let mut dashboards = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("the dashboards/ folder exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("a readable dashboard");
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            dashboards.insert(name, json);
        }
    }
    assert!(
        !dashboards.is_empty(),
        "no dashboard found in {}",
        dir.display()
    );
    dashboards
}

/// A running `dezky dev`, interrupted (Ctrl-C) and reaped on drop.
struct Dev {
    child: Child,
    _state: tempfile::TempDir,
}

impl Dev {
    /// Starts `dezky dev --random-ports` in a fresh state directory and returns it with its
    /// dev.json once written.
    fn start() -> (Dev, Value) {
        let state = tempfile::tempdir().expect("a temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dezky"))
            .args(["dev", "--random-ports", "--state-dir"])
            .arg(state.path())
            .current_dir(repo_root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dezky dev starts");
        let dev_json = wait_for_dev_json(state.path(), &mut child);
        (
            Dev {
                child,
                _state: state,
            },
            dev_json,
        )
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let interrupted = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while interrupted && Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

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
        if let Some(status) = child.try_wait().expect("the child's status") {
            panic!("dezky dev exited early with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "dezky dev did not write dev.json within 150 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn url_of<'a>(dev: &'a Value, pointer: &str) -> &'a str {
    dev.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("dev.json has {pointer}: {dev}"))
}

/// Scrapes one `/metrics` endpoint.
async fn scrape(http: &reqwest::Client, url: &str) -> String {
    let response = http
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("scrape {url}: {e}"));
    assert!(response.status().is_success(), "scrape {url}");
    response.text().await.expect("a metrics body")
}

/// Adds a tenant with the real `kubectl`, as a user would.
fn apply_probe_tenant(kubeconfig: &str) {
    let manifest = "apiVersion: dezky.io/v1alpha1
kind: Tenant
metadata:
  name: dashboard-probe
spec:
  displayName: Dashboard Probe
  plan: starter
  seats: 1
  storageQuota: 1Gi
  mailboxQuota: 1Gi
  billing:
    email: billing@dashboard-probe.test
    company: Dashboard Probe
    country: DE
";
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("kubectl's stdin"),
        manifest.as_bytes(),
    )
    .expect("the manifest is written to kubectl");
    let out = child.wait_with_output().expect("kubectl finishes");
    assert!(
        out.status.success(),
        "kubectl apply of the probe tenant: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Series the operator's object index must export once it watches the examples: objects by
/// kind and Ready, suspended objects, and the queue depth of every controller.
const OBJECT_SERIES: &[&str] = &[
    "dezky_objects{kind=\"Tenant\",ready=\"True\"}",
    "dezky_objects{kind=\"Member\",ready=\"True\"}",
    "dezky_objects{kind=\"Partner\",ready=",
    "dezky_objects{kind=\"MailDomain\",ready=",
    "dezky_objects{kind=\"SsoApp\",ready=",
    "dezky_objects_suspended{kind=\"Member\"}",
    "dezky_queue_depth{controller=\"tenant\"}",
    "dezky_queue_depth{controller=\"member\"}",
    "dezky_queue_depth{controller=\"partner\"}",
    "dezky_queue_depth{controller=\"maildomain\"}",
    "dezky_queue_depth{controller=\"ssoapp\"}",
    "dezky_upstream_snapshot_objects{",
];

#[test]
fn the_extractor_finds_metric_names_and_nothing_else() {
    let expr = r#"histogram_quantile(0.95, sum by (controller, le) (rate(dezky_reconcile_duration_seconds_bucket{controller=~"$controller", x="a b"}[$__rate_interval]))) / on (job) group_left (pod) sum without (instance) (dezky_leader offset 5m) > bool 1e3 and ${v} or up[5m:1m]"#;
    let names: Vec<String> = metric_names(expr).into_iter().collect();
    assert_eq!(
        names,
        [
            "dezky_leader",
            "dezky_reconcile_duration_seconds_bucket",
            "up"
        ]
    );
    assert_eq!(
        variable_selector("label_values(dezky_reconciles_total{a=\"b\"}, controller)"),
        "dezky_reconciles_total{a=\"b\"}"
    );
    let exported = exported_names(
        "# TYPE c counter\nc_total{a=\"b\"} 1\n# TYPE h histogram\n# TYPE g gauge\n# EOF\n",
    );
    for name in ["c_total", "h_bucket", "h_sum", "h_count", "g"] {
        assert!(exported.contains(name), "{name} in {exported:?}");
    }
    for name in ["c", "h", "g_total", "c_bucket"] {
        assert!(!exported.contains(name), "{name} not in {exported:?}");
    }
}

#[test]
fn every_dashboard_query_uses_only_metrics_dezky_dev_exports() {
    let dashboards = load_dashboards();
    let queries: Vec<Query> = dashboards
        .iter()
        .flat_map(|(name, json)| dashboard_queries(name, json))
        .collect();
    for name in dashboards.keys() {
        assert!(
            queries.iter().any(|q| &q.dashboard == name),
            "{name} has no query at all"
        );
    }

    let (_dev, dev_json) = Dev::start();
    let api = url_of(&dev_json, "/api").trim_end_matches('/').to_string();
    let operator_metrics = url_of(&dev_json, "/metrics/operator").to_string();
    let api_metrics = url_of(&dev_json, "/metrics/api").to_string();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // reqwest's request futures start their timers when made, so they need the runtime's context
    let _context = runtime.enter();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client");

    // a few API requests, so that the API server's request metrics have series
    for (path, expected) in [
        ("/healthz", 200),
        ("/api/openapi.json", 200),
        ("/api/v1/me", 401),
    ] {
        let status = runtime
            .block_on(http.get(format!("{api}{path}")).send())
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .status();
        assert_eq!(status.as_u16(), expected, "GET {path}");
    }

    // errors and throttling only have series once they happen: make every upstream answer 429
    // and add a tenant, so that its reconcile is throttled and fails
    let control = url_of(&dev_json, "/simulatorControl/url").trim_end_matches('/');
    let token = url_of(&dev_json, "/simulatorControl/token");
    let faults = serde_json::json!(
        ["authentik", "stalwart", "ocis"]
            .map(|upstream| serde_json::json!({"upstream": upstream, "rateLimitRetryAfter": 1}))
    );
    let put = runtime
        .block_on(
            http.put(format!("{control}/control/v1/faults"))
                .bearer_auth(token)
                .json(&faults)
                .send(),
        )
        .expect("the simulators' control API answers");
    assert!(put.status().is_success(), "inject faults: {}", put.status());
    apply_probe_tenant(url_of(&dev_json, "/kubeconfig"));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let text = runtime.block_on(scrape(&http, &operator_metrics));
        let names = exported_names(&text);
        if names.contains("dezky_reconcile_errors_total")
            && names.contains("dezky_upstream_throttled_total")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the probe tenant's reconcile was not throttled and did not fail within 90 s: {names:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // the object and queue gauges have series for every kind once the examples are watched
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = runtime.block_on(scrape(&http, &operator_metrics));
        let missing: Vec<&str> = OBJECT_SERIES
            .iter()
            .copied()
            .filter(|series| !text.lines().any(|l| l.starts_with(series)))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the operator exports no {missing:?} within 60 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let mut exported = BTreeSet::new();
    for url in [&operator_metrics, &api_metrics] {
        exported.extend(exported_names(&runtime.block_on(scrape(&http, url))));
    }
    for family in [
        "dezky_reconciles_total",
        "dezky_api_http_requests_total",
        "dezky_api_http_request_duration_seconds_bucket",
    ] {
        assert!(
            exported.contains(family),
            "the scrape has {family}: {exported:?}"
        );
    }

    let mut missing = Vec::new();
    for query in &queries {
        let names = metric_names(&query.expr);
        assert!(
            !names.is_empty(),
            "{} {}: no metric in {:?}",
            query.dashboard,
            query.place,
            query.expr
        );
        for name in names.difference(&exported) {
            missing.push(format!("{} {}: {name}", query.dashboard, query.place));
        }
    }
    assert!(
        missing.is_empty(),
        "dashboards query metrics that dezky dev does not export:\n{}\nexported: {exported:?}",
        missing.join("\n")
    );
}
