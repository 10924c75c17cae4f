//! The operator console: the routes under `/ui/console`, the operator check, the console chrome,
//! the search palette's and the live updates' endpoints, and the helpers its pages share.

mod overview;
mod partner_actions;
mod partners;
mod tenant;
mod tenant_actions;
mod tenants;
mod users;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::UiError;
use super::api::{Session, UiState, seg};
use super::html;
use super::session::Me;

pub use super::api::same_origin;
pub use super::html::notice;

/// The console's pages and endpoints.
pub fn router() -> Router<UiState> {
    Router::new()
        .route("/ui/console", get(overview::overview))
        .route("/ui/console/search", get(search))
        .route("/ui/console/events", get(events))
        .route("/ui/console/tenants", get(tenants::tenants))
        .route("/ui/console/tenants/{tenant}", get(tenant::overview))
        .route("/ui/console/tenants/{tenant}/members", get(tenant::members))
        .route(
            "/ui/console/tenants/{tenant}/resources",
            get(tenant::resources),
        )
        .route("/ui/console/tenants/{tenant}/domains", get(tenant::domains))
        .route("/ui/console/tenants/{tenant}/audit", get(tenant::audit))
        .route("/ui/console/tenants/{tenant}/danger", get(tenant::danger))
        .route(
            "/ui/console/tenants/{tenant}/act/{action}",
            get(tenant_actions::confirm).post(tenant_actions::act),
        )
        .route(
            "/ui/console/partners",
            get(partners::list).post(partners::create),
        )
        .route("/ui/console/partners/{partner}", get(partners::detail))
        .route(
            "/ui/console/partners/{partner}/attach",
            axum::routing::post(partner_actions::attach),
        )
        .route(
            "/ui/console/partners/{partner}/detach/{tenant}",
            get(partner_actions::confirm_detach).post(partner_actions::detach),
        )
        .route(
            "/ui/console/partners/{partner}/terminate",
            get(partner_actions::confirm_terminate).post(partner_actions::terminate),
        )
        .route("/ui/console/users", get(users::users))
}

/// The signed-in platform operator, or the refusal (portal sessions and non-operators).
pub async fn operator(ui: &UiState, session: &Session) -> Result<Me, UiError> {
    if session.audience != "console" {
        return Err(UiError::Forbidden(
            "the console is for platform operators; sign in to the console".into(),
        ));
    }
    let me = Me::load(ui, session).await?;
    if !me.operator() {
        return Err(UiError::Forbidden("you are not a platform operator".into()));
    }
    Ok(me)
}

/// A console page: the console's sidebar (with `current` marked), top bar and palette.
pub fn page(ui: &UiState, me: &Me, current: &str, title: &str, content: &str) -> Response {
    me.console_chrome(ui, current).page(title, content)
}

/// The breadcrumbs and tab bar of a tenant's page, for a tab rendered elsewhere (Billing:
/// `tenant_tabs(tenant, "/billing")`).
pub fn tenant_tabs(tenant: &str, current: &str) -> String {
    format!(
        "<p class=\"crumbs\"><a href=\"/ui/console/tenants\">Tenants</a> / <a href=\"/ui/console/tenants/{}\">{}</a></p>{}",
        seg(tenant),
        html::esc(tenant),
        tenant::tab_bar(tenant, current)
    )
}

/// An HTML fragment for the live refresh (not cached).
pub fn fragment(body: String) -> Response {
    let mut r = Html(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The live-status line of a page whose `[data-live]` regions follow the console stream.
pub fn live_line() -> &'static str {
    "<p id=\"console-live\" class=\"live-line\" data-events=\"/ui/console/events\">\
     <span class=\"live-dot\" aria-hidden=\"true\"></span>\
     <span id=\"console-live-state\" class=\"muted\" aria-live=\"polite\">Live status: connecting…</span></p>"
}

/// Whether a request asks for the live fragment only (`?live=1`).
#[derive(Debug, Default, Deserialize)]
pub struct LiveQuery {
    pub live: Option<String>,
}

impl LiveQuery {
    pub fn fragment(&self) -> bool {
        self.live.as_deref() == Some("1")
    }
}

/// The console's pages, for the palette.
const PAGES: [(&str, &str, &str); 5] = [
    ("Overview", "/ui/console", "KPIs, follow-up, recent changes"),
    ("Tenants", "/ui/console/tenants", "every customer workspace"),
    (
        "Partners",
        "/ui/console/partners",
        "resellers and their customers",
    ),
    (
        "Create a partner",
        "/ui/console/partners#create",
        "a new reseller",
    ),
    ("Users", "/ui/console/users", "members across the platform"),
];

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// Where a search hit opens in the console.
fn hit_href(hit: &Value) -> Option<String> {
    let name = hit["name"].as_str()?;
    match hit["kind"].as_str()? {
        "tenant" => Some(format!("/ui/console/tenants/{}", seg(name))),
        "partner" => Some(format!("/ui/console/partners/{}", seg(name))),
        "member" => match (hit["tenant"].as_str(), hit["partner"].as_str()) {
            (Some(t), _) => Some(format!(
                "/ui/console/tenants/{}/members#member-{}",
                seg(t),
                seg(name)
            )),
            (None, Some(p)) => Some(format!("/ui/console/partners/{}#staff", seg(p))),
            _ => None,
        },
        _ => None,
    }
}

/// `GET /ui/console/search?q=`: the palette's results as JSON: the console's pages and what the
/// API's search lets this operator see, each with the page it opens.
pub async fn search(
    State(ui): State<UiState>,
    session: Session,
    Query(query): Query<SearchQuery>,
) -> Result<Response, UiError> {
    operator(&ui, &session).await?;
    let q = query.q.unwrap_or_default().trim().to_lowercase();
    let mut items: Vec<Value> = PAGES
        .iter()
        .filter(|(label, _, _)| q.is_empty() || label.to_lowercase().contains(&q))
        .map(|(label, href, detail)| {
            json!({"kind": "page", "label": label, "detail": detail, "href": href})
        })
        .collect();
    let found = ui
        .call(
            &session,
            Method::GET,
            &format!("/api/v1/search?limit=15&q={}", html::query_value(&q)),
            None,
        )
        .await?;
    match found {
        Ok(v) => {
            for hit in v["items"].as_array().into_iter().flatten() {
                if let Some(href) = hit_href(hit) {
                    items.push(json!({"kind": hit["kind"], "label": hit["label"],
                        "detail": hit["detail"], "href": href}));
                }
            }
        }
        Err(r) => return Ok((r.status, Json(json!({"error": r.detail()}))).into_response()),
    }
    let mut r = Json(json!({"items": items})).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /ui/console/events`: the console stream of every change, relayed from the API.
pub async fn events(State(ui): State<UiState>, session: Session) -> Result<Response, UiError> {
    let response = ui
        .raw(&session, Method::GET, "/api/v1/stream", None)
        .await?;
    if response.status() == axum::http::StatusCode::FORBIDDEN {
        return Err(UiError::Forbidden(
            "you may not watch the platform's changes".into(),
        ));
    }
    // the stream, or the API's own answer (429 when this operator has too many open)
    Ok(response)
}

/// A refusal's detail without the API's category prefix (`conflict: `, `forbidden: `, ...), as a
/// sentence a person reads.
pub fn plain(detail: &str) -> String {
    let rest = [
        "conflict: ",
        "forbidden: ",
        "invalid request: ",
        "not ready yet: ",
        "gone: ",
    ]
    .iter()
    .find_map(|p| detail.strip_prefix(p))
    .unwrap_or(detail);
    super::sentence(rest)
}

/// `n` followed by the noun, singular or plural.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tabs_get_the_same_tab_bar() {
        let html = tenant_tabs("acme", "/billing");
        assert!(html.contains("href=\"/ui/console/tenants/acme/billing\" aria-current=\"page\""));
        assert!(html.contains("href=\"/ui/console/tenants/acme/danger\""));
    }

    #[test]
    fn hits_open_their_console_page() {
        assert_eq!(
            hit_href(&json!({"kind": "tenant", "name": "acme"})).as_deref(),
            Some("/ui/console/tenants/acme")
        );
        assert_eq!(
            hit_href(&json!({"kind": "member", "name": "ann", "tenant": "acme"})).as_deref(),
            Some("/ui/console/tenants/acme/members#member-ann")
        );
        assert_eq!(
            hit_href(&json!({"kind": "member", "name": "pat", "partner": "nw"})).as_deref(),
            Some("/ui/console/partners/nw#staff")
        );
        assert_eq!(
            hit_href(&json!({"kind": "partner", "name": "a/b"})).as_deref(),
            Some("/ui/console/partners/a%2Fb")
        );
        assert_eq!(hit_href(&json!({"kind": "secret", "name": "x"})), None);
    }

    #[test]
    fn counts_and_api_messages_read_plainly() {
        assert_eq!(count(1, "member", "members"), "1 member");
        assert_eq!(count(2, "member", "members"), "2 members");
        assert_eq!(
            plain("conflict: tenant acme still has 1 member"),
            "Tenant acme still has 1 member"
        );
        assert_eq!(plain("no partner"), "No partner");
    }
}
