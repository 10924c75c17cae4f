//! Starts every simulator on its own loopback port, plus the control API, and writes `simulators.json`.
//!
//! `dezky simulators --state-dir DIR` and `dezky dev` call [`start`]. The file
//! `DIR/simulators.json` has the `upstreams`, `simulatorControl`, `dns` and `oidc` entries of
//! `dev.json` (issue 7), so scripts and `dezky dev` read the same shape:
//!
//! ```json
//! {"upstreams": {"authentik": {"url", "token"}, "stalwart": {"url", "username", "password"},
//!                "ocis": {"url", "username", "password"}},
//!  "simulatorControl": {"url", "token"}, "dns": "127.0.0.1:PORT",
//!  "oidc": {"console": {"issuer", "clientId"}, "portal": {"issuer", "clientId"}}}
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::authentik::{AuthentikOptions, AuthentikSim, OidcApp};
use crate::control::Control;
use crate::dns::{DnsServer, DnsZones};
use crate::ocis::{Ocis, OcisConfig};
use crate::stalwart::{Stalwart, StalwartConfig};

/// The slug (and client id) of the operator console's OIDC application.
pub const CONSOLE_APP: &str = "dezky-console";
/// The slug (and client id) of the customer/partner portal's OIDC application.
pub const PORTAL_APP: &str = "dezky-portal";
/// The redirect URI pattern the seeded OIDC applications accept when none are given: any loopback URL.
pub const LOOPBACK_REDIRECT: &str = r"http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?/.*";

/// Ports to bind; 0 picks a free one.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatorPorts {
    pub authentik: u16,
    pub stalwart: u16,
    pub ocis: u16,
    pub control: u16,
}

/// How to start the simulators.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// Where `simulators.json` (and the cached OIDC signing key) go; `None` writes nothing.
    pub state_dir: Option<PathBuf>,
    /// The address to bind (loopback by default).
    pub bind: IpAddr,
    pub ports: SimulatorPorts,
    /// Redirect URIs of the console and portal OIDC applications, matched exactly; empty accepts any loopback URL.
    pub redirect_uris: Vec<String>,
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        Self {
            state_dir: None,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: SimulatorPorts::default(),
            redirect_uris: Vec::new(),
        }
    }
}

/// Failure to start the simulators.
#[derive(thiserror::Error, Debug)]
pub enum RunnerError {
    #[error("failed to bind the {what} simulator on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("failed to start the DNS simulator: {0}")]
    Dns(std::io::Error),
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `upstreams.authentik` of `simulators.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEndpoint {
    pub url: String,
    pub token: String,
}

/// `upstreams.stalwart` / `upstreams.ocis` of `simulators.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicEndpoint {
    pub url: String,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstreams {
    pub authentik: TokenEndpoint,
    pub stalwart: BasicEndpoint,
    pub ocis: BasicEndpoint,
}

/// One OIDC client of `simulators.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcClient {
    pub issuer: String,
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcClients {
    pub console: OidcClient,
    pub portal: OidcClient,
}

/// The content of `simulators.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulatorsInfo {
    pub upstreams: Upstreams,
    pub simulator_control: TokenEndpoint,
    /// The DNS server's `ip:port` (UDP and TCP).
    pub dns: String,
    pub oidc: OidcClients,
}

/// The running simulators. Dropping it leaves the servers running until the runtime ends; call
/// [`Simulators::shutdown`] to stop them.
pub struct Simulators {
    pub info: SimulatorsInfo,
    pub control: Control,
    pub authentik: AuthentikSim,
    pub stalwart: Stalwart,
    pub ocis: Ocis,
    /// The zones the DNS server serves; publish records here or through the control API.
    pub dns_zones: DnsZones,
    /// Where `simulators.json` was written.
    pub info_path: Option<PathBuf>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    dns: DnsServer,
}

impl std::fmt::Debug for Simulators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulators")
            .field("info_path", &self.info_path)
            .finish_non_exhaustive()
    }
}

impl Simulators {
    /// Stops every server and waits for them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        drop(self.dns);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn random_secret() -> String {
    crate::authentik::random_key(40)
}

async fn bind(
    what: &'static str,
    ip: IpAddr,
    port: u16,
) -> Result<(TcpListener, SocketAddr), RunnerError> {
    let addr = SocketAddr::new(ip, port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| RunnerError::Bind { what, addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| RunnerError::Bind { what, addr, source })?;
    Ok((listener, local))
}

fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "simulator server failed");
        }
    })
}

fn url_of(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Starts every simulator and the control API, seeds the console and portal OIDC applications,
/// and writes `simulators.json` into the state dir (if any).
pub async fn start(opts: SimulatorOptions) -> Result<Simulators, RunnerError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let control = Control::new(random_secret());

    let (authentik_listener, authentik_addr) =
        bind("authentik", opts.bind, opts.ports.authentik).await?;
    let (stalwart_listener, stalwart_addr) =
        bind("stalwart", opts.bind, opts.ports.stalwart).await?;
    let (ocis_listener, ocis_addr) = bind("ocis", opts.bind, opts.ports.ocis).await?;
    let (control_listener, control_addr) = bind("control", opts.bind, opts.ports.control).await?;

    if let Some(dir) = &opts.state_dir {
        std::fs::create_dir_all(dir).map_err(|source| RunnerError::Write {
            path: dir.clone(),
            source,
        })?;
    }

    let authentik_token = random_secret();
    let authentik = AuthentikSim::new(AuthentikOptions {
        api_token: authentik_token.clone(),
        signing_key_path: opts
            .state_dir
            .as_ref()
            .map(|d| d.join("authentik-signing-key.pem")),
    });
    let redirect_uris: Vec<(String, String)> = if opts.redirect_uris.is_empty() {
        vec![("regex".into(), LOOPBACK_REDIRECT.into())]
    } else {
        opts.redirect_uris
            .iter()
            .map(|u| ("strict".to_owned(), u.clone()))
            .collect()
    };
    for (slug, name) in [(CONSOLE_APP, "Dezky console"), (PORTAL_APP, "Dezky portal")] {
        authentik.seed_oidc_app(&OidcApp {
            slug: slug.into(),
            name: name.into(),
            client_id: slug.into(),
            redirect_uris: redirect_uris.clone(),
        });
    }
    authentik.register_dump(&control);

    let stalwart_config = StalwartConfig {
        admin_password: random_secret(),
        ..StalwartConfig::default()
    };
    let stalwart = Stalwart::new(stalwart_config.clone());
    let stalwart_dump = stalwart.clone();
    control.register_dump(
        "stalwart",
        std::sync::Arc::new(move || stalwart_dump.dump()),
    );

    let ocis_config = OcisConfig {
        app_token: random_secret(),
        ..OcisConfig::default()
    };
    let ocis = Ocis::new(ocis_config.clone());
    let ocis_dump = ocis.clone();
    control.register_dump("ocis", std::sync::Arc::new(move || ocis_dump.dump()));

    let dns_zones = DnsZones::new();
    let dns = DnsServer::start(dns_zones.clone())
        .await
        .map_err(RunnerError::Dns)?;
    control.add_routes(crate::dns::control_routes(dns_zones.clone()));

    let mut tasks = vec![
        serve(
            authentik_listener,
            authentik.router(&control),
            stop_rx.clone(),
        ),
        serve(
            stalwart_listener,
            control.apply("stalwart", stalwart.router()),
            stop_rx.clone(),
        ),
        serve(
            ocis_listener,
            control.apply("ocis", ocis.router()),
            stop_rx.clone(),
        ),
    ];
    tasks.push(serve(control_listener, control.router(), stop_rx));

    let authentik_url = url_of(authentik_addr);
    let oidc_client = |slug: &str| OidcClient {
        issuer: format!("{authentik_url}/application/o/{slug}/"),
        client_id: slug.to_owned(),
    };
    let info = SimulatorsInfo {
        upstreams: Upstreams {
            authentik: TokenEndpoint {
                url: authentik_url.clone(),
                token: authentik_token,
            },
            stalwart: BasicEndpoint {
                url: url_of(stalwart_addr),
                username: stalwart_config.admin_username,
                password: stalwart_config.admin_password,
            },
            ocis: BasicEndpoint {
                url: url_of(ocis_addr),
                username: ocis_config.username,
                password: ocis_config.app_token,
            },
        },
        simulator_control: TokenEndpoint {
            url: url_of(control_addr),
            token: control.token().to_owned(),
        },
        dns: dns.addr().to_string(),
        oidc: OidcClients {
            console: oidc_client(CONSOLE_APP),
            portal: oidc_client(PORTAL_APP),
        },
    };
    let info_path = match &opts.state_dir {
        Some(dir) => Some(write_info(dir, &info)?),
        None => None,
    };
    tracing::info!(authentik = %authentik_url, control = %info.simulator_control.url, "simulators started");
    Ok(Simulators {
        info,
        control,
        authentik,
        stalwart,
        ocis,
        dns_zones,
        info_path,
        shutdown: stop_tx,
        tasks,
        dns,
    })
}

/// Writes `simulators.json` (mode 0600: it holds credentials) and returns its path.
fn write_info(dir: &Path, info: &SimulatorsInfo) -> Result<PathBuf, RunnerError> {
    let path = dir.join("simulators.json");
    let json = serde_json::to_vec_pretty(info).unwrap_or_default();
    let tmp = dir.join(".simulators.json.tmp");
    let write = || -> std::io::Result<()> {
        std::fs::write(&tmp, &json)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|source| RunnerError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
