//! The console's users: a platform-wide member search (address, tenant, role, status, MFA),
//! paged, over `GET /api/v1/members`.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{operator, page};
use crate::ui::UiError;
use crate::ui::api::{Session, UiState, seg};
use crate::ui::html::{esc, field, query_value, status_badge};

/// The directory's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    mfa: String,
    #[serde(default)]
    page: String,
}

const PAGE_SIZE: u64 = 25;

impl UsersQuery {
    /// The query string of these filters on page `page`.
    fn query(&self, page: u64) -> String {
        format!(
            "q={}&tenant={}&role={}&status={}&mfa={}&page={page}",
            query_value(self.q.trim()),
            query_value(self.tenant.trim()),
            query_value(&self.role),
            query_value(&self.status),
            query_value(&self.mfa),
        )
    }

    fn page(&self) -> u64 {
        self.page.parse().ok().filter(|p| *p >= 1).unwrap_or(1)
    }
}

fn select(id: &str, label: &str, current: &str, options: &[(&str, &str)]) -> String {
    let opts: String = options
        .iter()
        .map(|(v, l)| {
            format!(
                "<option value=\"{v}\"{}>{l}</option>",
                if *v == current { " selected" } else { "" }
            )
        })
        .collect();
    format!(
        "<div class=\"field\"><label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{id}\">{opts}</select></div>"
    )
}

fn rows_html(items: &[Value]) -> String {
    let mut html = String::from(
        "<table id=\"users\"><thead><tr><th scope=\"col\">Address</th><th scope=\"col\">Tenant</th>\
         <th scope=\"col\">Role</th><th scope=\"col\">Status</th><th scope=\"col\">MFA</th></tr></thead><tbody>",
    );
    for m in items {
        let name = m["name"].as_str().unwrap_or_default();
        let owner = match (m["tenant"].as_str(), m["partner"].as_str()) {
            (Some(t), _) => format!(
                "<a href=\"/ui/console/tenants/{}/members#member-{}\">{}</a>",
                seg(t),
                seg(name),
                esc(t)
            ),
            (None, Some(p)) => format!(
                "<a href=\"/ui/console/partners/{}#staff\">{}</a> <span class=\"muted\">(partner staff)</span>",
                seg(p),
                esc(p)
            ),
            _ => "–".into(),
        };
        let state = m["state"].as_str().unwrap_or("pending");
        let s = match state {
            "ready" => "True",
            "failing" | "suspended" => "False",
            _ => "Unknown",
        };
        let mfa = match m["mfaEnrolled"].as_bool() {
            Some(true) => "enrolled",
            Some(false) => "not enrolled",
            None => "unknown",
        };
        html.push_str(&format!(
            "<tr data-email=\"{email}\"><td><strong>{email}</strong><div class=\"muted\">{dn}</div></td><td>{owner}</td>\
             <td>{role}</td><td>{badge}<div class=\"reason\">{reason}</div></td><td>{mfa}</td></tr>",
            email = field(m, "email"),
            dn = field(m, "displayName"),
            role = field(m, "role"),
            badge = status_badge(s, state),
            reason = if state == "ready" { String::new() } else { field(m, "reason") },
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// `GET /ui/console/users`: the filters, a page of members and the pager.
pub async fn users(
    State(ui): State<UiState>,
    session: Session,
    Query(query): Query<UsersQuery>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let page_no = query.page();
    let path = format!(
        "/api/v1/members?pageSize={PAGE_SIZE}&{}",
        query.query(page_no)
    );
    let mut html = format!(
        "<h1>Users</h1><form method=\"get\" action=\"/ui/console/users\" class=\"filters card\" role=\"search\">\
         <div class=\"field\"><label for=\"q\">Address or name</label><input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" placeholder=\"jane@\"></div>\
         <div class=\"field\"><label for=\"tenant\">Tenant</label><input id=\"tenant\" name=\"tenant\" type=\"text\" value=\"{}\" placeholder=\"acme\"></div>{}{}{}\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Search</button> <a class=\"button\" href=\"/ui/console/users\">Clear</a></div></form>",
        esc(&query.q),
        esc(&query.tenant),
        select(
            "role",
            "Role",
            &query.role,
            &[("", "Any"), ("admin", "Admin"), ("member", "Member")]
        ),
        select(
            "status",
            "Status",
            &query.status,
            &[
                ("", "Any"),
                ("ready", "Ready"),
                ("pending", "Pending"),
                ("failing", "Failing"),
                ("suspended", "Suspended")
            ]
        ),
        select(
            "mfa",
            "MFA",
            &query.mfa,
            &[
                ("", "Any"),
                ("enrolled", "Enrolled"),
                ("not-enrolled", "Not enrolled")
            ]
        ),
    );
    match ui
        .call(&session, axum::http::Method::GET, &path, None)
        .await?
    {
        Ok(v) => {
            let items = v["items"].as_array().cloned().unwrap_or_default();
            let total = v["total"].as_u64().unwrap_or(0);
            let pages = total.div_ceil(PAGE_SIZE).max(1);
            html.push_str(&format!(
                "<section class=\"card\"><p class=\"muted\" id=\"users-total\" role=\"status\">{total} found · page {page_no} of {pages}</p>"
            ));
            if items.is_empty() {
                html.push_str("<p class=\"muted\">No member matches these filters.</p>");
            } else {
                html.push_str(&rows_html(&items));
            }
            html.push_str("<nav class=\"pager actions\" aria-label=\"Pages\">");
            if page_no > 1 {
                html.push_str(&format!(
                    "<a class=\"button\" rel=\"prev\" href=\"/ui/console/users?{}\">Previous</a>",
                    esc(&query.query(page_no - 1))
                ));
            }
            if page_no < pages {
                html.push_str(&format!(
                    "<a class=\"button\" rel=\"next\" href=\"/ui/console/users?{}\">Next</a>",
                    esc(&query.query(page_no + 1))
                ));
            }
            html.push_str("</nav></section>");
        }
        Err(r) if r.status == axum::http::StatusCode::BAD_REQUEST => {
            let fields: Vec<String> = r
                .fields()
                .into_iter()
                .map(|(f, reason)| format!("{f}: {reason}"))
                .collect();
            html.push_str(&format!(
                "<p class=\"card field-error\" role=\"alert\">{}</p>",
                esc(&if fields.is_empty() {
                    r.detail()
                } else {
                    fields.join("; ")
                })
            ));
        }
        Err(r) => return Err(r.into()),
    }
    Ok(page(&ui, &me, "users", "Users", &html))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_link_the_tenant_and_show_mfa() {
        let html = rows_html(&[
            json!({"name": "ann", "email": "ann@acme.test", "tenant": "acme", "role": "admin",
                   "state": "ready", "mfaEnrolled": true}),
            json!({"name": "pat", "email": "<pat>", "partner": "nw", "role": "member", "state": "suspended"}),
        ]);
        assert!(html.contains("/ui/console/tenants/acme/members#member-ann"));
        assert!(html.contains("enrolled") && html.contains("(partner staff)"));
        assert!(html.contains("&lt;pat&gt;"));
    }

    #[test]
    fn the_pager_keeps_the_filters() {
        let q = UsersQuery {
            q: "a b".into(),
            role: "admin".into(),
            page: "x".into(),
            ..UsersQuery::default()
        };
        assert_eq!(q.page(), 1);
        assert_eq!(q.query(2), "q=a%20b&tenant=&role=admin&status=&mfa=&page=2");
    }
}
