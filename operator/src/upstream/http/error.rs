//! Upstream errors: the bounded category, the safe detail of an error body, and the error type.

use std::fmt;
use std::time::Duration;

/// The bounded category of an upstream failure, for metric labels, event reasons and requeue decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    Unavailable,
    Timeout,
    RateLimited,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Invalid,
    Protocol,
}

impl ErrorCategory {
    /// A short snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Invalid => "invalid",
            Self::Protocol => "protocol",
        }
    }
}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is safe to keep of an upstream error body: error codes and the names of the fields it
/// complains about, never messages or values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Error codes found in known shapes: `code` (Django REST framework), `error.code` (OData),
    /// `type` (JMAP problem details).
    pub codes: Vec<String>,
    /// Field names of a field-keyed error object (Django REST framework 400s), sorted.
    pub fields: Vec<String>,
}

impl ErrorDetail {
    /// Extracts the safe parts of an error body.
    pub fn from_body(body: &[u8]) -> Self {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
        else {
            return Self::default();
        };
        let mut detail = Self::default();
        let safe_code = |v: &serde_json::Value| {
            v.as_str()
                .filter(|s| {
                    s.len() <= 80
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c))
                })
                .map(str::to_owned)
        };
        for (key, value) in &map {
            match key.as_str() {
                "code" | "type" => detail.codes.extend(safe_code(value)),
                "error" => {
                    if let Some(code) = value.get("code") {
                        detail.codes.extend(safe_code(code));
                    }
                }
                "detail" | "title" | "status" | "message" | "limit" => {}
                field if field.len() <= 80 && (value.is_array() || value.is_object()) => {
                    detail.fields.push(field.to_owned());
                }
                _ => {}
            }
        }
        detail.fields.sort();
        detail
    }

    /// True when the body named this field.
    pub fn has_field(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f == field)
    }
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.codes.is_empty() {
            write!(f, " codes=[{}]", self.codes.join(","))?;
        }
        if !self.fields.is_empty() {
            write!(f, " fields=[{}]", self.fields.join(","))?;
        }
        Ok(())
    }
}

/// A failed upstream request. Messages name the upstream and operation, never a body or a secret.
#[derive(thiserror::Error, Debug)]
pub enum UpstreamError {
    #[error("failed to set up the {upstream} client: {reason}")]
    Config {
        upstream: &'static str,
        reason: String,
    },
    #[error("failed to build the {upstream} request {operation}: {reason}")]
    Request {
        upstream: &'static str,
        operation: &'static str,
        reason: String,
    },
    #[error("failed to reach {upstream} for {operation}: {reason}")]
    Unavailable {
        upstream: &'static str,
        operation: &'static str,
        reason: String,
    },
    #[error("{upstream} did not answer {operation} in time")]
    Timeout {
        upstream: &'static str,
        operation: &'static str,
    },
    #[error("{upstream} rate-limited {operation}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        upstream: &'static str,
        operation: &'static str,
        retry_after: Option<Duration>,
    },
    #[error("{upstream} refused {operation}: HTTP {status}{detail}")]
    Status {
        upstream: &'static str,
        operation: &'static str,
        status: u16,
        detail: ErrorDetail,
    },
    #[error("failed to read the {upstream} answer to {operation}: {reason}")]
    Decode {
        upstream: &'static str,
        operation: &'static str,
        reason: String,
    },
}

impl UpstreamError {
    /// The bounded category of this failure.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Config { .. } | Self::Request { .. } => ErrorCategory::Invalid,
            Self::Unavailable { .. } => ErrorCategory::Unavailable,
            Self::Timeout { .. } => ErrorCategory::Timeout,
            Self::RateLimited { .. } => ErrorCategory::RateLimited,
            Self::Decode { .. } => ErrorCategory::Protocol,
            Self::Status { status, .. } => match *status {
                401 => ErrorCategory::Unauthorized,
                403 => ErrorCategory::Forbidden,
                404 | 410 => ErrorCategory::NotFound,
                409 | 412 => ErrorCategory::Conflict,
                429 => ErrorCategory::RateLimited,
                408 | 504 => ErrorCategory::Timeout,
                s if s >= 500 => ErrorCategory::Unavailable,
                _ => ErrorCategory::Invalid,
            },
        }
    }

    /// How long the upstream asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True when retrying the same request cannot help (bad credentials, refused input):
    /// the caller should stall until the spec or the configuration changes.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.category(),
            ErrorCategory::Unauthorized | ErrorCategory::Forbidden | ErrorCategory::Invalid
        )
    }

    /// The HTTP status of a refused request.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The safe detail of a refused request.
    pub fn detail(&self) -> Option<&ErrorDetail> {
        match self {
            Self::Status { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_detail_keeps_field_names_and_codes_only() {
        let drf = ErrorDetail::from_body(
            br#"{"username": ["This field must be unique."], "password": ["hunter2 is weak"]}"#,
        );
        assert_eq!(drf.fields, vec!["password", "username"]);
        assert!(drf.codes.is_empty());
        let odata = ErrorDetail::from_body(
            br#"{"error": {"code": "nameAlreadyExists", "message": "secret value"}}"#,
        );
        assert_eq!(odata.codes, vec!["nameAlreadyExists"]);
        assert!(odata.fields.is_empty());
        let detail = ErrorDetail::from_body(
            br#"{"detail": "Token invalid/expired", "code": "not a code!"}"#,
        );
        assert_eq!(detail, ErrorDetail::default());
        assert_eq!(
            ErrorDetail::from_body(b"<html>oops</html>"),
            ErrorDetail::default()
        );
        let shown = UpstreamError::Status {
            upstream: "authentik",
            operation: "user.create",
            status: 400,
            detail: drf,
        }
        .to_string();
        assert!(
            !shown.contains("hunter2") && shown.contains("fields=[password,username]"),
            "{shown}"
        );
    }

    #[test]
    fn categories_follow_status() {
        let status = |status| UpstreamError::Status {
            upstream: "x",
            operation: "y",
            status,
            detail: ErrorDetail::default(),
        };
        assert_eq!(status(403).category(), ErrorCategory::Forbidden);
        assert!(status(403).is_permanent());
        assert_eq!(status(404).category(), ErrorCategory::NotFound);
        assert!(!status(404).is_permanent());
        assert_eq!(status(400).category(), ErrorCategory::Invalid);
        assert_eq!(status(503).category(), ErrorCategory::Unavailable);
        assert!(!status(503).is_permanent());
    }
}
