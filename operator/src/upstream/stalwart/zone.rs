//! Parser of Stalwart's `dnsZoneFile` (BIND lines without `$ORIGIN`/`$TTL`) into the records a
//! customer must publish for a mail domain: MX, SPF TXT, DKIM TXT and DMARC TXT.

pub use crate::upstream::dns::RecordType;

/// What a mail record is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MailRecordPurpose {
    Mx,
    Spf,
    Dkim,
    Dmarc,
}

/// One record of a zone file: `name` is absolute with its trailing dot; `value` is the
/// presentation form (`10 mail.example.org.` for MX, the joined text of a TXT record).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneRecord {
    pub name: String,
    pub record_type: String,
    pub value: String,
}

/// A record the customer must publish for mail to work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailDnsRecord {
    pub purpose: MailRecordPurpose,
    pub record_type: RecordType,
    pub name: String,
    pub value: String,
}

impl From<&MailDnsRecord> for crate::upstream::dns::ExpectedRecord {
    fn from(record: &MailDnsRecord) -> Self {
        crate::upstream::dns::ExpectedRecord {
            record_type: record.record_type,
            name: record.name.clone(),
            value: record.value.clone(),
        }
    }
}

/// Joins the quoted character-strings of a TXT record's data (`"a" "b"` → `ab`), undoing
/// `\"` and `\\` escapes; unquoted data is returned as is.
fn txt_text(data: &str) -> String {
    if !data.contains('"') {
        return data.trim().to_string();
    }
    let mut out = String::new();
    let mut chars = data.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            c if quoted => out.push(c),
            _ => {}
        }
    }
    out
}

/// Splits a zone file into logical entries: a parenthesised record spanning several lines
/// becomes one line. Comments (`;` outside quotes) are dropped.
fn logical_lines(zone: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    for line in zone.lines() {
        let mut quoted = false;
        let mut kept = String::new();
        for c in line.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    kept.push(c);
                }
                ';' if !quoted => break,
                '(' if !quoted => {
                    depth += 1;
                    kept.push(' ');
                }
                ')' if !quoted => {
                    depth -= 1;
                    kept.push(' ');
                }
                c => kept.push(c),
            }
        }
        current.push(' ');
        current.push_str(&kept);
        if depth <= 0 {
            if !current.trim().is_empty() {
                entries.push(current.trim().to_string());
            }
            current.clear();
            depth = 0;
        }
    }
    if !current.trim().is_empty() {
        entries.push(current.trim().to_string());
    }
    entries
}

/// Parses every `name [ttl] [IN] TYPE rdata` entry of a zone file. Entries that do not have
/// that shape are skipped.
pub fn parse_zone_file(zone: &str) -> Vec<ZoneRecord> {
    let mut records = Vec::new();
    for entry in logical_lines(zone) {
        if entry.starts_with('$') {
            continue;
        }
        let mut rest = entry.as_str();
        let take = |rest: &mut &str| -> Option<String> {
            let trimmed = rest.trim_start();
            let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
            let token = &trimmed[..end];
            *rest = &trimmed[end..];
            (!token.is_empty()).then(|| token.to_string())
        };
        let Some(name) = take(&mut rest) else {
            continue;
        };
        let mut token = take(&mut rest);
        if token
            .as_deref()
            .is_some_and(|t| t.chars().all(|c| c.is_ascii_digit()))
        {
            token = take(&mut rest);
        }
        if token
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("IN"))
        {
            token = take(&mut rest);
        }
        let Some(record_type) = token.map(|t| t.to_ascii_uppercase()) else {
            continue;
        };
        let data = rest.trim();
        if data.is_empty() {
            continue;
        }
        let value = if record_type == "TXT" {
            txt_text(data)
        } else {
            data.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let name = if name.ends_with('.') {
            name
        } else {
            format!("{name}.")
        };
        records.push(ZoneRecord {
            name: name.to_ascii_lowercase(),
            record_type,
            value,
        });
    }
    records
}

/// The records of a zone file the customer must publish for mail: MX, SPF (`v=spf1` TXT at the
/// domain), DKIM (TXT at `<selector>._domainkey.`) and DMARC (TXT at `_dmarc.`), in that order.
pub fn mail_records(zone: &str) -> Vec<MailDnsRecord> {
    let mut out: Vec<MailDnsRecord> = parse_zone_file(zone)
        .into_iter()
        .filter_map(|r| {
            let (purpose, record_type) = match r.record_type.as_str() {
                "MX" => (MailRecordPurpose::Mx, RecordType::Mx),
                "TXT" if r.value.starts_with("v=spf1") => (MailRecordPurpose::Spf, RecordType::Txt),
                "TXT" if r.name.contains("._domainkey.") && r.value.starts_with("v=DKIM1") => {
                    (MailRecordPurpose::Dkim, RecordType::Txt)
                }
                "TXT" if r.name.starts_with("_dmarc.") && r.value.starts_with("v=DMARC1") => {
                    (MailRecordPurpose::Dmarc, RecordType::Txt)
                }
                _ => return None,
            };
            Some(MailDnsRecord {
                purpose,
                record_type,
                name: r.name,
                value: r.value,
            })
        })
        .collect();
    out.sort_by_key(|r| r.purpose);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of thunderbird's `d_get_domain.json` dump (stalwart.md 4.5), with a split RSA key.
    const ZONE: &str = "v1-ed25519-20260708._domainkey.example.org. IN TXT \"v=DKIM1; k=ed25519; h=sha256; p=9+cuAbc=\"\n\
v1-rsa-20260708._domainkey.example.org. IN TXT (\n    \"v=DKIM1; k=rsa; h=sha256; p=MIIBIjAN\"\n    \"BgkqhkiG9w0BAQEF\"\n)\n\
example.org. IN TXT \"v=spf1 mx -all\"\n\
example.org. IN MX 10 localhost.\n\
_dmarc.example.org. IN TXT \"v=DMARC1; p=reject; rua=mailto:postmaster@example.org\"\n\
_imaps._tcp.example.org. IN SRV 0 1 993 localhost.\n\
mta-sts.example.org. IN CNAME localhost.\n\
_mta-sts.example.org. IN TXT \"v=STSv1; id=1\"\n\
autoconfig.example.org. IN CNAME localhost.\n";

    #[test]
    fn parses_every_record_including_multi_string_txt() {
        let records = parse_zone_file(ZONE);
        assert_eq!(records.len(), 9);
        assert_eq!(
            records[1],
            ZoneRecord {
                name: "v1-rsa-20260708._domainkey.example.org.".into(),
                record_type: "TXT".into(),
                value: "v=DKIM1; k=rsa; h=sha256; p=MIIBIjANBgkqhkiG9w0BAQEF".into(),
            }
        );
        assert_eq!(records[3].value, "10 localhost.");
        assert_eq!(records[5].record_type, "SRV");
        assert_eq!(records[5].value, "0 1 993 localhost.");
    }

    #[test]
    fn selects_the_mail_records_in_order() {
        let records = mail_records(ZONE);
        let kinds: Vec<_> = records
            .iter()
            .map(|r| (r.purpose, r.name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (MailRecordPurpose::Mx, "example.org."),
                (MailRecordPurpose::Spf, "example.org."),
                (
                    MailRecordPurpose::Dkim,
                    "v1-ed25519-20260708._domainkey.example.org."
                ),
                (
                    MailRecordPurpose::Dkim,
                    "v1-rsa-20260708._domainkey.example.org."
                ),
                (MailRecordPurpose::Dmarc, "_dmarc.example.org."),
            ]
        );
        assert_eq!(
            records[4].value,
            "v=DMARC1; p=reject; rua=mailto:postmaster@example.org"
        );
    }

    #[test]
    fn tolerates_ttls_comments_escapes_and_directives() {
        let zone = "$TTL 3600\n; a comment\nexample.org. 300 IN TXT \"say \\\"hi\\\"; ok\" ; trailing\nfoo 60 A 192.0.2.1\n";
        let records = parse_zone_file(zone);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].value, "say \"hi\"; ok");
        assert_eq!(
            records[1],
            ZoneRecord {
                name: "foo.".into(),
                record_type: "A".into(),
                value: "192.0.2.1".into()
            }
        );
    }
}
