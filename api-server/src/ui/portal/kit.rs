//! Building blocks shared by the portal's pages: the portal chrome (navigation by role), form
//! fields that name their errors, the same-origin check of state-changing requests,
//! confirmations that name the consequence, and the live regions the portal script refreshes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use serde_json::Value;

use super::super::api::{Refusal, UiState, seg};
use super::super::html::{self, Chrome, NavItem, esc};
use super::super::session::{Me, environment};

pub use super::super::api::same_origin;
pub use super::super::html::notice;

/// Where in the portal a page is, for the navigation.
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    Home,
    /// A tenant-admin page: the tenant and the section (`dashboard`, `members`, ...).
    Tenant(&'a str, &'static str),
    /// A partner page: the partner and the section (`customers`, `team`).
    Partner(&'a str, &'static str),
    Account,
}

/// The sections of a tenant's admin pages: (path, label).
const TENANT_SECTIONS: [(&str, &str); 6] = [
    ("dashboard", "Dashboard"),
    ("members", "Members"),
    ("domains", "Domains"),
    ("apps", "SSO apps"),
    ("security", "Security"),
    ("billing", "Billing"),
];

/// The sections of a partner's pages: (path, label).
const PARTNER_SECTIONS: [(&str, &str); 3] = [
    ("customers", "Customers"),
    ("team", "Team"),
    ("revenue", "Revenue"),
];

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The partners the user works for.
pub fn staff_of(me: &Me) -> Vec<String> {
    strings(&me.value["roles"]["partnerStaff"])
}

/// Renders a portal page: the navigation shows what the user's roles reach, and nothing else.
pub fn page(ui: &UiState, me: &Me, at: At<'_>, title: &str, content: &str) -> Response {
    let mut sections: Vec<(String, Vec<NavItem>)> = Vec::new();
    for t in me.admin_of() {
        let current = match at {
            At::Tenant(name, section) if name == t => Some(section),
            _ => None,
        };
        let items = TENANT_SECTIONS
            .iter()
            .map(|(path, label)| {
                NavItem::new(
                    format!("/ui/t/{}/{path}", seg(&t)),
                    *label,
                    current == Some(*path),
                )
            })
            .collect();
        sections.push((format!("Workspace {t}"), items));
    }
    for p in staff_of(me) {
        let current = match at {
            At::Partner(name, section) if name == p => Some(section),
            _ => None,
        };
        let items = PARTNER_SECTIONS
            .iter()
            .map(|(path, label)| {
                NavItem::new(
                    format!("/ui/p/{}/{path}", seg(&p)),
                    *label,
                    current == Some(*path),
                )
            })
            .collect();
        sections.push((format!("Partner {p}"), items));
    }
    let mut you = Vec::new();
    if matches!(at, At::Home) {
        you.push(NavItem::new("/ui/portal", "Start", true));
    }
    // partner staff have no self-service pages: their account is not a workspace membership
    let member_somewhere = me.value["members"]
        .as_array()
        .is_some_and(|m| !m.is_empty());
    if member_somewhere || matches!(at, At::Account) {
        you.push(NavItem::new(
            "/ui/me",
            "My account",
            matches!(at, At::Account),
        ));
    }
    if !you.is_empty() {
        sections.push(("You".into(), you));
    }
    let user = me.display();
    let (names, items): (Vec<String>, Vec<Vec<NavItem>>) = sections.into_iter().unzip();
    let chrome = Chrome {
        area: "Portal",
        environment: environment(ui),
        user: &user,
        sections: names.iter().map(String::as_str).zip(items).collect(),
    };
    html::page(title, &chrome, content)
}

/// A form's errors by field id (`form` for the whole form).
#[derive(Debug, Default)]
pub struct FormErrors(pub Vec<(&'static str, String)>);

impl FormErrors {
    pub fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, field: &'static str, reason: impl Into<String>) {
        self.0.push((field, reason.into()));
    }

    /// The API's field causes on the form's fields: `fields` maps the end of an API field path
    /// (`email`, `spec.domain`) to a form field; anything else lands on the whole form.
    pub fn from_refusal(r: &Refusal, fields: &[(&str, &'static str)]) -> FormErrors {
        let mut errors = Vec::new();
        for (f, reason) in r.fields() {
            let key = fields
                .iter()
                .find(|(suffix, _)| f.ends_with(suffix))
                .map(|(_, key)| *key)
                .unwrap_or("form");
            errors.push((key, reason));
        }
        if errors.is_empty() {
            errors.push(("form", r.detail()));
        }
        FormErrors(errors)
    }

    /// The whole form's error, if any.
    pub fn form_error(&self) -> String {
        self.of("form")
            .map(|e| {
                format!(
                    "<p class=\"field-error\" role=\"alert\" id=\"form-error\">{}</p>",
                    esc(e)
                )
            })
            .unwrap_or_default()
    }

    /// The status of a page that shows these errors.
    pub fn status(&self) -> StatusCode {
        if self.0.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

/// One input field with its label, hint and error (which names the field).
pub struct Input<'a> {
    pub id: &'static str,
    pub label: &'a str,
    pub kind: &'a str,
    pub value: &'a str,
    pub hint: &'a str,
    pub required: bool,
}

impl Input<'_> {
    pub fn render(&self, errors: &FormErrors) -> String {
        let id = self.id;
        let error = errors.of(id);
        let described = if error.is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{id}-error {id}-hint\"")
        } else {
            format!(" aria-describedby=\"{id}-hint\"")
        };
        format!(
            "<div class=\"field\"><label for=\"{id}\">{}</label>\
             <input id=\"{id}\" name=\"{id}\" type=\"{}\" value=\"{}\"{}{described}>\
             <small id=\"{id}-hint\" class=\"muted\">{}</small>{}</div>",
            esc(self.label),
            esc(self.kind),
            esc(self.value),
            if self.required { " required" } else { "" },
            esc(self.hint),
            field_error(id, self.label, error)
        )
    }
}

fn field_error(id: &str, label: &str, error: Option<&str>) -> String {
    error
        .map(|e| {
            format!(
                "<p class=\"field-error\" id=\"{id}-error\" role=\"alert\">{}: {}</p>",
                esc(label),
                esc(e)
            )
        })
        .unwrap_or_default()
}

/// A select field: `options` are (value, label).
pub fn select(
    id: &'static str,
    label: &str,
    options: &[(&str, &str)],
    selected: &str,
    hint: &str,
    errors: &FormErrors,
) -> String {
    let opts: String = options
        .iter()
        .map(|(v, l)| {
            format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(v),
                if *v == selected { " selected" } else { "" },
                esc(l)
            )
        })
        .collect();
    format!(
        "<div class=\"field\"><label for=\"{id}\">{}</label><select id=\"{id}\" name=\"{id}\" aria-describedby=\"{id}-hint\">{opts}</select>\
         <small id=\"{id}-hint\" class=\"muted\">{}</small>{}</div>",
        esc(label),
        esc(hint),
        field_error(id, label, errors.of(id))
    )
}

/// A confirmation: what will happen, the button that does it, and a way back.
pub struct Confirm<'a> {
    pub title: &'a str,
    /// Who or what it is about (shown under the title).
    pub subject: &'a str,
    pub consequence: &'a str,
    pub action: &'a str,
    pub button: &'a str,
    /// `danger` or `primary`.
    pub class: &'a str,
    pub cancel: &'a str,
}

impl Confirm<'_> {
    pub fn render(&self) -> String {
        format!(
            "<section class=\"card confirm\"><h1>{}</h1><p class=\"muted\">{}</p><p>{}</p>\
             <form method=\"post\" action=\"{}\" class=\"actions\">\
             <button type=\"submit\" class=\"{}\" id=\"confirm\">{}</button>\
             <a class=\"button\" href=\"{}\" id=\"cancel\">Cancel</a></form></section>",
            esc(self.title),
            esc(self.subject),
            esc(self.consequence),
            esc(self.action),
            esc(self.class),
            esc(self.button),
            esc(self.cancel),
        )
    }
}

/// The live connection of a tenant page: the server-sent events that make the page's live
/// regions (`data-live-src`) refresh.
pub fn live_bar(tenant: &str) -> String {
    format!(
        "<div id=\"portal-live\" class=\"live-bar\" data-events=\"/ui/t/{}/events\">\
         <span class=\"live-dot\" aria-hidden=\"true\"></span>\
         <span id=\"portal-live-state\" class=\"muted\" aria-live=\"polite\">Live status: connecting…</span></div>",
        seg(tenant)
    )
}

/// A region the portal script replaces with the HTML at `src` on every change (or every few
/// seconds when `poll` is set and the page has no live connection).
pub fn live_region(id: &str, src: &str, poll: bool, inner: &str) -> String {
    format!(
        "<div id=\"{}\" data-live-src=\"{}\"{}>{inner}</div>",
        esc(id),
        esc(src),
        if poll { " data-poll=\"2000\"" } else { "" }
    )
}

/// A panel that reveals a secret exactly once: the portal script asks `url` (POST) once the
/// element `when` exists on the page (e.g. the row saying the secret is issued), and shows the
/// answer's `value`; a 409 answer means not yet, and it asks again later.
pub fn reveal_panel(
    id: &str,
    url: &str,
    when: &str,
    heading: &str,
    waiting: &str,
    what: &str,
) -> String {
    format!(
        "<section class=\"card notice reveal\" id=\"{id}\" data-reveal-url=\"{url}\" data-when=\"{when}\" aria-live=\"polite\">\
         <h2>{heading}</h2><p class=\"reveal-waiting\">{waiting}</p>\
         <div class=\"reveal-shown\" hidden><p class=\"warning\" role=\"alert\"><strong>Copy this {what} now.</strong> \
         It is shown only once and never again.</p>\
         <p class=\"otp\"><code class=\"reveal-value\"></code> <button type=\"button\" class=\"reveal-copy\">Copy</button> \
         <span class=\"reveal-copied muted\" aria-live=\"polite\"></span></p></div>\
         <p class=\"field-error reveal-error\" hidden></p></section>",
        id = esc(id),
        url = esc(url),
        when = esc(when),
        heading = esc(heading),
        waiting = esc(waiting),
        what = esc(what),
    )
}

/// An HTML fragment for a live region, never cached.
pub fn fragment(html: String) -> Response {
    let mut r = Html(html).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The JSON answer of a reveal: `{"value": ...}` or `{"error": ...}` with the API's status.
pub fn reveal_answer(answer: Result<String, Refusal>) -> Response {
    let (status, body) = match answer {
        Ok(value) => (StatusCode::OK, serde_json::json!({ "value": value })),
        Err(r) => (r.status, serde_json::json!({ "error": r.detail() })),
    };
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A condition's status as a badge with words (Ready, Not ready, Provisioning).
pub fn ready_badge(ready: &str) -> String {
    let label = match ready {
        "True" => "Ready",
        "False" => "Not ready",
        _ => "Provisioning",
    };
    html::status_badge(ready, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_field_errors_land_on_form_fields() {
        let r = Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            problem: serde_json::json!({"detail": "invalid", "errors": [{"field": "spec.email", "reason": "bad address"}]}),
        };
        let e = FormErrors::from_refusal(&r, &[("email", "email")]);
        assert_eq!(e.of("email"), Some("bad address"));
        let r = Refusal {
            status: StatusCode::CONFLICT,
            problem: serde_json::json!({"detail": "already exists"}),
        };
        assert_eq!(
            FormErrors::from_refusal(&r, &[]).of("form"),
            Some("already exists")
        );
    }

    #[test]
    fn fields_name_their_error_and_escape_values() {
        let mut errors = FormErrors::default();
        errors.push("email", "enter an address");
        let html = Input {
            id: "email",
            label: "E-mail address",
            kind: "email",
            value: "\"><script>",
            hint: "h",
            required: true,
        }
        .render(&errors);
        assert!(html.contains("E-mail address: enter an address"));
        assert!(html.contains("aria-invalid=\"true\""));
        assert!(!html.contains("<script>"));
        let confirm = Confirm {
            title: "Remove <x>?",
            subject: "s",
            consequence: "c",
            action: "/a",
            button: "b",
            class: "danger",
            cancel: "/c",
        }
        .render();
        assert!(confirm.contains("Remove &lt;x&gt;?"));
    }
}
