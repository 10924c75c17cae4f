//! The console's overview: KPIs, upstream provisioning, the tenants needing follow-up, domains
//! needing attention and the recent changes (who did what), refreshed live.

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::Value;

use super::{LiveQuery, fragment, live_line, operator, page};
use crate::ui::UiError;
use crate::ui::api::{Session, UiState, seg};
use crate::ui::html::{esc, field, status_badge};

fn kpi(id: &str, label: &str, value: &str, note: &str) -> String {
    format!(
        "<div class=\"kpi\" id=\"kpi-{}\"><div class=\"kpi-value\">{}</div><div class=\"kpi-label\">{}</div>\
         <div class=\"muted\">{}</div></div>",
        esc(id),
        esc(value),
        esc(label),
        esc(note)
    )
}

/// The overview's live part, from `GET /api/v1/overview`.
pub fn overview_html(o: &Value) -> String {
    let by_state = &o["tenants"]["byState"];
    let count = |s: &str| by_state[s].as_u64().unwrap_or(0);
    let total = o["tenants"]["total"].as_u64().unwrap_or(0);
    let sold = o["seats"]["sold"].as_i64().unwrap_or(0);
    let used = o["seats"]["used"].as_i64().unwrap_or(0);
    let attention = o["domains"]["needingAttention"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut html = String::from("<section class=\"kpis\" id=\"kpis\">");
    html.push_str(&kpi(
        "tenants",
        "Tenants",
        &total.to_string(),
        &format!(
            "{} ready · {} pending · {} failing · {} suspended",
            count("ready"),
            count("pending"),
            count("failing"),
            count("suspended")
        ),
    ));
    html.push_str(&kpi(
        "members",
        "Members",
        &o["members"].as_u64().unwrap_or(0).to_string(),
        &super::count(
            o["partners"].as_u64().unwrap_or(0) as usize,
            "partner",
            "partners",
        ),
    ));
    html.push_str(&kpi(
        "seats",
        "Seats used",
        &format!("{used} / {sold}"),
        "used of sold",
    ));
    html.push_str(&kpi(
        "domains",
        "Domains needing attention",
        &attention.len().to_string(),
        &format!("of {}", o["domains"]["total"].as_u64().unwrap_or(0)),
    ));
    html.push_str("</section><div class=\"grid2\">");

    html.push_str("<section class=\"card\" id=\"follow-up\"><h2>Tenants needing follow-up</h2>");
    let follow = o["followUp"].as_array().cloned().unwrap_or_default();
    if follow.is_empty() {
        html.push_str(
            "<p class=\"muted\">Nothing needs follow-up: no tenant reports Ready=False.</p>",
        );
    } else {
        html.push_str("<ul class=\"list\">");
        for f in &follow {
            let name = f["name"].as_str().unwrap_or_default();
            html.push_str(&format!(
                "<li><a href=\"/ui/console/tenants/{}\">{}</a> {} <span class=\"reason\">{}</span></li>",
                seg(name),
                esc(name),
                status_badge("False", "Not ready"),
                field(f, "reason")
            ));
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>");

    html.push_str("<section class=\"card\" id=\"upstreams\"><h2>Upstream provisioning</h2>");
    match o["upstreams"].as_object() {
        Some(map) if !map.is_empty() => {
            html.push_str(
                "<table><thead><tr><th scope=\"col\">Condition</th><th scope=\"col\">True</th>\
                 <th scope=\"col\">False</th><th scope=\"col\">Unknown</th></tr></thead><tbody>",
            );
            for (name, counts) in map {
                html.push_str(&format!(
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(name),
                    counts["True"].as_u64().unwrap_or(0),
                    counts["False"].as_u64().unwrap_or(0),
                    counts["Unknown"].as_u64().unwrap_or(0)
                ));
            }
            html.push_str("</tbody></table>");
        }
        _ => html
            .push_str("<p class=\"muted\">No tenant has reported an upstream condition yet.</p>"),
    }
    html.push_str("</section></div>");

    if !attention.is_empty() {
        html.push_str(
            "<section class=\"card\" id=\"attention\"><h2>Domains needing attention</h2><ul class=\"list\">",
        );
        for d in &attention {
            match d["tenant"].as_str() {
                Some(t) => html.push_str(&format!(
                    "<li><a href=\"/ui/console/tenants/{}/domains\">{}</a> <span class=\"muted\">({})</span></li>",
                    seg(t),
                    field(d, "domain"),
                    esc(t)
                )),
                None => html.push_str(&format!(
                    "<li>{} <span class=\"muted\">(no tenant)</span></li>",
                    field(d, "domain")
                )),
            }
        }
        html.push_str("</ul></section>");
    }

    html.push_str("<section class=\"card\" id=\"recent\"><h2>Recent changes</h2>");
    let recent = o["recent"].as_array().cloned().unwrap_or_default();
    if recent.is_empty() {
        html.push_str("<p class=\"muted\">No change recorded yet.</p>");
    } else {
        html.push_str(&audit_table(&recent));
    }
    html.push_str("</section>");
    html
}

/// Audit entries (time, who, what, object) as a table.
pub fn audit_table(entries: &[Value]) -> String {
    let mut html = String::from(
        "<table class=\"audit\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th>\
         <th scope=\"col\">What</th><th scope=\"col\">Object</th></tr></thead><tbody>",
    );
    for e in entries {
        html.push_str(&format!(
            "<tr><td><time>{}</time></td><td>{}</td><td><strong>{}</strong><div class=\"reason\">{}</div></td><td>{} {}</td></tr>",
            field(e, "time"),
            e["actor"].as_str().map(esc).unwrap_or_else(|| "the platform".into()),
            field(e, "action"),
            field(e, "message"),
            field(e, "kind"),
            field(e, "name"),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// `GET /ui/console`: the platform overview (`?live=1`: its live part alone).
pub async fn overview(
    State(ui): State<UiState>,
    session: Session,
    Query(live): Query<LiveQuery>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let o = ui.get(&session, "/api/v1/overview").await?;
    let body = overview_html(&o);
    if live.fragment() {
        return Ok(fragment(body));
    }
    let html = format!(
        "<h1>Platform overview</h1>{}<div data-live=\"/ui/console?live=1\" id=\"overview-live\">{body}</div>",
        live_line()
    );
    Ok(page(&ui, &me, "overview", "Overview", &html))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_overview_escapes_and_links_follow_up() {
        let o = json!({"tenants": {"total": 2, "byState": {"failing": 1, "ready": 1}},
            "members": 3, "partners": 1, "seats": {"sold": 20, "used": 3},
            "domains": {"total": 1, "needingAttention": [{"domain": "a.test", "tenant": "acme"}]},
            "upstreams": {"IdentityReady": {"True": 2}},
            "followUp": [{"name": "globex", "reason": "<PaymentFailed>"}],
            "recent": [{"time": "2026-01-01T00:00:00Z", "actor": "op (operator)", "action": "TenantSuspended",
                        "message": "m", "kind": "Tenant", "name": "acme"}]});
        let html = overview_html(&o);
        assert!(html.contains("href=\"/ui/console/tenants/globex\""));
        assert!(html.contains("&lt;PaymentFailed&gt;"));
        assert!(html.contains("3 / 20"));
        assert!(html.contains("TenantSuspended"));
        assert!(html.contains("/ui/console/tenants/acme/domains"));
    }
}
