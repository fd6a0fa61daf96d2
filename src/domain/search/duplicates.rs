//! Whether a patient being created is already on file (`POST /Patient`).
//!
//! The demographics become a fuzzy search (first given name, family, birth
//! date, and gender and postcode when known) scored by the search
//! [`Matcher`] on what the caller may see of each record. Only a score of
//! at least [`MATCH_THRESHOLD`] counts; weaker resemblances (Jayne Smyth
//! for Jane Smith scores 0.937) do not stop a create. A record the caller
//! may not see in full is also compared on names, birth date and gender
//! alone (never on where the patient lives): a duplicate of it is refused
//! too, without saying which, how many or where ([`Duplicates::Withheld`]).
//!
//! The store fetches the candidates (`store::search::duplicates`).

use chrono::NaiveDate;

use super::normalise;
use super::params::{DateRange, Pattern, SearchRequest};
use super::score::Matcher;
use crate::domain::codes::{AddressUse, Gender, NameUse};
use crate::domain::patient::Clearance;
use crate::domain::{NhsNumber, Patient};

/// The lowest fuzzy score at which an existing patient counts as the person
/// being created. 0.95 needs every identifying field to agree or nearly
/// agree: a postcode the record holds only as a past address (0.95 on a
/// weight of 2) still passes, a homophone family name (0.9 on 3) with a
/// slightly different given name does not.
pub const MATCH_THRESHOLD: f64 = 0.95;

/// The patients a create would duplicate, in number order.
#[derive(Debug, PartialEq)]
pub enum Duplicates {
    None,
    /// Matched on what the caller may see: named (one) or counted (several).
    Visible(Vec<NhsNumber>),
    /// Only records the caller may not see in full match, on their names,
    /// birth date and gender: the create is refused without saying which,
    /// how many or where.
    Withheld(Vec<NhsNumber>),
}

impl Duplicates {
    /// From the candidates that matched, each with whether it matched on
    /// what the caller may see (see [`Matchers::duplicate`]).
    pub fn of(found: Vec<(NhsNumber, bool)>) -> Self {
        let (mut visible, mut withheld): (Vec<_>, Vec<_>) =
            found.into_iter().partition(|(_, seen)| *seen);
        visible.sort();
        withheld.sort();
        let numbers = |list: Vec<(NhsNumber, bool)>| list.into_iter().map(|(n, _)| n).collect();
        if !visible.is_empty() {
            Self::Visible(numbers(visible))
        } else if !withheld.is_empty() {
            Self::Withheld(numbers(withheld))
        } else {
            Self::None
        }
    }
}

/// How a create is compared with the patients on file.
pub struct Matchers {
    /// Every field, on what the caller may see of each record.
    visible: Matcher,
    /// Names, birth date and gender only, on the whole record: for records
    /// the caller may not see in full, so that a duplicate of one is still
    /// refused, without the answer depending on where that patient lives.
    identity: Matcher,
    clearance: Clearance,
    birth: DateRange,
    /// The family name in normal form.
    family: Option<Pattern>,
}

impl Matchers {
    pub fn new(patient: &Patient, today: NaiveDate, clearance: Clearance) -> Self {
        let identity = identity_request(patient);
        let family = identity.family.clone().map(|p| match p {
            Pattern::Exact(f) => Pattern::Exact(normalise::name(&f)),
            other => other,
        });
        Self {
            visible: Matcher::at(&match_request(patient), today, clearance),
            identity: Matcher::at(&identity, today, Clearance::All),
            clearance,
            birth: identity.birth,
            family,
        }
    }

    /// The birth date every candidate has.
    pub fn birth(&self) -> DateRange {
        self.birth
    }

    /// The family name to narrow the candidates by when too many share the
    /// birth date (a placeholder date).
    pub fn family(&self) -> Option<&Pattern> {
        self.family.as_ref()
    }

    /// The score of `candidate` on every field, as the caller sees it.
    pub fn score(&self, candidate: &Patient) -> Option<f64> {
        self.visible.score(candidate)
    }

    /// Whether `candidate` is the patient being created: `Some(true)` on
    /// what the caller may see of it, `Some(false)` on its identity alone,
    /// for a record the caller may not see in full.
    pub fn duplicate(&self, candidate: &Patient) -> Option<bool> {
        let strong = |score: Option<f64>| score.is_some_and(|s| s >= MATCH_THRESHOLD);
        if strong(self.visible.score(candidate)) {
            Some(true)
        } else if !candidate.visible_in_full_to(self.clearance)
            && strong(self.identity.score(candidate))
        {
            Some(false)
        } else {
            None
        }
    }
}

/// The demographics as a fuzzy search. Gender `unknown` and pseudo
/// postcodes (`ZZ99 …`) say nothing about who this is, so they are left out.
pub fn match_request(patient: &Patient) -> SearchRequest {
    let postcode = patient
        .details
        .addresses
        .iter()
        .filter(|a| a.address_use == AddressUse::Home)
        .chain(&patient.details.addresses)
        .filter_map(|a| a.postal_code.as_deref())
        .map(str::trim)
        .find(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '))
        .filter(|p| !normalise::postcode(p).starts_with("ZZ99"));
    SearchRequest {
        postcode: postcode.map(|p| Pattern::Exact(p.to_owned())),
        ..identity_request(patient)
    }
}

/// The demographics that say who, not where: first given name, family
/// name, birth date and gender.
pub fn identity_request(patient: &Patient) -> SearchRequest {
    let name = patient
        .details
        .names
        .iter()
        .find(|n| n.name_use == NameUse::Usual);
    SearchRequest {
        family: name.and_then(|n| n.family.clone()).map(Pattern::Exact),
        given: name
            .and_then(|n| n.given.first().cloned())
            .map(Pattern::Exact)
            .into_iter()
            .collect(),
        gender: patient
            .gender
            .filter(|g| matches!(g, Gender::Male | Gender::Female)),
        birth: DateRange {
            from: patient.birth_date,
            to: patient.birth_date,
        },
        fuzzy: true,
        ..SearchRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::Security;
    use crate::domain::patient::{Address, Name, WithId};

    fn born() -> NaiveDate {
        NaiveDate::from_ymd_opt(1970, 1, 24).unwrap()
    }

    fn number(stem: u64) -> NhsNumber {
        (stem..).find_map(NhsNumber::from_stem).unwrap()
    }

    fn person(n: NhsNumber, given: &str, gender: Gender, postcode: &str) -> Patient {
        let mut p = Patient::minimal(n, 1);
        p.gender = Some(gender);
        p.birth_date = Some(born());
        p.details.names.push(WithId::new(
            "n",
            Name {
                name_use: NameUse::Usual,
                period: None,
                given: vec![given.into()],
                family: Some("Youds".into()),
                prefix: vec![],
                suffix: vec![],
            },
        ));
        p.details.addresses.push(WithId::new(
            "a",
            Address {
                address_use: AddressUse::Home,
                period: None,
                text: None,
                lines: vec!["1 Road".into(), "Leeds".into()],
                postal_code: Some(postcode.into()),
                keys: vec![],
            },
        ));
        p
    }

    #[test]
    fn unknown_gender_and_pseudo_postcodes_say_nothing() {
        let p = person(number(900_000_100), "Ann", Gender::Unknown, "ZZ99 3VZ");
        let request = match_request(&p);
        assert_eq!(request.gender, None);
        assert_eq!(request.postcode, None);
        assert_eq!(request.family, Some(Pattern::Exact("Youds".into())));
        let p = person(number(900_000_100), "Ann", Gender::Female, "DN17 4AB");
        let request = match_request(&p);
        assert_eq!(request.gender, Some(Gender::Female));
        assert_eq!(request.postcode, Some(Pattern::Exact("DN17 4AB".into())));
        assert_eq!(identity_request(&p).postcode, None);
    }

    #[test]
    fn a_record_hidden_from_the_caller_matches_on_who_not_where() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let new = person(number(900_000_100), "Ann", Gender::Female, "DN17 4AB");
        let mut elsewhere = person(number(900_000_200), "Ann", Gender::Female, "LS1 6AE");
        let matchers = Matchers::new(&new, today, Clearance::None);
        // Somewhere else entirely: no match on what anybody may see.
        assert_eq!(matchers.duplicate(&elsewhere), None);
        // Restricted, its address hidden from the caller: matched on the
        // names, birth date and gender alone.
        elsewhere.security = Security::Restricted;
        assert_eq!(matchers.duplicate(&elsewhere), Some(false));
        // The same patient at the same address is a visible match.
        let same = person(number(900_000_300), "Ann", Gender::Female, "DN17 4AB");
        assert_eq!(matchers.duplicate(&same), Some(true));
        assert_eq!(matchers.family(), Some(&Pattern::Exact("YOUDS".into())));
    }

    #[test]
    fn visible_matches_come_first_and_in_number_order() {
        let (a, b, c) = (
            number(900_000_100),
            number(900_000_200),
            number(900_000_300),
        );
        assert_eq!(
            Duplicates::of(vec![(c, true), (a, false), (b, true)]),
            Duplicates::Visible(vec![b, c])
        );
        assert_eq!(
            Duplicates::of(vec![(c, false), (a, false)]),
            Duplicates::Withheld(vec![a, c])
        );
        assert_eq!(Duplicates::of(Vec::new()), Duplicates::None);
    }
}
