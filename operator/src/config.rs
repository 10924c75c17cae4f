//! The operator's configuration: a non-secret YAML file (`--config`, rendered by the Helm chart
//! into `/etc/dezky/config.yaml`) plus credentials read from files in `credentialsDir` (one per
//! key of an existing Secret) or from `DEZKY_*` environment variables. A missing or wrong setting
//! is named in a clear error at start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::upstream::http::Secret;

/// Everything the operator reads at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Names this installation in every upstream marker; keep it for life.
    pub installation_id: String,
    /// Logging of the process.
    #[serde(default)]
    pub logging: Logging,
    /// Where the credential files are (one file per key).
    #[serde(default)]
    pub credentials_dir: Option<PathBuf>,
    /// The upstream systems.
    pub upstreams: Upstreams,
    /// DNS verification.
    #[serde(default)]
    pub dns: DnsConfig,
    /// The plan catalogue: plan name → what it includes.
    #[serde(default)]
    pub plans: BTreeMap<String, PlanConfig>,
    /// Operator tuning.
    #[serde(default)]
    pub operator: OperatorConfig,
    /// API server settings (read by `dezky api`; accepted here so both share one file).
    #[serde(default)]
    pub api: Option<serde_yaml::Value>,
}

/// Log settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logging {
    /// trace | debug | info | warn | error
    #[serde(default = "Logging::default_level")]
    pub level: String,
    /// json | text
    #[serde(default = "Logging::default_format")]
    pub format: String,
}

impl Logging {
    fn default_level() -> String {
        "info".into()
    }
    fn default_format() -> String {
        "text".into()
    }
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            level: Self::default_level(),
            format: Self::default_format(),
        }
    }
}

/// The upstream systems.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Upstreams {
    /// Authentik (single sign-on).
    pub authentik: UpstreamConfig,
    /// Stalwart (mail).
    pub stalwart: UpstreamConfig,
    /// OCIS (files).
    pub ocis: UpstreamConfig,
    /// Stripe (billing), optional.
    #[serde(default)]
    pub stripe: Option<StripeConfig>,
}

/// One upstream's address and limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URL, e.g. `https://auth.example.com`.
    pub url: String,
    /// Requests per second and in flight.
    #[serde(default)]
    pub rate_limit: RateLimit,
}

/// Billing settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StripeConfig {
    /// Whether billing is on at all.
    #[serde(default)]
    pub enabled: bool,
    /// Base URL of the Stripe API.
    #[serde(default)]
    pub url: Option<String>,
    /// Requests per second and in flight.
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Days of free trial a new subscription starts with (no card needed until it ends; 0 = none,
    /// and then a subscription is created only once the customer has a payment method).
    #[serde(default = "StripeConfig::default_trial_days")]
    pub trial_days: u32,
}

impl StripeConfig {
    /// Stripe's API, when `url` is not set.
    pub const DEFAULT_URL: &'static str = "https://api.stripe.com";

    fn default_trial_days() -> u32 {
        14
    }

    /// The base URL of the Stripe API: `url`, else Stripe's own.
    pub fn base_url(&self) -> &str {
        self.url
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or(Self::DEFAULT_URL)
    }
}

/// A per-upstream rate limit.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub requests_per_second: f64,
    /// Requests in flight at once.
    pub max_in_flight: usize,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            requests_per_second: 10.0,
            max_in_flight: 4,
        }
    }
}

/// DNS verification settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DnsConfig {
    /// `host:port` resolvers; empty means the system resolver.
    #[serde(default)]
    pub resolvers: Vec<String>,
}

/// One plan of the catalogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanConfig {
    /// The plan's name as people read it.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The most seats a tenant on this plan may buy.
    #[serde(default)]
    pub max_seats: Option<i32>,
    /// The largest storage quota of the plan (a Kubernetes quantity).
    #[serde(default)]
    pub storage_quota: Option<String>,
    /// The largest mailbox quota of the plan (a Kubernetes quantity).
    #[serde(default)]
    pub mailbox_quota: Option<String>,
    /// The Stripe price (or plan) billed per seat.
    #[serde(default)]
    pub stripe_price_id: Option<String>,
}

/// Operator tuning.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorConfig {
    /// Reconciles running at once, per controller.
    #[serde(default = "OperatorConfig::default_concurrency")]
    pub concurrency: u16,
    /// How often a converged object is looked at again (Go duration, jitter added).
    #[serde(default = "OperatorConfig::default_resync", with = "go_duration")]
    pub resync_interval: Duration,
    /// Upstream deletions per minute, all controllers together.
    #[serde(default = "OperatorConfig::default_deletes")]
    pub max_upstream_deletes_per_minute: usize,
    /// Where /metrics, /healthz and /readyz listen.
    #[serde(default = "OperatorConfig::default_metrics")]
    pub metrics_address: String,
    /// Leader election; absent means this process always leads (one replica, dev mode).
    #[serde(default)]
    pub leader_election: Option<LeaderElection>,
}

impl OperatorConfig {
    fn default_concurrency() -> u16 {
        4
    }
    fn default_resync() -> Duration {
        Duration::from_secs(600)
    }
    fn default_deletes() -> usize {
        30
    }
    fn default_metrics() -> String {
        "127.0.0.1:9100".into()
    }
}

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            concurrency: Self::default_concurrency(),
            resync_interval: Self::default_resync(),
            max_upstream_deletes_per_minute: Self::default_deletes(),
            metrics_address: Self::default_metrics(),
            leader_election: None,
        }
    }
}

/// Leader election through a Lease.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaderElection {
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace.
    pub lease_namespace: String,
    /// How long a lease is valid without renewal.
    #[serde(with = "go_duration")]
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading.
    #[serde(with = "go_duration")]
    pub renew_deadline: Duration,
    /// How often a standby tries to acquire the lease.
    #[serde(with = "go_duration")]
    pub retry_period: Duration,
}

/// The upstream credentials, read from files or the environment; never printed.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Authentik API token.
    pub authentik_token: Secret,
    /// Stalwart user name.
    pub stalwart_username: String,
    /// Stalwart password or API key.
    pub stalwart_password: Secret,
    /// OCIS user name.
    pub ocis_username: String,
    /// OCIS app token.
    pub ocis_password: Secret,
    /// Stripe API key, when billing is on.
    pub stripe_api_key: Option<Secret>,
}

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("the configuration file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    /// A setting is missing or wrong.
    #[error("configuration setting `{setting}` {problem}")]
    Invalid { setting: String, problem: String },
    /// A credential is missing.
    #[error(
        "credential `{key}` is missing: put it in the file {dir}/{key} or the environment variable {env}"
    )]
    MissingCredential {
        key: String,
        dir: String,
        env: String,
    },
}

impl Config {
    /// Reads and checks the configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.into(),
                message,
            },
            other => other,
        })
    }

    /// Parses and checks a configuration document.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &str, problem: &str| ConfigError::Invalid {
            setting: setting.into(),
            problem: problem.into(),
        };
        let id = &self.installation_id;
        if id.is_empty()
            || id.len() > 32
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "installationId",
                "must be 1 to 32 lower-case letters, digits or '-'",
            ));
        }
        for (name, upstream) in [
            ("authentik", &self.upstreams.authentik),
            ("stalwart", &self.upstreams.stalwart),
            ("ocis", &self.upstreams.ocis),
        ] {
            let setting = format!("upstreams.{name}.url");
            match url::Url::parse(&upstream.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                Ok(_) => return Err(invalid(&setting, "must be an http or https URL")),
                Err(_) if upstream.url.is_empty() => {
                    return Err(invalid(&setting, "is empty: set the upstream's base URL"));
                }
                Err(e) => return Err(invalid(&setting, &format!("is not a URL: {e}"))),
            }
            let limit = upstream.rate_limit;
            let rate_ok = limit.requests_per_second.is_finite() && limit.requests_per_second > 0.0;
            if !rate_ok || limit.max_in_flight == 0 {
                return Err(invalid(
                    &format!("upstreams.{name}.rateLimit"),
                    "needs requestsPerSecond > 0 and maxInFlight >= 1",
                ));
            }
        }
        if let Some(stripe) = self.upstreams.stripe.as_ref().filter(|s| s.enabled) {
            match url::Url::parse(stripe.base_url()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(invalid(
                        "upstreams.stripe.url",
                        "must be an http or https URL (or unset for https://api.stripe.com)",
                    ));
                }
            }
            let limit = stripe.rate_limit;
            if !(limit.requests_per_second.is_finite() && limit.requests_per_second > 0.0)
                || limit.max_in_flight == 0
            {
                return Err(invalid(
                    "upstreams.stripe.rateLimit",
                    "needs requestsPerSecond > 0 and maxInFlight >= 1",
                ));
            }
        }
        if self.operator.concurrency == 0 {
            return Err(invalid("operator.concurrency", "must be at least 1"));
        }
        for resolver in &self.dns.resolvers {
            if resolver.parse::<std::net::SocketAddr>().is_err() {
                return Err(invalid(
                    "dns.resolvers",
                    &format!("entry {resolver:?} is not an ip:port address"),
                ));
            }
        }
        Ok(())
    }

    /// Whether billing is switched on.
    pub fn billing_enabled(&self) -> bool {
        self.upstreams.stripe.as_ref().is_some_and(|s| s.enabled)
    }

    /// Reads the credentials from `credentialsDir` files, each overridable by `DEZKY_<KEY>` in
    /// `env` (e.g. `DEZKY_AUTHENTIK_TOKEN`).
    pub fn credentials(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Credentials, ConfigError> {
        let dir = self
            .credentials_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/dezky/secrets"));
        let read = |key: &str| -> Result<String, ConfigError> {
            let env_name = format!("DEZKY_{}", key.to_ascii_uppercase().replace('-', "_"));
            if let Some(value) = env(&env_name).filter(|v| !v.is_empty()) {
                return Ok(value);
            }
            match std::fs::read_to_string(dir.join(key)) {
                Ok(value) if !value.trim().is_empty() => {
                    Ok(value.trim_end_matches(['\n', '\r']).to_string())
                }
                _ => Err(ConfigError::MissingCredential {
                    key: key.into(),
                    dir: dir.display().to_string(),
                    env: env_name,
                }),
            }
        };
        Ok(Credentials {
            authentik_token: Secret::new(read("authentik-token")?),
            stalwart_username: read("stalwart-username")?,
            stalwart_password: Secret::new(read("stalwart-password")?),
            ocis_username: read("ocis-username")?,
            ocis_password: Secret::new(read("ocis-password")?),
            stripe_api_key: if self.billing_enabled() {
                Some(Secret::new(read("stripe-api-key")?))
            } else {
                None
            },
        })
    }
}

/// Go-style duration strings (`90s`, `10m`, `1h30m`, `168h`), as Kubernetes and Helm values use.
pub mod go_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    /// Parses a Go duration; `None` when malformed.
    pub fn parse(s: &str) -> Option<Duration> {
        if s == "0" {
            return Some(Duration::ZERO);
        }
        let mut total = 0f64;
        let mut rest = s;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if number_len == 0 {
                return None;
            }
            let value: f64 = rest[..number_len].parse().ok()?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let seconds = match &rest[..unit_len] {
                "ns" => 1e-9,
                "us" | "µs" => 1e-6,
                "ms" => 1e-3,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return None,
            };
            rest = &rest[unit_len..];
            total += value * seconds;
        }
        Some(Duration::from_secs_f64(total))
    }

    /// Serde adapter.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not a duration like 90s, 10m or 1h30m"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART_LIKE: &str = r#"
installationId: "prod"
logging: { level: info, format: json }
credentialsDir: /etc/dezky/secrets
upstreams:
  authentik: { url: "https://auth.example.com", rateLimit: { requestsPerSecond: 10, maxInFlight: 4 } }
  stalwart: { url: "https://mail.example.com", rateLimit: { requestsPerSecond: 10, maxInFlight: 4 } }
  ocis: { url: "https://files.example.com", rateLimit: { requestsPerSecond: 10, maxInFlight: 4 } }
  stripe: { enabled: false, url: "https://api.stripe.com", rateLimit: { requestsPerSecond: 20, maxInFlight: 4 } }
dns:
  resolvers: []
plans:
  starter: { displayName: Starter, maxSeats: 10, storageQuota: 50Gi, mailboxQuota: 2Gi, stripePriceId: "" }
operator:
  concurrency: 4
  resyncInterval: 10m
  maxUpstreamDeletesPerMinute: 30
  metricsAddress: "0.0.0.0:9100"
  leaderElection: { leaseName: dezky-operator, leaseNamespace: dezky, leaseDuration: 15s, renewDeadline: 10s, retryPeriod: 2s }
api:
  listenAddress: "0.0.0.0:8080"
"#;

    #[test]
    fn reads_the_chart_shaped_file() {
        let config = Config::parse(CHART_LIKE).expect("valid");
        assert_eq!(config.installation_id, "prod");
        assert_eq!(config.operator.resync_interval, Duration::from_secs(600));
        let le = config
            .operator
            .leader_election
            .clone()
            .expect("leader election");
        assert_eq!(le.lease_duration, Duration::from_secs(15));
        assert_eq!(config.plans["starter"].max_seats, Some(10));
        assert!(!config.billing_enabled());
    }

    #[test]
    fn names_the_wrong_setting() {
        let err = Config::parse(&CHART_LIKE.replace("https://mail.example.com", ""))
            .expect_err("empty url");
        assert!(err.to_string().contains("upstreams.stalwart.url"), "{err}");
        let err = Config::parse(
            &CHART_LIKE.replace("installationId: \"prod\"", "installationId: \"Prod!\""),
        )
        .expect_err("bad id");
        assert!(err.to_string().contains("installationId"), "{err}");
        let err = Config::parse(&CHART_LIKE.replace("resyncInterval: 10m", "resyncInterval: soon"))
            .expect_err("bad duration");
        assert!(
            err.to_string().contains("resyncInterval") || err.to_string().contains("soon"),
            "{err}"
        );
        let err = Config::parse(&CHART_LIKE.replace("concurrency: 4", "concurency: 4"))
            .expect_err("typo");
        assert!(err.to_string().contains("concurency"), "{err}");
    }

    #[test]
    fn credentials_come_from_files_or_environment_and_never_print() {
        let dir = std::env::temp_dir().join(format!("dezky-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for (k, v) in [
            ("authentik-token", "tok-123\n"),
            ("stalwart-username", "admin"),
            ("stalwart-password", "pw-stal"),
        ] {
            std::fs::write(dir.join(k), v).expect("write");
        }
        let mut config = Config::parse(CHART_LIKE).expect("valid");
        config.credentials_dir = Some(dir.clone());
        let missing = config.credentials(&|_| None).expect_err("ocis missing");
        assert!(
            missing.to_string().contains("ocis-username")
                && missing.to_string().contains("DEZKY_OCIS_USERNAME"),
            "{missing}"
        );
        let env = |k: &str| match k {
            "DEZKY_OCIS_USERNAME" => Some("ocis-admin".to_string()),
            "DEZKY_OCIS_PASSWORD" => Some("pw-ocis".to_string()),
            _ => None,
        };
        let creds = config.credentials(&env).expect("complete");
        assert_eq!(creds.authentik_token.expose(), "tok-123");
        assert_eq!(creds.ocis_username, "ocis-admin");
        let printed = format!("{creds:?}");
        assert!(
            !printed.contains("tok-123")
                && !printed.contains("pw-ocis")
                && !printed.contains("pw-stal"),
            "{printed}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn billing_settings_are_checked_and_need_the_stripe_key() {
        let on = CHART_LIKE.replace("stripe: { enabled: false", "stripe: { enabled: true");
        let config = Config::parse(&on).expect("valid");
        assert!(config.billing_enabled());
        let stripe = config.upstreams.stripe.clone().expect("stripe");
        assert_eq!(stripe.base_url(), "https://api.stripe.com");
        assert_eq!(stripe.trial_days, 14);
        let err = Config::parse(&on.replace("https://api.stripe.com", "ftp://stripe"))
            .expect_err("bad url");
        assert!(err.to_string().contains("upstreams.stripe.url"), "{err}");
        let err = Config::parse(&on.replace("requestsPerSecond: 20", "requestsPerSecond: 0"))
            .expect_err("bad rate");
        assert!(
            err.to_string().contains("upstreams.stripe.rateLimit"),
            "{err}"
        );
        let env = |k: &str| match k {
            "DEZKY_STRIPE_API_KEY" => None,
            other => Some(format!("value-of-{other}")),
        };
        let mut config = config;
        config.credentials_dir = Some(std::env::temp_dir().join("dezky-no-such-dir"));
        let err = config.credentials(&env).expect_err("no key");
        assert!(err.to_string().contains("stripe-api-key"), "{err}");
        let with_key = |k: &str| Some(format!("value-of-{k}"));
        let creds = config.credentials(&with_key).expect("complete");
        assert_eq!(
            creds.stripe_api_key.as_ref().map(Secret::expose),
            Some("value-of-DEZKY_STRIPE_API_KEY")
        );
    }

    #[test]
    fn go_durations() {
        use go_duration::parse;
        assert_eq!(parse("168h"), Some(Duration::from_secs(168 * 3600)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse("0"), Some(Duration::ZERO));
        assert_eq!(parse(""), None);
        assert_eq!(parse("10"), None);
        assert_eq!(parse("10d"), None);
    }
}
