//! Identifier systems, code systems and extension URLs used by PDS.

pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
pub const ODS_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
pub const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
pub const SPINE_ERROR: &str = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode";

pub const EXT_VERIFICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";
pub const CS_VERIFICATION: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus";
pub const EXT_ADDRESS_KEY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey";
pub const CS_ADDRESS_KEY: &str = "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType";
pub const EXT_OTHER_CONTACT: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-OtherContactSystem";
pub const CS_OTHER_CONTACT: &str = "https://fhir.hl7.org.uk/CodeSystem/UKCore-OtherContactSystem";
pub const CS_CONTACT_RELATIONSHIP: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";

pub const EXT_NOMINATED_PHARMACY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy";
pub const EXT_PREFERRED_DISPENSER: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization";
pub const EXT_APPLIANCE_SUPPLIER: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier";
pub const EXT_DEATH_NOTIFICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus";
pub const CS_DEATH_NOTIFICATION: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus";
pub const EXT_COMMUNICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication";
pub const CS_LANGUAGE: &str = "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage";
pub const EXT_CONTACT_PREFERENCE: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference";
pub const CS_WRITTEN_FORMAT: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat";
pub const CS_CONTACT_METHOD: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod";
pub const EXT_BIRTH_PLACE: &str = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace";
pub const EXT_REMOVAL: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration";
pub const CS_REMOVAL: &str = "https://fhir.nhs.uk/CodeSystem/PDS-RemovalReasonExitCode";
/// The NHS record-sharing consent extension, at the URL PDS uses for it.
pub const EXT_SHARING_CONSENT: &str = "https://hl7.org/fhir/R4/consent.html";
/// On the `_line` entry of an empty address line.
pub const EXT_DATA_ABSENT_REASON: &str =
    "http://hl7.org/fhir/StructureDefinition/data-absent-reason";
