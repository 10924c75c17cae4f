//! A member's own account, for every signed-in person and usable on a phone: their profile in
//! each workspace, resetting their own password (the new one shown once) and signing out
//! everywhere, each behind a confirmation.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::UiError;
use super::super::api::{Session, UiState, seg};
use super::super::html::{esc, field, status_badge};
use super::super::session::Me;
use super::kit::{
    At, Confirm, fragment, live_region, notice, page, ready_badge, reveal_answer, reveal_panel,
    same_origin,
};

/// The signed-in person's Member in `tenant`, as `/api/v1/me` lists it.
fn own_in<'a>(me: &'a Me, tenant: &str) -> Option<&'a Value> {
    me.value["members"]
        .as_array()?
        .iter()
        .find(|m| m["tenant"].as_str() == Some(tenant))
}

fn own_or_refuse<'a>(me: &'a Me, tenant: &str) -> Result<&'a Value, UiError> {
    own_in(me, tenant)
        .ok_or_else(|| UiError::Forbidden("you are not a member of this workspace".into()))
}

/// The live state of one membership.
fn state_html(m: &Value) -> String {
    let ready = m["ready"].as_str().unwrap_or("Unknown");
    let badge = if m["suspended"] == json!(true) {
        status_badge("False", "Suspended")
    } else {
        ready_badge(ready)
    };
    let mut notes = Vec::new();
    if m["passwordPending"] == json!(true) {
        notes.push("a new password is being issued");
    }
    if m["signOutPending"] == json!(true) {
        notes.push("your sessions are being ended");
    }
    format!(
        "<dl class=\"facts\" data-ready=\"{}\" data-credentials=\"{}\"><dt>Status</dt><dd>{badge}{}</dd></dl>",
        esc(ready),
        m["credentialsAvailable"] == json!(true),
        if notes.is_empty() {
            String::new()
        } else {
            format!("<div class=\"reason\">{}</div>", esc(&notes.join("; ")))
        }
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    reset: Option<String>,
    signed_out: Option<String>,
}

/// `GET /ui/me`: the profile in each workspace and what the person can do.
pub async fn account(
    State(ui): State<UiState>,
    session: Session,
    Query(query): Query<AccountQuery>,
) -> Result<Response, UiError> {
    let me = Me::load(&ui, &session).await?;
    let mut html = String::from("<h1>My account</h1>");
    let members = me.value["members"].as_array().cloned().unwrap_or_default();
    if let Some(t) = query
        .signed_out
        .as_deref()
        .filter(|t| own_in(&me, t).is_some())
    {
        html.push_str(&notice(&format!(
            "Signing you out of every session in {t}: your apps and mail clients ask you to sign in again shortly."
        )));
    }
    if let Some(t) = query.reset.as_deref().filter(|t| own_in(&me, t).is_some()) {
        html.push_str(&reveal_panel(
            "own-otp",
            &format!("/ui/me/{}/credentials", seg(t)),
            &format!("#me-state-{} [data-credentials=true]", seg(t)),
            "Your new one-time password",
            "Your new password is being issued; it appears here in a moment. Keep this page open.",
            "one-time password",
        ));
    }
    if members.is_empty() {
        html.push_str(&format!(
            "<section class=\"card\"><p>You are signed in as {}, but you are not a member of any workspace here.</p></section>",
            esc(&me.display())
        ));
    }
    for m in &members {
        let tenant = m["tenant"].as_str().unwrap_or_default();
        let t = seg(tenant);
        html.push_str(&format!(
            "<section class=\"card profile\" id=\"me-{t}\"><h2>In {}</h2>\
             <dl class=\"facts\"><dt>Name</dt><dd>{}</dd><dt>Address</dt><dd>{}</dd><dt>Workspace</dt><dd>{}</dd><dt>Role</dt><dd>{}</dd></dl>{}\
             <div class=\"actions stack\"><a class=\"button\" id=\"reset-{t}\" href=\"/ui/me/{t}/reset-password\">Reset my password</a>\
             <a class=\"button\" id=\"logout-{t}\" href=\"/ui/me/{t}/logout\">Sign out everywhere</a></div></section>",
            esc(tenant),
            field(m, "displayName"),
            field(m, "email"),
            esc(tenant),
            field(m, "role"),
            live_region(
                &format!("me-state-{t}"),
                &format!("/ui/me/{t}/state"),
                true,
                &state_html(m)
            ),
        ));
    }
    Ok(page(&ui, &me, At::Account, "My account", &html))
}

/// `GET /ui/me/{tenant}/state`: the live state of the person's membership.
pub async fn state(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let me = Me::load(&ui, &session).await?;
    Ok(fragment(state_html(own_or_refuse(&me, &tenant)?)))
}

async fn confirm_page(
    ui: &UiState,
    session: &Session,
    tenant: &str,
    action: &str,
) -> Result<Response, UiError> {
    let me = Me::load(ui, session).await?;
    let m = own_or_refuse(&me, tenant)?;
    let t = seg(tenant);
    let (title, consequence, button) = if action == "reset-password" {
        (
            "Reset your password?",
            "Your current password stops working. A new one-time password is shown to you once, on the next page; use it to sign in and then choose your own at the identity provider.",
            "Reset my password",
        )
    } else {
        (
            "Sign out everywhere?",
            "Every session you have open (web, mail and file apps, on every device) ends and asks you to sign in again. Your password stays the same.",
            "Sign me out everywhere",
        )
    };
    let html = Confirm {
        title,
        subject: &format!("{} in {tenant}", m["email"].as_str().unwrap_or_default()),
        consequence,
        action: &format!("/ui/me/{t}/{action}"),
        button,
        class: "danger",
        cancel: "/ui/me",
    }
    .render();
    Ok(page(ui, &me, At::Account, title, &html))
}

/// `GET /ui/me/{tenant}/reset-password`.
pub async fn confirm_reset(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    confirm_page(&ui, &session, &tenant, "reset-password").await
}

/// `GET /ui/me/{tenant}/logout`.
pub async fn confirm_logout(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    confirm_page(&ui, &session, &tenant, "logout").await
}

/// `POST /ui/me/{tenant}/reset-password`.
pub async fn reset(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let t = seg(&tenant);
    ui.call(
        &session,
        Method::POST,
        &format!("/api/v1/me/{t}/reset-password"),
        None,
    )
    .await??;
    Ok(Redirect::to(&format!("/ui/me?reset={t}")).into_response())
}

/// `POST /ui/me/{tenant}/logout`.
pub async fn logout(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let t = seg(&tenant);
    ui.call(
        &session,
        Method::POST,
        &format!("/api/v1/me/{t}/logout"),
        None,
    )
    .await??;
    Ok(Redirect::to(&format!("/ui/me?signed_out={t}")).into_response())
}

/// `POST /ui/me/{tenant}/credentials`: the new one-time password, once.
pub async fn secret(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let answer = ui
        .call(
            &session,
            Method::GET,
            &format!("/api/v1/me/{}/credentials", seg(&tenant)),
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
    fn the_state_says_when_a_new_password_is_ready() {
        let pending = state_html(
            &json!({"ready": "True", "passwordPending": true, "credentialsAvailable": false}),
        );
        assert!(pending.contains("data-credentials=\"false\"") && pending.contains("being issued"));
        let ready = state_html(&json!({"ready": "True", "credentialsAvailable": true}));
        assert!(ready.contains("data-credentials=\"true\""));
    }
}
