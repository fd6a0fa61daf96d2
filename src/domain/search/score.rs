//! Whether a candidate patient matches a search, and how well (`search.score`).
//!
//! The database fetches candidates by birth date and family name key; this
//! module makes the final decision on the current record and gives the score
//! shown in `entry.search.score` (rounded to 4 decimals, 1.0 only for an exact
//! match on everything asked).
//!
//! **Non-fuzzy search** is a filter: every supplied criterion must match
//! (case- and accent-insensitively, via `normalise`). Each criterion has a
//! *quality*: 1.0 for an exact match on current data, [`HISTORY_QUALITY`] for
//! a match on history data only (`_history=true`), and for a wildcard
//! `WILDCARD_FLOOR + (1 − WILDCARD_FLOOR) × (fixed ÷ length)²`, where `fixed`
//! is the number of characters the pattern pins down and `length` the length
//! of the matched value (`SM*` on `SMITH`: 0.8 + 0.2 × 0.4² = 0.832), capped at
//! [`WILDCARD_CEILING`]. The score is the product of the qualities, never
//! below [`WILDCARD_FLOOR`].
//!
//! **Fuzzy search** (`_fuzzy-match=true`) keeps the birth date as a filter and
//! scores everything else: the score is the weighted average of per-field
//! similarities (0–1) over the fields supplied, with the weights below. A
//! candidate matches when the average over the *identifying* fields (family,
//! given, gender, postcode) reaches [`FUZZY_THRESHOLD`] and no supplied name
//! is below [`NAME_MINIMUM`]; death date, GP, email and phone are then added
//! with [`ADJUSTER_WEIGHT`]. An email or phone asked must also be one the
//! patient has or had (a typo away at most), and a pseudo postcode asked
//! matches nobody: PDS excludes on both.
//!
//! **History** is what the record holds as such (names other than the
//! usual one, addresses other than current home ones, ended telecoms) and
//! the values updates replaced or removed (`Details::extra.former`, see
//! `domain::former`).
//!
//! **What the caller may see.** A [`Matcher`] carries the caller's
//! clearance and matches and scores only the record as that caller may see
//! it (`Patient::visible_to`, the one redaction function): an element a
//! retrieve would hide (a restricted record's address and telecoms; a very
//! restricted record's names and birth date) never matches and never moves
//! a score, so a search cannot confirm what a retrieve withholds.

use chrono::NaiveDate;
use rphonetic::{DoubleMetaphone, Encoder, Soundex};
use strsim::{jaro_winkler, osa_distance};

use super::normalise;
use super::params::{DateRange, Pattern, SearchRequest};
use crate::domain::codes::{AddressUse, Gender, NameUse, TelecomSystem};
use crate::domain::patient::{Address, Clearance, Name, Patient, Period, Telecom, WithId};

// ---------------------------------------------------------------- non-fuzzy

/// Non-fuzzy: quality of a criterion matched only on history data (an old,
/// maiden, nickname or temporary name; a previous address; an ended telecom;
/// a value an update replaced).
pub const HISTORY_QUALITY: f64 = 0.9;
/// Non-fuzzy: quality of a wildcard that fixes none of the value, and the
/// lowest score any non-fuzzy match can have.
pub const WILDCARD_FLOOR: f64 = 0.8;
/// Non-fuzzy: the best quality a wildcard can reach, so that a wildcard never
/// scores like an exact match.
pub const WILDCARD_CEILING: f64 = 0.99;

// -------------------------------------------------------------------- fuzzy

/// Fuzzy weight of the family name similarity.
pub const FAMILY_WEIGHT: f64 = 3.0;
/// Fuzzy weight of the given name similarity.
pub const GIVEN_WEIGHT: f64 = 2.0;
/// Fuzzy weight of gender: 1 when equal, 0 when different,
/// [`UNKNOWN_GENDER_SIMILARITY`] when the record has no (or `unknown`) gender.
pub const GENDER_WEIGHT: f64 = 1.0;
/// Fuzzy weight of the postcode similarity.
pub const POSTCODE_WEIGHT: f64 = 2.0;
/// Fuzzy weight of each score-only field (death date, GP practice, email,
/// phone): 1 when it agrees, 0 otherwise; added after the threshold test.
pub const ADJUSTER_WEIGHT: f64 = 0.5;
/// Inside the given-name similarity, the weight of each further `given`
/// parameter relative to the first (which has weight 1).
pub const EXTRA_GIVEN_WEIGHT: f64 = 0.5;
/// A fuzzy candidate matches when the weighted average over family, given,
/// gender and postcode is at least this.
pub const FUZZY_THRESHOLD: f64 = 0.75;
/// A fuzzy candidate never matches if a supplied name (family, or the given
/// names) is less similar than this, however well the rest agrees (twins).
pub const NAME_MINIMUM: f64 = 0.6;
/// Name similarity when the Soundex and Double Metaphone codes both agree
/// (`Smith`/`Smyth`, `Jane`/`Jayne`); the Jaro-Winkler similarity if higher.
/// Names without phonetic agreement count their Jaro-Winkler similarity
/// squared, because plain Jaro-Winkler is generous to unrelated names.
pub const PHONETIC_SIMILARITY: f64 = 0.9;
/// Given name similarity of a known nickname (`Joe`/`Joseph`, `Bill`/`William`).
pub const NICKNAME_SIMILARITY: f64 = 0.9;
/// Given name similarity of an initial (`J` or `J.`) and a name it starts.
pub const INITIAL_SIMILARITY: f64 = 0.85;
/// Factor on both name similarities when given and family are swapped.
pub const TRANSPOSED_FACTOR: f64 = 0.95;
/// Fuzzy: factor on similarities found on history data (other names, other
/// addresses), which fuzzy search always considers.
pub const FUZZY_HISTORY_FACTOR: f64 = 0.95;
/// Postcode similarity of a one-character typo (including a transposition).
pub const POSTCODE_TYPO_SIMILARITY: f64 = 0.8;
/// Postcode similarity of the same outward code (all but the last three
/// characters: `LS1` of `LS1 6AE`).
pub const POSTCODE_OUTWARD_SIMILARITY: f64 = 0.6;
/// Phone similarity of a one-digit typo (a digit wrong, missing, extra, or
/// two swapped).
pub const PHONE_TYPO_SIMILARITY: f64 = 0.8;
/// Email similarity of a one-character typo.
pub const EMAIL_TYPO_SIMILARITY: f64 = 0.8;
/// Gender similarity when the record's gender is missing or `unknown`.
pub const UNKNOWN_GENDER_SIMILARITY: f64 = 0.5;

/// Nickname groups: two given names are nicknames of each other when they
/// appear in the same group. Normal form (upper case ASCII).
const NICKNAMES: &[&[&str]] = &[
    &["JOSEPH", "JOE", "JOEY"],
    &["WILLIAM", "BILL", "BILLY", "WILL", "WILLIE", "LIAM"],
    &["ROBERT", "BOB", "BOBBY", "ROB", "ROBBIE", "BERT"],
    &[
        "ELIZABETH",
        "LIZ",
        "LIZZIE",
        "LIZZY",
        "BETH",
        "BETTY",
        "BETSY",
        "ELIZA",
        "LIBBY",
        "BESS",
    ],
    &[
        "KATHERINE",
        "KATHARINE",
        "CATHERINE",
        "KATHRYN",
        "KATE",
        "KATIE",
        "KATHY",
        "CATHY",
        "KAT",
        "KITTY",
    ],
    &["JAMES", "JIM", "JIMMY", "JAMIE"],
    &["MICHAEL", "MIKE", "MICK", "MICKY", "MIKEY"],
    &["THOMAS", "TOM", "TOMMY"],
    &["ANTHONY", "ANTONY", "TONY"],
    &["SUSAN", "SUE", "SUSIE", "SUZY"],
    &[
        "MARGARET", "PEGGY", "MAGGIE", "MEG", "MADGE", "GRETA", "RITA",
    ],
    &["JOHN", "JACK", "JOHNNY", "JON"],
    &["HENRY", "HARRY", "HAL", "HANK"],
    &["RICHARD", "DICK", "RICK", "RICKY", "RICH", "RICHIE"],
    &["EDWARD", "TED", "TEDDY", "ED", "EDDIE", "NED"],
    &["ALEXANDER", "SANDY", "ALEX", "ALEC", "ALISTAIR"],
    &["ALEXANDRA", "SANDRA", "SANDY", "ALEX", "LEXI"],
    &["CHARLES", "CHARLIE", "CHAS", "CHUCK"],
    &["CHARLOTTE", "LOTTIE", "CHARLIE"],
    &["DAVID", "DAVE", "DAVY"],
    &["DANIEL", "DAN", "DANNY"],
    &["MATTHEW", "MATT", "MATTY"],
    &["CHRISTOPHER", "CHRIS", "KIT"],
    &["CHRISTINE", "CHRISTINA", "CHRIS", "TINA", "CHRISSIE"],
    &["NICHOLAS", "NICK", "NICKY"],
    &["PETER", "PETE"],
    &["STEPHEN", "STEVEN", "STEVE"],
    &["SAMUEL", "SAM", "SAMMY"],
    &["SAMANTHA", "SAM", "SAMMY"],
    &["BENJAMIN", "BEN", "BENNY"],
    &["ANDREW", "ANDY", "DREW"],
    &["PATRICK", "PAT", "PADDY"],
    &["PATRICIA", "PAT", "PATSY", "TRICIA", "TRISH"],
    &["FREDERICK", "FRED", "FREDDIE", "FREDDY"],
    &["ALFRED", "ALF", "ALFIE", "FRED"],
    &["ALBERT", "AL", "BERT", "BERTIE"],
    &["ARTHUR", "ART", "ARTIE"],
    &["GERALD", "GERRY", "JERRY"],
    &["KENNETH", "KEN", "KENNY"],
    &["LAWRENCE", "LAURENCE", "LARRY", "LAURIE"],
    &["LEONARD", "LEN", "LENNY", "LEO"],
    &["RAYMOND", "RAY"],
    &["RONALD", "RON", "RONNIE"],
    &["DONALD", "DON", "DONNIE"],
    &["TIMOTHY", "TIM", "TIMMY"],
    &["PHILIP", "PHILLIP", "PHIL", "PIP"],
    &["JONATHAN", "JON", "JONNY", "JONTY"],
    &["NATHANIEL", "NATHAN", "NATE", "NAT"],
    &["GREGORY", "GREG"],
    &["DOUGLAS", "DOUG", "DOUGIE"],
    &["FRANCIS", "FRANK", "FRANKIE"],
    &["FRANCES", "FRAN", "FANNY", "FRANKIE"],
    &["THEODORE", "THEO", "TED", "TEDDY"],
    &["VICTORIA", "VICKY", "VICKI", "TORI"],
    &["REBECCA", "BECKY", "BECCA"],
    &["DEBORAH", "DEBRA", "DEBBIE", "DEB"],
    &["JENNIFER", "JENNY", "JEN", "JENNI"],
    &["MARY", "MOLLY", "POLLY", "MAE"],
    &["ANNE", "ANN", "ANNA", "ANNIE", "NANCY"],
    &["HELEN", "HELENA", "ELLEN", "NELL", "NELLIE"],
    &["ELEANOR", "ELLIE", "NELL", "NORA"],
    &["DOROTHY", "DOT", "DOTTIE", "DOLLY"],
    &["SARAH", "SARA", "SALLY", "SADIE"],
    &["JOSEPHINE", "JO", "JOSIE"],
    &["JOANNE", "JOANNA", "JO"],
    &["ABIGAIL", "ABBY", "ABBIE", "GAIL"],
    &["JACQUELINE", "JACKIE"],
    &["CAROLINE", "CAROLINE", "CAROL", "CARRIE"],
    &["GWENDOLINE", "GWENDOLYN", "GWEN"],
    &["WINIFRED", "WINNIE"],
    &["TERENCE", "TERRY", "TEL"],
    &["BARBARA", "BARBIE", "BABS"],
];

/// Decides whether `patient` (the current record, already fetched as a candidate
/// by birth date / family from the database) matches `request`, and how well,
/// for a caller who sees every record in full.
/// None = not a match. Some(score) with 0 < score <= 1, rounded to 4 decimals;
/// 1.0 only for an exact match on everything asked.
pub fn score(request: &SearchRequest, patient: &Patient) -> Option<f64> {
    Matcher::new(request, Clearance::All).score(patient)
}

/// A search request with its values normalised once, to score many candidates.
#[derive(Debug, Clone)]
pub struct Matcher {
    family: Option<Key>,
    given: Vec<Key>,
    gender: Option<Gender>,
    birth: DateRange,
    death: Option<DateRange>,
    postcode: Option<Pat>,
    general_practitioner: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    fuzzy: bool,
    exact: bool,
    history: bool,
    /// Periods ending before this are history.
    today: NaiveDate,
    /// What the caller may see of restricted records.
    clearance: Clearance,
}

impl Matcher {
    /// `request` for a caller with `clearance`.
    pub fn new(request: &SearchRequest, clearance: Clearance) -> Self {
        Self::at(request, chrono::Utc::now().date_naive(), clearance)
    }

    /// As `new`, with the date that separates current from historic periods.
    pub fn at(request: &SearchRequest, today: NaiveDate, clearance: Clearance) -> Self {
        let fuzzy = request.fuzzy;
        Self {
            clearance,
            family: request.family.as_ref().map(|p| Key::new(p, fuzzy, false)),
            given: request
                .given
                .iter()
                .map(|p| Key::new(p, fuzzy, true))
                .collect(),
            gender: request.gender,
            birth: request.birth,
            death: request.death,
            postcode: request.postcode.as_ref().map(|p| {
                let text = match p {
                    Pattern::Exact(t) => t,
                    Pattern::Wildcard { pattern, .. } => pattern,
                };
                Pat::new(normalise::postcode(text))
            }),
            general_practitioner: request
                .general_practitioner
                .as_deref()
                .map(|s| s.trim().to_ascii_uppercase()),
            email: request.email.as_deref().map(normalise::email),
            phone: request.phone.as_deref().map(normalise::phone),
            fuzzy,
            exact: request.exact,
            history: request.history,
            today,
        }
    }

    /// None = not a match; otherwise the score, `0 < score <= 1`, 4 decimals.
    /// Only what the caller may see of `patient` is compared.
    pub fn score(&self, patient: &Patient) -> Option<f64> {
        if patient.visible_in_full_to(self.clearance) {
            self.score_seen(patient)
        } else {
            // Rare (about 0.5% of records), so the copy costs nothing.
            let (seen, _) = patient.clone().visible_to(self.clearance);
            self.score_seen(&seen)
        }
    }

    fn score_seen(&self, patient: &Patient) -> Option<f64> {
        // The birth date is always an exact filter on current data.
        match patient.birth_date {
            Some(date) if within(self.birth, date) => {}
            None if self.birth.from.is_none() && self.birth.to.is_none() => {}
            _ => return None,
        }
        let (score, exact) = if self.fuzzy {
            self.fuzzy_score(patient)?
        } else {
            self.strict_score(patient)?
        };
        let score = if exact {
            1.0
        } else {
            ((score * 10_000.0).round() / 10_000.0).clamp(0.0001, 0.9999)
        };
        if self.exact && score < 1.0 {
            return None;
        }
        Some(score)
    }

    /// The index of the usual name, and its given names (which a history
    /// name recorded without given names keeps).
    fn usual_name<'a>(&self, patient: &'a Patient) -> (Option<usize>, &'a [String]) {
        let names = &patient.details.names;
        let current = current_name(names, self.today);
        (current, current.map_or(&[][..], |i| &names[i].given))
    }

    /// The best similarity (`similar`) of the patient's telecoms of
    /// `system`, current or history (fuzzy search always includes history).
    fn telecom_similarity(
        &self,
        patient: &Patient,
        system: TelecomSystem,
        similar: impl Fn(&str) -> f64,
    ) -> f64 {
        telecoms_of(patient, self.today)
            .filter(|(t, _)| t.system == system)
            .map(|(t, _)| similar(&t.value))
            .fold(0.0, f64::max)
    }

    // ------------------------------------------------------------ non-fuzzy

    /// The product of the criterion qualities (not yet floored), and whether
    /// everything matched exactly on current data.
    fn strict_score(&self, patient: &Patient) -> Option<(f64, bool)> {
        let mut quality = 1.0;
        if self.family.is_some() || !self.given.is_empty() {
            quality *= self.strict_names(patient)?;
        }
        if let Some(gender) = self.gender
            && patient.gender != Some(gender)
        {
            return None;
        }
        if let Some(range) = self.death
            && !within(range, patient.deceased?.date_naive())
        {
            return None;
        }
        if let Some(postcode) = &self.postcode {
            quality *= self.strict_postcode(patient, postcode)?;
        }
        if let Some(gp) = &self.general_practitioner {
            let registered = patient.details.general_practitioner.as_ref();
            if !registered.is_some_and(|org| org.ods_code.trim().eq_ignore_ascii_case(gp)) {
                return None;
            }
        }
        if let Some(email) = &self.email {
            quality *= self.strict_telecom(patient, TelecomSystem::Email, |value| {
                value.trim().eq_ignore_ascii_case(email)
            })?;
        }
        if let Some(phone) = &self.phone {
            quality *= self.strict_telecom(patient, TelecomSystem::Phone, |value| {
                phone_equal(value, phone)
            })?;
        }
        if quality >= 1.0 {
            Some((1.0, true))
        } else {
            Some((quality.max(WILDCARD_FLOOR), false))
        }
    }

    /// The best quality over the names searched (the usual name; with
    /// history also every other name), or None if none matches.
    fn strict_names(&self, patient: &Patient) -> Option<f64> {
        let (current, current_given) = self.usual_name(patient);
        let mut best: Option<f64> = None;
        for (name, is_current) in names_of(patient, current) {
            if !is_current && !self.history {
                continue;
            }
            // An old name recorded without given names keeps the current ones.
            let given = if name.given.is_empty() {
                current_given
            } else {
                &name.given
            };
            let Some(mut quality) = self.strict_name(name.family.as_deref(), given) else {
                continue;
            };
            if !is_current {
                quality *= HISTORY_QUALITY;
            }
            best = Some(best.map_or(quality, |b: f64| b.max(quality)));
        }
        best
    }

    fn strict_name(&self, family: Option<&str>, given: &[String]) -> Option<f64> {
        let mut quality = 1.0;
        if let Some(key) = &self.family {
            quality *= key.pat.quality(&normalise::name(family?))?;
        }
        let Some((first, rest)) = self.given.split_first() else {
            return Some(quality);
        };
        let given: Vec<String> = given.iter().map(|g| normalise::name(g)).collect();
        let (first_quality, consumed) = match &first.pat {
            Pat::Exact(text) => {
                if given.first() == Some(text) {
                    (1.0, 1)
                } else {
                    // A compound first name (`John Paul`) held as two names.
                    let words = text.split(' ').count();
                    let held = given.get(..words)?;
                    if words < 2 || !text.split(' ').eq(held.iter().map(String::as_str)) {
                        return None;
                    }
                    (1.0, words)
                }
            }
            // A wildcard matches the start of the first given name only.
            wildcard => (wildcard.quality(given.first()?)?, 1),
        };
        quality *= first_quality;
        let remaining = given.get(consumed..).unwrap_or_default();
        for key in rest {
            let best = remaining
                .iter()
                .filter_map(|g| key.pat.quality(g))
                .fold(None, |best: Option<f64>, q| {
                    Some(best.map_or(q, |b| b.max(q)))
                })?;
            quality *= best;
        }
        Some(quality)
    }

    fn strict_postcode(&self, patient: &Patient, postcode: &Pat) -> Option<f64> {
        let mut best: Option<f64> = None;
        for (address, current) in addresses_of(patient, self.today) {
            let Some(held) = address.postal_code.as_deref() else {
                continue;
            };
            if !current && !self.history {
                continue;
            }
            let held = normalise::postcode(held);
            if normalise::is_pseudo_postcode(&held) {
                continue;
            }
            if let Some(mut quality) = postcode.quality(&held) {
                if !current {
                    quality *= HISTORY_QUALITY;
                }
                best = Some(best.map_or(quality, |b: f64| b.max(quality)));
            }
        }
        best
    }

    fn strict_telecom(
        &self,
        patient: &Patient,
        system: TelecomSystem,
        equal: impl Fn(&str) -> bool,
    ) -> Option<f64> {
        let mut best: Option<f64> = None;
        for (telecom, current) in telecoms_of(patient, self.today) {
            if telecom.system != system || !equal(&telecom.value) {
                continue;
            }
            let quality = if current {
                1.0
            } else if self.history {
                HISTORY_QUALITY
            } else {
                continue;
            };
            best = Some(best.map_or(quality, |b: f64| b.max(quality)));
        }
        best
    }

    // ---------------------------------------------------------------- fuzzy

    /// The weighted average of the field similarities, and whether every
    /// field was identical.
    fn fuzzy_score(&self, patient: &Patient) -> Option<(f64, bool)> {
        let mut total = Average::default();
        if self.family.is_some() || !self.given.is_empty() {
            let (family, given) = self.fuzzy_names(patient);
            if let Some(family) = family {
                if family < NAME_MINIMUM {
                    return None;
                }
                total.add(FAMILY_WEIGHT, family);
            }
            if let Some(given) = given {
                if given < NAME_MINIMUM {
                    return None;
                }
                total.add(GIVEN_WEIGHT, given);
            }
        }
        if let Some(gender) = self.gender {
            let similarity = match patient.gender {
                Some(held) if held == gender => 1.0,
                None | Some(Gender::Unknown) => UNKNOWN_GENDER_SIMILARITY,
                Some(_) => 0.0,
            };
            total.add(GENDER_WEIGHT, similarity);
        }
        if let Some(postcode) = &self.postcode {
            // A pseudo postcode (no fixed abode, unknown) says the address
            // is not known: it matches nobody, as in PDS.
            if let Pat::Exact(asked) = postcode
                && normalise::is_pseudo_postcode(asked)
            {
                return None;
            }
            total.add(POSTCODE_WEIGHT, self.fuzzy_postcode(patient, postcode));
        }
        if total.mean() < FUZZY_THRESHOLD {
            return None;
        }

        if let Some(range) = self.death {
            let died = patient
                .deceased
                .is_some_and(|d| within(range, d.date_naive()));
            total.add(ADJUSTER_WEIGHT, if died { 1.0 } else { 0.0 });
        }
        if let Some(gp) = &self.general_practitioner {
            let registered = patient.details.general_practitioner.as_ref();
            let same = registered.is_some_and(|org| org.ods_code.trim().eq_ignore_ascii_case(gp));
            total.add(ADJUSTER_WEIGHT, if same { 1.0 } else { 0.0 });
        }
        // An email or phone asked must be one the patient has or had (or
        // one typo away from it): otherwise this is somebody else.
        if let Some(email) = &self.email {
            let similarity = self.telecom_similarity(patient, TelecomSystem::Email, |held| {
                typo_similarity(&normalise::email(held), email, EMAIL_TYPO_SIMILARITY)
            });
            if similarity <= 0.0 {
                return None;
            }
            total.add(ADJUSTER_WEIGHT, similarity);
        }
        if let Some(phone) = &self.phone {
            let similarity = self.telecom_similarity(patient, TelecomSystem::Phone, |held| {
                typo_similarity(&normalise::phone(held), phone, PHONE_TYPO_SIMILARITY)
            });
            if similarity <= 0.0 {
                return None;
            }
            total.add(ADJUSTER_WEIGHT, similarity);
        }
        Some((total.mean(), total.exact))
    }

    /// Family and given similarity of the best-matching name (all names, the
    /// usual one at full value, given and family also tried swapped); None
    /// for a name that was not asked.
    fn fuzzy_names(&self, patient: &Patient) -> (Option<f64>, Option<f64>) {
        let asked = |value: f64, key: bool| key.then_some(value);
        let (current, current_given) = self.usual_name(patient);
        let mut best = (0.0, 0.0);
        let mut best_total = -1.0;
        let mut consider = |family: f64, given: f64| {
            let total = FAMILY_WEIGHT * family + GIVEN_WEIGHT * given;
            if total > best_total {
                best_total = total;
                best = (family, given);
            }
        };
        for (name, is_current) in names_of(patient, current) {
            let factor = if is_current {
                1.0
            } else {
                FUZZY_HISTORY_FACTOR
            };
            let family = normalise::name(name.family.as_deref().unwrap_or_default());
            let given_source = if name.given.is_empty() {
                current_given
            } else {
                &name.given
            };
            let given: Vec<String> = given_source.iter().map(|g| normalise::name(g)).collect();

            let family_similarity = self.family.as_ref().map_or(0.0, |k| k.similarity(&family));
            let others = given.get(1..).unwrap_or_default();
            let given_similarity =
                self.given_similarity(given.first().map(String::as_str), others, &given);
            consider(family_similarity * factor, given_similarity * factor);

            // Given and family swapped.
            if let Some(family_key) = &self.family
                && !self.given.is_empty()
            {
                let factor = factor * TRANSPOSED_FACTOR;
                let family_similarity = given.first().map_or(0.0, |g| family_key.similarity(g));
                let given_similarity = self.given_similarity(Some(&family), others, &[]);
                consider(family_similarity * factor, given_similarity * factor);
            }
        }
        (
            asked(best.0, self.family.is_some()),
            asked(best.1, !self.given.is_empty()),
        )
    }

    /// The first `given` parameter against `first` (and against `whole`, the
    /// given names as one compound name); each further one against the best
    /// of `others`, with `EXTRA_GIVEN_WEIGHT`.
    fn given_similarity(&self, first: Option<&str>, others: &[String], whole: &[String]) -> f64 {
        let Some((first_key, rest)) = self.given.split_first() else {
            return 0.0;
        };
        let mut first_similarity = first.map_or(0.0, |f| first_key.similarity(f));
        if whole.len() > 1 && first_similarity < 1.0 && first_key.text.contains(' ') {
            first_similarity = first_similarity.max(first_key.similarity(&whole.join(" ")));
        }
        let mut sum = first_similarity;
        let mut weight = 1.0;
        for key in rest {
            let similarity = others.iter().map(|g| key.similarity(g)).fold(0.0, f64::max);
            sum += EXTRA_GIVEN_WEIGHT * similarity;
            weight += EXTRA_GIVEN_WEIGHT;
        }
        sum / weight
    }

    fn fuzzy_postcode(&self, patient: &Patient, postcode: &Pat) -> f64 {
        let mut best: f64 = 0.0;
        for (address, current) in addresses_of(patient, self.today) {
            let Some(held) = address.postal_code.as_deref() else {
                continue;
            };
            let held = normalise::postcode(held);
            if normalise::is_pseudo_postcode(&held) {
                continue;
            }
            let factor = if current { 1.0 } else { FUZZY_HISTORY_FACTOR };
            best = best.max(factor * postcode_similarity(postcode, &held));
        }
        best
    }
}

/// A name or postcode criterion in normal form.
#[derive(Debug, Clone, PartialEq)]
enum Pat {
    Exact(String),
    /// `fixed` = the number of characters other than `*`.
    Wildcard {
        pattern: String,
        fixed: usize,
    },
}

impl Pat {
    fn new(text: String) -> Self {
        if text.contains('*') {
            let fixed = text.bytes().filter(|&b| b != b'*').count();
            Self::Wildcard {
                pattern: text,
                fixed,
            }
        } else {
            Self::Exact(text)
        }
    }

    /// Non-fuzzy quality of `text` (normal form): 1 when equal, a wildcard
    /// quality when the pattern matches, None otherwise.
    fn quality(&self, text: &str) -> Option<f64> {
        match self {
            Self::Exact(exact) => (exact == text).then_some(1.0),
            Self::Wildcard { pattern, fixed } => glob(pattern.as_bytes(), text.as_bytes())
                .then(|| wildcard_quality(*fixed, text.len())),
        }
    }
}

/// A requested name with what fuzzy comparison needs, computed once.
#[derive(Debug, Clone)]
struct Key {
    pat: Pat,
    /// Normal form (the pattern text).
    text: String,
    codes: Codes,
    /// Indexes into `NICKNAMES` (given names only).
    nicknames: Vec<usize>,
}

impl Key {
    fn new(pattern: &Pattern, fuzzy: bool, given: bool) -> Self {
        let raw = match pattern {
            Pattern::Exact(t) => t,
            Pattern::Wildcard { pattern, .. } => pattern,
        };
        let text = normalise::name(raw);
        let pat = Pat::new(text.clone());
        let (codes, nicknames) = if fuzzy && matches!(pat, Pat::Exact(_)) {
            let nicknames = if given {
                NICKNAMES
                    .iter()
                    .enumerate()
                    .filter(|(_, group)| group.contains(&text.as_str()))
                    .map(|(i, _)| i)
                    .collect()
            } else {
                Vec::new()
            };
            (Codes::of(&text), nicknames)
        } else {
            (Codes::default(), Vec::new())
        };
        Self {
            pat,
            text,
            codes,
            nicknames,
        }
    }

    /// Fuzzy similarity (0–1) of `name` (normal form) to this key.
    fn similarity(&self, name: &str) -> f64 {
        if let Pat::Wildcard { .. } = self.pat {
            return self.pat.quality(name).unwrap_or(0.0);
        }
        let text = self.text.as_str();
        if text.is_empty() || name.is_empty() {
            return 0.0;
        }
        if text == name {
            return 1.0;
        }
        let jw = jaro_winkler(text, name);
        let mut best = jw * jw;
        let initial = |short: &str, long: &str| {
            short.len() == 1 && long.as_bytes().first() == short.as_bytes().first()
        };
        if initial(text, name) || initial(name, text) {
            best = best.max(INITIAL_SIMILARITY);
        }
        if self
            .nicknames
            .iter()
            .any(|&group| NICKNAMES[group].contains(&name))
        {
            best = best.max(NICKNAME_SIMILARITY);
        }
        // Soundex keeps the first letter, so names that start differently
        // cannot agree: skip computing their codes (most candidates).
        if best < PHONETIC_SIMILARITY.max(jw)
            && first_letter(text) == first_letter(name)
            && self.codes.agree(&Codes::of(name))
        {
            best = best.max(PHONETIC_SIMILARITY.max(jw));
        }
        best
    }
}

fn first_letter(text: &str) -> Option<u8> {
    text.bytes().find(u8::is_ascii_alphabetic)
}

/// Soundex and Double Metaphone codes of a name (letters only).
#[derive(Debug, Clone, Default)]
struct Codes {
    soundex: String,
    primary: String,
    alternate: String,
}

impl Codes {
    fn of(text: &str) -> Self {
        let letters: String = text.chars().filter(char::is_ascii_alphabetic).collect();
        if letters.is_empty() {
            return Self::default();
        }
        let metaphone = DoubleMetaphone::default().double_metaphone(&letters);
        Self {
            soundex: Soundex::default().encode(&letters),
            primary: metaphone.primary(),
            alternate: metaphone.alternate(),
        }
    }

    /// Both Soundex and Double Metaphone (either code) agree.
    fn agree(&self, other: &Self) -> bool {
        let metaphone = |a: &str, b: &str| !a.is_empty() && a == b;
        !self.soundex.is_empty()
            && self.soundex == other.soundex
            && (metaphone(&self.primary, &other.primary)
                || metaphone(&self.primary, &other.alternate)
                || metaphone(&self.alternate, &other.primary)
                || metaphone(&self.alternate, &other.alternate))
    }
}

/// A running weighted average that remembers whether every value was 1.
#[derive(Debug)]
struct Average {
    sum: f64,
    weight: f64,
    exact: bool,
}

impl Default for Average {
    fn default() -> Self {
        Self {
            sum: 0.0,
            weight: 0.0,
            exact: true,
        }
    }
}

impl Average {
    fn add(&mut self, weight: f64, value: f64) {
        self.sum += weight * value;
        self.weight += weight;
        self.exact &= value >= 1.0;
    }

    /// 1 when nothing was added (only the birth date was asked).
    fn mean(&self) -> f64 {
        if self.weight > 0.0 {
            self.sum / self.weight
        } else {
            1.0
        }
    }
}

/// `WILDCARD_FLOOR + (1 − WILDCARD_FLOOR) × (fixed ÷ length)²`, at most
/// `WILDCARD_CEILING`.
fn wildcard_quality(fixed: usize, length: usize) -> f64 {
    let ratio = (fixed as f64 / length.max(1) as f64).min(1.0);
    (WILDCARD_FLOOR + (1.0 - WILDCARD_FLOOR) * ratio * ratio).min(WILDCARD_CEILING)
}

/// `*` matches any run of characters; anchored at both ends.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            star = Some((p, t));
            p += 1;
        } else if pattern.get(p) == Some(&text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

fn within(range: DateRange, date: NaiveDate) -> bool {
    range.from.is_none_or(|from| date >= from) && range.to.is_none_or(|to| date <= to)
}

/// A period that has not ended before `today`.
fn is_current(period: Option<Period>, today: NaiveDate) -> bool {
    period.and_then(|p| p.end).is_none_or(|end| end >= today)
}

/// The record's names, each with whether it is the usual name (index
/// `current`), then the names an update replaced or removed (history).
fn names_of(patient: &Patient, current: Option<usize>) -> impl Iterator<Item = (&Name, bool)> {
    let former = patient.details.extra.former.as_deref();
    patient
        .details
        .names
        .iter()
        .enumerate()
        .map(move |(i, n)| (&n.item, current == Some(i)))
        .chain(
            former
                .into_iter()
                .flat_map(|f| &f.names)
                .map(|n| (n, false)),
        )
}

/// The record's addresses, each with whether it is a current home address,
/// then the addresses an update replaced or removed (history).
fn addresses_of(patient: &Patient, today: NaiveDate) -> impl Iterator<Item = (&Address, bool)> {
    let former = patient.details.extra.former.as_deref();
    patient
        .details
        .addresses
        .iter()
        .map(move |a| {
            let current = a.address_use == AddressUse::Home && is_current(a.period, today);
            (&a.item, current)
        })
        .chain(
            former
                .into_iter()
                .flat_map(|f| &f.addresses)
                .map(|a| (a, false)),
        )
}

/// The record's telecoms, each with whether its period is current, then
/// the phones and emails an update replaced or removed (history).
fn telecoms_of(patient: &Patient, today: NaiveDate) -> impl Iterator<Item = (&Telecom, bool)> {
    let former = patient.details.extra.former.as_deref();
    patient
        .details
        .telecoms
        .iter()
        .map(move |t| (&t.item, is_current(t.period, today)))
        .chain(
            former
                .into_iter()
                .flat_map(|f| &f.telecoms)
                .map(|t| (t, false)),
        )
}

/// The index of the usual name: the first current `usual` name, else the
/// first `usual` name.
fn current_name(names: &[WithId<Name>], today: NaiveDate) -> Option<usize> {
    names
        .iter()
        .position(|n| n.name_use == NameUse::Usual && is_current(n.period, today))
        .or_else(|| names.iter().position(|n| n.name_use == NameUse::Usual))
}

/// Fuzzy postcode similarity of `held` (normal form) to the request.
fn postcode_similarity(postcode: &Pat, held: &str) -> f64 {
    let asked = match postcode {
        Pat::Exact(asked) => asked.as_str(),
        wildcard => return wildcard.quality(held).unwrap_or(0.0),
    };
    if asked.is_empty() || normalise::is_pseudo_postcode(asked) {
        return 0.0;
    }
    if asked == held {
        return 1.0;
    }
    if osa_distance(asked, held) <= 1 {
        return POSTCODE_TYPO_SIMILARITY;
    }
    let asked_outward = outward(asked);
    if !asked_outward.is_empty() && asked_outward == outward(held) {
        return POSTCODE_OUTWARD_SIMILARITY;
    }
    0.0
}

/// All but the last three characters: `LS1` of `LS16AE`.
fn outward(postcode: &str) -> &str {
    postcode
        .get(..postcode.len().saturating_sub(3))
        .unwrap_or_default()
}

/// Equal once spaces are removed (the request value has none).
fn phone_equal(held: &str, asked: &str) -> bool {
    held.chars()
        .filter(|c| !c.is_whitespace())
        .eq(asked.chars())
}

/// 1 when `held` (normal form) is `asked`, `typo` when one edit away
/// (a character wrong, missing, extra, or two swapped), else 0.
fn typo_similarity(held: &str, asked: &str, typo: f64) -> f64 {
    if held == asked {
        1.0
    } else if !asked.is_empty() && osa_distance(held, asked) <= 1 {
        typo
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NhsNumber;
    use crate::domain::patient::{Former, OrganisationRef};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn name(name_use: NameUse, family: &str, given: &[&str]) -> WithId<Name> {
        WithId::new(
            "n",
            Name {
                name_use,
                period: None,
                given: given.iter().map(|g| g.to_string()).collect(),
                family: Some(family.into()),
                prefix: vec![],
                suffix: vec![],
            },
        )
    }

    fn address(address_use: AddressUse, postcode: &str) -> WithId<Address> {
        WithId::new(
            "a",
            Address {
                address_use,
                period: None,
                text: None,
                lines: vec!["1 Road".into()],
                postal_code: Some(postcode.into()),
                keys: vec![],
            },
        )
    }

    fn telecom(system: TelecomSystem, value: &str, ended: Option<NaiveDate>) -> WithId<Telecom> {
        WithId::new(
            "t",
            Telecom {
                period: ended.map(|end| Period {
                    start: None,
                    end: Some(end),
                }),
                system,
                value: value.into(),
                telecom_use: None,
                textphone: false,
            },
        )
    }

    /// Born 2010-10-22, female, one usual name, home postcode LS1 6AE.
    fn patient(family: &str, given: &[&str]) -> Patient {
        let mut p = Patient::minimal(NhsNumber::parse("9000000009").unwrap(), 1);
        p.gender = Some(Gender::Female);
        p.birth_date = Some(date(2010, 10, 22));
        p.details.names.push(name(NameUse::Usual, family, given));
        p.details
            .addresses
            .push(address(AddressUse::Home, "LS1 6AE"));
        p
    }

    fn born_eq() -> DateRange {
        DateRange {
            from: Some(date(2010, 10, 22)),
            to: Some(date(2010, 10, 22)),
        }
    }

    fn exact(text: &str) -> Pattern {
        Pattern::Exact(text.into())
    }

    fn wild(text: &str) -> Pattern {
        Pattern::Wildcard {
            pattern: text.into(),
            prefix: text[..text.find('*').unwrap()].into(),
        }
    }

    fn request(family: &str) -> SearchRequest {
        SearchRequest {
            family: Some(if family.contains('*') {
                wild(family)
            } else {
                exact(family)
            }),
            birth: born_eq(),
            ..SearchRequest::default()
        }
    }

    fn fuzzy(family: Option<&str>, given: &[&str]) -> SearchRequest {
        SearchRequest {
            family: family.map(exact),
            given: given.iter().map(|g| exact(g)).collect(),
            birth: born_eq(),
            fuzzy: true,
            ..SearchRequest::default()
        }
    }

    fn between(score: Option<f64>, low: f64, high: f64) -> bool {
        score.is_some_and(|s| s > low && s < high)
    }

    #[test]
    fn exact_family_and_birth_date_scores_one() {
        assert_eq!(
            score(&request("Smith"), &patient("Smith", &["Jane"])),
            Some(1.0)
        );
        assert_eq!(
            score(&request("SMITH"), &patient("Smith", &["Jane"])),
            Some(1.0)
        );
        assert_eq!(
            score(&request("muller"), &patient("Müller", &[])),
            Some(1.0)
        );
        assert_eq!(score(&request("Jones"), &patient("Smith", &["Jane"])), None);
    }

    #[test]
    fn birth_date_must_be_in_range() {
        let mut r = request("Smith");
        r.birth = DateRange {
            from: Some(date(2010, 10, 23)),
            to: Some(date(2010, 10, 23)),
        };
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), None);
        r.fuzzy = true;
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), None);
        r.fuzzy = false;
        r.birth = DateRange {
            from: Some(date(2010, 10, 21)),
            to: Some(date(2010, 10, 23)),
        };
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), Some(1.0));
        r.birth = DateRange {
            from: Some(date(2010, 10, 23)),
            to: None,
        };
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), None);
        let mut unborn = patient("Smith", &["Jane"]);
        unborn.birth_date = None;
        assert_eq!(score(&request("Smith"), &unborn), None);
    }

    #[test]
    fn family_wildcard_scores_below_one() {
        let r = request("SM*");
        let smith = score(&r, &patient("Smith", &["Jane"]));
        let smyth = score(&r, &patient("Smyth", &["Jayne"]));
        assert!(between(smith, 0.8, 1.0), "{smith:?}");
        assert!(between(smyth, 0.8, 1.0), "{smyth:?}");
        assert_eq!(smith, Some(0.832));
        assert_eq!(score(&r, &patient("Jones", &["Jane"])), None);
        // A pattern that fixes more of the name scores higher.
        let smit = score(&request("SMIT*"), &patient("Smith", &["Jane"]));
        assert!(smit > smith);
        // Anchored at both ends; `*` in the middle.
        assert!(score(&request("SM*H"), &patient("Smith", &[])).is_some());
        assert_eq!(score(&request("SM*H"), &patient("Smithe", &[])), None);
        // A wildcard matching an exact-length value is still not exact.
        assert!(between(
            score(&request("SMITH*"), &patient("Smith", &[])),
            0.8,
            1.0
        ));
    }

    #[test]
    fn given_wildcard_matches_the_start_of_the_first_given_name_only() {
        let alan = patient("Smith", &["Alan", "Michael"]);
        let mut r = request("Smith");
        r.given = vec![wild("ALA*")];
        assert!(between(score(&r, &alan), 0.8, 1.0));
        r.given = vec![wild("MIC*")];
        assert_eq!(score(&r, &alan), None);
        r.given = vec![exact("Alan"), exact("michael")];
        assert_eq!(score(&r, &alan), Some(1.0));
        r.given = vec![exact("Michael")];
        assert_eq!(score(&r, &alan), None);
        r.given = vec![exact("Alan"), exact("Peter")];
        assert_eq!(score(&r, &alan), None);
    }

    #[test]
    fn compound_first_names() {
        let mut r = request("Smith");
        r.given = vec![exact("JOHN PAUL"), exact("JAMES")];
        assert_eq!(
            score(&r, &patient("Smith", &["John Paul", "James"])),
            Some(1.0)
        );
        assert_eq!(
            score(&r, &patient("Smith", &["John", "Paul", "James"])),
            Some(1.0)
        );
        assert_eq!(score(&r, &patient("Smith", &["John", "James"])), None);
    }

    #[test]
    fn old_names_match_only_with_history() {
        let mut p = patient("Smith", &["Jane"]);
        p.details.names.push(name(NameUse::Maiden, "Jones", &[]));
        let mut r = request("Jones");
        assert_eq!(score(&r, &p), None);
        r.history = true;
        assert_eq!(score(&r, &p), Some(HISTORY_QUALITY));
        // The old name keeps the current given names.
        r.given = vec![exact("Jane")];
        assert_eq!(score(&r, &p), Some(HISTORY_QUALITY));
        // Current data still scores 1 with history.
        assert_eq!(score(&request("Smith"), &p), Some(1.0));
        r.family = Some(exact("Smith"));
        assert_eq!(score(&r, &p), Some(1.0));
        // _exact-match drops history-only matches.
        r.family = Some(exact("Jones"));
        r.exact = true;
        assert_eq!(score(&r, &p), None);
    }

    #[test]
    fn exact_match_drops_wildcard_results() {
        let mut r = request("SM*");
        r.exact = true;
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), None);
        let mut r = request("Smith");
        r.exact = true;
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), Some(1.0));
    }

    #[test]
    fn gender_postcode_and_gp_filter() {
        let mut p = patient("Smith", &["Jane"]);
        p.details.general_practitioner = Some(OrganisationRef {
            id: None,
            ods_code: "A20047".into(),
            period: None,
        });
        let mut r = request("Smith");
        r.gender = Some(Gender::Female);
        assert_eq!(score(&r, &p), Some(1.0));
        r.gender = Some(Gender::Male);
        assert_eq!(score(&r, &p), None);

        let mut r = request("Smith");
        r.postcode = Some(exact("ls16ae"));
        assert_eq!(score(&r, &p), Some(1.0));
        r.postcode = Some(exact("LS1 6AF"));
        assert_eq!(score(&r, &p), None);
        r.postcode = Some(wild("LS1*"));
        assert!(between(score(&r, &p), 0.8, 1.0));
        r.postcode = Some(wild("DN17*"));
        assert_eq!(score(&r, &p), None);

        let mut r = request("Smith");
        r.general_practitioner = Some("a20047".into());
        assert_eq!(score(&r, &p), Some(1.0));
        r.general_practitioner = Some("B12345".into());
        assert_eq!(score(&r, &p), None);
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), None);
    }

    #[test]
    fn previous_addresses_match_only_with_history() {
        let mut p = patient("Smith", &["Jane"]);
        let mut old = address(AddressUse::Home, "DN17 2AB");
        old.period = Some(Period {
            start: None,
            end: Some(date(2015, 1, 1)),
        });
        p.details.addresses.push(old);
        let mut r = request("Smith");
        r.postcode = Some(exact("DN172AB"));
        assert_eq!(score(&r, &p), None);
        r.history = true;
        assert_eq!(score(&r, &p), Some(HISTORY_QUALITY));
        // Work addresses are not home addresses.
        let mut w = patient("Smith", &["Jane"]);
        w.details.addresses = vec![address(AddressUse::Work, "LS1 6AE")];
        r.history = false;
        r.postcode = Some(exact("LS16AE"));
        assert_eq!(score(&r, &w), None);
    }

    #[test]
    fn email_and_phone_filter() {
        let mut p = patient("Smith", &["Jane"]);
        p.details.telecoms = vec![
            telecom(TelecomSystem::Email, "jane.smith@example.com", None),
            telecom(TelecomSystem::Phone, "01632 960587", None),
            telecom(
                TelecomSystem::Email,
                "Historic@historic.com",
                Some(date(2015, 1, 1)),
            ),
        ];
        let mut r = request("Smith");
        r.email = Some("JANE.SMITH@example.com".into());
        assert_eq!(score(&r, &p), Some(1.0));
        r.email = Some("deb.trotter@example.com".into());
        assert_eq!(score(&r, &p), None);
        r.email = Some("historic@historic.com".into());
        assert_eq!(score(&r, &p), None);
        r.history = true;
        assert_eq!(score(&r, &p), Some(HISTORY_QUALITY));

        let mut r = request("Smith");
        r.phone = Some("01632960587".into());
        assert_eq!(score(&r, &p), Some(1.0));
        r.phone = Some("0121111111".into());
        assert_eq!(score(&r, &p), None);
        // The email is not a phone number.
        r.phone = Some("jane.smith@example.com".into());
        assert_eq!(score(&r, &p), None);
    }

    #[test]
    fn death_date_filters() {
        let mut p = patient("Tunney", &[]);
        let mut r = request("Tunney");
        r.death = Some(DateRange {
            from: None,
            to: Some(date(2019, 2, 28)),
        });
        assert_eq!(score(&r, &p), None);
        p.deceased = Some(date(2019, 1, 1).and_hms_opt(10, 0, 0).unwrap().and_utc());
        assert_eq!(score(&r, &p), Some(1.0));
        p.deceased = Some(date(2020, 1, 1).and_hms_opt(10, 0, 0).unwrap().and_utc());
        assert_eq!(score(&r, &p), None);
    }

    #[test]
    fn odd_records_never_panic() {
        let mut bare = Patient::minimal(NhsNumber::parse("9000000009").unwrap(), 1);
        bare.birth_date = Some(date(2010, 10, 22));
        let mut r = request("Smith");
        r.given = vec![wild("JA*"), exact("Anne")];
        r.postcode = Some(exact("LS16AE"));
        r.email = Some("a@b.c".into());
        assert_eq!(score(&r, &bare), None);
        let mut f = fuzzy(Some("Smith"), &["Jane", "Anne"]);
        f.gender = Some(Gender::Female);
        f.postcode = Some(exact("LS16AE"));
        f.phone = Some("0123".into());
        f.general_practitioner = Some("A1".into());
        f.death = Some(born_eq());
        assert_eq!(score(&f, &bare), None);
        let mut nameless = patient("", &[]);
        nameless.details.names[0].family = None;
        assert_eq!(score(&r, &nameless), None);
        assert_eq!(score(&f, &nameless), None);
        // Only a birth date asked: everyone born that day.
        let only_birth = SearchRequest {
            birth: born_eq(),
            ..SearchRequest::default()
        };
        assert_eq!(score(&only_birth, &bare), Some(1.0));
    }

    #[test]
    fn fuzzy_exact_scores_one() {
        let mut r = fuzzy(Some("Smith"), &["Jane"]);
        r.gender = Some(Gender::Female);
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), Some(1.0));
        assert_eq!(score(&r, &patient("SMITH", &["jane"])), Some(1.0));
    }

    #[test]
    fn fuzzy_homophones() {
        let r = fuzzy(Some("Smith"), &["Jane"]);
        let smyth = score(&r, &patient("Smyth", &["Jane"]));
        let jayne = score(&r, &patient("Smith", &["Jayne"]));
        let both = score(&r, &patient("Smyth", &["Jayne"]));
        for s in [smyth, jayne, both] {
            assert!(between(s, 0.8, 1.0), "{s:?}");
        }
        assert!(both < smyth && both < jayne);
        // Non-fuzzy does not do this.
        assert_eq!(score(&request("Smith"), &patient("Smyth", &["Jane"])), None);
    }

    #[test]
    fn fuzzy_is_accent_insensitive() {
        let r = fuzzy(Some("ATTSÖN"), &["PÀULINÉ"]);
        let s = score(&r, &patient("attisón", &["Pauline"]));
        assert!(between(s, 0.9, 1.0), "{s:?}");
    }

    #[test]
    fn fuzzy_transposed_names() {
        let r = fuzzy(Some("Jane"), &["Smith"]);
        let s = score(&r, &patient("Smith", &["Jane"]));
        assert!(between(s, 0.8, 1.0), "{s:?}");
    }

    #[test]
    fn fuzzy_nicknames() {
        let r = fuzzy(Some("Bloggs"), &["Joe"]);
        let s = score(&r, &patient("Bloggs", &["Joseph"]));
        assert!(between(s, 0.8, 1.0), "{s:?}");
        let r = fuzzy(Some("Bloggs"), &["William"]);
        assert!(between(score(&r, &patient("Bloggs", &["Bill"])), 0.8, 1.0));
        assert!(NICKNAMES.len() >= 40);
    }

    #[test]
    fn fuzzy_initials() {
        for initial in ["J", "J."] {
            let r = fuzzy(Some("Smith"), &[initial]);
            let s = score(&r, &patient("Smith", &["Jane"]));
            assert!(between(s, 0.8, 1.0), "{initial}: {s:?}");
        }
        let r = fuzzy(Some("Smith"), &["K"]);
        assert_eq!(score(&r, &patient("Smith", &["Jane"])), None);
    }

    #[test]
    fn fuzzy_typos() {
        let r = fuzzy(Some("Bloggs"), &["Justen"]);
        let s = score(&r, &patient("Bloggs", &["Justin"]));
        assert!(between(s, 0.8, 1.0), "{s:?}");
    }

    #[test]
    fn fuzzy_postcode_typo_scores_below_exact_postcode() {
        let mut r = fuzzy(Some("Smith"), &["Jane"]);
        r.gender = Some(Gender::Female);
        let p = patient("Smith", &["Jane"]);
        r.postcode = Some(exact("LS16AE"));
        let exact_postcode = score(&r, &p);
        r.postcode = Some(exact("LS16EA"));
        let typo = score(&r, &p);
        r.postcode = Some(exact("LS19ZZ"));
        let outward = score(&r, &p);
        r.postcode = Some(exact("EX11AA"));
        let elsewhere = score(&r, &p);
        assert_eq!(exact_postcode, Some(1.0));
        assert!(typo < exact_postcode && outward < typo && elsewhere < outward);
        assert!(elsewhere.is_some());
        // family + birth date + gender + postcode, without a given name.
        let mut r = fuzzy(Some("Smyth"), &[]);
        r.gender = Some(Gender::Female);
        r.postcode = Some(exact("LS16AF"));
        assert!(between(score(&r, &p), 0.8, 1.0));
    }

    #[test]
    fn fuzzy_different_names_do_not_match() {
        let mut r = fuzzy(Some("Smith"), &["Jane"]);
        r.gender = Some(Gender::Female);
        r.postcode = Some(exact("LS16AE"));
        assert_eq!(score(&r, &patient("Okonkwo", &["Peter"])), None);
        // Same family, birth date and address but another given name (twins).
        assert_eq!(score(&r, &patient("Smith", &["Julia"])), None);
        assert_eq!(score(&r, &patient("Wilson", &["Jane"])), None);
    }

    #[test]
    fn fuzzy_uses_old_names() {
        let mut p = patient("Smith", &["Jane"]);
        p.details.names.push(name(NameUse::Maiden, "Jones", &[]));
        let r = fuzzy(Some("Jones"), &["Jane"]);
        let s = score(&r, &p);
        assert!(between(s, 0.8, 1.0), "{s:?}");
    }

    #[test]
    fn fuzzy_score_only_fields_adjust_the_score() {
        let mut p = patient("Smith", &["Jane"]);
        p.details.telecoms = vec![telecom(TelecomSystem::Phone, "01632 960587", None)];
        let mut r = fuzzy(Some("Smith"), &["Jane"]);
        r.phone = Some("01632960587".into());
        assert_eq!(score(&r, &p), Some(1.0));
        r.phone = Some("01632960578".into());
        let typo = score(&r, &p);
        assert!(between(typo, 0.9, 1.0), "{typo:?}");
        let mut r = fuzzy(Some("Smyth"), &["Jane"]);
        r.general_practitioner = Some("A20047".into());
        let without_gp = score(&r, &p);
        p.details.general_practitioner = Some(OrganisationRef {
            id: None,
            ods_code: "A20047".into(),
            period: None,
        });
        assert!(score(&r, &p) > without_gp && without_gp.is_some());
    }

    #[test]
    fn better_matches_score_higher() {
        let r = fuzzy(Some("Smith"), &["Jane"]);
        let ranked = [
            patient("Smith", &["Jane"]),
            patient("Smith", &["Jayne"]),
            patient("Smyth", &["Jayne"]),
            patient("Smithson", &["Jane"]),
        ]
        .map(|p| score(&r, &p));
        assert!(ranked.windows(2).all(|w| w[0] > w[1]), "{ranked:?}");
        let r = request("SM*");
        assert!(score(&r, &patient("Smith", &[])) > score(&r, &patient("Smithson", &[])));
    }

    #[test]
    fn matcher_reuses_the_request() {
        let r = fuzzy(Some("Smith"), &["Jane"]);
        let matcher = Matcher::new(&r, Clearance::None);
        let p = patient("Smyth", &["Jayne"]);
        assert_eq!(matcher.score(&p), score(&r, &p));
    }

    fn labelled(security: crate::domain::codes::Security) -> Patient {
        let mut p = patient("Smith", &["Jane"]);
        p.security = security;
        p.details
            .telecoms
            .push(telecom(TelecomSystem::Phone, "01632960587", None));
        p.details
            .telecoms
            .push(telecom(TelecomSystem::Email, "jane@example.com", None));
        p
    }

    #[test]
    fn a_very_restricted_record_matches_nothing_below_full_clearance() {
        use crate::domain::codes::Security;
        let p = labelled(Security::VeryRestricted);
        let normal = request("Smith");
        let wildcard = request("SM*");
        let fuzzy_search = fuzzy(Some("Smith"), &["Jane"]);
        for r in [&normal, &wildcard, &fuzzy_search] {
            for clearance in [Clearance::None, Clearance::Restricted] {
                assert_eq!(Matcher::new(r, clearance).score(&p), None, "{r:?}");
            }
            assert!(Matcher::new(r, Clearance::All).score(&p).is_some(), "{r:?}");
        }
    }

    #[test]
    fn hidden_elements_of_a_restricted_record_neither_match_nor_score() {
        use crate::domain::codes::Security;
        let p = labelled(Security::Restricted);
        // Name and birth date are visible: found, as a retrieve shows them.
        assert_eq!(
            Matcher::new(&request("Smith"), Clearance::None).score(&p),
            Some(1.0)
        );
        // Phone and email are hidden: a right value does not confirm them.
        for (phone, email) in [
            (Some("01632960587"), None),
            (None, Some("jane@example.com")),
        ] {
            let mut r = request("Smith");
            r.phone = phone.map(Into::into);
            r.email = email.map(Into::into);
            assert_eq!(Matcher::new(&r, Clearance::None).score(&p), None);
            assert_eq!(Matcher::new(&r, Clearance::Restricted).score(&p), Some(1.0));
        }
        // Fuzzy: the right phone and a wrong one give the same answer (a
        // phone asked must be held, and none is seen).
        let mut right = fuzzy(Some("Smith"), &["Jane"]);
        right.phone = Some("01632960587".into());
        let mut wrong = right.clone();
        wrong.phone = Some("07700900000".into());
        let hidden = Matcher::new(&right, Clearance::None).score(&p);
        assert_eq!(hidden, Matcher::new(&wrong, Clearance::None).score(&p));
        assert_eq!(hidden, None);
        assert_eq!(Matcher::new(&right, Clearance::All).score(&p), Some(1.0));
        assert_eq!(Matcher::new(&wrong, Clearance::All).score(&p), None);
    }

    /// Jane Smith, who was Jane Jones (and before that Janet Smith) at
    /// LS2 7UE with another phone and email, as updates leave her: the old
    /// values in `extra.former`.
    fn renamed() -> Patient {
        let mut p = patient("Smith", &["Jane"]);
        p.details.telecoms = vec![
            telecom(TelecomSystem::Phone, "07700 900123", None),
            telecom(TelecomSystem::Email, "jane@example.com", None),
        ];
        p.details.extra.former = Some(Box::new(Former {
            names: vec![
                name(NameUse::Usual, "Jones", &["Jane"]).item,
                name(NameUse::Usual, "Smith", &["Janet"]).item,
            ],
            addresses: vec![address(AddressUse::Home, "LS2 7UE").item],
            telecoms: vec![
                telecom(TelecomSystem::Phone, "01632 960587", None).item,
                telecom(TelecomSystem::Email, "jane.jones@example.com", None).item,
            ],
        }));
        p
    }

    #[test]
    fn former_values_match_only_with_history() {
        let p = renamed();
        let asks: [&dyn Fn(&mut SearchRequest); 5] = [
            &|r| r.family = Some(exact("Jones")),
            &|r| r.given = vec![exact("Janet")],
            &|r| r.postcode = Some(exact("LS27UE")),
            &|r| r.phone = Some("01632960587".into()),
            &|r| r.email = Some("Jane.Jones@example.com".into()),
        ];
        for ask in asks {
            let mut r = request("Smith");
            ask(&mut r);
            assert_eq!(score(&r, &p), None, "{r:?}");
            r.history = true;
            assert_eq!(score(&r, &p), Some(HISTORY_QUALITY), "{r:?}");
        }
        // A former name is matched whole: Jones went with Jane, not Janet.
        let mut r = request("Jones");
        r.history = true;
        r.given = vec![exact("Janet")];
        assert_eq!(score(&r, &p), None);
        // Current values still score 1.
        let mut r = request("Smith");
        r.history = true;
        r.postcode = Some(exact("LS16AE"));
        assert_eq!(score(&r, &p), Some(1.0));
    }

    #[test]
    fn fuzzy_search_always_uses_former_values() {
        let p = renamed();
        let old_name = score(&fuzzy(Some("Jones"), &["Jane"]), &p);
        assert!(between(old_name, 0.9, 1.0), "{old_name:?}");
        let mut r = fuzzy(Some("Jones"), &[]);
        r.gender = Some(Gender::Female);
        r.postcode = Some(exact("LS27UE"));
        assert!(between(score(&r, &p), 0.9, 1.0));
        let mut r = fuzzy(Some("Smith"), &["Jane"]);
        r.phone = Some("01632960587".into());
        r.email = Some("jane.jones@example.com".into());
        assert_eq!(score(&r, &p), Some(1.0));
    }

    #[test]
    fn fuzzy_an_email_or_phone_the_patient_never_had_excludes() {
        let mut p = renamed();
        // One more email, ended: history held on the record itself.
        p.details.telecoms.push(telecom(
            TelecomSystem::Email,
            "Historic@historic.com",
            Some(date(2015, 1, 1)),
        ));
        let base = fuzzy(Some("Smith"), &["Jane"]);
        assert_eq!(score(&base, &p), Some(1.0));
        let with = |email: Option<&str>, phone: Option<&str>| {
            let mut r = base.clone();
            r.email = email.map(Into::into);
            r.phone = phone.map(Into::into);
            score(&r, &p)
        };
        // Somebody else's email or phone: not this patient.
        assert_eq!(with(Some("deb.trotter@example.com"), None), None);
        assert_eq!(with(None, Some("0121111111")), None);
        // Each one asked must agree.
        assert_eq!(with(Some("jane@example.com"), Some("0121111111")), None);
        assert_eq!(
            with(Some("deb.trotter@example.com"), Some("07700900123")),
            None
        );
        // Current, ended and replaced ones all count.
        for email in [
            "jane@example.com",
            "historic@historic.com",
            "jane.jones@example.com",
        ] {
            assert_eq!(with(Some(email), None), Some(1.0), "{email}");
        }
        // One typo still agrees, at a lower score (PDS tolerates them).
        let typo = with(Some("jane@exmaple.com"), None);
        assert!(between(typo, 0.9, 1.0), "{typo:?}");
        let typo = with(None, Some("07700900124"));
        assert!(between(typo, 0.9, 1.0), "{typo:?}");
        assert_eq!(with(Some("jane@exmapel.com"), None), None);
        // A patient with no email at all is not the one with that email.
        let mut bare = patient("Smith", &["Jane"]);
        bare.details.telecoms.clear();
        let mut r = base.clone();
        r.email = Some("jane@example.com".into());
        assert_eq!(score(&r, &bare), None);
    }

    #[test]
    fn fuzzy_pseudo_postcodes_never_match() {
        let mut r = fuzzy(Some("Smith"), &["Jane"]);
        r.gender = Some(Gender::Female);
        let p = patient("Smith", &["Jane"]);
        assert_eq!(score(&r, &p), Some(1.0));
        // Asked: matches nobody, whatever the record holds.
        let mut nfa = patient("Smith", &["Jane"]);
        nfa.details.addresses = vec![address(AddressUse::Home, "ZZ99 3WZ")];
        for pseudo in ["ZZ993WZ", "ZZ997CZ"] {
            r.postcode = Some(exact(pseudo));
            assert_eq!(score(&r, &p), None, "{pseudo}");
            assert_eq!(score(&r, &nfa), None, "{pseudo}");
        }
        // Held: never a postcode match, however close the one asked: it
        // scores as no address at all.
        let mut nowhere = patient("Smith", &["Jane"]);
        nowhere.details.addresses.clear();
        r.postcode = Some(exact("ZZ983WZ"));
        assert!(score(&r, &nfa).is_some_and(|s| s <= 0.75));
        assert_eq!(score(&r, &nfa), score(&r, &nowhere));
        let mut r = request("Smith");
        r.postcode = Some(exact("ZZ993WZ"));
        assert_eq!(score(&r, &nfa), None);
        r.history = true;
        assert_eq!(score(&r, &nfa), None);
    }

    #[test]
    fn fuzzy_gender_gp_death_date_and_postcode_disagreeing_only_lower_the_score() {
        let p = patient("Smith", &["Jane"]);
        let base = fuzzy(Some("Smith"), &["Jane"]);
        // PDS finds a patient by a former gender, which no record here holds.
        let mut r = base.clone();
        r.gender = Some(Gender::Male);
        assert!(between(score(&r, &p), 0.8, 0.9));
        // PDS: not used to match, "a mismatch reduces the returned score".
        let mut r = base.clone();
        r.general_practitioner = Some("B12345".into());
        assert!(between(score(&r, &p), 0.8, 1.0));
        let mut r = base.clone();
        r.death = Some(born_eq());
        assert!(between(score(&r, &p), 0.8, 1.0));
        // A postcode far off (PDS still matches a malformed one, with
        // given, family and gender right).
        let mut r = base.clone();
        r.gender = Some(Gender::Female);
        r.postcode = Some(exact("DN15258JY"));
        assert_eq!(score(&r, &p), Some(0.75));
    }

    #[test]
    fn former_values_of_a_restricted_record_match_only_with_clearance() {
        use crate::domain::codes::Security;
        let mut p = renamed();
        p.security = Security::Restricted;
        let mut normal = request("Jones");
        normal.history = true;
        let fuzzy_search = fuzzy(Some("Jones"), &["Jane"]);
        for r in [&normal, &fuzzy_search] {
            assert_eq!(Matcher::new(r, Clearance::None).score(&p), None, "{r:?}");
            assert!(Matcher::new(r, Clearance::Restricted).score(&p).is_some());
        }
        // The current name is seen, and still found.
        let mut current = request("Smith");
        current.history = true;
        assert_eq!(Matcher::new(&current, Clearance::None).score(&p), Some(1.0));
    }

    #[test]
    fn glob_is_anchored() {
        assert!(glob(b"SM*", b"SMITH"));
        assert!(glob(b"SM*T*", b"SMITH"));
        assert!(glob(b"SM*", b"SM"));
        assert!(!glob(b"SM*", b"ASMITH"));
        assert!(!glob(b"SM*T", b"SMITH"));
        assert!(glob(b"A*B*C", b"AXXBYBC"));
    }
}
