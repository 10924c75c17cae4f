//! A tenant in the console, one tab per page: Overview, Members, Resources (each upstream's
//! condition and ids, "reconcile now"), Domains (records and their state), Billing (its own
//! page), Audit (who changed what) and the Danger zone (suspend, resume, delete). The header and
//! the read-only tabs follow the console stream live.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::overview::audit_table;
use super::tenants::state_status;
use super::{count, fragment, live_line, notice, operator, page};
use crate::ui::UiError;
use crate::ui::api::{Session, UiState, seg};
use crate::ui::html::{esc, field, status_badge, tabs};

#[derive(Debug, Default, Deserialize)]
pub struct TabQuery {
    /// `head` (the header alone) or `1` (the tab's body alone), for the live refresh.
    live: Option<String>,
    /// The action just done, for its notice.
    done: Option<String>,
}

/// The tabs: path suffix and label.
const TABS: [(&str, &str); 7] = [
    ("", "Overview"),
    ("/members", "Members"),
    ("/resources", "Resources"),
    ("/domains", "Domains"),
    ("/billing", "Billing"),
    ("/audit", "Audit"),
    ("/danger", "Danger zone"),
];

/// The tab bar of a tenant with the tab `current` (a path suffix such as `/billing`) marked.
pub fn tab_bar(tenant: &str, current: &str) -> String {
    let base = format!("/ui/console/tenants/{}", seg(tenant));
    let items: Vec<(String, &str, bool)> = TABS
        .iter()
        .map(|(suffix, label)| (format!("{base}{suffix}"), *label, *suffix == current))
        .collect();
    tabs("Tenant", &items)
}

/// Whether a tab's body is refreshed live (forms and long tables are not).
fn live_tab(tab: &str) -> bool {
    matches!(tab, "" | "/members" | "/resources" | "/domains")
}

fn text_or_dash(v: &Value) -> String {
    match v {
        Value::String(s) if !s.is_empty() => esc(s),
        Value::Number(n) => n.to_string(),
        _ => "–".into(),
    }
}

/// The tenant's header: name, state badge and the Ready reason.
pub fn head_html(tenant: &str, view: &Value) -> String {
    let summary = &view["summary"];
    let state = summary["state"].as_str().unwrap_or("pending");
    let deleting = view["tenant"]["metadata"]["deletionTimestamp"].is_string();
    let mut html = format!(
        "<h1>{} <span class=\"muted\">{}</span> <span id=\"tenant-state\" data-state=\"{}\">{}</span></h1>",
        field(&view["tenant"]["spec"], "displayName"),
        esc(tenant),
        esc(state),
        status_badge(state_status(state), state),
    );
    if deleting {
        html.push_str(&format!(
            "<p class=\"warning\" role=\"status\">Being deleted: the operator removes it once nothing depends on it. {}</p>",
            field(summary, "reason")
        ));
    }
    let reason = summary["reason"].as_str().unwrap_or_default();
    if !reason.is_empty() && state != "ready" {
        let message = view["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .map(|c| field(c, "message"))
            .unwrap_or_default();
        html.push_str(&format!(
            "<p class=\"reason\" id=\"tenant-reason\">Ready: {} — {}</p>",
            esc(reason),
            message
        ));
    }
    html
}

fn overview_body(view: &Value) -> String {
    let summary = &view["summary"];
    let spec = &view["tenant"]["spec"];
    let billing = &spec["billing"];
    format!(
        "<div class=\"grid2\"><section class=\"card\"><h2>Identity and plan</h2><dl class=\"facts\">\
         <dt>Slug</dt><dd>{slug}</dd><dt>Display name</dt><dd>{dn}</dd>\
         <dt>Plan</dt><dd>{plan}</dd><dt>Seats</dt><dd>{used} used of {seats}</dd>\
         <dt>Storage quota</dt><dd>{storage}</dd><dt>Mailbox quota</dt><dd>{mailbox}</dd>\
         <dt>Partner</dt><dd>{partner}</dd><dt>Namespace</dt><dd>{ns}</dd>\
         <dt>Suspended</dt><dd>{suspended}</dd><dt>Deletion policy</dt><dd>{policy}</dd></dl></section>\
         <section class=\"card\"><h2>Billing details</h2><dl class=\"facts\">\
         <dt>Billing e-mail</dt><dd>{bemail}</dd><dt>Company</dt><dd>{company}</dd>\
         <dt>Country</dt><dd>{country}</dd><dt>VAT id</dt><dd>{vat}</dd></dl></section></div>\
         <section class=\"card\" id=\"conditions\"><h2>Status per upstream</h2><p class=\"muted\">{members} · {domains}</p>{conditions}</section>",
        slug = field(&view["tenant"]["metadata"], "name"),
        dn = field(spec, "displayName"),
        plan = field(spec, "plan"),
        used = text_or_dash(&summary["seatsUsed"]),
        seats = field(spec, "seats"),
        storage = text_or_dash(&spec["storageQuota"]),
        mailbox = text_or_dash(&spec["mailboxQuota"]),
        partner = match summary["partner"].as_str() {
            Some(p) => format!("<a href=\"/ui/console/partners/{}\">{}</a>", seg(p), esc(p)),
            None => "–".into(),
        },
        ns = view["namespace"]
            .as_str()
            .map(esc)
            .unwrap_or_else(|| "not yet created".into()),
        suspended = if summary["suspended"].as_bool() == Some(true) {
            "yes: access is cut off"
        } else {
            "no"
        },
        policy = text_or_dash(&spec["deletionPolicy"]),
        bemail = text_or_dash(&billing["email"]),
        company = text_or_dash(&billing["company"]),
        country = text_or_dash(&billing["country"]),
        vat = text_or_dash(&billing["vatId"]),
        members = count(
            view["members"].as_u64().unwrap_or(0) as usize,
            "member",
            "members"
        ),
        domains = count(
            view["domains"].as_array().map(Vec::len).unwrap_or(0),
            "mail domain",
            "mail domains"
        ),
        conditions = conditions_table(
            view["conditions"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
        ),
    )
}

/// A Ready status in words.
fn ready_label(status: &str) -> &'static str {
    match status {
        "True" => "Ready",
        "False" => "Not ready",
        _ => "Provisioning",
    }
}

fn members_body(list: &Value) -> String {
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "<section class=\"card\"><p class=\"muted\">No members yet. The tenant's admins add them in the portal.</p></section>".into();
    }
    let mut html = String::from(
        "<section class=\"card\"><table id=\"members\"><thead><tr><th scope=\"col\">Member</th><th scope=\"col\">Role</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">MFA</th><th scope=\"col\">Files</th></tr></thead><tbody>",
    );
    for m in &items {
        let r = m["ready"].as_str().unwrap_or("Unknown");
        let suspended = m["suspended"].as_bool() == Some(true);
        let badge = if suspended {
            status_badge("False", "Suspended")
        } else {
            status_badge(r, ready_label(r))
        };
        let status = &m["member"]["status"];
        let mfa = match status["identity"]["mfaEnrolled"].as_bool() {
            Some(true) => "enrolled",
            Some(false) => "not enrolled",
            None => "–",
        };
        html.push_str(&format!(
            "<tr id=\"member-{id}\" data-member=\"{id}\"><td><strong>{dn}</strong><div class=\"muted\">{email}</div></td><td>{role}</td>\
             <td>{badge} <span class=\"reason\">{reason}</span></td><td>{mfa}</td><td>{files}</td></tr>",
            id = field(m, "name"),
            dn = field(m, "displayName"),
            email = field(m, "email"),
            role = field(m, "role"),
            reason = if r == "True" { String::new() } else { field(m, "reason") },
            files = text_or_dash(&m["member"]["spec"]["files"]["role"]),
        ));
    }
    html.push_str("</tbody></table></section>");
    html
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
            "<tr data-condition=\"{t}\"><th scope=\"row\">{t}</th><td>{}</td><td>{}</td><td>{}</td><td><time>{}</time></td></tr>",
            status_badge(status, status),
            field(c, "reason"),
            field(c, "message"),
            field(c, "lastTransitionTime"),
            t = field(c, "type"),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn resources_body(view: &Value) -> String {
    let status = &view["tenant"]["status"];
    let conditions = view["conditions"].as_array().cloned().unwrap_or_default();
    format!(
        "<section class=\"card\" id=\"conditions\"><h2>Conditions</h2>{}</section>\
         <section class=\"card\" id=\"upstream-ids\"><h2>Upstream identifiers</h2><dl class=\"facts\">\
         <dt>Kubernetes namespace</dt><dd>{}</dd>\
         <dt>Identity group</dt><dd>{} <span class=\"muted\">pk {}</span></dd>\
         <dt>Files space</dt><dd>{} <span class=\"muted\">quota {} bytes, used {} bytes</span></dd>\
         <dt>Billing customer</dt><dd>{}</dd><dt>Subscription</dt><dd>{} <span class=\"muted\">{}</span></dd>\
         <dt>Observed generation</dt><dd>{} <span class=\"muted\">of {}</span></dd></dl></section>",
        conditions_table(&conditions),
        text_or_dash(&status["namespace"]),
        text_or_dash(&status["identity"]["groupName"]),
        text_or_dash(&status["identity"]["groupPk"]),
        text_or_dash(&status["files"]["spaceId"]),
        text_or_dash(&status["files"]["quotaBytes"]),
        text_or_dash(&status["files"]["usedBytes"]),
        text_or_dash(&status["billing"]["customerId"]),
        text_or_dash(&status["billing"]["subscriptionId"]),
        text_or_dash(&status["billing"]["subscriptionStatus"]),
        text_or_dash(&status["observedGeneration"]),
        text_or_dash(&view["tenant"]["metadata"]["generation"]),
    )
}

fn domains_body(list: &Value) -> String {
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "<section class=\"card\"><p class=\"muted\">No mail domain yet. The tenant's admins add them in the portal.</p></section>".into();
    }
    let mut html = String::new();
    for d in &items {
        let r = d["ready"].as_str().unwrap_or("Unknown");
        html.push_str(&format!(
            "<section class=\"card\" data-domain=\"{name}\"><h2>{domain} {badge}{primary}</h2><p class=\"reason\">{reason}</p>",
            name = field(d, "name"),
            domain = field(d, "domain"),
            badge = status_badge(r, ready_label(r)),
            primary = if d["primary"].as_bool() == Some(true) {
                " <span class=\"badge tag\">primary</span>"
            } else {
                ""
            },
            reason = if r == "True" { String::new() } else { field(d, "reason") },
        ));
        let records = d["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            html.push_str("<p class=\"muted\">No record to publish yet: the operator has not checked this domain.</p>");
        } else {
            html.push_str(
                "<table class=\"records\"><thead><tr><th scope=\"col\">Type</th><th scope=\"col\">Name</th>\
                 <th scope=\"col\">Value to publish</th><th scope=\"col\">State</th></tr></thead><tbody>",
            );
            for rec in &records {
                let state = rec["state"].as_str().unwrap_or("Unknown");
                let s = match state {
                    "Verified" => "True",
                    "Missing" | "Mismatch" => "False",
                    _ => "Unknown",
                };
                let observed = rec["observed"]
                    .as_str()
                    .map(|o| format!("<div class=\"reason\">found: {}</div>", esc(o)))
                    .unwrap_or_default();
                html.push_str(&format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td><code class=\"wrap\">{}</code></td><td>{}{observed}</td></tr>",
                    field(rec, "type"),
                    field(rec, "name"),
                    field(rec, "value"),
                    status_badge(s, state),
                ));
            }
            html.push_str("</tbody></table>");
        }
        html.push_str("</section>");
    }
    html
}

fn audit_body(audit: &Value) -> String {
    let items = audit["items"].as_array().cloned().unwrap_or_default();
    let mut html = String::from("<section class=\"card\" id=\"audit\"><h2>Who changed what</h2>");
    if items.is_empty() {
        html.push_str("<p class=\"muted\">Nothing recorded yet.</p>");
    } else {
        html.push_str(&audit_table(&items));
    }
    html.push_str(
        "</section><section class=\"card\" id=\"platform-events\"><h2>What the platform did</h2>",
    );
    let platform = audit["platform"].as_array().cloned().unwrap_or_default();
    if platform.is_empty() {
        html.push_str(
            "<p class=\"muted\">The operator has recorded nothing for this tenant yet.</p>",
        );
    } else {
        html.push_str(&audit_table(&platform));
    }
    html.push_str(
        "</section><section class=\"card\"><h2>Last changed by, per object</h2><table><thead><tr>\
         <th scope=\"col\">Object</th><th scope=\"col\">Last changed by</th></tr></thead><tbody>",
    );
    for o in audit["objects"].as_array().into_iter().flatten() {
        html.push_str(&format!(
            "<tr><td>{} {}</td><td>{}</td></tr>",
            field(o, "kind"),
            field(o, "name"),
            o["lastChangedBy"]
                .as_str()
                .map(esc)
                .unwrap_or_else(|| "not through this API (kubectl, GitOps)".into()),
        ));
    }
    html.push_str("</tbody></table></section>");
    html
}

fn danger_body(tenant: &str, view: &Value) -> String {
    let t = seg(tenant);
    let suspended = view["summary"]["suspended"].as_bool() == Some(true);
    let suspend = if suspended {
        format!(
            "<section class=\"card\"><h2>Resume</h2><p>Restores access for every member of {n}: single sign-on, mail and files, with their existing credentials.</p>\
             <a class=\"button primary\" id=\"resume\" href=\"/ui/console/tenants/{t}/act/resume\">Resume {n}…</a></section>",
            n = esc(tenant)
        )
    } else {
        format!(
            "<section class=\"card danger-zone\"><h2>Suspend</h2><p>Cuts off access for every member of {n}: sign-in, mail and files stop working. Nothing is deleted; resuming restores it.</p>\
             <a class=\"button danger\" id=\"suspend\" href=\"/ui/console/tenants/{t}/act/suspend\">Suspend {n}…</a></section>",
            n = esc(tenant)
        )
    };
    format!(
        "{suspend}<section class=\"card danger-zone\"><h2>Delete</h2>\
         <p>Deletes the tenant {n}. It is refused while it still has members, mail domains or SSO apps: remove those first. \
         Its upstream data follows its deletion policy ({policy}).</p>\
         <a class=\"button danger\" id=\"delete\" href=\"/ui/console/tenants/{t}/act/delete\">Delete {n}…</a></section>",
        n = esc(tenant),
        policy = text_or_dash(&view["tenant"]["spec"]["deletionPolicy"]),
    )
}

fn done_text(action: &str) -> Option<&'static str> {
    match action {
        "suspend" => Some(
            "Suspended: access is being cut off upstream; the status below turns to suspended live.",
        ),
        "resume" => {
            Some("Resumed: access is being restored upstream; the status below follows live.")
        }
        "reconcile" => Some(
            "Reconcile requested: the operator looks at this tenant again now; the conditions below update live.",
        ),
        _ => None,
    }
}

/// Renders one tab of a tenant (or its live parts).
async fn tab(
    ui: &UiState,
    session: &Session,
    tenant: &str,
    tab: &str,
    query: &TabQuery,
) -> Result<Response, UiError> {
    let me = operator(ui, session).await?;
    let base = format!("/ui/console/tenants/{}", seg(tenant));
    let api = format!("/api/v1/tenants/{}", seg(tenant));
    let view = ui.get(session, &api).await?;
    if query.live.as_deref() == Some("head") {
        return Ok(fragment(head_html(tenant, &view)));
    }
    let body = match tab {
        "" => overview_body(&view),
        "/members" => members_body(&ui.get(session, &format!("{api}/members")).await?),
        "/resources" => resources_body(&view),
        "/domains" => domains_body(&ui.get(session, &format!("{api}/domains")).await?),
        "/audit" => audit_body(&ui.get(session, &format!("{api}/audit")).await?),
        _ => danger_body(tenant, &view),
    };
    if query.live.as_deref() == Some("1") {
        return Ok(fragment(body));
    }
    let mut html = format!(
        "<p class=\"crumbs\"><a href=\"/ui/console/tenants\">Tenants</a> /</p>\
         <div id=\"tenant-head\" data-live=\"{base}{tab}?live=head\">{}</div>{}{}",
        head_html(tenant, &view),
        live_line(),
        tab_bar(tenant, tab),
    );
    if let Some(text) = query.done.as_deref().and_then(done_text) {
        html.push_str(&notice(text));
    }
    if live_tab(tab) {
        html.push_str(&format!(
            "<div id=\"tab-live\" data-live=\"{base}{tab}?live=1\">{body}</div>"
        ));
    } else {
        html.push_str(&body);
    }
    if tab == "/resources" {
        html.push_str(&format!(
            "<form method=\"post\" action=\"{base}/act/reconcile\" class=\"actions card\" id=\"reconcile-form\">\
             <p>Reconcile now asks the operator to compare every upstream with the spec again at once, instead of at its next resync. Nothing else changes.</p>\
             <button type=\"submit\" id=\"reconcile\">Reconcile now</button></form>"
        ));
    }
    let title = TABS
        .iter()
        .find(|(s, _)| *s == tab)
        .map(|(_, l)| *l)
        .unwrap_or("Overview");
    Ok(page(
        ui,
        &me,
        "tenants",
        &format!("{tenant} · {title}"),
        &html,
    ))
}

macro_rules! tab_handler {
    ($name:ident, $suffix:literal, $doc:literal) => {
        #[doc = $doc]
        pub async fn $name(
            State(ui): State<UiState>,
            session: Session,
            Path(tenant): Path<String>,
            Query(query): Query<TabQuery>,
        ) -> Result<Response, UiError> {
            tab(&ui, &session, &tenant, $suffix, &query).await
        }
    };
}

tab_handler!(
    overview,
    "",
    "`GET /ui/console/tenants/{tenant}`: identity, plan, billing details."
);
tab_handler!(
    members,
    "/members",
    "`GET .../members`: the tenant's members."
);
tab_handler!(
    resources,
    "/resources",
    "`GET .../resources`: each upstream's condition and ids."
);
tab_handler!(
    domains,
    "/domains",
    "`GET .../domains`: the records to publish and their state."
);
tab_handler!(audit, "/audit", "`GET .../audit`: who changed what.");
tab_handler!(
    danger,
    "/danger",
    "`GET .../danger`: suspend, resume, delete."
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_header_names_the_state_and_the_reason() {
        let view = json!({"summary": {"state": "failing", "reason": "FilesNotReady"},
            "tenant": {"metadata": {"name": "acme"}, "spec": {"displayName": "<Acme>"}},
            "conditions": [{"type": "Ready", "status": "False", "reason": "FilesNotReady", "message": "ocis 503"}]});
        let html = head_html("acme", &view);
        assert!(html.contains("data-state=\"failing\""));
        assert!(html.contains("&lt;Acme&gt;"));
        assert!(html.contains("FilesNotReady — ocis 503"));
    }

    #[test]
    fn records_show_their_state_and_what_was_found() {
        let list = json!({"items": [{"name": "acme-test", "domain": "acme.test", "ready": "False", "reason": "DnsNotVerified",
            "records": [{"type": "TXT", "name": "acme.test.", "value": "v=spf1", "state": "Mismatch", "observed": "v=spf1 -all"}]}]});
        let html = domains_body(&list);
        assert!(html.contains("Mismatch") && html.contains("found: v=spf1 -all"));
        assert!(html.contains("DnsNotVerified"));
    }

    #[test]
    fn the_danger_zone_offers_resume_only_when_suspended() {
        let view = json!({"summary": {"suspended": true}, "tenant": {"spec": {"deletionPolicy": "Orphan"}}});
        let html = danger_body("acme", &view);
        assert!(html.contains("/act/resume") && !html.contains("/act/suspend"));
        assert!(html.contains("/act/delete") && html.contains("Orphan"));
    }
}
