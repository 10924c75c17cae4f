//! `dezky bench` at its smallest (1 tenant x 2 members): it converges and prints every figure.

use std::process::Command;

#[test]
fn bench_prints_every_figure() {
    let state = tempfile::tempdir().expect("a temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_dezky"))
        .args(["bench", "--tenants", "1", "--members", "2", "--state-dir"])
        .arg(state.path().join("bench"))
        .output()
        .expect("dezky bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "dezky bench failed:\n{stdout}\n{stderr}"
    );
    // 1 tenant + 1 mail domain + 2 members
    assert!(stdout.contains("(4 objects:"), "{stdout}");
    for figure in [
        "cold-converge time",
        "cold-converge lower bound",
        "upstream reads per object",
        "upstream writes per object",
        "no-op resync requests",
        "no-op restart requests",
        "operator memory per cached object",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(figure))
            .unwrap_or_else(|| panic!("no `{figure}` line in:\n{stdout}"));
        let value = line[figure.len()..].trim_start();
        assert!(
            value.starts_with(|c: char| c.is_ascii_digit()),
            "`{figure}` has no number: {line}"
        );
    }
    // a cold converge writes upstream; every upstream gets something
    let writes = stdout
        .lines()
        .find(|l| l.starts_with("upstream writes per object"))
        .and_then(|l| l.split('(').nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("a write count");
    assert!(writes > 0, "{stdout}");
    // one resync interval of a running operator over converged objects writes nothing
    let resync = stdout
        .lines()
        .find(|l| l.starts_with("no-op resync requests"))
        .expect("a resync line");
    assert!(
        resync.contains(" 0 upstream writes, 0 Kubernetes writes;"),
        "{resync}"
    );
    assert!(!stdout.contains("WARNING"), "{stdout}");
    for upstream in ["authentik", "stalwart", "ocis"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(upstream)),
            "no {upstream} row in:\n{stdout}"
        );
    }
}
