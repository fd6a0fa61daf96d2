//! The NHS number: ten digits whose last is a modulus-11 check digit.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A valid NHS number. Construction checks the length and the check digit,
/// so code holding one never has to validate it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NhsNumber(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid NHS number")]
pub struct InvalidNhsNumber;

impl NhsNumber {
    /// Parses ten ASCII digits (surrounding whitespace ignored) with a valid check digit.
    pub fn parse(text: &str) -> Result<Self, InvalidNhsNumber> {
        let text = text.trim();
        if text.len() != 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidNhsNumber);
        }
        let value: u64 = text.parse().map_err(|_| InvalidNhsNumber)?;
        Self::from_u64(value)
    }

    /// Checks a number read back from storage or built by the generator.
    pub fn from_u64(value: u64) -> Result<Self, InvalidNhsNumber> {
        if value >= 10_000_000_000 {
            return Err(InvalidNhsNumber);
        }
        match check_digit(value / 10) {
            Some(check) if check == value % 10 => Ok(Self(value)),
            _ => Err(InvalidNhsNumber),
        }
    }

    /// Appends the check digit to a nine-digit stem; `None` when no digit
    /// works (a remainder of 10), which is about one stem in eleven.
    pub fn from_stem(stem: u64) -> Option<Self> {
        if stem >= 1_000_000_000 {
            return None;
        }
        check_digit(stem).map(|check| Self(stem * 10 + check))
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The storage key (PostgreSQL `bigint`); every NHS number fits.
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }
}

/// Weights 10..2 over the nine-digit stem; 11 becomes 0 and 10 is invalid.
fn check_digit(stem: u64) -> Option<u64> {
    let mut rest = stem;
    let mut sum = 0;
    // Digits from the right carry weights 2, 3, ..., 10.
    for weight in 2..=10 {
        sum += (rest % 10) * weight;
        rest /= 10;
    }
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        check => Some(check),
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}", self.0)
    }
}

impl std::str::FromStr for NhsNumber {
    type Err = InvalidNhsNumber;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_valid_numbers() {
        for n in [
            "9000000009",
            "9000000017",
            "9000000025",
            "9000000033",
            "9111231130",
            "9693632109",
            "9434765919",
            "9990000018",
        ] {
            let parsed = NhsNumber::parse(n).unwrap();
            assert_eq!(parsed.to_string(), n);
        }
    }

    #[test]
    fn rejects_bad_check_digits_lengths_and_characters() {
        for n in [
            "9000000000",
            "9000000001",
            "9999999990",
            "900000000",
            "90000000099",
            "900000000a",
            "",
            "+900000009",
            "-900000009",
        ] {
            assert_eq!(NhsNumber::parse(n), Err(InvalidNhsNumber), "{n}");
        }
    }

    #[test]
    fn a_remainder_of_ten_has_no_check_digit() {
        // 999999999: sum = 9 * 54 = 486, 486 % 11 = 2, check 9 → valid;
        // find a stem with remainder 1 (check 10) by search instead of by hand.
        let stem = (0..100u64).find(|s| check_digit(*s).is_none()).unwrap();
        assert!(NhsNumber::from_stem(stem).is_none());
    }

    #[test]
    fn leading_zeros_are_kept() {
        let n = NhsNumber::from_stem(1).unwrap();
        assert_eq!(n.to_string().len(), 10);
        assert_eq!(NhsNumber::parse(&n.to_string()), Ok(n));
    }
}
