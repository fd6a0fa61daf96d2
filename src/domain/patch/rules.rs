//! PDS business rules for an update, comparing the record before and after.
//!
//! Rules about values (dates, counts, characters) are applied only to what
//! the request changed, so that legacy data already on a record (a second
//! nickname, an old period) does not block an unrelated update.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{PatchError, forbidden, invalid};
use crate::domain::Patient;
use crate::domain::codes::{AddressUse, DeathStatus, Gender, NameUse, TelecomSystem, TelecomUse};
use crate::domain::patient::{Address, Clearance, Name, Period, Telecom, WithId};

/// Who is making the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Editor {
    /// A healthcare worker (CIS2 user-restricted access).
    HealthcareWorker,
    /// The patient themself (NHS login).
    Patient,
}

const EXT_NOMINATED_PHARMACY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy";
const EXT_PREFERRED_DISPENSER: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization";
const EXT_APPLIANCE_SUPPLIER: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier";
const EXT_COMMUNICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication";
const EXT_BIRTH_PLACE: &str = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace";
const EXT_REMOVAL: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration";

/// What a patient may change about themself (§5.4), as [`super::touched`]
/// names the fields.
const PATIENT_FIELDS: &[&str] = &["address", "contact", "telecom"];
const PATIENT_EXTENSIONS: &[&str] = &[
    EXT_NOMINATED_PHARMACY,
    EXT_PREFERRED_DISPENSER,
    EXT_APPLIANCE_SUPPLIER,
    EXT_COMMUNICATION,
    EXT_BIRTH_PLACE,
];

const NO_PERMISSION: &str =
    "This user does not have permission to update the fields in the patches provided.";

/// The `text` a temporary address may carry.
const TEMP_ADDRESS_TEXTS: &[&str] = &[
    "Second Home",
    "Student Accommodation",
    "Respite Care Address",
    "Temporary Residence Address",
    "Convalescence Home",
    "Mobile Home",
    "Holiday Home",
];

/// Whether `editor`, who sees restricted records as `clearance` allows,
/// may update `record` at all: a healthcare worker needs access to
/// sensitive records (B1611) to update a restricted patient; a patient
/// (their own record, the gate has checked) always may.
pub fn may_edit(record: &Patient, editor: Editor, clearance: Clearance) -> Result<(), PatchError> {
    if record.is_restricted() && editor == Editor::HealthcareWorker && clearance != Clearance::All {
        return Err(forbidden(
            "updating a sensitive patient is only permitted with access to sensitive records (B1611)",
        ));
    }
    Ok(())
}

/// Business rules comparing the record before and after (both already
/// parsed into [`Patient`] by the caller). `touched` is what
/// [`super::touched`] returned for the request; `today` dates "the future".
///
/// Order: the editor's permissions, then FORBIDDEN_UPDATE rules, then
/// INVALID_UPDATE rules; the first failure is returned.
pub fn check(
    before: &Patient,
    after: &Patient,
    editor: Editor,
    touched: &[String],
    today: NaiveDate,
) -> Result<(), PatchError> {
    // Nobody may set these, so they are forbidden even to a patient.
    read_only(before, after, touched)?;
    if editor == Editor::Patient {
        patient_permissions(before, after, touched)?;
    }
    forbidden_changes(before, after)?;
    names(before, after)?;
    gender_and_dates(before, after, today)?;
    telecoms(before, after, today)?;
    addresses(before, after, today)?;
    other_periods(before, after, today)?;
    extensions(before, after)?;
    Ok(())
}

/// §5.4: a patient may change addresses, emergency contacts, pharmacies,
/// communication, place of birth, and only mobile or email telecoms.
fn patient_permissions(
    before: &Patient,
    after: &Patient,
    touched: &[String],
) -> Result<(), PatchError> {
    let allowed = |field: &String| {
        PATIENT_FIELDS.contains(&field.as_str())
            || field
                .strip_prefix("extension:")
                .is_some_and(|url| PATIENT_EXTENSIONS.contains(&url))
    };
    let (b, a) = (&before.details, &after.details);
    let other_changes = before.gender != after.gender
        || before.birth_date != after.birth_date
        || before.deceased != after.deceased
        || b.names != a.names
        || b.multiple_birth != a.multiple_birth
        || b.general_practitioner != a.general_practitioner
        || b.managing_organisation != a.managing_organisation
        || b.death_notification != a.death_notification
        || b.contact_preference != a.contact_preference
        || b.removal != a.removal;
    let own_telecom =
        |t: &Telecom| t.system == TelecomSystem::Email || t.telecom_use == Some(TelecomUse::Mobile);
    let telecoms_ok = changed(&b.telecoms, &a.telecoms, |t| &t.id).all(|(_, t)| own_telecom(t))
        && changed(&a.telecoms, &b.telecoms, |t| &t.id).all(|(_, t)| own_telecom(t));
    if touched.iter().all(allowed) && !other_changes && telecoms_ok {
        Ok(())
    } else {
        Err(invalid(NO_PERMISSION))
    }
}

/// Elements no editor may change: the managing organisation and the
/// removal from registration.
fn read_only(before: &Patient, after: &Patient, touched: &[String]) -> Result<(), PatchError> {
    let (b, a) = (&before.details, &after.details);
    let touches = |field: &str| touched.iter().any(|t| t == field);
    if touches("managingOrganization") || b.managing_organisation != a.managing_organisation {
        return Err(forbidden(
            "source not permitted to update 'managingOrganization'",
        ));
    }
    if touches(&format!("extension:{EXT_REMOVAL}")) || b.removal != a.removal {
        return Err(forbidden(
            "source not permitted to update 'removalFromRegistration'",
        ));
    }
    Ok(())
}

/// The other FORBIDDEN_UPDATE rules.
fn forbidden_changes(before: &Patient, after: &Patient) -> Result<(), PatchError> {
    let (b, a) = (&before.details, &after.details);
    let removed = |field: &str| {
        Err(forbidden(format!(
            "source not permitted to remove '{field}'"
        )))
    };
    if before.gender.is_some() && after.gender.is_none() {
        return removed("gender");
    }
    if before.birth_date.is_some() && after.birth_date.is_none() {
        return removed("birthDate");
    }
    if before.deceased.is_some() && after.deceased.is_none() {
        return removed("deceasedDateTime");
    }
    if b.death_notification.is_some() && a.death_notification.is_none() {
        return removed("deathNotificationStatus");
    }
    let status = |p: &Patient| p.details.death_notification.as_ref().map(|d| d.status);
    if status(before) == Some(DeathStatus::Formal) {
        if before.deceased != after.deceased {
            return Err(forbidden(
                "source not permitted to update 'deceasedDateTime'",
            ));
        }
        if b.death_notification != a.death_notification {
            return Err(forbidden(
                "source not permitted to update 'deathNotificationStatus'",
            ));
        }
    } else if status(after) == Some(DeathStatus::Formal) {
        return Err(forbidden(
            "only certain sources may set a formal death notification",
        ));
    }
    // Names: the usual name stays, and there is only one of it (and of the
    // nickname).
    let usual_removed = b
        .names
        .iter()
        .filter(|n| n.name_use == NameUse::Usual)
        .any(|n| !a.names.iter().any(|m| m.id == n.id));
    if usual_removed {
        return Err(forbidden("not permitted to remove usual name"));
    }
    for (name_use, label) in [(NameUse::Usual, "usual"), (NameUse::Nickname, "nickname")] {
        let count =
            |names: &[WithId<Name>]| names.iter().filter(|n| n.name_use == name_use).count();
        if count(&a.names) > count(&b.names).max(1) {
            return Err(forbidden(format!("multiple {label} names cannot be added")));
        }
    }
    Ok(())
}

fn names(before: &Patient, after: &Patient) -> Result<(), PatchError> {
    let (b, a) = (&before.details.names, &after.details.names);
    for n in a {
        if b.iter()
            .any(|old| old.id == n.id && old.name_use != n.name_use)
        {
            return Err(invalid("the use of an existing name cannot be changed"));
        }
    }
    for (i, n) in changed(a, b, |n| &n.id) {
        let parts = [
            ("given", &n.given),
            ("prefix", &n.prefix),
            ("suffix", &n.suffix),
        ];
        let mut fields: Vec<(String, &str)> = parts
            .iter()
            .flat_map(|(part, values)| {
                values
                    .iter()
                    .enumerate()
                    .map(move |(j, v)| (format!("name/{i}/{part}/{j}"), v.as_str()))
            })
            .collect();
        fields.extend(n.family.as_deref().map(|f| (format!("name/{i}/family"), f)));
        if let Some((field, _)) = fields
            .iter()
            .find(|(_, v)| !v.chars().all(allowed_name_char))
        {
            return Err(invalid(format!(
                "Unsupported characters in field '{field}'"
            )));
        }
        for (j, suffix) in n.suffix.iter().enumerate() {
            if !suffix.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return Err(invalid(format!(
                    "field 'name/{i}/suffix/{j}' must start with a letter A-Z"
                )));
            }
        }
    }
    Ok(())
}

/// A–Z a–z, digits, apostrophe, hyphen, space, full stop, and the Latin-1
/// and Latin Extended-A letters.
fn allowed_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '\'' | '-' | ' ' | '.')
        || ('\u{C0}'..='\u{D6}').contains(&c)
        || ('\u{D8}'..='\u{F6}').contains(&c)
        || ('\u{F8}'..='\u{17F}').contains(&c)
}

fn gender_and_dates(before: &Patient, after: &Patient, today: NaiveDate) -> Result<(), PatchError> {
    if after.gender == Some(Gender::Other) && before.gender != after.gender {
        return Err(invalid("gender cannot be set to 'other'"));
    }
    let birth_changed = before.birth_date != after.birth_date;
    let death_changed = before.deceased != after.deceased;
    let death = after.deceased.map(|d| d.date_naive());
    if let Some(birth) = after.birth_date.filter(|_| birth_changed || death_changed) {
        if birth_changed && birth > today {
            return Err(invalid("birthDate cannot be in the future"));
        }
        if death.is_some_and(|death| birth > death) {
            return Err(invalid(if birth_changed {
                "birthDate cannot be after the date of death"
            } else {
                "deceasedDateTime cannot be before birthDate"
            }));
        }
    }
    if death_changed && death.is_some_and(|death| death > today) {
        return Err(invalid("deceasedDateTime cannot be in the future"));
    }
    let (b, a) = (
        &before.details.death_notification,
        &after.details.death_notification,
    );
    let notification_changed = b != a;
    if before.deceased.is_none()
        && after.deceased.is_some()
        && !(notification_changed && a.is_some())
    {
        return Err(invalid(
            "deceasedDateTime must be added together with a death notification",
        ));
    }
    if b.is_none() && a.is_some() && !(death_changed && after.deceased.is_some()) {
        return Err(invalid(
            "a death notification must be added together with deceasedDateTime",
        ));
    }
    if notification_changed && a.as_ref().is_some_and(|d| d.status == DeathStatus::Removed) {
        return Err(invalid("death notification status 'U' cannot be set"));
    }
    let multiple_birth = after.details.multiple_birth;
    if multiple_birth != before.details.multiple_birth
        && multiple_birth.is_some_and(|n| !(1..=9).contains(&n))
    {
        return Err(invalid("multipleBirthInteger must be between 1 and 9"));
    }
    Ok(())
}

fn telecoms(before: &Patient, after: &Patient, today: NaiveDate) -> Result<(), PatchError> {
    let (b, a) = (&before.details.telecoms, &after.details.telecoms);
    for t in a {
        if b.iter().any(|old| {
            old.id == t.id && (old.system != t.system || old.telecom_use != t.telecom_use)
        }) {
            return Err(invalid(
                "the system and use of an existing telecom cannot be changed; remove it and add a new one",
            ));
        }
    }
    let counts = |list: &[WithId<Telecom>]| {
        let mut counts: HashMap<(TelecomSystem, Option<TelecomUse>), usize> = HashMap::new();
        for t in list {
            *counts.entry((t.system, t.telecom_use)).or_default() += 1;
        }
        counts
    };
    let (old, new) = (counts(b), counts(a));
    for t in a {
        let key = (t.system, t.telecom_use);
        if new[&key] > old.get(&key).copied().unwrap_or(0).max(1) {
            return Err(invalid(format!(
                "only one telecom with system '{}' and use '{}' is permitted",
                t.system.code(),
                t.telecom_use.map_or("none", TelecomUse::code)
            )));
        }
    }
    for (i, t) in changed(a, b, |t| &t.id) {
        period(&t.period, &format!("telecom/{i}"), today)?;
    }
    Ok(())
}

fn addresses(before: &Patient, after: &Patient, today: NaiveDate) -> Result<(), PatchError> {
    let (b, a) = (&before.details.addresses, &after.details.addresses);
    for (i, address) in changed(a, b, |x| &x.id) {
        let field = format!("address/{i}");
        period(&address.period, &field, today)?;
        let label = address.address_use.code();
        match address.address_use {
            AddressUse::Work => {
                return Err(invalid("a work address cannot be added or replaced"));
            }
            AddressUse::Temp | AddressUse::Billing => {
                let (start, end) = match address.period {
                    Some(Period {
                        start: Some(start),
                        end: Some(end),
                    }) => (start, end),
                    _ => {
                        return Err(invalid(format!(
                            "a {label} address must have a period start and end"
                        )));
                    }
                };
                let max_days = if address.address_use == AddressUse::Temp {
                    90
                } else {
                    366
                };
                if (end - start).num_days() > max_days {
                    return Err(invalid(format!(
                        "a {label} address period cannot be longer than {max_days} days"
                    )));
                }
            }
            AddressUse::Home => {}
        }
        if address.address_use == AddressUse::Temp {
            match address.text.as_deref() {
                None => return Err(invalid("a temp address must have text")),
                Some(text) if !TEMP_ADDRESS_TEXTS.contains(&text) => {
                    return Err(invalid(format!(
                        "'{text}' is not a permitted text for a temp address"
                    )));
                }
                Some(_) => {}
            }
        }
    }
    // One current address of each use home, temp and billing.
    let current = |list: &[WithId<Address>], address_use: AddressUse| {
        list.iter()
            .filter(|x| x.address_use == address_use)
            .filter(|x| x.period.and_then(|p| p.end).is_none_or(|end| end >= today))
            .count()
    };
    for address_use in [AddressUse::Home, AddressUse::Temp, AddressUse::Billing] {
        if current(a, address_use) > current(b, address_use).max(1) {
            return Err(invalid(format!(
                "only one current {} address is permitted",
                address_use.code()
            )));
        }
    }
    Ok(())
}

fn other_periods(before: &Patient, after: &Patient, today: NaiveDate) -> Result<(), PatchError> {
    let (b, a) = (&before.details, &after.details);
    for (i, n) in changed(&a.names, &b.names, |n| &n.id) {
        period(&n.period, &format!("name/{i}"), today)?;
    }
    for (i, c) in changed(&a.contacts, &b.contacts, |c| &c.id) {
        period(&c.period, &format!("contact/{i}"), today)?;
    }
    if a.general_practitioner != b.general_practitioner
        && let Some(gp) = &a.general_practitioner
    {
        period(&gp.period, "generalPractitioner/0", today)?;
        if gp.period.is_some_and(|p| p.end.is_some()) {
            return Err(invalid("a general practitioner cannot have a period end"));
        }
    }
    Ok(())
}

/// A period's start is not after its end, nor in the future. (A missing
/// start defaults to the day of the update, which the caller fills in.)
fn period(p: &Option<Period>, field: &str, today: NaiveDate) -> Result<(), PatchError> {
    let Some(Period {
        start: Some(start),
        end,
    }) = *p
    else {
        return Ok(());
    };
    if let Some(end) = end
        && start > end
    {
        return Err(invalid(format!(
            "{field} period start '{start}' is after its end '{end}'"
        )));
    }
    if start > today {
        return Err(invalid(format!(
            "{field} period start '{start}' cannot be in the future"
        )));
    }
    Ok(())
}

fn extensions(before: &Patient, after: &Patient) -> Result<(), PatchError> {
    let (b, a) = (&before.details, &after.details);
    if a.communication != b.communication
        && let Some(c) = &a.communication
        && c.language.eq_ignore_ascii_case("en")
    {
        return Err(invalid("language 'en' is not permitted"));
    }
    if a.contact_preference != b.contact_preference
        && let Some(p) = &a.contact_preference
        && let Some(times) = &p.contact_times
    {
        if times.chars().count() > 40 {
            return Err(invalid(
                "PreferredContactTimes cannot be longer than 40 characters",
            ));
        }
        if p.contact_method.is_none() {
            return Err(invalid(
                "PreferredContactTimes requires a PreferredContactMethod",
            ));
        }
    }
    if a.birth_place != b.birth_place
        && let Some(place) = &a.birth_place
        && place.city.is_none()
        && place.district.is_none()
        && place.country.is_none()
    {
        return Err(invalid(
            "place of birth must have a city, district or country",
        ));
    }
    Ok(())
}

/// Items of `list` (with their index) that `other` does not hold unchanged:
/// new ids and items that differ from the one with the same id.
fn changed<'a, T: PartialEq>(
    list: &'a [T],
    other: &'a [T],
    id: impl Fn(&T) -> &String + 'a,
) -> impl Iterator<Item = (usize, &'a T)> + 'a {
    list.iter()
        .enumerate()
        .filter(move |(_, item)| !other.iter().any(|o| id(o) == id(item) && o == *item))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::NhsNumber;
    use crate::domain::patient::{
        BirthPlace, Communication, ContactPreference, DeathNotification, OrganisationRef,
    };
    use chrono::{DateTime, TimeZone, Utc};

    pub(in crate::domain::patch) const TODAY: (i32, u32, u32) = (2025, 6, 1);
    const CONTACT_PREFERENCE: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference";

    pub(in crate::domain::patch) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    pub(in crate::domain::patch) fn today() -> NaiveDate {
        date(TODAY.0, TODAY.1, TODAY.2)
    }

    pub(in crate::domain::patch) fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    pub(in crate::domain::patch) fn name(
        id: &str,
        name_use: NameUse,
        given: &str,
        family: &str,
    ) -> WithId<Name> {
        WithId::new(
            id,
            Name {
                name_use,
                period: None,
                given: vec![given.into()],
                family: Some(family.into()),
                prefix: vec![],
                suffix: vec![],
            },
        )
    }

    fn address(id: &str, address_use: AddressUse) -> WithId<Address> {
        WithId::new(
            id,
            Address {
                address_use,
                period: None,
                text: None,
                lines: vec!["1 Trevelyan Square".into(), "Leeds".into()],
                postal_code: Some("LS1 6AE".into()),
                keys: vec![],
            },
        )
    }

    fn telecom(
        id: &str,
        system: TelecomSystem,
        telecom_use: Option<TelecomUse>,
    ) -> WithId<Telecom> {
        WithId::new(
            id,
            Telecom {
                period: None,
                system,
                value: "01632960587".into(),
                telecom_use,
                textphone: false,
            },
        )
    }

    fn period(start: NaiveDate, end: NaiveDate) -> Option<Period> {
        Some(Period {
            start: Some(start),
            end: Some(end),
        })
    }

    pub(in crate::domain::patch) fn notification(status: DeathStatus) -> Option<DeathNotification> {
        Some(DeathNotification {
            status,
            effective: None,
        })
    }

    /// A small living patient with a usual name, a home address, a home
    /// phone, a home email, a mobile and a nominated pharmacy.
    pub(in crate::domain::patch) fn patient() -> Patient {
        let mut p = Patient::minimal(NhsNumber::parse("9000000009").unwrap(), 2);
        p.gender = Some(Gender::Female);
        p.birth_date = Some(date(2010, 10, 22));
        p.details.names = vec![name("123", NameUse::Usual, "Jane", "Smith")];
        p.details.addresses = vec![address("456", AddressUse::Home)];
        p.details.telecoms = vec![
            telecom("789", TelecomSystem::Phone, Some(TelecomUse::Home)),
            telecom("790", TelecomSystem::Email, Some(TelecomUse::Home)),
            telecom("791", TelecomSystem::Phone, Some(TelecomUse::Mobile)),
        ];
        p.details.nominated_pharmacy = Some("Y12345".into());
        p
    }

    fn dead(status: DeathStatus) -> Patient {
        let mut p = patient();
        p.deceased = Some(at(2020, 1, 1));
        p.details.death_notification = notification(status);
        p
    }

    fn hcw(before: &Patient, after: &Patient, touched: &[&str]) -> Result<(), PatchError> {
        let touched: Vec<String> = touched.iter().map(|s| s.to_string()).collect();
        check(before, after, Editor::HealthcareWorker, &touched, today())
    }

    fn by_patient(before: &Patient, after: &Patient, touched: &[&str]) -> Result<(), PatchError> {
        let touched: Vec<String> = touched.iter().map(|s| s.to_string()).collect();
        check(before, after, Editor::Patient, &touched, today())
    }

    fn is_invalid(result: Result<(), PatchError>, text: &str) {
        assert_eq!(result, Err(PatchError::Invalid(text.into())));
    }

    fn is_forbidden(result: Result<(), PatchError>, text: &str) {
        assert_eq!(result, Err(PatchError::Forbidden(text.into())));
    }

    /// `before` and a copy changed by `change`.
    fn edit(change: impl FnOnce(&mut Patient)) -> (Patient, Patient) {
        let before = patient();
        let mut after = before.clone();
        change(&mut after);
        (before, after)
    }

    #[test]
    fn an_unchanged_record_passes() {
        let p = patient();
        assert_eq!(hcw(&p, &p, &[]), Ok(()));
        assert_eq!(by_patient(&p, &p, &[]), Ok(()));
    }

    // Names

    #[test]
    fn one_usual_name() {
        let (b, a) = edit(|p| {
            p.details
                .names
                .push(name("NEW1", NameUse::Usual, "Janet", "Smith"))
        });
        is_forbidden(
            hcw(&b, &a, &["name"]),
            "multiple usual names cannot be added",
        );
        let (b, a) = edit(|p| p.details.names.clear());
        is_forbidden(hcw(&b, &a, &["name"]), "not permitted to remove usual name");
        // Replacing it by a new usual name is still a removal.
        let (b, a) = edit(|p| p.details.names = vec![name("NEW1", NameUse::Usual, "J", "S")]);
        is_forbidden(hcw(&b, &a, &["name"]), "not permitted to remove usual name");
        let (b, a) = edit(|p| {
            p.details
                .names
                .push(name("NEW1", NameUse::Old, "Janet", "Jones"))
        });
        assert_eq!(hcw(&b, &a, &["name"]), Ok(()));
    }

    #[test]
    fn at_most_one_nickname() {
        let (b, a) = edit(|p| {
            p.details
                .names
                .push(name("NEW1", NameUse::Nickname, "Jen", "Smith"))
        });
        assert_eq!(hcw(&b, &a, &["name"]), Ok(()));
        let mut two = a.clone();
        two.details
            .names
            .push(name("NEW2", NameUse::Nickname, "Jenny", "Smith"));
        is_forbidden(
            hcw(&a, &two, &["name"]),
            "multiple nickname names cannot be added",
        );
        // Legacy duplicates do not block other changes.
        let mut changed = two.clone();
        changed.gender = Some(Gender::Unknown);
        assert_eq!(hcw(&two, &changed, &["gender"]), Ok(()));
    }

    #[test]
    fn the_use_of_an_existing_name_cannot_change() {
        let (b, a) = edit(|p| {
            p.details
                .names
                .push(name("124", NameUse::Old, "Janey", "Jones"))
        });
        let mut after = a.clone();
        after.details.names[1].name_use = NameUse::Maiden;
        is_invalid(
            hcw(&a, &after, &["name"]),
            "the use of an existing name cannot be changed",
        );
        let mut after = b.clone();
        after.details.names[0].name_use = NameUse::Old;
        is_invalid(
            hcw(&b, &after, &["name"]),
            "the use of an existing name cannot be changed",
        );
    }

    #[test]
    fn name_characters() {
        for good in [
            "O'Brien-Smith",
            "St. John 2nd",
            "Zoë",
            "Ĳsbrand",
            "Łukasz",
            "ÀÖØöøſ",
        ] {
            let (b, a) = edit(|p| p.details.names[0].given = vec![good.into()]);
            assert_eq!(hcw(&b, &a, &["name"]), Ok(()), "{good}");
        }
        for (bad, field) in [
            ("O`Brien", "name/0/given/0"),
            ("Jane×", "name/0/given/0"),
            ("a÷b", "name/0/given/0"),
            ("Jane!", "name/0/given/0"),
            ("李", "name/0/given/0"),
        ] {
            let (b, a) = edit(|p| p.details.names[0].given = vec![bad.into()]);
            is_invalid(
                hcw(&b, &a, &["name"]),
                &format!("Unsupported characters in field '{field}'"),
            );
        }
        let (b, a) = edit(|p| p.details.names[0].family = Some("Smith_".into()));
        is_invalid(
            hcw(&b, &a, &["name"]),
            "Unsupported characters in field 'name/0/family'",
        );
        let (b, a) = edit(|p| p.details.names[0].prefix = vec!["Mrs".into(), "D@me".into()]);
        is_invalid(
            hcw(&b, &a, &["name"]),
            "Unsupported characters in field 'name/0/prefix/1'",
        );
        let (b, a) = edit(|p| p.details.names[0].suffix = vec!["-MBE".into()]);
        is_invalid(
            hcw(&b, &a, &["name"]),
            "field 'name/0/suffix/0' must start with a letter A-Z",
        );
        // Unchanged legacy names are not re-checked.
        let mut legacy = patient();
        legacy.details.names[0].family = Some("O`Brien".into());
        let mut after = legacy.clone();
        after.gender = Some(Gender::Male);
        assert_eq!(hcw(&legacy, &after, &["gender"]), Ok(()));
    }

    // Gender, birth and death

    #[test]
    fn gender_cannot_be_removed_or_set_to_other() {
        let (b, a) = edit(|p| p.gender = None);
        is_forbidden(
            hcw(&b, &a, &["gender"]),
            "source not permitted to remove 'gender'",
        );
        let (b, a) = edit(|p| p.gender = Some(Gender::Other));
        is_invalid(hcw(&b, &a, &["gender"]), "gender cannot be set to 'other'");
        let (b, a) = edit(|p| p.gender = Some(Gender::Unknown));
        assert_eq!(hcw(&b, &a, &["gender"]), Ok(()));
    }

    #[test]
    fn birth_date_rules() {
        let (b, a) = edit(|p| p.birth_date = None);
        is_forbidden(
            hcw(&b, &a, &["birthDate"]),
            "source not permitted to remove 'birthDate'",
        );
        let (b, a) = edit(|p| p.birth_date = Some(date(2025, 6, 2)));
        is_invalid(
            hcw(&b, &a, &["birthDate"]),
            "birthDate cannot be in the future",
        );
        let (b, a) = edit(|p| p.birth_date = Some(today()));
        assert_eq!(hcw(&b, &a, &["birthDate"]), Ok(()));
        let before = dead(DeathStatus::Informal);
        let mut after = before.clone();
        after.birth_date = Some(date(2021, 1, 1));
        is_invalid(
            hcw(&before, &after, &["birthDate"]),
            "birthDate cannot be after the date of death",
        );
    }

    #[test]
    fn deceased_date_time_rules() {
        let before = dead(DeathStatus::Informal);
        let mut after = before.clone();
        after.deceased = None;
        is_forbidden(
            hcw(&before, &after, &["deceasedDateTime"]),
            "source not permitted to remove 'deceasedDateTime'",
        );
        after.deceased = Some(at(2025, 6, 2));
        is_invalid(
            hcw(&before, &after, &["deceasedDateTime"]),
            "deceasedDateTime cannot be in the future",
        );
        after.deceased = Some(at(2009, 1, 1));
        is_invalid(
            hcw(&before, &after, &["deceasedDateTime"]),
            "deceasedDateTime cannot be before birthDate",
        );
        after.deceased = Some(at(2024, 1, 1));
        assert_eq!(hcw(&before, &after, &["deceasedDateTime"]), Ok(()));
    }

    #[test]
    fn death_and_its_notification_are_added_together() {
        let d = notification(DeathStatus::Informal);
        let ext = "extension:https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus";
        let (b, a) = edit(|p| p.deceased = Some(at(2024, 1, 1)));
        is_invalid(
            hcw(&b, &a, &["deceasedDateTime"]),
            "deceasedDateTime must be added together with a death notification",
        );
        let (b, a) = edit(|p| p.details.death_notification = d.clone());
        is_invalid(
            hcw(&b, &a, &[ext]),
            "a death notification must be added together with deceasedDateTime",
        );
        let (b, a) = edit(|p| {
            p.deceased = Some(at(2024, 1, 1));
            p.details.death_notification = d.clone();
        });
        assert_eq!(hcw(&b, &a, &[ext, "deceasedDateTime"]), Ok(()));
    }

    #[test]
    fn death_notification_rules() {
        let ext = "extension:https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus";
        // Not removable.
        let before = dead(DeathStatus::Informal);
        let mut after = before.clone();
        after.details.death_notification = None;
        is_forbidden(
            hcw(&before, &after, &[ext]),
            "source not permitted to remove 'deathNotificationStatus'",
        );
        // A healthcare worker may not set it to formal, informal is fine.
        after.details.death_notification = notification(DeathStatus::Formal);
        is_forbidden(
            hcw(&before, &after, &[ext]),
            "only certain sources may set a formal death notification",
        );
        let (b, a) = edit(|p| {
            p.deceased = Some(at(2024, 1, 1));
            p.details.death_notification = notification(DeathStatus::Formal);
        });
        is_forbidden(
            hcw(&b, &a, &[ext, "deceasedDateTime"]),
            "only certain sources may set a formal death notification",
        );
        // `U` cannot be set.
        after.details.death_notification = notification(DeathStatus::Removed);
        is_invalid(
            hcw(&before, &after, &[ext]),
            "death notification status 'U' cannot be set",
        );
    }

    #[test]
    fn a_formal_death_cannot_be_changed() {
        let before = dead(DeathStatus::Formal);
        let mut after = before.clone();
        after.deceased = Some(at(2021, 1, 1));
        is_forbidden(
            hcw(&before, &after, &["deceasedDateTime"]),
            "source not permitted to update 'deceasedDateTime'",
        );
        let mut after = before.clone();
        after.details.death_notification = notification(DeathStatus::Informal);
        is_forbidden(
            hcw(&before, &after, &["extension"]),
            "source not permitted to update 'deathNotificationStatus'",
        );
        // Other changes to the record are fine.
        let mut after = before.clone();
        after.gender = Some(Gender::Unknown);
        assert_eq!(hcw(&before, &after, &["gender"]), Ok(()));
    }

    // Telecom, address, periods, communication

    #[test]
    fn one_telecom_per_system_and_use() {
        let (b, a) = edit(|p| {
            p.details.telecoms.push(telecom(
                "NEW1",
                TelecomSystem::Phone,
                Some(TelecomUse::Home),
            ))
        });
        is_invalid(
            hcw(&b, &a, &["telecom"]),
            "only one telecom with system 'phone' and use 'home' is permitted",
        );
        let (b, a) = edit(|p| {
            p.details.telecoms.push(telecom(
                "NEW1",
                TelecomSystem::Phone,
                Some(TelecomUse::Work),
            ))
        });
        assert_eq!(hcw(&b, &a, &["telecom"]), Ok(()));
        let (b, a) = edit(|p| p.details.telecoms[0].telecom_use = Some(TelecomUse::Work));
        is_invalid(
            hcw(&b, &a, &["telecom"]),
            "the system and use of an existing telecom cannot be changed; remove it and add a new one",
        );
    }

    #[test]
    fn temp_and_billing_addresses() {
        for (address_use, label) in [(AddressUse::Temp, "temp"), (AddressUse::Billing, "billing")] {
            let (b, a) = edit(|p| p.details.addresses.push(address("NEW1", address_use)));
            is_invalid(
                hcw(&b, &a, &["address"]),
                &format!("a {label} address must have a period start and end"),
            );
            let (b, a) = edit(|p| {
                let mut x = address("NEW1", address_use);
                x.period = Some(Period {
                    start: Some(date(2025, 5, 1)),
                    end: None,
                });
                p.details.addresses.push(x);
            });
            is_invalid(
                hcw(&b, &a, &["address"]),
                &format!("a {label} address must have a period start and end"),
            );
        }
        let temp = |text: Option<&str>, end: NaiveDate| {
            edit(|p| {
                let mut x = address("NEW1", AddressUse::Temp);
                x.period = period(date(2025, 5, 1), end);
                x.text = text.map(str::to_owned);
                p.details.addresses.push(x);
            })
        };
        let (b, a) = temp(None, date(2025, 6, 30));
        is_invalid(hcw(&b, &a, &["address"]), "a temp address must have text");
        let (b, a) = temp(Some("Beach Hut"), date(2025, 6, 30));
        is_invalid(
            hcw(&b, &a, &["address"]),
            "'Beach Hut' is not a permitted text for a temp address",
        );
        let (b, a) = temp(Some("Student Accommodation"), date(2025, 9, 1));
        is_invalid(
            hcw(&b, &a, &["address"]),
            "a temp address period cannot be longer than 90 days",
        );
        let (b, a) = temp(Some("Student Accommodation"), date(2025, 6, 30));
        assert_eq!(hcw(&b, &a, &["address"]), Ok(()));
        let (b, a) = edit(|p| {
            let mut x = address("NEW1", AddressUse::Billing);
            x.period = period(date(2025, 5, 1), date(2026, 5, 1));
            p.details.addresses.push(x);
        });
        assert_eq!(hcw(&b, &a, &["address"]), Ok(()));
    }

    #[test]
    fn one_current_address_per_use_and_no_new_work_address() {
        let (b, a) = edit(|p| p.details.addresses.push(address("NEW1", AddressUse::Home)));
        is_invalid(
            hcw(&b, &a, &["address"]),
            "only one current home address is permitted",
        );
        let (b, a) = edit(|p| {
            p.details.addresses[0].period = period(date(2020, 1, 1), date(2024, 1, 1));
            p.details.addresses.push(address("NEW1", AddressUse::Home));
        });
        assert_eq!(hcw(&b, &a, &["address"]), Ok(()));
        let (b, a) = edit(|p| p.details.addresses.push(address("NEW1", AddressUse::Work)));
        is_invalid(
            hcw(&b, &a, &["address"]),
            "a work address cannot be added or replaced",
        );
    }

    #[test]
    fn periods_start_before_they_end_and_not_in_the_future() {
        let (b, a) =
            edit(|p| p.details.addresses[0].period = period(date(2025, 5, 1), date(2025, 4, 1)));
        is_invalid(
            hcw(&b, &a, &["address"]),
            "address/0 period start '2025-05-01' is after its end '2025-04-01'",
        );
        let (b, a) =
            edit(|p| p.details.names[0].period = period(date(2025, 7, 1), date(2025, 8, 1)));
        is_invalid(
            hcw(&b, &a, &["name"]),
            "name/0 period start '2025-07-01' cannot be in the future",
        );
        let (b, a) =
            edit(|p| p.details.telecoms[2].period = period(date(2025, 5, 1), date(2025, 4, 1)));
        is_invalid(
            hcw(&b, &a, &["telecom"]),
            "telecom/2 period start '2025-05-01' is after its end '2025-04-01'",
        );
        let (b, a) = edit(|p| {
            p.details.general_practitioner = Some(OrganisationRef {
                id: Some("NEW1".into()),
                ods_code: "Y12345".into(),
                period: period(date(2025, 5, 1), date(2025, 4, 1)),
            })
        });
        is_invalid(
            hcw(&b, &a, &["generalPractitioner"]),
            "generalPractitioner/0 period start '2025-05-01' is after its end '2025-04-01'",
        );
    }

    #[test]
    fn a_general_practitioner_has_no_end_date() {
        let (b, a) = edit(|p| {
            p.details.general_practitioner = Some(OrganisationRef {
                id: Some("NEW1".into()),
                ods_code: "Y12345".into(),
                period: period(date(2025, 5, 1), date(2025, 5, 30)),
            })
        });
        is_invalid(
            hcw(&b, &a, &["generalPractitioner"]),
            "a general practitioner cannot have a period end",
        );
    }

    #[test]
    fn language_en_is_not_allowed() {
        let communication = |language: &str| Communication {
            language: language.into(),
            language_display: None,
            interpreter_required: true,
        };
        let (b, a) = edit(|p| p.details.communication = Some(communication("en")));
        is_invalid(
            hcw(&b, &a, &[&format!("extension:{EXT_COMMUNICATION}")]),
            "language 'en' is not permitted",
        );
        let (b, a) = edit(|p| p.details.communication = Some(communication("fr")));
        assert_eq!(
            hcw(&b, &a, &[&format!("extension:{EXT_COMMUNICATION}")]),
            Ok(())
        );
    }

    #[test]
    fn other_extension_and_number_rules() {
        let (b, a) = edit(|p| {
            p.details.contact_preference = Some(ContactPreference {
                contact_times: Some("Not after 7pm".into()),
                ..ContactPreference::default()
            })
        });
        is_invalid(
            hcw(&b, &a, &[&format!("extension:{CONTACT_PREFERENCE}")]),
            "PreferredContactTimes requires a PreferredContactMethod",
        );
        let (b, a) = edit(|p| p.details.birth_place = Some(BirthPlace::default()));
        is_invalid(
            hcw(&b, &a, &[&format!("extension:{EXT_BIRTH_PLACE}")]),
            "place of birth must have a city, district or country",
        );
        let (b, a) = edit(|p| p.details.multiple_birth = Some(10));
        is_invalid(
            hcw(&b, &a, &["multipleBirthInteger"]),
            "multipleBirthInteger must be between 1 and 9",
        );
    }

    // Who may update what

    #[test]
    fn nobody_may_set_the_managing_organisation() {
        let (b, a) = edit(|p| {
            p.details.managing_organisation = Some(OrganisationRef {
                id: None,
                ods_code: "Y12345".into(),
                period: None,
            })
        });
        for editor in [Editor::HealthcareWorker, Editor::Patient] {
            is_forbidden(
                check(&b, &a, editor, &["managingOrganization".into()], today()),
                "source not permitted to update 'managingOrganization'",
            );
        }
        let p = patient();
        is_forbidden(
            hcw(&p, &p, &[&format!("extension:{EXT_REMOVAL}")]),
            "source not permitted to update 'removalFromRegistration'",
        );
    }

    #[test]
    fn a_patient_may_change_only_their_contact_details() {
        // Allowed: addresses, emergency contacts, pharmacies, communication,
        // place of birth, mobile and email telecoms.
        let (b, a) = edit(|p| p.details.addresses[0].postal_code = Some("LS1 4BU".into()));
        assert_eq!(by_patient(&b, &a, &["address"]), Ok(()));
        let (b, a) = edit(|p| p.details.telecoms[2].value = "07700900000".into());
        assert_eq!(by_patient(&b, &a, &["telecom"]), Ok(()));
        let (b, a) = edit(|p| {
            p.details.telecoms.remove(1);
        });
        assert_eq!(by_patient(&b, &a, &["telecom"]), Ok(()));
        let (b, a) = edit(|p| p.details.nominated_pharmacy = Some("FA123".into()));
        assert_eq!(
            by_patient(&b, &a, &[&format!("extension:{EXT_NOMINATED_PHARMACY}")]),
            Ok(())
        );
        for url in [
            EXT_PREFERRED_DISPENSER,
            EXT_APPLIANCE_SUPPLIER,
            EXT_COMMUNICATION,
            EXT_BIRTH_PLACE,
        ] {
            let p = patient();
            assert_eq!(by_patient(&p, &p, &[&format!("extension:{url}")]), Ok(()));
        }
        assert_eq!(by_patient(&patient(), &patient(), &["contact"]), Ok(()));

        // Anything else.
        let (b, a) = edit(|p| p.gender = Some(Gender::Male));
        is_invalid(by_patient(&b, &a, &["gender"]), NO_PERMISSION);
        let (b, a) = edit(|p| p.details.names[0].family = Some("Smyth".into()));
        is_invalid(by_patient(&b, &a, &["name"]), NO_PERMISSION);
        let (b, a) = edit(|p| p.details.telecoms[0].value = "01632960000".into());
        is_invalid(by_patient(&b, &a, &["telecom"]), NO_PERMISSION);
        let (b, a) = edit(|p| {
            p.details.telecoms.remove(0);
        });
        is_invalid(by_patient(&b, &a, &["telecom"]), NO_PERMISSION);
        let (b, a) = edit(|p| {
            p.details.telecoms.push(telecom(
                "NEW1",
                TelecomSystem::Phone,
                Some(TelecomUse::Work),
            ))
        });
        is_invalid(by_patient(&b, &a, &["telecom"]), NO_PERMISSION);
        let p = patient();
        is_invalid(
            by_patient(&p, &p, &[&format!("extension:{CONTACT_PREFERENCE}")]),
            NO_PERMISSION,
        );
        is_invalid(by_patient(&p, &p, &["extension"]), NO_PERMISSION);
        let (b, a) = edit(|p| {
            p.deceased = Some(at(2024, 1, 1));
            p.details.death_notification = notification(DeathStatus::Informal);
        });
        is_invalid(by_patient(&b, &a, &["address"]), NO_PERMISSION);
    }
}
