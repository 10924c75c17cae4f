//! `dezky dev --upstreams FILE`: real Authentik, Stalwart and OCIS servers instead of the
//! simulators. The file has the shape of `dev.json`'s `upstreams` (so a copy of that section
//! works), plus the OIDC applications to log in with when Authentik is not the simulator:
//!
//! ```yaml
//! authentik: {url: https://auth.example.com, token: ...}
//! stalwart:  {url: https://mail.example.com, username: admin, password: ...}
//! ocis:      {url: https://files.example.com, username: admin, password: ...}
//! oidc:                                   # optional; the Authentik simulator's apps otherwise
//!   console: {issuer: https://auth.example.com/application/o/dezky-console/, clientId: ...}
//!   portal:  {issuer: https://auth.example.com/application/o/dezky-portal/, clientId: ...}
//! ```
//!
//! DNS stays the dev DNS server (`dezky dev dns publish DOMAIN` publishes into it), and the
//! simulators keep running beside, unused by the operator.

use std::path::Path;

use anyhow::{Context, bail};
use dezky_simulators::runner::{BasicEndpoint, OidcClients, SimulatorsInfo, TokenEndpoint};
use serde::Deserialize;

/// The content of the `--upstreams` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamsFile {
    pub authentik: TokenEndpoint,
    pub stalwart: BasicEndpoint,
    pub ocis: BasicEndpoint,
    #[serde(default)]
    pub oidc: Option<OidcClients>,
}

impl UpstreamsFile {
    /// Reads and checks the file; an error names the file, the setting and what is wrong.
    pub fn load(path: &Path) -> anyhow::Result<UpstreamsFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read the upstreams file {}", path.display()))?;
        let file: UpstreamsFile = serde_yaml::from_str(&text)
            .with_context(|| format!("the upstreams file {} is invalid", path.display()))?;
        file.check()
            .with_context(|| format!("the upstreams file {} is invalid", path.display()))?;
        Ok(file)
    }

    fn check(&self) -> anyhow::Result<()> {
        check_url("authentik.url", &self.authentik.url)?;
        check_url("stalwart.url", &self.stalwart.url)?;
        check_url("ocis.url", &self.ocis.url)?;
        for (setting, value) in [
            ("authentik.token", &self.authentik.token),
            ("stalwart.username", &self.stalwart.username),
            ("stalwart.password", &self.stalwart.password),
            ("ocis.username", &self.ocis.username),
            ("ocis.password", &self.ocis.password),
        ] {
            if value.trim().is_empty() {
                bail!("`{setting}` is empty");
            }
        }
        if let Some(oidc) = &self.oidc {
            for (setting, client) in [
                ("oidc.console", &oidc.console),
                ("oidc.portal", &oidc.portal),
            ] {
                check_url(&format!("{setting}.issuer"), &client.issuer)?;
                if client.client_id.trim().is_empty() {
                    bail!("`{setting}.clientId` is empty");
                }
            }
        }
        Ok(())
    }

    /// The endpoints the operator, the API server and dev.json use: the file's upstreams (and
    /// OIDC applications, when given) in place of the simulators'; the DNS server and the
    /// simulators' control API stay.
    pub fn over(&self, simulators: &SimulatorsInfo) -> SimulatorsInfo {
        let mut info = simulators.clone();
        info.upstreams.authentik = self.authentik.clone();
        info.upstreams.stalwart = self.stalwart.clone();
        info.upstreams.ocis = self.ocis.clone();
        if let Some(oidc) = &self.oidc {
            info.oidc = oidc.clone();
        }
        info
    }

    /// Whether logins go through the Authentik simulator (only then does `dezky dev` create its
    /// platform operator there).
    pub fn logs_in_at_the_simulator(&self) -> bool {
        self.oidc.is_none()
    }
}

fn check_url(setting: &str, value: &str) -> anyhow::Result<()> {
    let url =
        url::Url::parse(value).with_context(|| format!("`{setting}` is not a URL: {value:?}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("`{setting}` must be an http(s) URL with a host, not {value:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dezky_simulators::runner::OidcClient;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("upstreams.yaml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    const VALID: &str = "authentik: {url: 'https://auth.example.com', token: t0k}\n\
        stalwart: {url: 'https://mail.example.com', username: admin, password: pw}\n\
        ocis: {url: 'https://files.example.com', username: admin, password: pw}\n";

    #[test]
    fn a_copy_of_dev_json_upstreams_loads() {
        let (_dir, path) = write(VALID);
        let file = UpstreamsFile::load(&path).expect("valid");
        assert_eq!(file.authentik.url, "https://auth.example.com");
        assert!(file.logs_in_at_the_simulator());
    }

    #[test]
    fn errors_name_the_setting() {
        for (text, setting) in [
            (
                VALID.replace("https://auth.example.com", "auth.example.com"),
                "authentik.url",
            ),
            (VALID.replace("token: t0k", "token: ''"), "authentik.token"),
            (
                VALID.replace(
                    "username: admin, password: pw}\nocis",
                    "username: ' ', password: pw}\nocis",
                ),
                "stalwart.username",
            ),
            (
                format!(
                    "{VALID}oidc: {{console: {{issuer: 'https://a.example/o/c/', clientId: c}}, portal: {{issuer: nope, clientId: p}}}}\n"
                ),
                "oidc.portal.issuer",
            ),
            (format!("{VALID}dns: 1.1.1.1:53\n"), "dns"),
        ] {
            let (_dir, path) = write(&text);
            let err = format!("{:#}", UpstreamsFile::load(&path).expect_err(setting));
            assert!(err.contains(setting), "{setting}: {err}");
            assert!(err.contains("upstreams.yaml"), "{err}");
        }
    }

    #[test]
    fn the_file_replaces_the_simulators_but_not_dns_or_control() {
        let (_dir, path) = write(&format!(
            "{VALID}oidc: {{console: {{issuer: 'https://a.example/o/c/', clientId: c}}, portal: {{issuer: 'https://a.example/o/p/', clientId: p}}}}\n"
        ));
        let file = UpstreamsFile::load(&path).expect("valid");
        let sims = SimulatorsInfo {
            upstreams: dezky_simulators::runner::Upstreams {
                authentik: TokenEndpoint {
                    url: "http://127.0.0.1:1".into(),
                    token: "s".into(),
                },
                stalwart: BasicEndpoint {
                    url: "http://127.0.0.1:2".into(),
                    username: "u".into(),
                    password: "p".into(),
                },
                ocis: BasicEndpoint {
                    url: "http://127.0.0.1:3".into(),
                    username: "u".into(),
                    password: "p".into(),
                },
            },
            simulator_control: TokenEndpoint {
                url: "http://127.0.0.1:9".into(),
                token: "c".into(),
            },
            dns: "127.0.0.1:53".into(),
            oidc: OidcClients {
                console: OidcClient {
                    issuer: "http://127.0.0.1:1/o/c/".into(),
                    client_id: "c".into(),
                },
                portal: OidcClient {
                    issuer: "http://127.0.0.1:1/o/p/".into(),
                    client_id: "p".into(),
                },
            },
        };
        let info = file.over(&sims);
        assert_eq!(info.upstreams.stalwart.url, "https://mail.example.com");
        assert_eq!(info.oidc.portal.issuer, "https://a.example/o/p/");
        assert_eq!(info.dns, sims.dns);
        assert_eq!(info.simulator_control, sims.simulator_control);
        assert!(!file.logs_in_at_the_simulator());
    }
}
