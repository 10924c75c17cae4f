//! The tenant admin's members page: the members with live status and the actions on each,
//! creating one (its one-time password shown once, with a copy button and a warning), the
//! password panel after a reset, and the recently removed members with their undo. The actions
//! themselves and their confirmations are in `member_actions.rs`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::UiError;
use super::super::api::{Session, UiState, seg};
use super::super::html::{dot, esc, field, query_value, status_badge};
use super::super::session::Me;
use super::kit::{At, FormErrors, Input, notice, page, same_origin, select};

/// The rows of the members table (also served alone, for the live refresh). The signed-in
/// admin's own row offers no action: suspending or removing themselves would lock them out.
pub fn rows_html(tenant: &str, items: &[Value], own_email: Option<&str>) -> String {
    if items.is_empty() {
        return "<tr><td colspan=\"4\" class=\"muted\">No members yet. Create the first one below.</td></tr>"
            .into();
    }
    let t = seg(tenant);
    let mut html = String::new();
    for m in items {
        let name = m["name"].as_str().unwrap_or_default();
        let ready = m["ready"].as_str().unwrap_or("Unknown");
        let suspended = m["suspended"].as_bool() == Some(true);
        let badge = if suspended {
            status_badge("False", "Suspended")
        } else {
            let label = match ready {
                "True" => "Ready",
                "False" => "Not ready",
                _ => "Provisioning",
            };
            status_badge(ready, label)
        };
        let mut upstreams = String::new();
        if let Some(conditions) = m["member"]["status"]["conditions"].as_array() {
            for c in conditions {
                let kind = c["type"].as_str().unwrap_or_default();
                if kind != "Ready" && !kind.is_empty() {
                    upstreams.push_str(&dot(kind, c["status"].as_str().unwrap_or("Unknown")));
                }
            }
        }
        let mut pending = Vec::new();
        if m["passwordPending"].as_bool() == Some(true) {
            pending.push("new password requested");
        }
        if m["signOutPending"].as_bool() == Some(true) {
            pending.push("signing out everywhere");
        }
        let own = own_email.is_some_and(|e| m["email"].as_str() == Some(e));
        let who = field(m, "displayName");
        let action_cell = if own {
            "<span class=\"muted\">You</span>".to_owned()
        } else {
            let toggle = if suspended {
                ("resume", "Resume")
            } else {
                ("suspend", "Suspend")
            };
            [
                toggle,
                ("reset-password", "Reset password"),
                ("logout", "Sign out everywhere"),
                ("remove", "Remove"),
            ]
            .iter()
            .map(|(action, label)| {
                format!(
                    "<a class=\"button small\" href=\"/ui/t/{t}/members/{}/{action}\" data-action=\"{action}\">{label}<span class=\"sr\"> {who}</span></a>",
                    seg(name),
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
        };
        html.push_str(&format!(
            "<tr data-member=\"{n}\" data-ready=\"{r}\" data-suspended=\"{s}\" data-credentials=\"{c}\">\
             <td><strong>{who}</strong><div class=\"muted\">{email}</div></td><td>{role}</td>\
             <td class=\"status\">{badge} <span class=\"upstreams\">{upstreams}</span><div class=\"reason\">{reason}</div>{pending}</td>\
             <td><div class=\"row-actions\">{action_cell}</div></td></tr>",
            n = esc(name),
            r = esc(ready),
            s = suspended,
            c = m["credentialsAvailable"].as_bool() == Some(true),
            email = field(m, "email"),
            role = field(m, "role"),
            reason = match m["reason"].as_str() {
                Some(r) if ready != "True" && r != "Provisioning" => esc(r),
                _ => String::new(),
            },
            pending = if pending.is_empty() {
                String::new()
            } else {
                format!("<div class=\"reason\">{}</div>", esc(&pending.join(", ")))
            },
        ));
    }
    html
}

async fn member_list(ui: &UiState, session: &Session, tenant: &str) -> Result<Vec<Value>, UiError> {
    let list = ui
        .get(session, &format!("/api/v1/tenants/{}/members", seg(tenant)))
        .await?;
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by(|a, b| a["email"].as_str().cmp(&b["email"].as_str()));
    Ok(items)
}

#[derive(Debug, Default, Deserialize)]
pub struct MembersQuery {
    created: Option<String>,
    reset: Option<String>,
    removed: Option<String>,
    restored: Option<String>,
    done: Option<String>,
    member: Option<String>,
}

/// What the create form holds, to show again with its errors.
#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
}

/// The one-time password panel of a member (created, or given a new password).
fn password_panel(tenant: &str, member: &str, heading: &str) -> String {
    format!(
        "<section class=\"card notice\" id=\"otp\" data-member=\"{m}\" data-url=\"/ui/t/{t}/members/{sm}/credentials\" aria-live=\"polite\">\
         <h2>{heading}</h2>\
         <p id=\"otp-waiting\">The one-time password appears here as soon as it is issued; keep this page open.</p>\
         <div id=\"otp-shown\" hidden><p class=\"warning\" role=\"alert\"><strong>Copy this one-time password now.</strong> It is shown only once and never again; give it to the member through a safe channel.</p>\
         <p class=\"otp\"><code id=\"otp-value\"></code> <button type=\"button\" id=\"otp-copy\">Copy</button> <span id=\"otp-copied\" class=\"muted\" aria-live=\"polite\"></span></p></div>\
         <p id=\"otp-error\" class=\"field-error\" hidden></p></section>",
        m = esc(member),
        t = seg(tenant),
        sm = seg(member),
        heading = esc(heading),
    )
}

/// A removal time as people read it (`2026-11-29 08:40 UTC`).
fn readable_time(s: &str) -> String {
    match s.parse::<k8s_openapi::jiff::Timestamp>() {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => s.to_owned(),
    }
}

fn undo_form(tenant: &str, member: &str, until: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/ui/t/{}/removed/{}/restore\" class=\"inline\">\
         <button type=\"submit\" class=\"primary small\" data-undo=\"{}\">Undo removal<span class=\"sr\"> of {}</span></button></form> \
         <span class=\"muted\">possible until {}</span>",
        seg(tenant),
        seg(member),
        esc(member),
        esc(member),
        esc(&readable_time(until)),
    )
}

async fn removed_html(ui: &UiState, session: &Session, tenant: &str) -> Result<String, UiError> {
    let removed = ui
        .get(
            session,
            &format!("/api/v1/tenants/{}/removed-members", seg(tenant)),
        )
        .await?;
    let items = removed["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return Ok(String::new());
    }
    let mut html = String::from(
        "<section class=\"card\" id=\"removed\"><h2>Recently removed</h2>\
         <p class=\"muted\">Their data is kept for the retention window; undoing a removal gives them back their account, mailbox and files.</p><ul class=\"list\">",
    );
    for r in &items {
        let name = r["name"].as_str().unwrap_or_default();
        html.push_str(&format!(
            "<li data-removed=\"{}\"><strong>{}</strong> {}</li>",
            esc(name),
            field(r, "email"),
            undo_form(tenant, name, r["purgeAfter"].as_str().unwrap_or_default())
        ));
    }
    html.push_str("</ul></section>");
    Ok(html)
}

async fn members_page(
    ui: &UiState,
    session: &Session,
    tenant: &str,
    query: &MembersQuery,
    form: &CreateForm,
    errors: &FormErrors,
) -> Result<Response, UiError> {
    let items = member_list(ui, session, tenant).await?;
    let me = Me::load(ui, session).await?;
    let t = seg(tenant);
    let mut html = format!(
        "<h1>Members <span class=\"muted\">of {}</span></h1>",
        esc(tenant)
    );
    let known = |name: &str| items.iter().any(|m| m["name"].as_str() == Some(name));
    if let Some(created) = query.created.as_deref().filter(|c| known(c)) {
        html.push_str(&password_panel(
            tenant,
            created,
            &format!("Member {created} created"),
        ));
    }
    if let Some(reset) = query.reset.as_deref().filter(|c| known(c)) {
        html.push_str(&password_panel(
            tenant,
            reset,
            &format!("New password for {reset} requested"),
        ));
    }
    if let Some(removed) = &query.removed {
        html.push_str(&format!(
            "<section class=\"card notice\" role=\"status\" id=\"removed-notice\"><p>Member {} removed: their access has ended. \
             Their data is kept for the retention window; you can undo the removal below.</p></section>",
            esc(removed)
        ));
    }
    if let Some(restored) = &query.restored {
        html.push_str(&notice(&format!(
            "Member {restored} restored: their account, mailbox and files come back as they are provisioned again."
        )));
    }
    if let (Some(done), Some(member)) = (&query.done, &query.member) {
        let what = match done.as_str() {
            "suspend" => "suspended: their access is cut off, nothing is deleted",
            "resume" => "resumed: their access is restored with their existing credentials",
            "logout" => "will be signed out of every session shortly",
            _ => "updated",
        };
        html.push_str(&notice(&format!("Member {member} {what}.")));
    }
    html.push_str(&format!(
        "<section class=\"card\"><div id=\"live\" data-events=\"/ui/t/{t}/events\" data-rows=\"/ui/t/{t}/members/rows\">\
         <span class=\"live-dot\" aria-hidden=\"true\"></span><span id=\"live-state\" class=\"muted\" aria-live=\"polite\">Live status: connecting…</span></div>\
         <div class=\"table-wrap\"><table id=\"members\"><thead><tr><th scope=\"col\">Member</th><th scope=\"col\">Role</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Actions</th></tr></thead><tbody id=\"member-rows\">{}</tbody></table></div></section>",
        rows_html(tenant, &items, me.value["email"].as_str())
    ));
    html.push_str(&removed_html(ui, session, tenant).await?);
    let role = if form.role.is_empty() {
        "member"
    } else {
        form.role.as_str()
    };
    html.push_str(&format!(
        "<section class=\"card\"><h2 id=\"create\">Create a member</h2>\
         <p class=\"muted\">This creates their single sign-on account, mailbox and file access. A one-time password is shown once, after provisioning.</p>\
         {}<form method=\"post\" action=\"/ui/t/{t}/members\" id=\"create-member\" novalidate>{}{}{}\
         <button type=\"submit\" class=\"primary\">Create member</button></form></section>",
        errors.form_error(),
        Input {
            id: "email",
            label: "E-mail address",
            kind: "email",
            value: &form.email,
            hint: "Their login and mailbox, on one of your domains, e.g. jane@example.com",
            required: true,
        }
        .render(errors),
        Input {
            id: "display_name",
            label: "Display name",
            kind: "text",
            value: &form.display_name,
            hint: "As colleagues see it, e.g. Jane Doe",
            required: true,
        }
        .render(errors),
        select(
            "role",
            "Role",
            &[("member", "Member"), ("admin", "Admin")],
            role,
            "Admins may use these admin pages.",
            errors
        ),
    ));
    let page = page(
        ui,
        &me,
        At::Tenant(tenant, "members"),
        &format!("Members of {tenant}"),
        &html,
    );
    Ok((errors.status(), page).into_response())
}

/// `GET /ui/t/{tenant}/members`.
pub async fn members(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    Query(query): Query<MembersQuery>,
) -> Result<Response, UiError> {
    members_page(
        &ui,
        &session,
        &tenant,
        &query,
        &CreateForm::default(),
        &FormErrors::default(),
    )
    .await
}

/// `GET /ui/t/{tenant}/members/rows`: the table rows alone, for the live refresh.
pub async fn member_rows(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let items = member_list(&ui, &session, &tenant).await?;
    let me = Me::load(&ui, &session).await?;
    Ok(super::kit::fragment(rows_html(
        &tenant,
        &items,
        me.value["email"].as_str(),
    )))
}

/// `POST /ui/t/{tenant}/members`: creates a member, or shows the form again naming the field.
pub async fn create_member(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let email = form.email.trim().to_lowercase();
    let display_name = form.display_name.trim().to_owned();
    let mut errors = FormErrors::default();
    if email.is_empty() {
        errors.push("email", "enter the member's address");
    } else if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        errors.push("email", "enter a full address such as jane@example.com");
    }
    if display_name.is_empty() {
        errors.push("display_name", "enter the name colleagues will see");
    }
    if form.role != "member" && form.role != "admin" {
        errors.push("role", "choose Member or Admin");
    }
    let query = MembersQuery::default();
    if !errors.is_empty() {
        return members_page(&ui, &session, &tenant, &query, &form, &errors).await;
    }
    let body = json!({"spec": {"email": email, "displayName": display_name, "role": form.role}});
    match ui
        .call(
            &session,
            Method::POST,
            &format!("/api/v1/tenants/{}/members", seg(&tenant)),
            Some(&body),
        )
        .await?
    {
        Ok(created) => {
            let name = created["name"].as_str().unwrap_or_default();
            Ok(Redirect::to(&format!(
                "/ui/t/{}/members?created={}",
                seg(&tenant),
                query_value(name)
            ))
            .into_response())
        }
        Err(r) if r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND => {
            Err(r.into())
        }
        Err(r) => {
            let errors = FormErrors::from_refusal(
                &r,
                &[
                    ("email", "email"),
                    ("displayName", "display_name"),
                    ("role", "role"),
                ],
            );
            members_page(&ui, &session, &tenant, &query, &form, &errors).await
        }
    }
}

/// `POST /ui/t/{tenant}/members/{member}/credentials`: the one-time password, once (JSON for the
/// page's script).
pub async fn credentials(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, member)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let path = format!(
        "/api/v1/tenants/{}/members/{}/credentials",
        seg(&tenant),
        seg(&member)
    );
    let (status, body) = match ui.call(&session, Method::GET, &path, None).await? {
        Ok(v) => (
            StatusCode::OK,
            json!({"username": v["username"], "password": v["password"]}),
        ),
        Err(r) => (r.status, json!({"error": r.detail()})),
    };
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /ui/t/{tenant}/events`: the tenant's server-sent events, relayed from the API.
pub async fn events(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let response = ui
        .raw(
            &session,
            Method::GET,
            &format!("/api/v1/tenants/{}/stream", seg(&tenant)),
            None,
        )
        .await?;
    if !response.status().is_success() {
        return Err(UiError::Forbidden("you may not watch this tenant".into()));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_escape_and_offer_the_right_actions() {
        let items = vec![
            json!({"name": "jd", "displayName": "<Jane>", "email": "j@a.test",
            "role": "member", "ready": "Unknown", "reason": "Pending", "suspended": false,
            "credentialsAvailable": false, "passwordPending": true}),
        ];
        let html = rows_html("acme", &items, Some("ann@acme.test"));
        assert!(html.contains("&lt;Jane&gt;"));
        assert!(!html.contains("<Jane>"));
        for action in ["suspend", "reset-password", "logout", "remove"] {
            assert!(
                html.contains(&format!("/ui/t/acme/members/jd/{action}")),
                "{action}"
            );
        }
        assert!(html.contains("Provisioning"));
        assert!(html.contains("new password requested"));
        let suspended = vec![json!({"name": "jd", "displayName": "J", "suspended": true})];
        assert!(rows_html("acme", &suspended, None).contains("/resume"));
        let own = vec![json!({"name": "ann", "displayName": "Ann", "email": "ann@acme.test"})];
        let html = rows_html("acme", &own, Some("ann@acme.test"));
        assert!(!html.contains("/suspend") && !html.contains("/remove") && html.contains("You"));
    }
}
