//! The console's actions on a partner: attaching a tenant, detaching one and terminating the
//! partner, the last two behind a confirmation naming the consequence; each says what happened.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{operator, page, plain, same_origin};
use crate::ui::UiError;
use crate::ui::api::{Session, UiState, seg};
use crate::ui::html::{esc, query_value};

#[derive(Debug, Deserialize)]
pub struct AttachForm {
    #[serde(default)]
    tenant: String,
}

fn back_with(partner: &str, key: &str, value: &str) -> Response {
    Redirect::to(&format!(
        "/ui/console/partners/{}?{key}={}",
        seg(partner),
        query_value(value)
    ))
    .into_response()
}

/// `POST /ui/console/partners/{partner}/attach`: attaches the chosen tenant.
pub async fn attach(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
    headers: HeaderMap,
    Form(form): Form<AttachForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    operator(&ui, &session).await?;
    if form.tenant.is_empty() {
        return Ok(back_with(
            &partner,
            "error",
            "Tenant: choose the tenant to attach",
        ));
    }
    let path = format!(
        "/api/v1/partners/{}/tenants/{}",
        seg(&partner),
        seg(&form.tenant)
    );
    match ui.call(&session, Method::PUT, &path, None).await? {
        Ok(_) => Ok(back_with(&partner, "attached", &form.tenant)),
        Err(r) if r.status == StatusCode::FORBIDDEN => Err(r.into()),
        Err(r) => Ok(back_with(&partner, "error", &plain(&r.detail()))),
    }
}

fn confirm_page(
    ui: &UiState,
    me: &crate::ui::session::Me,
    title: &str,
    consequence: &str,
    action: &str,
    button: &str,
    back: &str,
) -> Response {
    let html = format!(
        "<section class=\"card confirm\"><h1>{t}?</h1><p id=\"consequence\">{c}</p>\
         <form method=\"post\" action=\"{a}\" class=\"actions\">\
         <button type=\"submit\" class=\"danger\" id=\"confirm\">{b}</button>\
         <a class=\"button\" href=\"{back}\" id=\"cancel\">Cancel</a></form></section>",
        t = esc(title),
        c = esc(consequence),
        a = esc(action),
        b = esc(button),
        back = esc(back),
    );
    page(ui, me, "partners", title, &html)
}

/// `GET /ui/console/partners/{partner}/detach/{tenant}`: the confirmation.
pub async fn confirm_detach(
    State(ui): State<UiState>,
    session: Session,
    Path((partner, tenant)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let base = format!("/ui/console/partners/{}", seg(&partner));
    Ok(confirm_page(
        &ui,
        &me,
        &format!("Detach {tenant} from {partner}"),
        &format!(
            "{partner}'s staff will no longer see or manage {tenant}, and {partner} earns no margin on it from now on. The tenant itself and its members are not changed."
        ),
        &format!("{base}/detach/{}", seg(&tenant)),
        &format!("Detach {tenant}"),
        &base,
    ))
}

/// `POST /ui/console/partners/{partner}/detach/{tenant}`.
pub async fn detach(
    State(ui): State<UiState>,
    session: Session,
    Path((partner, tenant)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    operator(&ui, &session).await?;
    let path = format!(
        "/api/v1/partners/{}/tenants/{}",
        seg(&partner),
        seg(&tenant)
    );
    match ui.call(&session, Method::DELETE, &path, None).await? {
        Ok(_) => Ok(back_with(&partner, "detached", &tenant)),
        Err(r) if r.status == StatusCode::FORBIDDEN => Err(r.into()),
        Err(r) => Ok(back_with(&partner, "error", &plain(&r.detail()))),
    }
}

/// `GET /ui/console/partners/{partner}/terminate`: the confirmation.
pub async fn confirm_terminate(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let base = format!("/ui/console/partners/{}", seg(&partner));
    ui.get(&session, &format!("/api/v1/partners/{}", seg(&partner)))
        .await?;
    Ok(confirm_page(
        &ui,
        &me,
        &format!("Terminate partner {partner}"),
        &format!(
            "The Partner {partner} is deleted and its staff lose access to the partner portal. This is refused while it still has customers: detach them first."
        ),
        &format!("{base}/terminate"),
        &format!("Terminate {partner}"),
        &base,
    ))
}

/// `POST /ui/console/partners/{partner}/terminate`.
pub async fn terminate(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    operator(&ui, &session).await?;
    let path = format!("/api/v1/partners/{}", seg(&partner));
    match ui.call(&session, Method::DELETE, &path, None).await? {
        Ok(_) => Ok(Redirect::to(&format!(
            "/ui/console/partners?terminated={}",
            query_value(&partner)
        ))
        .into_response()),
        Err(r) if r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND => {
            Err(r.into())
        }
        Err(r) => Ok(back_with(
            &partner,
            "error",
            &format!("Terminate refused: {}", plain(&r.detail())),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_return_to_the_partner_with_their_notice() {
        let r = back_with("north wind", "attached", "acme & co");
        let to = r.headers()["location"].to_str().expect("location");
        assert_eq!(
            to,
            "/ui/console/partners/north%20wind?attached=acme%20%26%20co"
        );
    }
}
