//! The live part of a mail domain's page: the add wizard's two steps — the ownership record
//! first, then the mail records — each record with its verification state, and the removal
//! state with the operator's reason while it refuses the removal.

use serde_json::Value;

use super::super::html::{esc, field, status_badge};
use super::kit::ready_badge;

/// The name prefix of the ownership record.
const OWNERSHIP: &str = "_dezky-verification.";

/// Whether the domain's removal was asked for (the operator may still hold it).
pub fn removing(d: &Value) -> bool {
    !d["mailDomain"]["metadata"]["deletionTimestamp"].is_null()
}

/// A record's state as a badge.
fn record_badge(state: &str) -> String {
    let status = match state {
        "Verified" => "True",
        "Missing" | "Mismatch" => "False",
        _ => "Unknown",
    };
    status_badge(status, state)
}

fn record_rows(records: &[&Value]) -> String {
    let mut html = String::new();
    for r in records {
        let observed = match r["observed"].as_str() {
            Some(o) if !o.is_empty() => format!(
                "<div class=\"reason\">Found instead: <code>{}</code></div>",
                esc(o)
            ),
            _ => String::new(),
        };
        let state = r["state"].as_str().unwrap_or("Pending");
        html.push_str(&format!(
            "<tr data-record=\"{name}\" data-state=\"{st}\"><td>{kind}</td><td><code class=\"wrap\">{name}</code></td>\
             <td><code class=\"wrap\">{value}</code>{observed}</td><td>{badge}</td></tr>",
            kind = field(r, "type"),
            name = field(r, "name"),
            value = field(r, "value"),
            st = esc(state),
            badge = record_badge(state),
        ));
    }
    html
}

fn record_table(id: &str, records: &[&Value]) -> String {
    format!(
        "<div class=\"table-wrap\"><table id=\"{id}\"><thead><tr><th scope=\"col\">Type</th><th scope=\"col\">Name</th>\
         <th scope=\"col\">Value to publish</th><th scope=\"col\">State</th></tr></thead><tbody>{}</tbody></table></div>",
        record_rows(records)
    )
}

/// The condition `kind` of a domain view as (status, reason, message).
fn condition<'a>(d: &'a Value, kind: &str) -> (&'a str, &'a str, &'a str) {
    d["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .map(|c| {
            (
                c["status"].as_str().unwrap_or("Unknown"),
                c["reason"].as_str().unwrap_or_default(),
                c["message"].as_str().unwrap_or_default(),
            )
        })
        .unwrap_or(("Unknown", "", ""))
}

/// The live part of a domain's page: the removal state, step 1 (ownership) and step 2 (mail
/// records), each record with its state.
pub fn records_html(d: &Value) -> String {
    let mut html = String::new();
    let (ready, reason, message) = condition(d, "Ready");
    if removing(d) {
        let why = if reason == "DomainInUse" || (ready == "False" && !message.is_empty()) {
            format!(
                "The removal is refused for now: {} Remove or move what uses it, and the removal completes by itself.",
                esc(message)
            )
        } else {
            "The domain is being removed.".to_owned()
        };
        html.push_str(&format!(
            "<section class=\"card notice\" id=\"removal\" role=\"status\"><h2>Removal requested</h2><p>{why}</p></section>"
        ));
    }
    let records: Vec<&Value> = d["records"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let (ownership, mail): (Vec<&Value>, Vec<&Value>) = records
        .into_iter()
        .partition(|r| r["name"].as_str().is_some_and(|n| n.starts_with(OWNERSHIP)));
    let (owned, owned_reason, owned_message) = condition(d, "OwnershipVerified");
    let step1_state = if owned == "True" {
        status_badge("True", "Verified")
    } else if ownership.is_empty() {
        status_badge("Unknown", "Waiting for the record")
    } else {
        status_badge(owned, "Not verified yet")
    };
    html.push_str(&format!(
        "<section class=\"card step\" id=\"step-ownership\" data-verified=\"{}\"><h2>Step 1: prove you own the domain {step1_state}</h2>\
         <p>Publish this TXT record at your DNS provider. Nothing is set up for the domain, and no member can use it, until it verifies.</p>",
        owned == "True"
    ));
    if ownership.is_empty() {
        html.push_str("<p class=\"muted\">The record to publish appears here in a moment.</p>");
    } else {
        html.push_str(&record_table("ownership-records", &ownership));
    }
    if owned == "False" && !owned_message.is_empty() {
        html.push_str(&format!(
            "<p class=\"reason\">{}: {}</p>",
            esc(owned_reason),
            esc(owned_message)
        ));
    }
    html.push_str("</section>");
    let (dns, _, dns_message) = condition(d, "DnsVerified");
    html.push_str(&format!(
        "<section class=\"card step\" id=\"step-mail\"><h2>Step 2: publish the mail records {}</h2>",
        if mail.is_empty() {
            status_badge("Unknown", "After step 1")
        } else if dns == "True" {
            status_badge("True", "All verified")
        } else {
            let ok = mail.iter().filter(|r| r["state"] == "Verified").count();
            status_badge(
                if ok == mail.len() { "True" } else { "Unknown" },
                &format!("{ok} of {} verified", mail.len()),
            )
        }
    ));
    if mail.is_empty() {
        html.push_str(
            "<p class=\"muted\">Once ownership is verified, the records that route and sign your mail (MX, SPF, DKIM, DMARC) appear here.</p>",
        );
    } else {
        html.push_str(
            "<p>Publish each record; mailboxes work as soon as ownership is verified, but mail is delivered and trusted only once these verify.</p>",
        );
        html.push_str(&record_table("mail-records", &mail));
        if dns == "False" && !dns_message.is_empty() {
            html.push_str(&format!("<p class=\"reason\">{}</p>", esc(dns_message)));
        }
    }
    let checked = d["mailDomain"]["status"]["lastCheckedTime"]
        .as_str()
        .unwrap_or_default();
    html.push_str(&format!(
        "<p class=\"muted\" id=\"last-checked\">{}</p></section>",
        if checked.is_empty() {
            "Not checked yet.".to_owned()
        } else {
            format!("Last checked {}.", esc(checked))
        }
    ));
    html.push_str(&format!(
        "<p id=\"domain-state\" data-ready=\"{}\">Overall: {}</p>",
        esc(ready),
        ready_badge(ready)
    ));
    html
}

/// The rows of the domains list.
#[cfg(test)]
pub mod tests {
    use super::*;
    use serde_json::json;

    pub fn view() -> Value {
        json!({"name": "acme-test", "domain": "acme.test", "primary": true, "dmarcPolicy": "quarantine",
            "ready": "False", "reason": "DnsNotVerified",
            "records": [
                {"type": "TXT", "name": "_dezky-verification.acme.test.", "value": "dezky-verify=abc", "state": "Verified"},
                {"type": "MX", "name": "acme.test.", "value": "10 mail.dezky.test.", "state": "Missing"},
                {"type": "TXT", "name": "_dmarc.acme.test.", "value": "v=DMARC1; p=quarantine", "state": "Mismatch", "observed": "<v=DMARC1; p=none>"}],
            "conditions": [{"type": "OwnershipVerified", "status": "True", "reason": "Verified", "message": ""},
                           {"type": "Ready", "status": "False", "reason": "DnsNotVerified", "message": "2 records missing"}],
            "mailDomain": {"metadata": {}, "status": {}}})
    }

    #[test]
    fn the_wizard_shows_ownership_first_then_the_mail_records() {
        let html = records_html(&view());
        let step1 = html.find("step-ownership").expect("step 1");
        let step2 = html.find("step-mail").expect("step 2");
        assert!(step1 < step2);
        let ownership = &html[step1..step2];
        assert!(ownership.contains("dezky-verify=abc") && !ownership.contains("10 mail"));
        assert!(html[step2..].contains("0 of 2 verified"));
        assert!(html.contains("&lt;v=DMARC1; p=none&gt;"));
        assert!(!html.contains("Removal requested"));
    }
}
