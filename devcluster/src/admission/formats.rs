//! The string formats kube-apiserver checks (kube-openapi `strfmt` default registry), keyed by normalized name.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

fn re(p: &str) -> Regex {
    Regex::new(p).unwrap_or_else(|e| panic!("built-in format regex {p} must compile: {e}"))
}

static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$",
    )
});
static UUID: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID3: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
});
static UUID4: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
});
static UUID5: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
});
static BASE64: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
});
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$"));
static HEXCOLOR: LazyLock<Regex> = LazyLock::new(|| re(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"));
static RGBCOLOR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$",
    )
});
static TIME_OF_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
});
static MAC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?i:([0-9a-f]{2}([:-])){5}[0-9a-f]{2}|([0-9a-f]{2}([:-])){7}[0-9a-f]{2}|([0-9a-f]{2}([:-])){19}[0-9a-f]{2}|([0-9a-f]{4}\.){2}[0-9a-f]{4}|([0-9a-f]{4}\.){3}[0-9a-f]{4}|([0-9a-f]{4}\.){9}[0-9a-f]{4})$",
    )
});
static EMAIL_LOCAL: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"));
static EMAIL_DOMAIN: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"));
static DURATION_UNIT: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+)\s*([A-Za-zµ]+)"));

/// Whether `value` is valid for the (dash-less) format name; unknown names are valid.
pub(crate) fn is_valid(format: &str, value: &str) -> bool {
    match format {
        "uri" => is_request_uri(value),
        "email" => is_email(value),
        "hostname" => is_hostname(value),
        "ipv4" => value.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => value.contains(':') && value.parse::<Ipv6Addr>().is_ok(),
        "cidr" => is_cidr(value),
        "mac" => MAC.is_match(value),
        "uuid" => UUID.is_match(value),
        "uuid3" => UUID3.is_match(value),
        "uuid4" => UUID4.is_match(value),
        "uuid5" => UUID5.is_match(value),
        "isbn" => is_isbn10(value) || is_isbn13(value),
        "isbn10" => is_isbn10(value),
        "isbn13" => is_isbn13(value),
        "creditcard" => is_credit_card(value),
        "ssn" => SSN.is_match(value),
        "hexcolor" => HEXCOLOR.is_match(value),
        "rgbcolor" => RGBCOLOR.is_match(value),
        "byte" => BASE64.is_match(value),
        "password" => true,
        "date" => is_date(value),
        "duration" => is_strfmt_duration(value),
        "datetime" => is_date_time(value),
        "bsonobjectid" => value.len() == 24 && value.chars().all(|c| c.is_ascii_hexdigit()),
        _ => true,
    }
}

/// Go `net/url.ParseRequestURI`: an absolute URI, or an absolute path.
fn is_request_uri(v: &str) -> bool {
    if v.is_empty() || v.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return false;
    }
    if v.starts_with('/') {
        return true;
    }
    let Some((scheme, _)) = v.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Go `net/mail.ParseAddress` for the common forms: `local@domain` or `Name <local@domain>`.
fn is_email(v: &str) -> bool {
    let addr = match (v.rfind('<'), v.ends_with('>')) {
        (Some(i), true) => &v[i + 1..v.len() - 1],
        _ => v.trim(),
    };
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    let local_ok = EMAIL_LOCAL.is_match(local)
        || (local.len() >= 2 && local.starts_with('"') && local.ends_with('"'));
    let domain_ok =
        EMAIL_DOMAIN.is_match(domain) || (domain.starts_with('[') && domain.ends_with(']'));
    local_ok && domain_ok
}

fn is_hostname(v: &str) -> bool {
    HOSTNAME.is_match(v) && v.len() <= 255 && v.split('.').all(|p| p.len() <= 63)
}

fn is_cidr(v: &str) -> bool {
    let Some((ip, bits)) = v.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    if ip.parse::<Ipv4Addr>().is_ok() {
        bits <= 32
    } else {
        ip.parse::<Ipv6Addr>().is_ok() && bits <= 128
    }
}

fn digits_only(v: &str) -> String {
    v.chars().filter(|c| !matches!(c, ' ' | '-')).collect()
}

fn is_isbn10(v: &str) -> bool {
    let d = digits_only(v);
    if d.len() != 10 {
        return false;
    }
    let mut sum = 0;
    for (i, c) in d.chars().enumerate() {
        let n = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'X' if i == 9 => 10,
            _ => return false,
        };
        sum += (i as u32 + 1) * n;
    }
    sum.is_multiple_of(11)
}

fn is_isbn13(v: &str) -> bool {
    let d = digits_only(v);
    if d.len() != 13 || !d.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = d
        .chars()
        .enumerate()
        .map(|(i, c)| (c as u32 - '0' as u32) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    sum.is_multiple_of(10)
}

fn is_credit_card(v: &str) -> bool {
    let d: String = v.chars().filter(char::is_ascii_digit).collect();
    if !(12..=19).contains(&d.len()) {
        return false;
    }
    let mut sum = 0;
    for (i, c) in d.chars().rev().enumerate() {
        let mut n = c as u32 - '0' as u32;
        if i % 2 == 1 {
            n *= 2;
            if n > 9 {
                n -= 9;
            }
        }
        sum += n;
    }
    sum.is_multiple_of(10)
}

fn is_date(v: &str) -> bool {
    v.len() == 10 && chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
}

/// strfmt `IsDateTime`: a date, `T`, and a time of day with a zone.
fn is_date_time(v: &str) -> bool {
    if v.len() < 4 {
        return false;
    }
    let lower = v.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !is_date(parts[0]) {
        return false;
    }
    let Some(c) = TIME_OF_DAY.captures(parts[1]) else {
        return false;
    };
    &c[1] <= "23" && &c[2] <= "59" && &c[3] <= "59"
}

/// strfmt `ParseDuration`: a Go duration, or `<n> <unit>` groups.
fn is_strfmt_duration(v: &str) -> bool {
    if parse_go_duration(v).is_some() {
        return true;
    }
    let units = [
        ("ns", "nano"),
        ("us", "micro"),
        ("ms", "milli"),
        ("s", "sec"),
        ("m", "min"),
        ("h", "hr"),
        ("d", "day"),
        ("w", "wk"),
    ];
    let mut found = false;
    for c in DURATION_UNIT.captures_iter(v) {
        let unit = &c[2];
        let ok = unit == "µs"
            || units
                .iter()
                .any(|(short, long)| unit.eq_ignore_ascii_case(short) || unit.starts_with(long));
        if !ok {
            return false;
        }
        found = true;
    }
    found
}

/// Parses a Go `time.ParseDuration` string into nanoseconds.
pub(crate) fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let mult: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let ns = total.round() as i128;
    Some(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_valid("email", "a@b.test"));
        assert!(is_valid("email", "Desk <desk@northwind.test>"));
        assert!(!is_valid("email", "not-an-email"));
        assert!(is_valid("uri", "https://wiki.acme.test/oauth/callback"));
        assert!(!is_valid("uri", "wiki.acme.test"));
        assert!(is_valid("datetime", "2024-01-02T03:04:05Z"));
        assert!(!is_valid("datetime", "2024-13-02T03:04:05Z"));
        assert!(is_valid("hostname", "acme.test"));
        assert!(!is_valid("hostname", "-acme.test"));
        assert!(is_valid("duration", "168h"));
        assert!(is_valid("duration", "3 days"));
        assert!(!is_valid("duration", "soon"));
        assert!(is_valid("cidr", "10.0.0.0/8"));
        assert!(is_valid("byte", "aGVsbG8="));
        assert!(!is_valid("byte", "hello!"));
    }

    #[test]
    fn every_format_checks_without_panicking() {
        let all = [
            ("mac", "01:23:45:67:89:ab", "01:23"),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123"),
            (
                "uuid3",
                "123e4567-e89b-32d3-a456-426614174000",
                "123e4567-e89b-12d3-a456-426614174000",
            ),
            ("uuid4", "123e4567-e89b-42d3-a456-426614174000", "x"),
            ("uuid5", "123e4567-e89b-52d3-a456-426614174000", "x"),
            ("ssn", "123-45-6789", "12-345"),
            ("hexcolor", "#ffffff", "#fffffg"),
            ("rgbcolor", "rgb(1,2,3)", "rgb(1,2)"),
            ("isbn10", "0321751043", "0321751044"),
            ("isbn13", "978-0321751041", "978-0321751042"),
            ("creditcard", "4111 1111 1111 1111", "4111 1111 1111 1112"),
            ("ipv4", "10.0.0.1", "10.0.0.256"),
            ("ipv6", "::1", "1.2.3.4"),
            ("date", "2024-02-29", "2023-02-29"),
            ("bsonobjectid", "507f1f77bcf86cd799439011", "507f"),
        ];
        for (format, good, bad) in all {
            assert!(is_valid(format, good), "{format}: {good} should be valid");
            assert!(!is_valid(format, bad), "{format}: {bad} should be invalid");
        }
        assert!(is_valid("password", "anything"));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("168h"), Some(168 * 3600 * 1_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5400 * 1_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("-2ms"), Some(-2_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("7d"), None);
        assert_eq!(parse_go_duration("h"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}
