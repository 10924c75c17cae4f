//! DKIM key material and the BIND zone file (`dnsZoneFile`) the simulated Stalwart publishes.
//!
//! The simulator does no cryptography: a key's public part is derived deterministically from
//! the private key bytes (SHA-256), in the real wire formats (32 raw bytes for Ed25519, an
//! RSA-2048 SubjectPublicKeyInfo for RSA), so zone files and DNS checks line up end to end.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// DER prefix of an RSA-2048 SubjectPublicKeyInfo, up to the modulus bytes.
const RSA_SPKI_PREFIX: [u8; 33] = [
    0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
    0x01, 0x05, 0x00, 0x03, 0x82, 0x01, 0x0f, 0x00, 0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01,
    0x00,
];

/// Whether a DKIM `@type` uses RSA (otherwise Ed25519).
pub fn is_rsa(dkim_type: &str) -> bool {
    dkim_type.contains("Rsa")
}

/// Decodes a PEM private key ("PRIVATE KEY", or "RSA PRIVATE KEY" for RSA) into its DER bytes,
/// or says why it is not acceptable.
pub fn parse_private_key(dkim_type: &str, pem: &str) -> Result<Vec<u8>, String> {
    let pem = pem.trim();
    let label = ["PRIVATE KEY", "RSA PRIVATE KEY"]
        .into_iter()
        .find(|label| pem.starts_with(&format!("-----BEGIN {label}-----")))
        .ok_or_else(|| "Failed to parse private key PEM".to_string())?;
    if label == "RSA PRIVATE KEY" && !is_rsa(dkim_type) {
        return Err("Ed25519 keys must be PKCS#8".into());
    }
    let end = format!("-----END {label}-----");
    let body = pem
        .strip_prefix(&format!("-----BEGIN {label}-----"))
        .and_then(|rest| rest.strip_suffix(end.as_str()))
        .ok_or_else(|| "Failed to parse private key PEM".to_string())?;
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(compact)
        .map_err(|_| "Invalid base64 in private key".to_string())?;
    let minimum = if is_rsa(dkim_type) { 600 } else { 48 };
    if der.len() < minimum || der[0] != 0x30 {
        return Err("Invalid private key".into());
    }
    Ok(der)
}

/// A fresh private key in PEM of the size a real key of this type has (random bytes in a
/// DER SEQUENCE shell: enough for the simulator, which never signs).
pub fn generate_private_key(dkim_type: &str) -> String {
    let len = if is_rsa(dkim_type) { 1190 } else { 48 };
    let mut der = vec![0u8; len];
    rand::rng().fill_bytes(&mut der);
    der[0] = 0x30;
    let label = if is_rsa(dkim_type) {
        "RSA PRIVATE KEY"
    } else {
        "PRIVATE KEY"
    };
    let body = STANDARD.encode(&der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The base64 public key Stalwart returns as `publicKey` (and publishes as `p=`).
pub fn public_key(dkim_type: &str, private_der: &[u8]) -> String {
    if !is_rsa(dkim_type) {
        return STANDARD.encode(Sha256::digest(private_der));
    }
    let mut spki = RSA_SPKI_PREFIX.to_vec();
    let mut block = Sha256::digest(private_der).to_vec();
    while spki.len() < RSA_SPKI_PREFIX.len() + 256 {
        spki.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    spki.truncate(RSA_SPKI_PREFIX.len() + 256);
    spki.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
    STANDARD.encode(spki)
}

/// One DKIM key as it appears in a zone file.
pub struct ZoneDkim {
    pub selector: String,
    pub dkim_type: String,
    pub public_key: String,
}

/// Formats one TXT record, split into a parenthesised multi-string record when longer than
/// 255 bytes, as `build_bind_dns_records` does.
fn txt_line(owner: &str, text: &str) -> String {
    if text.len() <= 255 {
        return format!("{owner} IN TXT \"{text}\"\n");
    }
    let chunks: Vec<String> = text
        .as_bytes()
        .chunks(255)
        .map(|chunk| format!("    \"{}\"", String::from_utf8_lossy(chunk)))
        .collect();
    format!("{owner} IN TXT (\n{}\n)\n", chunks.join("\n"))
}

/// The BIND zone file (no `$ORIGIN`/`$TTL`) of a domain: DKIM TXT records first, then SPF, MX,
/// DMARC, SRV, MTA-STS, TLS-RPT and the auto-configuration CNAMEs.
pub fn zone_file(domain: &str, host: &str, report_uri: &str, keys: &[ZoneDkim]) -> String {
    let mut out = String::new();
    for key in keys {
        let algorithm = if is_rsa(&key.dkim_type) {
            "rsa"
        } else {
            "ed25519"
        };
        let text = format!("v=DKIM1; k={algorithm}; h=sha256; p={}", key.public_key);
        out.push_str(&txt_line(
            &format!("{}._domainkey.{domain}.", key.selector),
            &text,
        ));
    }
    out.push_str(&txt_line(&format!("{domain}."), "v=spf1 mx -all"));
    out.push_str(&format!("{domain}. IN MX 10 {host}.\n"));
    let report = if report_uri.contains('@') {
        report_uri.to_string()
    } else {
        format!("{report_uri}@{domain}")
    };
    out.push_str(&txt_line(
        &format!("_dmarc.{domain}."),
        &format!("v=DMARC1; p=reject; rua={report}"),
    ));
    for (service, port) in [
        ("_caldavs", 443),
        ("_carddavs", 443),
        ("_imaps", 993),
        ("_jmap", 443),
        ("_pop3s", 995),
        ("_submissions", 465),
    ] {
        out.push_str(&format!(
            "{service}._tcp.{domain}. IN SRV 0 1 {port} {host}.\n"
        ));
    }
    out.push_str(&format!("mta-sts.{domain}. IN CNAME {host}.\n"));
    out.push_str(&txt_line(&format!("_mta-sts.{domain}."), "v=STSv1; id=1"));
    out.push_str(&txt_line(
        &format!("_smtp._tls.{domain}."),
        &format!("v=TLSRPTv1; rua={report}"),
    ));
    out.push_str(&format!("ua-auto-config.{domain}. IN CNAME {host}.\n"));
    out.push_str(&format!("autoconfig.{domain}. IN CNAME {host}.\n"));
    out.push_str(&format!("autodiscover.{domain}. IN CNAME {host}.\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_have_real_public_key_sizes() {
        for kind in ["Dkim1Ed25519Sha256", "Dkim1RsaSha256"] {
            let pem = generate_private_key(kind);
            let der = parse_private_key(kind, &pem).expect("own key parses");
            let public = STANDARD.decode(public_key(kind, &der)).expect("base64");
            assert_eq!(public.len(), if is_rsa(kind) { 294 } else { 32 });
        }
        assert!(parse_private_key("Dkim1Ed25519Sha256", "not a key").is_err());
    }

    #[test]
    fn long_txt_records_are_split() {
        let keys = [ZoneDkim {
            selector: "v1-rsa-20260101".into(),
            dkim_type: "Dkim1RsaSha256".into(),
            public_key: "A".repeat(392),
        }];
        let zone = zone_file("acme.test", "mail.dezky.test", "mailto:postmaster", &keys);
        assert!(
            zone.starts_with(
                "v1-rsa-20260101._domainkey.acme.test. IN TXT (\n    \"v=DKIM1; k=rsa"
            )
        );
        assert!(zone.contains("acme.test. IN MX 10 mail.dezky.test.\n"));
        assert!(zone.contains("\"v=DMARC1; p=reject; rua=mailto:postmaster@acme.test\""));
    }
}
