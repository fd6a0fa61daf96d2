//! FHIR `Patient` JSON → `domain::Patient`: the inverse of `fhir::patient::render`.
//!
//! PATCH renders the current record, applies the JSON-Patch operations to the
//! JSON and reads the result back with [`patient`]. The parser checks shape,
//! types, code lists and cardinality (what the OAS schemas say); the business
//! rules that compare old and new values (who may change what, one usual
//! name, period start not in the future, ...) belong to the PATCH layer.
//!
//! Every object is closed: a key the renderer does not write is
//! `AdditionalProperty`. Errors carry the JSON path of the offending element
//! without a leading slash (`name/0/given/2`, `extension/3/url`).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Map, Value};

use super::urls::*;
use crate::domain::codes::*;
use crate::domain::patient::*;
use crate::domain::{NhsNumber, Patient};

// The Patient's lists and extensions, and the typed JSON access they share.
mod extensions;
mod items;
mod json;
#[cfg(test)]
mod tests;

use extensions::*;
use items::*;
use json::*;
// The create-request parser quotes values as the Patient parser does.
pub(super) use json::shown;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A value of the wrong type/format or outside its code list: 400 INVALID_VALUE,
    /// diagnostics `Invalid value - '<value>' in field '<field>'` (field as a path like
    /// `name/0/use`, `gender`, `deceasedDateTime`).
    InvalidValue { field: String, value: String },
    /// A key the Patient (or the sub-object) does not allow: 400 ADDITIONAL_PROPERTIES
    /// (`field` is the path of the key, e.g. `pets` or `name/0/nickname`).
    AdditionalProperty { field: String },
    /// A required element missing (e.g. `name/0/id`, `address/1/use`): 400 MISSING_VALUE
    /// `Missing value - '<field>'`.
    MissingValue { field: String },
    /// More items than allowed (e.g. >5 given names, >5 address lines, >1 identifier,
    /// >1 generalPractitioner): 400 TOO_MANY_VALUES_SUBMITTED.
    TooManyValues { field: String },
}

impl ParseError {
    /// The path of the element the error is about.
    pub fn field(&self) -> &str {
        match self {
            Self::InvalidValue { field, .. }
            | Self::AdditionalProperty { field }
            | Self::MissingValue { field }
            | Self::TooManyValues { field } => field,
        }
    }

    /// The same error, about the element at `f(field)` instead.
    pub fn map_field(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Self::InvalidValue { field, value } => Self::InvalidValue {
                field: f(field),
                value,
            },
            Self::AdditionalProperty { field } => Self::AdditionalProperty { field: f(field) },
            Self::MissingValue { field } => Self::MissingValue { field: f(field) },
            Self::TooManyValues { field } => Self::TooManyValues { field: f(field) },
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidValue { field, value } => {
                write!(f, "Invalid value - '{value}' in field '{field}'")
            }
            Self::AdditionalProperty { field } => write!(f, "Additional property - '{field}'"),
            Self::MissingValue { field } => write!(f, "Missing value - '{field}'"),
            Self::TooManyValues { field } => write!(f, "Too many values submitted - '{field}'"),
        }
    }
}

impl std::error::Error for ParseError {}

type Result<T> = std::result::Result<T, ParseError>;

/// The keys a Patient may have, in the order PDS writes them.
const PATIENT_KEYS: &[&str] = &[
    "resourceType",
    "id",
    "identifier",
    "meta",
    "name",
    "gender",
    "birthDate",
    "multipleBirthInteger",
    "deceasedDateTime",
    "address",
    "telecom",
    "contact",
    "generalPractitioner",
    "managingOrganization",
    "extension",
];

const MAX_GIVEN: usize = 5;
const MAX_NAME_CHARS: usize = 35;
const MAX_LINES: usize = 5;
const MAX_CONTACT_TIMES_CHARS: usize = 40;

/// Parses a FHIR Patient as the renderer produces it (and as PDS clients write it).
/// `resourceType`, `id`, `identifier` and `meta` are read-only: they must still be present
/// and unchanged (id equal to `nhs_number`, identifier value equal, versionId equal to
/// `version`, security code equal to `security`) — a change to any of them is
/// `InvalidValue` on that field.
///
/// The NHS-number verification status is read from the identifier's extension; the
/// caller compares it with the stored one if it must not change.
pub fn patient(
    value: &Value,
    nhs_number: NhsNumber,
    version: u32,
    security: Security,
) -> Result<Patient> {
    let Value::Object(map) = value else {
        return Err(invalid("Patient", value));
    };
    let top = Obj::new(map, String::new(), PATIENT_KEYS)?;
    let nhs = nhs_number.to_string();

    let resource_type = top.required("resourceType")?;
    if resource_type.as_str() != Some("Patient") {
        return Err(invalid("resourceType", resource_type));
    }
    let id = top.required("id")?;
    if id.as_str() != Some(nhs.as_str()) {
        return Err(invalid("id", id));
    }
    let verification = identifier(&top, &nhs)?;
    meta(&top, version, security)?;

    let names = top.list("name", name)?;
    let gender = top.code("gender", Gender::from_code)?;
    let birth_date = top.date("birthDate")?;
    let multiple_birth = match top.get("multipleBirthInteger") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=9).contains(n))
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| invalid("multipleBirthInteger", v))?,
        ),
    };
    let deceased = top.instant("deceasedDateTime")?;
    let addresses = top.list("address", address)?;
    let telecoms = top.list("telecom", telecom)?;
    let contacts = top.list("contact", contact)?;
    let general_practitioner = general_practitioner(&top)?;
    let managing_organisation = match top.object("managingOrganization", &["type", "identifier"])? {
        None => None,
        Some(org) => Some(organisation(&org, None)?),
    };

    let mut details = Details {
        verification,
        multiple_birth,
        names,
        addresses,
        telecoms,
        contacts,
        general_practitioner,
        managing_organisation,
        ..Details::default()
    };
    extensions(&top, &mut details)?;

    Ok(Patient {
        nhs_number,
        version,
        security,
        gender,
        birth_date,
        deceased,
        details,
    })
}

// ---------------------------------------------------------------------------
// Read-only elements

fn identifier(top: &Obj<'_>, nhs: &str) -> Result<Option<Verification>> {
    let items = top.required_array("identifier")?;
    match items.len() {
        0 => return Err(missing(top.at("identifier/0"))),
        1 => {}
        _ => return Err(too_many(top.at("identifier"))),
    }
    let item = Obj::item(
        &items[0],
        top.at("identifier/0"),
        &["system", "value", "extension"],
    )?;
    item.fixed("system", NHS_NUMBER)?;
    let value = item.required("value")?;
    if value.as_str() != Some(nhs) {
        return Err(invalid(&item.at("value"), value));
    }
    let Some(extensions) = item.array("extension")? else {
        return Ok(None);
    };
    if extensions.len() > 1 {
        return Err(too_many(item.at("extension")));
    }
    let Some(first) = extensions.first() else {
        return Ok(None);
    };
    let ext = Obj::item(
        first,
        item.at("extension/0"),
        &["url", "valueCodeableConcept"],
    )?;
    ext.url(EXT_VERIFICATION)?;
    let concept = ext.required_object("valueCodeableConcept", CODEABLE_KEYS)?;
    Ok(Some(codeable(
        &concept,
        CS_VERIFICATION,
        Verification::from_code,
    )?))
}

fn meta(top: &Obj<'_>, version: u32, security: Security) -> Result<()> {
    let meta = top.required_object("meta", &["versionId", "security"])?;
    let version_id = meta.required("versionId")?;
    if version_id.as_str() != Some(version.to_string().as_str()) {
        return Err(invalid(&meta.at("versionId"), version_id));
    }
    let labels = meta.required_array("security")?;
    match labels.len() {
        0 => return Err(missing(meta.at("security/0"))),
        1 => {}
        _ => return Err(too_many(meta.at("security"))),
    }
    let label = Obj::item(&labels[0], meta.at("security/0"), CODING_KEYS)?;
    let code = coding(&label, CONFIDENTIALITY, Security::from_code)?;
    if code != security {
        return Err(invalid(&label.at("code"), &Value::from(code.code())));
    }
    Ok(())
}
