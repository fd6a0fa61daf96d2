//! The patient record as the service holds it: plain typed values, no FHIR
//! boilerplate. `fhir::patient` renders it; `store` persists it.

use super::NhsNumber;
use super::codes::*;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Which restricted records a caller sees unredacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Clearance {
    /// `R` and `V` records are redacted.
    #[default]
    None,
    /// `R` records in full, `V` still redacted (privileged applications).
    Restricted,
    /// Every record in full.
    All,
}

/// The current version of one patient, as retrieved.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub nhs_number: NhsNumber,
    pub version: u32,
    pub security: Security,
    pub gender: Option<Gender>,
    pub birth_date: Option<NaiveDate>,
    pub deceased: Option<DateTime<Utc>>,
    pub details: Details,
}

/// Everything else about a patient: the lists and the UK Core extensions.
/// Stored compactly as one encoded value (`store::codec`) that names no
/// fields: postcard reads exactly the fields it expects, in order, so any
/// change to the fields here or in the types they hold (even one appended
/// with `#[serde(default)]`) makes stored rows fail to decode or be misread.
/// Change them only with a new format byte in `store::codec` and a decoder
/// that still reads the old layout (its fixture test fails otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    pub verification: Option<Verification>,
    pub multiple_birth: Option<u8>,
    pub names: Vec<WithId<Name>>,
    pub addresses: Vec<WithId<Address>>,
    pub telecoms: Vec<WithId<Telecom>>,
    pub contacts: Vec<EmergencyContact>,
    pub general_practitioner: Option<OrganisationRef>,
    pub managing_organisation: Option<OrganisationRef>,
    pub nominated_pharmacy: Option<String>,
    pub preferred_dispenser: Option<String>,
    pub appliance_supplier: Option<String>,
    pub death_notification: Option<DeathNotification>,
    pub communication: Option<Communication>,
    pub contact_preference: Option<ContactPreference>,
    pub birth_place: Option<BirthPlace>,
    pub removal: Option<Removal>,
    /// Stored after the fields above, in their own frame (`store::codec`).
    #[serde(skip)]
    pub extra: Extra,
}

/// The parts of a record added in details format 2. They are encoded after
/// the format 1 fields, so a format 1 row decodes with these empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extra {
    /// Values an update replaced or removed. PDS keeps them and finds the
    /// patient by them (`_history=true` and fuzzy searches), though a
    /// retrieve no longer shows them. Only what changed is kept.
    pub former: Option<Box<Former>>,
    /// The NHS record-sharing (NCRS) consent, shown only to applications
    /// allowed it.
    pub sharing_consent: Option<SharingConsent>,
}

/// Names, addresses and telecoms a patient no longer has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Former {
    pub names: Vec<Name>,
    pub addresses: Vec<Address>,
    pub telecoms: Vec<Telecom>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

/// An item of one of a patient's lists (names, addresses, telecoms) with
/// its PDS object id, by which a PATCH names it. A related person holds the
/// same items without ids. It derefs to the item, so the item's elements
/// read as the list item's own.
///
/// Stored as the id followed by the item's fields (postcard does not mark
/// where a struct starts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WithId<T> {
    pub id: String,
    pub item: T,
}

impl<T> WithId<T> {
    pub fn new(id: impl Into<String>, item: T) -> Self {
        Self {
            id: id.into(),
            item,
        }
    }
}

impl<T> std::ops::Deref for WithId<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.item
    }
}

impl<T> std::ops::DerefMut for WithId<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.item
    }
}

/// A patient's or a related person's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Name {
    pub name_use: NameUse,
    pub period: Option<Period>,
    pub given: Vec<String>,
    pub family: Option<String>,
    pub prefix: Vec<String>,
    pub suffix: Vec<String>,
}

/// A patient's or a related person's address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub address_use: AddressUse,
    pub period: Option<Period>,
    /// Required for temporary addresses ("Student Accommodation", ...).
    pub text: Option<String>,
    pub lines: Vec<String>,
    pub postal_code: Option<String>,
    pub keys: Vec<AddressKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressKey {
    pub key_type: AddressKeyType,
    pub value: String,
}

/// A patient's or a related person's phone number, email address, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telecom {
    pub period: Option<Period>,
    pub system: TelecomSystem,
    pub value: String,
    pub telecom_use: Option<TelecomUse>,
    /// `system: other` carrying the textphone (Minicom) extension.
    pub textphone: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmergencyContact {
    pub id: String,
    pub period: Option<Period>,
    pub telecoms: Vec<ContactPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactPoint {
    pub system: TelecomSystem,
    pub value: String,
}

/// A reference to an organisation by ODS code (GP practice, managing body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganisationRef {
    pub id: Option<String>,
    pub ods_code: String,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeathNotification {
    pub status: DeathStatus,
    pub effective: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Communication {
    /// ISO 639-1 code (or q1–q5), never `en`.
    pub language: String,
    pub language_display: Option<String>,
    pub interpreter_required: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactPreference {
    pub written_format: Option<WrittenFormat>,
    pub contact_method: Option<ContactMethod>,
    pub contact_times: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BirthPlace {
    pub city: Option<String>,
    pub district: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Removal {
    pub reason: RemovalReason,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Whether `clearance` sees a record labelled `label` in full.
pub fn label_visible_in_full(label: Security, clearance: Clearance) -> bool {
    match label {
        Security::Unrestricted => true,
        Security::Restricted => clearance >= Clearance::Restricted,
        Security::VeryRestricted => clearance == Clearance::All,
    }
}

impl Patient {
    /// A record with only its number: what PDS holds for a minimal patient.
    pub fn minimal(nhs_number: NhsNumber, version: u32) -> Self {
        Self {
            nhs_number,
            version,
            security: Security::Unrestricted,
            gender: None,
            birth_date: None,
            deceased: None,
            details: Details {
                verification: Some(Verification::Verified),
                ..Details::default()
            },
        }
    }

    pub fn is_restricted(&self) -> bool {
        self.security != Security::Unrestricted
    }

    /// Whether `clearance` sees this record in full.
    pub fn visible_in_full_to(&self, clearance: Clearance) -> bool {
        label_visible_in_full(self.security, clearance)
    }

    /// The record as a caller with `clearance` may see it; the flag says
    /// whether anything was removed. This is the one redaction function for
    /// every response path, and matching scores what it leaves (see
    /// `search::score::Matcher`).
    pub fn visible_to(self, clearance: Clearance) -> (Self, bool) {
        let label = self.security;
        self.visible_under(label, clearance)
    }

    /// As [`Patient::visible_to`], but redacted as a record labelled `label`:
    /// an earlier version is shown under the strictest label its record has
    /// had since, not under the label it had then.
    pub fn visible_under(self, label: Security, clearance: Clearance) -> (Self, bool) {
        if label_visible_in_full(label, clearance) {
            (self, false)
        } else {
            (self.redacted(label), true)
        }
    }

    /// The part of a record a search returns (PDS): usual, nickname and
    /// temporary names, the home address, telecoms, contacts, GP and only
    /// the death-notification extension.
    pub fn search_view(mut self) -> Self {
        let d = std::mem::take(&mut self.details);
        self.details = Details {
            verification: d.verification,
            multiple_birth: d.multiple_birth,
            names: d
                .names
                .into_iter()
                .filter(|n| {
                    matches!(
                        n.name_use,
                        NameUse::Usual | NameUse::Nickname | NameUse::Temp
                    )
                })
                .collect(),
            addresses: d
                .addresses
                .into_iter()
                .filter(|a| a.address_use == AddressUse::Home)
                .collect(),
            telecoms: d.telecoms,
            contacts: d.contacts,
            general_practitioner: d.general_practitioner,
            death_notification: d.death_notification,
            ..Details::default()
        };
        self
    }

    /// What a caller without sensitive access sees of a record labelled
    /// `label` (`R` or `V`): identity, name, gender, birth and death;
    /// nothing that could locate the patient. `V` also loses name and birth
    /// date.
    fn redacted(mut self, label: Security) -> Self {
        let keep = Details {
            verification: self.details.verification,
            multiple_birth: self.details.multiple_birth,
            names: std::mem::take(&mut self.details.names),
            death_notification: self.details.death_notification.take(),
            ..Details::default()
        };
        self.details = keep;
        if label == Security::VeryRestricted {
            self.details.names.clear();
            self.birth_date = None;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(security: Security) -> Patient {
        let mut p = Patient::minimal(NhsNumber::parse("9000000009").unwrap(), 1);
        p.security = security;
        p.birth_date = NaiveDate::from_ymd_opt(2000, 1, 1);
        p.details.names.push(WithId::new(
            "1",
            Name {
                name_use: NameUse::Usual,
                period: None,
                given: vec!["Ann".into()],
                family: Some("Lee".into()),
                prefix: vec![],
                suffix: vec![],
            },
        ));
        p.details.addresses.push(WithId::new(
            "2",
            Address {
                address_use: AddressUse::Home,
                period: None,
                text: None,
                lines: vec!["1 Road".into()],
                postal_code: Some("LS1 1AA".into()),
                keys: vec![],
            },
        ));
        p.details.nominated_pharmacy = Some("FA123".into());
        p
    }

    #[test]
    fn unrestricted_records_are_never_redacted() {
        let (p, redacted) = record(Security::Unrestricted).visible_to(Clearance::None);
        assert!(!redacted);
        assert_eq!(p.details.addresses.len(), 1);
    }

    #[test]
    fn restricted_records_lose_location_but_keep_identity() {
        let (p, redacted) = record(Security::Restricted).visible_to(Clearance::None);
        assert!(redacted);
        assert!(p.details.addresses.is_empty());
        assert!(p.details.nominated_pharmacy.is_none());
        assert_eq!(p.details.names.len(), 1);
        assert!(p.birth_date.is_some());
        let (p, redacted) = record(Security::Restricted).visible_to(Clearance::Restricted);
        assert!(!redacted);
        assert_eq!(p.details.addresses.len(), 1);
    }

    #[test]
    fn very_restricted_records_also_lose_name_and_birth_date() {
        for clearance in [Clearance::None, Clearance::Restricted] {
            let (p, redacted) = record(Security::VeryRestricted).visible_to(clearance);
            assert!(redacted);
            assert!(p.details.names.is_empty() && p.birth_date.is_none());
        }
        let (p, redacted) = record(Security::VeryRestricted).visible_to(Clearance::All);
        assert!(!redacted && p.birth_date.is_some());
    }

    #[test]
    fn former_values_go_with_redaction_and_never_into_a_search_result() {
        let with_former = |security: Security| {
            let mut p = record(security);
            p.details.extra.former = Some(Box::new(Former {
                names: vec![p.details.names[0].item.clone()],
                ..Former::default()
            }));
            p
        };
        // Matching sees what redaction leaves: a restricted record's former
        // values are not seen without clearance, though its names are.
        for security in [Security::Restricted, Security::VeryRestricted] {
            let (p, _) = with_former(security).visible_to(Clearance::None);
            assert_eq!(p.details.extra, Extra::default(), "{security:?}");
        }
        let (p, _) = with_former(Security::Restricted).visible_to(Clearance::Restricted);
        assert!(p.details.extra.former.is_some());
        let (p, _) = with_former(Security::Unrestricted).visible_to(Clearance::None);
        assert!(p.details.extra.former.is_some());
        // A search result never carries them.
        let shown = with_former(Security::Unrestricted).search_view();
        assert_eq!(shown.details.extra, Extra::default());
    }

    #[test]
    fn an_earlier_version_is_redacted_under_the_label_given() {
        // Version 1 was unrestricted; the record is very restricted now.
        let (p, redacted) = record(Security::Unrestricted)
            .visible_under(Security::VeryRestricted, Clearance::Restricted);
        assert!(redacted);
        assert!(p.details.addresses.is_empty() && p.details.names.is_empty());
        assert!(p.birth_date.is_none() && p.details.nominated_pharmacy.is_none());
        assert_eq!(p.security, Security::Unrestricted, "its own label is kept");
        let (p, redacted) = record(Security::Unrestricted)
            .visible_under(Security::Restricted, Clearance::Restricted);
        assert!(!redacted && p.details.addresses.len() == 1);
        assert_eq!(
            Security::Restricted.strictest(Security::VeryRestricted),
            Security::VeryRestricted
        );
        assert_eq!(
            Security::Restricted.strictest(Security::Unrestricted),
            Security::Restricted
        );
    }
}
