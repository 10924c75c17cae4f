//! The DNS checker against the simulators' DNS server over real UDP: verified, missing and
//! mismatched records, long TXT records split into strings, re-checks that see new records, and
//! the records of a Stalwart domain's zone file end to end.

use std::time::Duration;

use dezky_operator::upstream::dns::{
    DnsCheckError, DnsChecker, ExpectedRecord, HickoryDnsChecker, RecordState, RecordType,
};
use dezky_operator::upstream::http::{Auth, Secret, UpstreamHttp, UpstreamLimits, UpstreamMetrics};
use dezky_operator::upstream::marker::Marker;
use dezky_operator::upstream::stalwart::{DkimMode, DomainSpec, MailClient, StalwartClient};
use dezky_simulators::dns::{DnsRecord, DnsServer, DnsZones};
use dezky_simulators::stalwart::{Stalwart, StalwartConfig};

async fn dns() -> (DnsZones, DnsServer, HickoryDnsChecker) {
    let zones = DnsZones::new();
    zones.add_zone("acme.test");
    let server = DnsServer::start(zones.clone()).await.expect("dns server");
    let checker = HickoryDnsChecker::new(server.addr(), Duration::from_secs(2)).expect("checker");
    (zones, server, checker)
}

fn record(record_type: &str, name: &str, value: &str) -> DnsRecord {
    DnsRecord {
        name: name.into(),
        record_type: record_type.into(),
        value: value.into(),
        ttl: 300,
    }
}

fn expected(record_type: RecordType, name: &str, value: &str) -> ExpectedRecord {
    ExpectedRecord {
        record_type,
        name: name.into(),
        value: value.into(),
    }
}

#[tokio::test]
async fn states_of_published_records() {
    let (zones, _server, checker) = dns().await;
    zones
        .publish(record("MX", "acme.test", "10 mail.dezky.test."))
        .expect("mx");
    zones
        .publish(record("TXT", "acme.test", "v=spf1 -all"))
        .expect("spf");
    zones
        .publish(record("TXT", "acme.test", "dezky-verify=token-1"))
        .expect("verify");
    let checks = checker
        .check_all(&[
            expected(RecordType::Mx, "acme.test.", "10 mail.dezky.test."),
            expected(RecordType::Txt, "acme.test.", "v=spf1 mx -all"),
            expected(
                RecordType::Txt,
                "_dezky-verification.acme.test.",
                "dezky-verify=token-1",
            ),
            expected(RecordType::Txt, "acme.test", "dezky-verify=token-1"),
            expected(RecordType::Mx, "nowhere.acme.test", "10 mail.dezky.test."),
        ])
        .await
        .expect("checks");
    let states: Vec<RecordState> = checks.into_iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        [
            RecordState::Verified,
            RecordState::Mismatch {
                observed: "v=spf1 -all".into()
            },
            RecordState::Missing, // NXDOMAIN
            RecordState::Verified,
            RecordState::Missing,
        ]
    );
    // NODATA: the name exists, without an MX.
    zones
        .publish(record("A", "www.acme.test", "192.0.2.7"))
        .expect("a");
    assert_eq!(
        checker
            .check(&expected(RecordType::Mx, "www.acme.test", "10 x.test."))
            .await
            .expect("check"),
        RecordState::Missing
    );
    assert_eq!(
        checker
            .check(&expected(RecordType::A, "www.acme.test", "192.0.2.7"))
            .await
            .expect("check"),
        RecordState::Verified
    );
}

#[tokio::test]
async fn a_recheck_sees_new_and_removed_records_at_once() {
    let (zones, _server, checker) = dns().await;
    let want = expected(RecordType::Txt, "_dmarc.acme.test", "v=DMARC1; p=reject");
    assert_eq!(
        checker.check(&want).await.expect("check"),
        RecordState::Missing
    );
    zones
        .publish(record("TXT", "_dmarc.acme.test", "v=DMARC1; p=reject"))
        .expect("publish");
    assert_eq!(
        checker.check(&want).await.expect("check"),
        RecordState::Verified
    );
    zones.remove("_dmarc.acme.test", "TXT", None);
    assert_eq!(
        checker.check(&want).await.expect("check"),
        RecordState::Missing
    );
}

#[tokio::test]
async fn long_txt_records_are_joined_from_their_strings() {
    let (zones, _server, checker) = dns().await;
    let value = format!("v=DKIM1; k=rsa; h=sha256; p={}", "A".repeat(392));
    zones
        .publish(record("TXT", "v1-rsa._domainkey.acme.test", &value))
        .expect("publish");
    let found = checker
        .lookup(RecordType::Txt, "v1-rsa._domainkey.acme.test")
        .await
        .expect("lookup");
    assert_eq!(found, std::slice::from_ref(&value));
    assert_eq!(
        checker
            .check(&expected(
                RecordType::Txt,
                "v1-rsa._domainkey.acme.test",
                &value
            ))
            .await
            .expect("check"),
        RecordState::Verified
    );
}

#[tokio::test]
async fn a_resolver_failure_is_an_error_not_a_state() {
    let (_zones, _server, checker) = dns().await;
    // Outside every served zone the server answers REFUSED.
    let error = checker
        .check(&expected(RecordType::Txt, "example.org", "x"))
        .await
        .expect_err("refused");
    assert!(
        matches!(
            error,
            DnsCheckError::Lookup {
                record_type: "TXT",
                ..
            }
        ),
        "{error:?}"
    );
    // Nobody listening.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let dead = socket.local_addr().expect("addr");
    drop(socket);
    let checker = HickoryDnsChecker::new(dead, Duration::from_millis(200)).expect("checker");
    assert!(
        checker
            .check(&expected(RecordType::Txt, "acme.test", "x"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn stalwart_zone_records_verify_once_published() {
    let (zones, _server, checker) = dns().await;
    let sim = Stalwart::new(StalwartConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let auth = Auth::Basic {
        username: "admin".into(),
        password: Secret::new("stalwart-admin-secret"),
    };
    let http = UpstreamHttp::new(
        "stalwart",
        url.parse().expect("url"),
        auth,
        UpstreamLimits::default(),
        UpstreamMetrics::default(),
    )
    .expect("http");
    let client = StalwartClient::new(http);
    let marker = Marker {
        installation: "t".into(),
        kind: "MailDomain".into(),
        namespace: Some("tenant-acme".into()),
        name: "acme".into(),
        uid: "u".into(),
    };
    let domain = client
        .create_domain(
            &DomainSpec {
                name: "acme.test".into(),
                dkim: DkimMode::Automatic,
            },
            &marker,
            false,
        )
        .await
        .expect("domain");
    let wanted: Vec<ExpectedRecord> = client
        .dns_records(&domain.id)
        .await
        .expect("records")
        .iter()
        .map(ExpectedRecord::from)
        .collect();
    assert_eq!(wanted.len(), 5);
    let before = checker.check_all(&wanted).await.expect("checks");
    assert!(
        before.iter().all(|c| c.state == RecordState::Missing),
        "{before:?}"
    );
    for want in &wanted {
        zones
            .publish(record(want.record_type.as_str(), &want.name, &want.value))
            .expect("publish");
    }
    let after = checker.check_all(&wanted).await.expect("checks");
    assert!(
        after.iter().all(|c| c.state == RecordState::Verified),
        "{after:?}"
    );
}

#[tokio::test]
async fn answers_too_large_for_udp_come_over_tcp() {
    let (zones, _server, checker) = dns().await;
    // ~3 KB of TXT data: more than any UDP payload size the resolver offers, so the server
    // truncates the UDP answer and the resolver asks again over TCP on the same port.
    let value = format!("v=DKIM1; k=rsa; p={}", "B".repeat(3000));
    zones
        .publish(record("TXT", "big._domainkey.acme.test", &value))
        .expect("publish");
    let state = checker
        .check(&expected(
            RecordType::Txt,
            "big._domainkey.acme.test",
            &value,
        ))
        .await
        .expect("check");
    assert_eq!(state, RecordState::Verified);
}
