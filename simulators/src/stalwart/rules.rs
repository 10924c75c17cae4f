//! Stalwart's input rules: domain-name and local-part normalization, and password strength.

/// Suffixes Stalwart accepts besides the public suffix list (`crates/utils/src/lib.rs`).
const PRIVATE_SUFFIXES: &[&str] = &[
    "test",
    "localhost",
    "local",
    "internal",
    "lan",
    "home",
    "corp",
    "intranet",
    "private",
    "localdomain",
];

/// A subset of the public suffix list (ICANN section) large enough for tests and development.
/// The real server embeds the whole list; `.example` is deliberately not in it (reserved, not a
/// public suffix), so `acme.example` is refused exactly as Stalwart refuses it.
const PUBLIC_SUFFIXES: &[&str] = &[
    "com", "org", "net", "edu", "gov", "int", "mil", "info", "biz", "name", "pro", "io", "dev",
    "app", "cloud", "email", "eu", "de", "fr", "it", "es", "nl", "be", "at", "ch", "uk", "co.uk",
    "org.uk", "ac.uk", "ie", "pl", "cz", "se", "no", "dk", "fi", "pt", "gr", "hu", "ro", "us",
    "ca", "mx", "br", "com.br", "ar", "au", "com.au", "nz", "co.nz", "jp", "co.jp", "cn", "in",
    "co.in", "ru", "za", "co.za", "tv", "me", "co", "ai", "xyz", "online", "site", "tech", "shop",
];

/// Lowercases a domain and turns IDN labels into punycode, as Stalwart does before storing or
/// comparing names. `None` when the name cannot be converted.
pub fn normalize_domain(name: &str) -> Option<String> {
    let trimmed = name.trim().trim_end_matches('.');
    idna::domain_to_ascii(trimmed)
        .ok()
        .map(|s| s.to_ascii_lowercase())
}

/// Whether an already normalized name is a domain Stalwart accepts: it has a dot, valid labels,
/// and ends in a public suffix (with at least one label before it) or in a private suffix.
pub fn is_valid_domain_name(name: &str) -> bool {
    if !name.contains('.') || name.len() > 253 {
        return false;
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !labels_ok {
        return false;
    }
    let tld = name.rsplit('.').next().unwrap_or_default();
    if PRIVATE_SUFFIXES.contains(&tld) {
        return true;
    }
    !PUBLIC_SUFFIXES.contains(&name)
        && PUBLIC_SUFFIXES
            .iter()
            .any(|suffix| name.len() > suffix.len() + 1 && name.ends_with(&format!(".{suffix}")))
}

/// Normalizes an e-mail local part (lowercase, whitespace removed); `None` when it holds a
/// character outside RFC 5322 atext (dots allowed between atoms).
pub fn normalize_local_part(name: &str) -> Option<String> {
    let local: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let valid = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| atext(c) || c == '.');
    valid.then_some(local)
}

const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "iloveyou",
    "sunshine",
    "letmein1",
    "football",
    "baseball",
    "welcome1",
    "admin123",
    "changeme",
    "passw0rd",
];

/// Why Stalwart's default policy (8 to 128 characters, zxcvbn score of at least three) refuses a
/// password, or `None` if it is accepted. The strength test approximates zxcvbn: common
/// passwords, few distinct characters, and short passwords of one or two character classes fail.
pub fn password_problem(secret: &str) -> Option<&'static str> {
    let length = secret.chars().count();
    if length < 8 {
        return Some("Password must be at least 8 characters long.");
    }
    if length > 128 {
        return Some("Password must be at most 128 characters long.");
    }
    let lower = secret.to_lowercase();
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let classes = [
        secret.chars().any(|c| c.is_ascii_lowercase()),
        secret.chars().any(|c| c.is_ascii_uppercase()),
        secret.chars().any(|c| c.is_ascii_digit()),
        secret.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    if COMMON_PASSWORDS.contains(&lower.as_str())
        || distinct.len() < 5
        || (length < 12 && classes < 3)
    {
        return Some("Password is too weak. Add another word or two. Uncommon words are better.");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_follow_the_public_suffix_rules() {
        assert!(is_valid_domain_name("acme.test"));
        assert!(is_valid_domain_name("example.org"));
        assert!(is_valid_domain_name("shop.acme.co.uk"));
        assert!(!is_valid_domain_name("acme.example"));
        assert!(!is_valid_domain_name("localhost"));
        assert!(!is_valid_domain_name("co.uk"));
        assert!(!is_valid_domain_name("-bad.test"));
        assert_eq!(
            normalize_domain("Bücher.COM").as_deref(),
            Some("xn--bcher-kva.com")
        );
    }

    #[test]
    fn local_parts_are_normalized() {
        assert_eq!(
            normalize_local_part(" John Doe").as_deref(),
            Some("johndoe")
        );
        assert_eq!(normalize_local_part("a..b"), None);
        assert_eq!(normalize_local_part("a(b)"), None);
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(password_problem("short").unwrap().contains("at least 8"));
        assert!(password_problem("password1").unwrap().contains("too weak"));
        assert!(password_problem("aaaaaaaaaaaaaa").is_some());
        assert_eq!(password_problem("correct horse battery staple 42"), None);
        assert_eq!(password_problem("Tr0ub4dor&3x"), None);
    }
}
