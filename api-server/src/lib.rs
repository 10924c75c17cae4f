//! Dezky API server: authentication (JWKS), authorization by role, the JSON API that turns
//! console and portal actions into resource specs, the OpenAPI document, metrics and the
//! server-sent event streams. `dezky api --config FILE` calls [`run`].

pub mod auth;
pub mod authz;
pub mod billing;
pub mod cache;
pub mod config;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod ui;
pub mod webhooks;
pub mod writes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::ApiConfig;

use auth::Verifier;
use authz::{Caller, Roles};
use cache::Cache;
use metrics::Metrics;
use problem::ApiError;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// What every route shares.
pub struct Inner {
    pub client: kube::Client,
    pub cache: Cache,
    pub verifier: Verifier,
    pub metrics: Arc<Metrics>,
    pub config: ApiConfig,
    pub openapi: serde_json::Value,
    /// Stripe reads; `None` when billing is switched off.
    pub billing: Option<billing::StripeReader>,
}

/// The shared state of the routes.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = auth::bearer(header)?;
        let principal = state.verifier.verify(token).await?;
        let roles = Roles::of(
            &principal,
            &state.cache,
            &state.verifier,
            &state.config.oidc.platform_admins_group,
        )
        .await;
        Ok(Caller { principal, roles })
    }
}

/// A JSON request body whose errors are problem+json: 415 when it is not `application/json`,
/// 413 past the body limit, 400 with the reason when it is not the expected JSON.
pub struct Body<T>(pub T);

/// The largest JSON body a route reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Whether a `Content-Type` is JSON (`application/json` or `application/*+json`, any parameters).
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !is_json(&content_type) {
            return Err(ApiError::UnsupportedMediaType(content_type));
        }
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(ApiError::PayloadTooLarge(format!(
                "at most {MAX_BODY_BYTES} bytes"
            )));
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                let text = e.to_string();
                if text.contains("length limit") {
                    ApiError::PayloadTooLarge(format!("at most {MAX_BODY_BYTES} bytes"))
                } else {
                    ApiError::bad_request("body", text)
                }
            })?;
        let mut json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request("body", e.to_string()))?;
        integral_numbers(&mut json);
        let value =
            T::deserialize(json).map_err(|e| ApiError::bad_request("body", e.to_string()))?;
        Ok(Body(value))
    }
}

/// Writes every number with no fractional part as an integer: JSON Schema (and so the OpenAPI
/// document) calls `5.0` an integer, and a client may send it so.
fn integral_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *n = serde_json::Number::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// A running API server.
pub struct ApiServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ApiServer {
    /// Starts the caches, the key warm-up and the HTTP server on `config.listenAddress`.
    pub async fn start(config: ApiConfig, client: kube::Client) -> Result<ApiServer, ServeError> {
        let (cache, mut tasks) = Cache::start(&client);
        let verifier = Verifier::new(&config.oidc);
        let listener = tokio::net::TcpListener::bind(config.listen_address)
            .await
            .map_err(|source| ServeError::Listen {
                addr: config.listen_address,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.listen_address,
            source,
        })?;
        let state = AppState(Arc::new(Inner {
            client,
            cache,
            verifier,
            metrics: Metrics::new(),
            openapi: openapi::document(&routes::routes()),
            billing: config.billing.as_ref().map(billing::StripeReader::new),
            config,
        }));
        let warm = state.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                warm.verifier.warm_up().await;
                if warm.verifier.ready().await {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }));
        let (stop, mut stopped) = watch::channel(false);
        let webhooks = state.config.billing.as_ref().map(|b| {
            webhooks::for_cluster(
                b.webhook_secret.clone(),
                state.client.clone(),
                state.cache.clone(),
            )
        });
        let mut app = routes::router(state.clone()).merge(ui::router(state));
        app = app.merge(match webhooks {
            Some(webhooks) => webhooks::router(webhooks),
            None => webhooks::router_without_billing(),
        });
        tasks.push(tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "the API server failed");
            }
        }));
        tracing::info!(%addr, "api server listening");
        Ok(ApiServer { addr, stop, tasks })
    }

    /// Stops the server and the watches.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut tasks = self.tasks;
        if let Some(server) = tasks.pop() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        for t in tasks {
            t.abort();
        }
    }
}

/// Runs the API server until Ctrl-C or SIGTERM.
pub async fn run(config: ApiConfig, client: kube::Client) -> Result<(), ServeError> {
    let server = ApiServer::start(config, client).await?;
    shutdown_signal().await;
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
