//! The web UI: the operator console and the tenant-admin portal, server-rendered pages served by
//! the API server itself, progressively enhanced with a little vanilla JavaScript (live status
//! through the API's server-sent events). Every page reads and writes through the JSON API
//! in-process, with the signed-in user's own token, so the UI has exactly the API's permissions.

mod api;
mod billing;
mod console;
mod html;
mod portal;
mod session;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;

pub use api::UiState;

/// The stylesheet, embedded in the binary.
const APP_CSS: &str = include_str!("assets/app.css");
/// The progressive enhancement script, embedded in the binary.
const APP_JS: &str = include_str!("assets/app.js");

/// Why a page could not be shown; rendered as an HTML error page that names no other tenant.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("sign in first")]
    SignIn {
        audience: &'static str,
        /// The page to come back to after signing in.
        next: Option<String>,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("failed to talk to the identity provider: {0}")]
    Identity(String),
    #[error("{0}")]
    Failed(String),
}

impl UiError {
    fn status(&self) -> StatusCode {
        match self {
            UiError::SignIn { .. } => StatusCode::UNAUTHORIZED,
            UiError::Forbidden(_) => StatusCode::FORBIDDEN,
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Identity(_) => StatusCode::BAD_GATEWAY,
            UiError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if let UiError::SignIn { audience, next } = self {
            let to = match next {
                Some(next) => format!("/ui/login/{audience}?next={}", html::query_value(&next)),
                None => format!("/ui/login/{audience}"),
            };
            return Redirect::to(&to).into_response();
        }
        let status = self.status();
        let title = match status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Bad request",
            _ => "Something went wrong",
        };
        let body = format!(
            "<section class=\"card\"><h1>{}</h1><p role=\"alert\">{}</p>\
             <p><a class=\"button\" href=\"/ui/\">Back to the start page</a></p></section>",
            html::esc(title),
            html::esc(&sentence(&self.to_string()))
        );
        (status, html::bare_page(title, &body)).into_response()
    }
}

/// `text` with its first letter in upper case.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The UI's routes: `/` and everything under `/ui/`.
pub fn router(state: AppState) -> Router {
    let ui = UiState::new(state);
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(session::home))
        .route("/ui/static/app.css", get(css))
        .route("/ui/static/app.js", get(js))
        .route("/ui/login/{audience}", get(session::login))
        .route("/ui/callback", get(session::callback))
        .route("/ui/logout", post(session::logout))
        .merge(console::router())
        .merge(portal::router())
        .merge(billing::router())
        .with_state(ui)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}
