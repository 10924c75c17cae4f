//! The console's partners: the list (name, domain, status, customers, margin) with the create
//! form, a partner's detail (contract, contact, customers, staff), attaching and detaching a
//! tenant, and terminating a partner behind a confirmation.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::tenants::state_status;
use super::{count, fragment, live_line, notice, operator, page, plain, same_origin};
use crate::ui::UiError;
use crate::ui::api::{Refusal, Session, UiState, seg};
use crate::ui::html::{Field, esc, field, status_badge};

/// What the create form holds, to show again with its errors.
#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    margin_percent: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    contact_email: String,
}

/// Errors by form field (`name`, `display_name`, ... or `form`).
#[derive(Debug, Default)]
struct Errors(Vec<(&'static str, String)>);

impl Errors {
    fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// The API's refusal, each cause on the form field it is about.
    fn from_refusal(r: &Refusal) -> Errors {
        let mut errors = Vec::new();
        for (f, reason) in r.fields() {
            let key = if f.ends_with("contact.email") {
                "contact_email"
            } else if f.ends_with("contact.name") {
                "contact_name"
            } else if f.ends_with("displayName") {
                "display_name"
            } else if f.ends_with("domain") {
                "domain"
            } else if f.ends_with("marginPercent") {
                "margin_percent"
            } else if f == "name" || f.ends_with("metadata.name") {
                "name"
            } else {
                "form"
            };
            errors.push((key, reason));
        }
        if errors.is_empty() {
            errors.push(("form", plain(&r.detail())));
        }
        Errors(errors)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    live: Option<String>,
    created: Option<String>,
    terminated: Option<String>,
}

fn list_html(items: &[Value]) -> String {
    if items.is_empty() {
        return "<p class=\"muted\">No partner yet. Create the first one below.</p>".into();
    }
    let mut html = String::from(
        "<table id=\"partners\"><thead><tr><th scope=\"col\">Partner</th><th scope=\"col\">Domain</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Customers</th><th scope=\"col\">Margin</th></tr></thead><tbody>",
    );
    for p in items {
        let name = p["name"].as_str().unwrap_or_default();
        let ready = p["ready"].as_str().unwrap_or("Unknown");
        let badge = if p["suspended"].as_bool() == Some(true) {
            status_badge("Unknown", "suspended")
        } else {
            status_badge(ready, &format!("Ready: {ready}"))
        };
        html.push_str(&format!(
            "<tr data-partner=\"{n}\"><td><a href=\"/ui/console/partners/{sn}\">{dn}</a><div class=\"muted\">{n}</div></td>\
             <td>{domain}</td><td>{badge}<div class=\"reason\">{reason}</div></td><td class=\"customers\">{customers}</td><td>{margin} %</td></tr>",
            n = esc(name),
            sn = seg(name),
            dn = field(p, "displayName"),
            domain = field(p, "domain"),
            reason = if ready == "True" { String::new() } else { field(p, "reason") },
            customers = field(p, "customers"),
            margin = field(p, "marginPercent"),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn create_form(form: &CreateForm, errors: &Errors) -> String {
    let f = |id, label, kind, value, hint, required| {
        Field {
            id,
            label,
            kind,
            value,
            hint,
            error: errors.of(id),
            required,
        }
        .render()
    };
    let margin = if form.margin_percent.is_empty() {
        "20"
    } else {
        form.margin_percent.as_str()
    };
    format!(
        "<section class=\"card\"><h2 id=\"create\">Create a partner</h2>\
         <p class=\"muted\">This creates the Partner: the operator then makes its staff group and namespace. Customers are attached afterwards.</p>\
         {}<form method=\"post\" action=\"/ui/console/partners\" id=\"create-partner\" class=\"form-grid\" novalidate>{}{}{}{}{}{}\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Create partner</button></div></form></section>",
        errors
            .of("form")
            .map(|e| format!("<p class=\"field-error\" role=\"alert\">{}</p>", esc(e)))
            .unwrap_or_default(),
        f(
            "name",
            "Slug",
            "text",
            &form.name,
            "Lower-case letters, digits and '-', at most 40, e.g. northwind; it cannot change later",
            true
        ),
        f(
            "display_name",
            "Display name",
            "text",
            &form.display_name,
            "As people read it, e.g. Northwind IT",
            true
        ),
        f(
            "domain",
            "Web domain",
            "text",
            &form.domain,
            "The partner's own domain; its staff sign in with addresses on it",
            true
        ),
        f(
            "margin_percent",
            "Margin (%)",
            "number",
            margin,
            "The partner's cut of its customers' billing, 0 to 100",
            true
        ),
        f(
            "contact_name",
            "Contact name",
            "text",
            &form.contact_name,
            "Optional: whom to contact at the partner",
            false
        ),
        f(
            "contact_email",
            "Contact e-mail",
            "email",
            &form.contact_email,
            "Optional, with the contact name",
            false
        ),
    )
}

async fn list_page(
    ui: &UiState,
    session: &Session,
    query: &ListQuery,
    form: &CreateForm,
    errors: &Errors,
) -> Result<Response, UiError> {
    let me = operator(ui, session).await?;
    let list = ui.get(session, "/api/v1/partners").await?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let body = list_html(&items);
    if query.live.as_deref() == Some("1") {
        return Ok(fragment(body));
    }
    let mut html = String::from("<h1>Partners</h1>");
    if let Some(p) = &query.created {
        html.push_str(&notice(&format!(
            "Partner {p} created: the operator is setting up its staff group and namespace; its status below turns Ready live."
        )));
    }
    if let Some(p) = &query.terminated {
        html.push_str(&notice(&format!(
            "Partner {p} terminated: it is deleted, its upstream group follows its deletion policy."
        )));
    }
    html.push_str(live_line());
    html.push_str(&format!(
        "<section class=\"card\"><div id=\"partners-live\" data-live=\"/ui/console/partners?live=1\">{body}</div></section>"
    ));
    html.push_str(&create_form(form, errors));
    let status = if errors.0.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, page(ui, &me, "partners", "Partners", &html)).into_response())
}

/// `GET /ui/console/partners`: the list and the create form (`?live=1`: the list alone).
pub async fn list(
    State(ui): State<UiState>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    list_page(
        &ui,
        &session,
        &query,
        &CreateForm::default(),
        &Errors::default(),
    )
    .await
}

/// `POST /ui/console/partners`: creates a partner, or shows the form again naming the field.
pub async fn create(
    State(ui): State<UiState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let name = form.name.trim().to_lowercase();
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(("name", "enter a slug such as northwind".to_owned()));
    }
    if form.display_name.trim().is_empty() {
        errors.push(("display_name", "enter the name people read".to_owned()));
    }
    if form.domain.trim().is_empty() {
        errors.push((
            "domain",
            "enter the partner's domain, e.g. northwind.test".to_owned(),
        ));
    }
    let margin = match form.margin_percent.trim().parse::<i32>() {
        Ok(m) if (0..=100).contains(&m) => Some(m),
        _ => {
            errors.push((
                "margin_percent",
                "enter a whole number from 0 to 100".to_owned(),
            ));
            None
        }
    };
    let (cn, ce) = (form.contact_name.trim(), form.contact_email.trim());
    if cn.is_empty() != ce.is_empty() {
        let missing = if cn.is_empty() {
            "contact_name"
        } else {
            "contact_email"
        };
        errors.push((
            missing,
            "give both the contact's name and e-mail, or neither".to_owned(),
        ));
    }
    let query = ListQuery::default();
    if !errors.is_empty() {
        return list_page(&ui, &session, &query, &form, &Errors(errors)).await;
    }
    let mut spec = json!({"displayName": form.display_name.trim(), "domain": form.domain.trim().to_lowercase(),
        "marginPercent": margin.unwrap_or_default()});
    if !cn.is_empty() {
        spec["contact"] = json!({"name": cn, "email": ce});
    }
    let body = json!({"name": name, "spec": spec});
    match ui
        .call(&session, Method::POST, "/api/v1/partners", Some(&body))
        .await?
    {
        Ok(_) => Ok(
            Redirect::to(&format!("/ui/console/partners/{}?created=1", seg(&name))).into_response(),
        ),
        Err(r) if r.status == StatusCode::FORBIDDEN => Err(r.into()),
        Err(r) => {
            let errors = Errors::from_refusal(&r);
            list_page(&ui, &session, &query, &form, &errors).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    live: Option<String>,
    created: Option<String>,
    attached: Option<String>,
    detached: Option<String>,
    error: Option<String>,
}

fn customers_html(partner: &str, customers: &[Value]) -> String {
    if customers.is_empty() {
        return "<p class=\"muted\">No customer yet. Attach a tenant below.</p>".into();
    }
    let mut html = String::from(
        "<table id=\"customers\"><thead><tr><th scope=\"col\">Tenant</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Plan</th><th scope=\"col\">Seats</th><th scope=\"col\">Action</th></tr></thead><tbody>",
    );
    for t in customers {
        let name = t["name"].as_str().unwrap_or_default();
        let state = t["state"].as_str().unwrap_or("pending");
        html.push_str(&format!(
            "<tr data-tenant=\"{n}\"><td><a href=\"/ui/console/tenants/{sn}\">{n}</a><div class=\"muted\">{dn}</div></td>\
             <td>{badge}</td><td>{plan}</td><td>{seats}</td>\
             <td><a class=\"button small\" data-action=\"detach\" href=\"/ui/console/partners/{sp}/detach/{sn}\">Detach<span class=\"sr\"> {n}</span>…</a></td></tr>",
            n = esc(name),
            sn = seg(name),
            sp = seg(partner),
            dn = field(t, "displayName"),
            badge = status_badge(state_status(state), state),
            plan = field(t, "plan"),
            seats = field(t, "seats"),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// `GET /ui/console/partners/{partner}`: contract, contact, customers, staff, actions.
pub async fn detail(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, UiError> {
    let me = operator(&ui, &session).await?;
    let sp = seg(&partner);
    let view = ui.get(&session, &format!("/api/v1/partners/{sp}")).await?;
    let customers = view["customers"].as_array().cloned().unwrap_or_default();
    if query.live.as_deref() == Some("1") {
        return Ok(fragment(customers_html(&partner, &customers)));
    }
    let spec = &view["partner"]["spec"];
    let ready = view["ready"].as_str().unwrap_or("Unknown");
    let mut html = format!(
        "<p class=\"crumbs\"><a href=\"/ui/console/partners\">Partners</a> /</p>\
         <h1>{} <span class=\"muted\">{}</span> {}</h1>",
        field(spec, "displayName"),
        esc(&partner),
        status_badge(ready, &format!("Ready: {ready}")),
    );
    if query.created.is_some() {
        html.push_str(&notice(&format!(
            "Partner {partner} created: the operator is setting up its staff group and namespace."
        )));
    }
    if let Some(t) = &query.attached {
        html.push_str(&notice(&format!(
            "Tenant {t} attached: it is now a customer of {partner}, and its staff can manage it."
        )));
    }
    if let Some(t) = &query.detached {
        html.push_str(&notice(&format!(
            "Tenant {t} detached: {partner}'s staff no longer reach it."
        )));
    }
    if let Some(e) = &query.error {
        html.push_str(&format!(
            "<p class=\"card field-error\" role=\"alert\" id=\"refused\">{}</p>",
            esc(e)
        ));
    }
    html.push_str(live_line());
    let contact = &spec["contact"];
    html.push_str(&format!(
        "<div class=\"grid2\"><section class=\"card\" id=\"contract\"><h2>Contract</h2><dl class=\"facts\">\
         <dt>Domain</dt><dd>{}</dd><dt>Margin</dt><dd>{} % of its customers' billing</dd>\
         <dt>Customers</dt><dd>{}</dd><dt>Suspended</dt><dd>{}</dd><dt>Reason</dt><dd>{}</dd></dl></section>\
         <section class=\"card\" id=\"contact\"><h2>Contact</h2><dl class=\"facts\">\
         <dt>Name</dt><dd>{}</dd><dt>E-mail</dt><dd>{}</dd></dl></section></div>",
        field(spec, "domain"),
        field(spec, "marginPercent"),
        count(customers.len(), "tenant", "tenants"),
        if spec["suspended"].as_bool() == Some(true) { "yes" } else { "no" },
        match view["reason"].as_str() {
            Some(r) if ready != "True" && !r.is_empty() => esc(r),
            _ => "–".to_owned(),
        },
        contact["name"].as_str().map(esc).unwrap_or_else(|| "–".into()),
        contact["email"].as_str().map(esc).unwrap_or_else(|| "–".into()),
    ));
    html.push_str(&format!(
        "<section class=\"card\"><h2>Customers</h2><div id=\"customers-live\" data-live=\"/ui/console/partners/{sp}?live=1\">{}</div></section>",
        customers_html(&partner, &customers)
    ));
    // tenants that could be attached: every tenant not already a customer of this partner
    let all = ui.get(&session, "/api/v1/tenants").await?;
    let options: String = all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["partner"].as_str() != Some(partner.as_str()))
        .map(|t| {
            let name = t["name"].as_str().unwrap_or_default();
            let from = t["partner"]
                .as_str()
                .map(|p| format!(" (moves it from {})", esc(p)))
                .unwrap_or_default();
            format!(
                "<option value=\"{n}\">{n}: {}{from}</option>",
                field(t, "displayName"),
                n = esc(name)
            )
        })
        .collect();
    if options.is_empty() {
        html.push_str("<section class=\"card\"><h2>Attach a tenant</h2><p class=\"muted\">Every tenant is already a customer of this partner.</p></section>");
    } else {
        html.push_str(&format!(
            "<section class=\"card\"><h2>Attach a tenant</h2>\
             <p class=\"muted\">The tenant becomes a customer of {n}: its staff can then see it, suspend and resume it. A tenant has one partner at most.</p>\
             <form method=\"post\" action=\"/ui/console/partners/{sp}/attach\" id=\"attach\" class=\"actions\">\
             <label for=\"attach-tenant\">Tenant</label><select id=\"attach-tenant\" name=\"tenant\">{options}</select>\
             <button type=\"submit\" class=\"primary\">Attach</button></form></section>",
            n = esc(&partner)
        ));
    }
    let staff = ui
        .get(&session, &format!("/api/v1/partners/{sp}/staff"))
        .await?;
    html.push_str("<section class=\"card\" id=\"staff\"><h2>Staff</h2>");
    let staff = staff["items"].as_array().cloned().unwrap_or_default();
    if staff.is_empty() {
        html.push_str("<p class=\"muted\">No staff yet.</p>");
    } else {
        html.push_str("<ul class=\"list\">");
        for s in &staff {
            let r = s["ready"].as_str().unwrap_or("Unknown");
            html.push_str(&format!(
                "<li>{} <span class=\"muted\">{}</span> {}</li>",
                field(s, "displayName"),
                field(s, "email"),
                status_badge(r, &format!("Ready: {r}"))
            ));
        }
        html.push_str("</ul>");
    }
    html.push_str(&format!(
        "</section><section class=\"card danger-zone\"><h2>Terminate</h2>\
         <p>Ends the contract: the Partner is deleted. Refused while it still has customers: detach them first.</p>\
         <a class=\"button danger\" id=\"terminate\" href=\"/ui/console/partners/{sp}/terminate\">Terminate {}…</a></section>",
        esc(&partner)
    ));
    Ok(page(&ui, &me, "partners", &partner, &html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_land_on_the_fields_they_name() {
        let r = Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            problem: json!({"detail": "invalid", "errors": [
                {"field": "spec.domain", "reason": "must be a domain"},
                {"field": "metadata.name", "reason": "must be a DNS-1123 label"},
                {"field": "spec.contact.email", "reason": "bad address"}]}),
        };
        let e = Errors::from_refusal(&r);
        assert_eq!(e.of("domain"), Some("must be a domain"));
        assert_eq!(e.of("name"), Some("must be a DNS-1123 label"));
        assert_eq!(e.of("contact_email"), Some("bad address"));
        let form = create_form(&CreateForm::default(), &e);
        assert!(form.contains("Web domain: must be a domain"));
        assert!(form.contains("Slug: must be a DNS-1123 label"));
    }

    #[test]
    fn the_list_shows_customers_and_margin() {
        let html = list_html(&[
            json!({"name": "nw", "displayName": "<NW>", "domain": "nw.test",
            "ready": "False", "reason": "GroupMissing", "customers": 2, "marginPercent": 20}),
        ]);
        assert!(html.contains("&lt;NW&gt;") && html.contains("20 %"));
        assert!(html.contains("GroupMissing") && html.contains(">2<"));
        let c = customers_html("nw", &[json!({"name": "acme", "state": "ready"})]);
        assert!(c.contains("/ui/console/partners/nw/detach/acme"));
    }
}
