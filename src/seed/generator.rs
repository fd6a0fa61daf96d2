//! A deterministic synthetic population of UK patients for seeding the store.
//!
//! Every record is a pure function of `(seed, stem)`: its own PCG generator is
//! seeded from a splitmix64 mix of the two, so records can be generated in any
//! order, in chunks or in parallel, and come out the same on every machine.
//! Sampling uses only `RngCore::next_u64` with integer arithmetic (plus one
//! exactly rounded `sqrt`), never `usize` ranges or `rand`'s distributions,
//! whose algorithms may change between releases.
//!
//! Numbers come from the 999 test range first (stems 999 000 000 to
//! 999 999 999, about 909,000 valid numbers). Larger populations (benchmarks
//! at 10 and 70 million) continue with stems 910 000 000 to 998 999 999:
//! numbers starting with 9 are never issued to real patients, and this block
//! stays clear of the sandbox numbers (90000000xx). About 81.8 million in all.

use super::names::{self, GivenName, Lettered, PostArea};
use crate::domain::codes::{
    AddressKeyType, AddressUse, DeathStatus, Gender, NameUse, Security, TelecomSystem, TelecomUse,
    Verification,
};
use crate::domain::patient::{
    Address, AddressKey, ContactPoint, DeathNotification, Details, EmergencyContact, Name,
    OrganisationRef, Period, Telecom, WithId,
};
use crate::domain::{NhsNumber, Patient};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use rand::RngCore;
use rand_pcg::Pcg64Mcg;
use std::sync::LazyLock;

/// One generated record; `superseded_by` is set for the few merged numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub patient: Patient,
    pub superseded_by: Option<NhsNumber>,
}

/// Iterator over the population for `seed`, in increasing NHS-number order,
/// starting from the first valid number in the 999 test range (9990000000
/// upwards), then on through the second block of `STEM_RANGES`.
pub struct Population {
    seed: u64,
    range: usize,
    next_stem: u64,
}

impl Population {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            range: 0,
            next_stem: STEM_RANGES[0].0,
        }
    }
}

impl Iterator for Population {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        while let Some(&(_, last)) = STEM_RANGES.get(self.range) {
            if self.next_stem > last {
                self.range += 1;
                if let Some(&(first, _)) = STEM_RANGES.get(self.range) {
                    self.next_stem = first;
                }
                continue;
            }
            let stem = self.next_stem;
            self.next_stem += 1;
            if let Some(number) = NhsNumber::from_stem(stem) {
                return Some(generate(self.seed, number));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let stems: u64 = STEM_RANGES
            .iter()
            .enumerate()
            .skip(self.range)
            .map(|(i, &(first, last))| {
                let from = if i == self.range {
                    self.next_stem
                } else {
                    first
                };
                (last + 1).saturating_sub(from)
            })
            .sum();
        let stems = stems as usize;
        (stems * 9 / 10, Some(stems))
    }
}

impl std::iter::FusedIterator for Population {}

/// The content for one stem is a pure function of (seed, stem): the same on every machine
/// and independent of how many were generated before (so loads can be chunked or parallelised).
pub fn generate(seed: u64, number: NhsNumber) -> Generated {
    let stem = number.as_u64() / 10;
    let mut rng = Rand::new(seed, stem);
    // The first draw only decides the merge, so a neighbour can check it cheaply.
    if rng.per_million(SUPERSEDED_PPM)
        && let Some(previous) = previous_number(stem)
        && !merge_candidate(seed, previous)
    {
        // Only the retained record is served, so the old one keeps nothing.
        return Generated {
            patient: Patient::minimal(number, 1),
            superseded_by: Some(previous),
        };
    }
    Generated {
        patient: Builder::new(rng).patient(number),
        superseded_by: None,
    }
}

/// Stem blocks in the order the population uses them (inclusive bounds).
const STEM_RANGES: [(u64, u64); 2] = [(999_000_000, 999_999_999), (910_000_000, 998_999_999)];

/// Ages and dates are measured to this day, not to when the generator runs.
const REFERENCE_DAY: NaiveDate = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
const EARLIEST_BIRTH: NaiveDate = NaiveDate::from_ymd_opt(1920, 1, 1).unwrap();

const SUPERSEDED_PPM: u32 = 200;
const RESTRICTED_PPM: u32 = 5_000;
const VERY_RESTRICTED_PPM: u32 = 100;

/// A number is merged into the previous valid one when its first draw says so,
/// unless the previous one drew the same (so merges never chain).
fn merge_candidate(seed: u64, number: NhsNumber) -> bool {
    Rand::new(seed, number.as_u64() / 10).per_million(SUPERSEDED_PPM)
}

/// The next lower valid number, staying inside the stem's own block.
fn previous_number(stem: u64) -> Option<NhsNumber> {
    let floor = STEM_RANGES
        .iter()
        .find(|(first, last)| (*first..=*last).contains(&stem))
        .map_or(0, |(first, _)| *first);
    (floor..stem).rev().find_map(NhsNumber::from_stem)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The per-patient generator and the few ways it is sampled.
struct Rand(Pcg64Mcg);

impl Rand {
    fn new(seed: u64, stem: u64) -> Self {
        let high = splitmix64(seed ^ splitmix64(stem));
        let low = splitmix64(high ^ 0xD1B5_4A32_D192_ED03);
        Self(Pcg64Mcg::new(u128::from(high) << 64 | u128::from(low)))
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2^-32 · n).
    fn below(&mut self, n: u32) -> u32 {
        (((self.0.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    fn between(&mut self, low: u32, high: u32) -> u32 {
        low + self.below(high - low + 1)
    }

    fn percent(&mut self, p: u32) -> bool {
        self.below(100) < p
    }

    fn per_million(&mut self, p: u32) -> bool {
        self.below(1_000_000) < p
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn pick<T>(&mut self, items: &'static [T]) -> &'static T {
        &items[self.below(items.len() as u32) as usize]
    }
}

/// A table sampled in proportion to its weights.
struct Weighted<T: 'static> {
    items: &'static [T],
    cumulative: Box<[u32]>,
}

impl<T> Weighted<T> {
    fn new(items: &'static [T], weight: impl Fn(&T) -> u32) -> Self {
        let mut total = 0;
        let cumulative = items
            .iter()
            .map(|item| {
                total += weight(item);
                total
            })
            .collect();
        Self { items, cumulative }
    }

    fn total(&self) -> u32 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The item covering `r`, for `r < total()`.
    fn at(&self, r: u32) -> &'static T {
        &self.items[self.cumulative.partition_point(|&c| c <= r)]
    }

    fn pick(&self, rng: &mut Rand) -> &'static T {
        self.at(rng.below(self.total()))
    }
}

struct Tables {
    surnames: Weighted<(&'static str, u32)>,
    /// By gender (male, female), then by birth era.
    given: [[Weighted<GivenName>; 3]; 2],
    streets: Weighted<(&'static str, u32)>,
    street_suffixes: Weighted<(&'static str, u32)>,
    areas: Weighted<PostArea>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let by_era = |list: &'static [GivenName]| {
        [0, 1, 2].map(|era| Weighted::new(list, move |g: &GivenName| g.weights[era]))
    };
    let tables = Tables {
        surnames: Weighted::new(names::SURNAMES, |s| s.1),
        given: [by_era(names::MALE_GIVEN), by_era(names::FEMALE_GIVEN)],
        streets: Weighted::new(names::STREETS, |s| s.1),
        street_suffixes: Weighted::new(names::STREET_SUFFIXES, |s| s.1),
        areas: Weighted::new(names::POST_AREAS, |a| a.weight),
    };
    assert!(tables.surnames.total() < names::SURNAME_SCALE);
    tables
});

/// Object ids: four upper-case hex digits (PDS uses up to eight; four keep
/// the stored record small), distinct within a record because successive
/// values differ by an odd step modulo 2^16.
struct Ids(u16);

impl Ids {
    fn next(&mut self) -> String {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let value = self.0;
        self.0 = self.0.wrapping_add(0x79B9);
        (0..4)
            .rev()
            .map(|i| char::from(HEX[(value >> (i * 4)) as usize & 15]))
            .collect()
    }
}

/// Appends `value` in decimal, zero-padded to at least `width` digits.
fn push_decimal(out: &mut String, mut value: u32, width: usize) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    while value > 0 || digits.len() - start < width.max(1) {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[start..]).expect("ascii digits"));
}

/// Appends `text` lower-cased with accents stripped and anything but ASCII
/// letters and digits dropped, for email addresses.
fn push_email_part(out: &mut String, text: &str) {
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            continue;
        }
        out.push_str(match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => "a",
            'ç' | 'ć' | 'č' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ł' => "l",
            'ñ' | 'ń' => "n",
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'ø' => "o",
            'ś' | 'š' => "s",
            'ß' => "ss",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            _ => "",
        });
    }
}

fn day(days_from_ce: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days_from_ce).expect("date in range")
}

/// What the rest of a record depends on.
struct Person {
    gender: Gender,
    birth: NaiveDate,
    /// Completed years at `REFERENCE_DAY`.
    age: u32,
    /// Index into `GivenName::weights`.
    era: usize,
}

struct Builder {
    rng: Rand,
    ids: Ids,
    tables: &'static Tables,
}

impl Builder {
    fn new(mut rng: Rand) -> Self {
        let ids = Ids(rng.below(1 << 16) as u16);
        Self {
            rng,
            ids,
            tables: &TABLES,
        }
    }

    fn patient(mut self, nhs_number: NhsNumber) -> Patient {
        let version = match self.rng.below(1000) {
            0..900 => 1,
            900..960 => 2,
            960..985 => 3,
            985..995 => 4,
            _ => 5,
        };
        let security = match self.rng.below(1_000_000) {
            r if r < VERY_RESTRICTED_PPM => Security::VeryRestricted,
            r if r < VERY_RESTRICTED_PPM + RESTRICTED_PPM => Security::Restricted,
            _ => Security::Unrestricted,
        };
        let person = self.person();
        let (deceased, death_notification) = self.death(&person);
        let multiple_birth = self
            .rng
            .per_million(15_000)
            .then(|| 1 + self.rng.below(2) as u8);

        let names = self.names(&person);
        let mut addresses = vec![self.home_address()];
        if self.rng.percent(3) {
            addresses.push(self.temporary_address(&person));
        }
        let telecoms = self.telecoms(&person, &names[0]);
        let general_practitioner = self.rng.percent(98).then(|| self.practice(&person));
        let nominated_pharmacy = self.rng.percent(20).then(|| self.pharmacy());
        let contacts = if self.rng.percent(2) {
            vec![EmergencyContact {
                id: self.ids.next(),
                period: None,
                telecoms: vec![ContactPoint {
                    system: TelecomSystem::Phone,
                    value: self.phone_number("07700900"),
                }],
            }]
        } else {
            Vec::new()
        };

        Patient {
            nhs_number,
            version,
            security,
            gender: Some(person.gender),
            birth_date: Some(person.birth),
            deceased,
            details: Details {
                verification: Some(Verification::Verified),
                multiple_birth,
                names,
                addresses,
                telecoms,
                contacts,
                general_practitioner,
                nominated_pharmacy,
                death_notification,
                ..Details::default()
            },
        }
    }

    /// Gender and birth date. Ages are uniform from 0 to 80 and then fall
    /// linearly to nothing at 105.
    fn person(&mut self) -> Person {
        let gender = match self.rng.below(1000) {
            0..490 => Gender::Male,
            490..990 => Gender::Female,
            990..995 => Gender::Other,
            _ => Gender::Unknown,
        };
        let u = self.rng.unit() * 92.5;
        let years = if u < 80.0 {
            u
        } else {
            // Inverse of the tail's distribution x - x²/50 over 0..25.
            80.0 + 25.0 - (625.0 - 50.0 * (u - 80.0)).max(0.0).sqrt()
        };
        let reference = REFERENCE_DAY.num_days_from_ce();
        let earliest = EARLIEST_BIRTH.num_days_from_ce();
        let birth = day((reference - (years * 365.25) as i32).max(earliest));
        let mut age = (REFERENCE_DAY.year() - birth.year()) as u32;
        if (REFERENCE_DAY.month(), REFERENCE_DAY.day()) < (birth.month(), birth.day()) {
            age -= 1;
        }
        let era = names::GIVEN_NAME_ERAS
            .iter()
            .rposition(|&start| birth.year() >= start)
            .unwrap_or(0);
        Person {
            gender,
            birth,
            age,
            era,
        }
    }

    /// About 1% die, mostly the old, within the last ten years.
    fn death(&mut self, person: &Person) -> (Option<DateTime<Utc>>, Option<DeathNotification>) {
        let chance = match person.age {
            80.. => 50_000,
            60..80 => 10_000,
            _ => 1_500,
        };
        if !self.rng.per_million(chance) {
            return (None, None);
        }
        let reference = REFERENCE_DAY.num_days_from_ce();
        let first = (reference - 3652).max(person.birth.num_days_from_ce() + 1);
        let died = first + self.rng.below((reference - first + 1) as u32) as i32;
        let deceased = day(died)
            .and_hms_opt(self.rng.below(24), self.rng.below(60), 0)
            .expect("valid time")
            .and_utc();
        let status = if self.rng.percent(85) {
            DeathStatus::Formal
        } else {
            DeathStatus::Informal
        };
        let delay = TimeDelta::seconds(i64::from(self.rng.between(3_600, 21 * 86_400)));
        let notification = DeathNotification {
            status,
            effective: Some(deceased + delay),
        };
        (Some(deceased), Some(notification))
    }

    fn names(&mut self, person: &Person) -> Vec<WithId<Name>> {
        let family = self.surname();
        let given = self.given_names(person);
        let prefix = self.prefix(person);
        let suffix = if person.age >= 21 && self.rng.per_million(3_000) {
            vec![self.rng.pick(names::NAME_SUFFIXES).to_string()]
        } else {
            Vec::new()
        };
        let first_given = given.first;
        let mut names = vec![WithId::new(
            self.ids.next(),
            Name {
                name_use: NameUse::Usual,
                period: None,
                given: given.names,
                family: Some(family),
                prefix: prefix.map(|p| vec![p.to_string()]).unwrap_or_default(),
                suffix,
            },
        )];

        // Women who took a spouse's surname keep the one they were born with.
        if prefix == Some("Mrs") && self.rng.percent(15) {
            let born_with = self.surname();
            if Some(&born_with) != names[0].family.as_ref() {
                // Some day from their eighteenth birthday on.
                let adult = person.birth.num_days_from_ce() + 18 * 365 + 4;
                let since = (REFERENCE_DAY.num_days_from_ce() - adult).max(1) as u32;
                let married = adult + self.rng.below(since) as i32;
                let name_use = if self.rng.percent(70) {
                    NameUse::Maiden
                } else {
                    NameUse::Old
                };
                names.push(WithId::new(
                    self.ids.next(),
                    Name {
                        name_use,
                        period: Some(Period {
                            start: None,
                            end: Some(day(married)),
                        }),
                        given: names[0].given.clone(),
                        family: Some(born_with),
                        prefix: vec!["Miss".to_string()],
                        suffix: Vec::new(),
                    },
                ));
            }
        } else if !first_given.nickname.is_empty() && self.rng.percent(3) {
            names.push(WithId::new(
                self.ids.next(),
                Name {
                    name_use: NameUse::Nickname,
                    period: None,
                    given: vec![first_given.nickname.to_string()],
                    family: names[0].family.clone(),
                    prefix: Vec::new(),
                    suffix: Vec::new(),
                },
            ));
        }
        names
    }

    /// About 62% from the common list, the rest from a long tail of tens of
    /// thousands of rarer names.
    fn surname(&mut self) -> String {
        let surnames = &self.tables.surnames;
        let r = self.rng.below(names::SURNAME_SCALE);
        if r < surnames.total() {
            return surnames.at(r).0.to_string();
        }
        match self.rng.below(100) {
            0..10 => self.rng.pick(names::RARE_SURNAMES).to_string(),
            10..13 => {
                let first = surnames.pick(&mut self.rng).0;
                let second = surnames.pick(&mut self.rng).0;
                if first == second {
                    return first.to_string();
                }
                let mut name = String::with_capacity(first.len() + 1 + second.len());
                name.push_str(first);
                name.push('-');
                name.push_str(second);
                name
            }
            _ => {
                let start = self.rng.pick(names::SURNAME_STARTS);
                let middle = self.rng.pick(names::SURNAME_MIDDLES);
                let end = self.rng.pick(names::SURNAME_ENDS);
                let mut name = String::with_capacity(start.len() + middle.len() + end.len());
                name.push_str(start);
                name.push_str(middle);
                name.push_str(end);
                name
            }
        }
    }

    fn given_names(&mut self, person: &Person) -> GivenNames {
        let table = match person.gender {
            Gender::Male => &self.tables.given[0][person.era],
            Gender::Female => &self.tables.given[1][person.era],
            Gender::Other | Gender::Unknown => {
                &self.tables.given[self.rng.below(2) as usize][person.era]
            }
        };
        let count = match self.rng.below(100) {
            0..60 => 1,
            60..96 => 2,
            _ => 3,
        };
        let first = table.pick(&mut self.rng);
        let mut names = Vec::with_capacity(count);
        names.push(first.name.to_string());
        for _ in 1..count {
            let next = table.pick(&mut self.rng).name;
            if !names.iter().any(|n| n == next) {
                names.push(next.to_string());
            }
        }
        GivenNames { first, names }
    }

    fn prefix(&mut self, person: &Person) -> Option<&'static str> {
        let age = person.age;
        let doctor = age >= 26 && self.rng.per_million(15_000);
        let prefix = match person.gender {
            _ if doctor => "Dr",
            Gender::Male if age < 16 => "Master",
            Gender::Male => "Mr",
            Gender::Female if age < 16 => "Miss",
            Gender::Female => {
                // Percentages for Mrs and Ms; the rest are Miss.
                let (mrs, ms) = match age {
                    ..25 => (5, 10),
                    25..35 => (45, 20),
                    _ => (65, 20),
                };
                match self.rng.below(100) {
                    r if r < mrs => "Mrs",
                    r if r < mrs + ms => "Ms",
                    _ => "Miss",
                }
            }
            Gender::Other | Gender::Unknown if age >= 18 && self.rng.percent(50) => "Mx",
            Gender::Other | Gender::Unknown => return None,
        };
        Some(prefix)
    }

    fn home_address(&mut self) -> WithId<Address> {
        let area = self.tables.areas.pick(&mut self.rng);
        let mut lines = Vec::with_capacity(4);
        if self.rng.percent(6) {
            lines.push(self.flat());
        }
        lines.push(self.street_line());
        if self.rng.percent(15) {
            lines.push(self.rng.pick(names::LOCALITIES).to_string());
        }
        lines.push(area.town.to_string());
        if !area.county.is_empty() && self.rng.percent(5) {
            lines.push(area.county.to_string());
        }
        let postal_code = Some(self.postcode(area));
        let keys = if self.rng.percent(65) {
            let mut paf = String::with_capacity(8);
            push_decimal(&mut paf, self.rng.below(100_000_000), 8);
            vec![AddressKey {
                key_type: AddressKeyType::Paf,
                value: paf,
            }]
        } else {
            Vec::new()
        };
        WithId::new(
            self.ids.next(),
            Address {
                address_use: AddressUse::Home,
                period: None,
                text: None,
                lines,
                postal_code,
                keys,
            },
        )
    }

    /// Term-time or other temporary lodging, for a few months around now.
    fn temporary_address(&mut self, person: &Person) -> WithId<Address> {
        let text = if (17..25).contains(&person.age) && self.rng.percent(80) {
            names::TEMP_ADDRESS_TEXTS[0]
        } else {
            self.rng.pick(&names::TEMP_ADDRESS_TEXTS[1..])
        };
        let area = self.tables.areas.pick(&mut self.rng);
        let lines = vec![self.flat(), self.street_line(), area.town.to_string()];
        let start = REFERENCE_DAY.num_days_from_ce() - self.rng.below(300) as i32;
        let end = start + self.rng.between(30, 365) as i32;
        WithId::new(
            self.ids.next(),
            Address {
                address_use: AddressUse::Temp,
                period: Some(Period {
                    start: Some(day(start)),
                    end: Some(day(end)),
                }),
                text: Some(text.to_string()),
                lines,
                postal_code: Some(self.postcode(area)),
                keys: Vec::new(),
            },
        )
    }

    fn flat(&mut self) -> String {
        let mut line = String::with_capacity(8);
        line.push_str("Flat ");
        push_decimal(&mut line, self.rng.between(1, 40), 1);
        line
    }

    /// "12 Station Road": mostly low house numbers.
    fn street_line(&mut self) -> String {
        let number = if self.rng.percent(75) {
            self.rng.between(1, 80)
        } else {
            self.rng.between(1, 300)
        };
        let street = self.tables.streets.pick(&mut self.rng).0;
        let suffix = self.tables.street_suffixes.pick(&mut self.rng).0;
        let mut line = String::with_capacity(4 + street.len() + 1 + suffix.len());
        push_decimal(&mut line, number, 1);
        line.push(' ');
        line.push_str(street);
        line.push(' ');
        line.push_str(suffix);
        line
    }

    /// Area, district (with a sub-district letter where the area has them),
    /// space, sector digit and two unit letters: "LS11 5AB", "SW1A 2AA".
    fn postcode(&mut self, area: &PostArea) -> String {
        const DISTRICT_LETTERS: &[u8] = b"ABCDEFGHJKMNPRSTUVWXY";
        const UNIT_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
        let (low, high) = area.districts;
        let district = self.rng.between(u32::from(low), u32::from(high));
        let lettered = match area.lettered {
            Lettered::Never => false,
            Lettered::First => district == u32::from(low),
            Lettered::FirstSometimes => district == u32::from(low) && self.rng.percent(20),
            Lettered::Always => true,
        };
        let mut code = String::with_capacity(8);
        code.push_str(area.code);
        push_decimal(&mut code, district, 1);
        if lettered {
            code.push(char::from(*self.rng.pick(DISTRICT_LETTERS)));
        }
        code.push(' ');
        push_decimal(&mut code, self.rng.below(10), 1);
        code.push(char::from(*self.rng.pick(UNIT_LETTERS)));
        code.push(char::from(*self.rng.pick(UNIT_LETTERS)));
        code
    }

    /// Numbers from Ofcom's drama ranges, without spaces.
    fn phone_number(&mut self, prefix: &str) -> String {
        let mut number = String::with_capacity(11);
        number.push_str(prefix);
        push_decimal(&mut number, self.rng.below(1000), 3);
        number
    }

    fn telecoms(&mut self, person: &Person, name: &Name) -> Vec<WithId<Telecom>> {
        let mut telecoms = Vec::with_capacity(2);
        if self.rng.percent(80) {
            let (value, telecom_use) = if person.age >= 12 && self.rng.percent(70) {
                (self.phone_number("07700900"), TelecomUse::Mobile)
            } else {
                (self.phone_number("01632960"), TelecomUse::Home)
            };
            telecoms.push(WithId::new(
                self.ids.next(),
                Telecom {
                    period: None,
                    system: TelecomSystem::Phone,
                    value,
                    telecom_use: Some(telecom_use),
                    textphone: false,
                },
            ));
        }
        if person.age >= 13 && self.rng.percent(55) {
            let given = name.given.first().map_or("", String::as_str);
            let family = name.family.as_deref().unwrap_or("");
            let mut email = String::with_capacity(given.len() + family.len() + 16);
            push_email_part(&mut email, given);
            email.push('.');
            push_email_part(&mut email, family);
            if self.rng.percent(30) {
                push_decimal(&mut email, self.rng.between(1, 99), 1);
            }
            email.push_str("@example.com");
            telecoms.push(WithId::new(
                self.ids.next(),
                Telecom {
                    period: None,
                    system: TelecomSystem::Email,
                    value: email,
                    telecom_use: Some(TelecomUse::Home),
                    textphone: false,
                },
            ));
        }
        telecoms
    }

    /// One of 7,000 practice codes (A81001 .. P85100), registered since some
    /// day after birth.
    fn practice(&mut self, person: &Person) -> OrganisationRef {
        const REGION_LETTERS: &[u8; 14] = b"ABCDEFGHJKLMNP";
        let index = self.rng.below(7_000);
        let within = index % 500;
        let mut ods_code = String::with_capacity(6);
        ods_code.push(char::from(REGION_LETTERS[(index / 500) as usize]));
        push_decimal(&mut ods_code, 81 + within / 100, 2);
        push_decimal(&mut ods_code, 1 + within % 100, 3);
        let born = person.birth.num_days_from_ce();
        let span = (REFERENCE_DAY.num_days_from_ce() - born) as u32;
        let registered = born + self.rng.below(span + 1) as i32;
        OrganisationRef {
            id: Some(self.ids.next()),
            ods_code,
            period: Some(Period {
                start: Some(day(registered)),
                end: None,
            }),
        }
    }

    /// A community pharmacy ODS code: F, a letter, three digits ("FA123").
    fn pharmacy(&mut self) -> String {
        let mut code = String::with_capacity(5);
        code.push('F');
        code.push(char::from(b'A' + self.rng.below(26) as u8));
        push_decimal(&mut code, self.rng.below(1000), 3);
        code
    }
}

struct GivenNames {
    first: &'static GivenName,
    names: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec;
    use std::collections::{HashMap, HashSet};

    const SEED: u64 = 20_251_231;
    const SAMPLE: usize = 100_000;

    /// One shared sample for the frequency tests.
    static POPULATION: LazyLock<Vec<Generated>> =
        LazyLock::new(|| Population::new(SEED).take(SAMPLE).collect());

    fn share(count: usize) -> f64 {
        count as f64 / POPULATION.len() as f64
    }

    /// The UK postcode format: outward code (area letters, district digits,
    /// optional sub-district letter), a space, sector digit and two unit letters.
    fn is_postcode(text: &str) -> bool {
        let Some((outward, inward)) = text.split_once(' ') else {
            return false;
        };
        let inward = inward.as_bytes();
        let inward_ok = inward.len() == 3
            && inward[0].is_ascii_digit()
            && inward[1..]
                .iter()
                .all(|b| b"ABDEFGHJLNPQRSTUWXYZ".contains(b));
        let area_len = outward.bytes().take_while(u8::is_ascii_uppercase).count();
        let district = &outward.as_bytes()[area_len..];
        let district_ok = match district {
            [d] => d.is_ascii_digit(),
            [d, e] => d.is_ascii_digit() && (e.is_ascii_digit() || e.is_ascii_uppercase()),
            _ => false,
        };
        (1..=2).contains(&area_len) && district_ok && inward_ok
    }

    #[test]
    fn postcode_checker_accepts_real_formats_only() {
        for good in [
            "LS11 5AB", "M1 1AE", "SW1A 2AA", "EC1A 1BB", "CR0 2YR", "B33 8TH",
        ] {
            assert!(is_postcode(good), "{good}");
        }
        for bad in [
            "LS11 5AC",
            "LS115AB",
            "L 1AB",
            "ABC1 1AB",
            "LS11 AB",
            "ls11 5ab",
            "SW1AA 1AA",
        ] {
            assert!(!is_postcode(bad), "{bad}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_records() {
        let first: Vec<_> = Population::new(SEED).take(1000).collect();
        let second: Vec<_> = Population::new(SEED).take(1000).collect();
        assert_eq!(first, second);
        assert_eq!(first[..], POPULATION[..1000]);
    }

    #[test]
    fn a_different_seed_gives_different_content() {
        let other: Vec<_> = Population::new(SEED + 1).take(1000).collect();
        let mut differing = 0;
        for (a, b) in POPULATION.iter().zip(&other) {
            assert_eq!(a.patient.nhs_number, b.patient.nhs_number);
            if a.patient.details.names != b.patient.details.names
                && a.patient.birth_date != b.patient.birth_date
            {
                differing += 1;
            }
        }
        assert!(differing > 950, "only {differing} of 1000 differ");
    }

    #[test]
    fn generate_matches_the_iterator() {
        for record in POPULATION.iter().step_by(997) {
            assert_eq!(&generate(SEED, record.patient.nhs_number), record);
        }
        for record in POPULATION.iter().filter(|r| r.superseded_by.is_some()) {
            assert_eq!(&generate(SEED, record.patient.nhs_number), record);
        }
    }

    #[test]
    fn numbers_are_every_valid_one_in_the_999_range_in_order() {
        assert_eq!(POPULATION[0].patient.nhs_number.to_string(), "9990000018");
        let mut previous: Option<u64> = None;
        for record in POPULATION.iter() {
            let n = record.patient.nhs_number.as_u64();
            assert!((9_990_000_000..=9_999_999_999).contains(&n), "{n}");
            assert_eq!(NhsNumber::from_u64(n), Ok(record.patient.nhs_number));
            if let Some(p) = previous {
                assert!(n > p);
                // No valid number was skipped.
                assert!((p / 10 + 1..n / 10).all(|s| NhsNumber::from_stem(s).is_none()));
            }
            previous = Some(n);
        }
    }

    #[test]
    fn after_the_999_range_the_population_continues_from_910_million() {
        let mut tail = Population {
            seed: SEED,
            range: 0,
            next_stem: 999_999_980,
        };
        let in_999: Vec<u64> = tail
            .by_ref()
            .take_while(|g| g.patient.nhs_number.as_u64() >= 9_990_000_000)
            .map(|g| g.patient.nhs_number.as_u64())
            .collect();
        assert!(!in_999.is_empty());
        let next = tail.next().expect("the second block");
        let n = next.patient.nhs_number.as_u64();
        assert!((9_100_000_000..9_100_000_200).contains(&n), "{n}");

        let mut end = Population {
            seed: SEED,
            range: 1,
            next_stem: 998_999_980,
        };
        let last = end.by_ref().last().expect("numbers near the end");
        assert!(last.patient.nhs_number.as_u64() >= 9_989_999_790);
        assert!(end.next().is_none());
    }

    #[test]
    fn surnames_follow_uk_frequencies_with_a_long_tail() {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for record in POPULATION.iter() {
            if let Some(name) = record.patient.details.names.first() {
                *counts.entry(name.family.as_deref().unwrap()).or_default() += 1;
            }
        }
        let smith = share(counts["Smith"]);
        assert!((0.008..0.02).contains(&smith), "Smith {smith}");
        assert!(counts["Jones"] > counts["Thompson"]);
        assert!(counts.len() >= 10_000, "{} distinct surnames", counts.len());
        assert!(counts.keys().any(|n| n.contains('-')));
        assert!(counts.keys().any(|n| !n.is_ascii()));
    }

    #[test]
    fn security_death_and_merge_rates_are_realistic() {
        let count = |f: &dyn Fn(&Generated) -> bool| POPULATION.iter().filter(|r| f(r)).count();
        let restricted = share(count(&|r| r.patient.security == Security::Restricted));
        assert!(
            (0.003..0.008).contains(&restricted),
            "restricted {restricted}"
        );
        let very = count(&|r| r.patient.security == Security::VeryRestricted);
        assert!((1..=40).contains(&very), "very restricted {very}");
        let deceased = share(count(&|r| r.patient.deceased.is_some()));
        assert!((0.006..0.015).contains(&deceased), "deceased {deceased}");

        let numbers: HashMap<NhsNumber, &Generated> = POPULATION
            .iter()
            .map(|r| (r.patient.nhs_number, r))
            .collect();
        let merged: Vec<_> = POPULATION
            .iter()
            .filter(|r| r.superseded_by.is_some())
            .collect();
        assert!(
            (5..=60).contains(&merged.len()),
            "{} superseded",
            merged.len()
        );
        for record in merged {
            let target = record.superseded_by.unwrap();
            let stem = record.patient.nhs_number.as_u64() / 10;
            assert_eq!(Some(target), previous_number(stem));
            let retained = numbers[&target];
            assert!(retained.superseded_by.is_none());
            assert!(!retained.patient.details.names.is_empty());
            assert!(record.patient.details.names.is_empty());
        }
    }

    #[test]
    fn genders_and_ages_are_spread_realistically() {
        let males = POPULATION
            .iter()
            .filter(|r| r.patient.gender == Some(Gender::Male))
            .count();
        let females = POPULATION
            .iter()
            .filter(|r| r.patient.gender == Some(Gender::Female))
            .count();
        assert!((0.47..0.51).contains(&share(males)));
        assert!((0.48..0.52).contains(&share(females)));
        assert!(males + females < POPULATION.len());

        let births: Vec<NaiveDate> = POPULATION
            .iter()
            .filter_map(|r| r.patient.birth_date)
            .collect();
        assert!(
            births
                .iter()
                .all(|b| (EARLIEST_BIRTH..=REFERENCE_DAY).contains(b))
        );
        let born_before = |year| births.iter().filter(|b| b.year() < year).count() as f64;
        let over_80 = born_before(1946) / births.len() as f64;
        assert!((0.08..0.2).contains(&over_80), "over 80: {over_80}");
        let under_40 = 1.0 - born_before(1986) / births.len() as f64;
        assert!((0.35..0.5).contains(&under_40), "under 40: {under_40}");
    }

    #[test]
    fn every_record_is_well_formed() {
        let towns: HashMap<&str, &str> =
            names::POST_AREAS.iter().map(|a| (a.code, a.town)).collect();
        let mut emails = 0;
        let mut phones = 0;
        let mut practices = 0;
        let mut other_names = 0;
        for record in POPULATION.iter().filter(|r| r.superseded_by.is_none()) {
            let p = &record.patient;
            let d = &p.details;
            assert!((1..=5).contains(&p.version));
            assert_eq!(d.verification, Some(Verification::Verified));
            assert_eq!(
                d.names
                    .iter()
                    .filter(|n| n.name_use == NameUse::Usual)
                    .count(),
                1
            );
            assert_eq!(d.names[0].name_use, NameUse::Usual);
            assert!((1..=3).contains(&d.names[0].given.len()));
            other_names += usize::from(d.names.len() > 1);

            let mut ids: Vec<&str> = d.names.iter().map(|n| n.id.as_str()).collect();
            ids.extend(d.addresses.iter().map(|a| a.id.as_str()));
            ids.extend(d.telecoms.iter().map(|t| t.id.as_str()));
            ids.extend(d.contacts.iter().map(|c| c.id.as_str()));
            ids.extend(
                d.general_practitioner
                    .iter()
                    .filter_map(|g| g.id.as_deref()),
            );
            let distinct: HashSet<&str> = ids.iter().copied().collect();
            assert_eq!(distinct.len(), ids.len(), "{ids:?}");
            for id in ids {
                assert!(id.len() == 4 && id.bytes().all(|b| b.is_ascii_hexdigit()));
                assert_eq!(id, id.to_ascii_uppercase());
            }

            assert_eq!(d.addresses[0].address_use, AddressUse::Home);
            for address in &d.addresses {
                let postcode = address.postal_code.as_deref().unwrap();
                assert!(is_postcode(postcode), "{postcode}");
                let area: String = postcode
                    .chars()
                    .take_while(char::is_ascii_uppercase)
                    .collect();
                let town = towns[area.as_str()];
                assert!(
                    address.lines.iter().any(|l| l == town),
                    "{town} {:?}",
                    address.lines
                );
                if address.address_use == AddressUse::Temp {
                    assert!(address.text.is_some() && address.period.is_some());
                }
            }

            for telecom in &d.telecoms {
                let v = &telecom.value;
                match telecom.system {
                    TelecomSystem::Phone => {
                        phones += 1;
                        assert!(v.len() == 11 && v.bytes().all(|b| b.is_ascii_digit()));
                        assert!(v.starts_with("07700900") || v.starts_with("01632960"));
                    }
                    TelecomSystem::Email => {
                        emails += 1;
                        let (local, domain) = v.split_once('@').unwrap();
                        assert_eq!(domain, "example.com");
                        assert!(local.len() > 1 && local.contains('.'));
                        assert!(
                            local
                                .bytes()
                                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.'))
                        );
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }

            if let Some(gp) = &d.general_practitioner {
                practices += 1;
                let code = gp.ods_code.as_bytes();
                assert!(code.len() == 6 && code[0].is_ascii_uppercase());
                assert!(code[1..].iter().all(u8::is_ascii_digit));
                let start = gp.period.unwrap().start.unwrap();
                assert!(Some(start) >= p.birth_date);
            }
            if let Some(pharmacy) = &d.nominated_pharmacy {
                let code = pharmacy.as_bytes();
                assert!(code.len() == 5 && code[0] == b'F' && code[1].is_ascii_uppercase());
                assert!(code[2..].iter().all(u8::is_ascii_digit));
            }

            assert_eq!(p.deceased.is_some(), d.death_notification.is_some());
            if let (Some(died), Some(born)) = (p.deceased, p.birth_date) {
                assert!(died.date_naive() > born);
                assert!(d.death_notification.as_ref().unwrap().effective.unwrap() > died);
            }
        }
        assert!(
            (0.75..0.85).contains(&share(phones)),
            "phones {}",
            share(phones)
        );
        assert!(
            (0.45..0.55).contains(&share(emails)),
            "emails {}",
            share(emails)
        );
        assert!((0.96..0.99).contains(&share(practices)));
        assert!(
            (0.03..0.08).contains(&share(other_names)),
            "{}",
            share(other_names)
        );
    }

    #[test]
    fn emails_strip_accents_and_punctuation() {
        let mut email = String::new();
        push_email_part(&mut email, "Zoë");
        email.push('.');
        push_email_part(&mut email, "Ó Súilleabháin-O'Neill");
        assert_eq!(email, "zoe.osuilleabhainoneill");
    }

    #[test]
    fn encoded_details_are_small() {
        let mut sizes: Vec<usize> = POPULATION
            .iter()
            .map(|r| codec::encode(&r.patient.details).len())
            .collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!(median < 170, "median {median} bytes");
        let record = &POPULATION[123].patient.details;
        assert_eq!(&codec::decode(&codec::encode(record)).unwrap(), record);
    }

    /// Not a test: run with
    /// `cargo test --release --lib generation_rate -- --ignored --nocapture`.
    /// Generates the whole 999 range (about 909,000 records) for one seed.
    #[test]
    #[ignore]
    fn generation_rate() {
        let started = std::time::Instant::now();
        let mut generated = 0;
        for record in Population::new(SEED) {
            std::hint::black_box(&record);
            generated += 1;
        }
        let generation = started.elapsed();

        let started = std::time::Instant::now();
        let mut sizes: Vec<usize> = Population::new(SEED)
            .map(|r| codec::encode(&r.patient.details).len())
            .collect();
        let with_encoding = started.elapsed();
        sizes.sort_unstable();
        println!(
            "{generated} records: {:.0}/s generated, {:.0}/s generated and encoded; \
             encoded details median {} bytes, p90 {}, max {}",
            generated as f64 / generation.as_secs_f64(),
            generated as f64 / with_encoding.as_secs_f64(),
            sizes[sizes.len() / 2],
            sizes[sizes.len() * 9 / 10],
            sizes[sizes.len() - 1],
        );
    }
}
