//! devcluster: an embedded Kubernetes-compatible API server for one machine.
//!
//! [`Devcluster::start`] opens (or creates) the SQLite state in a directory, generates a CA,
//! a server certificate and a bearer token, writes `STATE_DIR/kubeconfig`, and serves HTTPS
//! until [`Devcluster::shutdown`]. kube-rs and kubectl use it like any Kubernetes API server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod admission;
pub mod cluster;
pub mod errors;
pub mod patch;
pub mod registry;
pub mod selectors;
pub mod server;
pub mod store;
pub mod tls;

use cluster::{Cluster, WriteOptions};
use errors::ApiError;
use server::App;

/// How to run a devcluster.
#[derive(Debug, Clone)]
pub struct DevclusterOptions {
    /// Where the database, the CA, the token and the kubeconfig live.
    pub state_dir: PathBuf,
    /// Where to listen; loopback with a free port by default.
    pub listen: SocketAddr,
    /// How many events the watch history keeps for resumption (older resourceVersions get 410).
    pub watch_history: usize,
}

impl DevclusterOptions {
    pub fn new(state_dir: impl Into<PathBuf>) -> DevclusterOptions {
        DevclusterOptions {
            state_dir: state_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            watch_history: 10_000,
        }
    }
}

/// Why a devcluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevclusterError {
    #[error("failed to create the state directory {path}: {source}")]
    StateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to open the state: {0}")]
    Store(#[from] store::StoreError),
    #[error("failed to prepare TLS credentials: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("failed to initialise the cluster: {0}")]
    Init(#[from] ApiError),
}

/// Counters for tests and the debug endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Requests served (any path).
    pub requests: u64,
    /// Requests that asked for a write (create, update, patch, delete).
    pub write_requests: u64,
    /// Object changes committed (each one an event and a new resourceVersion).
    pub writes: u64,
    /// Writes that changed nothing (resourceVersion kept, no event).
    pub noop_writes: u64,
    /// The current global resourceVersion.
    pub resource_version: i64,
}

/// A running devcluster.
pub struct Devcluster {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    app: Arc<App>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

impl Devcluster {
    pub async fn start(opts: DevclusterOptions) -> Result<Devcluster, DevclusterError> {
        std::fs::create_dir_all(&opts.state_dir).map_err(|source| DevclusterError::StateDir {
            path: opts.state_dir.display().to_string(),
            source,
        })?;
        if !opts.listen.ip().is_loopback() {
            tracing::warn!(listen = %opts.listen, "devcluster listens beyond loopback: it is a development server, not for production");
        }
        let creds = tls::load_or_create(&opts.state_dir, opts.listen)?;
        let store = store::Store::open(&opts.state_dir.join("state.db"), opts.watch_history)?;
        let cluster = Arc::new(Cluster::new(store)?);
        let ns_info = cluster
            .registry()
            .get("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("namespaces are not served"))?;
        let sys = WriteOptions {
            manager: "devcluster".into(),
            ..Default::default()
        };
        for ns in SYSTEM_NAMESPACES {
            match cluster.create(&ns_info, None, json!({"metadata": {"name": ns}}), &sys) {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| DevclusterError::Listen {
                addr: opts.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| DevclusterError::Listen {
                addr: opts.listen,
                source,
            })?;
        let host = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        let url = format!("https://{host}");
        let kubeconfig = tls::write_kubeconfig(&opts.state_dir, &url, &creds)?;
        let (tx, rx) = watch::channel(false);
        let app = Arc::new(App {
            cluster: cluster.clone(),
            token: creds.token.clone(),
            requests: Default::default(),
            shutdown: rx.clone(),
        });
        let tasks = vec![
            tokio::spawn(cluster::gc::run(cluster, rx.clone())),
            tokio::spawn(server::serve(
                listener,
                creds.server_config.clone(),
                app.clone(),
                rx,
            )),
        ];
        tracing::info!(%url, kubeconfig = %kubeconfig.display(), "devcluster serving");
        Ok(Devcluster {
            addr: host,
            kubeconfig,
            app,
            shutdown: tx,
            tasks,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.kubeconfig.clone()
    }

    /// The bearer token the kubeconfig carries.
    pub fn token(&self) -> &str {
        &self.app.token
    }

    pub fn stats(&self) -> Stats {
        let c = &self.app.cluster.store.counters;
        Stats {
            requests: self.app.requests.total.load(Ordering::Relaxed),
            write_requests: self.app.requests.writes.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            noop_writes: c.noop_writes.load(Ordering::Relaxed),
            resource_version: self.app.cluster.store.rev(),
        }
    }

    /// Stop accepting, end watches, and wait (briefly) for the server to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), t).await;
        }
    }
}

impl Drop for Devcluster {
    /// A devcluster dropped without [`Devcluster::shutdown`] still stops serving.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
