//! DNS checks: the records a MailDomain asks for, looked up through a real resolver.
//!
//! [`DnsChecker`] is the contract; [`HickoryDnsChecker`] asks one configured resolver (UDP, no
//! system configuration, no hosts file, no cache: a re-check sees newly published records at
//! once) and [`compare`] decides, purely, whether what was found is the expected record:
//! [`RecordState::Verified`], [`RecordState::Missing`] or [`RecordState::Mismatch`] with the
//! observed value. TXT data split into 255-byte strings is joined before comparing.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType as WireType};

/// The kind of a DNS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    Mx,
    Txt,
    Cname,
    A,
}

impl RecordType {
    /// The presentation name (`MX`, `TXT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Cname => "CNAME",
            RecordType::A => "A",
        }
    }

    fn wire(self) -> WireType {
        match self {
            RecordType::Mx => WireType::MX,
            RecordType::Txt => WireType::TXT,
            RecordType::Cname => WireType::CNAME,
            RecordType::A => WireType::A,
        }
    }
}

/// A record that should be published.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExpectedRecord {
    pub record_type: RecordType,
    /// Owner name, with or without the trailing dot.
    pub name: String,
    /// Presentation value: TXT text, `"10 mail.example.test."` for MX, a name, an address.
    pub value: String,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordState {
    /// The expected record is published.
    Verified,
    /// Nothing of this kind is published.
    Missing,
    /// A record of this kind is published with another value.
    Mismatch { observed: String },
}

/// One expected record and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCheck {
    pub expected: ExpectedRecord,
    pub state: RecordState,
}

/// A check that could not decide (the resolver failed, not the record).
#[derive(thiserror::Error, Debug)]
pub enum DnsCheckError {
    #[error("failed to set up the DNS resolver: {reason}")]
    Config { reason: String },
    #[error("DNS lookup of {record_type} {name} failed: {reason}")]
    Lookup {
        record_type: &'static str,
        name: String,
        reason: &'static str,
    },
}

/// Checks expected records against what DNS serves.
pub trait DnsChecker {
    /// Checks one record.
    fn check(
        &self,
        expected: &ExpectedRecord,
    ) -> impl Future<Output = Result<RecordState, DnsCheckError>> + Send;

    /// Checks several records, in order.
    fn check_all(
        &self,
        expected: &[ExpectedRecord],
    ) -> impl Future<Output = Result<Vec<RecordCheck>, DnsCheckError>> + Send
    where
        Self: Sync,
    {
        async move {
            let mut out = Vec::with_capacity(expected.len());
            for record in expected {
                out.push(RecordCheck {
                    expected: record.clone(),
                    state: self.check(record).await?,
                });
            }
            Ok(out)
        }
    }
}

/// A [`DnsChecker`] over hickory-resolver, asking exactly one resolver.
#[derive(Clone)]
pub struct HickoryDnsChecker {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryDnsChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryDnsChecker").finish_non_exhaustive()
    }
}

impl HickoryDnsChecker {
    /// A checker asking the resolver at `resolver` over UDP (falling back to TCP for truncated
    /// answers), with `timeout` per attempt.
    pub fn new(
        resolver: SocketAddr,
        timeout: Duration,
    ) -> Result<HickoryDnsChecker, DnsCheckError> {
        let mut server = NameServerConfig::udp_and_tcp(resolver.ip());
        for connection in &mut server.connections {
            connection.port = resolver.port();
        }
        let config = ResolverConfig::from_name_servers(vec![server]);
        let mut options = ResolverOpts::default();
        options.cache_size = 0;
        options.timeout = timeout;
        options.attempts = 2;
        options.ndots = 0;
        options.use_hosts_file = ResolveHosts::Never;
        options.positive_max_ttl = Some(Duration::ZERO);
        options.negative_max_ttl = Some(Duration::ZERO);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|e| DnsCheckError::Config {
                reason: e.to_string(),
            })?;
        Ok(HickoryDnsChecker { resolver })
    }

    /// The values published for a name and type, in presentation form; empty when the name
    /// does not exist or has no such record.
    pub async fn lookup(
        &self,
        record_type: RecordType,
        name: &str,
    ) -> Result<Vec<String>, DnsCheckError> {
        let fqdn = format!("{}.", name.trim().trim_end_matches('.'));
        let lookup_error = |reason: &'static str| DnsCheckError::Lookup {
            record_type: record_type.as_str(),
            name: fqdn.clone(),
            reason,
        };
        let lookup = match self
            .resolver
            .lookup(fqdn.as_str(), record_type.wire())
            .await
        {
            Ok(lookup) => lookup,
            Err(error) if error.is_no_records_found() || error.is_nx_domain() => {
                return Ok(Vec::new());
            }
            Err(error) => {
                tracing::debug!(%error, "DNS lookup failed");
                return Err(lookup_error("no usable answer from the resolver"));
            }
        };
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                RData::MX(mx) => Some(format!("{} {}", mx.preference, mx.exchange.to_ascii())),
                RData::CNAME(cname) => Some(cname.0.to_ascii()),
                RData::A(a) => Some(a.0.to_string()),
                _ => None,
            })
            .collect())
    }
}

impl DnsChecker for HickoryDnsChecker {
    #[tracing::instrument(skip(self), fields(record_type = expected.record_type.as_str(), name = %expected.name))]
    async fn check(&self, expected: &ExpectedRecord) -> Result<RecordState, DnsCheckError> {
        let observed = self.lookup(expected.record_type, &expected.name).await?;
        Ok(compare(expected, &observed))
    }
}

/// A TXT text in canonical form: `;`-separated tags trimmed, empty tags dropped.
fn normalize_txt(text: &str) -> String {
    text.split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A domain name in canonical form: lowercase with the trailing dot.
fn normalize_name(name: &str) -> String {
    format!(
        "{}.",
        name.trim().trim_end_matches('.').to_ascii_lowercase()
    )
}

fn normalize(record_type: RecordType, value: &str) -> String {
    match record_type {
        RecordType::Txt => normalize_txt(value),
        RecordType::Mx => {
            let mut parts = value.split_whitespace();
            let preference = parts.next().unwrap_or_default();
            format!(
                "{preference} {}",
                normalize_name(parts.next().unwrap_or_default())
            )
        }
        RecordType::Cname => normalize_name(value),
        RecordType::A => value.trim().to_string(),
    }
}

/// The "kind" of a TXT record (`v=spf1`, `v=DKIM1`, `dezky-verify=`...), so that an SPF record
/// is not reported as a mismatch of the verification record that shares its name.
fn txt_kind(text: &str) -> String {
    let first = text.trim().split([';', ' ']).next().unwrap_or_default();
    match first.split_once('=') {
        Some((key, value)) if key.eq_ignore_ascii_case("v") => {
            format!("v={}", value.to_ascii_lowercase())
        }
        Some((key, _)) => format!("{}=", key.to_ascii_lowercase()),
        None => String::new(),
    }
}

/// Decides a record's state from the values published at its name (pure).
pub fn compare(expected: &ExpectedRecord, observed: &[String]) -> RecordState {
    let want = normalize(expected.record_type, &expected.value);
    if observed
        .iter()
        .any(|o| o == &expected.value || normalize(expected.record_type, o) == want)
    {
        return RecordState::Verified;
    }
    let relevant: Vec<&String> = match expected.record_type {
        RecordType::Txt => {
            let kind = txt_kind(&expected.value);
            observed.iter().filter(|o| txt_kind(o) == kind).collect()
        }
        _ => observed.iter().collect(),
    };
    if relevant.is_empty() {
        RecordState::Missing
    } else {
        RecordState::Mismatch {
            observed: relevant
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(name: &str, value: &str) -> ExpectedRecord {
        ExpectedRecord {
            record_type: RecordType::Txt,
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn txt_records_compare_by_kind_and_normalized_form() {
        let spf = txt("acme.test.", "v=spf1 mx -all");
        assert_eq!(
            compare(&spf, &["dezky-verify=abc".into(), "v=spf1 mx -all".into()]),
            RecordState::Verified
        );
        assert_eq!(
            compare(&spf, &["dezky-verify=abc".into()]),
            RecordState::Missing
        );
        assert_eq!(compare(&spf, &[]), RecordState::Missing);
        assert_eq!(
            compare(&spf, &["v=spf1 -all".into(), "dezky-verify=abc".into()]),
            RecordState::Mismatch {
                observed: "v=spf1 -all".into()
            }
        );
        let dmarc = txt(
            "_dmarc.acme.test",
            "v=DMARC1; p=reject; rua=mailto:postmaster@acme.test",
        );
        assert_eq!(
            compare(
                &dmarc,
                &["v=DMARC1;p=reject;  rua=mailto:postmaster@acme.test;".into()]
            ),
            RecordState::Verified
        );
        assert!(matches!(
            compare(&dmarc, &["v=DMARC1; p=none".into()]),
            RecordState::Mismatch { .. }
        ));
    }

    #[test]
    fn mx_and_names_compare_case_and_dot_insensitively() {
        let mx = ExpectedRecord {
            record_type: RecordType::Mx,
            name: "acme.test".into(),
            value: "10 mail.dezky.test.".into(),
        };
        assert_eq!(
            compare(&mx, &["10 MAIL.dezky.test".into()]),
            RecordState::Verified
        );
        assert_eq!(
            compare(&mx, &["20 mail.dezky.test.".into()]),
            RecordState::Mismatch {
                observed: "20 mail.dezky.test.".into()
            }
        );
        let cname = ExpectedRecord {
            record_type: RecordType::Cname,
            name: "autoconfig.acme.test".into(),
            value: "mail.dezky.test".into(),
        };
        assert_eq!(
            compare(&cname, &["mail.dezky.test.".into()]),
            RecordState::Verified
        );
    }
}
