//! The pure decisions of the MailDomain controller: the ownership token, the records to publish,
//! who may use a domain, what to do on the mail server, when to check DNS again, and the conditions.
//!
//! Nothing here does IO; the controller gathers [`Facts`], calls [`plan`], applies the steps and
//! writes the status the plan computed.

use std::time::Duration;

use dezky_crds::condition::{reasons, types};
use dezky_crds::maildomain::{DmarcPolicy, DnsRecord, DnsRecordState, DnsRecordType};
use ring::hmac;

use crate::conditions::Verdict;
use crate::upstream::dns::{ExpectedRecord, RecordState, RecordType};
use crate::upstream::stalwart::{MailDnsRecord, MailRecordPurpose};

/// The TXT value prefix of the ownership record.
pub const VERIFY_PREFIX: &str = "dezky-verify=";
/// The label in front of the domain that carries the ownership record.
pub const VERIFY_LABEL: &str = "_dezky-verification";
/// Reason: another MailDomain of the same tenant is already the primary one.
pub const REASON_DUPLICATE_PRIMARY: &str = "DuplicatePrimary";
/// Reason: the ownership record is not published (or has another value).
pub const REASON_OWNERSHIP_PENDING: &str = "OwnershipNotVerified";
/// Reason: some mail records are missing or wrong.
pub const REASON_RECORDS_MISSING: &str = "DnsRecordsMissing";
/// Reason: the DNS resolver could not answer.
pub const REASON_DNS_UNAVAILABLE: &str = "DnsUnavailable";
/// Reason: waiting for an earlier step.
pub const REASON_WAITING: &str = "Waiting";

/// The owner name of the ownership record, with the trailing dot.
pub fn verification_name(domain: &str) -> String {
    format!("{VERIFY_LABEL}.{}.", domain.trim_end_matches('.'))
}

/// The ownership token of `domain` for `tenant` in `installation`: an HMAC-SHA256 under the
/// tenant's verification key (kept in a Secret in the tenant's namespace), so it is stable for the
/// life of that key and unguessable to anyone who cannot read it; it differs per tenant and domain.
pub fn verification_token(key: &[u8], installation: &str, tenant: &str, domain: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let message = format!(
        "dezky-verify/v1\n{installation}\n{tenant}\n{}",
        domain.trim_end_matches('.').to_ascii_lowercase()
    );
    let tag = hmac::sign(&key, message.as_bytes());
    tag.as_ref()[..20]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The ownership record the customer must publish.
pub fn ownership_record(domain: &str, token: &str) -> ExpectedRecord {
    ExpectedRecord {
        record_type: RecordType::Txt,
        name: verification_name(domain),
        value: format!("{VERIFY_PREFIX}{token}"),
    }
}

/// The DMARC text for a policy.
pub fn dmarc_value(domain: &str, policy: DmarcPolicy) -> String {
    let p = match policy {
        DmarcPolicy::None => "none",
        DmarcPolicy::Quarantine => "quarantine",
        DmarcPolicy::Reject => "reject",
    };
    format!(
        "v=DMARC1; p={p}; rua=mailto:postmaster@{}",
        domain.trim_end_matches('.')
    )
}

/// Every record to publish: the ownership record first, then the mail server's MX, SPF and DKIM
/// records in zone-file order, and the DMARC record built from the spec's policy (replacing the
/// mail server's own DMARC suggestion).
pub fn expected_records(
    domain: &str,
    token: &str,
    zone: &[MailDnsRecord],
    dmarc: DmarcPolicy,
) -> Vec<ExpectedRecord> {
    let mut out = vec![ownership_record(domain, token)];
    for record in zone {
        if record.purpose == MailRecordPurpose::Dmarc {
            continue;
        }
        out.push(ExpectedRecord {
            record_type: record.record_type,
            name: absolute(&record.name),
            value: record.value.clone(),
        });
    }
    if !zone.is_empty() {
        out.push(ExpectedRecord {
            record_type: RecordType::Txt,
            name: format!("_dmarc.{}.", domain.trim_end_matches('.')),
            value: dmarc_value(domain, dmarc),
        });
    }
    out
}

fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// A DNS record in the status shape.
pub fn status_record(expected: &ExpectedRecord, state: Option<&RecordState>) -> DnsRecord {
    let type_ = match expected.record_type {
        RecordType::Mx => DnsRecordType::MX,
        RecordType::Cname => DnsRecordType::CNAME,
        RecordType::Txt | RecordType::A => DnsRecordType::TXT,
    };
    let (state, observed) = match state {
        None => (DnsRecordState::Pending, None),
        Some(RecordState::Verified) => (DnsRecordState::Verified, None),
        Some(RecordState::Missing) => (DnsRecordState::Missing, None),
        Some(RecordState::Mismatch { observed }) => {
            (DnsRecordState::Mismatch, Some(truncate(observed, 4096)))
        }
    };
    DnsRecord {
        type_,
        name: expected.name.clone(),
        value: expected.value.clone(),
        state,
        observed,
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Whether the tenant that owns this MailDomain may claim the domain, given the other tenants'
/// MailDomains with the same `spec.domain` and proven ownership (namespace, when proven).
/// The first tenant to prove ownership keeps the domain; a later one is refused.
pub fn claimed_by<'a>(
    mine_verified_since: Option<&str>,
    my_namespace: &str,
    others_verified: &'a [(String, String)],
) -> Option<&'a str> {
    others_verified
        .iter()
        .filter(|(namespace, _)| namespace != my_namespace)
        .find(|(namespace, since)| match mine_verified_since {
            None => true,
            Some(mine) => (since.as_str(), namespace.as_str()) < (mine, my_namespace),
        })
        .map(|(namespace, _)| namespace.as_str())
}

/// The tenant of the MailDomain, as far as the controller found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantFact {
    /// The namespace carries no tenant label, or the Tenant does not exist.
    Missing,
    /// The Tenant, with its adoption permission.
    Found { name: String, allow_adoption: bool },
}

/// What the mail server holds under the domain's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerDomain {
    /// Not looked at (ownership not proven, or nothing may be touched).
    NotObserved,
    Missing,
    /// Carries our marker (with the id and the DKIM selector/algorithm found).
    Ours {
        id: String,
    },
    Unmarked,
    Foreign,
}

/// Everything the plan decides on, gathered by the controller.
#[derive(Debug, Clone)]
pub struct Facts {
    pub domain: String,
    pub tenant: TenantFact,
    pub paused: bool,
    pub adopt_annotation: bool,
    /// Namespace of another tenant that has proven this domain first.
    pub claimed_by: Option<String>,
    /// Name of an older primary MailDomain of the same tenant, when this one is primary too.
    pub other_primary: Option<String>,
    /// Whether the ownership record verified (in this pass or, unchanged, in an earlier one).
    pub ownership_verified: bool,
    pub server: ServerDomain,
    /// The states of every expected record (ownership first), when known.
    pub record_states: Vec<Option<RecordState>>,
    /// The resolver failure of this pass, if any.
    pub dns_failure: Option<String>,
}

/// A change on the mail server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the domain (automatic DKIM), or adopt an unmarked one when `adopt`.
    CreateDomain { adopt: bool },
}

/// What the plan decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// OwnershipVerified, MailServerReady, DnsVerified, then the overriding Ready (if any).
    pub verdicts: Vec<Verdict>,
    /// A Ready that overrides the summary (tenant missing, claimed, duplicate primary).
    pub ready_override: Option<Verdict>,
}

/// Decides the steps and conditions of one pass.
pub fn plan(facts: &Facts) -> Plan {
    let mut steps = Vec::new();
    let mut verdicts = Vec::new();
    if facts.tenant == TenantFact::Missing {
        let v = Verdict::failed(
            types::READY,
            reasons::TENANT_NOT_FOUND,
            "the namespace belongs to no Tenant (label dezky.io/tenant)",
        );
        return Plan {
            steps,
            verdicts,
            ready_override: Some(v),
        };
    }
    if let Some(other) = &facts.claimed_by {
        let message = format!(
            "{} is already proven by another tenant ({other}); nothing was created",
            facts.domain
        );
        verdicts.push(Verdict::failed(
            types::OWNERSHIP_VERIFIED,
            reasons::DOMAIN_CLAIMED,
            message.clone(),
        ));
        return Plan {
            steps,
            verdicts,
            ready_override: Some(Verdict::failed(
                types::READY,
                reasons::DOMAIN_CLAIMED,
                message,
            )),
        };
    }
    let adopt_allowed = facts.adopt_annotation
        && matches!(
            facts.tenant,
            TenantFact::Found {
                allow_adoption: true,
                ..
            }
        );
    let ownership_state = facts.record_states.first().cloned().flatten();
    verdicts.push(if facts.ownership_verified {
        Verdict::ok(
            types::OWNERSHIP_VERIFIED,
            "the _dezky-verification record was found",
        )
    } else if let Some(failure) = &facts.dns_failure {
        Verdict::unknown(
            types::OWNERSHIP_VERIFIED,
            REASON_DNS_UNAVAILABLE,
            failure.clone(),
        )
    } else {
        let what = match ownership_state {
            Some(RecordState::Mismatch { .. }) => "has another value",
            Some(RecordState::Missing) => "is not published",
            _ => "has not been checked yet",
        };
        Verdict::failed(
            types::OWNERSHIP_VERIFIED,
            REASON_OWNERSHIP_PENDING,
            format!(
                "publish TXT {} (see status.dnsRecords); the record {what}",
                verification_name(&facts.domain)
            ),
        )
    });
    // the mail server: only once ownership is proven
    let mail_verdict = if !facts.ownership_verified {
        Verdict::failed(
            types::MAIL_SERVER_READY,
            REASON_WAITING,
            "nothing is created on the mail server before ownership is verified",
        )
    } else {
        match &facts.server {
            ServerDomain::Ours { .. } => Verdict::ok(
                types::MAIL_SERVER_READY,
                "the domain and its DKIM keys exist",
            ),
            ServerDomain::Missing if facts.paused => Verdict::failed(
                types::MAIL_SERVER_READY,
                reasons::PAUSED,
                "paused: not created",
            ),
            ServerDomain::Missing => {
                steps.push(Step::CreateDomain { adopt: false });
                Verdict::unknown(
                    types::MAIL_SERVER_READY,
                    reasons::RECONCILING,
                    "creating the domain",
                )
            }
            ServerDomain::Unmarked if adopt_allowed && !facts.paused => {
                steps.push(Step::CreateDomain { adopt: true });
                Verdict::unknown(
                    types::MAIL_SERVER_READY,
                    reasons::RECONCILING,
                    "adopting the domain",
                )
            }
            ServerDomain::Unmarked => Verdict::failed(
                types::MAIL_SERVER_READY,
                reasons::ADOPTION_REQUIRED,
                "the mail server has this domain without a Dezky marker; annotate dezky.io/adopt: \"true\" (the Tenant must allow adoption)",
            ),
            ServerDomain::Foreign => Verdict::failed(
                types::MAIL_SERVER_READY,
                reasons::NAME_TAKEN,
                "the mail server's domain of this name is managed by another owner",
            ),
            ServerDomain::NotObserved => Verdict::unknown(
                types::MAIL_SERVER_READY,
                reasons::RECONCILING,
                "the mail server was not observed",
            ),
        }
    };
    verdicts.push(mail_verdict);
    // DNS: every record
    let dns_verdict = if let Some(failure) = &facts.dns_failure {
        Verdict::unknown(types::DNS_VERIFIED, REASON_DNS_UNAVAILABLE, failure.clone())
    } else if facts.record_states.len() <= 1 {
        Verdict::failed(
            types::DNS_VERIFIED,
            REASON_WAITING,
            "the mail records are known once the domain exists on the mail server",
        )
    } else {
        let bad = facts
            .record_states
            .iter()
            .filter(|s| !matches!(s, Some(RecordState::Verified)))
            .count();
        if bad == 0 {
            Verdict::ok(types::DNS_VERIFIED, "every record is published as expected")
        } else {
            Verdict::failed(
                types::DNS_VERIFIED,
                REASON_RECORDS_MISSING,
                format!("{bad} record(s) missing or wrong, see status.dnsRecords"),
            )
        }
    };
    verdicts.push(dns_verdict);
    let ready_override = facts.other_primary.as_ref().map(|other| {
        Verdict::failed(
            types::READY,
            REASON_DUPLICATE_PRIMARY,
            format!("MailDomain {other} is already the tenant's primary domain; set primary: false on one of them"),
        )
    });
    Plan {
        steps,
        verdicts,
        ready_override,
    }
}

/// The condition types `Ready` needs.
pub const REQUIRED: [&str; 3] = [
    types::OWNERSHIP_VERIFIED,
    types::MAIL_SERVER_READY,
    types::DNS_VERIFIED,
];

/// Why DNS must be checked in this pass, if it must.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckReason {
    /// Never checked.
    First,
    /// A new `dezky.io/recheck` value.
    Requested,
    /// The records to check changed (domain created, spec changed).
    RecordsChanged,
    /// The schedule says so.
    Scheduled,
}

/// The wait between scheduled checks: every 30 s at first while anything is unverified, growing
/// with the time the records have stayed unverified up to 10 min; once everything is verified, the
/// time since then (at least 10 min, at most 12 h), so a stable domain is rarely asked about.
pub fn check_interval(all_verified: bool, state_age: Duration) -> Duration {
    if all_verified {
        state_age.clamp(Duration::from_secs(600), Duration::from_secs(12 * 3600))
    } else {
        (state_age / 4).clamp(Duration::from_secs(30), Duration::from_secs(600))
    }
}

/// Whether DNS must be checked now.
pub fn check_due(
    since_last_check: Option<Duration>,
    recheck_requested: bool,
    records_changed: bool,
    interval: Duration,
) -> Option<CheckReason> {
    match since_last_check {
        None => Some(CheckReason::First),
        Some(_) if recheck_requested => Some(CheckReason::Requested),
        Some(_) if records_changed => Some(CheckReason::RecordsChanged),
        Some(elapsed) if elapsed >= interval => Some(CheckReason::Scheduled),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests;
