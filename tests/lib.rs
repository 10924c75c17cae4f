//! System tests: the whole platform, driven as users drive it. Shared helpers live here: a
//! devcluster started in-process in a fresh state directory, and the real `kubectl` against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dezky_devcluster::{Devcluster, DevclusterOptions};

/// The repository root (for `examples/`, `charts/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A devcluster on a free loopback port with its own state directory, stopped on drop.
pub struct TestCluster {
    runtime: tokio::runtime::Runtime,
    cluster: Option<Devcluster>,
    state: tempfile::TempDir,
}

impl TestCluster {
    /// Starts a devcluster with a fresh state directory.
    pub fn start() -> TestCluster {
        let state = tempfile::tempdir().expect("a temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let cluster = runtime
            .block_on(Devcluster::start(DevclusterOptions::new(state.path())))
            .expect("devcluster starts");
        TestCluster {
            runtime,
            cluster: Some(cluster),
            state,
        }
    }

    /// The kubeconfig `kubectl` and kube-rs use.
    pub fn kubeconfig(&self) -> PathBuf {
        self.cluster.as_ref().expect("running").kubeconfig_path()
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Runs the real `kubectl` with this cluster's kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .current_dir(repo_root())
            .output()
            .expect("kubectl runs (scripts/test installs it when missing)")
    }

    /// Runs `kubectl` and requires success; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            self.runtime.block_on(cluster.shutdown());
        }
    }
}
