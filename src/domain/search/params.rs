//! `GET /Patient` query parameters, parsed and validated in the PDS order.

use chrono::NaiveDate;

use crate::domain::codes::Gender;
use crate::domain::search::normalise;

/// A name or postcode criterion in normal form (see `normalise`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// The whole value must match.
    Exact(String),
    /// Contains `*` (never in the first two characters): `SM*T*`. `prefix`
    /// is the text before the first `*` (at least two characters).
    Wildcard { pattern: String, prefix: String },
}

/// Inclusive bounds; `eq` gives `from == to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchRequest {
    pub family: Option<Pattern>,
    /// Each `given` parameter in order; only the first may be a wildcard,
    /// which matches the start of the patient's first given name.
    pub given: Vec<Pattern>,
    pub gender: Option<Gender>,
    pub birth: DateRange,
    pub death: Option<DateRange>,
    /// `address-postalcode` (or the deprecated `address-postcode`).
    pub postcode: Option<Pattern>,
    /// `general-practitioner`, upper case.
    pub general_practitioner: Option<String>,
    /// Lower case, exact.
    pub email: Option<String>,
    /// Exact, spaces removed.
    pub phone: Option<String>,
    pub fuzzy: bool,
    pub exact: bool,
    pub history: bool,
    /// `_max-results` if given (1–50).
    pub max_results: Option<u8>,
}

/// Each refusal, in the order PDS checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// No parameters at all: 400 UNSUPPORTED_SERVICE.
    NoParameters,
    /// Unknown names, in the order given: 400 ADDITIONAL_PROPERTIES.
    AdditionalProperties(Vec<String>),
    /// A malformed value: 400 INVALID_VALUE `Invalid value - '<value>' in field '<field>'`.
    InvalidValue { field: String, value: String },
    /// No birth date: 400 MISSING_VALUE.
    MissingBirthDate,
    /// Below the minimum combination: 400 INVALID_SEARCH_DATA.
    BelowMinimum,
    /// Both postcode parameters, or a repeated single-valued parameter: 400 INVALID_SEARCH_DATA.
    Conflicting(String),
    /// Fuzzy with wildcards or outside the fuzzy combinations: 400 INVALID_SEARCH_DATA.
    FuzzyCriteria,
}

impl Pattern {
    /// The normalised text: the whole value, or the pattern with its `*`s.
    pub fn as_str(&self) -> &str {
        match self {
            Pattern::Exact(text) => text,
            Pattern::Wildcard { pattern, .. } => pattern,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self, Pattern::Wildcard { .. })
    }

    /// Builds a pattern from a value already in normal form. `None` if it
    /// is empty or a wildcard with fewer than two characters before the
    /// first `*`.
    fn from_normal(normal: String) -> Option<Self> {
        if normal.is_empty() {
            return None;
        }
        match normal.find('*') {
            None => Some(Pattern::Exact(normal)),
            Some(at) => {
                let prefix = normal[..at].to_owned();
                (prefix.trim_end().chars().count() >= 2).then_some(Pattern::Wildcard {
                    pattern: normal,
                    prefix,
                })
            }
        }
    }
}

impl DateRange {
    /// Whether `date` lies within the (inclusive) bounds.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| from <= date) && self.to.is_none_or(|to| date <= to)
    }
}

/// Every accepted parameter name; anything else is ADDITIONAL_PROPERTIES.
pub const KNOWN: [&str; 14] = [
    "family",
    "given",
    "gender",
    "birthdate",
    "death-date",
    "address-postalcode",
    "address-postcode",
    "general-practitioner",
    "email",
    "phone",
    "_fuzzy-match",
    "_exact-match",
    "_history",
    "_max-results",
];

/// Parameters that may appear at most once (a repeat is INVALID_SEARCH_DATA).
/// `death-date` is not here: a repeat is an invalid date value instead.
const SINGLE_VALUED: [&str; 11] = [
    "family",
    "gender",
    "address-postalcode",
    "address-postcode",
    "general-practitioner",
    "email",
    "phone",
    "_fuzzy-match",
    "_exact-match",
    "_history",
    "_max-results",
];

/// Longest `family` or `given` value accepted, in characters.
const MAX_NAME_CHARS: usize = 35;

/// Most `given` parameters accepted.
const MAX_GIVEN: usize = 5;

const MAX_RESULTS: std::ops::RangeInclusive<u8> = 1..=50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Ge,
    Le,
}

/// Parses the decoded query pairs (name, value) in the order received.
///
/// Checks run in the PDS order and the first failure wins: no parameters,
/// unknown names, invalid values (dates first, then the rest in parameter
/// order), missing birth date, conflicting or repeated parameters, fuzzy
/// criteria, and finally the non-fuzzy minimum (`family` + `birthdate`).
pub fn parse(pairs: &[(String, String)]) -> Result<SearchRequest, SearchError> {
    // 1. Nothing at all.
    if pairs.is_empty() {
        return Err(SearchError::NoParameters);
    }

    // 2. Unknown names, in order, once each.
    let mut unknown: Vec<String> = Vec::new();
    for (name, _) in pairs {
        if !KNOWN.contains(&name.as_str()) && !unknown.contains(name) {
            unknown.push(name.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(SearchError::AdditionalProperties(unknown));
    }

    // 3a. Dates: every value well formed, then combined into ranges.
    let mut births = Vec::new();
    let mut deaths = Vec::new();
    for (name, value) in pairs {
        let list = match name.as_str() {
            "birthdate" => &mut births,
            "death-date" => &mut deaths,
            _ => continue,
        };
        let (prefix, date) = parse_date(value).ok_or_else(|| invalid(name, value))?;
        list.push((value.as_str(), prefix, date));
    }
    let birth = date_range("birthdate", &births, 2)?;
    let death = if deaths.is_empty() {
        None
    } else {
        Some(date_range("death-date", &deaths, 1)?)
    };

    // 3b. Every other value, in parameter order.
    let mut request = SearchRequest {
        birth,
        death,
        ..SearchRequest::default()
    };
    let mut fuzzy = None;
    for (name, value) in pairs {
        let bad = || invalid(name, value);
        match name.as_str() {
            "birthdate" | "death-date" => {}
            "family" => {
                let family = name_pattern(name, value)?;
                request.family.get_or_insert(family);
            }
            "given" => {
                if request.given.len() == MAX_GIVEN {
                    return Err(bad());
                }
                request.given.push(name_pattern(name, value)?);
            }
            "gender" => {
                let gender = Gender::from_code(value).ok_or_else(bad)?;
                request.gender.get_or_insert(gender);
            }
            "address-postalcode" | "address-postcode" => {
                let postcode = postcode_pattern(name, value)?;
                request.postcode.get_or_insert(postcode);
            }
            "general-practitioner" => {
                let code = non_empty(value.trim().to_ascii_uppercase()).ok_or_else(bad)?;
                request.general_practitioner.get_or_insert(code);
            }
            "email" => {
                let email = non_empty(value.trim().to_lowercase()).ok_or_else(bad)?;
                request.email.get_or_insert(email);
            }
            "phone" => {
                let phone: String = value.chars().filter(|c| !c.is_whitespace()).collect();
                let phone = non_empty(phone).ok_or_else(bad)?;
                request.phone.get_or_insert(phone);
            }
            "_fuzzy-match" => {
                let flag = parse_bool(value).ok_or_else(bad)?;
                fuzzy.get_or_insert(flag);
            }
            "_exact-match" => {
                let flag = parse_bool(value).ok_or_else(bad)?;
                request.exact = flag;
            }
            "_history" => {
                let flag = parse_bool(value).ok_or_else(bad)?;
                request.history = flag;
            }
            "_max-results" => {
                let max = parse_max_results(value).ok_or_else(bad)?;
                request.max_results.get_or_insert(max);
            }
            // Every known name is handled above; unknown ones returned in step 2.
            _ => return Err(bad()),
        }
    }
    request.fuzzy = fuzzy.unwrap_or(false);

    // 4. No birth date, whatever else is missing.
    if births.is_empty() {
        return Err(SearchError::MissingBirthDate);
    }

    // 5. Both postcode names, or a single-valued parameter repeated.
    let count = |wanted: &str| pairs.iter().filter(|(name, _)| name == wanted).count();
    if count("address-postalcode") > 0 && count("address-postcode") > 0 {
        return Err(SearchError::Conflicting(
            "Both 'address-postalcode' and 'address-postcode' were provided".to_owned(),
        ));
    }
    for (name, _) in pairs {
        if SINGLE_VALUED.contains(&name.as_str()) && count(name) > 1 {
            return Err(SearchError::Conflicting(format!(
                "'{name}' was provided more than once"
            )));
        }
    }

    // 6. Fuzzy: no wildcards, and one of the three combinations.
    if request.fuzzy {
        let wildcard = request.family.iter().any(Pattern::is_wildcard)
            || request.given.iter().any(Pattern::is_wildcard)
            || request.postcode.iter().any(Pattern::is_wildcard);
        let given = !request.given.is_empty();
        let family = request.family.is_some();
        let gender = request.gender.is_some();
        let postcode = request.postcode.is_some();
        let combination =
            (given && family) || (family && gender && postcode) || (given && gender && postcode);
        if wildcard || !combination {
            return Err(SearchError::FuzzyCriteria);
        }
        return Ok(request);
    }

    // 7. Non-fuzzy minimum: family + birthdate.
    if request.family.is_none() {
        return Err(SearchError::BelowMinimum);
    }
    Ok(request)
}

fn invalid(field: &str, value: &str) -> SearchError {
    SearchError::InvalidValue {
        field: field.to_owned(),
        value: value.to_owned(),
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// `[eq|ge|le]YYYY-MM-DD`, a real calendar date; no prefix means `eq`.
fn parse_date(value: &str) -> Option<(Prefix, NaiveDate)> {
    let (prefix, date) = match value.get(..2) {
        Some("eq") => (Prefix::Eq, &value[2..]),
        Some("ge") => (Prefix::Ge, &value[2..]),
        Some("le") => (Prefix::Le, &value[2..]),
        _ => (Prefix::Eq, value),
    };
    let bytes = date.as_bytes();
    let shape = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let year = date[..4].parse().ok()?;
    let month = date[5..7].parse().ok()?;
    let day = date[8..].parse().ok()?;
    Some((prefix, NaiveDate::from_ymd_opt(year, month, day)?))
}

/// Combines well-formed date values (in order) into one range. `eq` sets
/// both bounds and stands alone; `ge` and `le` set one bound each, once.
/// The first value that breaks a rule (too many, a bound set twice, or a
/// range that ends before it starts) is the one reported.
fn date_range(
    field: &str,
    values: &[(&str, Prefix, NaiveDate)],
    most: usize,
) -> Result<DateRange, SearchError> {
    let mut range = DateRange::default();
    for (i, &(raw, prefix, date)) in values.iter().enumerate() {
        let bound = match prefix {
            _ if i >= most => None,
            Prefix::Eq if i > 0 => None,
            Prefix::Eq => {
                range.to = Some(date);
                Some(&mut range.from)
            }
            Prefix::Ge => Some(&mut range.from),
            Prefix::Le => Some(&mut range.to),
        };
        match bound {
            Some(bound @ None) => *bound = Some(date),
            _ => return Err(invalid(field, raw)),
        }
        if let (Some(from), Some(to)) = (range.from, range.to)
            && from > to
        {
            return Err(invalid(field, raw));
        }
    }
    Ok(range)
}

/// `family` or `given`: 1–35 characters, no `*` in the first two, and a
/// wildcard keeps at least two characters before its first `*` once
/// normalised.
fn name_pattern(field: &str, value: &str) -> Result<Pattern, SearchError> {
    let text = value.trim();
    if text.is_empty() || text.chars().count() > MAX_NAME_CHARS || wildcard_too_early(text) {
        return Err(invalid(field, value));
    }
    Pattern::from_normal(normalise::name(text)).ok_or_else(|| invalid(field, value))
}

/// A postcode: non-empty, no `*` in the first two characters, spaces and
/// case ignored.
fn postcode_pattern(field: &str, value: &str) -> Result<Pattern, SearchError> {
    let text = value.trim();
    if text.is_empty() || wildcard_too_early(text) {
        return Err(invalid(field, value));
    }
    Pattern::from_normal(normalise::postcode(text)).ok_or_else(|| invalid(field, value))
}

fn wildcard_too_early(text: &str) -> bool {
    text.chars().take(2).any(|c| c == '*')
}

fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Digits only (no sign), 1–50.
fn parse_max_results(value: &str) -> Option<u8> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<u8>()
        .ok()
        .filter(|max| MAX_RESULTS.contains(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<SearchRequest, SearchError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        parse(&owned)
    }

    fn ok(pairs: &[(&str, &str)]) -> SearchRequest {
        q(pairs).unwrap_or_else(|e| panic!("{pairs:?} rejected: {e:?}"))
    }

    fn inv(field: &str, value: &str) -> Result<SearchRequest, SearchError> {
        Err(invalid(field, value))
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn exact(s: &str) -> Pattern {
        Pattern::Exact(s.to_owned())
    }

    fn wild(pattern: &str, prefix: &str) -> Pattern {
        Pattern::Wildcard {
            pattern: pattern.to_owned(),
            prefix: prefix.to_owned(),
        }
    }

    const BASE: [(&str, &str); 2] = [("family", "Smith"), ("birthdate", "2010-10-22")];

    /// `BASE` (family + birthdate) followed by `extra`.
    fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        pairs
    }

    // --- 1, 2: nothing, unknown names ---

    #[test]
    fn no_parameters() {
        assert_eq!(q(&[]), Err(SearchError::NoParameters));
    }

    #[test]
    fn unknown_names_in_order_deduplicated() {
        assert_eq!(
            q(&[
                ("model", "x"),
                ("family", "Smith"),
                ("manufacturer", "y"),
                ("model", "z"),
                ("year", "1"),
                ("birthdate", "2010-10-22"),
            ]),
            Err(SearchError::AdditionalProperties(vec![
                "model".into(),
                "manufacturer".into(),
                "year".into()
            ]))
        );
    }

    #[test]
    fn unknown_names_win_over_everything() {
        // Over a bad date, a missing birth date, conflicts and fuzzy criteria.
        assert_eq!(
            q(&[
                ("birthdate", "20101022"),
                ("gender", "mal"),
                ("_fuzzy-match", "true"),
                ("family", "S*"),
                ("year", "2020"),
            ]),
            Err(SearchError::AdditionalProperties(vec!["year".into()]))
        );
        assert_eq!(
            q(&[("year", "2020")]),
            Err(SearchError::AdditionalProperties(vec!["year".into()]))
        );
        // managing-organization is internal and not accepted.
        assert_eq!(
            q(&with(&[("managing-organization", "Y12345")])),
            Err(SearchError::AdditionalProperties(vec![
                "managing-organization".into()
            ]))
        );
        // Names are case-sensitive.
        assert_eq!(
            q(&with(&[("Family", "Smith")])),
            Err(SearchError::AdditionalProperties(vec!["Family".into()]))
        );
    }

    // --- 3: dates ---

    #[test]
    fn malformed_dates() {
        for bad in [
            "20101022",
            "2010-10-32",
            "2010-02-30",
            "2011-02-29",
            "2010-1-22",
            "10-10-2010",
            "gt2010-10-22",
            "EQ2010-10-22",
            "eq",
            "",
            " 2010-10-22",
            "2010-10-22T00:00",
            "+2010-10-22",
        ] {
            assert_eq!(
                q(&[("family", "Smith"), ("birthdate", bad)]),
                inv("birthdate", bad),
                "{bad}"
            );
            assert_eq!(
                q(&with(&[("death-date", bad)])),
                inv("death-date", bad),
                "{bad}"
            );
        }
        // A real leap day is fine.
        assert_eq!(
            ok(&[("family", "Smith"), ("birthdate", "2012-02-29")])
                .birth
                .from,
            Some(d(2012, 2, 29))
        );
    }

    #[test]
    fn date_errors_win_over_missing_birthdate() {
        assert_eq!(
            q(&[("family", "Smith"), ("death-date", "20101022")]),
            inv("death-date", "20101022")
        );
        assert_eq!(
            q(&[("gender", "female")]),
            Err(SearchError::MissingBirthDate)
        );
    }

    #[test]
    fn date_errors_win_over_other_values() {
        // The gender comes first, but dates are checked first.
        assert_eq!(
            q(&[
                ("gender", "mal"),
                ("family", "Smith"),
                ("birthdate", "20101022")
            ]),
            inv("birthdate", "20101022")
        );
    }

    #[test]
    fn date_prefixes() {
        let eq = DateRange {
            from: Some(d(2010, 10, 22)),
            to: Some(d(2010, 10, 22)),
        };
        assert_eq!(ok(&BASE).birth, eq);
        assert_eq!(
            ok(&[("family", "Smith"), ("birthdate", "eq2010-10-22")]).birth,
            eq
        );
        assert_eq!(
            ok(&[("family", "Smith"), ("birthdate", "ge2010-10-22")]).birth,
            DateRange {
                from: Some(d(2010, 10, 22)),
                to: None
            }
        );
        assert_eq!(
            ok(&[("family", "Smith"), ("birthdate", "le2010-10-22")]).birth,
            DateRange {
                from: None,
                to: Some(d(2010, 10, 22))
            }
        );
    }

    #[test]
    fn birthdate_ranges() {
        let range = DateRange {
            from: Some(d(2010, 10, 21)),
            to: Some(d(2010, 10, 23)),
        };
        assert_eq!(
            ok(&[
                ("family", "Smith"),
                ("birthdate", "ge2010-10-21"),
                ("birthdate", "le2010-10-23"),
            ])
            .birth,
            range
        );
        // Either order.
        assert_eq!(
            ok(&[
                ("birthdate", "le2010-10-23"),
                ("family", "Smith"),
                ("birthdate", "ge2010-10-21"),
            ])
            .birth,
            range
        );
        assert!(range.contains(d(2010, 10, 22)));
        assert!(range.contains(d(2010, 10, 21)));
        assert!(range.contains(d(2010, 10, 23)));
        assert!(!range.contains(d(2010, 10, 24)));
        // A one-day range is fine.
        assert_eq!(
            ok(&[
                ("family", "Smith"),
                ("birthdate", "ge2010-10-22"),
                ("birthdate", "le2010-10-22"),
            ])
            .birth
            .from,
            Some(d(2010, 10, 22))
        );
    }

    #[test]
    fn bad_birthdate_combinations() {
        let f = ("family", "Smith");
        assert_eq!(
            q(&[
                f,
                ("birthdate", "ge2010-10-21"),
                ("birthdate", "ge2010-10-22")
            ]),
            inv("birthdate", "ge2010-10-22")
        );
        assert_eq!(
            q(&[
                f,
                ("birthdate", "le2010-10-21"),
                ("birthdate", "le2010-10-22")
            ]),
            inv("birthdate", "le2010-10-22")
        );
        assert_eq!(
            q(&[
                f,
                ("birthdate", "2010-10-21"),
                ("birthdate", "le2010-10-22")
            ]),
            inv("birthdate", "le2010-10-22")
        );
        assert_eq!(
            q(&[
                f,
                ("birthdate", "ge2010-10-21"),
                ("birthdate", "eq2010-10-22")
            ]),
            inv("birthdate", "eq2010-10-22")
        );
        assert_eq!(
            q(&[f, ("birthdate", "2010-10-21"), ("birthdate", "2010-10-21")]),
            inv("birthdate", "2010-10-21")
        );
        assert_eq!(
            q(&[
                f,
                ("birthdate", "ge2010-10-21"),
                ("birthdate", "le2010-10-23"),
                ("birthdate", "le2010-10-24"),
            ]),
            inv("birthdate", "le2010-10-24")
        );
        // from > to.
        assert_eq!(
            q(&[
                f,
                ("birthdate", "ge2010-10-23"),
                ("birthdate", "le2010-10-21")
            ]),
            inv("birthdate", "le2010-10-21")
        );
        // A malformed third value is still a format error on that value.
        assert_eq!(
            q(&[
                f,
                ("birthdate", "ge2010-10-21"),
                ("birthdate", "le2010-10-23"),
                ("birthdate", "x"),
            ]),
            inv("birthdate", "x")
        );
    }

    #[test]
    fn death_date() {
        assert_eq!(ok(&BASE).death, None);
        assert_eq!(
            ok(&with(&[("death-date", "le2019-02-28")])).death,
            Some(DateRange {
                from: None,
                to: Some(d(2019, 2, 28))
            })
        );
        assert_eq!(
            ok(&with(&[("death-date", "2019-02-28")])).death,
            Some(DateRange {
                from: Some(d(2019, 2, 28)),
                to: Some(d(2019, 2, 28))
            })
        );
        assert_eq!(
            ok(&with(&[("death-date", "ge2019-02-28")])).death,
            Some(DateRange {
                from: Some(d(2019, 2, 28)),
                to: None
            })
        );
        assert_eq!(
            q(&with(&[
                ("death-date", "ge2019-02-01"),
                ("death-date", "le2019-02-28")
            ])),
            inv("death-date", "le2019-02-28")
        );
    }

    // --- 3: other values ---

    #[test]
    fn gender() {
        assert_eq!(q(&with(&[("gender", "mal")])), inv("gender", "mal"));
        assert_eq!(q(&with(&[("gender", "Male")])), inv("gender", "Male"));
        assert_eq!(q(&with(&[("gender", "")])), inv("gender", ""));
        for (code, gender) in [
            ("male", Gender::Male),
            ("female", Gender::Female),
            ("other", Gender::Other),
            ("unknown", Gender::Unknown),
        ] {
            assert_eq!(ok(&with(&[("gender", code)])).gender, Some(gender));
        }
        assert_eq!(ok(&BASE).gender, None);
    }

    #[test]
    fn max_results() {
        for bad in ["0", "51", "x", "", "-1", "+5", "1.0", "256", "99999999999"] {
            assert_eq!(
                q(&with(&[("_max-results", bad)])),
                inv("_max-results", bad),
                "{bad}"
            );
        }
        assert_eq!(ok(&with(&[("_max-results", "1")])).max_results, Some(1));
        assert_eq!(ok(&with(&[("_max-results", "50")])).max_results, Some(50));
        assert_eq!(ok(&BASE).max_results, None);
    }

    #[test]
    fn booleans() {
        for name in ["_fuzzy-match", "_exact-match", "_history"] {
            for bad in ["yes", "1", "", "t"] {
                assert_eq!(q(&with(&[(name, bad)])), inv(name, bad), "{name}={bad}");
            }
        }
        let r = ok(&with(&[
            ("_exact-match", "TRUE"),
            ("_history", "True"),
            ("_fuzzy-match", "FALSE"),
        ]));
        assert!(r.exact && r.history && !r.fuzzy);
        let r = ok(&with(&[("_exact-match", "false"), ("_history", "false")]));
        assert!(!r.exact && !r.history && !r.fuzzy);
        assert!(ok(&with(&[("given", "Jane"), ("_fuzzy-match", "true")])).fuzzy);
    }

    #[test]
    fn name_values() {
        let long = "A".repeat(36);
        let max = "A".repeat(35);
        assert_eq!(
            q(&[("family", &long), ("birthdate", "2010-10-22")]),
            inv("family", &long)
        );
        assert_eq!(
            ok(&[("family", &max), ("birthdate", "2010-10-22")]).family,
            Some(exact(&max))
        );
        assert_eq!(
            q(&[("family", ""), ("birthdate", "2010-10-22")]),
            inv("family", "")
        );
        assert_eq!(
            q(&[("family", "   "), ("birthdate", "2010-10-22")]),
            inv("family", "   ")
        );
        assert_eq!(q(&with(&[("given", &long)])), inv("given", &long));
        assert_eq!(q(&with(&[("given", "")])), inv("given", ""));
    }

    #[test]
    fn given_at_most_five() {
        let five = with(&[
            ("given", "A1"),
            ("given", "B1"),
            ("given", "C1"),
            ("given", "D1"),
            ("given", "E1"),
        ]);
        assert_eq!(ok(&five).given.len(), 5);
        let mut six = five.clone();
        six.push(("given", "F1"));
        assert_eq!(q(&six), inv("given", "F1"));
    }

    #[test]
    fn first_value_error_in_parameter_order() {
        assert_eq!(
            q(&with(&[("_max-results", "0"), ("gender", "mal")])),
            inv("_max-results", "0")
        );
        assert_eq!(
            q(&with(&[("gender", "mal"), ("_max-results", "0")])),
            inv("gender", "mal")
        );
        // Value errors win over a missing birth date and repeats.
        assert_eq!(
            q(&[("family", "Smith"), ("family", "S*")]),
            inv("family", "S*")
        );
    }

    #[test]
    fn empty_values_are_invalid() {
        for name in [
            "address-postalcode",
            "address-postcode",
            "general-practitioner",
            "email",
            "phone",
        ] {
            assert_eq!(q(&with(&[(name, "")])), inv(name, ""), "{name}");
            assert_eq!(q(&with(&[(name, " ")])), inv(name, " "), "{name}");
        }
    }

    // --- wildcards and normal forms ---

    #[test]
    fn wildcards() {
        let r = ok(&[("family", "Sm*"), ("birthdate", "2010-10-22")]);
        assert_eq!(r.family, Some(wild("SM*", "SM")));
        assert!(r.family.as_ref().unwrap().is_wildcard());
        assert_eq!(
            ok(&[("family", "Sm*t*"), ("birthdate", "2010-10-22")]).family,
            Some(wild("SM*T*", "SM"))
        );
        for bad in ["S*", "*ith", "**", "*", "S.*"] {
            assert_eq!(
                q(&[("family", bad), ("birthdate", "2010-10-22")]),
                inv("family", bad),
                "{bad}"
            );
            assert_eq!(q(&with(&[("given", bad)])), inv("given", bad), "{bad}");
        }
        assert_eq!(
            ok(&with(&[("given", "Ala*")])).given,
            vec![wild("ALA*", "ALA")]
        );
    }

    #[test]
    fn names_are_normalised() {
        let family = |v: &str| ok(&[("family", v), ("birthdate", "2010-10-22")]).family;
        assert_eq!(family("smÏth"), Some(exact("SMITH")));
        assert_eq!(family("Smith"), family("SMITH"));
        assert_eq!(family("Smîth"), family("smith"));
        assert_eq!(family(" o'Neill "), Some(exact("O'NEILL")));
        assert_eq!(family("ATTSÖN"), Some(exact("ATTSON")));
        assert_eq!(
            ok(&with(&[("given", "John Paul"), ("given", "James")])).given,
            vec![exact("JOHN PAUL"), exact("JAMES")]
        );
        // `+` is not a space here: the caller has already decoded the query.
        assert_eq!(
            ok(&with(&[("given", "John+Paul")])).given,
            vec![exact("JOHNPAUL")]
        );
    }

    #[test]
    fn postcodes() {
        let r = ok(&with(&[("address-postalcode", "ls1 6ae")]));
        assert_eq!(r.postcode, Some(exact("LS16AE")));
        assert_eq!(
            ok(&with(&[("address-postcode", "LS1 6AE")])).postcode,
            Some(exact("LS16AE"))
        );
        assert_eq!(
            ok(&with(&[("address-postalcode", "dn17*")])).postcode,
            Some(wild("DN17*", "DN17"))
        );
        assert_eq!(
            ok(&with(&[("address-postalcode", "LS*")])).postcode,
            Some(wild("LS*", "LS"))
        );
        for bad in ["L*", "*S1", "L *"] {
            assert_eq!(
                q(&with(&[("address-postalcode", bad)])),
                inv("address-postalcode", bad)
            );
            assert_eq!(
                q(&with(&[("address-postcode", bad)])),
                inv("address-postcode", bad)
            );
        }
    }

    #[test]
    fn contact_and_gp_values() {
        let r = ok(&with(&[
            ("general-practitioner", " y12345 "),
            ("email", " Jane.Smith@Example.COM "),
            ("phone", "01632 960 587"),
        ]));
        assert_eq!(r.general_practitioner.as_deref(), Some("Y12345"));
        assert_eq!(r.email.as_deref(), Some("jane.smith@example.com"));
        assert_eq!(r.phone.as_deref(), Some("01632960587"));
        // Phone numbers keep their country codes.
        assert_eq!(
            ok(&with(&[("phone", "00917855986859")])).phone.as_deref(),
            Some("00917855986859")
        );
    }

    // --- 4: missing birth date ---

    #[test]
    fn missing_birthdate() {
        assert_eq!(
            q(&[("family", "Smith")]),
            Err(SearchError::MissingBirthDate)
        );
        // Even when family is missing too.
        assert_eq!(q(&[("gender", "male")]), Err(SearchError::MissingBirthDate));
        assert_eq!(
            q(&[("email", "a@b.com"), ("phone", "0123")]),
            Err(SearchError::MissingBirthDate)
        );
        // And before conflicts and fuzzy criteria.
        assert_eq!(
            q(&[("family", "Smith"), ("family", "Jones")]),
            Err(SearchError::MissingBirthDate)
        );
        assert_eq!(
            q(&[("family", "Sm*"), ("_fuzzy-match", "true")]),
            Err(SearchError::MissingBirthDate)
        );
    }

    // --- 5: conflicts ---

    #[test]
    fn both_postcode_names_conflict() {
        assert!(matches!(
            q(&with(&[
                ("address-postalcode", "LS1 6AE"),
                ("address-postcode", "LS1 6AE")
            ])),
            Err(SearchError::Conflicting(_))
        ));
    }

    #[test]
    fn repeated_single_valued_parameters_conflict() {
        for (name, value) in [
            ("family", "Jones"),
            ("gender", "male"),
            ("email", "a@b.com"),
            ("phone", "0123"),
            ("address-postalcode", "LS1 6AE"),
            ("address-postcode", "LS1 6AE"),
            ("general-practitioner", "Y12345"),
            ("_fuzzy-match", "false"),
            ("_exact-match", "true"),
            ("_history", "true"),
            ("_max-results", "5"),
        ] {
            // BASE already holds one `family`.
            let pairs = if name == "family" {
                with(&[(name, value)])
            } else {
                with(&[(name, value), (name, value)])
            };
            match q(&pairs) {
                Err(SearchError::Conflicting(message)) => {
                    assert!(message.contains(name), "{name}: {message}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        // Repeatable ones are fine.
        assert_eq!(
            ok(&with(&[("given", "Jane"), ("given", "Anne")]))
                .given
                .len(),
            2
        );
    }

    #[test]
    fn conflicts_win_over_fuzzy_and_minimum() {
        assert!(matches!(
            q(&[
                ("birthdate", "2010-10-22"),
                ("gender", "male"),
                ("gender", "male")
            ]),
            Err(SearchError::Conflicting(_))
        ));
        assert!(matches!(
            q(&with(&[("_fuzzy-match", "true"), ("_fuzzy-match", "true")])),
            Err(SearchError::Conflicting(_))
        ));
    }

    // --- 6: fuzzy ---

    #[test]
    fn fuzzy_combinations_accepted() {
        let fuzzy = ("_fuzzy-match", "true");
        let r = ok(&[
            ("given", "Jane"),
            ("family", "Smith"),
            ("birthdate", "2010-10-22"),
            fuzzy,
        ]);
        assert!(r.fuzzy);
        assert_eq!(r.given, vec![exact("JANE")]);
        ok(&[
            ("family", "Smith"),
            ("birthdate", "2010-10-22"),
            ("gender", "female"),
            ("address-postalcode", "LS1 6AE"),
            fuzzy,
        ]);
        ok(&[
            ("given", "Jane"),
            ("birthdate", "2010-10-22"),
            ("gender", "female"),
            ("address-postcode", "LS1 6AE"),
            fuzzy,
        ]);
        // Ranges and score-only extras are fine.
        ok(&[
            ("given", "Jane"),
            ("family", "Smith"),
            ("birthdate", "ge2010-10-21"),
            ("birthdate", "le2010-10-23"),
            ("death-date", "2020-01-01"),
            ("general-practitioner", "Y12345"),
            fuzzy,
        ]);
    }

    #[test]
    fn fuzzy_outside_combinations() {
        let fuzzy = ("_fuzzy-match", "true");
        for pairs in [
            // family + birthdate alone is not enough when fuzzy.
            vec![("family", "Smith"), ("birthdate", "2010-10-22"), fuzzy],
            vec![
                ("family", "Smith"),
                ("birthdate", "2010-10-22"),
                ("gender", "female"),
                fuzzy,
            ],
            vec![
                ("family", "Smith"),
                ("birthdate", "2010-10-22"),
                ("address-postalcode", "LS1 6AE"),
                fuzzy,
            ],
            vec![
                ("given", "Jane"),
                ("birthdate", "2010-10-22"),
                ("gender", "female"),
                fuzzy,
            ],
            vec![("given", "Jane"), ("birthdate", "2010-10-22"), fuzzy],
            vec![("birthdate", "2010-10-22"), fuzzy],
        ] {
            assert_eq!(q(&pairs), Err(SearchError::FuzzyCriteria), "{pairs:?}");
        }
    }

    #[test]
    fn fuzzy_with_wildcards() {
        let fuzzy = ("_fuzzy-match", "true");
        for pairs in [
            vec![
                ("given", "Jane"),
                ("family", "Sm*"),
                ("birthdate", "2010-10-22"),
                fuzzy,
            ],
            vec![
                ("given", "Ja*"),
                ("family", "Smith"),
                ("birthdate", "2010-10-22"),
                fuzzy,
            ],
            vec![
                ("family", "Smith"),
                ("birthdate", "2010-10-22"),
                ("gender", "female"),
                ("address-postalcode", "LS*"),
                fuzzy,
            ],
        ] {
            assert_eq!(q(&pairs), Err(SearchError::FuzzyCriteria), "{pairs:?}");
        }
        // A wildcard that is malformed is an invalid value first.
        assert_eq!(
            q(&[
                ("given", "Jane"),
                ("family", "S*"),
                ("birthdate", "2010-10-22"),
                fuzzy
            ]),
            inv("family", "S*")
        );
    }

    // --- 7: non-fuzzy minimum ---

    #[test]
    fn below_minimum() {
        assert_eq!(
            q(&[("birthdate", "2010-10-22")]),
            Err(SearchError::BelowMinimum)
        );
        // Email and phone never stand alone.
        assert_eq!(
            q(&[
                ("birthdate", "2010-10-22"),
                ("email", "jane.smith@example.com"),
                ("phone", "01632960587"),
            ]),
            Err(SearchError::BelowMinimum)
        );
        assert_eq!(
            q(&[
                ("birthdate", "2010-10-22"),
                ("given", "Jane"),
                ("gender", "female"),
                ("address-postalcode", "LS1 6AE"),
                ("_fuzzy-match", "false"),
            ]),
            Err(SearchError::BelowMinimum)
        );
    }

    #[test]
    fn minimum_and_full_requests() {
        let r = ok(&BASE);
        assert_eq!(
            r,
            SearchRequest {
                family: Some(exact("SMITH")),
                birth: DateRange {
                    from: Some(d(2010, 10, 22)),
                    to: Some(d(2010, 10, 22))
                },
                ..SearchRequest::default()
            }
        );
        let r = ok(&[
            ("family", "Smith"),
            ("given", "Jane"),
            ("given", "Anne"),
            ("gender", "female"),
            ("birthdate", "eq2010-10-22"),
            ("death-date", "le2020-01-01"),
            ("address-postalcode", "LS1 6AE"),
            ("general-practitioner", "y12345"),
            ("email", "Jane.Smith@example.com"),
            ("phone", "01632 960587"),
            ("_fuzzy-match", "false"),
            ("_exact-match", "true"),
            ("_history", "true"),
            ("_max-results", "10"),
        ]);
        assert_eq!(
            r,
            SearchRequest {
                family: Some(exact("SMITH")),
                given: vec![exact("JANE"), exact("ANNE")],
                gender: Some(Gender::Female),
                birth: DateRange {
                    from: Some(d(2010, 10, 22)),
                    to: Some(d(2010, 10, 22))
                },
                death: Some(DateRange {
                    from: None,
                    to: Some(d(2020, 1, 1))
                }),
                postcode: Some(exact("LS16AE")),
                general_practitioner: Some("Y12345".into()),
                email: Some("jane.smith@example.com".into()),
                phone: Some("01632960587".into()),
                fuzzy: false,
                exact: true,
                history: true,
                max_results: Some(10),
            }
        );
    }

    #[test]
    fn pattern_helpers() {
        assert_eq!(exact("SMITH").as_str(), "SMITH");
        assert_eq!(wild("SM*T*", "SM").as_str(), "SM*T*");
        assert!(!exact("SMITH").is_wildcard());
        assert_eq!(Pattern::from_normal(String::new()), None);
        assert_eq!(Pattern::from_normal("A *".into()), None);
    }
}
