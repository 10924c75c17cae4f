//! The console's actions on a tenant: suspend, resume and delete, each behind a confirmation that
//! names the consequence, and "reconcile now"; each says afterwards what happened.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{operator, page, plain, same_origin, tenant_tabs};
use crate::ui::UiError;
use crate::ui::api::{Session, UiState, seg};
use crate::ui::html::{esc, query_value};

/// An action: its verb, the consequence said before doing it, the button's class, and the API
/// call (method and path suffix).
struct Action {
    verb: &'static str,
    consequence: &'static str,
    class: &'static str,
    method: Method,
    suffix: &'static str,
}

fn action(name: &str) -> Option<Action> {
    match name {
        "suspend" => Some(Action {
            verb: "Suspend",
            consequence: "Every member loses access at once: single sign-on accounts are deactivated, sessions end and mailboxes refuse logins. Nothing is deleted; resuming restores access with the same credentials.",
            class: "danger",
            method: Method::POST,
            suffix: "/suspend",
        }),
        "resume" => Some(Action {
            verb: "Resume",
            consequence: "Every member gets access back to single sign-on, mail and files, with their existing credentials.",
            class: "primary",
            method: Method::POST,
            suffix: "/resume",
        }),
        "delete" => Some(Action {
            verb: "Delete",
            consequence: "The tenant is deleted. This is refused while it still has members, mail domains or SSO apps. What happens upstream follows its deletion policy; its namespace is kept.",
            class: "danger",
            method: Method::DELETE,
            suffix: "",
        }),
        "reconcile" => Some(Action {
            verb: "Reconcile",
            consequence: "The operator compares every upstream with the spec again now. Nothing else changes.",
            class: "primary",
            method: Method::POST,
            suffix: "/reconcile",
        }),
        _ => None,
    }
}

fn confirm_html(tenant: &str, a: &Action, name: &str, error: Option<&str>) -> String {
    let t = seg(tenant);
    format!(
        "{tabs}<section class=\"card confirm\"><h1>{verb} tenant {n}?</h1><p id=\"consequence\">{consequence}</p>{error}\
         <form method=\"post\" action=\"/ui/console/tenants/{t}/act/{name}\" class=\"actions\">\
         <button type=\"submit\" class=\"{class}\" id=\"confirm\">{verb} {n}</button>\
         <a class=\"button\" href=\"/ui/console/tenants/{t}/danger\" id=\"cancel\">Cancel</a></form></section>",
        n = esc(tenant),
        tabs = tenant_tabs(
            tenant,
            if name == "reconcile" {
                "/resources"
            } else {
                "/danger"
            }
        ),
        verb = a.verb,
        consequence = esc(a.consequence),
        class = a.class,
        name = esc(name),
        error = error
            .map(|e| format!(
                "<p class=\"field-error\" role=\"alert\" id=\"refused\">Refused: {}</p>",
                esc(e)
            ))
            .unwrap_or_default(),
    )
}

/// `GET /ui/console/tenants/{tenant}/act/{action}`: the confirmation.
pub async fn confirm(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let a = action(&name).ok_or_else(|| UiError::NotFound("there is no such action".into()))?;
    // the tenant must exist (and be visible) before anything is offered
    ui.get(&session, &format!("/api/v1/tenants/{}", seg(&tenant)))
        .await?;
    let html = confirm_html(&tenant, &a, &name, None);
    Ok(page(
        &ui,
        &me,
        "tenants",
        &format!("{} {tenant}", a.verb),
        &html,
    ))
}

/// `POST /ui/console/tenants/{tenant}/act/{action}`: does it, then shows what happened (or the
/// confirmation again with the refusal and what to do).
pub async fn act(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let me = operator(&ui, &session).await?;
    let a = action(&name).ok_or_else(|| UiError::NotFound("there is no such action".into()))?;
    let path = format!("/api/v1/tenants/{}{}", seg(&tenant), a.suffix);
    match ui.call(&session, a.method.clone(), &path, None).await? {
        Ok(_) if name == "delete" => Ok(Redirect::to(&format!(
            "/ui/console/tenants?deleted={}",
            query_value(&tenant)
        ))
        .into_response()),
        Ok(_) => {
            let tab = if name == "reconcile" {
                "/resources"
            } else {
                ""
            };
            Ok(Redirect::to(&format!(
                "/ui/console/tenants/{}{tab}?done={}",
                seg(&tenant),
                query_value(&name)
            ))
            .into_response())
        }
        Err(r) if r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND => {
            Err(r.into())
        }
        Err(r) => {
            let html = confirm_html(&tenant, &a, &name, Some(&plain(&r.detail())));
            let page = page(&ui, &me, "tenants", &format!("{} {tenant}", a.verb), &html);
            Ok((r.status, page).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_confirmation_names_its_consequence() {
        for name in ["suspend", "resume", "delete", "reconcile"] {
            let a = action(name).expect(name);
            let html = confirm_html("acme", &a, name, Some("tenant acme still has 2 members"));
            assert!(html.contains(&esc(a.consequence)), "{name}");
            assert!(html.contains(&format!("/ui/console/tenants/acme/act/{name}")));
            assert!(html.contains("Refused: tenant acme still has 2 members"));
        }
        assert!(action("wipe").is_none());
    }
}
