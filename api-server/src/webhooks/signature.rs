//! Verification of Stripe's `Stripe-Signature` header: HMAC-SHA256 over `t.payload`, compared in
//! constant time, within a tolerance window around the signed timestamp.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// An endpoint signing secret (`whsec_...`); never shown in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a signature was refused. Messages never carry the payload, the secret or the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("the signed timestamp is outside the tolerance window ({age_seconds}s from now)")]
    Stale { age_seconds: i64 },
    #[error("no v1 signature matches the endpoint secret")]
    Mismatch,
}

/// The parts of a `Stripe-Signature` header: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (other
/// schemes such as `v0` are ignored, as Stripe's libraries do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub v1: Vec<Vec<u8>>,
}

impl SignatureHeader {
    /// Parses the header value.
    pub fn parse(header: &str) -> Result<SignatureHeader, SignatureError> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for part in header.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or(SignatureError::Malformed("an element is not key=value"))?;
            match key {
                "t" => {
                    if timestamp.is_some() {
                        return Err(SignatureError::Malformed("more than one timestamp"));
                    }
                    timestamp =
                        Some(value.parse::<i64>().map_err(|_| {
                            SignatureError::Malformed("the timestamp is not a number")
                        })?);
                }
                // a signature that is not hex can never match; skip it like any other scheme
                "v1" => v1.extend(decode_hex(value)),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed("no timestamp"))?;
        if v1.is_empty() {
            return Err(SignatureError::NoSignature);
        }
        Ok(SignatureHeader { timestamp, v1 })
    }
}

/// Checks a delivery: the header parses, its timestamp is within `tolerance` of `now` (Unix
/// seconds), and one of its v1 signatures is the HMAC-SHA256 of `"{t}.{payload}"` under one of
/// `secrets` (several during a secret rotation). Returns the signed timestamp.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[WebhookSecret],
    tolerance: Duration,
    now: i64,
) -> Result<i64, SignatureError> {
    let parsed = SignatureHeader::parse(header.ok_or(SignatureError::Missing)?)?;
    let age = now.saturating_sub(parsed.timestamp);
    let window = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if age.abs() > window {
        return Err(SignatureError::Stale { age_seconds: age });
    }
    let signed_prefix = format!("{}.", parsed.timestamp);
    for secret in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.0.as_bytes()) else {
            continue;
        };
        mac.update(signed_prefix.as_bytes());
        mac.update(payload);
        for candidate in &parsed.v1 {
            // verify_slice compares in constant time
            if mac.clone().verify_slice(candidate).is_ok() {
                return Ok(parsed.timestamp);
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// Signs a payload the way Stripe does: the `Stripe-Signature` header value for `timestamp`.
/// For tests and for replaying stored events by hand.
pub fn sign(payload: &[u8], secret: &WebhookSecret, timestamp: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.0.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(payload);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOLERANCE: Duration = Duration::from_secs(300);

    fn secret() -> Vec<WebhookSecret> {
        vec![WebhookSecret::new("whsec_test_secret")]
    }

    #[test]
    fn accepts_what_stripe_signs() {
        let payload = br#"{"id":"evt_1"}"#;
        let header = sign(payload, &secret()[0], 1_700_000_000);
        assert_eq!(
            verify(Some(&header), payload, &secret(), TOLERANCE, 1_700_000_100),
            Ok(1_700_000_000)
        );
        // extra schemes and a second (rotated-out) signature do not matter
        let with_extras = format!("{header},v0=deadbeef,v1=00ff");
        assert!(
            verify(
                Some(&with_extras),
                payload,
                &secret(),
                TOLERANCE,
                1_700_000_000
            )
            .is_ok()
        );
        // a rotation: either secret verifies
        let rotated = vec![WebhookSecret::new("whsec_old"), secret()[0].clone()];
        assert!(verify(Some(&header), payload, &rotated, TOLERANCE, 1_700_000_000).is_ok());
    }

    #[test]
    fn refuses_tampering_other_secrets_staleness_and_garbage() {
        let payload = br#"{"id":"evt_1","amount":100}"#;
        let header = sign(payload, &secret()[0], 1_700_000_000);
        let now = 1_700_000_000;
        let tampered = br#"{"id":"evt_1","amount":999}"#;
        assert_eq!(
            verify(Some(&header), tampered, &secret(), TOLERANCE, now),
            Err(SignatureError::Mismatch)
        );
        let other = vec![WebhookSecret::new("whsec_other")];
        assert_eq!(
            verify(Some(&header), payload, &other, TOLERANCE, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), payload, &secret(), TOLERANCE, now + 301),
            Err(SignatureError::Stale { age_seconds: 301 })
        );
        assert!(matches!(
            verify(Some(&header), payload, &secret(), TOLERANCE, now - 301),
            Err(SignatureError::Stale { .. })
        ));
        // the timestamp is part of what is signed: moving it breaks the signature
        let moved = header.replace("t=1700000000", "t=1700000050");
        assert_eq!(
            verify(Some(&moved), payload, &secret(), TOLERANCE, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(None, payload, &secret(), TOLERANCE, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1700000000"), payload, &secret(), TOLERANCE, now),
            Err(SignatureError::NoSignature)
        );
        assert!(matches!(
            verify(Some("v1=abcd"), payload, &secret(), TOLERANCE, now),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(Some("t=abc,v1=abcd"), payload, &secret(), TOLERANCE, now),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(Some("garbage"), payload, &secret(), TOLERANCE, now),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn secrets_never_print() {
        let s = WebhookSecret::new("whsec_hunter2");
        assert_eq!(format!("{s:?}"), "***");
    }
}
