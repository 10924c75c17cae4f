//! Kubernetes quantities (`100Gi`, `500M`, `1e9`, `1.5Ti`) as whole bytes, for quotas.

/// Parses a quantity into bytes (rounded up); `None` when malformed, negative or too large.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    if number.is_empty() || number.starts_with('.') && number.len() == 1 {
        return None;
    }
    let value: f64 = number.trim_start_matches('+').parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "m" => 1e-3,
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    let bytes = (value * factor).ceil();
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn binary_decimal_and_exponent_forms() {
        assert_eq!(parse_bytes("100Gi"), Some(100 * 1024 * 1024 * 1024));
        assert_eq!(parse_bytes("5Mi"), Some(5 * 1024 * 1024));
        assert_eq!(parse_bytes("500M"), Some(500_000_000));
        assert_eq!(parse_bytes("1e9"), Some(1_000_000_000));
        assert_eq!(parse_bytes("1.5Ki"), Some(1536));
        assert_eq!(parse_bytes("42"), Some(42));
        assert_eq!(
            parse_bytes("1500m"),
            Some(2),
            "milli rounds up to whole bytes"
        );
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(parse_bytes(""), None);
        assert_eq!(parse_bytes("Gi"), None);
        assert_eq!(parse_bytes("10GB"), None);
        assert_eq!(parse_bytes("-5Gi"), None);
        assert_eq!(parse_bytes("1e"), None);
    }
}
