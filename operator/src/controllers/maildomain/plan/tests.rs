//! Unit tests of the maildomain plan: plain data in, steps and conditions out.

use super::*;
use dezky_crds::ConditionStatus;

fn facts() -> Facts {
    Facts {
        domain: "acme.test".into(),
        tenant: TenantFact::Found {
            name: "acme".into(),
            allow_adoption: false,
        },
        paused: false,
        adopt_annotation: false,
        claimed_by: None,
        other_primary: None,
        ownership_verified: false,
        server: ServerDomain::NotObserved,
        record_states: vec![Some(RecordState::Missing)],
        dns_failure: None,
    }
}

fn verdict<'a>(plan: &'a Plan, type_: &str) -> &'a Verdict {
    plan.verdicts
        .iter()
        .find(|v| v.type_ == type_)
        .expect("verdict present")
}

#[test]
fn token_is_stable_and_differs_per_key_tenant_and_domain() {
    let a = verification_token(b"k1", "prod", "acme", "acme.test");
    assert_eq!(a, verification_token(b"k1", "prod", "acme", "ACME.test."));
    assert_eq!(a.len(), 40);
    assert_ne!(a, verification_token(b"k2", "prod", "acme", "acme.test"));
    assert_ne!(a, verification_token(b"k1", "prod", "evil", "acme.test"));
    assert_ne!(a, verification_token(b"k1", "prod", "acme", "acme2.test"));
    assert_ne!(a, verification_token(b"k1", "stage", "acme", "acme.test"));
}

#[test]
fn records_put_ownership_first_and_dmarc_from_the_spec() {
    let zone = vec![
        MailDnsRecord {
            purpose: MailRecordPurpose::Mx,
            record_type: RecordType::Mx,
            name: "acme.test.".into(),
            value: "10 mail.dezky.test.".into(),
        },
        MailDnsRecord {
            purpose: MailRecordPurpose::Dmarc,
            record_type: RecordType::Txt,
            name: "_dmarc.acme.test.".into(),
            value: "v=DMARC1; p=reject".into(),
        },
    ];
    let records = expected_records("acme.test", "tok", &zone, DmarcPolicy::Quarantine);
    let names: Vec<_> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "_dezky-verification.acme.test.",
            "acme.test.",
            "_dmarc.acme.test."
        ]
    );
    assert_eq!(records[0].value, "dezky-verify=tok");
    assert_eq!(
        records[2].value,
        "v=DMARC1; p=quarantine; rua=mailto:postmaster@acme.test"
    );
    // before the mail server has the domain only the ownership record is asked for
    assert_eq!(
        expected_records("acme.test", "tok", &[], DmarcPolicy::None).len(),
        1
    );
}

#[test]
fn nothing_on_the_mail_server_before_ownership() {
    let plan = plan(&facts());
    assert!(plan.steps.is_empty());
    let own = verdict(&plan, types::OWNERSHIP_VERIFIED);
    assert_eq!(own.status, ConditionStatus::False);
    assert!(own.message.contains("is not published"));
    assert_eq!(
        verdict(&plan, types::MAIL_SERVER_READY).reason,
        REASON_WAITING
    );
}

#[test]
fn verified_ownership_creates_or_adopts_the_domain() {
    let mut f = facts();
    f.ownership_verified = true;
    f.server = ServerDomain::Missing;
    assert_eq!(plan(&f).steps, [Step::CreateDomain { adopt: false }]);
    f.server = ServerDomain::Unmarked;
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(
        verdict(&p, types::MAIL_SERVER_READY).reason,
        reasons::ADOPTION_REQUIRED
    );
    f.adopt_annotation = true;
    assert!(
        plan(&f).steps.is_empty(),
        "the tenant does not allow adoption"
    );
    f.tenant = TenantFact::Found {
        name: "acme".into(),
        allow_adoption: true,
    };
    assert_eq!(plan(&f).steps, [Step::CreateDomain { adopt: true }]);
    f.server = ServerDomain::Foreign;
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(
        verdict(&p, types::MAIL_SERVER_READY).reason,
        reasons::NAME_TAKEN
    );
    f.server = ServerDomain::Missing;
    f.paused = true;
    assert!(plan(&f).steps.is_empty());
}

#[test]
fn a_domain_claimed_by_another_tenant_is_refused() {
    let mut f = facts();
    f.ownership_verified = true;
    f.server = ServerDomain::Missing;
    f.claimed_by = Some("tenant-other".into());
    let p = plan(&f);
    assert!(p.steps.is_empty());
    let ready = p.ready_override.clone().expect("ready override");
    assert_eq!(ready.reason, reasons::DOMAIN_CLAIMED);
    assert_eq!(
        verdict(&p, types::OWNERSHIP_VERIFIED).status,
        ConditionStatus::False
    );
}

#[test]
fn the_first_tenant_to_prove_a_domain_keeps_it() {
    let others = vec![("tenant-b".to_string(), "2026-01-02T00:00:00Z".to_string())];
    assert_eq!(claimed_by(None, "tenant-a", &others), Some("tenant-b"));
    assert_eq!(
        claimed_by(Some("2026-01-01T00:00:00Z"), "tenant-a", &others),
        None
    );
    assert_eq!(
        claimed_by(Some("2026-01-03T00:00:00Z"), "tenant-a", &others),
        Some("tenant-b")
    );
    // its own namespace never claims against itself
    assert_eq!(claimed_by(None, "tenant-b", &others), None);
}

#[test]
fn dns_verified_needs_every_record() {
    let mut f = facts();
    f.ownership_verified = true;
    f.server = ServerDomain::Ours { id: "d1".into() };
    f.record_states = vec![Some(RecordState::Verified), Some(RecordState::Verified)];
    let p = plan(&f);
    assert_eq!(
        verdict(&p, types::DNS_VERIFIED).status,
        ConditionStatus::True
    );
    assert_eq!(
        verdict(&p, types::MAIL_SERVER_READY).status,
        ConditionStatus::True
    );
    f.record_states[1] = Some(RecordState::Mismatch {
        observed: "x".into(),
    });
    assert_eq!(
        verdict(&plan(&f), types::DNS_VERIFIED).reason,
        REASON_RECORDS_MISSING
    );
    f.dns_failure = Some("resolver down".into());
    assert_eq!(
        verdict(&plan(&f), types::DNS_VERIFIED).status,
        ConditionStatus::Unknown
    );
}

#[test]
fn missing_tenant_and_duplicate_primary_are_reported() {
    let mut f = facts();
    f.tenant = TenantFact::Missing;
    assert_eq!(
        plan(&f).ready_override.expect("override").reason,
        reasons::TENANT_NOT_FOUND
    );
    let mut f = facts();
    f.other_primary = Some("first".into());
    assert_eq!(
        plan(&f).ready_override.expect("override").reason,
        REASON_DUPLICATE_PRIMARY
    );
}

#[test]
fn checks_back_off_once_verified() {
    let min = Duration::from_secs(60);
    assert_eq!(
        check_interval(false, Duration::ZERO),
        Duration::from_secs(30)
    );
    assert_eq!(check_interval(false, 8 * min), Duration::from_secs(120));
    assert_eq!(check_interval(false, 1000 * min), Duration::from_secs(600));
    assert_eq!(
        check_interval(true, Duration::ZERO),
        Duration::from_secs(600)
    );
    assert_eq!(check_interval(true, 120 * min), 120 * min);
    assert_eq!(check_interval(true, 10_000 * min), 720 * min);
    assert_eq!(check_due(None, false, false, min), Some(CheckReason::First));
    assert_eq!(
        check_due(Some(Duration::ZERO), true, false, min),
        Some(CheckReason::Requested)
    );
    assert_eq!(
        check_due(Some(Duration::from_secs(5)), false, false, min),
        None
    );
    assert_eq!(
        check_due(Some(min), false, false, min),
        Some(CheckReason::Scheduled)
    );
}

#[test]
fn status_records_carry_state_and_observed_value() {
    let expected = ownership_record("acme.test", "t");
    let r = status_record(
        &expected,
        Some(&RecordState::Mismatch {
            observed: "dezky-verify=other".into(),
        }),
    );
    assert_eq!(r.state, DnsRecordState::Mismatch);
    assert_eq!(r.observed.as_deref(), Some("dezky-verify=other"));
    assert_eq!(
        status_record(&expected, None).state,
        DnsRecordState::Pending
    );
}
