//! The shared context every controller's reconcile gets: the Kubernetes client, the configuration,
//! the upstream clients, per-object backoff, the deletion breaker, the event recorder and metrics.
//!
//! Controllers never build clients themselves; [`Context::new`] builds everything once from the
//! configuration and the credentials. The helpers here (`marker`, `event`, `allow_upstream_delete`,
//! `resync`, `is_paused`, `wants_adoption`) are the small pieces every controller needs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dezky_crds::common::{ANNOTATION_ADOPT, ANNOTATION_PAUSED};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use rand::Rng;
use tokio::sync::watch;
use url::Url;

use super::error::{ReconcileError, RuntimeError};
use super::metrics::Metrics;
use crate::backoff::{BackoffPolicy, Backoffs};
use crate::breaker::DeletionBreaker;
use crate::config::{Config, Credentials, RateLimit};
use crate::upstream::authentik::AuthentikClient;
use crate::upstream::dns::HickoryDnsChecker;
use crate::upstream::http::{Auth, UpstreamHttp, UpstreamLimits};
use crate::upstream::marker::Marker;
use crate::upstream::ocis::OcisClient;
use crate::upstream::snapshot::SnapshotSettings;
use crate::upstream::stalwart::StalwartClient;
use crate::upstream::stripe::StripeClient;

/// How long one DNS query may take before the check counts as failed.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// Runtime tuning that is not in the configuration file (tests shorten it).
#[derive(Debug, Clone)]
pub struct Tuning {
    /// The per-object backoff after a retryable error.
    pub backoff: BackoffPolicy,
    /// Random spread added to the resync interval, as a fraction of it.
    pub resync_jitter: f64,
    /// The name of the event reporter (the Deployment's name in a cluster).
    pub reporter: String,
    /// The reporting instance (the Pod's name in a cluster).
    pub instance: Option<String>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            backoff: BackoffPolicy::default(),
            resync_jitter: 0.1,
            reporter: "dezky-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        }
    }
}

/// Everything a reconcile needs; shared by all controllers through an `Arc`.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// The operator's configuration.
    pub config: Arc<Config>,
    /// Authentik (groups, users, OAuth2 providers, applications).
    pub identity: AuthentikClient,
    /// Stalwart (domains, DKIM, mailboxes).
    pub mail: StalwartClient,
    /// OCIS (project spaces, groups, permissions).
    pub files: OcisClient,
    /// The DNS resolver checks go through.
    pub dns: HickoryDnsChecker,
    /// Stripe (customers, subscriptions), only when billing is enabled in the configuration.
    pub billing: Option<StripeClient>,
    /// Upstream deletions per minute, all controllers together.
    pub breaker: DeletionBreaker,
    /// Failures per object key (`Kind/namespace/name`), for exponential backoff.
    pub backoffs: Backoffs<String>,
    /// The operator's metrics (reconciles, errors, durations, upstream requests).
    pub metrics: Metrics,
    tuning: Tuning,
    recorder: Recorder,
    shutdown: watch::Receiver<bool>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("installation", &self.config.installation_id)
            .finish_non_exhaustive()
    }
}

fn limits(rate: RateLimit, resync: Duration) -> UpstreamLimits {
    UpstreamLimits {
        requests_per_second: rate.requests_per_second,
        max_in_flight: rate.max_in_flight,
        // upstream snapshots reload twice per object resync, so drift is seen within one
        snapshots: SnapshotSettings::for_object_resync(resync),
        ..UpstreamLimits::default()
    }
}

fn parse_url(setting: &str, value: &str) -> Result<Url, RuntimeError> {
    value.parse().map_err(|e| RuntimeError::Setup {
        what: format!("upstreams.{setting}.url"),
        reason: format!("{e}"),
    })
}

/// The first `nameserver` of `/etc/resolv.conf`, used when `dns.resolvers` is empty.
fn system_resolver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next())
            .flatten()
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

impl Context {
    /// Builds the upstream clients from the configuration and credentials. `shutdown` turns
    /// true when the controllers must stop (leadership lost, process ending).
    pub fn new(
        config: Config,
        credentials: &Credentials,
        client: Client,
        metrics: Metrics,
        tuning: Tuning,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Context, RuntimeError> {
        let upstreams = &config.upstreams;
        let setup = |what: &str| {
            let what = what.to_string();
            move |e: crate::upstream::http::UpstreamError| RuntimeError::Setup {
                what,
                reason: e.to_string(),
            }
        };
        let identity = AuthentikClient::new(
            &parse_url("authentik", &upstreams.authentik.url)?,
            credentials.authentik_token.clone(),
            limits(
                upstreams.authentik.rate_limit,
                config.operator.resync_interval,
            ),
            metrics.upstream.clone(),
        )
        .map_err(setup("the Authentik client"))?;
        let mail_http = UpstreamHttp::new(
            "stalwart",
            parse_url("stalwart", &upstreams.stalwart.url)?,
            Auth::Basic {
                username: credentials.stalwart_username.clone(),
                password: credentials.stalwart_password.clone(),
            },
            limits(
                upstreams.stalwart.rate_limit,
                config.operator.resync_interval,
            ),
            metrics.upstream.clone(),
        )
        .map_err(setup("the Stalwart client"))?;
        let files_http = UpstreamHttp::new(
            "ocis",
            parse_url("ocis", &upstreams.ocis.url)?,
            Auth::Basic {
                username: credentials.ocis_username.clone(),
                password: credentials.ocis_password.clone(),
            },
            limits(upstreams.ocis.rate_limit, config.operator.resync_interval),
            metrics.upstream.clone(),
        )
        .map_err(setup("the OCIS client"))?;
        let billing = match config.upstreams.stripe.as_ref().filter(|s| s.enabled) {
            Some(stripe) => {
                let key =
                    credentials
                        .stripe_api_key
                        .clone()
                        .ok_or_else(|| RuntimeError::Setup {
                            what: "the Stripe client".into(),
                            reason:
                                "billing is enabled but the credential stripe-api-key is missing"
                                    .into(),
                        })?;
                let http = UpstreamHttp::new(
                    "stripe",
                    parse_url("stripe", stripe.base_url())?,
                    Auth::Bearer(key),
                    limits(stripe.rate_limit, config.operator.resync_interval),
                    metrics.upstream.clone(),
                )
                .map_err(setup("the Stripe client"))?;
                Some(StripeClient::new(http))
            }
            None => None,
        };
        let resolver = match config.dns.resolvers.first() {
            Some(address) => address.parse().map_err(|_| RuntimeError::Setup {
                what: "dns.resolvers".into(),
                reason: format!("{address:?} is not an ip:port address"),
            })?,
            None => system_resolver().ok_or_else(|| RuntimeError::Setup {
                what: "dns.resolvers".into(),
                reason: "is empty and /etc/resolv.conf names no nameserver".into(),
            })?,
        };
        let dns =
            HickoryDnsChecker::new(resolver, DNS_TIMEOUT).map_err(|e| RuntimeError::Setup {
                what: "dns.resolvers".into(),
                reason: e.to_string(),
            })?;
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: tuning.reporter.clone(),
                instance: tuning.instance.clone(),
            },
        );
        Ok(Context {
            breaker: DeletionBreaker::new(config.operator.max_upstream_deletes_per_minute),
            backoffs: Backoffs::new(tuning.backoff),
            client,
            identity,
            mail: StalwartClient::new(mail_http),
            files: OcisClient::new(files_http),
            dns,
            billing,
            metrics,
            tuning,
            recorder,
            shutdown,
            config: Arc::new(config),
        })
    }

    /// This installation's id (part of every marker).
    pub fn installation(&self) -> &str {
        &self.config.installation_id
    }

    /// The marker of `obj` in this installation.
    pub fn marker<K: Resource<DynamicType = ()>>(&self, obj: &K) -> Marker {
        Marker {
            installation: self.config.installation_id.clone(),
            kind: K::kind(&()).into_owned(),
            namespace: obj.meta().namespace.clone(),
            name: obj.name_any(),
            uid: obj.meta().uid.clone().unwrap_or_default(),
        }
    }

    /// The key of `obj` for backoff and logs: `Kind/namespace/name` (`-` for cluster scope).
    pub fn key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
        format!(
            "{}/{}/{}",
            K::kind(&()),
            obj.meta().namespace.as_deref().unwrap_or("-"),
            obj.name_any()
        )
    }

    /// True while `dezky.io/paused: "true"`: observe, change nothing upstream.
    pub fn is_paused<K: Resource>(obj: &K) -> bool {
        obj.annotations().get(ANNOTATION_PAUSED).map(String::as_str) == Some("true")
    }

    /// True when the object asks to adopt unmarked upstream objects (`dezky.io/adopt: "true"`);
    /// adoption also needs the owning Tenant's or Partner's `spec.allowAdoption`.
    pub fn wants_adoption<K: Resource>(obj: &K) -> bool {
        obj.annotations().get(ANNOTATION_ADOPT).map(String::as_str) == Some("true")
    }

    /// The action after a successful pass: the configured resync, with jitter.
    pub fn resync(&self) -> Action {
        let base = self.config.operator.resync_interval;
        let spread = base.as_secs_f64() * self.tuning.resync_jitter.clamp(0.0, 1.0);
        let jitter = rand::rng().random_range(0.0..=spread.max(0.0));
        Action::requeue(base + Duration::from_secs_f64(jitter))
    }

    /// The configured resync interval, without jitter.
    pub fn resync_interval(&self) -> Duration {
        self.config.operator.resync_interval
    }

    /// Records a Kubernetes Event on `obj`. An event that cannot be written is logged, never
    /// fails the reconcile. `note` must not contain secrets.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: impl Into<String>,
    ) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note.into()),
            action: action.into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(object = %Self::key(obj), %error, "failed to record an event");
        }
    }

    /// The name of a dezky.io CRD that is being deleted, if any. While one is, cleanups orphan
    /// everything upstream (uninstalling never wipes customers' data).
    pub async fn crd_being_deleted(&self) -> Result<Option<String>, kube::Error> {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let list = crds.list(&ListParams::default()).await?;
        Ok(list
            .items
            .iter()
            .find(|crd| {
                crd.spec.group == dezky_crds::GROUP && crd.metadata.deletion_timestamp.is_some()
            })
            .map(ResourceExt::name_any))
    }

    /// Checks, just before one upstream deletion, that no dezky.io CRD is being deleted and
    /// takes the deletion out of the breaker's budget; refuses otherwise.
    pub async fn allow_upstream_delete(&self) -> Result<(), ReconcileError> {
        if let Some(crd) = self.crd_being_deleted().await? {
            return Err(ReconcileError::CrdDeleting { crd });
        }
        self.breaker.acquire(Instant::now())?;
        Ok(())
    }

    /// A receiver that turns true when the controllers must stop.
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    /// A future that completes when the controllers must stop (for `graceful_shutdown_on`).
    pub fn shutdown_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.clone();
        async move {
            // An error means the sender is gone: stop too.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}
