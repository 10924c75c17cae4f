//! One upstream request ([`RequestSpec`]) and its successful answer ([`Response`]).

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::UpstreamError;

/// The body of a request.
#[derive(Clone, Debug)]
pub enum RequestBody {
    /// `application/json`.
    Json(Vec<u8>),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
}

/// One request, relative to the upstream's base URL.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub method: Method,
    /// Path relative to the base URL, e.g. `core/groups/` (a leading `/` is ignored).
    pub path: String,
    /// Query parameters, repeated keys allowed.
    pub query: Vec<(String, String)>,
    pub body: Option<RequestBody>,
    /// Extra headers (never credentials: those come from [`Auth`]).
    pub headers: Vec<(&'static str, String)>,
    /// Safe to retry even though the method is not GET (e.g. a JMAP query sent by POST).
    pub idempotent: bool,
}

impl RequestSpec {
    /// A request with this method and path.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            idempotent: false,
        }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path)
    }
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }
    /// Adds one query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }
    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, serde_json::Error> {
        self.body = Some(RequestBody::Json(serde_json::to_vec(body)?));
        Ok(self)
    }
    /// Sets a form body.
    pub fn form(mut self, fields: Vec<(String, String)>) -> Self {
        self.body = Some(RequestBody::Form(fields));
        self
    }
    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    /// Declares the request safe to retry.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }
    pub(super) fn is_read(&self) -> bool {
        self.idempotent || self.method == Method::GET || self.method == Method::HEAD
    }
}

/// A successful (2xx) response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    /// Decodes the body as JSON (unknown fields are the target type's business: keep them lenient).
    pub fn json<T: DeserializeOwned>(
        &self,
        upstream: &'static str,
        operation: &'static str,
    ) -> Result<T, UpstreamError> {
        serde_json::from_slice(&self.body).map_err(|e| UpstreamError::Decode {
            upstream,
            operation,
            // serde's message names the expected type and position, never the body itself
            reason: format!("invalid JSON: {}", e.classify_name()),
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> String;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> String {
        // "missing field `pk` at line 1 column 40" names fields, not values; data errors
        // like "invalid type: string \"secret\"" may quote a value, so drop the quoted part.
        let message = self.to_string();
        match message.find('"') {
            Some(cut) => format!(
                "{}… at line {} column {}",
                &message[..cut],
                self.line(),
                self.column()
            ),
            None => message,
        }
    }
}
