//! The api-server's configuration: the `api:` section of the shared Dezky config file
//! (`charts/dezky/templates/_config.tpl`), same keys, parsed here so the server owns its settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read the config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to parse the config file {path}: {source}")]
    Parse {
        path: String,
        source: serde_yaml::Error,
    },
    #[error("the config file {path} has no `api:` section")]
    MissingApi { path: String },
    #[error("invalid api setting {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(
        "credential `{key}` is missing: put it in the file {dir}/{key} or the environment variable {env}"
    )]
    MissingCredential {
        key: &'static str,
        dir: String,
        env: String,
    },
}

/// Which of the two OIDC clients a token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    /// The operator console's client.
    Console,
    /// The customer and partner portal's client.
    Portal,
}

/// One trusted OIDC client: the issuer (Authentik issues per application) and its client id,
/// which is the `aud` of the tokens it issues.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcClientConfig {
    /// Issuer URL, e.g. `https://auth.example.com/application/o/dezky-console/`.
    pub issuer: String,
    /// The client id (the token's audience).
    pub client_id: String,
}

/// An additional trusted issuer beyond the console and portal ones.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtraIssuerConfig {
    pub issuer: String,
    pub client_id: String,
    /// Whether its tokens count as console or portal tokens.
    pub audience: Audience,
}

/// OIDC settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcConfig {
    pub console: OidcClientConfig,
    pub portal: OidcClientConfig,
    /// The Authentik group whose members (with a console token) are platform operators.
    #[serde(default = "OidcConfig::default_admins_group")]
    pub platform_admins_group: String,
    /// More trusted issuers (another Authentik application, a second Authentik).
    #[serde(default)]
    pub additional_issuers: Vec<ExtraIssuerConfig>,
    /// Allowed clock skew for `exp` and `nbf`, in seconds.
    #[serde(default = "OidcConfig::default_leeway")]
    pub leeway_seconds: u64,
    /// The least time between two JWKS refreshes of one issuer (a token with an unknown `kid`
    /// triggers a refresh at most this often).
    #[serde(default = "OidcConfig::default_refresh")]
    pub jwks_min_refresh_seconds: u64,
    /// How long a live group check (the userinfo endpoint) is trusted.
    #[serde(default = "OidcConfig::default_groups_ttl")]
    pub groups_ttl_seconds: u64,
}

impl OidcConfig {
    fn default_admins_group() -> String {
        "platform-admins".into()
    }
    fn default_leeway() -> u64 {
        30
    }
    fn default_refresh() -> u64 {
        10
    }
    fn default_groups_ttl() -> u64 {
        60
    }
    /// Every trusted issuer with its audience class.
    pub fn issuers(&self) -> Vec<(Audience, OidcClientConfig)> {
        let mut all = vec![
            (Audience::Console, self.console.clone()),
            (Audience::Portal, self.portal.clone()),
        ];
        all.extend(self.additional_issuers.iter().map(|e| {
            (
                e.audience,
                OidcClientConfig {
                    issuer: e.issuer.clone(),
                    client_id: e.client_id.clone(),
                },
            )
        }));
        all
    }
    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.leeway_seconds)
    }
}

/// The `api:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiConfig {
    /// Where to listen, e.g. `0.0.0.0:8080`.
    pub listen_address: SocketAddr,
    /// The URL people reach the server at.
    #[serde(default)]
    pub public_url: String,
    pub oidc: OidcConfig,
    /// Billing (Stripe), from the shared file's `upstreams.stripe` and the credentials
    /// `stripe-api-key` and `stripe-webhook-secret`; `None` when billing is switched off.
    #[serde(skip)]
    pub billing: Option<crate::billing::BillingConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileShape {
    #[serde(default)]
    api: Option<ApiConfig>,
    #[serde(default)]
    upstreams: Option<UpstreamsShape>,
    #[serde(default)]
    credentials_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
struct UpstreamsShape {
    #[serde(default)]
    stripe: Option<StripeShape>,
}

#[derive(Deserialize)]
struct StripeShape {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    url: String,
}

/// Reads one credential: the environment variable `DEZKY_<KEY>` wins over the file
/// `<credentialsDir>/<key>` (as the operator reads its credentials).
fn credential(
    dir: &Path,
    key: &'static str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let env_name = format!("DEZKY_{}", key.to_ascii_uppercase().replace('-', "_"));
    if let Some(value) = env(&env_name).filter(|v| !v.is_empty()) {
        return Ok(value);
    }
    match std::fs::read_to_string(dir.join(key)) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim_end_matches(['\n', '\r']).into()),
        _ => Err(ConfigError::MissingCredential {
            key,
            dir: dir.display().to_string(),
            env: env_name,
        }),
    }
}

impl ApiConfig {
    /// Reads the `api:` section of the shared config file.
    pub fn from_file(path: &Path) -> Result<ApiConfig, ConfigError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: display.clone(),
            source,
        })?;
        Self::from_yaml(&text, &display)
    }

    /// Parses the `api:` section out of the whole file's text (billing credentials from the
    /// process environment or the credential files).
    pub fn from_yaml(text: &str, path: &str) -> Result<ApiConfig, ConfigError> {
        Self::from_yaml_with_env(text, path, &|key| std::env::var(key).ok())
    }

    /// [`ApiConfig::from_yaml`] with the environment given as a function.
    pub fn from_yaml_with_env(
        text: &str,
        path: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ApiConfig, ConfigError> {
        let shape: FileShape = serde_yaml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let mut api = shape.api.ok_or_else(|| ConfigError::MissingApi {
            path: path.to_owned(),
        })?;
        let stripe = shape.upstreams.and_then(|u| u.stripe).filter(|s| s.enabled);
        if let Some(stripe) = stripe {
            if !(stripe.url.starts_with("https://") || stripe.url.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    field: "upstreams.stripe.url",
                    reason: format!("{:?} is not an http(s) URL", stripe.url),
                });
            }
            let dir = shape
                .credentials_dir
                .unwrap_or_else(|| PathBuf::from("/etc/dezky/secrets"));
            api.billing = Some(crate::billing::BillingConfig {
                url: stripe.url,
                api_key: crate::billing::ApiKey::new(credential(&dir, "stripe-api-key", env)?),
                webhook_secret: crate::webhooks::WebhookSecret::new(credential(
                    &dir,
                    "stripe-webhook-secret",
                    env,
                )?),
            });
        }
        api.validate()?;
        Ok(api)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (_, c) in self.oidc.issuers() {
            if !(c.issuer.starts_with("https://") || c.issuer.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    field: "api.oidc.*.issuer",
                    reason: format!("{:?} is not an http(s) URL", c.issuer),
                });
            }
            if c.client_id.is_empty() {
                return Err(ConfigError::Invalid {
                    field: "api.oidc.*.clientId",
                    reason: "must not be empty".into(),
                });
            }
        }
        if self.oidc.platform_admins_group.is_empty() {
            return Err(ConfigError::Invalid {
                field: "api.oidc.platformAdminsGroup",
                reason: "must not be empty".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
installationId: "dev"
upstreams: {}
api:
  listenAddress: "0.0.0.0:8080"
  publicUrl: "https://console.example.com"
  oidc:
    console:
      issuer: "https://auth.example.com/application/o/dezky-console/"
      clientId: "dezky-console"
    portal:
      issuer: "https://auth.example.com/application/o/dezky-portal/"
      clientId: "dezky-portal"
    platformAdminsGroup: "platform-admins"
"#;

    #[test]
    fn reads_the_chart_shape() {
        let c = ApiConfig::from_yaml(FILE, "x").expect("parses");
        assert_eq!(c.listen_address.port(), 8080);
        assert_eq!(c.oidc.console.client_id, "dezky-console");
        assert_eq!(c.oidc.issuers().len(), 2);
        assert_eq!(c.oidc.leeway_seconds, 30);
    }

    #[test]
    fn billing_is_read_from_upstreams_and_credentials() {
        assert!(
            ApiConfig::from_yaml(FILE, "x")
                .expect("parses")
                .billing
                .is_none()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("stripe-api-key"), "sk_test_file\n").expect("write");
        let file = format!("credentialsDir: {:?}\n{FILE}", dir.path()).replace(
            "upstreams: {}",
            "upstreams:\n  stripe: {enabled: true, url: \"http://127.0.0.1:1\"}",
        );
        let missing = ApiConfig::from_yaml_with_env(&file, "x", &|_| None).expect_err("no secret");
        assert!(
            missing.to_string().contains("DEZKY_STRIPE_WEBHOOK_SECRET"),
            "{missing}"
        );
        let env = |k: &str| (k == "DEZKY_STRIPE_WEBHOOK_SECRET").then(|| "whsec_env".to_owned());
        let billing = ApiConfig::from_yaml_with_env(&file, "x", &env)
            .expect("parses")
            .billing
            .expect("billing on");
        assert_eq!(billing.url, "http://127.0.0.1:1");
        assert_eq!(billing.api_key.expose(), "sk_test_file");
        assert_eq!(
            billing.webhook_secret,
            crate::webhooks::WebhookSecret::new("whsec_env")
        );
        assert!(!format!("{billing:?}").contains("sk_test_file"));
        let off = file.replace("enabled: true", "enabled: false");
        assert!(
            ApiConfig::from_yaml_with_env(&off, "x", &|_| None)
                .expect("parses")
                .billing
                .is_none()
        );
    }

    #[test]
    fn refuses_a_missing_section_and_a_bad_issuer() {
        assert!(matches!(
            ApiConfig::from_yaml("installationId: x\n", "x"),
            Err(ConfigError::MissingApi { .. })
        ));
        let bad = FILE.replace(
            "https://auth.example.com/application/o/dezky-portal/",
            "ftp://x",
        );
        assert!(matches!(
            ApiConfig::from_yaml(&bad, "x"),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
