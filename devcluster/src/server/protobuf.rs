//! Decoding of the Kubernetes protobuf encoding for the request bodies kubectl sends that way:
//! its typed `create namespace|configmap|secret` commands POST
//! `application/vnd.kubernetes.protobuf`. Answers are always JSON, which kubectl also accepts.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;

const MAGIC: &[u8] = b"k8s\0";

fn bad(what: &str) -> ApiError {
    ApiError::bad_request(format!("failed to decode the protobuf body: {what}"))
}

/// One protobuf field: its number and its value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, ApiError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or_else(|| bad("truncated varint"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad("varint too long"))
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ApiError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        let (num, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => out.push((num, Field::Varint(varint(buf, &mut pos)?))),
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| bad("length"))?;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or_else(|| bad("truncated field"))?;
                out.push((num, Field::Bytes(&buf[pos..end])));
                pos = end;
            }
            1 => pos += 8,
            5 => pos += 4,
            _ => return Err(bad("unsupported wire type")),
        }
    }
    Ok(out)
}

fn text(b: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(b.to_vec()).map_err(|_| bad("invalid UTF-8"))
}

/// A `map<string, string|bytes>` entry list; bytes values become base64 (as JSON encodes []byte).
fn map_entry(b: &[u8], out: &mut Map<String, Value>, bytes_values: bool) -> Result<(), ApiError> {
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => k = text(x)?,
            (2, Field::Bytes(x)) if bytes_values => {
                v = json!(base64::engine::general_purpose::STANDARD.encode(x))
            }
            (2, Field::Bytes(x)) => v = json!(text(x)?),
            _ => {}
        }
    }
    out.insert(k, v);
    Ok(())
}

fn owner_reference(b: &[u8]) -> Result<Value, ApiError> {
    let mut r = json!({});
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => r["kind"] = json!(text(x)?),
            (3, Field::Bytes(x)) => r["name"] = json!(text(x)?),
            (4, Field::Bytes(x)) => r["uid"] = json!(text(x)?),
            (5, Field::Bytes(x)) => r["apiVersion"] = json!(text(x)?),
            (6, Field::Varint(x)) => r["controller"] = json!(x != 0),
            (7, Field::Varint(x)) => r["blockOwnerDeletion"] = json!(x != 0),
            _ => {}
        }
    }
    Ok(r)
}

fn object_meta(b: &[u8]) -> Result<Value, ApiError> {
    let mut m = json!({});
    let (mut labels, mut annotations) = (Map::new(), Map::new());
    let (mut finalizers, mut owners) = (Vec::new(), Vec::new());
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => m["name"] = json!(text(x)?),
            (2, Field::Bytes(x)) => m["generateName"] = json!(text(x)?),
            (3, Field::Bytes(x)) => m["namespace"] = json!(text(x)?),
            (5, Field::Bytes(x)) => m["uid"] = json!(text(x)?),
            (6, Field::Bytes(x)) => m["resourceVersion"] = json!(text(x)?),
            (11, Field::Bytes(x)) => map_entry(x, &mut labels, false)?,
            (12, Field::Bytes(x)) => map_entry(x, &mut annotations, false)?,
            (13, Field::Bytes(x)) => owners.push(owner_reference(x)?),
            (14, Field::Bytes(x)) => finalizers.push(json!(text(x)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m["labels"] = Value::Object(labels);
    }
    if !annotations.is_empty() {
        m["annotations"] = Value::Object(annotations);
    }
    if !finalizers.is_empty() {
        m["finalizers"] = Value::Array(finalizers);
    }
    if !owners.is_empty() {
        m["ownerReferences"] = Value::Array(owners);
    }
    Ok(m)
}

/// Decode a protobuf-encoded Namespace, ConfigMap or Secret into its JSON form.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("missing the k8s envelope"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(rest)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (tn, tf) in fields(tm)? {
                    match (tn, tf) {
                        (1, Field::Bytes(x)) => api_version = text(x)?,
                        (2, Field::Bytes(x)) => kind = text(x)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    let (mut data, mut string_data) = (Map::new(), Map::new());
    for (n, f) in fields(raw)? {
        match (kind.as_str(), n, f) {
            (_, 1, Field::Bytes(x)) => obj["metadata"] = object_meta(x)?,
            ("Namespace", 2, Field::Bytes(x)) => {
                let mut fins = Vec::new();
                for (sn, sf) in fields(x)? {
                    if let (1, Field::Bytes(s)) = (sn, sf) {
                        fins.push(json!(text(s)?));
                    }
                }
                obj["spec"] = json!({"finalizers": fins});
            }
            ("ConfigMap", 2, Field::Bytes(x)) => map_entry(x, &mut data, false)?,
            ("ConfigMap", 3, Field::Bytes(x)) => {
                let mut bin = obj["binaryData"].as_object().cloned().unwrap_or_default();
                map_entry(x, &mut bin, true)?;
                obj["binaryData"] = Value::Object(bin);
            }
            ("ConfigMap", 4, Field::Varint(x)) | ("Secret", 5, Field::Varint(x)) => {
                obj["immutable"] = json!(x != 0)
            }
            ("Secret", 2, Field::Bytes(x)) => map_entry(x, &mut data, true)?,
            ("Secret", 3, Field::Bytes(x)) => obj["type"] = json!(text(x)?),
            ("Secret", 4, Field::Bytes(x)) => map_entry(x, &mut string_data, false)?,
            ("Namespace" | "ConfigMap" | "Secret", _, _) => {}
            (other, _, _) => {
                return Err(ApiError::unsupported_media(format!(
                    "the protobuf encoding of {other} is not supported by devcluster; send application/json"
                )));
            }
        }
    }
    if !data.is_empty() {
        obj["data"] = Value::Object(data);
    }
    if !string_data.is_empty() {
        obj["stringData"] = Value::Object(string_data);
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(num << 3 | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_a_secret_like_kubectl_sends() {
        let meta = [
            field(1, b"s1"),
            field(11, &[field(1, b"app"), field(2, b"x")].concat()),
        ]
        .concat();
        let secret = [
            field(1, &meta),
            field(2, &[field(1, b"k"), field(2, b"\x00\x01")].concat()),
            field(3, b"Opaque"),
        ]
        .concat();
        let envelope = [
            field(1, &[field(1, b"v1"), field(2, b"Secret")].concat()),
            field(2, &secret),
        ]
        .concat();
        let body = [MAGIC, &envelope].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "s1");
        assert_eq!(v["metadata"]["labels"]["app"], "x");
        assert_eq!(v["data"]["k"], "AAE=");
        assert_eq!(v["type"], "Opaque");
        assert!(decode(b"{}").is_err());
    }
}
