//! A patient's related people (next of kin, guardians, carers, proxies), as
//! PDS holds them: plain typed values. `fhir::related` renders them;
//! `store::related` persists them.

use serde::{Deserialize, Serialize};

use super::NhsNumber;
use super::patient::{Address, Communication, ContactPreference, Name, Period, Telecom};

/// One related person of one patient.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedPerson {
    /// Unique among the patient's related people (PDS object id, `507B7621`).
    pub id: String,
    pub details: RelatedDetails,
}

/// Everything about a related person but its id. Stored compactly as one
/// encoded value (`store::related`) that names no fields, so the rule of
/// `domain::patient::Details` holds: change the fields only with a new
/// format byte and a decoder that still reads the old layout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RelatedDetails {
    /// The related person's own NHS number, when they have one.
    pub patient: Option<NhsNumber>,
    pub active: bool,
    pub period: Option<Period>,
    /// PDS holds at most one name and one address, and like the telecoms
    /// they have no ids; both are required when there is no `patient`
    /// reference.
    pub name: Option<Name>,
    pub address: Option<Address>,
    /// At most five.
    pub telecoms: Vec<Telecom>,
    /// Role, type and optionally next of kin: one to three codes.
    pub relationship: Vec<Relationship>,
    /// Copy this person in on correspondence with the patient.
    pub copy_correspondence: bool,
    /// Order in which contacts should be tried, 1 (first) to 99.
    pub contact_rank: Option<u8>,
    pub contact_preference: Option<ContactPreference>,
    pub communication: Option<Communication>,
}

/// Which code system a relationship code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationshipSystem {
    /// HL7 `relatedperson-relationshiptype` (v3 RoleCode and v2 0131 codes).
    Hl7,
    /// `UKCore-AdditionalRelatedPersonRole`.
    UkCore,
}

macro_rules! relationships {
    ($($variant:ident = $code:literal, $display:literal, $system:ident;)+) => {
        /// A relationship code of a related person: its role (Agent,
        /// Guardian, Personal), its type (SPS, MTH, Carer, ...) or next of
        /// kin (N). The variant order is part of the stored encoding: append
        /// new variants at the end, never reorder.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Relationship { $($variant),+ }

        impl Relationship {
            pub const ALL: &'static [Relationship] = &[$(Self::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }

            pub fn display(self) -> &'static str {
                match self { $(Self::$variant => $display),+ }
            }

            pub fn system(self) -> RelationshipSystem {
                match self { $(Self::$variant => RelationshipSystem::$system),+ }
            }

            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

relationships! {
    Agent = "Agent", "Agent of patient", UkCore;
    Guardian = "Guardian", "Guardian of patient", UkCore;
    Personal = "Personal", "Personal relationship with the patient", UkCore;
    Spouse = "SPS", "spouse", Hl7;
    DomesticPartner = "DOMPART", "domestic partner", Hl7;
    Parent = "PRN", "parent", Hl7;
    FosterParent = "PRNFOST", "foster parent", Hl7;
    StepParent = "STPPRN", "step parent", Hl7;
    Child = "CHILD", "child", Hl7;
    Mother = "MTH", "mother", Hl7;
    Father = "FTH", "father", Hl7;
    Sister = "SIS", "sister", Hl7;
    Brother = "BRO", "brother", Hl7;
    FamilyMember = "FAMMEMB", "family member", Hl7;
    Oneself = "ONESELF", "self", Hl7;
    NextOfKin = "N", "Next-of-Kin", Hl7;
    Unknown = "U", "Unknown", Hl7;
    PolygamousPartner = "PolygamousPartner", "Polygamous Partner of patient", UkCore;
    Dependant = "Dependant", "Dependant of patient", UkCore;
    NonDependant = "NonDependant", "Non Dependant of patient", UkCore;
    ProxyContact = "ProxyContact", "Proxy Contact for patient", UkCore;
    ProxyCommunication = "ProxyCommunication", "Proxy Communication for patient", UkCore;
    ProxyContactCommunication = "ProxyContactCommunication", "Proxy Contact and Communication for patient", UkCore;
    Carer = "Carer", "Carer of patient", UkCore;
    NotSpecified = "NotSpecified", "Not Specified", UkCore;
}

impl RelatedPerson {
    /// A related person known only by reference to a restricted patient
    /// loses what could locate them (PDS): address and telecom.
    pub fn without_location(mut self) -> Self {
        self.details.address = None;
        self.details.telecoms.clear();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::{AddressUse, TelecomSystem};

    #[test]
    fn codes_round_trip_and_name_their_system() {
        for r in Relationship::ALL {
            assert_eq!(Relationship::from_code(r.code()), Some(*r));
        }
        assert_eq!(Relationship::Guardian.system(), RelationshipSystem::UkCore);
        assert_eq!(Relationship::Spouse.system(), RelationshipSystem::Hl7);
        assert_eq!(Relationship::from_code("XYZ"), None);
    }

    #[test]
    fn location_is_removed_but_identity_kept() {
        let person = RelatedPerson {
            id: "A1".into(),
            details: RelatedDetails {
                active: true,
                address: Some(Address {
                    address_use: AddressUse::Home,
                    period: None,
                    text: None,
                    lines: vec!["1 Road".into()],
                    postal_code: Some("LS1 1AA".into()),
                    keys: vec![],
                }),
                telecoms: vec![Telecom {
                    period: None,
                    system: TelecomSystem::Phone,
                    value: "01632960587".into(),
                    telecom_use: None,
                    textphone: false,
                }],
                relationship: vec![Relationship::Guardian],
                ..RelatedDetails::default()
            },
        };
        let hidden = person.clone().without_location();
        assert!(hidden.details.address.is_none() && hidden.details.telecoms.is_empty());
        assert_eq!(hidden.id, person.id);
        assert_eq!(hidden.details.relationship, person.details.relationship);
    }
}
