//! The HTTPS front: TLS accept loop, bearer-token authentication, path routing and the small
//! fixed endpoints (/version, health, stats). Resource verbs, watches, discovery, OpenAPI and
//! Table output live in the submodules.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cluster::Cluster;
use crate::errors::ApiError;

mod discovery;
mod jsonpath;
mod openapi;
mod protobuf;
mod query;
mod resources;
mod table;
mod watch_stream;

pub use query::Query;

/// Request counters, by kind of verb.
#[derive(Debug, Default)]
pub struct RequestCounters {
    pub total: AtomicU64,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub watches: AtomicU64,
}

/// Shared state of the HTTP front.
pub struct App {
    pub cluster: Arc<Cluster>,
    pub token: String,
    pub requests: RequestCounters,
    pub shutdown: watch::Receiver<bool>,
}

pub fn json_response(code: u16, body: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

fn text_response(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn token_matches(given: &str, want: &str) -> bool {
    let (a, b) = (given.as_bytes(), want.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `/version` document; minor 32 makes the installed kubectl dispatcher pick kubectl 1.32.
pub fn version_info() -> Value {
    json!({"major": "1", "minor": "32", "gitVersion": "v1.32.5-devcluster", "gitCommit": "devcluster",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.8",
        "compiler": "gc", "platform": "linux/amd64"})
}

impl App {
    fn authorized(&self, req: &Request<Incoming>) -> bool {
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| token_matches(t.trim(), &self.token))
    }

    /// Serve one request.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        self.requests.total.fetch_add(1, Ordering::Relaxed);
        let path = req.uri().path().to_string();
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        // The same endpoints kube-apiserver leaves to anonymous users (system:public-info-viewer).
        let public = matches!(
            segs.first(),
            Some(&"version" | &"healthz" | &"livez" | &"readyz")
        );
        if !public && !self.authorized(&req) {
            return error_response(&ApiError::unauthorized());
        }
        let query = Query::parse(req.uri().query().unwrap_or(""));
        tracing::debug!(method = %req.method(), path = %req.uri().path(), query = req.uri().query().unwrap_or(""), "request");
        match (req.method(), segs.as_slice()) {
            (&Method::GET, ["version"]) => json_response(200, &version_info()),
            (&Method::GET, ["healthz" | "livez" | "readyz", ..]) => {
                text_response(StatusCode::OK, "ok")
            }
            (&Method::GET, ["debug", "devcluster", "stats"]) => {
                json_response(200, &self.stats_json())
            }
            (&Method::GET, []) => {
                json_response(200, &discovery::root_paths(&self.cluster.registry()))
            }
            (&Method::GET, ["api"] | ["apis"] | ["api", "v1"] | ["apis", _] | ["apis", _, _]) => {
                discovery::serve(&self.cluster.registry(), &segs, req.headers())
            }
            (&Method::GET, ["openapi", "v3", rest @ ..]) => {
                openapi::serve(&self.cluster.registry(), rest, &query, req.headers())
            }
            (_, ["api", "v1", rest @ ..]) => {
                let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                resources::serve(self, req, "", "v1", rest, query).await
            }
            (_, ["apis", g, v, rest @ ..]) => {
                let (g, v) = (g.to_string(), v.to_string());
                let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                resources::serve(self, req, &g, &v, rest, query).await
            }
            _ => error_response(&ApiError::path_not_found()),
        }
    }

    pub fn stats_json(&self) -> Value {
        let c = &self.cluster.store.counters;
        json!({
            "requests": self.requests.total.load(Ordering::Relaxed),
            "readRequests": self.requests.reads.load(Ordering::Relaxed),
            "writeRequests": self.requests.writes.load(Ordering::Relaxed),
            "watchRequests": self.requests.watches.load(Ordering::Relaxed),
            "writes": c.writes.load(Ordering::Relaxed),
            "noopWrites": c.noop_writes.load(Ordering::Relaxed),
            "resourceVersion": self.cluster.store.rev(),
        })
    }
}

/// Accept TLS connections until `shutdown` flips, then let open requests finish briefly.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let app = app.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = hyper::service::service_fn(move |req| {
                        let app = app.clone();
                        async move { Ok::<_, Infallible>(app.handle(req).await) }
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    // Connection errors (client resets) are the client's business.
                    let _ = watcher.watch(conn.into_owned()).await;
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// Read a whole request body (at most 64 MiB).
pub async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(Body::new(body), 64 << 20)
        .await
        .map_err(|e| {
            ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("failed to read the request body: {e}"),
            )
        })
}
