//! A PatientCreateRequest (the body of `POST /Patient`, PDS §5.9) read
//! into a new [`Patient`], checked in the PDS order: missing required
//! values first (`name`, `address`, `gender`, `birthDate`, then inside the
//! items), then unknown elements, wrong values and counts, then the
//! business rules ([`CreateError::Invalid`], INVALID_CREATE).
//!
//! The elements a create shares with a Patient are read by the Patient
//! parser (`parse::patient`), given a skeleton of the read-only ones; its
//! errors keep the paths the client sent.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::parse::{self, ParseError};
use super::urls::*;
use crate::domain::codes::{Gender, NameUse, Security, TelecomSystem, Verification};
use crate::domain::patch::{self, Editor, PatchError};
use crate::domain::patient::{Details, Period};
use crate::domain::{NhsNumber, Patient, python};

/// Why a PatientCreateRequest was refused. Each variant is one PDS code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// MISSING_VALUE: the path of the first required element missing.
    #[error("Missing value - '{0}'")]
    MissingValue(String),
    /// INVALID_VALUE, the value as sent.
    #[error("Invalid value - '{value}' in field '{field}'")]
    InvalidValue { field: String, value: String },
    /// ADDITIONAL_PROPERTIES: the paths of the unknown elements.
    #[error("Additional properties - {0:?}")]
    AdditionalProperties(Vec<String>),
    /// TOO_MANY_VALUES_SUBMITTED, the values as PDS shows them
    /// (`['One', 'Two', …]`).
    #[error("Too many values submitted - {values} in field '{field}'")]
    TooManyValues { field: String, values: String },
    /// TOO_FEW_VALUES_SUBMITTED, the values as PDS shows them (`[]`).
    #[error("Too few values submitted - {values} in field '{field}'")]
    TooFewValues { field: String, values: String },
    /// INVALID_CREATE: a business rule, or a body that is no Patient.
    #[error("Invalid patient create data provided - '{0}'")]
    Invalid(String),
}

const EXT_REGISTERING_AUTHORITY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-RegisteringAuthority";
const CS_REGISTERING_AUTHORITY: &str =
    "https://fhir.nhs.uk/CodeSystem/UKCore-RegisteringAuthorityType";

/// Extensions PDS accepts on create but does not keep (§5.9).
const NOT_PERSISTED: &[&str] = &[
    EXT_BIRTH_PLACE,
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-BirthSex",
    "http://hl7.org/fhir/StructureDefinition/patient-cadavericDonor",
    EXT_DEATH_NOTIFICATION,
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ResidentialStatus",
    "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired",
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberUnavailableReason",
];

/// The elements a PatientCreateRequest may have.
const CREATE_KEYS: &[&str] = &[
    "resourceType",
    "name",
    "gender",
    "birthDate",
    "address",
    "telecom",
    "extension",
];

/// Stands in for the number until one is allocated.
pub(super) fn placeholder() -> NhsNumber {
    NhsNumber::from_stem(900_000_000).expect("9000000009 is a valid number")
}

fn invalid(field: impl Into<String>, value: &Value) -> CreateError {
    CreateError::InvalidValue {
        field: field.into(),
        value: parse::shown(value),
    }
}

/// A parser error, with too many items shown as PDS shows them.
fn from_parse(error: ParseError, body: &Value) -> CreateError {
    match error {
        ParseError::TooManyValues { field } => CreateError::TooManyValues {
            values: body
                .pointer(&format!("/{field}"))
                .map(python::repr)
                .unwrap_or_default(),
            field,
        },
        ParseError::InvalidValue { field, value } => CreateError::InvalidValue { field, value },
        ParseError::AdditionalProperty { field } => CreateError::AdditionalProperties(vec![field]),
        ParseError::MissingValue { field } => CreateError::MissingValue(field),
    }
}

/// The first required value the request lacks, in the order PDS reports
/// them: `name`, `address`, `gender`, `birthDate`, then inside addresses,
/// `extension`, names and telecoms.
fn first_missing(top: &Map<String, Value>) -> Option<String> {
    for key in ["name", "address", "gender", "birthDate"] {
        if !top.contains_key(key) {
            return Some(key.into());
        }
    }
    let items = |key: &str| -> Vec<(String, &Map<String, Value>)> {
        match top.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| item.as_object().map(|o| (format!("{key}/{i}"), o)))
                .collect(),
            _ => Vec::new(),
        }
    };
    let period_start = |path: &str, item: &Map<String, Value>| match item.get("period") {
        Some(Value::Object(p)) if !p.contains_key("start") => Some(format!("{path}/period/start")),
        _ => None,
    };
    for (path, address) in items("address") {
        if !address.contains_key("period") {
            return Some(format!("{path}/period"));
        }
        if let Some(missing) = period_start(&path, address) {
            return Some(missing);
        }
        if let Some(Value::Array(keys)) = address.get("extension") {
            for (j, key) in keys.iter().enumerate() {
                if key
                    .as_object()
                    .is_some_and(|k| !k.contains_key("extension"))
                {
                    return Some(format!("{path}/extension/{j}/extension"));
                }
            }
        }
        if !address.contains_key("use") {
            return Some(format!("{path}/use"));
        }
    }
    if !top.contains_key("extension") {
        return Some("extension".into());
    }
    for (path, name) in items("name") {
        for key in ["use", "family"] {
            if !name.contains_key(key) {
                return Some(format!("{path}/{key}"));
            }
        }
        if let Some(missing) = period_start(&path, name) {
            return Some(missing);
        }
    }
    for (path, telecom) in items("telecom") {
        for key in ["system", "value"] {
            if !telecom.contains_key(key) {
                return Some(format!("{path}/{key}"));
            }
        }
        if let Some(missing) = period_start(&path, telecom) {
            return Some(missing);
        }
    }
    None
}

/// The list at `key`, which must be an array when present.
fn list<'a>(top: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], CreateError> {
    match top.get(key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(invalid(key, other)),
    }
}

/// The items of a list with fresh server ids (8 hex digits, as PDS).
fn with_ids(items: &[Value], new_id: &mut impl FnMut() -> String) -> Value {
    Value::Array(
        items
            .iter()
            .map(|item| match item {
                Value::Object(map) => {
                    let mut map = map.clone();
                    map.insert("id".into(), Value::from(new_id()));
                    Value::Object(map)
                }
                other => other.clone(),
            })
            .collect(),
    )
}

/// The parts a FHIR Patient needs beyond what the request carries.
pub(super) fn skeleton() -> Map<String, Value> {
    let number = placeholder().to_string();
    let Value::Object(map) = json!({
        "resourceType": "Patient",
        "id": number,
        "identifier": [{"system": NHS_NUMBER, "value": number}],
        "meta": {"versionId": "1", "security": [{"system": CONFIDENTIALITY, "code": "U"}]},
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

/// Validates a PatientCreateRequest (the body of `POST /Patient`) and
/// reads it into a Patient: version 1, security `U`, verified, a
/// placeholder number until one is allocated. `today` starts the periods
/// left out, and bounds the dates.
pub fn request(body: &[u8], today: NaiveDate) -> Result<Patient, CreateError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| CreateError::Invalid(format!("the body is not valid JSON: {e}")))?;
    parse_request(&json, today)
}

/// As [`request`], from JSON already read (a birth registration's baby).
pub(super) fn parse_request(body: &Value, today: NaiveDate) -> Result<Patient, CreateError> {
    let Value::Object(top) = body else {
        return Err(CreateError::Invalid(
            "the body must be a FHIR Patient (a JSON object)".into(),
        ));
    };
    if let Some(field) = first_missing(top) {
        return Err(CreateError::MissingValue(field));
    }
    let unknown: Vec<String> = top
        .keys()
        .filter(|k| !CREATE_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(CreateError::AdditionalProperties(unknown));
    }
    if let Some(rt) = top.get("resourceType")
        && rt.as_str() != Some("Patient")
    {
        return Err(invalid("resourceType", rt));
    }
    let names = list(top, "name")?;
    match names.len() {
        0 => {
            return Err(CreateError::TooFewValues {
                field: "name".into(),
                values: "[]".into(),
            });
        }
        1 => {}
        _ => {
            return Err(CreateError::TooManyValues {
                field: "name".into(),
                values: python::repr(&top["name"]),
            });
        }
    }
    // One name, the usual one.
    if let Some(u) = names[0].get("use")
        && NameUse::from_code(u.as_str().unwrap_or_default()).is_some()
        && u.as_str() != Some("usual")
    {
        return Err(invalid("name/0/use", u));
    }
    let addresses = list(top, "address")?;
    if addresses.is_empty() {
        return Err(CreateError::TooFewValues {
            field: "address".into(),
            values: "[]".into(),
        });
    }
    let telecoms = list(top, "telecom")?;
    let extensions = list(top, "extension")?;

    let mut new_id = patch::item_ids(HashSet::new());
    let mut doc = skeleton();
    doc.insert("name".into(), with_ids(names, &mut new_id));
    for key in ["gender", "birthDate"] {
        doc.insert(key.into(), top[key].clone());
    }
    doc.insert("address".into(), with_ids(addresses, &mut new_id));
    if top.contains_key("telecom") {
        doc.insert("telecom".into(), with_ids(telecoms, &mut new_id));
    }
    let mut patient = parse::patient(
        &Value::Object(doc),
        placeholder(),
        1,
        Security::Unrestricted,
    )
    .map_err(|e| from_parse(e, body))?;
    if patient.gender == Some(Gender::Other) {
        return Err(invalid("gender", &top["gender"]));
    }
    read_extensions(extensions, &mut patient.details, body)?;

    let d = &mut patient.details;
    d.verification = Some(Verification::Verified);
    // A period left out starts today (PDS).
    let from_today = Some(Period {
        start: Some(today),
        end: None,
    });
    for name in &mut d.names {
        name.period = name.period.or(from_today);
        name.prefix.retain(|p| !p.trim().is_empty());
        name.suffix.retain(|s| !s.trim().is_empty());
    }
    for telecom in &mut d.telecoms {
        telecom.period = telecom.period.or(from_today);
    }
    rules(&patient, addresses, today)?;
    Ok(patient)
}

/// The extensions: Registering Authority (required, checked, not kept),
/// Communication and Contact Preference (kept), and those PDS accepts
/// without keeping.
fn read_extensions(
    items: &[Value],
    details: &mut Details,
    body: &Value,
) -> Result<(), CreateError> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("extension/{i}");
        let Value::Object(map) = item else {
            return Err(invalid(path, item));
        };
        let url = match map.get("url") {
            None => return Err(CreateError::MissingValue(format!("{path}/url"))),
            Some(Value::String(url)) => url.as_str(),
            Some(other) => return Err(invalid(format!("{path}/url"), other)),
        };
        let known = url == EXT_REGISTERING_AUTHORITY
            || url == EXT_COMMUNICATION
            || url == EXT_CONTACT_PREFERENCE
            || NOT_PERSISTED.contains(&url);
        if !known {
            return Err(invalid(format!("{path}/url"), &Value::from(url)));
        }
        if seen.contains(&url) {
            return Err(CreateError::TooManyValues {
                field: "extension".into(),
                values: python::repr(&body["extension"]),
            });
        }
        seen.push(url);
        if url == EXT_REGISTERING_AUTHORITY {
            registering_authority(map, &path)?;
            continue;
        }
        if !matches!(
            url,
            EXT_COMMUNICATION | EXT_CONTACT_PREFERENCE | EXT_BIRTH_PLACE | EXT_DEATH_NOTIFICATION
        ) {
            continue;
        }
        // The FHIR parser knows these: give it this one extension alone and
        // put its index back into the paths of its errors.
        let mut doc = skeleton();
        doc.insert("extension".into(), Value::Array(vec![item.clone()]));
        let parsed = parse::patient(
            &Value::Object(doc),
            placeholder(),
            1,
            Security::Unrestricted,
        )
        .map_err(|e| from_parse(reindexed(e, i), body))?;
        match url {
            EXT_COMMUNICATION => details.communication = parsed.details.communication,
            EXT_CONTACT_PREFERENCE => {
                details.contact_preference = parsed.details.contact_preference;
            }
            // Birth place and death notification status: checked, not kept.
            _ => {}
        }
    }
    if !seen.contains(&EXT_REGISTERING_AUTHORITY) {
        return Err(CreateError::Invalid(
            "a Registering Authority extension is required".into(),
        ));
    }
    Ok(())
}

/// `extension/0/…` → `extension/<i>/…`.
fn reindexed(error: ParseError, i: usize) -> ParseError {
    error.map_field(|field| match field.strip_prefix("extension/0") {
        Some(rest) => format!("extension/{i}{rest}"),
        None => field,
    })
}

/// `{url, extension: [registeringAuthorityType, organisationIdentifier]}`:
/// the type a code `a`–`x` or `1`, the organisation 2 to 15 characters.
fn registering_authority(map: &Map<String, Value>, path: &str) -> Result<(), CreateError> {
    let only = |map: &Map<String, Value>, at: &str, allowed: &[&str]| {
        let extra: Vec<String> = map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| format!("{at}/{k}"))
            .collect();
        if extra.is_empty() {
            Ok(())
        } else {
            Err(CreateError::AdditionalProperties(extra))
        }
    };
    only(map, path, &["url", "extension"])?;
    let parts = match map.get("extension") {
        None => return Err(CreateError::MissingValue(format!("{path}/extension"))),
        Some(Value::Array(parts)) => parts,
        Some(other) => return Err(invalid(format!("{path}/extension"), other)),
    };
    let (mut kind, mut organisation) = (false, false);
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{path}/extension/{j}");
        let Value::Object(part) = part else {
            return Err(invalid(at, part));
        };
        match part.get("url").and_then(Value::as_str) {
            Some("registeringAuthorityType") if !kind => {
                only(part, &at, &["url", "valueCodeableConcept"])?;
                let codings = part
                    .get("valueCodeableConcept")
                    .ok_or_else(|| CreateError::MissingValue(format!("{at}/valueCodeableConcept")))?
                    .get("coding")
                    .and_then(Value::as_array)
                    .filter(|c| c.len() == 1)
                    .ok_or_else(|| {
                        invalid(
                            format!("{at}/valueCodeableConcept"),
                            &part["valueCodeableConcept"],
                        )
                    })?;
                let coding = &codings[0];
                let at = format!("{at}/valueCodeableConcept/coding/0");
                if let Some(system) = coding.get("system")
                    && system.as_str() != Some(CS_REGISTERING_AUTHORITY)
                {
                    return Err(invalid(format!("{at}/system"), system));
                }
                let code = coding
                    .get("code")
                    .ok_or_else(|| CreateError::MissingValue(format!("{at}/code")))?;
                let valid = code.as_str().is_some_and(|c| {
                    c == "1"
                        || (c.len() == 1 && ('a'..='x').contains(&c.chars().next().unwrap_or('z')))
                });
                if !valid {
                    return Err(invalid(format!("{at}/code"), code));
                }
                kind = true;
            }
            Some("organisationIdentifier") if !organisation => {
                only(part, &at, &["url", "valueString"])?;
                let value = part
                    .get("valueString")
                    .ok_or_else(|| CreateError::MissingValue(format!("{at}/valueString")))?;
                if !value
                    .as_str()
                    .is_some_and(|s| (2..=15).contains(&s.trim().chars().count()))
                {
                    return Err(invalid(format!("{at}/valueString"), value));
                }
                organisation = true;
            }
            _ => {
                return Err(match part.get("url") {
                    None => CreateError::MissingValue(format!("{at}/url")),
                    Some(url) => invalid(format!("{at}/url"), url),
                });
            }
        }
    }
    if !kind {
        return Err(CreateError::MissingValue(format!(
            "{path}/extension/registeringAuthorityType"
        )));
    }
    if !organisation {
        return Err(CreateError::MissingValue(format!(
            "{path}/extension/organisationIdentifier"
        )));
    }
    Ok(())
}

/// A plausible email address: one `@`, a dotted domain, no spaces, more
/// than 6 and fewer than 90 characters (the PDS bounds).
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    (7..90).contains(&text.chars().count())
        && !local.is_empty()
        && !domain.contains('@')
        && !text.chars().any(char::is_whitespace)
        && domain.contains('.')
        && domain.split('.').all(|part| !part.is_empty())
}

/// The business rules (400 INVALID_CREATE): the create-only ones, then
/// every PATCH rule with the new record compared to an empty one.
fn rules(patient: &Patient, addresses: &[Value], today: NaiveDate) -> Result<(), CreateError> {
    let d = &patient.details;
    if d.names
        .iter()
        .any(|n| n.name_use == NameUse::Usual && n.period.and_then(|p| p.end).is_some())
    {
        return Err(CreateError::Invalid(
            "An end date can not be provided on usual name".into(),
        ));
    }
    // Lines as sent, blanks included: line 4 (the post town) and line 1 or 2.
    for address in addresses {
        let lines = address.get("line").and_then(Value::as_array);
        let filled = |i: usize| {
            lines
                .and_then(|l| l.get(i))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty())
        };
        if !((filled(0) || filled(1)) && filled(3)) {
            return Err(CreateError::Invalid(
                "address lines 1 and 4 or 2 and 4 must be completed as a minimum".into(),
            ));
        }
    }
    if d.telecoms
        .iter()
        .any(|t| t.system == TelecomSystem::Email && !is_email(t.value.trim()))
    {
        return Err(CreateError::Invalid("email format is invalid".into()));
    }
    let empty = Patient {
        nhs_number: patient.nhs_number,
        version: 0,
        security: Security::Unrestricted,
        gender: None,
        birth_date: None,
        deceased: None,
        details: Details::default(),
    };
    patch::check(&empty, patient, Editor::HealthcareWorker, &[], today).map_err(|e| match e {
        PatchError::InvalidValue { field, value } => CreateError::InvalidValue { field, value },
        PatchError::NoPatches => CreateError::Invalid("nothing to create".into()),
        PatchError::Invalid(reason) | PatchError::Forbidden(reason) => CreateError::Invalid(reason),
        PatchError::TooManyValues { field, values } => CreateError::TooManyValues { field, values },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patient::Clearance;
    use crate::domain::search::duplicates::{MATCH_THRESHOLD, Matchers};
    use crate::seed::sandbox;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    /// A valid request: Jane Smith's demographics unless changed.
    fn request(edit: impl FnOnce(&mut Value)) -> Value {
        let mut v = json!({
            "resourceType": "Patient",
            "name": [{"use": "usual", "given": ["Jane"], "family": "Smith", "prefix": ["Mrs"],
                      "period": {"start": "2010-10-22"}}],
            "gender": "female",
            "birthDate": "2010-10-22",
            "address": [{"use": "home", "period": {"start": "2020-01-01"},
                         "line": ["1 Trevelyan Square", "Boar Lane", "City Centre", "Leeds", "West Yorkshire"],
                         "postalCode": "LS1 6AE"}],
            "extension": [{
                "url": EXT_REGISTERING_AUTHORITY,
                "extension": [
                    {"url": "registeringAuthorityType", "valueCodeableConcept": {"coding": [
                        {"system": CS_REGISTERING_AUTHORITY, "code": "x"}]}},
                    {"url": "organisationIdentifier", "valueString": "RGS"}
                ]
            }]
        });
        edit(&mut v);
        v
    }

    fn err(edit: impl FnOnce(&mut Value)) -> CreateError {
        parse_request(&request(edit), today()).unwrap_err()
    }

    fn sandbox_patients() -> Vec<Patient> {
        sandbox::rows()
            .0
            .into_iter()
            .filter_map(|row| row.into_patient().ok())
            .collect()
    }

    fn decide(edit: impl FnOnce(&mut Value)) -> Vec<(String, f64)> {
        let p = parse_request(&request(edit), today()).unwrap();
        let m = Matchers::new(&p, today(), Clearance::All);
        sandbox_patients()
            .iter()
            .filter_map(|c| m.score(c).map(|s| (c.nhs_number.to_string(), s)))
            .collect()
    }

    #[test]
    fn a_valid_request_becomes_a_verified_version_one_record() {
        let p = parse_request(&request(|_| {}), today()).unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(p.security, Security::Unrestricted);
        assert_eq!(p.gender, Some(Gender::Female));
        let d = &p.details;
        assert_eq!(d.verification, Some(Verification::Verified));
        assert_eq!(d.names.len(), 1);
        assert_eq!(d.names[0].id.len(), 8);
        assert_ne!(d.names[0].id, d.addresses[0].id);
        assert_eq!(d.addresses[0].lines.len(), 5);
        assert!(d.communication.is_none());
    }

    #[test]
    fn missing_values_come_first_in_the_pds_order() {
        let missing = |edit: &dyn Fn(&mut Value)| match parse_request(&request(edit), today()) {
            Err(CreateError::MissingValue(field)) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(missing(&|v| *v = json!({"bananas": "in pyjamas"})), "name");
        let without = |key: &'static str| {
            move |v: &mut Value| {
                v.as_object_mut().unwrap().remove(key);
            }
        };
        assert_eq!(missing(&without("name")), "name");
        assert_eq!(
            missing(&|v| {
                without("address")(v);
                without("gender")(v);
            }),
            "address"
        );
        assert_eq!(
            missing(&|v| {
                without("gender")(v);
                without("birthDate")(v);
            }),
            "gender"
        );
        assert_eq!(missing(&without("birthDate")), "birthDate");
        assert_eq!(
            missing(&|v| {
                v["address"][0].as_object_mut().unwrap().remove("period");
            }),
            "address/0/period"
        );
        assert_eq!(
            missing(&|v| v["address"][0]["extension"] = json!([{"url": EXT_ADDRESS_KEY}])),
            "address/0/extension/0/extension"
        );
        assert_eq!(missing(&without("extension")), "extension");
        assert_eq!(
            missing(&|v| {
                v["name"][0].as_object_mut().unwrap().remove("family");
            }),
            "name/0/family"
        );
    }

    #[test]
    fn values_and_counts_are_checked() {
        assert_eq!(
            err(|v| v["name"][0]["given"] = json!("not an array")),
            CreateError::InvalidValue {
                field: "name/0/given".into(),
                value: "not an array".into()
            }
        );
        assert_eq!(
            err(|v| v["address"][0] = json!("not an object")),
            CreateError::InvalidValue {
                field: "address/0".into(),
                value: "not an object".into()
            }
        );
        assert_eq!(
            err(|v| v["gender"] = json!("other")),
            CreateError::InvalidValue {
                field: "gender".into(),
                value: "other".into()
            }
        );
        assert_eq!(
            err(|v| v["birthDate"] = json!("not-a-date")),
            CreateError::InvalidValue {
                field: "birthDate".into(),
                value: "not-a-date".into()
            }
        );
        assert_eq!(
            err(|v| v["name"][0]["given"] = json!(["One", "Two", "Three", "Four", "Five", "six"])),
            CreateError::TooManyValues {
                field: "name/0/given".into(),
                values: "['One', 'Two', 'Three', 'Four', 'Five', 'six']".into()
            }
        );
        assert!(matches!(
            err(|v| v["name"] = json!([v["name"][0].clone(), v["name"][0].clone()])),
            CreateError::TooManyValues { field, .. } if field == "name"
        ));
        assert!(matches!(
            err(|v| v["name"] = json!([])),
            CreateError::TooFewValues { field, .. } if field == "name"
        ));
        assert_eq!(
            err(|v| v["pets"] = json!(["cat"])),
            CreateError::AdditionalProperties(vec!["pets".into()])
        );
        assert_eq!(
            err(
                |v| v["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] =
                    json!("z")
            ),
            CreateError::InvalidValue {
                field: "extension/0/extension/0/valueCodeableConcept/coding/0/code".into(),
                value: "z".into()
            }
        );
        // Extension errors keep the index the client sent.
        let language = json!({"url": EXT_COMMUNICATION, "extension": [
            {"url": "language", "valueCodeableConcept": {"coding": [{"system": CS_LANGUAGE, "code": "en"}]}},
            {"url": "interpreterRequired", "valueBoolean": false}]});
        assert_eq!(
            err(|v| v["extension"].as_array_mut().unwrap().push(language)),
            CreateError::InvalidValue {
                field: "extension/1/extension/0/valueCodeableConcept/coding/0/code".into(),
                value: "en".into()
            }
        );
    }

    #[test]
    fn business_rules_are_invalid_create() {
        let reason = |edit: &dyn Fn(&mut Value)| match parse_request(&request(edit), today()) {
            Err(CreateError::Invalid(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(&|v| v["address"][0]["line"] = json!(["1 Road", "", "", ""])),
            "address lines 1 and 4 or 2 and 4 must be completed as a minimum"
        );
        assert_eq!(
            reason(&|v| v["telecom"] = json!([{"system": "email", "value": "not-an-email"}])),
            "email format is invalid"
        );
        assert_eq!(
            reason(&|v| v["name"][0]["period"]["end"] = json!("2020-01-01")),
            "An end date can not be provided on usual name"
        );
        assert_eq!(
            reason(&|v| v["birthDate"] = json!("2027-01-01")),
            "birthDate cannot be in the future"
        );
        assert!(reason(&|v| v["name"][0]["family"] = json!("O`Brien")).contains("name/0/family"));
        assert_eq!(
            reason(&|v| {
                v["extension"].as_array_mut().unwrap().clear();
            }),
            "a Registering Authority extension is required"
        );
    }

    #[test]
    fn empty_prefixes_and_suffixes_are_accepted_and_dropped() {
        let p = parse_request(
            &request(|v| {
                v["name"][0]["prefix"] = json!([""]);
                v["name"][0]["suffix"] = json!([""]);
            }),
            today(),
        )
        .unwrap();
        assert!(p.details.names[0].prefix.is_empty() && p.details.names[0].suffix.is_empty());
    }

    #[test]
    fn missing_periods_start_today_and_kept_extensions_are_kept() {
        let p = parse_request(
            &request(|v| {
                v["name"][0].as_object_mut().unwrap().remove("period");
                v["telecom"] = json!([{"system": "phone", "value": "01632960587", "use": "home"}]);
                v["extension"].as_array_mut().unwrap().push(json!({"url": EXT_COMMUNICATION, "extension": [
                    {"url": "language", "valueCodeableConcept": {"coding": [{"system": CS_LANGUAGE, "code": "fr"}]}},
                    {"url": "interpreterRequired", "valueBoolean": true}]}));
                v["extension"].as_array_mut().unwrap().push(json!({
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
                    "valueCodeableConcept": {"coding": [{"code": "A"}]}}));
            }),
            today(),
        )
        .unwrap();
        let d = &p.details;
        assert_eq!(d.names[0].period.unwrap().start, Some(today()));
        assert_eq!(d.telecoms[0].period.unwrap().start, Some(today()));
        assert_eq!(d.communication.as_ref().unwrap().language, "fr");
    }

    #[test]
    fn jane_smith_matches_herself_strongly_and_her_lookalikes_weakly() {
        let scores = decide(|_| {});
        let strong: Vec<&str> = scores
            .iter()
            .filter(|(_, s)| *s >= MATCH_THRESHOLD)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(strong, [sandbox::JANE_SMITH], "{scores:?}");
        // Jayne Smyth resembles her, below the threshold.
        assert!(
            scores
                .iter()
                .any(|(n, s)| n == sandbox::JAYNE_SMYTH && *s < MATCH_THRESHOLD),
            "{scores:?}"
        );
    }

    #[test]
    fn a_youds_without_given_name_or_known_gender_matches_two() {
        let scores = decide(|v| {
            v["name"][0] = json!({"use": "usual", "family": "Youds"});
            v["gender"] = json!("unknown");
            v["birthDate"] = json!("1970-01-24");
            v["address"][0]["postalCode"] = json!("DN17 4AB");
        });
        let strong: Vec<&str> = scores
            .iter()
            .filter(|(_, s)| *s >= MATCH_THRESHOLD)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(strong, [sandbox::YOUDS[0], sandbox::YOUDS[1]], "{scores:?}");
    }

    #[test]
    fn a_body_that_is_no_json_object_is_invalid_create() {
        let reason = |body: &[u8]| match super::request(body, today()) {
            Err(CreateError::Invalid(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(b"{").starts_with("the body is not valid JSON: "));
        assert_eq!(
            reason(b"[]"),
            "the body must be a FHIR Patient (a JSON object)"
        );
        let valid = super::request(request(|_| {}).to_string().as_bytes(), today());
        assert!(valid.is_ok(), "{valid:?}");
    }
}
