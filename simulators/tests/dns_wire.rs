//! The DNS simulator held to the DNS protocol: raw queries over UDP and TCP, checked for
//! authoritative answers, NXDOMAIN/NODATA with an SOA, REFUSED outside the served zones, and
//! TXT data split into 255-byte character-strings.

use std::time::Duration;

use dezky_simulators::dns::{DnsRecord, DnsServer, DnsZones};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn ask_udp(server: &DnsServer, name: &str, record_type: RecordType) -> Message {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut query = Message::query();
    query.metadata.id = 4711;
    query.add_query(Query::query(
        Name::from_ascii(name).expect("name"),
        record_type,
    ));
    socket
        .send_to(&query.to_vec().expect("encode"), server.addr())
        .await
        .expect("send");
    let mut buffer = vec![0u8; 65535];
    let (len, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buffer))
        .await
        .expect("answer in time")
        .expect("recv");
    Message::from_vec(&buffer[..len]).expect("decode")
}

async fn ask_tcp(server: &DnsServer, name: &str, record_type: RecordType) -> Message {
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let mut query = Message::query();
    query.metadata.id = 4712;
    query.add_query(Query::query(
        Name::from_ascii(name).expect("name"),
        record_type,
    ));
    let bytes = query.to_vec().expect("encode");
    stream
        .write_all(&(bytes.len() as u16).to_be_bytes())
        .await
        .expect("write");
    stream.write_all(&bytes).await.expect("write");
    let len = stream.read_u16().await.expect("length") as usize;
    let mut buffer = vec![0u8; len];
    stream.read_exact(&mut buffer).await.expect("read");
    Message::from_vec(&buffer).expect("decode")
}

async fn start() -> (DnsZones, DnsServer) {
    let zones = DnsZones::new();
    zones.add_zone("acme.test");
    let server = DnsServer::start(zones.clone()).await.expect("start");
    (zones, server)
}

fn txt(name: &str, value: &str) -> DnsRecord {
    DnsRecord {
        name: name.into(),
        record_type: "TXT".into(),
        value: value.into(),
        ttl: 60,
    }
}

#[tokio::test]
async fn answers_are_authoritative_with_split_txt_strings() {
    let (zones, server) = start().await;
    let long = "x".repeat(300);
    zones.publish(txt("acme.test", &long)).expect("publish");
    zones
        .publish(DnsRecord {
            name: "acme.test".into(),
            record_type: "MX".into(),
            value: "10 mail.dezky.test.".into(),
            ttl: 60,
        })
        .expect("publish");
    let answer = ask_udp(&server, "ACME.test.", RecordType::TXT).await;
    assert_eq!(answer.metadata.id, 4711);
    assert!(answer.metadata.authoritative);
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answer.answers.len(), 1);
    let RData::TXT(data) = &answer.answers[0].data else {
        panic!("not TXT")
    };
    let lengths: Vec<usize> = data.txt_data.iter().map(|s| s.len()).collect();
    assert_eq!(lengths, [255, 45]);
    let answer = ask_tcp(&server, "acme.test.", RecordType::MX).await;
    let RData::MX(mx) = &answer.answers[0].data else {
        panic!("not MX")
    };
    assert_eq!(
        (mx.preference, mx.exchange.to_ascii()),
        (10, "mail.dezky.test.".to_string())
    );
}

#[tokio::test]
async fn negative_answers() {
    let (zones, server) = start().await;
    zones
        .publish(txt("acme.test", "v=spf1 mx -all"))
        .expect("publish");
    // Unknown name in the zone: NXDOMAIN with the zone's SOA.
    let answer = ask_udp(&server, "nope.acme.test.", RecordType::TXT).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    assert!(answer.answers.is_empty());
    assert!(
        answer
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA)
    );
    // Known name, other type: NODATA.
    let answer = ask_udp(&server, "acme.test.", RecordType::MX).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(answer.answers.is_empty());
    // Outside every zone: REFUSED, not authoritative.
    let answer = ask_udp(&server, "example.org.", RecordType::TXT).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    assert!(!answer.metadata.authoritative);
    // The apex exists without records (it holds the SOA): NODATA, never NXDOMAIN; a removed
    // name elsewhere is unknown again.
    assert_eq!(zones.remove("acme.test", "TXT", Some("v=spf1 mx -all")), 1);
    let answer = ask_udp(&server, "acme.test.", RecordType::TXT).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    let answer = ask_udp(&server, "acme.test.", RecordType::SOA).await;
    assert_eq!(answer.answers[0].record_type(), RecordType::SOA);
    zones
        .publish(txt("_dmarc.acme.test", "v=DMARC1; p=none"))
        .expect("publish");
    assert_eq!(zones.remove("_dmarc.acme.test", "TXT", None), 1);
    let answer = ask_udp(&server, "_dmarc.acme.test.", RecordType::TXT).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
}
