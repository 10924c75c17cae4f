//! The actions on one member of a tenant — suspend, resume, reset password, sign out
//! everywhere, remove — each behind a confirmation that names the consequence (for a removal,
//! the tenant's retention window), and the undo of a removal while the window lasts.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};

use super::super::UiError;
use super::super::api::{Session, UiState, seg};
use super::super::html::query_value;
use super::super::session::Me;
use super::kit::{At, Confirm, page, same_origin};

/// An action on a member: its confirmation's verb, consequence and button class, and the API
/// call that does it.
struct Action {
    verb: &'static str,
    consequence: &'static str,
    class: &'static str,
    method: Method,
    api: &'static str,
}

fn action_of(action: &str) -> Option<Action> {
    let a = |verb, consequence, class, method, api| Action {
        verb,
        consequence,
        class,
        method,
        api,
    };
    match action {
        "suspend" => Some(a(
            "Suspend",
            "Their single sign-on account is deactivated, their sessions end, and their mailbox refuses logins. Nothing is deleted; resuming restores access with the same credentials.",
            "danger",
            Method::POST,
            "suspend",
        )),
        "resume" => Some(a(
            "Resume",
            "Their access to single sign-on, mail and files is restored with their existing credentials.",
            "primary",
            Method::POST,
            "resume",
        )),
        "reset-password" => Some(a(
            "Reset the password of",
            "Their current password stops working and a new one-time password is issued. It is shown to you once, on the next page; give it to them through a safe channel.",
            "danger",
            Method::POST,
            "reset-password",
        )),
        "logout" => Some(a(
            "Sign out everywhere",
            "Every session they have open (web, mail and file apps) ends; they must sign in again. Their password stays the same.",
            "danger",
            Method::POST,
            "logout",
        )),
        "remove" => Some(a(
            "Remove",
            "Their access ends at once: single sign-on, mail and files. Their account, mailbox and files are kept for the tenant's retention window and then purged; until then you can undo the removal.",
            "danger",
            Method::DELETE,
            "",
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
    let a =
        action_of(&action).ok_or_else(|| UiError::NotFound("there is no such action".into()))?;
    let m = ui
        .get(
            &session,
            &format!("/api/v1/tenants/{}/members/{}", seg(&tenant), seg(&member)),
        )
        .await?;
    let me = Me::load(&ui, &session).await?;
    let t = seg(&tenant);
    let display = m["displayName"].as_str().unwrap_or(&member).to_owned();
    let mut consequence = a.consequence.to_owned();
    if action == "remove" {
        let removed = ui
            .get(&session, &format!("/api/v1/tenants/{t}/removed-members"))
            .await?;
        let secs = removed["retentionSeconds"].as_i64().unwrap_or(168 * 3600);
        consequence = format!(
            "{consequence} The retention window of this workspace is {}.",
            retention_words(secs)
        );
    }
    let title = match action.as_str() {
        "logout" => format!("Sign {display} out everywhere?"),
        _ => format!("{} {display}?", a.verb),
    };
    let button = match action.as_str() {
        "logout" => format!("Sign {display} out everywhere"),
        "reset-password" => format!("Reset the password of {display}"),
        _ => format!("{} {display}", a.verb),
    };
    let html = Confirm {
        title: &title,
        subject: m["email"].as_str().unwrap_or_default(),
        consequence: &consequence,
        action: &format!("/ui/t/{t}/members/{}/{}", seg(&member), seg(&action)),
        button: &button,
        class: a.class,
        cancel: &format!("/ui/t/{t}/members"),
    }
    .render();
    Ok(page(
        &ui,
        &me,
        At::Tenant(&tenant, "members"),
        &title,
        &html,
    ))
}

/// A retention window in words (`7 days`, `36 hours`, `90 seconds`).
fn retention_words(secs: i64) -> String {
    let (n, unit) = if secs > 0 && secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs > 0 && secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs > 0 && secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `POST /ui/t/{tenant}/members/{member}/{action}`: does the confirmed action.
pub async fn act(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, member, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let a =
        action_of(&action).ok_or_else(|| UiError::NotFound("there is no such action".into()))?;
    let t = seg(&tenant);
    let mut path = format!("/api/v1/tenants/{t}/members/{}", seg(&member));
    if !a.api.is_empty() {
        path = format!("{path}/{}", a.api);
    }
    ui.call(&session, a.method, &path, None).await??;
    let m = query_value(&member);
    let to = match action.as_str() {
        "reset-password" => format!("/ui/t/{t}/members?reset={m}"),
        "remove" => format!("/ui/t/{t}/members?removed={m}"),
        _ => format!("/ui/t/{t}/members?done={}&member={m}", query_value(&action)),
    };
    Ok(Redirect::to(&to).into_response())
}

/// `POST /ui/t/{tenant}/removed/{member}/restore`: undoes a removal.
pub async fn restore(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, member)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let t = seg(&tenant);
    ui.call(
        &session,
        Method::POST,
        &format!(
            "/api/v1/tenants/{t}/removed-members/{}/restore",
            seg(&member)
        ),
        None,
    )
    .await??;
    Ok(Redirect::to(&format!(
        "/ui/t/{t}/members?restored={}",
        query_value(&member)
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_consequence() {
        for action in ["suspend", "resume", "reset-password", "logout", "remove"] {
            let a = action_of(action).expect(action);
            assert!(a.consequence.len() > 40, "{action}");
        }
        assert!(action_of("delete-everything").is_none());
        assert_eq!(retention_words(168 * 3600), "7 days");
        assert_eq!(retention_words(3600), "1 hour");
        assert_eq!(retention_words(90), "90 seconds");
    }
}
