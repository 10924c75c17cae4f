//! Errors of the API as RFC 9457 problem details (`application/problem+json`), with the field and
//! reason of each cause; a Kubernetes `422 Invalid` keeps its field causes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One field-level cause of a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, e.g. `spec.seats`.
    pub field: String,
    /// What is wrong with it, in words a user can act on.
    pub reason: String,
}

/// Every error an API route can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    #[error("invalid request: {reason}")]
    BadRequest { field: String, reason: String },
    #[error("the resource was refused: {message}")]
    Invalid {
        message: String,
        errors: Vec<FieldError>,
    },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("gone: {0}")]
    Gone(String),
    #[error("the body must be application/json, not {0:?}")]
    UnsupportedMediaType(String),
    #[error("the body is too large: {0}")]
    PayloadTooLarge(String),
    #[error("not ready yet: {0}")]
    NotReady(String),
    #[error("failed to {action}: the Kubernetes API answered {code}: {message}")]
    Kube {
        action: String,
        code: u16,
        message: String,
    },
    #[error("failed to {action}: {message}")]
    Upstream { action: String, message: String },
}

impl ApiError {
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        ApiError::NotFound {
            kind,
            name: name.into(),
        }
    }

    pub fn bad_request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A well-formed request that breaks a rule about its meaning (422, naming the field), as
    /// opposed to [`ApiError::bad_request`], which is for a malformed one.
    pub fn unprocessable(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ApiError::Invalid {
            message: reason.clone(),
            errors: vec![FieldError {
                field: field.into(),
                reason,
            }],
        }
    }

    /// Maps an error of the Kubernetes API, keeping the field causes of `422 Invalid`.
    pub fn from_kube(action: impl Into<String>, err: kube::Error) -> Self {
        let action = action.into();
        match err {
            kube::Error::Api(status) => {
                let causes: Vec<FieldError> = status
                    .details
                    .as_ref()
                    .map(|d| {
                        d.causes
                            .iter()
                            .map(|c| FieldError {
                                field: c.field.clone(),
                                reason: if c.message.is_empty() {
                                    c.reason.clone()
                                } else {
                                    c.message.clone()
                                },
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                match status.code {
                    422 | 400 => ApiError::Invalid {
                        message: status.message.clone(),
                        errors: causes,
                    },
                    409 => ApiError::Conflict(status.message.clone()),
                    404 => ApiError::NotFound {
                        kind: "resource",
                        name: status
                            .details
                            .as_ref()
                            .map(|d| d.name.clone())
                            .unwrap_or_default(),
                    },
                    code => ApiError::Kube {
                        action,
                        code,
                        message: status.message.clone(),
                    },
                }
            }
            other => ApiError::Upstream {
                action,
                message: other.to_string(),
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotReady(_) => StatusCode::CONFLICT,
            ApiError::Kube { .. } | ApiError::Upstream { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "Authentication required",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound { .. } => "Not found",
            ApiError::BadRequest { .. } => "Bad request",
            ApiError::Invalid { .. } => "The resource is invalid",
            ApiError::Conflict(_) => "Conflict",
            ApiError::Gone(_) => "Gone",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::PayloadTooLarge(_) => "Payload too large",
            ApiError::NotReady(_) => "Not ready yet",
            ApiError::Kube { .. } | ApiError::Upstream { .. } => "The Kubernetes API failed",
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound { .. } => "not-found",
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::Invalid { .. } => "invalid",
            ApiError::Conflict(_) => "conflict",
            ApiError::Gone(_) => "gone",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::NotReady(_) => "not-ready",
            ApiError::Kube { .. } | ApiError::Upstream { .. } => "kubernetes-api",
        }
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        let errors = match self {
            ApiError::BadRequest { field, reason } => vec![FieldError {
                field: field.clone(),
                reason: reason.clone(),
            }],
            ApiError::Invalid { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        let detail = match self {
            ApiError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        Problem {
            type_: format!("https://dezky.io/problems/{}", self.slug()),
            title: self.title().into(),
            status: self.status().as_u16(),
            detail,
            errors,
        }
    }
}

/// An RFC 9457 problem details document.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The field causes (empty when the problem is not about fields).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem of `status` with nothing more specific to say than `detail` (an error answered
    /// by the HTTP layer rather than by a route, such as an extractor's refusal).
    pub fn of_status(status: StatusCode, detail: impl Into<String>) -> Problem {
        let title = status.canonical_reason().unwrap_or("Error");
        let slug: String = title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        Problem {
            type_: format!("https://dezky.io/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Kube { .. } | ApiError::Upstream { .. }) {
            tracing::warn!(error = %self, "request failed");
        }
        let unauthorized = matches!(self, ApiError::Unauthorized(_));
        let mut response = self.problem().into_response();
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dezky\", error=\"invalid_token\""),
            );
        }
        response
    }
}

/// Middleware of the API routes: an error the HTTP layer answered in plain text (an extractor's
/// refusal of a path, a query or a body) becomes a problem+json document with the same status.
pub async fn plain_errors_as_problems(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (_, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    Problem::of_status(status, detail).into_response()
}

/// The result of a route.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_alone_makes_a_complete_problem() {
        let p = Problem::of_status(StatusCode::UNPROCESSABLE_ENTITY, "no such thing");
        assert_eq!(p.status, 422);
        assert_eq!(p.title, "Unprocessable Entity");
        assert_eq!(p.type_, "https://dezky.io/problems/unprocessable-entity");
        assert_eq!(p.detail, "no such thing");
        let p = ApiError::UnsupportedMediaType("text/plain".into()).problem();
        assert_eq!(
            (p.status, p.title.as_str()),
            (415, "Unsupported media type")
        );
        assert_eq!(ApiError::PayloadTooLarge("x".into()).status(), 413);
    }

    #[test]
    fn a_kubernetes_invalid_keeps_its_field_causes() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": 422, "reason": "Invalid",
            "message": "Tenant.dezky.io \"x\" is invalid",
            "details": {"name": "x", "kind": "Tenant", "causes": [{
                "reason": "FieldValueInvalid", "field": "spec.seats",
                "message": "Invalid value: 0: spec.seats in body should be greater than or equal to 1",
            }]},
        }))
        .expect("a Status");
        let err = ApiError::from_kube("create the tenant", kube::Error::Api(status.boxed()));
        let p = err.problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].field, "spec.seats");
        assert!(p.errors[0].reason.contains("greater than or equal to 1"));
    }
}
