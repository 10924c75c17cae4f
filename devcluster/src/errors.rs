//! Kubernetes `Status` errors: the typed error every API handler returns and its wire shape.

use serde_json::{Value, json};

/// An error answered to a client as a Kubernetes `Status` object.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// Who the error is about: the `details` of a `Status` (`kind` is the plural resource).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub group: &'a str,
    pub resource: &'a str,
    pub name: &'a str,
}

impl Subject<'_> {
    /// `members.dezky.io`, or `configmaps` for the core group.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn details(&self) -> Value {
        let mut d = json!({"name": self.name, "kind": self.resource});
        if !self.group.is_empty() {
            d["group"] = json!(self.group);
        }
        d
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn not_found(s: Subject<'_>) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", s.qualified(), s.name),
        )
        .with_details(s.details())
    }

    pub fn already_exists(s: Subject<'_>) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", s.qualified(), s.name),
        )
        .with_details(s.details())
    }

    pub fn conflict(s: Subject<'_>, why: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {why}",
                s.qualified(),
                s.name
            ),
        )
        .with_details(s.details())
    }

    pub fn stale(s: Subject<'_>) -> ApiError {
        ApiError::conflict(
            s,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid with field causes, in the shape kubectl prints as
    /// `The Kind "name" is invalid: field: message`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Value>) -> ApiError {
        let gk = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let joined: Vec<String> = causes
            .iter()
            .map(|c| {
                format!(
                    "{}: {}",
                    c["field"].as_str().unwrap_or_default(),
                    c["message"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let message = if joined.len() == 1 {
            format!("{gk} \"{name}\" is invalid: {}", joined[0])
        } else {
            format!("{gk} \"{name}\" is invalid: [{}]", joined.join(", "))
        };
        let mut details = json!({"name": name, "kind": kind, "causes": causes});
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        ApiError::new(422, "Invalid", message).with_details(details)
    }

    /// One field cause, as `field.Invalid` renders it.
    pub fn cause(reason: &str, field: &str, message: impl Into<String>) -> Value {
        json!({"reason": reason, "message": message.into(), "field": field})
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// A patch that could not be applied (failed `test`, bad path): 422 without details.
    pub fn patch_failed(message: impl Into<String>) -> ApiError {
        ApiError::new(422, "Invalid", message)
    }

    pub fn unsupported_media(message: impl Into<String>) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    pub fn not_implemented(message: impl Into<String>) -> ApiError {
        ApiError::new(501, "NotImplemented", message)
    }

    pub fn path_not_found() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    /// 410 Expired for a resourceVersion older than the event history.
    pub fn expired(rv: i64, oldest: i64) -> ApiError {
        ApiError::new(
            410,
            "Expired",
            format!("too old resource version: {rv} ({oldest})"),
        )
    }

    /// An error from a ready-made failure `Status` (e.g. the admission module's 422).
    pub fn from_status(status: &Value) -> ApiError {
        let reason = match status["reason"].as_str() {
            Some("Invalid") => "Invalid",
            Some("BadRequest") => "BadRequest",
            Some("Forbidden") => "Forbidden",
            Some("Conflict") => "Conflict",
            _ => "InternalError",
        };
        ApiError {
            code: status["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500),
            reason,
            message: status["message"].as_str().unwrap_or_default().to_string(),
            details: status.get("details").cloned(),
        }
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

/// The `Success` Status an immediate delete answers with.
pub fn success_status(s: Subject<'_>, uid: &str) -> Value {
    let mut d = s.details();
    d["uid"] = json!(uid);
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_status_reads_like_kubectl_expects() {
        let e = ApiError::invalid(
            "dezky.io",
            "Member",
            "bad",
            vec![ApiError::cause(
                "FieldValueInvalid",
                "spec.email",
                "Invalid value: \"x\": nope",
            )],
        );
        let s = e.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(
            s["message"],
            "Member.dezky.io \"bad\" is invalid: spec.email: Invalid value: \"x\": nope"
        );
        assert_eq!(s["details"]["kind"], "Member");
        assert_eq!(s["details"]["causes"][0]["field"], "spec.email");
    }

    #[test]
    fn not_found_names_the_plural_resource() {
        let s = ApiError::not_found(Subject {
            group: "dezky.io",
            resource: "members",
            name: "x",
        })
        .to_status();
        assert_eq!(s["message"], "members.dezky.io \"x\" not found");
        assert_eq!(s["details"]["kind"], "members");
        assert_eq!(s["reason"], "NotFound");
    }
}
