//! The partner staff's customers page: their customers' status at a glance, creating a customer
//! tenant, and suspending or resuming one behind a confirmation. The team has its own page
//! (`team.rs`); revenue is another engineer's page, linked from the navigation.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::UiError;
use super::super::api::{Session, UiState, seg};
use super::super::html::{dot, esc, field, query_value, status_badge};
use super::super::session::Me;
use super::kit::{
    At, Confirm, FormErrors, Input, fragment, notice, page, ready_badge, same_origin, select,
};
use crate::routes::slug;

const PLANS: [(&str, &str); 3] = [
    ("starter", "Starter"),
    ("business", "Business"),
    ("enterprise", "Enterprise"),
];

/// `GET /ui/p/{partner}`.
pub async fn to_customers(Path(partner): Path<String>) -> Response {
    Redirect::to(&format!("/ui/p/{}/customers", seg(&partner))).into_response()
}

fn customer_rows_html(partner: &str, items: &[Value]) -> String {
    if items.is_empty() {
        return "<tr><td colspan=\"5\" class=\"muted\">No customers yet. Create the first one below.</td></tr>".into();
    }
    let p = seg(partner);
    let mut html = String::new();
    for c in items {
        let name = c["name"].as_str().unwrap_or_default();
        let ready = c["ready"].as_str().unwrap_or("Unknown");
        let suspended = c["suspended"] == json!(true);
        let badge = if suspended {
            status_badge("False", "Suspended")
        } else {
            ready_badge(ready)
        };
        let mut upstreams = String::new();
        if let Some(map) = c["upstreams"].as_object() {
            for (kind, s) in map {
                upstreams.push_str(&dot(kind, s.as_str().unwrap_or("Unknown")));
            }
        }
        let (action, label) = if suspended {
            ("resume", "Resume")
        } else {
            ("suspend", "Suspend")
        };
        let reason = match c["reason"].as_str() {
            Some(r) if ready != "True" && !suspended && !r.is_empty() => esc(r),
            _ => String::new(),
        };
        html.push_str(&format!(
            "<tr data-customer=\"{n}\" data-ready=\"{r}\" data-suspended=\"{suspended}\"><td><strong>{dn}</strong><div class=\"muted\">{n}</div></td>\
             <td>{plan}</td><td>{used} of {seats}</td><td>{badge} <span class=\"upstreams\">{upstreams}</span><div class=\"reason\">{reason}</div></td>\
             <td><a class=\"button small\" href=\"/ui/p/{p}/customers/{sn}/{action}\" data-action=\"{action}\">{label}<span class=\"sr\"> {dn}</span></a></td></tr>",
            n = esc(name),
            sn = seg(name),
            r = esc(ready),
            dn = field(c, "displayName"),
            plan = field(c, "plan"),
            used = c["seatsUsed"].as_i64().unwrap_or(0),
            seats = c["seats"].as_i64().unwrap_or(0),
        ));
    }
    html
}

async fn customer_list(
    ui: &UiState,
    session: &Session,
    partner: &str,
) -> Result<Vec<Value>, UiError> {
    let list = ui
        .get(
            session,
            &format!("/api/v1/partners/{}/customers", seg(partner)),
        )
        .await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomerForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    seats: String,
    #[serde(default)]
    billing_email: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomersQuery {
    created: Option<String>,
    done: Option<String>,
    customer: Option<String>,
}

async fn customers_page(
    ui: &UiState,
    session: &Session,
    partner: &str,
    query: &CustomersQuery,
    form: &CustomerForm,
    errors: &FormErrors,
) -> Result<Response, UiError> {
    let items = customer_list(ui, session, partner).await?;
    let me = Me::load(ui, session).await?;
    let p = seg(partner);
    let mut html = format!(
        "<h1>Customers <span class=\"muted\">of {}</span></h1>",
        esc(partner)
    );
    if let Some(c) = &query.created {
        html.push_str(&notice(&format!(
            "Customer {c} created: its workspace is being provisioned; the status below turns Ready when it is done."
        )));
    }
    if let (Some(done), Some(c)) = (&query.done, &query.customer) {
        let what = if done == "suspend" {
            "suspended: nobody in it can sign in; nothing is deleted"
        } else {
            "resumed: its people can sign in again"
        };
        html.push_str(&notice(&format!("Customer {c} {what}.")));
    }
    html.push_str(
        "<p class=\"muted\">Each customer's status updates by itself as its workspace is provisioned.</p>",
    );
    html.push_str(&format!(
        "<section class=\"card\"><div class=\"table-wrap\"><table id=\"customers\"><thead><tr><th scope=\"col\">Customer</th><th scope=\"col\">Plan</th>\
         <th scope=\"col\">Seats</th><th scope=\"col\">Status</th><th scope=\"col\">Actions</th></tr></thead>\
         <tbody id=\"customer-rows\" data-live-src=\"/ui/p/{p}/customers/rows\" data-poll=\"3000\">{}</tbody></table></div></section>",
        customer_rows_html(partner, &items)
    ));
    let plan = if form.plan.is_empty() {
        "business"
    } else {
        form.plan.as_str()
    };
    let seats = if form.seats.is_empty() {
        "10"
    } else {
        form.seats.as_str()
    };
    html.push_str(&format!(
        "<section class=\"card\"><h2 id=\"create\">Create a customer</h2>\
         <p class=\"muted\">This creates the customer's workspace under your partnership: single sign-on, mail and files, billed through you.</p>\
         {}<form method=\"post\" action=\"/ui/p/{p}/customers\" id=\"create-customer\" novalidate>{}{}{}{}{}\
         <button type=\"submit\" class=\"primary\">Create customer</button></form></section>",
        errors.form_error(),
        Input { id: "display_name", label: "Company name", kind: "text", value: &form.display_name,
            hint: "As the customer is known, e.g. Acme Corp", required: true }.render(errors),
        Input { id: "name", label: "Short name", kind: "text", value: &form.name,
            hint: "Lower-case letters, digits and dashes, at most 40; made from the company name when left empty", required: false }.render(errors),
        select("plan", "Plan", &PLANS, plan, "The plan sets the features and the price per seat.", errors),
        Input { id: "seats", label: "Seats", kind: "number", value: seats,
            hint: "The most members the customer may have", required: true }.render(errors),
        Input { id: "billing_email", label: "Billing e-mail (optional)", kind: "email", value: &form.billing_email,
            hint: "Where invoices go", required: false }.render(errors),
    ));
    let page = page(
        ui,
        &me,
        At::Partner(partner, "customers"),
        &format!("Customers of {partner}"),
        &html,
    );
    Ok((errors.status(), page).into_response())
}

/// `GET /ui/p/{partner}/customers`.
pub async fn customers(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
    Query(query): Query<CustomersQuery>,
) -> Result<Response, UiError> {
    customers_page(
        &ui,
        &session,
        &partner,
        &query,
        &CustomerForm::default(),
        &FormErrors::default(),
    )
    .await
}

/// `GET /ui/p/{partner}/customers/rows`.
pub async fn customer_rows(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
) -> Result<Response, UiError> {
    let items = customer_list(&ui, &session, &partner).await?;
    Ok(fragment(customer_rows_html(&partner, &items)))
}

/// `POST /ui/p/{partner}/customers`: creates a customer tenant under the partner.
pub async fn create_customer(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CustomerForm>,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    let mut errors = FormErrors::default();
    let display_name = form.display_name.trim();
    if display_name.is_empty() {
        errors.push("display_name", "enter the customer's company name");
    }
    let name = if form.name.trim().is_empty() {
        slug(display_name)
            .chars()
            .take(40)
            .collect::<String>()
            .trim_end_matches('-')
            .to_owned()
    } else {
        form.name.trim().to_owned()
    };
    if !display_name.is_empty() && name.is_empty() {
        errors.push("name", "enter a short name of letters and digits");
    }
    if !PLANS.iter().any(|(v, _)| *v == form.plan) {
        errors.push("plan", "choose starter, business or enterprise");
    }
    let seats: i64 = match form.seats.trim().parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            errors.push("seats", "enter a whole number of at least 1");
            0
        }
    };
    let billing_email = form.billing_email.trim();
    if !billing_email.is_empty() && !billing_email.contains('@') {
        errors.push(
            "billing_email",
            "enter a full address such as billing@example.com, or leave it empty",
        );
    }
    let query = CustomersQuery::default();
    if !errors.is_empty() {
        return customers_page(&ui, &session, &partner, &query, &form, &errors).await;
    }
    let mut spec = json!({"displayName": display_name, "plan": form.plan, "seats": seats,
        "storageQuota": "100Gi", "mailboxQuota": "5Gi"});
    if !billing_email.is_empty() {
        spec["billing"] = json!({"email": billing_email, "company": display_name});
    }
    let body = json!({"name": name, "spec": spec});
    match ui
        .call(
            &session,
            Method::POST,
            &format!("/api/v1/partners/{}/customers", seg(&partner)),
            Some(&body),
        )
        .await?
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/ui/p/{}/customers?created={}",
            seg(&partner),
            query_value(&name)
        ))
        .into_response()),
        Err(r) if r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND => {
            Err(r.into())
        }
        Err(r) => {
            let mut errors = FormErrors::from_refusal(
                &r,
                &[
                    ("displayName", "display_name"),
                    ("seats", "seats"),
                    ("plan", "plan"),
                    ("billing.email", "billing_email"),
                    ("name", "name"),
                ],
            );
            if r.status == StatusCode::CONFLICT && errors.of("name").is_none() {
                errors = FormErrors(vec![(
                    "name",
                    "this short name is taken; choose another".into(),
                )]);
            }
            customers_page(&ui, &session, &partner, &query, &form, &errors).await
        }
    }
}

fn customer_action(action: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match action {
        "suspend" => Some((
            "Suspend",
            "Nobody in this customer's workspace can sign in, read mail or open files until you resume it. Nothing is deleted.",
            "danger",
        )),
        "resume" => Some((
            "Resume",
            "The customer's people can sign in again with their existing credentials.",
            "primary",
        )),
        _ => None,
    }
}

/// `GET /ui/p/{partner}/customers/{tenant}/{action}`: the confirmation.
pub async fn confirm(
    State(ui): State<UiState>,
    session: Session,
    Path((partner, tenant, action)): Path<(String, String, String)>,
) -> Result<Response, UiError> {
    let (verb, consequence, class) = customer_action(&action)
        .ok_or_else(|| UiError::NotFound("there is no such action".into()))?;
    let p = seg(&partner);
    let c = ui
        .get(
            &session,
            &format!("/api/v1/partners/{p}/customers/{}", seg(&tenant)),
        )
        .await?;
    let me = Me::load(&ui, &session).await?;
    let display = c["summary"]["displayName"]
        .as_str()
        .unwrap_or(&tenant)
        .to_owned();
    let title = format!("{verb} {display}?");
    let html = Confirm {
        title: &title,
        subject: &format!("Customer {tenant}"),
        consequence,
        action: &format!("/ui/p/{p}/customers/{}/{}", seg(&tenant), seg(&action)),
        button: &format!("{verb} {display}"),
        class,
        cancel: &format!("/ui/p/{p}/customers"),
    }
    .render();
    Ok(page(
        &ui,
        &me,
        At::Partner(&partner, "customers"),
        &title,
        &html,
    ))
}

/// `POST /ui/p/{partner}/customers/{tenant}/{action}`.
pub async fn act(
    State(ui): State<UiState>,
    session: Session,
    Path((partner, tenant, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    same_origin(&headers)?;
    if customer_action(&action).is_none() {
        return Err(UiError::NotFound("there is no such action".into()));
    }
    let p = seg(&partner);
    ui.call(
        &session,
        Method::POST,
        &format!("/api/v1/partners/{p}/customers/{}/{action}", seg(&tenant)),
        None,
    )
    .await??;
    Ok(Redirect::to(&format!(
        "/ui/p/{p}/customers?done={}&customer={}",
        query_value(&action),
        query_value(&tenant)
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_rows_show_status_and_the_right_action() {
        let items = vec![
            json!({"name": "acme", "displayName": "<Acme>", "plan": "business", "seats": 10, "seatsUsed": 3,
                   "suspended": false, "ready": "False", "reason": "BillingFailed", "upstreams": {"IdentityReady": "True"}}),
            json!({"name": "wayne", "displayName": "Wayne", "suspended": true, "ready": "True"}),
        ];
        let html = customer_rows_html("northwind", &items);
        assert!(html.contains("&lt;Acme&gt;") && !html.contains("<Acme>"));
        assert!(html.contains("/ui/p/northwind/customers/acme/suspend"));
        assert!(html.contains("/ui/p/northwind/customers/wayne/resume"));
        assert!(html.contains("BillingFailed") && html.contains("3 of 10"));
    }
}
