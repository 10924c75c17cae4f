//! HTML building blocks: escaping (every dynamic value goes through [`esc`]), the page chrome
//! (sidebar, top bar, theme switch, the console's search palette, sign-out) and small components
//! (condition badges, dots, tabs, form fields).

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON string field, escaped; empty when absent.
pub fn field(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => esc(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A query string value, percent-encoded.
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

fn document(title: &str, body_class: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Dezky</title><link rel=\"stylesheet\" href=\"/ui/static/app.css\">\
         <script src=\"/ui/static/app.js\"></script></head>\
         <body class=\"{}\"><a class=\"skip\" href=\"#main\">Skip to content</a>{body}</body></html>",
        esc(title),
        esc(body_class),
    );
    let mut r = Html(html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SECURITY_POLICY),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn theme_button() -> &'static str {
    "<button type=\"button\" class=\"ghost\" id=\"theme-toggle\" aria-label=\"Switch between light and dark theme\">\
     <span aria-hidden=\"true\">◐</span> Theme</button>"
}

/// A page without the signed-in chrome (start page, errors).
pub fn bare_page(title: &str, body: &str) -> Response {
    let body = format!(
        "<header class=\"topbar\"><a class=\"brand\" href=\"/ui/\">Dezky</a>\
         <span class=\"spacer\"></span>{}</header>\
         <main id=\"main\" class=\"narrow\">{body}</main>",
        theme_button()
    );
    document(title, "bare", &body)
}

/// One entry of the sidebar.
pub struct NavItem {
    pub href: String,
    pub label: String,
    pub current: bool,
}

impl NavItem {
    pub fn new(href: impl Into<String>, label: impl Into<String>, current: bool) -> NavItem {
        NavItem {
            href: href.into(),
            label: label.into(),
            current,
        }
    }
}

/// The signed-in chrome around a page.
pub struct Chrome<'a> {
    /// `Console` or `Portal`.
    pub area: &'a str,
    pub environment: &'a str,
    pub user: &'a str,
    pub sections: Vec<(&'a str, Vec<NavItem>)>,
}

/// A signed-in page: sidebar, top bar and the content.
pub fn page(title: &str, chrome: &Chrome<'_>, content: &str) -> Response {
    let mut nav = String::new();
    for (section, items) in &chrome.sections {
        nav.push_str(&format!("<h2>{}</h2><ul>", esc(section)));
        for item in items {
            let current = if item.current {
                " aria-current=\"page\""
            } else {
                ""
            };
            nav.push_str(&format!(
                "<li><a href=\"{}\"{current}>{}</a></li>",
                esc(&item.href),
                esc(&item.label)
            ));
        }
        nav.push_str("</ul>");
    }
    let (palette_button, palette) = if chrome.area == "Console" {
        (PALETTE_BUTTON, PALETTE)
    } else {
        ("", "")
    };
    let body = format!(
        "<header class=\"topbar\">\
           <button type=\"button\" class=\"ghost\" id=\"nav-toggle\" aria-controls=\"sidebar\" aria-expanded=\"true\">☰<span class=\"sr\"> Menu</span></button>\
           <a class=\"brand\" href=\"/ui/\">Dezky <span class=\"area\">{area}</span></a>\
           <span class=\"badge env env-{env}\" title=\"Environment\">{env}</span>\
           <span class=\"spacer\"></span>{palette_button}\
           <span class=\"user\" title=\"Signed in\">{user}</span>{theme}\
           <form method=\"post\" action=\"/ui/logout\"><button type=\"submit\" class=\"ghost\">Sign out</button></form>\
         </header>\
         <div class=\"layout\"><nav id=\"sidebar\" class=\"sidebar\" aria-label=\"Sections\">{nav}</nav>\
         <main id=\"main\" class=\"content\">{content}</main></div>{palette}",
        area = esc(chrome.area),
        env = esc(chrome.environment),
        user = esc(chrome.user),
        theme = theme_button(),
    );
    document(title, "app", &body)
}

/// The console's search-and-jump button in the top bar.
const PALETTE_BUTTON: &str = "<button type=\"button\" class=\"palette-open\" id=\"palette-open\" \
     aria-haspopup=\"dialog\" aria-controls=\"palette\" aria-keyshortcuts=\"Control+K Meta+K\">\
     Search and jump <kbd>Ctrl K</kbd></button>";

/// The console's search-and-jump palette (a modal dialog with a combobox over a listbox; the
/// script fills it from `/ui/console/search`).
const PALETTE: &str = "<dialog id=\"palette\" class=\"palette\" aria-label=\"Search and jump\">\
     <form method=\"get\" action=\"/ui/console/tenants\" role=\"search\">\
     <label for=\"palette-input\" class=\"sr\">Search tenants, partners, members and pages</label>\
     <input id=\"palette-input\" name=\"q\" type=\"search\" autocomplete=\"off\" role=\"combobox\" \
       aria-expanded=\"false\" aria-controls=\"palette-list\" aria-autocomplete=\"list\" \
       placeholder=\"Tenants, partners, members, pages…\"></form>\
     <ul id=\"palette-list\" role=\"listbox\" aria-label=\"Results\"></ul>\
     <p class=\"muted palette-help\" id=\"palette-status\" aria-live=\"polite\">Type to search. ↑ ↓ to choose, Enter to open, Esc to close.</p>\
     </dialog>";

/// The console's sidebar: the sections of UI.md that exist as pages (the others are not linked).
pub fn console_sections(current: &str) -> Vec<(&'static str, Vec<NavItem>)> {
    vec![
        (
            "Overview",
            vec![NavItem::new(
                "/ui/console",
                "Overview",
                current == "overview",
            )],
        ),
        (
            "Customers",
            vec![
                NavItem::new("/ui/console/tenants", "Tenants", current == "tenants"),
                NavItem::new("/ui/console/partners", "Partners", current == "partners"),
                NavItem::new("/ui/console/users", "Users", current == "users"),
                NavItem::new("/ui/console/invoices", "Invoices", current == "invoices"),
            ],
        ),
    ]
}

/// A row of tabs (links, one marked current).
pub fn tabs(label: &str, items: &[(String, &str, bool)]) -> String {
    let mut html = format!("<nav class=\"tabs\" aria-label=\"{}\"><ul>", esc(label));
    for (href, text, current) in items {
        let attr = if *current {
            " aria-current=\"page\""
        } else {
            ""
        };
        html.push_str(&format!(
            "<li><a href=\"{}\"{attr}>{}</a></li>",
            esc(href),
            esc(text)
        ));
    }
    html.push_str("</ul></nav>");
    html
}

/// A labelled form field with its hint and, when refused, its error (which names the field).
pub struct Field<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub kind: &'a str,
    pub value: &'a str,
    pub hint: &'a str,
    pub error: Option<&'a str>,
    pub required: bool,
}

impl Field<'_> {
    pub fn render(&self) -> String {
        let id = esc(self.id);
        let described = if self.error.is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{id}-hint {id}-error\"")
        } else {
            format!(" aria-describedby=\"{id}-hint\"")
        };
        let required = if self.required { " required" } else { "" };
        format!(
            "<div class=\"field\"><label for=\"{id}\">{}</label>\
             <input id=\"{id}\" name=\"{id}\" type=\"{}\" value=\"{}\"{required}{described}>\
             <small id=\"{id}-hint\" class=\"muted\">{}</small>{}</div>",
            esc(self.label),
            esc(self.kind),
            esc(self.value),
            esc(self.hint),
            self.error
                .map(|e| format!(
                    "<p class=\"field-error\" id=\"{id}-error\" role=\"alert\">{}: {}</p>",
                    esc(self.label),
                    esc(e)
                ))
                .unwrap_or_default()
        )
    }
}

/// A condition status as a badge (`True` → Ready, `False` → failing, else pending).
pub fn status_badge(status: &str, label: &str) -> String {
    let class = match status {
        "True" => "ok",
        "False" => "bad",
        _ => "wait",
    };
    format!(
        "<span class=\"badge {class}\" data-status=\"{}\">{}</span>",
        esc(status),
        esc(label)
    )
}

/// A notice of what an action did (`role="status"`, so screen readers announce it).
pub fn notice(text: &str) -> String {
    format!(
        "<p class=\"card notice\" role=\"status\" id=\"notice\">{}</p>",
        esc(text)
    )
}

/// A small status dot with a text alternative.
pub fn dot(name: &str, status: &str) -> String {
    let class = match status {
        "True" => "ok",
        "False" => "bad",
        _ => "wait",
    };
    let short = name.trim_end_matches("Ready");
    format!(
        "<span class=\"dot {class}\" title=\"{n}: {s}\"><span class=\"sr\">{n}: {s}</span></span>",
        n = esc(short),
        s = esc(status)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_announced_and_escaped() {
        assert_eq!(
            notice("Member <b> added."),
            "<p class=\"card notice\" role=\"status\" id=\"notice\">Member &lt;b&gt; added.</p>"
        );
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">O'Neil & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
        );
        assert_eq!(field(&serde_json::json!({"n": "<b>"}), "n"), "&lt;b&gt;");
        assert_eq!(query_value("a b&c"), "a%20b%26c");
    }

    #[test]
    fn fields_name_themselves_in_their_errors() {
        let f = Field {
            id: "domain",
            label: "Web domain",
            kind: "text",
            value: "\"><x>",
            hint: "e.g. northwind.test",
            error: Some("enter a domain"),
            required: true,
        }
        .render();
        assert!(f.contains("Web domain: enter a domain"), "{f}");
        assert!(f.contains("aria-invalid=\"true\""));
        assert!(!f.contains("<x>"));
        let t = tabs(
            "Tenant",
            &[("/a".into(), "A", true), ("/b".into(), "B", false)],
        );
        assert!(t.contains("href=\"/a\" aria-current=\"page\""));
        assert!(!t.contains("href=\"/b\" aria-current"));
        let nav = console_sections("partners");
        assert!(nav[1].1.iter().any(|i| i.label == "Partners" && i.current));
    }

    #[test]
    fn badges_follow_the_condition() {
        assert!(status_badge("True", "Ready").contains("ok"));
        assert!(status_badge("False", "x").contains("bad"));
        assert!(status_badge("Unknown", "x").contains("wait"));
        assert!(dot("IdentityReady", "True").contains("Identity: True"));
    }
}
