//! The tenant-admin portal: the members of a tenant (live status through server-sent events),
//! creating a member (its one-time password shown once, with a copy button and a warning), and
//! suspending or resuming one behind a confirmation that names the consequence.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::UiError;
use super::api::{Refusal, Session, UiState, seg};
use super::html::{dot, esc, field, query_value, status_badge};
use super::session::Me;

/// Refuses a state-changing request that another site's page sent.
fn same_origin(headers: &HeaderMap) -> Result<(), UiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    if !host.is_empty() && origin_host == host {
        Ok(())
    } else {
        Err(UiError::Forbidden(
            "this request came from another site and was refused".into(),
        ))
    }
}

/// `GET /ui/portal`: the tenant the user administers, or what they may do.
pub async fn home(State(ui): State<UiState>, session: Session) -> Result<Response, UiError> {
    if session.audience == "console" {
        return Ok(Redirect::to("/ui/console").into_response());
    }
    let me = Me::load(&ui, &session).await?;
    let tenants = me.admin_of();
    if let [only] = tenants.as_slice() {
        return Ok(Redirect::to(&format!("/ui/t/{}/members", seg(only))).into_response());
    }
    let mut html = String::from("<h1>Your workspaces</h1>");
    if tenants.is_empty() {
        html.push_str(
            "<section class=\"card\"><p>You administer no workspace. If you should, ask an \
             administrator of your organisation to give you the admin role.</p></section>",
        );
    } else {
        html.push_str("<ul class=\"list\">");
        for t in &tenants {
            html.push_str(&format!(
                "<li><a href=\"/ui/t/{}/members\">{}</a></li>",
                seg(t),
                esc(t)
            ));
        }
        html.push_str("</ul>");
    }
    Ok(me.portal_chrome(&ui, None).page("Portal", &html))
}

/// The rows of the members table (also served alone, for the live refresh). The signed-in
/// admin's own row offers no suspend: that would lock them out of these pages.
fn rows_html(tenant: &str, items: &[Value], own_email: Option<&str>) -> String {
    if items.is_empty() {
        return "<tr><td colspan=\"4\" class=\"muted\">No members yet. Create the first one below.</td></tr>"
            .into();
    }
    let mut html = String::new();
    for m in items {
        let name = m["name"].as_str().unwrap_or_default();
        let ready = m["ready"].as_str().unwrap_or("Unknown");
        let suspended = m["suspended"].as_bool() == Some(true);
        let (badge, action, action_label) = if suspended {
            (status_badge("False", "Suspended"), "resume", "Resume")
        } else {
            let label = match ready {
                "True" => "Ready",
                "False" => "Not ready",
                _ => "Provisioning",
            };
            (status_badge(ready, label), "suspend", "Suspend")
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
        let own = own_email.is_some_and(|e| m["email"].as_str() == Some(e));
        let action_cell = if own && !suspended {
            "<span class=\"muted\">You</span>".to_owned()
        } else {
            format!(
                "<a class=\"button small\" href=\"/ui/t/{}/members/{}/{action}\" data-action=\"{action}\">{action_label}<span class=\"sr\"> {}</span></a>",
                seg(tenant),
                seg(name),
                field(m, "displayName")
            )
        };
        html.push_str(&format!(
            "<tr data-member=\"{n}\" data-ready=\"{r}\" data-suspended=\"{s}\" data-credentials=\"{c}\">\
             <td><strong>{dn}</strong><div class=\"muted\">{email}</div></td><td>{role}</td>\
             <td class=\"status\">{badge} <span class=\"upstreams\">{upstreams}</span><div class=\"reason\">{reason}</div></td>\
             <td>{action_cell}</td></tr>",
            n = esc(name),
            r = esc(ready),
            s = suspended,
            c = m["credentialsAvailable"].as_bool() == Some(true),
            dn = field(m, "displayName"),
            email = field(m, "email"),
            role = field(m, "role"),
            reason = match m["reason"].as_str() {
                Some(r) if ready != "True" && r != "Provisioning" => esc(r),
                _ => String::new(),
            },
        ));
    }
    html
}

async fn member_list(ui: &UiState, session: &Session, tenant: &str) -> Result<Vec<Value>, UiError> {
    let list = ui
        .get(session, &format!("/api/v1/tenants/{}/members", seg(tenant)))
        .await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
pub struct MembersQuery {
    created: Option<String>,
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

/// The create form's errors by field (`email`, `display_name`, `role`, or `form`).
#[derive(Debug, Default)]
struct FormErrors(Vec<(&'static str, String)>);

impl FormErrors {
    fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    fn from_refusal(r: &Refusal) -> FormErrors {
        let mut errors = Vec::new();
        for (f, reason) in r.fields() {
            let key = if f.ends_with("email") {
                "email"
            } else if f.ends_with("displayName") {
                "display_name"
            } else if f.ends_with("role") {
                "role"
            } else {
                "form"
            };
            errors.push((key, reason));
        }
        if errors.is_empty() {
            errors.push(("form", r.detail()));
        }
        FormErrors(errors)
    }
}

fn input(
    id: &str,
    label: &str,
    kind: &str,
    value: &str,
    errors: &FormErrors,
    hint: &str,
) -> String {
    let error = errors.of(id);
    let described = if error.is_some() {
        format!(" aria-invalid=\"true\" aria-describedby=\"{id}-error\"")
    } else {
        format!(" aria-describedby=\"{id}-hint\"")
    };
    format!(
        "<div class=\"field\"><label for=\"{id}\">{}</label>\
         <input id=\"{id}\" name=\"{id}\" type=\"{kind}\" value=\"{}\" required{described}>\
         <small id=\"{id}-hint\" class=\"muted\">{}</small>{}</div>",
        esc(label),
        esc(value),
        esc(hint),
        error
            .map(|e| format!(
                "<p class=\"field-error\" id=\"{id}-error\" role=\"alert\">{}: {}</p>",
                esc(label),
                esc(e)
            ))
            .unwrap_or_default()
    )
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
    if let Some(created) = &query.created {
        let known = items.iter().any(|m| m["name"].as_str() == Some(created));
        if known {
            html.push_str(&format!(
                "<section class=\"card notice\" id=\"otp\" data-member=\"{m}\" data-url=\"/ui/t/{t}/members/{sm}/credentials\" aria-live=\"polite\">\
                 <h2>Member {m} created</h2>\
                 <p id=\"otp-waiting\">Their account is being provisioned. Their one-time password appears here as soon as it is issued; keep this page open.</p>\
                 <div id=\"otp-shown\" hidden><p class=\"warning\" role=\"alert\"><strong>Copy this one-time password now.</strong> It is shown only once and never again; give it to the member through a safe channel.</p>\
                 <p class=\"otp\"><code id=\"otp-value\"></code> <button type=\"button\" id=\"otp-copy\">Copy</button> <span id=\"otp-copied\" class=\"muted\" aria-live=\"polite\"></span></p></div>\
                 <p id=\"otp-error\" class=\"field-error\" hidden></p></section>",
                m = esc(created),
                sm = seg(created),
            ));
        }
    }
    if let (Some(done), Some(member)) = (&query.done, &query.member) {
        let what = match done.as_str() {
            "suspend" => "suspended: their access is cut off, nothing is deleted",
            "resume" => "resumed: their access is restored with their existing credentials",
            _ => "updated",
        };
        html.push_str(&format!(
            "<p class=\"card notice\" role=\"status\">Member {} {what}.</p>",
            esc(member)
        ));
    }
    html.push_str(&format!(
        "<section class=\"card\"><div id=\"live\" data-events=\"/ui/t/{t}/events\" data-rows=\"/ui/t/{t}/members/rows\">\
         <span class=\"live-dot\" aria-hidden=\"true\"></span><span id=\"live-state\" class=\"muted\" aria-live=\"polite\">Live status: connecting…</span></div>\
         <table id=\"members\"><thead><tr><th scope=\"col\">Member</th><th scope=\"col\">Role</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Actions</th></tr></thead><tbody id=\"member-rows\">{}</tbody></table></section>",
        rows_html(tenant, &items, me.value["email"].as_str())
    ));
    let role = if form.role.is_empty() {
        "member"
    } else {
        form.role.as_str()
    };
    let option = |v: &str, label: &str| {
        format!(
            "<option value=\"{v}\"{}>{label}</option>",
            if role == v { " selected" } else { "" }
        )
    };
    html.push_str(&format!(
        "<section class=\"card\"><h2 id=\"create\">Create a member</h2>\
         <p class=\"muted\">This creates their single sign-on account, mailbox and file access. A one-time password is shown once, after provisioning.</p>\
         {}<form method=\"post\" action=\"/ui/t/{t}/members\" id=\"create-member\" novalidate>{}{}\
         <div class=\"field\"><label for=\"role\">Role</label><select id=\"role\" name=\"role\">{}{}</select>\
         <small class=\"muted\">Admins may use these admin pages.</small>{}</div>\
         <button type=\"submit\" class=\"primary\">Create member</button></form></section>",
        errors
            .of("form")
            .map(|e| format!("<p class=\"field-error\" role=\"alert\">{}</p>", esc(e)))
            .unwrap_or_default(),
        input("email", "E-mail address", "email", &form.email, errors, "Their login and mailbox, on one of your domains, e.g. jane@example.com"),
        input("display_name", "Display name", "text", &form.display_name, errors, "As colleagues see it, e.g. Jane Doe"),
        option("member", "Member"),
        option("admin", "Admin"),
        errors
            .of("role")
            .map(|e| format!("<p class=\"field-error\" role=\"alert\">Role: {}</p>", esc(e)))
            .unwrap_or_default(),
    ));
    let status = if errors.0.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = me
        .portal_chrome(ui, Some(tenant))
        .page(&format!("Members of {tenant}"), &html);
    Ok((status, page).into_response())
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
    let mut r = axum::response::Html(rows_html(&tenant, &items, me.value["email"].as_str()))
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
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
    let mut errors = Vec::new();
    if email.is_empty() {
        errors.push(("email", "enter the member's address".to_owned()));
    } else if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        errors.push((
            "email",
            "enter a full address such as jane@example.com".to_owned(),
        ));
    }
    if display_name.is_empty() {
        errors.push((
            "display_name",
            "enter the name colleagues will see".to_owned(),
        ));
    }
    if form.role != "member" && form.role != "admin" {
        errors.push(("role", "choose Member or Admin".to_owned()));
    }
    let query = MembersQuery::default();
    if !errors.is_empty() {
        return members_page(&ui, &session, &tenant, &query, &form, &FormErrors(errors)).await;
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
            let errors = FormErrors::from_refusal(&r);
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

/// What an action on a member does, for its confirmation.
fn action_text(action: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match action {
        "suspend" => Some((
            "Suspend",
            "Their single sign-on account is deactivated, their sessions end, and their mailbox refuses logins. Nothing is deleted; resuming restores access with the same credentials.",
            "danger",
        )),
        "resume" => Some((
            "Resume",
            "Their access to single sign-on, mail and files is restored with their existing credentials.",
            "primary",
        )),
        _ => None,
    }
}

/// `GET /ui/t/{tenant}/members/{member}/{action}`: the confirmation of an action.
pub async fn confirm(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, member, action)): Path<(String, String, String)>,
) -> Result<Response, UiError> {
    let (verb, consequence, class) =
        action_text(&action).ok_or_else(|| UiError::NotFound("there is no such action".into()))?;
    let m = ui
        .get(
            &session,
            &format!("/api/v1/tenants/{}/members/{}", seg(&tenant), seg(&member)),
        )
        .await?;
    let me = Me::load(&ui, &session).await?;
    let t = seg(&tenant);
    let html = format!(
        "<section class=\"card confirm\"><h1>{verb} {dn}?</h1><p class=\"muted\">{email}</p>\
         <p>{consequence}</p>\
         <form method=\"post\" action=\"/ui/t/{t}/members/{sm}/{action}\" class=\"actions\">\
         <button type=\"submit\" class=\"{class}\" id=\"confirm\">{verb} {dn}</button>\
         <a class=\"button\" href=\"/ui/t/{t}/members\" id=\"cancel\">Cancel</a></form></section>",
        dn = field(&m, "displayName"),
        email = field(&m, "email"),
        sm = seg(&member),
        action = esc(&action),
    );
    Ok(me
        .portal_chrome(&ui, Some(&tenant))
        .page(&format!("{verb} a member"), &html))
}

/// `POST /ui/t/{tenant}/members/{member}/{action}`: does the confirmed action.
pub async fn act(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, member, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    if action_text(&action).is_none() {
        return Err(UiError::NotFound("there is no such action".into()));
    }
    ui.call(
        &session,
        Method::POST,
        &format!(
            "/api/v1/tenants/{}/members/{}/{}",
            seg(&tenant),
            seg(&member),
            action
        ),
        None,
    )
    .await??;
    Ok(Redirect::to(&format!(
        "/ui/t/{}/members?done={}&member={}",
        seg(&tenant),
        query_value(&action),
        query_value(&member)
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_escape_and_offer_the_right_action() {
        let items = vec![
            json!({"name": "jd", "displayName": "<Jane>", "email": "j@a.test",
            "role": "member", "ready": "Unknown", "reason": "Pending", "suspended": false,
            "credentialsAvailable": false}),
        ];
        let html = rows_html("acme", &items, Some("ann@acme.test"));
        assert!(html.contains("&lt;Jane&gt;"));
        assert!(!html.contains("<Jane>"));
        assert!(html.contains("/ui/t/acme/members/jd/suspend"));
        assert!(html.contains("Provisioning"));
        let suspended = vec![json!({"name": "jd", "displayName": "J", "suspended": true})];
        assert!(rows_html("acme", &suspended, None).contains("/resume"));
        let own = vec![json!({"name": "ann", "displayName": "Ann", "email": "ann@acme.test"})];
        let html = rows_html("acme", &own, Some("ann@acme.test"));
        assert!(!html.contains("/suspend") && html.contains("You"));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.test"));
        assert!(same_origin(&h).is_err());
    }

    #[test]
    fn api_field_errors_land_on_form_fields() {
        let r = Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            problem: json!({"detail": "invalid", "errors": [{"field": "spec.email", "reason": "bad address"}]}),
        };
        let e = FormErrors::from_refusal(&r);
        assert_eq!(e.of("email"), Some("bad address"));
        let r = Refusal {
            status: StatusCode::CONFLICT,
            problem: json!({"detail": "already exists"}),
        };
        assert_eq!(
            FormErrors::from_refusal(&r).of("form"),
            Some("already exists")
        );
    }
}
