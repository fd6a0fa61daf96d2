//! The patient record as the service holds it: plain typed values, no FHIR
//! boilerplate. `fhir::patient` renders it; `store` persists it.

use super::NhsNumber;
use super::codes::*;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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
/// Stored compactly as one encoded value (`store::codec`), so field order
/// matters: append new fields at the end with `#[serde(default)]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    pub verification: Option<Verification>,
    pub multiple_birth: Option<u8>,
    pub names: Vec<Name>,
    pub addresses: Vec<Address>,
    pub telecoms: Vec<Telecom>,
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
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Name {
    pub id: String,
    pub name_use: NameUse,
    pub period: Option<Period>,
    pub given: Vec<String>,
    pub family: Option<String>,
    pub prefix: Vec<String>,
    pub suffix: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub id: String,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telecom {
    pub id: String,
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

    /// The record as a caller without sensitive access may see it: a
    /// restricted (`R`/`V`) patient loses everything that could locate them.
    pub fn redacted(mut self) -> Self {
        if !self.is_restricted() {
            return self;
        }
        let keep = Details {
            verification: self.details.verification,
            multiple_birth: self.details.multiple_birth,
            names: std::mem::take(&mut self.details.names),
            death_notification: self.details.death_notification.take(),
            ..Details::default()
        };
        self.details = keep;
        if self.security == Security::VeryRestricted {
            self.details.names.clear();
            self.birth_date = None;
        }
        self
    }
}
