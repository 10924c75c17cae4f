//! The tenant admin's overview pages: the dashboard (seats used, plan, subscription, the
//! workspace's provisioning, recent activity) and security (MFA enrollment per member).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::super::UiError;
use super::super::api::{Session, UiState, seg};
use super::super::html::{dot, esc, field, status_badge};
use super::super::session::Me;
use super::kit::{At, page, ready_badge};

/// `GET /ui/t/{tenant}`.
pub async fn to_dashboard(Path(tenant): Path<String>) -> Response {
    Redirect::to(&format!("/ui/t/{}/dashboard", seg(&tenant))).into_response()
}

fn kpi(id: &str, label: &str, value: &str, note: &str) -> String {
    format!(
        "<div class=\"kpi\" id=\"kpi-{id}\"><div class=\"kpi-label\">{}</div><div class=\"kpi-value\">{}</div><div class=\"muted\">{}</div></div>",
        esc(label),
        esc(value),
        esc(note)
    )
}

/// The recent activity list of an audit trail (newest first, at most `n`).
fn activity_html(audit: &Value, n: usize) -> String {
    let items = audit["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "<p class=\"muted\">Nothing has happened here yet.</p>".into();
    }
    let mut html = String::from("<ul class=\"activity\" id=\"activity\">");
    for e in items.iter().take(n) {
        html.push_str(&format!(
            "<li><span class=\"muted\">{}</span> {} <span class=\"muted\">by {}</span></li>",
            field(e, "time"),
            field(e, "message"),
            if e["actor"].is_string() {
                field(e, "actor")
            } else {
                "the platform".into()
            }
        ));
    }
    html.push_str("</ul>");
    html
}

/// `GET /ui/t/{tenant}/dashboard`.
pub async fn dashboard(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let t = seg(&tenant);
    let view = ui.get(&session, &format!("/api/v1/tenants/{t}")).await?;
    let me = Me::load(&ui, &session).await?;
    let audit = ui
        .call(
            &session,
            axum::http::Method::GET,
            &format!("/api/v1/tenants/{t}/audit"),
            None,
        )
        .await?
        .unwrap_or(Value::Null);
    let summary = &view["summary"];
    let spec = &view["tenant"]["spec"];
    let status = &view["tenant"]["status"];
    let seats = summary["seats"].as_i64().unwrap_or(0);
    let used = summary["seatsUsed"]
        .as_i64()
        .unwrap_or_else(|| view["members"].as_i64().unwrap_or(0));
    let seats_note = if used >= seats && seats > 0 {
        "all seats are taken; ask your provider for more before adding members"
    } else {
        "members against the seats of your plan"
    };
    let subscription = status["billing"]["subscriptionStatus"]
        .as_str()
        .unwrap_or("not set up yet");
    let domains = view["domains"].as_array().cloned().unwrap_or_default();
    let unverified = domains.iter().filter(|d| d["ready"] != "True").count();
    let mut html = format!(
        "<h1>{} <span class=\"muted\">dashboard</span></h1>",
        field(spec, "displayName")
    );
    if summary["suspended"] == Value::Bool(true) {
        html.push_str("<p class=\"card notice\" role=\"status\">This workspace is suspended: nobody can sign in. Contact your provider.</p>");
    }
    html.push_str("<div class=\"kpis\">");
    html.push_str(&kpi(
        "seats",
        "Seats used",
        &format!("{used} of {seats}"),
        seats_note,
    ));
    html.push_str(&kpi(
        "plan",
        "Plan",
        spec["plan"].as_str().unwrap_or("-"),
        &format!("subscription: {subscription}"),
    ));
    html.push_str(&kpi(
        "domains",
        "Domains",
        &domains.len().to_string(),
        &if unverified == 0 {
            "all verified".to_owned()
        } else {
            format!("{unverified} need attention")
        },
    ));
    html.push_str("</div>");
    let ready = summary["ready"].as_str().unwrap_or("Unknown");
    let mut upstreams = String::new();
    if let Some(map) = summary["upstreams"].as_object() {
        for (kind, s) in map {
            upstreams.push_str(&dot(kind, s.as_str().unwrap_or("Unknown")));
            upstreams.push_str(&format!(
                "<span class=\"upstream-name\">{}</span> ",
                esc(kind.trim_end_matches("Ready"))
            ));
        }
    }
    html.push_str(&format!(
        "<section class=\"card\"><h2>Workspace status {}</h2><p>{upstreams}</p>{}\
         <div class=\"actions\"><a class=\"button\" href=\"/ui/t/{t}/members\">Members</a>\
         <a class=\"button\" href=\"/ui/t/{t}/domains\">Domains</a><a class=\"button\" href=\"/ui/t/{t}/billing\">Billing</a></div></section>",
        ready_badge(ready),
        match summary["reason"].as_str() {
            Some(r) if ready != "True" && !r.is_empty() => format!("<p class=\"reason\">{}</p>", esc(r)),
            _ => String::new(),
        }
    ));
    html.push_str(&format!(
        "<section class=\"card\"><h2>Recent activity</h2>{}</section>",
        activity_html(&audit, 10)
    ));
    let title = format!("Dashboard of {tenant}");
    Ok(page(
        &ui,
        &me,
        At::Tenant(&tenant, "dashboard"),
        &title,
        &html,
    ))
}

/// `GET /ui/t/{tenant}/security`: MFA enrollment per member.
pub async fn security(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let t = seg(&tenant);
    let mfa = ui
        .get(&session, &format!("/api/v1/tenants/{t}/mfa"))
        .await?;
    let me = Me::load(&ui, &session).await?;
    let total = mfa["members"].as_i64().unwrap_or(0);
    let enrolled = mfa["enrolled"].as_i64().unwrap_or(0);
    let mut items = mfa["items"].as_array().cloned().unwrap_or_default();
    items.sort_by(|a, b| a["email"].as_str().cmp(&b["email"].as_str()));
    let mut rows = String::new();
    for m in &items {
        let badge = match m["mfaEnrolled"].as_bool() {
            Some(true) => status_badge("True", "Enrolled"),
            Some(false) => status_badge("False", "Not enrolled"),
            None => status_badge("Unknown", "Not known yet"),
        };
        rows.push_str(&format!(
            "<tr data-member=\"{}\"><td>{}</td><td>{badge}</td></tr>",
            field(m, "name"),
            field(m, "email")
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"2\" class=\"muted\">No members yet.</td></tr>".into();
    }
    let html = format!(
        "<h1>Security <span class=\"muted\">of {}</span></h1>\
         <div class=\"kpis\">{}</div>\
         <section class=\"card\"><h2>Multi-factor authentication</h2>\
         <p class=\"muted\">Members enroll a second factor themselves at their first sign-in or in their account settings at the identity provider. Ask those not enrolled to do so.</p>\
         <div class=\"table-wrap\"><table id=\"mfa\"><thead><tr><th scope=\"col\">Member</th><th scope=\"col\">MFA</th></tr></thead><tbody>{rows}</tbody></table></div></section>",
        esc(&tenant),
        kpi(
            "mfa",
            "Enrolled in MFA",
            &format!("{enrolled} of {total}"),
            "members with a second factor"
        ),
    );
    Ok(page(
        &ui,
        &me,
        At::Tenant(&tenant, "security"),
        &format!("Security of {tenant}"),
        &html,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn activity_is_escaped_and_bounded() {
        let audit = json!({"items": [
            {"time": "t1", "message": "<b>member kim created</b>", "actor": "ann@acme.test (tenant-admin)"},
            {"time": "t2", "message": "second"}]});
        let html = activity_html(&audit, 1);
        assert!(html.contains("&lt;b&gt;member kim created"));
        assert!(!html.contains("second"));
        assert!(activity_html(&json!({}), 5).contains("Nothing has happened"));
    }
}
