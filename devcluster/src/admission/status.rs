//! The 422 `Status` kube-apiserver returns for an invalid object (`errors.NewInvalid`), and what kubectl prints for a Status.

use serde_json::{Value, json};

use super::FieldCause;

/// `utilerrors.NewAggregate(...).Error()`: one message, or `[a, b]` without repeats.
fn aggregate(messages: &[String]) -> String {
    let mut seen: Vec<&String> = Vec::new();
    for m in messages {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen[0].clone(),
        _ => format!(
            "[{}]",
            seen.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The 422 Invalid `Status` object kube-apiserver returns (`errors.NewInvalid(GroupKind{group, kind}, name, errs)`).
pub fn invalid_status(group: &str, kind: &str, name: &str, causes: &[FieldCause]) -> Value {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let quoted = super::field::go_quote(name);
    let errors: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    let message = if errors.is_empty() {
        format!("{qualified} {quoted} is invalid")
    } else {
        format!("{qualified} {quoted} is invalid: {}", aggregate(&errors))
    };
    let causes: Vec<Value> = causes
        .iter()
        .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
        .collect();
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "details": {"name": name, "group": group, "kind": kind, "causes": causes},
        "code": 422
    })
}

/// What kubectl prints for a `Status` error (kubectl's `checkErr` and `StandardErrorMessage`), without the
/// final newline: `The Kind "name" is invalid: field: message` for one cause, or the heading followed by
/// one `* field: message` line per cause.
pub fn kubectl_message(status: &Value) -> String {
    let s = |k: &str| status.get(k).and_then(Value::as_str).unwrap_or("");
    let message = s("message");
    let reason = s("reason");
    if reason != "Invalid" {
        return match reason {
            "Unauthorized" => format!("error: You must be logged in to the server ({message})"),
            "" => format!("Error from server: {message}"),
            r => format!("Error from server ({r}): {message}"),
        };
    }
    let Some(details) = status.get("details").filter(|d| d.is_object()) else {
        let mut out = "The request is invalid".to_string();
        if !message.is_empty() {
            out.push_str(": ");
            out.push_str(message);
        }
        return out;
    };
    let d = |k: &str| details.get(k).and_then(Value::as_str).unwrap_or("");
    let causes = details
        .get("causes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut heading = "The request is invalid".to_string();
    if !d("kind").is_empty() || !d("name").is_empty() {
        heading = format!(
            "The {} {} is invalid",
            d("kind"),
            super::field::go_quote(d("name"))
        );
    } else if !message.is_empty() && causes.is_empty() {
        heading.push_str(": ");
        heading.push_str(message);
    }
    if causes.is_empty() {
        return heading;
    }
    let mut lines: Vec<String> = Vec::new();
    for c in &causes {
        let field = c.get("field").and_then(Value::as_str).unwrap_or("");
        let msg = c.get("message").and_then(Value::as_str).unwrap_or("");
        let line = format!("{field}: {msg}");
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    if lines.len() == 1 {
        format!("{heading}: {}", lines[0])
    } else {
        let mut out = format!("{heading}: ");
        for l in lines {
            out.push_str("\n* ");
            out.push_str(&l);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(field: &str, message: &str) -> FieldCause {
        FieldCause {
            reason: "FieldValueInvalid".into(),
            message: message.into(),
            field: field.into(),
        }
    }

    #[test]
    fn single_cause_matches_the_capture() {
        let c = cause(
            "spec.email",
            "Invalid value: \"not-an-email\": spec.email in body should match '^[^@]+@[^@]+$'",
        );
        let st = invalid_status("dezky.io", "Member", "bad", &[c]);
        assert_eq!(
            st["message"],
            "Member.dezky.io \"bad\" is invalid: spec.email: Invalid value: \"not-an-email\": spec.email in body should match '^[^@]+@[^@]+$'"
        );
        assert_eq!(st["code"], 422);
        assert_eq!(st["details"]["causes"][0]["reason"], "FieldValueInvalid");
        assert_eq!(
            kubectl_message(&st),
            "The Member \"bad\" is invalid: spec.email: Invalid value: \"not-an-email\": spec.email in body should match '^[^@]+@[^@]+$'"
        );
    }

    #[test]
    fn several_causes() {
        let st = invalid_status(
            "dezky.io",
            "Tenant",
            "x",
            &[cause("a", "m1"), cause("b", "m2"), cause("a", "m1")],
        );
        assert_eq!(
            st["message"],
            "Tenant.dezky.io \"x\" is invalid: [a: m1, b: m2]"
        );
        assert_eq!(
            kubectl_message(&st),
            "The Tenant \"x\" is invalid: \n* a: m1\n* b: m2"
        );
    }

    #[test]
    fn other_statuses() {
        let st = json!({"kind": "Status", "reason": "NotFound", "message": "tenants.dezky.io \"x\" not found"});
        assert_eq!(
            kubectl_message(&st),
            "Error from server (NotFound): tenants.dezky.io \"x\" not found"
        );
        let st = json!({"kind": "Status", "reason": "Invalid", "message": "bad"});
        assert_eq!(kubectl_message(&st), "The request is invalid: bad");
    }
}
