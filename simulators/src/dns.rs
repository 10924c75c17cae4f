//! A DNS server on loopback (hickory-server) serving the zones that tests and `dezky dev` publish into.
//!
//! Records are published and removed through a [`DnsZones`] handle (shared, cheap to clone) or
//! over HTTP through [`control_routes`], which the control API merges under its own token. The
//! server answers TXT, MX, CNAME and A queries (UDP and TCP on the same port) authoritatively:
//! NXDOMAIN for an unknown name inside a served zone, NODATA for a known name without records
//! of the asked type, REFUSED outside every zone. Negative answers carry an SOA with a zero
//! minimum TTL so that a resolver re-checking a name sees newly published records at once.
//!
//! Wiring (for the runner): `let zones = DnsZones::new(); let dns = DnsServer::start(zones.clone()).await?;`
//! write `dns.addr()` into `simulators.json`, and merge `dns::control_routes(zones)` into the
//! control router (behind the control token). Keep the [`DnsServer`] alive: dropping it stops it.

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::put};
use hickory_proto::op::{Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, MX, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

fn default_ttl() -> u32 {
    60
}

/// One published record. `value` is the presentation form of the data: the text of a TXT
/// record (unsplit; the server splits it into 255-byte strings), `"10 mail.example.test."` for
/// MX, the target name for CNAME, the address for A.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// The owner name, with or without the trailing dot.
    pub name: String,
    /// `TXT`, `MX`, `CNAME` or `A`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// The record data in presentation form.
    pub value: String,
    /// Time to live in seconds.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

/// Why a record cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum DnsRecordError {
    /// The owner name is not a valid DNS name.
    #[error("invalid record name")]
    InvalidName,
    /// The type is not one of TXT, MX, CNAME, A.
    #[error("unsupported record type {0}")]
    UnsupportedType(String),
    /// The value does not parse for its type.
    #[error("invalid {0} record value")]
    InvalidValue(String),
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn(name: &str) -> Result<Name, DnsRecordError> {
    Name::from_ascii(format!("{}.", normalize(name))).map_err(|_| DnsRecordError::InvalidName)
}

impl DnsRecord {
    fn rdata(&self) -> Result<RData, DnsRecordError> {
        let invalid = || DnsRecordError::InvalidValue(self.record_type.clone());
        match self.record_type.to_ascii_uppercase().as_str() {
            "TXT" => {
                // DNS character-strings hold at most 255 bytes: long texts are split, as zone
                // files and real servers do; a resolver sees several strings.
                let chunks = self
                    .value
                    .as_bytes()
                    .chunks(255)
                    .map(|c| String::from_utf8(c.to_vec()).map_err(|_| invalid()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(RData::TXT(TXT::new(if chunks.is_empty() {
                    vec![String::new()]
                } else {
                    chunks
                })))
            }
            "MX" => {
                let (preference, exchange) = self
                    .value
                    .trim()
                    .split_once(char::is_whitespace)
                    .ok_or_else(invalid)?;
                let preference = preference.parse().map_err(|_| invalid())?;
                Ok(RData::MX(MX::new(
                    preference,
                    fqdn(exchange.trim()).map_err(|_| invalid())?,
                )))
            }
            "CNAME" => Ok(RData::CNAME(CNAME(
                fqdn(&self.value).map_err(|_| invalid())?,
            ))),
            "A" => Ok(RData::A(A(self
                .value
                .trim()
                .parse::<Ipv4Addr>()
                .map_err(|_| invalid())?))),
            other => Err(DnsRecordError::UnsupportedType(other.to_string())),
        }
    }

    fn record(&self) -> Result<Record, DnsRecordError> {
        Ok(Record::from_rdata(
            fqdn(&self.name)?,
            self.ttl,
            self.rdata()?,
        ))
    }
}

#[derive(Default)]
struct ZonesInner {
    zones: BTreeSet<String>,
    records: Vec<DnsRecord>,
}

/// The served zones and their records; `Clone` shares them.
#[derive(Clone, Default)]
pub struct DnsZones {
    inner: Arc<RwLock<ZonesInner>>,
}

impl DnsZones {
    /// No zones, no records.
    pub fn new() -> DnsZones {
        DnsZones::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ZonesInner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ZonesInner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves a zone (answers NXDOMAIN for its unknown names instead of REFUSED).
    pub fn add_zone(&self, zone: &str) {
        self.write().zones.insert(normalize(zone));
    }

    /// Publishes a record (idempotent). Its zone is served from then on: the zone is the
    /// record's last two labels unless a served zone already contains the name.
    pub fn publish(&self, record: DnsRecord) -> Result<(), DnsRecordError> {
        record.record()?;
        let record = DnsRecord {
            name: normalize(&record.name),
            record_type: record.record_type.to_ascii_uppercase(),
            ..record
        };
        let mut inner = self.write();
        if zone_of(&inner.zones, &record.name).is_none() {
            let labels: Vec<&str> = record.name.split('.').collect();
            let zone = labels[labels.len().saturating_sub(2)..].join(".");
            inner.zones.insert(zone);
        }
        let exists = inner.records.iter().any(|r| {
            r.name == record.name && r.record_type == record.record_type && r.value == record.value
        });
        if !exists {
            inner.records.push(record);
        }
        Ok(())
    }

    /// Removes the records of a name and type; only the one with `value` when given.
    /// Returns how many were removed.
    pub fn remove(&self, name: &str, record_type: &str, value: Option<&str>) -> usize {
        let (name, record_type) = (normalize(name), record_type.to_ascii_uppercase());
        let mut inner = self.write();
        let before = inner.records.len();
        inner.records.retain(|r| {
            !(r.name == name && r.record_type == record_type && value.is_none_or(|v| v == r.value))
        });
        before - inner.records.len()
    }

    /// Every published record.
    pub fn records(&self) -> Vec<DnsRecord> {
        self.read().records.clone()
    }

    fn answer(&self, qname: &str, qtype: RecordType) -> (ResponseCode, Vec<Record>, Vec<Record>) {
        let inner = self.read();
        let Some(zone) = zone_of(&inner.zones, qname) else {
            return (ResponseCode::Refused, Vec::new(), Vec::new());
        };
        let at_name: Vec<&DnsRecord> = inner.records.iter().filter(|r| r.name == qname).collect();
        let wanted = |r: &DnsRecord| qtype == RecordType::ANY || r.record_type == qtype.to_string();
        let mut answers: Vec<Record> = at_name
            .iter()
            .filter(|r| wanted(r))
            .filter_map(|r| r.record().ok())
            .collect();
        if answers.is_empty() {
            answers = at_name
                .iter()
                .filter(|r| r.record_type == "CNAME")
                .filter_map(|r| r.record().ok())
                .collect();
        }
        if !answers.is_empty() {
            return (ResponseCode::NoError, answers, Vec::new());
        }
        let soa: Vec<Record> = soa_record(zone).into_iter().collect();
        if qname == zone && matches!(qtype, RecordType::SOA | RecordType::ANY) {
            return (ResponseCode::NoError, soa, Vec::new());
        }
        // The zone apex always exists (it holds the SOA): NODATA there, never NXDOMAIN.
        let code = if at_name.is_empty() && qname != zone {
            ResponseCode::NXDomain
        } else {
            ResponseCode::NoError
        };
        (code, Vec::new(), soa)
    }
}

fn zone_of<'a>(zones: &'a BTreeSet<String>, name: &str) -> Option<&'a str> {
    zones
        .iter()
        .filter(|z| name == z.as_str() || name.ends_with(&format!(".{z}")))
        .max_by_key(|z| z.len())
        .map(String::as_str)
}

fn soa_record(zone: &str) -> Option<Record> {
    let mname = Name::from_ascii(format!("ns.{zone}.")).ok()?;
    let rname = Name::from_ascii(format!("hostmaster.{zone}.")).ok()?;
    let soa = SOA::new(mname, rname, 1, 3600, 600, 86400, 0);
    Some(Record::from_rdata(
        Name::from_ascii(format!("{zone}.")).ok()?,
        0,
        RData::SOA(soa),
    ))
}

struct Handler {
    zones: DnsZones,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let (code, answers, soa) = match request.request_info() {
            Ok(info) => {
                let qname = normalize(&info.query.name().to_string());
                self.zones.answer(&qname, info.query.query_type())
            }
            Err(_) => (ResponseCode::FormErr, Vec::new(), Vec::new()),
        };
        metadata.authoritative = code != ResponseCode::Refused;
        metadata.response_code = code;
        let response = builder.build(
            metadata,
            answers.iter(),
            std::iter::empty(),
            soa.iter(),
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%error, "failed to send a DNS response");
                let mut failed = Metadata::response_from_request(&request.metadata);
                failed.response_code = ResponseCode::ServFail;
                hickory_proto::op::Header {
                    metadata: failed,
                    counts: Default::default(),
                }
                .into()
            }
        }
    }
}

/// A running DNS server; dropping it stops the server.
pub struct DnsServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DnsServer {
    /// Starts a server for `zones` on a free loopback port, UDP and TCP on the same port.
    pub async fn start(zones: DnsZones) -> io::Result<DnsServer> {
        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(Handler { zones });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        let task = tokio::spawn(async move {
            if let Err(error) = server.block_until_done().await {
                tracing::warn!(%error, "DNS server stopped");
            }
        });
        Ok(DnsServer { addr, task })
    }

    /// The address (UDP and TCP) the server answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn bind_pair() -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port for DNS")))
}

/// Body of `DELETE /control/v1/dns/records`.
#[derive(Debug, Deserialize)]
pub struct DnsRecordRemoval {
    /// Owner name.
    pub name: String,
    /// Record type.
    #[serde(rename = "type")]
    pub record_type: String,
    /// Only the record with this value; all of the name and type when absent.
    pub value: Option<String>,
}

/// The DNS part of the control API, for the control router to merge (it applies the token):
/// `GET /control/v1/dns/records` lists, `PUT` publishes a record or a list of records
/// (`{"name","type","value","ttl"?}`), `DELETE` removes (`{"name","type","value"?}`).
pub fn control_routes(zones: DnsZones) -> Router {
    Router::new()
        .route(
            "/control/v1/dns/records",
            put(put_records).delete(delete_records).get(list_records),
        )
        .with_state(zones)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(DnsRecord),
    Many(Vec<DnsRecord>),
}

async fn list_records(State(zones): State<DnsZones>) -> impl IntoResponse {
    Json(serde_json::json!({"records": zones.records()}))
}

async fn put_records(
    State(zones): State<DnsZones>,
    Json(body): Json<OneOrMany>,
) -> impl IntoResponse {
    let records = match body {
        OneOrMany::One(record) => vec![record],
        OneOrMany::Many(records) => records,
    };
    for record in records {
        if let Err(error) = zones.publish(record) {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": error.to_string()})),
            );
        }
    }
    (
        StatusCode::OK,
        Json(serde_json::json!({"records": zones.records()})),
    )
}

async fn delete_records(
    State(zones): State<DnsZones>,
    Json(body): Json<DnsRecordRemoval>,
) -> impl IntoResponse {
    let removed = zones.remove(&body.name, &body.record_type, body.value.as_deref());
    Json(serde_json::json!({"removed": removed}))
}
