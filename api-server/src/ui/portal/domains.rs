//! The tenant admin's mail domains: the list, the add wizard (the ownership record first, then
//! the mail records, each with its live verification state and a "check again"), the DMARC
//! policy, making a domain primary, and removing one behind a confirmation — with the
//! operator's reason shown while the removal is refused (a domain still in use).

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
use super::domain_records::{records_html, removing};
use super::kit::{
    At, Confirm, FormErrors, Input, fragment, live_bar, live_region, notice, page, ready_badge,
    same_origin, select,
};

const DMARC: [(&str, &str); 3] = [
    ("none", "none: only report"),
    ("quarantine", "quarantine: failing mail goes to spam"),
    ("reject", "reject: failing mail is refused"),
];

fn domains_path(tenant: &str) -> String {
    format!("/api/v1/tenants/{}/domains", seg(tenant))
}

fn domain_path(tenant: &str, domain: &str) -> String {
    format!("{}/{}", domains_path(tenant), seg(domain))
}

fn rows_html(tenant: &str, items: &[Value]) -> String {
    if items.is_empty() {
        return "<tr><td colspan=\"4\" class=\"muted\">No domains yet. Add your first one below.</td></tr>".into();
    }
    let t = seg(tenant);
    let mut html = String::new();
    for d in items {
        let name = d["name"].as_str().unwrap_or_default();
        let ready = d["ready"].as_str().unwrap_or("Unknown");
        let records = d["records"].as_array().cloned().unwrap_or_default();
        let ok = records.iter().filter(|r| r["state"] == "Verified").count();
        let state = if removing(d) {
            status_badge("False", "Being removed")
        } else {
            ready_badge(ready)
        };
        let reason = match d["reason"].as_str() {
            Some(r) if ready != "True" && !r.is_empty() => esc(r),
            _ => String::new(),
        };
        html.push_str(&format!(
            "<tr data-domain=\"{n}\" data-ready=\"{r}\"><td><a href=\"/ui/t/{t}/domains/{sn}\">{dom}</a>{primary}</td>\
             <td>{state}<div class=\"reason\">{reason}</div></td><td>{ok} of {total} records verified</td><td>{dmarc}</td></tr>",
            n = esc(name),
            r = esc(ready),
            sn = seg(name),
            dom = field(d, "domain"),
            primary = if d["primary"] == json!(true) {
                " <span class=\"badge\">Primary</span>"
            } else {
                ""
            },
            total = records.len(),
            dmarc = field(d, "dmarcPolicy"),
        ));
    }
    html
}

async fn domain_list(ui: &UiState, session: &Session, tenant: &str) -> Result<Vec<Value>, UiError> {
    let list = ui.get(session, &domains_path(tenant)).await?;
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by(|a, b| a["domain"].as_str().cmp(&b["domain"].as_str()));
    Ok(items)
}

#[derive(Debug, Default, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    dmarc_policy: String,
    #[serde(default)]
    primary: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    removed: Option<String>,
}

async fn list_page(
    ui: &UiState,
    session: &Session,
    tenant: &str,
    query: &ListQuery,
    form: &AddForm,
    errors: &FormErrors,
) -> Result<Response, UiError> {
    let items = domain_list(ui, session, tenant).await?;
    let me = Me::load(ui, session).await?;
    let t = seg(tenant);
    let mut html = format!(
        "<h1>Domains <span class=\"muted\">of {}</span></h1>",
        esc(tenant)
    );
    if let Some(d) = &query.removed {
        html.push_str(&notice(&format!("Domain {d} removed.")));
    }
    html.push_str(&live_bar(tenant));
    html.push_str(&format!(
        "<section class=\"card\"><div class=\"table-wrap\"><table id=\"domains\"><thead><tr><th scope=\"col\">Domain</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">DNS</th><th scope=\"col\">DMARC</th></tr></thead>{}</table></div></section>",
        live_region_tbody(&format!("/ui/t/{t}/domains/rows"), &rows_html(tenant, &items))
    ));
    let policy = if form.dmarc_policy.is_empty() {
        "quarantine"
    } else {
        form.dmarc_policy.as_str()
    };
    let primary_checked = form.primary.is_some() || (items.is_empty() && form.domain.is_empty());
    html.push_str(&format!(
        "<section class=\"card\"><h2 id=\"add\">Add a domain</h2>\
         <p class=\"muted\">Step 1 proves you own it with one DNS record; step 2 lists the mail records to publish. Each shows its state live.</p>\
         {}<form method=\"post\" action=\"/ui/t/{t}/domains\" id=\"add-domain\" novalidate>{}{}\
         <div class=\"field check\"><label><input type=\"checkbox\" name=\"primary\" id=\"primary\" value=\"true\"{}> Make it the primary domain</label>\
         <small class=\"muted\">New members' addresses and the billing contact default to it.</small></div>\
         <button type=\"submit\" class=\"primary\">Add domain</button></form></section>",
        errors.form_error(),
        Input {
            id: "domain",
            label: "Domain",
            kind: "text",
            value: &form.domain,
            hint: "The part after the @ in your addresses, e.g. example.com",
            required: true,
        }
        .render(errors),
        select(
            "dmarc_policy",
            "DMARC policy",
            &DMARC,
            policy,
            "What receivers do with mail that fails the checks; you can change it later.",
            errors
        ),
        if primary_checked { " checked" } else { "" },
    ));
    let page = page(
        ui,
        &me,
        At::Tenant(tenant, "domains"),
        &format!("Domains of {tenant}"),
        &html,
    );
    Ok((errors.status(), page).into_response())
}

/// A `<tbody>` the portal script refreshes from `src`.
fn live_region_tbody(src: &str, rows: &str) -> String {
    format!(
        "<tbody id=\"domain-rows\" data-live-src=\"{}\">{rows}</tbody>",
        esc(src)
    )
}

/// `GET /ui/t/{tenant}/domains`.
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
        &AddForm::default(),
        &FormErrors::default(),
    )
    .await
}

/// `GET /ui/t/{tenant}/domains/rows`: the list's rows, for the live refresh.
pub async fn rows(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    let items = domain_list(&ui, &session, &tenant).await?;
    Ok(fragment(rows_html(&tenant, &items)))
}

/// A domain name as typed, made canonical; or what is wrong with it.
fn canonical_domain(typed: &str) -> Result<String, &'static str> {
    let d = typed.trim().trim_end_matches('.').to_lowercase();
    if d.is_empty() {
        return Err("enter the domain, e.g. example.com");
    }
    if d.contains('@') {
        return Err("enter only the part after the @, e.g. example.com");
    }
    if d.contains("://") || d.contains('/') {
        return Err("enter the domain without http:// or a path, e.g. example.com");
    }
    if !d.contains('.') || d.starts_with('.') || d.contains("..") {
        return Err("enter a full domain with a dot, e.g. example.com");
    }
    if !d
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(
            "use letters, digits, dashes and dots only (international names in their xn-- form)",
        );
    }
    Ok(d)
}

/// `POST /ui/t/{tenant}/domains`: adds a domain and opens its wizard.
pub async fn create(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<AddForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let mut errors = FormErrors::default();
    let domain = match canonical_domain(&form.domain) {
        Ok(d) => d,
        Err(e) => {
            errors.push("domain", e);
            String::new()
        }
    };
    let policy = form.dmarc_policy.as_str();
    if !DMARC.iter().any(|(v, _)| *v == policy) {
        errors.push("dmarc_policy", "choose none, quarantine or reject");
    }
    let query = ListQuery::default();
    if !errors.is_empty() {
        return list_page(&ui, &session, &tenant, &query, &form, &errors).await;
    }
    let body = json!({"spec": {"domain": domain, "dmarcPolicy": policy, "primary": form.primary.is_some()}});
    match ui
        .call(&session, Method::POST, &domains_path(&tenant), Some(&body))
        .await?
    {
        Ok(created) => {
            let name = created["name"].as_str().unwrap_or_default();
            Ok(Redirect::to(&format!(
                "/ui/t/{}/domains/{}?added=1",
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
                &[("domain", "domain"), ("dmarcPolicy", "dmarc_policy")],
            );
            if r.status == StatusCode::CONFLICT && errors.of("domain").is_none() {
                errors = FormErrors(vec![(
                    "domain",
                    "this domain is already added to this workspace".into(),
                )]);
            }
            list_page(&ui, &session, &tenant, &query, &form, &errors).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    added: Option<String>,
    done: Option<String>,
}

/// `GET /ui/t/{tenant}/domains/{domain}`: the wizard and the domain's settings.
pub async fn detail(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, domain)): Path<(String, String)>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, UiError> {
    let d = ui.get(&session, &domain_path(&tenant, &domain)).await?;
    let me = Me::load(&ui, &session).await?;
    let t = seg(&tenant);
    let sd = seg(&domain);
    let base = format!("/ui/t/{t}/domains/{sd}");
    let mut html = format!(
        "<p class=\"crumbs\"><a href=\"/ui/t/{t}/domains\">Domains</a></p><h1>{}{}</h1>",
        field(&d, "domain"),
        if d["primary"] == json!(true) {
            " <span class=\"badge\">Primary</span>"
        } else {
            ""
        }
    );
    if query.added.is_some() {
        html.push_str(&notice(
            "Domain added. Publish the ownership record of step 1 first; this page shows each record's state as it is checked.",
        ));
    }
    if let Some(done) = &query.done {
        let text = match done.as_str() {
            "recheck" => {
                "Checking the DNS again now; the states below update as the results come in."
            }
            "dmarc" => "DMARC policy saved; publish the updated _dmarc record shown below.",
            "primary" => "This is now the primary domain.",
            _ => "Saved.",
        };
        html.push_str(&notice(text));
    }
    html.push_str(&live_bar(&tenant));
    html.push_str(&live_region(
        "domain-live",
        &format!("{base}/records"),
        false,
        &records_html(&d),
    ));
    let policy = d["dmarcPolicy"].as_str().unwrap_or("quarantine");
    html.push_str(&format!(
        "<section class=\"card\"><h2>Settings</h2><div class=\"actions\">\
         <form method=\"post\" action=\"{base}/recheck\"><button type=\"submit\" id=\"recheck\">Check again</button></form>{}\
         </div><form method=\"post\" action=\"{base}/dmarc\" id=\"dmarc-form\" class=\"inline-form\">{}\
         <button type=\"submit\">Save DMARC policy</button></form></section>\
         <section class=\"card danger-zone\"><h2>Remove</h2><p>Removing the domain takes it off the mail server; it is refused while mailboxes or aliases still use it.</p>\
         <a class=\"button danger\" id=\"remove-domain\" href=\"{base}/remove\">Remove {}</a></section>",
        if d["primary"] == json!(true) {
            String::new()
        } else {
            format!(
                "<form method=\"post\" action=\"{base}/primary\"><button type=\"submit\" id=\"make-primary\">Make primary</button></form>"
            )
        },
        select(
            "policy",
            "DMARC policy",
            &DMARC,
            policy,
            "What receivers do with mail from this domain that fails SPF and DKIM.",
            &FormErrors::default()
        ),
        field(&d, "domain"),
    ));
    let title = format!("Domain {}", d["domain"].as_str().unwrap_or(&domain));
    Ok(page(
        &ui,
        &me,
        At::Tenant(&tenant, "domains"),
        &title,
        &html,
    ))
}

/// `GET /ui/t/{tenant}/domains/{domain}/records`: the live part of the wizard.
pub async fn records(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, domain)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let d = ui.get(&session, &domain_path(&tenant, &domain)).await?;
    Ok(fragment(records_html(&d)))
}

async fn domain_action(
    ui: &UiState,
    session: &Session,
    tenant: &str,
    domain: &str,
    method: Method,
    what: &str,
    body: Option<Value>,
) -> Result<Response, UiError> {
    ui.call(
        session,
        method,
        &format!("{}/{what}", domain_path(tenant, domain)),
        body.as_ref(),
    )
    .await??;
    Ok(Redirect::to(&format!(
        "/ui/t/{}/domains/{}?done={}",
        seg(tenant),
        seg(domain),
        query_value(what)
    ))
    .into_response())
}

/// `POST /ui/t/{tenant}/domains/{domain}/recheck`.
pub async fn recheck(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, domain)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    domain_action(
        &ui,
        &session,
        &tenant,
        &domain,
        Method::POST,
        "recheck",
        None,
    )
    .await
}

/// `POST /ui/t/{tenant}/domains/{domain}/primary`.
pub async fn primary(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, domain)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    domain_action(
        &ui,
        &session,
        &tenant,
        &domain,
        Method::POST,
        "primary",
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct DmarcForm {
    #[serde(default)]
    policy: String,
}

/// `POST /ui/t/{tenant}/domains/{domain}/dmarc`.
pub async fn dmarc(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, domain)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<DmarcForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    if !DMARC.iter().any(|(v, _)| *v == form.policy) {
        return Err(UiError::BadRequest(
            "DMARC policy: choose none, quarantine or reject".into(),
        ));
    }
    domain_action(
        &ui,
        &session,
        &tenant,
        &domain,
        Method::PUT,
        "dmarc",
        Some(json!({"policy": form.policy})),
    )
    .await
}

/// `GET /ui/t/{tenant}/domains/{domain}/remove`: the confirmation.
pub async fn confirm_remove(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, domain)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let d = ui.get(&session, &domain_path(&tenant, &domain)).await?;
    let me = Me::load(&ui, &session).await?;
    let name = d["domain"].as_str().unwrap_or(&domain).to_owned();
    let base = format!("/ui/t/{}/domains/{}", seg(&tenant), seg(&domain));
    let title = format!("Remove {name}?");
    let html = Confirm {
        title: &title,
        subject: "Mail domain",
        consequence: "The domain is taken off the mail server and its DNS is no longer checked. The removal is refused while any mailbox or alias still uses it; the reason is shown on the domain's page until it completes.",
        action: &format!("{base}/remove"),
        button: &format!("Remove {name}"),
        class: "danger",
        cancel: &base,
    }
    .render();
    Ok(page(
        &ui,
        &me,
        At::Tenant(&tenant, "domains"),
        &title,
        &html,
    ))
}

/// `POST /ui/t/{tenant}/domains/{domain}/remove`: asks for the removal; shows the domain's page
/// while the operator holds it (with its reason), or the list once it is gone.
pub async fn remove(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, domain)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let path = domain_path(&tenant, &domain);
    let d = ui.get(&session, &path).await?;
    ui.call(&session, Method::DELETE, &path, None).await??;
    let t = seg(&tenant);
    let still_there = ui.call(&session, Method::GET, &path, None).await?.is_ok();
    let to = if still_there {
        format!("/ui/t/{t}/domains/{}", seg(&domain))
    } else {
        format!(
            "/ui/t/{t}/domains?removed={}",
            query_value(d["domain"].as_str().unwrap_or(&domain))
        )
    };
    Ok(Redirect::to(&to).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::portal::domain_records::tests::view;

    #[test]
    fn a_refused_removal_names_the_operator_reason() {
        let mut d = view();
        d["mailDomain"]["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        d["conditions"][1] = json!({"type": "Ready", "status": "False", "reason": "DomainInUse",
            "message": "2 mailboxes still use acme.test."});
        let html = records_html(&d);
        assert!(html.contains("Removal requested"));
        assert!(html.contains("2 mailboxes still use acme.test."));
        assert!(rows_html("acme", &[d]).contains("Being removed"));
    }

    #[test]
    fn typed_domains_are_made_canonical_or_explained() {
        assert_eq!(canonical_domain(" Acme.TEST. "), Ok("acme.test".into()));
        assert!(canonical_domain("").is_err());
        assert!(canonical_domain("jane@acme.test").is_err());
        assert!(canonical_domain("https://acme.test/").is_err());
        assert!(canonical_domain("acme").is_err());
        assert!(canonical_domain("ac me.test").is_err());
    }
}
