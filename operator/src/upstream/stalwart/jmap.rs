//! JMAP wire helpers of the Stalwart client: one request with several method calls, method-level
//! errors, and the per-object outcome of `x:*/set`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{MailError, ObjectRef};
use crate::upstream::http::{RequestSpec, UpstreamHttp};

/// The capabilities of every registry request (the official CLI's `USING`).
pub(super) const USING: [&str; 2] = ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"];

#[derive(Deserialize)]
struct JmapResponse {
    #[serde(rename = "methodResponses")]
    method_responses: Vec<(String, Value, String)>,
}

/// Sends method calls in one `POST /jmap`; returns each call's arguments in order. A
/// method-level error (`["error", {"type": ...}, id]`) fails the whole operation.
pub(super) async fn call(
    http: &UpstreamHttp,
    operation: &'static str,
    calls: Vec<Value>,
    read_only: bool,
) -> Result<Vec<Value>, MailError> {
    let body = json!({"using": USING, "methodCalls": calls});
    let mut request = RequestSpec::post("jmap")
        .json(&body)
        .map_err(|e| MailError::Protocol {
            operation,
            reason: format!("failed to encode the request: {e}"),
        })?;
    if read_only {
        request = request.idempotent();
    }
    let response: JmapResponse = http.send_json(operation, request).await?;
    if response.method_responses.len() != calls.len() {
        return Err(MailError::Protocol {
            operation,
            reason: "unexpected number of method responses".into(),
        });
    }
    response
        .method_responses
        .into_iter()
        .map(|(name, args, _)| {
            if name == "error" {
                let kind = args
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                // the type is a bounded JMAP error code; descriptions are not kept
                let kind = if kind.len() <= 40 && kind.chars().all(|c| c.is_ascii_alphanumeric()) {
                    kind
                } else {
                    "unknown"
                };
                Err(MailError::Method {
                    operation,
                    kind: kind.to_string(),
                })
            } else {
                Ok(args)
            }
        })
        .collect()
}

/// `{"object": "...", "id": "..."}` in SetErrors.
#[derive(Deserialize, Debug, Clone)]
pub(super) struct ObjectRefWire {
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub id: String,
}

impl From<ObjectRefWire> for ObjectRef {
    fn from(value: ObjectRefWire) -> Self {
        ObjectRef {
            object: value.object,
            id: value.id,
        }
    }
}

/// One per-object SetError.
#[derive(Deserialize, Debug, Clone)]
pub(super) struct SetError {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub properties: Vec<String>,
    #[serde(rename = "objectId")]
    pub object_id: Option<ObjectRefWire>,
    #[serde(rename = "linkedObjects", default)]
    pub linked_objects: Vec<ObjectRefWire>,
}

impl SetError {
    /// The error as a [`MailError`] (`objectIsLinked` → `InUse`, the rest → `Rejected`).
    pub fn into_error(self, operation: &'static str) -> MailError {
        if self.kind == "objectIsLinked" {
            return MailError::InUse {
                operation,
                linked: self.linked_objects.into_iter().map(Into::into).collect(),
            };
        }
        let safe = |s: &str| {
            s.len() <= 60
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-@".contains(c))
        };
        MailError::Rejected {
            operation,
            kind: if safe(&self.kind) {
                self.kind
            } else {
                "unknown".into()
            },
            properties: self.properties.into_iter().filter(|p| safe(p)).collect(),
        }
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// The outcome of one `x:*/set` call.
#[derive(Deserialize, Default)]
pub(super) struct SetResponse {
    #[serde(default)]
    created: BTreeMap<String, Created>,
    #[serde(rename = "notCreated", default)]
    not_created: BTreeMap<String, SetError>,
    #[serde(default)]
    updated: Option<BTreeMap<String, Value>>,
    #[serde(rename = "notUpdated", default)]
    not_updated: BTreeMap<String, SetError>,
    #[serde(default)]
    destroyed: Vec<String>,
    #[serde(rename = "notDestroyed", default)]
    not_destroyed: BTreeMap<String, SetError>,
}

impl SetResponse {
    pub fn parse(operation: &'static str, args: Value) -> Result<SetResponse, MailError> {
        serde_json::from_value(args).map_err(|e| MailError::Protocol {
            operation,
            reason: format!("invalid set response: {}", e.classify_kind()),
        })
    }

    /// The id created for `creation_id`, or its SetError.
    pub fn created(&mut self, creation_id: &str) -> Result<String, SetError> {
        if let Some(created) = self.created.remove(creation_id) {
            return Ok(created.id);
        }
        Err(self.not_created.remove(creation_id).unwrap_or_else(missing))
    }

    /// Ok when `id` was updated, else its SetError.
    pub fn updated(&mut self, id: &str) -> Result<(), SetError> {
        if self.updated.as_ref().is_some_and(|u| u.contains_key(id)) {
            return Ok(());
        }
        Err(self.not_updated.remove(id).unwrap_or_else(missing))
    }

    /// Ok when `id` was destroyed or was already gone (`notFound`), else its SetError.
    pub fn destroyed(&mut self, id: &str) -> Result<(), SetError> {
        if self.destroyed.iter().any(|d| d == id) {
            return Ok(());
        }
        match self.not_destroyed.remove(id) {
            Some(error) if error.kind == "notFound" => Ok(()),
            Some(error) => Err(error),
            None => Err(missing()),
        }
    }
}

fn missing() -> SetError {
    SetError {
        kind: "missingOutcome".into(),
        properties: Vec::new(),
        object_id: None,
        linked_objects: Vec::new(),
    }
}

trait ClassifyKind {
    fn classify_kind(&self) -> &'static str;
}

impl ClassifyKind for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}
