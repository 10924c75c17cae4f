//! The console's tenants list: search by slug or name, filter chips with live counts (all /
//! ready / pending / suspended / failing) and a dot per upstream (Identity, Mail, Files, Billing).

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{fragment, live_line, notice, operator, page};
use crate::ui::UiError;
use crate::ui::api::{Session, UiState, seg};
use crate::ui::html::{dot, esc, field, query_value, status_badge};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    state: Option<String>,
    live: Option<String>,
    /// The tenant just deleted, for its notice.
    deleted: Option<String>,
}

/// The filter chips: the state key and its label.
pub const STATES: [(&str, &str); 5] = [
    ("all", "All"),
    ("ready", "Ready"),
    ("pending", "Pending"),
    ("suspended", "Suspended"),
    ("failing", "Failing"),
];

/// The per-upstream dots: the label and where its status comes from.
const UPSTREAMS: [(&str, &str); 4] = [
    ("Identity", "IdentityReady"),
    ("Mail", ""),
    ("Files", "FilesReady"),
    ("Billing", "BillingReady"),
];

/// The status of one upstream of a tenant summary.
fn upstream_status<'a>(t: &'a Value, condition: &str) -> &'a str {
    if condition.is_empty() {
        t["mail"].as_str().unwrap_or("Unknown")
    } else {
        t["upstreams"][condition].as_str().unwrap_or("Unknown")
    }
}

/// The badge status of a tenant state.
pub fn state_status(state: &str) -> &'static str {
    match state {
        "ready" => "True",
        "failing" => "False",
        _ => "Unknown",
    }
}

/// The chips and the table for `items` (the search's matches), filtered by `wanted`.
pub fn list_html(items: &[Value], q: &str, wanted: &str) -> String {
    let mut html = String::from("<nav class=\"chips\" aria-label=\"Filter by state\">");
    for (key, label) in STATES {
        let n = items
            .iter()
            .filter(|t| key == "all" || t["state"].as_str() == Some(key))
            .count();
        let current = if key == wanted {
            " aria-current=\"true\""
        } else {
            ""
        };
        html.push_str(&format!(
            "<a class=\"chip\" data-state=\"{key}\" href=\"/ui/console/tenants?q={}&amp;state={key}\"{current}>{} <span class=\"count\">{n}</span></a>",
            query_value(q),
            esc(label)
        ));
    }
    html.push_str("</nav>");
    let shown: Vec<&Value> = items
        .iter()
        .filter(|t| wanted == "all" || t["state"].as_str() == Some(wanted))
        .collect();
    if shown.is_empty() {
        html.push_str("<p class=\"muted\" id=\"no-tenants\">No tenant matches. Clear the search or choose another filter.</p>");
        return html;
    }
    html.push_str(
        "<table id=\"tenants\"><thead><tr><th scope=\"col\">Tenant</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Plan</th><th scope=\"col\">Seats</th><th scope=\"col\">Domains</th>\
         <th scope=\"col\">Partner</th><th scope=\"col\">Identity · Mail · Files · Billing</th></tr></thead><tbody>",
    );
    for t in shown {
        let name = t["name"].as_str().unwrap_or_default();
        let state = t["state"].as_str().unwrap_or("pending");
        let dots: String = UPSTREAMS
            .iter()
            .map(|(label, c)| dot(label, upstream_status(t, c)))
            .collect();
        let partner = match t["partner"].as_str() {
            Some(p) => format!("<a href=\"/ui/console/partners/{}\">{}</a>", seg(p), esc(p)),
            None => "–".into(),
        };
        html.push_str(&format!(
            "<tr data-tenant=\"{n}\" data-state=\"{s}\"><td><a href=\"/ui/console/tenants/{sn}\">{n}</a><div class=\"muted\">{dn}</div></td>\
             <td>{badge}<div class=\"reason\">{reason}</div></td><td>{plan}</td><td>{used} / {seats}</td><td>{domains}</td><td>{partner}</td>\
             <td class=\"dots\">{dots}</td></tr>",
            n = esc(name),
            s = esc(state),
            sn = seg(name),
            dn = field(t, "displayName"),
            badge = status_badge(state_status(state), state),
            reason = if state == "ready" { String::new() } else { field(t, "reason") },
            plan = field(t, "plan"),
            used = t["seatsUsed"]
                .as_i64()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "–".into()),
            seats = field(t, "seats"),
            domains = field(t, "domains"),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// `GET /ui/console/tenants`: search, filter chips with counts, the list (`?live=1`: the chips
/// and the list alone).
pub async fn tenants(
    State(ui): State<UiState>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let q = query.q.unwrap_or_default().trim().to_owned();
    let wanted = query
        .state
        .filter(|s| STATES.iter().any(|(k, _)| k == s))
        .unwrap_or_else(|| "all".into());
    let list = ui
        .get(
            &session,
            &format!("/api/v1/tenants?q={}", query_value(&q.to_lowercase())),
        )
        .await?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let body = list_html(&items, &q, &wanted);
    if query.live.as_deref() == Some("1") {
        return Ok(fragment(body));
    }
    let deleted = query
        .deleted
        .as_deref()
        .map(|t| {
            notice(&format!(
                "Tenant {t} deleted: the operator finishes its clean-up and it disappears from this list live."
            ))
        })
        .unwrap_or_default();
    let html = format!(
        "<h1>Tenants</h1>{deleted}\
         <form class=\"search\" method=\"get\" action=\"/ui/console/tenants\" role=\"search\">\
         <label for=\"q\">Search by slug or name</label>\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" placeholder=\"acme\">\
         <input type=\"hidden\" name=\"state\" value=\"{}\">\
         <button type=\"submit\">Search</button></form>{}\
         <div id=\"tenants-live\" data-live=\"/ui/console/tenants?q={}&amp;state={}&amp;live=1\">{body}</div>",
        esc(&q),
        esc(&wanted),
        live_line(),
        query_value(&q),
        query_value(&wanted),
    );
    Ok(page(&ui, &me, "tenants", "Tenants", &html))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chips_count_every_state_and_the_table_shows_the_chosen_one() {
        let items = vec![
            json!({"name": "acme", "displayName": "<Acme>", "state": "ready", "plan": "business",
                   "seats": 10, "domains": 1, "mail": "True",
                   "upstreams": {"IdentityReady": "True", "FilesReady": "False"}}),
            json!({"name": "globex", "displayName": "Globex", "state": "failing", "reason": "PaymentFailed",
                   "plan": "starter", "seats": 5, "domains": 0, "partner": "northwind", "upstreams": {}}),
        ];
        let html = list_html(&items, "", "failing");
        assert!(html.contains("data-state=\"failing\" href=\"/ui/console/tenants?q=&amp;state=failing\" aria-current=\"true\">Failing <span class=\"count\">1</span>"));
        assert!(html.contains("All <span class=\"count\">2</span>"));
        assert!(html.contains("data-tenant=\"globex\""));
        assert!(!html.contains("data-tenant=\"acme\""));
        assert!(html.contains("Billing: Unknown"));
        let all = list_html(&items, "", "all");
        assert!(all.contains("&lt;Acme&gt;"));
        assert!(all.contains("Mail: True") && all.contains("Files: False"));
    }
}
