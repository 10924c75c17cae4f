//! Kubernetes `resource.Quantity` parsing and comparison (`1Gi`, `500m`, `1.5e3`, `2E`), exact in decimal.

use std::cmp::Ordering;
use std::fmt;

/// A parsed quantity: `mantissa × 10^exponent`, exact (binary suffixes are finite decimals).
#[derive(Clone, Copy)]
pub(crate) struct Quantity {
    mantissa: i128,
    exponent: i32,
}

/// Why a string is not a quantity (the texts of `resource.ErrFormatWrong` / `ErrSuffix`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QuantityError {
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    FormatWrong,
    #[error("unable to parse quantity's suffix")]
    Suffix,
    #[error("quantity is too large to evaluate")]
    TooLarge,
}

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

impl Quantity {
    /// `resource.ParseQuantity`.
    pub(crate) fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let b = s.as_bytes();
        let end = b.len();
        let mut pos = 0;
        let mut positive = true;
        match b[0] {
            b'-' => {
                positive = false;
                pos += 1;
            }
            b'+' => pos += 1,
            _ => {}
        }
        while pos < end && b[pos] == b'0' {
            pos += 1;
        }
        let num_start = pos;
        while pos < end && is_digit(b[pos]) {
            pos += 1;
        }
        let num = &s[num_start..pos];
        let mut denom = "";
        if pos < end && b[pos] == b'.' {
            pos += 1;
            let d_start = pos;
            while pos < end && is_digit(b[pos]) {
                pos += 1;
            }
            denom = &s[d_start..pos];
        }
        let suffix_start = pos;
        while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
            pos += 1;
        }
        if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
            pos += 1;
        }
        while pos < end && is_digit(b[pos]) {
            pos += 1;
        }
        if pos != end {
            return Err(QuantityError::FormatWrong);
        }
        let suffix = &s[suffix_start..];
        let (base2, exp) = interpret_suffix(suffix).ok_or(QuantityError::Suffix)?;

        let digits = format!("{num}{denom}");
        let digits = digits.trim_start_matches('0');
        let mut mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| QuantityError::TooLarge)?
        };
        let mut exponent = -(denom.len() as i32);
        if base2 {
            mantissa = mantissa
                .checked_mul(1i128 << exp)
                .ok_or(QuantityError::TooLarge)?;
        } else {
            exponent += exp;
        }
        if !positive {
            mantissa = -mantissa;
        }
        Ok(Quantity { mantissa, exponent }.normalized())
    }

    fn normalized(mut self) -> Quantity {
        if self.mantissa == 0 {
            return Quantity {
                mantissa: 0,
                exponent: 0,
            };
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
        self
    }

    /// An integer as a quantity.
    pub(crate) fn from_int(i: i64) -> Quantity {
        Quantity {
            mantissa: i as i128,
            exponent: 0,
        }
        .normalized()
    }

    /// -1, 0 or 1.
    pub(crate) fn sign(&self) -> i64 {
        self.mantissa.signum() as i64
    }

    /// The value as an `i64` when it is a whole number in range.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        if self.exponent < 0 {
            return None;
        }
        let mut m = self.mantissa;
        for _ in 0..self.exponent {
            m = m.checked_mul(10)?;
        }
        i64::try_from(m).ok()
    }

    pub(crate) fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// Both values scaled to the same exponent, when that fits.
    fn aligned(&self, other: &Quantity) -> Option<(i128, i128, i32)> {
        let e = self.exponent.min(other.exponent);
        let scale = |q: &Quantity| -> Option<i128> {
            let mut m = q.mantissa;
            for _ in 0..(q.exponent - e) {
                m = m.checked_mul(10)?;
            }
            Some(m)
        };
        Some((scale(self)?, scale(other)?, e))
    }

    pub(crate) fn add(&self, other: &Quantity) -> Option<Quantity> {
        let (a, b, e) = self.aligned(other)?;
        Some(
            Quantity {
                mantissa: a.checked_add(b)?,
                exponent: e,
            }
            .normalized(),
        )
    }

    pub(crate) fn sub(&self, other: &Quantity) -> Option<Quantity> {
        let neg = Quantity {
            mantissa: -other.mantissa,
            exponent: other.exponent,
        };
        self.add(&neg)
    }

    /// `Quantity.Cmp`.
    pub(crate) fn compare(&self, other: &Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self
                .as_f64()
                .partial_cmp(&other.as_f64())
                .unwrap_or(Ordering::Equal),
        }
    }
}

/// `(binary, exponent)` of a suffix: binary suffixes are powers of two, the rest powers of ten.
fn interpret_suffix(s: &str) -> Option<(bool, i32)> {
    Some(match s {
        "" => (false, 0),
        "Ki" => (true, 10),
        "Mi" => (true, 20),
        "Gi" => (true, 30),
        "Ti" => (true, 40),
        "Pi" => (true, 50),
        "Ei" => (true, 60),
        "n" => (false, -9),
        "u" => (false, -6),
        "m" => (false, -3),
        "k" => (false, 3),
        "M" => (false, 6),
        "G" => (false, 9),
        "T" => (false, 12),
        "P" => (false, 15),
        "E" => (false, 18),
        _ => {
            let rest = s.strip_prefix(['e', 'E'])?;
            if rest.is_empty() {
                return None;
            }
            (false, rest.parse::<i32>().ok()?)
        }
    })
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.compare(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({}e{})", self.mantissa, self.exponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s} should parse: {e}"))
    }

    #[test]
    fn parses_kubernetes_forms() {
        assert_eq!(q("1Gi").as_i64(), Some(1 << 30));
        assert_eq!(q("1024Mi"), q("1Gi"));
        assert_eq!(q("1.5Gi").as_i64(), Some(1_610_612_736));
        assert_eq!(q("100k").as_i64(), Some(100_000));
        assert_eq!(q("1e3").as_i64(), Some(1000));
        assert_eq!(q("1E").as_i64(), Some(1_000_000_000_000_000_000));
        assert_eq!(q("500m").as_i64(), None);
        assert_eq!(q("500m").compare(&q("0.5")), Ordering::Equal);
        assert_eq!(q("-2").sign(), -1);
        assert_eq!(q("0").sign(), 0);
        assert_eq!(q("+5").as_i64(), Some(5));
        assert!(q("5Gi").compare(&q("100Gi")) == Ordering::Less);
        assert!(q("1Ti").compare(&q("1000Gi")) == Ordering::Greater);
        assert_eq!(q("1Gi").add(&q("1Gi")), Some(q("2Gi")));
        assert_eq!(q("1Gi").sub(&q("512Mi")), Some(q("512Mi")));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "", "abc", "1 Gi", "1GB", "1gi", "1e", "1.5.5", "1Gi3x", "--1",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
