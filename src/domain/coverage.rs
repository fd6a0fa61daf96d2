//! A patient's European Health Insurance Card (EHIC, or the UK's GHIC), as
//! PDS holds it: card number, issuing country, institution, personal id and
//! expiry. An [`Ehic`] is valid once built, by the limits of PDS's
//! `Coverage` schema.

use chrono::{Months, NaiveDate};

use super::countries::COUNTRIES;

/// A country by its ISO 3166-1 alpha-3 code, with its English name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    code: &'static str,
    name: &'static str,
}

impl Country {
    /// The country with this code (upper case, as ISO writes it), if any.
    pub fn from_code(code: &str) -> Option<Self> {
        COUNTRIES
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .ok()
            .map(|i| Self {
                code: COUNTRIES[i].0,
                name: COUNTRIES[i].1,
            })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// The display PDS sends beside the code ("France").
    pub fn name(self) -> &'static str {
        self.name
    }
}

/// Which part of an EHIC a value was refused for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EhicField {
    CardNumber,
    Country,
    Institution,
    PersonalId,
    Expiry,
}

/// A value an EHIC cannot hold, as it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid EHIC {field:?}: '{value}'")]
pub struct InvalidEhic {
    pub field: EhicField,
    pub value: String,
}

/// An EHIC. The three identifiers are 1 to 25 (the institution 30)
/// characters of `A-Z a-z 0-9 - , / : ' .` and space (PDS's pattern
/// `^[a-zA-Z0-9\-,/:'. ]{1,25}$`), the country a known ISO 3166-1
/// alpha-3 code, and the expiry less than 150 years from the day it was
/// set, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ehic {
    card_number: String,
    country: Country,
    institution: String,
    personal_id: String,
    expires: NaiveDate,
}

/// How far from today an expiry may be, either way (PDS: "less than 150
/// years in the past ... less than 150 years in the future").
const EXPIRY_YEARS: u32 = 150;

/// PDS's identifier characters.
fn identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | ',' | '/' | ':' | '\'' | '.' | ' ')
}

fn identifier(value: &str, max: usize, field: EhicField) -> Result<String, InvalidEhic> {
    let count = value.chars().count();
    if (1..=max).contains(&count) && value.chars().all(identifier_char) {
        Ok(value.to_owned())
    } else {
        Err(InvalidEhic {
            field,
            value: value.to_owned(),
        })
    }
}

/// Whether `expires` is less than 150 years before or after `today`.
fn expiry_in_range(expires: NaiveDate, today: NaiveDate) -> bool {
    let span = Months::new(EXPIRY_YEARS * 12);
    let earliest = today.checked_sub_months(span);
    let latest = today.checked_add_months(span);
    earliest.is_some_and(|e| expires > e) && latest.is_some_and(|l| expires < l)
}

impl Ehic {
    /// Checks each part in the order PDS's schema lists them (card number
    /// and country, institution, personal id, expiry); the first refused
    /// is the error. `today` bounds the expiry.
    pub fn new(
        card_number: &str,
        country: &str,
        institution: &str,
        personal_id: &str,
        expires: NaiveDate,
        today: NaiveDate,
    ) -> Result<Self, InvalidEhic> {
        let card_number = identifier(card_number, 25, EhicField::CardNumber)?;
        let country = Country::from_code(country).ok_or_else(|| InvalidEhic {
            field: EhicField::Country,
            value: country.to_owned(),
        })?;
        let institution = identifier(institution, 30, EhicField::Institution)?;
        let personal_id = identifier(personal_id, 25, EhicField::PersonalId)?;
        if !expiry_in_range(expires, today) {
            return Err(InvalidEhic {
                field: EhicField::Expiry,
                value: expires.format("%Y-%m-%d").to_string(),
            });
        }
        Ok(Self {
            card_number,
            country,
            institution,
            personal_id,
            expires,
        })
    }

    /// An EHIC as stored: every check of [`Ehic::new`] but the expiry's
    /// distance from today, which it met on the day it was set.
    pub fn restore(
        card_number: &str,
        country: &str,
        institution: &str,
        personal_id: &str,
        expires: NaiveDate,
    ) -> Result<Self, InvalidEhic> {
        Self::new(
            card_number,
            country,
            institution,
            personal_id,
            expires,
            expires,
        )
    }

    pub fn card_number(&self) -> &str {
        &self.card_number
    }

    pub fn country(&self) -> Country {
        self.country
    }

    pub fn institution(&self) -> &str {
        &self.institution
    }

    pub fn personal_id(&self) -> &str {
        &self.personal_id
    }

    pub fn expires(&self) -> NaiveDate {
        self.expires
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    const TODAY: &str = "2026-12-01";

    fn ehic(
        card: &str,
        country: &str,
        inst: &str,
        personal: &str,
        end: &str,
    ) -> Result<Ehic, InvalidEhic> {
        Ehic::new(card, country, inst, personal, day(end), day(TODAY))
    }

    fn refused(result: Result<Ehic, InvalidEhic>) -> (EhicField, String) {
        let e = result.unwrap_err();
        (e.field, e.value)
    }

    #[test]
    fn the_sandbox_card_is_valid_and_keeps_its_parts() {
        let e = ehic(
            "ES456789012345",
            "FRA",
            "ES11223",
            "5647382910",
            "2027-03-03",
        )
        .unwrap();
        assert_eq!(e.card_number(), "ES456789012345");
        assert_eq!(e.country().code(), "FRA");
        assert_eq!(e.country().name(), "France");
        assert_eq!(e.institution(), "ES11223");
        assert_eq!(e.personal_id(), "5647382910");
        assert_eq!(e.expires(), day("2027-03-03"));
        // Every character of the pattern, at the longest length.
        assert!(
            ehic(
                "aZ09-,/:'. aZ09-,/:'. aZ0",
                "DEU",
                &"9".repeat(30),
                &"x".repeat(25),
                "2030-01-01"
            )
            .is_ok()
        );
    }

    #[test]
    fn identifiers_follow_the_pds_pattern_and_lengths() {
        let ok = ("ES4567", "FRA", "ES11223", "5647382910", "2027-03-03");
        let long_card = "1".repeat(26);
        assert_eq!(
            refused(ehic(&long_card, ok.1, ok.2, ok.3, ok.4)),
            (EhicField::CardNumber, long_card.clone())
        );
        assert_eq!(
            refused(ehic("", ok.1, ok.2, ok.3, ok.4)).0,
            EhicField::CardNumber
        );
        assert_eq!(
            refused(ehic("ES_4567", ok.1, ok.2, ok.3, ok.4)).0,
            EhicField::CardNumber
        );
        // Letters beyond ASCII are not in the pattern.
        assert_eq!(
            refused(ehic("ÉS4567", ok.1, ok.2, ok.3, ok.4)).0,
            EhicField::CardNumber
        );
        let long_inst = "1".repeat(31);
        assert_eq!(
            refused(ehic(ok.0, ok.1, &long_inst, ok.3, ok.4)),
            (EhicField::Institution, long_inst)
        );
        assert_eq!(
            refused(ehic(ok.0, ok.1, "", ok.3, ok.4)),
            (EhicField::Institution, String::new())
        );
        assert_eq!(
            refused(ehic(ok.0, ok.1, ok.2, &long_card, ok.4)).0,
            EhicField::PersonalId
        );
        assert_eq!(
            refused(ehic(ok.0, ok.1, ok.2, "a\nb", ok.4)).0,
            EhicField::PersonalId
        );
    }

    #[test]
    fn the_country_is_a_known_alpha_3_code() {
        let e = |c: &str| ehic("ES4567", c, "ES11223", "5647382910", "2027-03-03");
        assert_eq!(e("DEU").unwrap().country().name(), "Germany");
        for bad in ["FAU", "fra", "FR", "FRAN", ""] {
            assert_eq!(
                refused(e(bad)),
                (EhicField::Country, bad.to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_expiry_is_less_than_150_years_away_either_way() {
        let e = |end: &str| ehic("ES4567", "FRA", "ES11223", "5647382910", end);
        assert!(e("2020-01-01").is_ok(), "an expired card is still a card");
        assert!(e("1876-12-02").is_ok());
        assert_eq!(
            refused(e("1876-12-01")),
            (EhicField::Expiry, "1876-12-01".into())
        );
        assert_eq!(refused(e("1860-12-15")).0, EhicField::Expiry);
        assert!(e("3176-11-30").is_err());
        assert!(e("2176-11-30").is_ok());
        assert!(e("2176-12-01").is_err());
    }

    #[test]
    fn the_country_table_is_sorted_and_each_code_is_three_capitals() {
        assert_eq!(COUNTRIES.len(), 249);
        for pair in COUNTRIES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} before {:?}", pair[0], pair[1]);
        }
        for (code, name) in COUNTRIES {
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code}"
            );
            assert!(!name.is_empty());
        }
        assert_eq!(Country::from_code("GBR").unwrap().name(), "United Kingdom");
    }
}
