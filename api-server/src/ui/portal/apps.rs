//! The tenant admin's SSO apps: the list, creating one (the client secret shown once, with the
//! issuer and discovery URL to paste into the app), and deleting one behind a confirmation.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::UiError;
use super::super::api::{Session, UiState, seg};
use super::super::html::{esc, field, query_value};
use super::super::session::Me;
use super::kit::{
    At, Confirm, FormErrors, Input, fragment, live_bar, live_region, notice, page, ready_badge,
    reveal_answer, reveal_panel, same_origin, select,
};
use crate::routes::slug;

fn apps_path(tenant: &str) -> String {
    format!("/api/v1/tenants/{}/ssoapps", seg(tenant))
}

fn app_path(tenant: &str, app: &str) -> String {
    format!("{}/{}", apps_path(tenant), seg(app))
}

fn rows_html(tenant: &str, items: &[Value]) -> String {
    if items.is_empty() {
        return "<tr><td colspan=\"3\" class=\"muted\">No SSO apps yet. Create one below to let your members sign in to it with their workspace account.</td></tr>".into();
    }
    let t = seg(tenant);
    items
        .iter()
        .map(|a| {
            let name = a["name"].as_str().unwrap_or_default();
            let ready = a["ready"].as_str().unwrap_or("Unknown");
            format!(
                "<tr data-app=\"{n}\" data-ready=\"{r}\"><td><a href=\"/ui/t/{t}/apps/{sn}\">{dn}</a><div class=\"muted\">{n}</div></td>\
                 <td>{badge}</td><td><code class=\"wrap\">{client}</code></td></tr>",
                n = esc(name),
                sn = seg(name),
                r = esc(ready),
                dn = field(a, "displayName"),
                badge = ready_badge(ready),
                client = field(a, "clientId"),
            )
        })
        .collect()
}

async fn app_list(ui: &UiState, session: &Session, tenant: &str) -> Result<Vec<Value>, UiError> {
    let list = ui.get(session, &apps_path(tenant)).await?;
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(items)
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    launch_url: String,
    #[serde(default)]
    client_type: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    deleted: Option<String>,
}

async fn list_page(
    ui: &UiState,
    session: &Session,
    tenant: &str,
    query: &ListQuery,
    form: &CreateForm,
    errors: &FormErrors,
) -> Result<Response, UiError> {
    let items = app_list(ui, session, tenant).await?;
    let me = Me::load(ui, session).await?;
    let t = seg(tenant);
    let mut html = format!(
        "<h1>SSO apps <span class=\"muted\">of {}</span></h1>",
        esc(tenant)
    );
    if let Some(d) = &query.deleted {
        html.push_str(&notice(&format!(
            "SSO app {d} deleted: nobody can sign in to it with a workspace account any more."
        )));
    }
    html.push_str(&live_bar(tenant));
    html.push_str(&format!(
        "<section class=\"card\"><div class=\"table-wrap\"><table id=\"apps\"><thead><tr><th scope=\"col\">App</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Client ID</th></tr></thead><tbody id=\"app-rows\" data-live-src=\"/ui/t/{t}/apps/rows\">{}</tbody></table></div></section>",
        rows_html(tenant, &items)
    ));
    let client_type = if form.client_type.is_empty() {
        "confidential"
    } else {
        form.client_type.as_str()
    };
    let uri_error = errors.of("redirect_uris");
    html.push_str(&format!(
        "<section class=\"card\"><h2 id=\"create\">Create an SSO app</h2>\
         <p class=\"muted\">Only members of this workspace can sign in to it. A confidential app's client secret is shown once, right after it is issued.</p>\
         {}<form method=\"post\" action=\"/ui/t/{t}/apps\" id=\"create-app\" novalidate>{}{}\
         <div class=\"field\"><label for=\"redirect_uris\">Redirect URLs</label>\
         <textarea id=\"redirect_uris\" name=\"redirect_uris\" rows=\"2\" required aria-describedby=\"redirect_uris-hint{}\"{}>{}</textarea>\
         <small id=\"redirect_uris-hint\" class=\"muted\">Where the app receives the sign-in, one per line, e.g. https://wiki.example.com/oauth/callback</small>{}</div>\
         {}{}<button type=\"submit\" class=\"primary\">Create app</button></form></section>",
        errors.form_error(),
        Input {
            id: "display_name",
            label: "Name",
            kind: "text",
            value: &form.display_name,
            hint: "As members see it on the sign-in page, e.g. Team Wiki",
            required: true,
        }
        .render(errors),
        Input {
            id: "name",
            label: "Short name",
            kind: "text",
            value: &form.name,
            hint: "Lower-case letters, digits and dashes; made from the name when left empty",
            required: false,
        }
        .render(errors),
        if uri_error.is_some() { " redirect_uris-error" } else { "" },
        if uri_error.is_some() { " aria-invalid=\"true\"" } else { "" },
        esc(&form.redirect_uris),
        uri_error
            .map(|e| format!("<p class=\"field-error\" id=\"redirect_uris-error\" role=\"alert\">Redirect URLs: {}</p>", esc(e)))
            .unwrap_or_default(),
        Input {
            id: "launch_url",
            label: "Launch URL (optional)",
            kind: "url",
            value: &form.launch_url,
            hint: "Where members open the app from their app list",
            required: false,
        }
        .render(errors),
        select(
            "client_type",
            "Client type",
            &[
                ("confidential", "Confidential: a server that keeps a secret"),
                ("public", "Public: a browser or mobile app (PKCE, no secret)"),
            ],
            client_type,
            "Most web applications are confidential.",
            errors
        ),
    ));
    let page = page(
        ui,
        &me,
        At::Tenant(tenant, "apps"),
        &format!("SSO apps of {tenant}"),
        &html,
    );
    Ok((errors.status(), page).into_response())
}

/// `GET /ui/t/{tenant}/apps`.
pub async fn list(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    list_page(
        &ui,
        &session,
        &tenant,
        &query,
        &CreateForm::default(),
        &FormErrors::default(),
    )
    .await
}

/// `GET /ui/t/{tenant}/apps/rows`.
pub async fn rows(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let items = app_list(&ui, &session, &tenant).await?;
    Ok(fragment(rows_html(&tenant, &items)))
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > "https://".len()
        && !s.contains(char::is_whitespace)
}

/// `POST /ui/t/{tenant}/apps`: creates the app and opens its page (where the secret appears once).
pub async fn create(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let mut errors = FormErrors::default();
    let display_name = form.display_name.trim();
    if display_name.is_empty() {
        errors.push("display_name", "enter the name members will see");
    }
    let name = if form.name.trim().is_empty() {
        slug(display_name)
    } else {
        form.name.trim().to_owned()
    };
    if !display_name.is_empty() && name.is_empty() {
        errors.push("name", "enter a short name of letters and digits");
    }
    let uris: Vec<&str> = form
        .redirect_uris
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if uris.is_empty() {
        errors.push(
            "redirect_uris",
            "enter at least one URL where the app receives the sign-in",
        );
    } else if let Some(bad) = uris.iter().find(|u| !is_http_url(u)) {
        errors.push(
            "redirect_uris",
            format!("{bad} is not a full URL; start it with https://"),
        );
    }
    let launch = form.launch_url.trim();
    if !launch.is_empty() && !is_http_url(launch) {
        errors.push(
            "launch_url",
            "enter a full URL starting with https://, or leave it empty",
        );
    }
    if form.client_type != "confidential" && form.client_type != "public" {
        errors.push("client_type", "choose confidential or public");
    }
    let query = ListQuery::default();
    if !errors.is_empty() {
        return list_page(&ui, &session, &tenant, &query, &form, &errors).await;
    }
    let mut spec =
        json!({"displayName": display_name, "redirectUris": uris, "clientType": form.client_type});
    if !launch.is_empty() {
        spec["launchUrl"] = json!(launch);
    }
    let body = json!({"name": name, "spec": spec});
    match ui
        .call(&session, Method::POST, &apps_path(&tenant), Some(&body))
        .await?
    {
        Ok(created) => {
            let name = created["name"].as_str().unwrap_or(&name);
            Ok(Redirect::to(&format!(
                "/ui/t/{}/apps/{}?created=1",
                seg(&tenant),
                seg(name)
            ))
            .into_response())
        }
        Err(r) if r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND => {
            Err(r.into())
        }
        Err(r) => {
            let mut errors = FormErrors::from_refusal(
                &r,
                &[
                    ("displayName", "display_name"),
                    ("redirectUris", "redirect_uris"),
                    ("launchUrl", "launch_url"),
                    ("clientType", "client_type"),
                    ("name", "name"),
                ],
            );
            if r.status == StatusCode::CONFLICT && errors.of("name").is_none() {
                errors = FormErrors(vec![(
                    "name",
                    "an app with this short name exists; choose another".into(),
                )]);
            }
            list_page(&ui, &session, &tenant, &query, &form, &errors).await
        }
    }
}

/// The live facts of an app: status, client id, issuer and discovery URL.
fn panel_html(a: &Value) -> String {
    let ready = a["ready"].as_str().unwrap_or("Unknown");
    let pending = "<span class=\"muted\">issued once the app is provisioned</span>";
    let code = |key: &str| match a[key].as_str() {
        Some(v) if !v.is_empty() => {
            format!("<code class=\"wrap\" id=\"app-{key}\">{}</code>", esc(v))
        }
        _ => pending.to_owned(),
    };
    let reason = match a["reason"].as_str() {
        Some(r) if ready != "True" && !r.is_empty() => {
            format!("<div class=\"reason\">{}</div>", esc(r))
        }
        _ => String::new(),
    };
    format!(
        "<dl class=\"facts\" data-ready=\"{}\" data-credentials=\"{}\"><dt>Status</dt><dd>{}{reason}</dd>\
         <dt>Client ID</dt><dd>{}</dd><dt>Issuer</dt><dd>{}</dd><dt>Discovery URL</dt><dd>{}</dd>\
         <dt>Redirect URLs</dt><dd>{}</dd></dl>",
        esc(ready),
        a["credentialsAvailable"] == json!(true),
        ready_badge(ready),
        code("clientId"),
        code("issuer"),
        code("discoveryUrl"),
        a["ssoApp"]["spec"]["redirectUris"]
            .as_array()
            .map(|u| u
                .iter()
                .filter_map(Value::as_str)
                .map(|u| format!("<code class=\"wrap\">{}</code>", esc(u)))
                .collect::<Vec<_>>()
                .join("<br>"))
            .unwrap_or_default(),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    created: Option<String>,
}

/// `GET /ui/t/{tenant}/apps/{app}`: the app; right after creating it, its secret once.
pub async fn detail(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, app)): Path<(String, String)>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, UiError> {
    let a = ui.get(&session, &app_path(&tenant, &app)).await?;
    let me = Me::load(&ui, &session).await?;
    let t = seg(&tenant);
    let base = format!("/ui/t/{t}/apps/{}", seg(&app));
    let mut html = format!(
        "<p class=\"crumbs\"><a href=\"/ui/t/{t}/apps\">SSO apps</a></p><h1>{}</h1>",
        field(&a, "displayName")
    );
    let confidential = a["ssoApp"]["spec"]["clientType"].as_str() != Some("public");
    if query.created.is_some() && confidential {
        html.push_str(&reveal_panel(
            "app-secret",
            &format!("{base}/secret"),
            "#app-live [data-credentials=true]",
            "The client secret",
            "The app is being set up; its client secret appears here once, as soon as it is issued. Keep this page open.",
            "client secret",
        ));
    } else if confidential {
        html.push_str(
            "<p class=\"muted\" id=\"secret-note\">The client secret was shown once, when the app was created, and is never shown again. If it is lost, delete the app and create it again.</p>",
        );
    }
    html.push_str(&live_bar(&tenant));
    html.push_str(&format!(
        "<section class=\"card\"><h2>Paste these into the app</h2>{}</section>",
        live_region("app-live", &format!("{base}/panel"), false, &panel_html(&a))
    ));
    html.push_str(&format!(
        "<section class=\"card danger-zone\"><h2>Delete</h2><p>Members can no longer sign in to the app with their workspace account.</p>\
         <a class=\"button danger\" id=\"delete-app\" href=\"{base}/delete\">Delete {}</a></section>",
        field(&a, "displayName")
    ));
    let title = format!("SSO app {}", a["displayName"].as_str().unwrap_or(&app));
    Ok(page(&ui, &me, At::Tenant(&tenant, "apps"), &title, &html))
}

/// `GET /ui/t/{tenant}/apps/{app}/panel`: the live facts.
pub async fn panel(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, app)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let a = ui.get(&session, &app_path(&tenant, &app)).await?;
    Ok(fragment(panel_html(&a)))
}

/// `POST /ui/t/{tenant}/apps/{app}/secret`: the client secret, once (JSON for the script).
pub async fn secret(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, app)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let answer = ui
        .call(
            &session,
            Method::GET,
            &format!("{}/credentials", app_path(&tenant, &app)),
            None,
        )
        .await?
        .map(|v| v["clientSecret"].as_str().unwrap_or_default().to_owned());
    Ok(reveal_answer(answer))
}

/// `GET /ui/t/{tenant}/apps/{app}/delete`: the confirmation.
pub async fn confirm_delete(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, app)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let a = ui.get(&session, &app_path(&tenant, &app)).await?;
    let me = Me::load(&ui, &session).await?;
    let name = a["displayName"].as_str().unwrap_or(&app).to_owned();
    let base = format!("/ui/t/{}/apps/{}", seg(&tenant), seg(&app));
    let title = format!("Delete {name}?");
    let html = Confirm {
        title: &title,
        subject: "SSO app",
        consequence: "Its client credentials stop working at once and members can no longer sign in to it with their workspace account. Creating it again issues new credentials.",
        action: &format!("{base}/delete"),
        button: &format!("Delete {name}"),
        class: "danger",
        cancel: &base,
    }
    .render();
    Ok(page(&ui, &me, At::Tenant(&tenant, "apps"), &title, &html))
}

/// `POST /ui/t/{tenant}/apps/{app}/delete`.
pub async fn delete(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, app)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let a = ui.get(&session, &app_path(&tenant, &app)).await?;
    ui.call(&session, Method::DELETE, &app_path(&tenant, &app), None)
        .await??;
    Ok(Redirect::to(&format!(
        "/ui/t/{}/apps?deleted={}",
        seg(&tenant),
        query_value(a["displayName"].as_str().unwrap_or(&app))
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_shows_the_issuer_and_discovery_url_escaped() {
        let a = json!({"name": "wiki", "displayName": "Wiki", "ready": "True", "clientId": "cid",
            "issuer": "https://auth.test/application/o/wiki/", "discoveryUrl": "https://auth.test/application/o/wiki/.well-known/openid-configuration",
            "credentialsAvailable": true, "ssoApp": {"spec": {"redirectUris": ["https://w.test/cb?a=<b>"]}}});
        let html = panel_html(&a);
        assert!(html.contains("data-credentials=\"true\""));
        assert!(html.contains(".well-known/openid-configuration"));
        assert!(html.contains("a=&lt;b&gt;"));
        let pending = panel_html(&json!({"ready": "Unknown"}));
        assert!(pending.contains("issued once the app is provisioned"));
        assert!(pending.contains("data-credentials=\"false\""));
    }

    #[test]
    fn redirect_urls_must_be_full() {
        assert!(is_http_url("https://wiki.acme.test/cb"));
        assert!(!is_http_url("wiki.acme.test/cb"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("https://a b"));
    }
}
