//! The operator console: the platform overview, the tenants list (search, filter chips with live
//! counts, per-upstream dots) and a tenant's detail (conditions, members, domains).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::UiError;
use super::api::{Session, UiState, seg};
use super::html::{dot, esc, field, query_value, status_badge};
use super::session::Me;

async fn operator(ui: &UiState, session: &Session) -> Result<Me, UiError> {
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

fn kpi(label: &str, value: &str, note: &str) -> String {
    format!(
        "<div class=\"kpi\"><div class=\"kpi-value\">{}</div><div class=\"kpi-label\">{}</div>\
         <div class=\"muted\">{}</div></div>",
        esc(value),
        esc(label),
        esc(note)
    )
}

/// `GET /ui/console`: KPIs and the tenants that need follow-up.
pub async fn overview(State(ui): State<UiState>, session: Session) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let o = ui.get(&session, "/api/v1/overview").await?;
    let by_state = &o["tenants"]["byState"];
    let count = |s: &str| by_state[s].as_u64().unwrap_or(0);
    let total = o["tenants"]["total"].as_u64().unwrap_or(0);
    let sold = o["seats"]["sold"].as_i64().unwrap_or(0);
    let used = o["seats"]["used"].as_i64().unwrap_or(0);
    let attention = o["domains"]["needingAttention"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut html = String::from("<h1>Platform overview</h1><section class=\"kpis\" id=\"kpis\">");
    html.push_str(&kpi(
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
        "Members",
        &o["members"].as_u64().unwrap_or(0).to_string(),
        &format!("{} partners", o["partners"].as_u64().unwrap_or(0)),
    ));
    html.push_str(&kpi(
        "Seats used",
        &format!("{used} / {sold}"),
        "used of sold",
    ));
    html.push_str(&kpi(
        "Domains needing attention",
        &attention.len().to_string(),
        &format!("of {}", o["domains"]["total"].as_u64().unwrap_or(0)),
    ));
    html.push_str("</section>");

    html.push_str("<section class=\"card\"><h2>Upstream provisioning</h2>");
    match o["upstreams"].as_object() {
        Some(map) if !map.is_empty() => {
            html.push_str("<table><thead><tr><th scope=\"col\">Condition</th><th scope=\"col\">True</th><th scope=\"col\">False</th><th scope=\"col\">Unknown</th></tr></thead><tbody>");
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
    html.push_str("</section>");

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
    if !attention.is_empty() {
        html.push_str(
            "<section class=\"card\"><h2>Domains needing attention</h2><ul class=\"list\">",
        );
        for d in &attention {
            html.push_str(&format!(
                "<li>{} <span class=\"muted\">({})</span></li>",
                field(d, "domain"),
                field(d, "tenant")
            ));
        }
        html.push_str("</ul></section>");
    }
    Ok(me.console_chrome(&ui, "overview").page("Overview", &html))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    state: Option<String>,
}

const STATES: [(&str, &str); 5] = [
    ("all", "All"),
    ("ready", "Ready"),
    ("pending", "Pending"),
    ("suspended", "Suspended"),
    ("failing", "Failing"),
];

/// `GET /ui/console/tenants`: search, filter chips with counts, the list.
pub async fn tenants(
    State(ui): State<UiState>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let q = query.q.unwrap_or_default();
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
    let mut html = format!(
        "<h1>Tenants</h1><form class=\"search\" method=\"get\" action=\"/ui/console/tenants\" role=\"search\">\
         <label for=\"q\">Search by slug or name</label>\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" placeholder=\"acme\">\
         <input type=\"hidden\" name=\"state\" value=\"{}\">\
         <button type=\"submit\">Search</button></form><nav class=\"chips\" aria-label=\"Filter by state\">",
        esc(&q),
        esc(&wanted)
    );
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
            "<a class=\"chip\" href=\"/ui/console/tenants?q={}&amp;state={key}\"{current}>{} <span class=\"count\">{n}</span></a>",
            query_value(&q),
            esc(label)
        ));
    }
    html.push_str("</nav>");
    let shown: Vec<&Value> = items
        .iter()
        .filter(|t| wanted == "all" || t["state"].as_str() == Some(wanted.as_str()))
        .collect();
    if shown.is_empty() {
        html.push_str("<p class=\"muted\">No tenant matches.</p>");
    } else {
        html.push_str(
            "<table id=\"tenants\"><thead><tr><th scope=\"col\">Tenant</th><th scope=\"col\">Status</th>\
             <th scope=\"col\">Plan</th><th scope=\"col\">Seats</th><th scope=\"col\">Domains</th>\
             <th scope=\"col\">Partner</th><th scope=\"col\">Upstreams</th></tr></thead><tbody>",
        );
        for t in shown {
            let name = t["name"].as_str().unwrap_or_default();
            let state = t["state"].as_str().unwrap_or("pending");
            let badge_status = match state {
                "ready" => "True",
                "failing" => "False",
                _ => "Unknown",
            };
            let mut dots = String::new();
            if let Some(map) = t["upstreams"].as_object() {
                for (k, v) in map {
                    dots.push_str(&dot(k, v.as_str().unwrap_or("Unknown")));
                }
            }
            if dots.is_empty() {
                dots.push_str("<span class=\"muted\">not yet</span>");
            }
            html.push_str(&format!(
                "<tr><td><a href=\"/ui/console/tenants/{}\">{}</a><div class=\"muted\">{}</div></td>\
                 <td>{}<div class=\"reason\">{}</div></td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{dots}</td></tr>",
                seg(name),
                esc(name),
                field(t, "displayName"),
                status_badge(badge_status, state),
                field(t, "reason"),
                field(t, "plan"),
                t["seatsUsed"].as_i64().map(|n| n.to_string()).unwrap_or_else(|| "–".into()),
                field(t, "seats"),
                field(t, "domains"),
                t["partner"].as_str().map(esc).unwrap_or_else(|| "–".into()),
            ));
        }
        html.push_str("</tbody></table>");
    }
    Ok(me.console_chrome(&ui, "tenants").page("Tenants", &html))
}

/// The conditions of an object as a table.
pub fn conditions_table(conditions: &[Value]) -> String {
    if conditions.is_empty() {
        return "<p class=\"muted\">No condition reported yet: the operator has not looked at it.</p>"
            .into();
    }
    let mut html = String::from(
        "<table class=\"conditions\"><thead><tr><th scope=\"col\">Condition</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Reason</th><th scope=\"col\">Message</th><th scope=\"col\">Last transition</th></tr></thead><tbody>",
    );
    for c in conditions {
        let status = c["status"].as_str().unwrap_or("Unknown");
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td><time>{}</time></td></tr>",
            field(c, "type"),
            status_badge(status, status),
            field(c, "reason"),
            field(c, "message"),
            field(c, "lastTransitionTime"),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// `GET /ui/console/tenants/{tenant}`: conditions, members, domains.
pub async fn tenant(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let view = ui
        .get(&session, &format!("/api/v1/tenants/{}", seg(&tenant)))
        .await?;
    let summary = &view["summary"];
    let spec = &view["tenant"]["spec"];
    let (ready, reason) = (
        summary["ready"].as_str().unwrap_or("Unknown"),
        summary["reason"].as_str().unwrap_or_default(),
    );
    let mut html = format!(
        "<p class=\"crumbs\"><a href=\"/ui/console/tenants\">Tenants</a> /</p>\
         <h1>{} <span class=\"muted\">{}</span> {}</h1>",
        field(spec, "displayName"),
        esc(&tenant),
        status_badge(ready, &format!("Ready: {ready}"))
    );
    if !reason.is_empty() {
        html.push_str(&format!("<p class=\"reason\">Reason: {}</p>", esc(reason)));
    }
    html.push_str(&format!(
        "<section class=\"card\"><h2>Overview</h2><dl class=\"facts\">\
         <dt>Plan</dt><dd>{}</dd><dt>Seats</dt><dd>{} used of {}</dd>\
         <dt>Partner</dt><dd>{}</dd><dt>Namespace</dt><dd>{}</dd><dt>Suspended</dt><dd>{}</dd>\
         <dt>Billing contact</dt><dd>{}</dd></dl></section>",
        field(spec, "plan"),
        summary["seatsUsed"]
            .as_i64()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "–".into()),
        field(spec, "seats"),
        summary["partner"]
            .as_str()
            .map(esc)
            .unwrap_or_else(|| "–".into()),
        view["namespace"]
            .as_str()
            .map(esc)
            .unwrap_or_else(|| "not yet created".into()),
        if summary["suspended"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        },
        spec["billing"]["email"]
            .as_str()
            .map(esc)
            .unwrap_or_else(|| "–".into()),
    ));
    let conditions = view["conditions"].as_array().cloned().unwrap_or_default();
    html.push_str(&format!(
        "<section class=\"card\" id=\"conditions\"><h2>Resources</h2>{}</section>",
        conditions_table(&conditions)
    ));
    html.push_str("<section class=\"card\" id=\"members\"><h2>Members</h2>");
    match ui
        .call(
            &session,
            axum::http::Method::GET,
            &format!("/api/v1/tenants/{}/members", seg(&tenant)),
            None,
        )
        .await?
    {
        Ok(list) => {
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                html.push_str("<p class=\"muted\">No members yet.</p>");
            } else {
                html.push_str("<table><thead><tr><th scope=\"col\">Member</th><th scope=\"col\">Role</th><th scope=\"col\">Status</th></tr></thead><tbody>");
                for m in &items {
                    let r = m["ready"].as_str().unwrap_or("Unknown");
                    let label = if m["suspended"].as_bool() == Some(true) {
                        "Suspended".to_owned()
                    } else {
                        format!("Ready: {r}")
                    };
                    html.push_str(&format!(
                        "<tr><td>{}<div class=\"muted\">{}</div></td><td>{}</td><td>{} <span class=\"reason\">{}</span></td></tr>",
                        field(m, "displayName"),
                        field(m, "email"),
                        field(m, "role"),
                        status_badge(r, &label),
                        field(m, "reason")
                    ));
                }
                html.push_str("</tbody></table>");
            }
        }
        Err(refusal) => html.push_str(&format!(
            "<p class=\"muted\">{}</p>",
            esc(&refusal.detail())
        )),
    }
    html.push_str("</section><section class=\"card\" id=\"domains\"><h2>Domains</h2>");
    let domains = view["domains"].as_array().cloned().unwrap_or_default();
    if domains.is_empty() {
        html.push_str("<p class=\"muted\">No mail domain yet.</p>");
    } else {
        html.push_str("<table><thead><tr><th scope=\"col\">Domain</th><th scope=\"col\">Primary</th><th scope=\"col\">Status</th></tr></thead><tbody>");
        for d in &domains {
            let r = d["ready"].as_str().unwrap_or("Unknown");
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{} <span class=\"reason\">{}</span></td></tr>",
                field(d, "domain"),
                if d["primary"].as_bool() == Some(true) {
                    "yes"
                } else {
                    ""
                },
                status_badge(r, r),
                field(d, "reason")
            ));
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>");
    Ok(me.console_chrome(&ui, "tenants").page(&tenant, &html))
}
