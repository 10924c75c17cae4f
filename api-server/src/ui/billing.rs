//! The billing pages: a tenant's Billing page in the portal (plan, seats, subscription, default
//! card, invoices, adding a card through a SetupIntent), the console's Billing tab of a tenant and
//! its platform-wide Invoices page, and a partner's Revenue page. Every page reads through the
//! JSON API as the signed-in user and says plainly when billing is switched off.
//!
//! Adding a card: on Stripe the card is entered with Stripe.js, which these pages do not load (the
//! page says so). With localstripe (development) the page shows the SetupIntent's state and
//! confirms it with Stripe's test card through the API; the client secret never reaches the page.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use super::UiError;
use super::api::{Session, UiState, seg};
use super::console;
use super::html::{esc, field, query_value};
use super::portal::kit::{self, At};
use super::session::Me;

/// The billing pages' routes (the UI router adds its state).
pub fn router() -> Router<UiState> {
    Router::new()
        .route("/ui/t/{tenant}/billing", get(portal_billing))
        .route("/ui/t/{tenant}/billing/card", post(add_card))
        .route("/ui/t/{tenant}/billing/card/{intent}", get(card_intent))
        .route(
            "/ui/t/{tenant}/billing/card/{intent}/confirm",
            post(confirm_card),
        )
        .route("/ui/p/{partner}/revenue", get(partner_revenue))
        .route("/ui/console/invoices", get(console_invoices))
        .route("/ui/console/tenants/{tenant}/billing", get(console_billing))
}

/// Shown wherever billing would be, when it is switched off.
const BILLING_OFF: &str = "<section class=\"card\" data-billing=\"off\"><h2>Billing is switched off</h2>\
     <p>This installation does not bill through Stripe, so there are no invoices, cards or \
     revenue to show. An operator switches billing on in the configuration \
     (<code>upstreams.stripe.enabled</code> with the credentials <code>stripe-api-key</code> and \
     <code>stripe-webhook-secret</code>).</p></section>";

/// Whether billing is on (`GET /api/v1/billing`).
async fn billing_on(ui: &UiState, session: &Session) -> Result<bool, UiError> {
    let v = ui.get(session, "/api/v1/billing").await?;
    Ok(v["enabled"].as_bool() == Some(true))
}

/// An amount in the currency's smallest unit, e.g. `12.00 EUR`.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!(
        "{sign}{}.{:02} {}",
        c / 100,
        c % 100,
        currency.to_uppercase()
    )
}

/// A Unix time as a UTC date.
fn date(unix: Option<i64>) -> String {
    unix.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "–".into())
}

fn invoice_badge(status: &str) -> String {
    let class = match status {
        "paid" => "ok",
        "open" | "draft" => "wait",
        _ => "bad",
    };
    format!(
        "<span class=\"badge {class}\" data-invoice-status=\"{s}\">{s}</span>",
        s = esc(status)
    )
}

/// The invoices table; `with_tenant` adds the tenant column (console).
fn invoices_table(items: &[Value], with_tenant: bool) -> String {
    let tenant_head = if with_tenant {
        "<th scope=\"col\">Tenant</th>"
    } else {
        ""
    };
    let mut html = format!(
        "<table class=\"table\" id=\"invoices\"><caption class=\"sr\">Invoices, newest first</caption>\
         <thead><tr><th scope=\"col\">Date</th>{tenant_head}<th scope=\"col\">Number</th>\
         <th scope=\"col\">Period</th><th scope=\"col\">Amount</th><th scope=\"col\">Status</th></tr></thead><tbody>"
    );
    if items.is_empty() {
        let cols = if with_tenant { 6 } else { 5 };
        html.push_str(&format!(
            "<tr><td colspan=\"{cols}\" class=\"muted\">No invoices yet.</td></tr>"
        ));
    }
    for i in items {
        let currency = i["currency"].as_str().unwrap_or_default();
        let tenant_cell = if with_tenant {
            match i["tenant"].as_str() {
                Some(t) => format!(
                    "<td><a href=\"/ui/console/tenants/{}/billing\">{}</a></td>",
                    seg(t),
                    esc(t)
                ),
                None => "<td class=\"muted\">not a tenant's</td>".into(),
            }
        } else {
            String::new()
        };
        let number = match (i["number"].as_str(), i["hostedInvoiceUrl"].as_str()) {
            (Some(n), Some(url)) if url.starts_with("https://") => format!(
                "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
                esc(url),
                esc(n)
            ),
            (Some(n), _) => esc(n),
            (None, _) => field(i, "id"),
        };
        html.push_str(&format!(
            "<tr data-invoice=\"{id}\"><td>{created}</td>{tenant_cell}<td>{number}</td>\
             <td>{from} – {to}</td><td>{amount}</td><td>{badge}</td></tr>",
            id = field(i, "id"),
            created = date(i["created"].as_i64()),
            from = date(i["periodStart"].as_i64()),
            to = date(i["periodEnd"].as_i64()),
            amount = esc(&money(i["total"].as_i64().unwrap_or_default(), currency)),
            badge = invoice_badge(i["status"].as_str().unwrap_or("unknown")),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// The "older invoices" link of a paged list.
fn next_link(page: &Value, base: &str) -> String {
    match page["nextCursor"].as_str() {
        Some(cursor) if page["hasMore"].as_bool() == Some(true) => format!(
            "<p><a class=\"button\" href=\"{base}?after={}\">Older invoices</a></p>",
            query_value(cursor)
        ),
        _ => String::new(),
    }
}

/// The summary card of a tenant's billing (plan, seats, subscription, card).
fn summary_card(b: &Value) -> String {
    let card = match (b["card"]["brand"].as_str(), b["card"]["last4"].as_str()) {
        (Some(brand), Some(last4)) => format!(
            "<span data-card=\"{b}-{l}\">{b} ending in {l}</span>",
            b = esc(brand),
            l = esc(last4)
        ),
        _ => "<span class=\"muted\" data-card=\"none\">No card on file</span>".into(),
    };
    let subscription = match b["subscriptionStatus"].as_str() {
        Some(s) => esc(s),
        None if b["customerId"].is_null() => {
            "<span class=\"muted\">not set up yet: the platform creates the customer and subscription shortly</span>"
                .into()
        }
        None => "<span class=\"muted\">unknown</span>".into(),
    };
    let used = b["seatsUsed"]
        .as_i64()
        .map(|u| u.to_string())
        .unwrap_or_else(|| "–".into());
    format!(
        "<section class=\"card\"><h2>Plan and payment</h2><dl class=\"facts\">\
         <dt>Plan</dt><dd data-plan>{plan}</dd>\
         <dt>Seats</dt><dd>{used} used of {seats}</dd>\
         <dt>Subscription</dt><dd data-subscription>{subscription}</dd>\
         <dt>Payment method</dt><dd>{card}</dd></dl></section>",
        plan = field(b, "plan"),
        seats = field(b, "seats"),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// The last invoice of the previous page.
    pub after: Option<String>,
    /// What the last action did (`card-added`).
    pub done: Option<String>,
}

impl PageQuery {
    fn cursor(&self) -> String {
        match self.after.as_deref() {
            Some(a) if !a.is_empty() => format!("&startingAfter={}", query_value(a)),
            _ => String::new(),
        }
    }
}

async fn portal_me(ui: &UiState, session: &Session) -> Result<Me, UiError> {
    if session.audience == "console" {
        return Err(UiError::Forbidden(
            "these pages are the portal's; sign in to the portal".into(),
        ));
    }
    Me::load(ui, session).await
}

/// `GET /ui/t/{tenant}/billing`: the tenant's Billing page.
async fn portal_billing(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, UiError> {
    let me = portal_me(&ui, &session).await?;
    let at = At::Tenant(&tenant, "billing");
    let mut html = format!("<h1>Billing of {}</h1>", esc(&tenant));
    if !billing_on(&ui, &session).await? {
        html.push_str(BILLING_OFF);
        return Ok(kit::page(&ui, &me, at, "Billing", &html));
    }
    let t = seg(&tenant);
    let b = ui
        .get(&session, &format!("/api/v1/tenants/{t}/billing"))
        .await?;
    if query.done.as_deref() == Some("card-added") {
        html.push_str(&kit::notice(
            "The card was added and is now the default for invoices.",
        ));
    }
    html.push_str(&summary_card(&b));
    if !b["customerId"].is_null() {
        html.push_str(&format!(
            "<section class=\"card\"><h2>Add a card</h2><p>The new card becomes the default for \
             invoices. Only its brand and last four digits are ever shown here.</p>\
             <form method=\"post\" action=\"/ui/t/{t}/billing/card\">\
             <button type=\"submit\" class=\"primary\">Add a card</button></form></section>"
        ));
    }
    let invoices = ui
        .get(
            &session,
            &format!("/api/v1/tenants/{t}/invoices?limit=20{}", query.cursor()),
        )
        .await?;
    let items = invoices["items"].as_array().cloned().unwrap_or_default();
    html.push_str("<section class=\"card\"><h2>Invoices</h2>");
    html.push_str(&invoices_table(&items, false));
    html.push_str(&next_link(&invoices, &format!("/ui/t/{t}/billing")));
    html.push_str("</section>");
    Ok(kit::page(&ui, &me, at, "Billing", &html))
}

/// `POST /ui/t/{tenant}/billing/card`: starts adding a card (a new SetupIntent).
async fn add_card(
    State(ui): State<UiState>,
    session: Session,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Response, UiError> {
    kit::same_origin(&headers)?;
    let t = seg(&tenant);
    let created = ui
        .call(
            &session,
            Method::POST,
            &format!("/api/v1/tenants/{t}/payment-method/setup-intents"),
            None,
        )
        .await??;
    let id = created["id"].as_str().unwrap_or_default();
    Ok(Redirect::to(&format!("/ui/t/{t}/billing/card/{}", seg(id))).into_response())
}

/// `GET /ui/t/{tenant}/billing/card/{intent}`: the SetupIntent's state and the next step.
async fn card_intent(
    State(ui): State<UiState>,
    session: Session,
    Path((tenant, intent)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let me = portal_me(&ui, &session).await?;
    let t = seg(&tenant);
    let i = seg(&intent);
    let state = ui.get(&session, "/api/v1/billing").await?;
    let found = ui
        .get(
            &session,
            &format!("/api/v1/tenants/{t}/payment-method/setup-intents/{i}"),
        )
        .await?;
    let status = found["status"].as_str().unwrap_or("unknown");
    let mut html = format!(
        "<h1>Add a card</h1><section class=\"card\"><dl class=\"facts\">\
         <dt>Request</dt><dd><code>{}</code></dd><dt>State</dt><dd data-intent-status=\"{s}\">{s}</dd></dl>",
        esc(&intent),
        s = esc(status)
    );
    match (status, state["provider"].as_str()) {
        ("succeeded", _) => html.push_str(&format!(
            "<form method=\"post\" action=\"/ui/t/{t}/billing/card/{i}/confirm\">\
             <button type=\"submit\" class=\"primary\">Use this card for invoices</button></form>"
        )),
        ("requires_payment_method", Some("localstripe")) => html.push_str(&format!(
            "<p><strong>Development installation (localstripe):</strong> there is no card form \
             here. Confirming uses Stripe's public test card (Visa ending in 4242) through the \
             API and makes it the default.</p>\
             <form method=\"post\" action=\"/ui/t/{t}/billing/card/{i}/confirm\">\
             <button type=\"submit\" class=\"primary\">Confirm with the test card</button></form>"
        )),
        ("requires_payment_method" | "requires_action", _) => html.push_str(
            "<p role=\"alert\">Entering a card needs Stripe.js, which these pages do not load in \
             this version. Ask your platform operator to add the card in the Stripe dashboard.</p>",
        ),
        _ => html.push_str(&format!(
            "<p role=\"alert\">This request can no longer add a card. \
             <a href=\"/ui/t/{t}/billing\">Back to billing</a> to start again.</p>"
        )),
    }
    html.push_str(&format!(
        "<p><a href=\"/ui/t/{t}/billing\">Back to billing</a></p></section>"
    ));
    Ok(kit::page(
        &ui,
        &me,
        At::Tenant(&tenant, "billing"),
        "Add a card",
        &html,
    ))
}

/// `POST /ui/t/{tenant}/billing/card/{intent}/confirm`: confirms with the test card when the
/// SetupIntent still needs one (localstripe), then makes the card the default.
async fn confirm_card(
    State(ui): State<UiState>,
    session: Session,
    headers: HeaderMap,
    Path((tenant, intent)): Path<(String, String)>,
) -> Result<Response, UiError> {
    kit::same_origin(&headers)?;
    let t = seg(&tenant);
    let base = format!(
        "/api/v1/tenants/{t}/payment-method/setup-intents/{}",
        seg(&intent)
    );
    let found = ui.get(&session, &base).await?;
    if found["status"].as_str() != Some("succeeded") {
        ui.call(
            &session,
            Method::POST,
            &format!("{base}/test-confirm"),
            None,
        )
        .await??;
    }
    ui.call(&session, Method::POST, &format!("{base}/complete"), None)
        .await??;
    Ok(Redirect::to(&format!("/ui/t/{t}/billing?done=card-added")).into_response())
}

/// `GET /ui/p/{partner}/revenue`: the partner's margin per period.
async fn partner_revenue(
    State(ui): State<UiState>,
    session: Session,
    Path(partner): Path<String>,
) -> Result<Response, UiError> {
    let me = portal_me(&ui, &session).await?;
    let at = At::Partner(&partner, "revenue");
    let mut html = format!("<h1>Revenue of {}</h1>", esc(&partner));
    if !billing_on(&ui, &session).await? {
        html.push_str(BILLING_OFF);
        return Ok(kit::page(&ui, &me, at, "Revenue", &html));
    }
    let r = ui
        .get(
            &session,
            &format!("/api/v1/partners/{}/revenue", seg(&partner)),
        )
        .await?;
    html.push_str(&format!(
        "<p>Your margin is <strong data-margin-percent>{}%</strong> of what your customers paid \
         (paid invoices only; open invoices are not earned yet).</p>",
        field(&r, "marginPercent")
    ));
    html.push_str(
        "<section class=\"card\"><h2>Per month</h2><table class=\"table\" id=\"revenue\">\
         <thead><tr><th scope=\"col\">Month</th><th scope=\"col\">Paid invoices</th>\
         <th scope=\"col\">Customers paid</th><th scope=\"col\">Your margin</th></tr></thead><tbody>",
    );
    let periods = r["periods"].as_array().cloned().unwrap_or_default();
    if periods.is_empty() {
        html.push_str("<tr><td colspan=\"4\" class=\"muted\">No paid invoices yet.</td></tr>");
    }
    for p in &periods {
        let currency = p["currency"].as_str().unwrap_or_default();
        html.push_str(&format!(
            "<tr data-period=\"{period}\"><td>{period}</td><td>{n}</td><td>{paid}</td><td data-margin>{margin}</td></tr>",
            period = field(p, "period"),
            n = field(p, "invoices"),
            paid = esc(&money(p["paid"].as_i64().unwrap_or_default(), currency)),
            margin = esc(&money(p["margin"].as_i64().unwrap_or_default(), currency)),
        ));
    }
    html.push_str(
        "</tbody></table></section><section class=\"card\"><h2>Customers</h2><ul class=\"list\">",
    );
    for c in r["customers"].as_array().cloned().unwrap_or_default() {
        let note = if c["billed"].as_bool() == Some(true) {
            format!("{} paid invoices", field(&c, "paidInvoices"))
        } else {
            "not billed yet".into()
        };
        html.push_str(&format!(
            "<li>{} <span class=\"muted\">{note}</span></li>",
            field(&c, "tenant")
        ));
    }
    html.push_str("</ul></section>");
    Ok(kit::page(&ui, &me, at, "Revenue", &html))
}

/// `GET /ui/console/invoices`: every tenant's invoices, newest first, paged.
async fn console_invoices(
    State(ui): State<UiState>,
    session: Session,
    Query(query): Query<PageQuery>,
) -> Result<Response, UiError> {
    let me = console::operator(&ui, &session).await?;
    let mut html = String::from("<h1>Invoices</h1>");
    if !billing_on(&ui, &session).await? {
        html.push_str(BILLING_OFF);
        return Ok(console::page(&ui, &me, "invoices", "Invoices", &html));
    }
    let page = ui
        .get(
            &session,
            &format!("/api/v1/billing/invoices?limit=25{}", query.cursor()),
        )
        .await?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    html.push_str("<section class=\"card\">");
    html.push_str(&invoices_table(&items, true));
    html.push_str(&next_link(&page, "/ui/console/invoices"));
    html.push_str("</section>");
    Ok(console::page(&ui, &me, "invoices", "Invoices", &html))
}

/// `GET /ui/console/tenants/{tenant}/billing`: the tenant detail's Billing tab.
async fn console_billing(
    State(ui): State<UiState>,
    session: Session,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, UiError> {
    let me = console::operator(&ui, &session).await?;
    let t = seg(&tenant);
    let mut html = format!(
        "{}<h1>Billing of {}</h1>",
        console::tenant_tabs(&tenant, "/billing"),
        esc(&tenant)
    );
    if !billing_on(&ui, &session).await? {
        html.push_str(BILLING_OFF);
        return Ok(console::page(&ui, &me, "tenants", "Billing", &html));
    }
    let b = ui
        .get(&session, &format!("/api/v1/tenants/{t}/billing"))
        .await?;
    html.push_str(&summary_card(&b));
    html.push_str(&format!(
        "<section class=\"card\"><h2>Stripe</h2><dl class=\"facts\"><dt>Customer</dt><dd><code>{}</code></dd>\
         <dt>Subscription</dt><dd><code>{}</code></dd></dl></section>",
        field(&b, "customerId"),
        field(&b, "subscriptionId"),
    ));
    let invoices = ui
        .get(
            &session,
            &format!("/api/v1/tenants/{t}/invoices?limit=20{}", query.cursor()),
        )
        .await?;
    let items = invoices["items"].as_array().cloned().unwrap_or_default();
    html.push_str("<section class=\"card\"><h2>Invoices</h2>");
    html.push_str(&invoices_table(&items, false));
    html.push_str(&next_link(
        &invoices,
        &format!("/ui/console/tenants/{t}/billing"),
    ));
    html.push_str("</section>");
    Ok(console::page(&ui, &me, "tenants", "Billing", &html))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_are_shown_in_units_of_the_currency() {
        assert_eq!(money(1200, "eur"), "12.00 EUR");
        assert_eq!(money(5, "usd"), "0.05 USD");
        assert_eq!(money(-250, "eur"), "-2.50 EUR");
    }

    #[test]
    fn invoices_are_escaped_and_link_only_https() {
        let items = [
            json!({"id": "in_1", "number": "<b>", "status": "paid", "currency": "eur",
            "total": 1200, "created": 1_792_022_400, "hostedInvoiceUrl": "javascript:alert(1)",
            "tenant": "acme"}),
        ];
        let html = invoices_table(&items, true);
        assert!(
            html.contains("&lt;b&gt;") && !html.contains("<b>"),
            "{html}"
        );
        assert!(!html.contains("javascript:"), "{html}");
        assert!(
            html.contains("2026-10-15") && html.contains("12.00 EUR"),
            "{html}"
        );
        assert!(html.contains("/ui/console/tenants/acme/billing"), "{html}");
    }

    #[test]
    fn the_card_shows_brand_and_last_four_only() {
        let b = json!({"plan": "business", "seats": 5, "seatsUsed": 2, "customerId": "cus_1",
            "subscriptionStatus": "active", "card": {"brand": "visa", "last4": "4242"}});
        let html = summary_card(&b);
        assert!(html.contains("visa ending in 4242"), "{html}");
        assert!(html.contains("2 used of 5"), "{html}");
    }
}
