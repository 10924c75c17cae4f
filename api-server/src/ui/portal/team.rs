//! The partner staff's team page: the partner's staff with their status, and adding a staff
//! member on the partner's domain, whose one-time password is shown once.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::UiError;
use super::super::api::{Session, UiState, seg};
use super::super::html::{esc, field, query_value, status_badge};
use super::super::session::Me;
use super::kit::{
    At, FormErrors, Input, fragment, page, ready_badge, reveal_answer, reveal_panel, same_origin,
};

fn team_rows_html(items: &[Value], own_email: Option<&str>) -> String {
    if items.is_empty() {
        return "<tr><td colspan=\"2\" class=\"muted\">No staff yet.</td></tr>".into();
    }
    let mut html = String::new();
    for m in items {
        let name = m["name"].as_str().unwrap_or_default();
        let ready = m["ready"].as_str().unwrap_or("Unknown");
        let badge = if m["suspended"] == json!(true) {
            status_badge("False", "Suspended")
        } else {
            ready_badge(ready)
        };
        let you = if own_email.is_some_and(|e| m["email"].as_str() == Some(e)) {
            " <span class=\"muted\">(you)</span>"
        } else {
            ""
        };
        html.push_str(&format!(
            "<tr data-member=\"{n}\" data-ready=\"{r}\" data-credentials=\"{c}\"><td><strong>{dn}</strong>{you}<div class=\"muted\">{email}</div></td><td>{badge}</td></tr>",
            n = esc(name),
            r = esc(ready),
            c = m["credentialsAvailable"] == json!(true),
            dn = field(m, "displayName"),
            email = field(m, "email"),
        ));
    }
    html
}

async fn staff_list(ui: &UiState, session: &Session, partner: &str) -> Result<Vec<Value>, UiError> {
    let list = ui
        .get(session, &format!("/api/v1/partners/{}/staff", seg(partner)))
        .await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
pub struct StaffForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct TeamQuery {
    created: Option<String>,
}

async fn team_page(
    ui: &UiState,
    session: &Session,
    partner: &str,
    query: &TeamQuery,
    form: &StaffForm,
    errors: &FormErrors,
) -> Result<Response, UiError> {
    let items = staff_list(ui, session, partner).await?;
    let me = Me::load(ui, session).await?;
    let p = seg(partner);
    let view = ui.get(session, &format!("/api/v1/partners/{p}")).await?;
    let domain = view["partner"]["spec"]["domain"]
        .as_str()
        .unwrap_or("your domain")
        .to_owned();
    let mut html = format!(
        "<h1>Team <span class=\"muted\">of {}</span></h1>",
        esc(partner)
    );
    if let Some(created) = query
        .created
        .as_deref()
        .filter(|c| items.iter().any(|m| m["name"].as_str() == Some(c)))
    {
        html.push_str(&reveal_panel(
            "staff-otp",
            &format!("/ui/p/{p}/team/{}/credentials", seg(created)),
            &format!("#team-rows tr[data-member=\"{created}\"][data-credentials=true]"),
            &format!("Staff member {created} created"),
            "Their account is being provisioned. Their one-time password appears here as soon as it is issued; keep this page open.",
            "one-time password",
        ));
    }
    html.push_str(&format!(
        "<section class=\"card\"><div class=\"table-wrap\"><table id=\"team\"><thead><tr><th scope=\"col\">Staff member</th><th scope=\"col\">Status</th></tr></thead>\
         <tbody id=\"team-rows\" data-live-src=\"/ui/p/{p}/team/rows\" data-poll=\"2000\">{}</tbody></table></div></section>",
        team_rows_html(&items, me.value["email"].as_str())
    ));
    html.push_str(&format!(
        "<section class=\"card\"><h2 id=\"create\">Add a staff member</h2>\
         <p class=\"muted\">Staff sign in to this partner portal and manage your customers. A one-time password is shown once, after provisioning.</p>\
         {}<form method=\"post\" action=\"/ui/p/{p}/team\" id=\"create-staff\" novalidate>{}{}\
         <button type=\"submit\" class=\"primary\">Add staff member</button></form></section>",
        errors.form_error(),
        Input { id: "email", label: "E-mail address", kind: "email", value: &form.email,
            hint: &format!("Their login, on {domain}"), required: true }.render(errors),
        Input { id: "display_name", label: "Display name", kind: "text", value: &form.display_name,
            hint: "e.g. Pat Smith", required: true }.render(errors),
    ));
    let page = page(
        ui,
        &me,
        At::Partner(partner, "team"),
        &format!("Team of {partner}"),
        &html,
    );
    Ok((errors.status(), page).into_response())
}

/// `GET /ui/p/{partner}/team`.
pub async fn team(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
    Query(query): Query<TeamQuery>,
) -> Result<Response, UiError> {
    team_page(
        &ui,
        &session,
        &partner,
        &query,
        &StaffForm::default(),
        &FormErrors::default(),
    )
    .await
}

/// `GET /ui/p/{partner}/team/rows`.
pub async fn team_rows(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
) -> Result<Response, UiError> {
    let items = staff_list(&ui, &session, &partner).await?;
    let me = Me::load(&ui, &session).await?;
    Ok(fragment(team_rows_html(&items, me.value["email"].as_str())))
}

/// `POST /ui/p/{partner}/team`: adds a staff member.
pub async fn create_staff(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
    headers: HeaderMap,
    Form(form): Form<StaffForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let email = form.email.trim().to_lowercase();
    let display_name = form.display_name.trim();
    let mut errors = FormErrors::default();
    if email.is_empty() {
        errors.push("email", "enter their address");
    } else if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        errors.push("email", "enter a full address such as pat@example.com");
    }
    if display_name.is_empty() {
        errors.push("display_name", "enter the name colleagues will see");
    }
    let query = TeamQuery::default();
    if !errors.is_empty() {
        return team_page(&ui, &session, &partner, &query, &form, &errors).await;
    }
    let body = json!({"spec": {"email": email, "displayName": display_name, "role": "member"}});
    match ui
        .call(
            &session,
            Method::POST,
            &format!("/api/v1/partners/{}/staff", seg(&partner)),
            Some(&body),
        )
        .await?
    {
        Ok(created) => Ok(Redirect::to(&format!(
            "/ui/p/{}/team?created={}",
            seg(&partner),
            query_value(created["name"].as_str().unwrap_or_default())
        ))
        .into_response()),
        Err(r) if r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND => {
            Err(r.into())
        }
        Err(r) => {
            let mut errors = FormErrors::from_refusal(
                &r,
                &[("email", "email"), ("displayName", "display_name")],
            );
            if r.status == StatusCode::CONFLICT && errors.of("email").is_none() {
                errors = FormErrors(vec![(
                    "email",
                    "someone with this name is already on the team".into(),
                )]);
            }
            team_page(&ui, &session, &partner, &query, &form, &errors).await
        }
    }
}

/// `POST /ui/p/{partner}/team/{member}/credentials`: the one-time password, once.
pub async fn staff_secret(
    State(ui): State<UiState>,
    session: Session,
    Path((partner, member)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let answer = ui
        .call(
            &session,
            Method::GET,
            &format!(
                "/api/v1/partners/{}/staff/{}/credentials",
                seg(&partner),
                seg(&member)
            ),
            None,
        )
        .await?
        .map(|v| v["password"].as_str().unwrap_or_default().to_owned());
    Ok(reveal_answer(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_rows_say_when_the_password_is_issued() {
        let items = vec![
            json!({"name": "pat", "email": "pat@n.test", "displayName": "Pat",
            "ready": "Unknown", "credentialsAvailable": true}),
        ];
        let html = team_rows_html(&items, Some("pat@n.test"));
        assert!(html.contains("data-credentials=\"true\"") && html.contains("(you)"));
    }
}
