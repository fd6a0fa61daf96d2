//! One normal form for names and postcodes, used for search keys in the
//! database and for matching and scoring in code, so both agree.

/// Upper-case ASCII: accents folded (`Müller` → `MULLER`, `Zoë` → `ZOE`),
/// anything but letters, digits, spaces, hyphens and apostrophes dropped,
/// runs of spaces collapsed. `*` is kept for wildcard patterns.
pub fn name(text: &str) -> String {
    // Borrowed when already ASCII: this runs for every candidate's names.
    let folded = deunicode::deunicode_with_tofu_cow(text, "[?]");
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        let c = c.to_ascii_uppercase();
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '\'' | '*') {
            out.push(c);
        } else if c.is_whitespace() && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// Upper case without spaces: `ls1 6ae` → `LS16AE`.
pub fn postcode(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `ZZ99 …` (normal form) stands for "no fixed abode", "unknown" and the
/// like: a pseudo postcode, which never counts as a postcode match.
pub fn is_pseudo_postcode(postcode: &str) -> bool {
    postcode.starts_with("ZZ99")
}

/// A phone number as compared: without spaces.
pub fn phone(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// An email address as compared: trimmed, lower case.
pub fn email(text: &str) -> String {
    text.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_case_and_accents() {
        assert_eq!(name("Müller"), "MULLER");
        assert_eq!(name("  o'Neill "), "O'NEILL");
        assert_eq!(name("Bowes-Lyon"), "BOWES-LYON");
        assert_eq!(name("ATTSÖN"), "ATTSON");
        assert_eq!(name("John  Paul"), "JOHN PAUL");
        assert_eq!(name("Sm*"), "SM*");
    }

    #[test]
    fn postcodes_ignore_spaces_and_case() {
        assert_eq!(postcode("ls1 6ae"), "LS16AE");
        assert_eq!(postcode("LS16AE"), "LS16AE");
    }
}
