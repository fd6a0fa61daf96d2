//! The body of `POST /Patient/$process-birth-details` (PDS §5.11): a FHIR
//! `transaction` Bundle read into a [`Registration`].
//!
//! The entries: the baby (the Patient with no NHS number), the mother (the
//! Patient with one), the RelatedPerson saying she is the baby's mother,
//! the five birth Observations (birth weight, live or still birth,
//! gestation, number of foetuses, suspected congenital abnormality) and
//! the delivery Location, each required once; an Organization (the
//! mother's GP), CareTeam and Practitioner may come too and are not read.
//!
//! Checked in this order, the first failure answered:
//! 1. the Bundle itself (`resourceType`, `type`, `entry`);
//! 2. each entry's shape and resource type, and each Observation's code;
//! 3. that every required resource is there, once (PDS:
//!    TOO_FEW_VALUES_SUBMITTED in field `entry`);
//! 4. the baby, exactly as `POST /Patient` checks a patient
//!    (`fhir::create`), then what only a baby has (birth time, birth order,
//!    ethnic category, death);
//! 5. the other entries in entry order;
//! 6. the rules across entries: birth order within the number of foetuses,
//!    and the baby's vital status agreeing with the delivery
//!    ([`BirthError::DeathStatusInconsistent`]).
//!
//! Errors name paths in the Bundle (`entry/0/resource/name/0/use`), except
//! an invalid gender or birth date of the baby, which PDS names without the
//! entry (`Invalid value - 'other' in field 'gender'`): its observed
//! answers, kept here.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::create::{self, CreateError};
use super::parse::{self, ParseError};
use super::urls::*;
use crate::domain::birth::*;
use crate::domain::codes::{DeathStatus, Security};
use crate::domain::{NhsNumber, Patient};
use observations::{Facts, Kind};

/// Why a birth registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthError {
    /// As a create is refused, the path in the Bundle.
    #[error(transparent)]
    Create(#[from] CreateError),
    /// INSERT_BIRTH_DEATH_STATUS_INCONSISTENT.
    #[error("Insert Birth - Death Status Inconsistent")]
    DeathStatusInconsistent,
}

/// A registration, and where in the Bundle the mother's number was (for
/// the answer when no such patient is on file).
#[derive(Debug, Clone)]
pub struct BirthRequest {
    pub registration: Registration,
    pub mother_field: String,
}

pub const EXT_BIRTH_TIME: &str = "http://hl7.org/fhir/StructureDefinition/patient-birthTime";
pub const EXT_ETHNIC_CATEGORY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory";
const SNOMED: &str = "http://snomed.info/sct";

/// PDS's stand-in for values it does not show (Python's jsonschema
/// message, truncated).
const TOO_LONG: &str = "<json too long to display>";

/// The relationship codes that say "mother" (v3 RoleCode).
const MOTHER_CODES: &[&str] = &["GESTM", "MTH", "BIRTHM", "NMTH"];

fn invalid(field: impl Into<String>, value: &Value) -> CreateError {
    CreateError::InvalidValue {
        field: field.into(),
        value: parse::shown(value),
    }
}

fn missing(field: impl Into<String>) -> CreateError {
    CreateError::MissingValue(field.into())
}

fn too_few(field: impl Into<String>) -> CreateError {
    CreateError::TooFewValues {
        field: field.into(),
        values: TOO_LONG.into(),
    }
}

fn too_many(field: impl Into<String>) -> CreateError {
    CreateError::TooManyValues {
        field: field.into(),
        values: TOO_LONG.into(),
    }
}

/// Reads and checks a birth registration. `today` and `now` bound the
/// dates.
pub fn request(
    body: &[u8],
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<BirthRequest, BirthError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| CreateError::Invalid(format!("the body is not valid JSON: {e}")))?;
    parse_bundle(&json, today, now)
}

/// Where each resource is in `entry`.
#[derive(Default)]
struct Found<'a> {
    baby: Option<(usize, &'a Map<String, Value>, Option<&'a str>)>,
    mothers: Vec<(usize, &'a Map<String, Value>)>,
    related: Vec<(usize, &'a Map<String, Value>)>,
    locations: Vec<usize>,
    observations: Vec<(usize, Kind, &'a Map<String, Value>)>,
}

fn parse_bundle(
    body: &Value,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<BirthRequest, BirthError> {
    let Value::Object(top) = body else {
        return Err(
            CreateError::Invalid("the body must be a FHIR Bundle (a JSON object)".into()).into(),
        );
    };
    for key in ["resourceType", "type", "entry"] {
        if !top.contains_key(key) {
            return Err(missing(key).into());
        }
    }
    let unknown: Vec<String> = top
        .keys()
        .filter(|k| {
            !["resourceType", "type", "entry", "id", "meta", "timestamp"].contains(&k.as_str())
        })
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(CreateError::AdditionalProperties(unknown).into());
    }
    if top["resourceType"].as_str() != Some("Bundle") {
        return Err(invalid("resourceType", &top["resourceType"]).into());
    }
    if top["type"].as_str() != Some("transaction") {
        return Err(invalid("type", &top["type"]).into());
    }
    let Value::Array(entries) = &top["entry"] else {
        return Err(invalid("entry", &top["entry"]).into());
    };

    let found = sort(entries)?;
    let Some((baby_at, baby_resource, baby_url)) = found.baby else {
        return Err(too_few("entry").into());
    };
    let missing_kind = Kind::ALL
        .iter()
        .any(|kind| !found.observations.iter().any(|(_, k, _)| k == kind));
    if found.mothers.is_empty()
        || found.related.is_empty()
        || found.locations.is_empty()
        || missing_kind
    {
        return Err(too_few("entry").into());
    }
    let repeated_kind = Kind::ALL.iter().any(|kind| {
        found
            .observations
            .iter()
            .filter(|(_, k, _)| k == kind)
            .count()
            > 1
    });
    if found.mothers.len() > 1
        || found.related.len() > 1
        || found.locations.len() > 1
        || repeated_kind
    {
        return Err(too_many("entry").into());
    }

    let at = format!("entry/{baby_at}/resource");
    let (mut baby, time) = read_baby(baby_resource, &at, today, now)?;

    // The other entries, in entry order.
    let mut facts = Facts::default();
    let (mut mother, mut claimed) = (None, None);
    let (mother_at, mother_resource) = found.mothers[0];
    let (related_at, related_resource) = found.related[0];
    for i in 0..entries.len() {
        let at = format!("entry/{i}/resource");
        if let Some((_, kind, resource)) = found.observations.iter().find(|(j, _, _)| *j == i) {
            subject(resource, &at, baby_url)?;
            facts.read(*kind, resource, &at)?;
        } else if i == related_at {
            claimed = read_related(related_resource, &at, baby_url)?;
        } else if i == mother_at {
            mother = Some(read_mother(mother_resource, &at)?);
        }
    }
    let mother =
        mother.ok_or_else(|| missing(format!("entry/{mother_at}/resource/identifier/0/value")))?;
    if let Some((number, value)) = claimed
        && number != mother
    {
        return Err(invalid(
            format!("entry/{related_at}/resource/identifier/0/value"),
            &value,
        )
        .into());
    }
    let facts = facts.complete(time)?;

    if baby
        .details
        .multiple_birth
        .is_some_and(|order| order > facts.foetuses)
    {
        return Err(invalid(
            format!("{at}/multipleBirthInteger"),
            baby_resource
                .get("multipleBirthInteger")
                .unwrap_or(&Value::Null),
        )
        .into());
    }
    let status = baby.details.death_notification.as_ref().map(|n| n.status);
    if !consistent(facts.delivery, baby.deceased, status) {
        return Err(BirthError::DeathStatusInconsistent);
    }
    // A notification of "removed" on a live birth says nothing to keep.
    if status == Some(DeathStatus::Removed) {
        baby.details.death_notification = None;
    }
    Ok(BirthRequest {
        registration: Registration {
            baby,
            mother,
            facts,
        },
        mother_field: format!("entry/{mother_at}/resource/identifier/0/value"),
    })
}

/// Each entry's resource by type; unknown types and Observation codes are
/// refused here.
fn sort(entries: &[Value]) -> Result<Found<'_>, CreateError> {
    let mut found = Found::default();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("entry/{i}");
        let Value::Object(entry) = entry else {
            return Err(invalid(at, entry));
        };
        if let Some(method) = entry.get("request").and_then(|r| r.get("method"))
            && method.as_str() != Some("POST")
        {
            return Err(invalid(format!("{at}/request/method"), method));
        }
        let resource = match entry.get("resource") {
            None => return Err(missing(format!("{at}/resource"))),
            Some(Value::Object(resource)) => resource,
            Some(other) => return Err(invalid(format!("{at}/resource"), other)),
        };
        let full_url = entry.get("fullUrl").and_then(Value::as_str);
        let kind = resource
            .get("resourceType")
            .ok_or_else(|| missing(format!("{at}/resource/resourceType")))?;
        match kind.as_str().unwrap_or_default() {
            "Patient" if has_nhs_number(resource) || found.baby.is_some() => {
                found.mothers.push((i, resource));
            }
            "Patient" => found.baby = Some((i, resource, full_url)),
            "RelatedPerson" => found.related.push((i, resource)),
            "Location" => found.locations.push(i),
            "Observation" => {
                let code = resource
                    .get("code")
                    .ok_or_else(|| missing(format!("{at}/resource/code")))?;
                let codings = code.get("coding").and_then(Value::as_array);
                let known = codings.into_iter().flatten().find_map(|c| {
                    let snomed = c.get("system").is_none_or(|s| s.as_str() == Some(SNOMED));
                    c.get("code")
                        .and_then(Value::as_str)
                        .filter(|_| snomed)
                        .and_then(Kind::from_code)
                });
                let Some(kind) = known else {
                    let shown = codings
                        .and_then(|c| c.first())
                        .and_then(|c| c.get("code"))
                        .unwrap_or(code);
                    return Err(invalid(format!("{at}/resource/code/coding/0/code"), shown));
                };
                found.observations.push((i, kind, resource));
            }
            "Organization" | "CareTeam" | "Practitioner" => {}
            _ => return Err(invalid(format!("{at}/resource/resourceType"), kind)),
        }
    }
    Ok(found)
}

fn has_nhs_number(resource: &Map<String, Value>) -> bool {
    resource
        .get("identifier")
        .and_then(Value::as_array)
        .is_some_and(|ids| {
            ids.iter()
                .any(|id| id.get("system").and_then(Value::as_str) == Some(NHS_NUMBER))
        })
}

/// A create error of the baby, its path put in the Bundle (but for PDS's
/// bare `gender` and `birthDate`).
fn in_entry(error: CreateError, at: &str) -> CreateError {
    let p = |field: String| format!("{at}/{field}");
    match error {
        CreateError::MissingValue(field) => CreateError::MissingValue(p(field)),
        CreateError::InvalidValue { field, value } if field == "gender" || field == "birthDate" => {
            CreateError::InvalidValue { field, value }
        }
        CreateError::InvalidValue { field, value } => CreateError::InvalidValue {
            field: p(field),
            value,
        },
        CreateError::AdditionalProperties(names) => {
            CreateError::AdditionalProperties(names.into_iter().map(p).collect())
        }
        CreateError::TooManyValues { field, values } => CreateError::TooManyValues {
            field: p(field),
            values,
        },
        CreateError::TooFewValues { field, values } => CreateError::TooFewValues {
            field: p(field),
            values,
        },
        CreateError::Invalid(reason) => CreateError::Invalid(reason),
    }
}

/// The baby: a create request, plus birth time, birth order, ethnic
/// category (required, not kept), place of birth and death (kept).
fn read_baby(
    resource: &Map<String, Value>,
    at: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(Patient, DateTime<FixedOffset>), CreateError> {
    let mut plain = resource.clone();
    let birth_time = plain.remove("_birthDate");
    let order = plain.remove("multipleBirthInteger");
    let deceased = plain.remove("deceasedDateTime");
    // A transaction entry's own id is the client's; the record's is the
    // number allocated.
    plain.remove("id");
    // PDS accepts a name for the place of birth (`text`, "St Mary's
    // Hospital") and drops it: the record keeps city, district and country.
    if let Some(Value::Array(extensions)) = plain.get_mut("extension") {
        for extension in extensions {
            if extension.get("url").and_then(Value::as_str) == Some(EXT_BIRTH_PLACE)
                && let Some(Value::Object(place)) = extension.get_mut("valueAddress")
            {
                place.remove("text");
            }
        }
    }
    let plain = Value::Object(plain);
    let mut baby = create::parse_request(&plain, today).map_err(|e| in_entry(e, at))?;

    let time = read_birth_time(birth_time.as_ref(), at, baby.birth_date, now)?;
    if let Some(order) = &order {
        baby.details.multiple_birth = Some(
            order
                .as_u64()
                .filter(|n| FOETUSES.contains(n))
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| invalid(format!("{at}/multipleBirthInteger"), order))?,
        );
    }
    let extensions = plain
        .get("extension")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !extensions
        .iter()
        .any(|e| e.get("url").and_then(Value::as_str) == Some(EXT_ETHNIC_CATEGORY))
    {
        return Err(too_few(format!("{at}/extension")));
    }
    // Place of birth and death notification: checked by the create, read
    // again here to be kept.
    for (i, extension) in extensions.iter().enumerate() {
        let url = extension.get("url").and_then(Value::as_str);
        if url != Some(EXT_BIRTH_PLACE) && url != Some(EXT_DEATH_NOTIFICATION) {
            continue;
        }
        let part = parsed(
            "extension",
            Value::Array(vec![extension.clone()]),
            at,
            Some(i),
        )?;
        if url == Some(EXT_BIRTH_PLACE) {
            baby.details.birth_place = part.details.birth_place;
        } else {
            baby.details.death_notification = part.details.death_notification;
        }
    }
    if let Some(deceased) = deceased {
        let part = parsed("deceasedDateTime", deceased, at, None)?;
        baby.deceased = part.deceased;
    }
    Ok((baby, time))
}

/// One element of the baby read by the Patient parser, its errors' paths
/// put back where the client sent it (extension `index`).
fn parsed(key: &str, value: Value, at: &str, index: Option<usize>) -> Result<Patient, CreateError> {
    let mut doc = create::skeleton();
    doc.insert(key.into(), value);
    parse::patient(
        &Value::Object(doc),
        create::placeholder(),
        1,
        Security::Unrestricted,
    )
    .map_err(|e| {
        let e = e.map_field(|field| match (index, field.strip_prefix("extension/0")) {
            (Some(i), Some(rest)) => format!("{at}/extension/{i}{rest}"),
            _ => format!("{at}/{field}"),
        });
        match e {
            ParseError::InvalidValue { field, value } => CreateError::InvalidValue { field, value },
            ParseError::MissingValue { field } => CreateError::MissingValue(field),
            ParseError::AdditionalProperty { field } => {
                CreateError::AdditionalProperties(vec![field])
            }
            ParseError::TooManyValues { field } => too_many(field),
        }
    })
}

/// `_birthDate.extension[birthTime].valueDateTime`: required, an instant
/// with its offset, on the birth date (in its own offset), not in the future.
fn read_birth_time(
    element: Option<&Value>,
    at: &str,
    birth_date: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<DateTime<FixedOffset>, CreateError> {
    let element = element.ok_or_else(|| missing(format!("{at}/_birthDate")))?;
    let extensions = element
        .get("extension")
        .and_then(Value::as_array)
        .ok_or_else(|| missing(format!("{at}/_birthDate/extension")))?;
    let (j, extension) = extensions
        .iter()
        .enumerate()
        .find(|(_, e)| e.get("url").and_then(Value::as_str) == Some(EXT_BIRTH_TIME))
        .ok_or_else(|| missing(format!("{at}/_birthDate/extension")))?;
    let field = format!("{at}/_birthDate/extension/{j}/valueDateTime");
    let value = extension
        .get("valueDateTime")
        .ok_or_else(|| missing(field.clone()))?;
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .filter(|t| Some(t.date_naive()) == birth_date)
        .filter(|t| t.with_timezone(&Utc) <= now)
        .ok_or_else(|| invalid(field, value))
}

/// An Observation's subject, when given, is the baby.
fn subject(resource: &Map<String, Value>, at: &str, baby: Option<&str>) -> Result<(), CreateError> {
    reference(resource, "subject", at, baby)
}

fn reference(
    resource: &Map<String, Value>,
    key: &str,
    at: &str,
    baby: Option<&str>,
) -> Result<(), CreateError> {
    match resource.get(key).and_then(|s| s.get("reference")) {
        Some(r) if r.as_str() != baby => Err(invalid(format!("{at}/{key}/reference"), r)),
        _ => Ok(()),
    }
}

/// The RelatedPerson: the mother of the baby. Its NHS number, when given,
/// is returned with the value sent, to be compared with the mother's.
fn read_related(
    resource: &Map<String, Value>,
    at: &str,
    baby: Option<&str>,
) -> Result<Option<(NhsNumber, Value)>, CreateError> {
    reference(resource, "patient", at, baby)?;
    let relationship = resource
        .get("relationship")
        .ok_or_else(|| missing(format!("{at}/relationship")))?;
    let codes: Vec<&Value> = relationship
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("coding").and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("code"))
        .collect();
    if !codes
        .iter()
        .any(|c| c.as_str().is_some_and(|c| MOTHER_CODES.contains(&c)))
    {
        let shown = codes.first().copied().unwrap_or(relationship);
        return Err(invalid(format!("{at}/relationship/0/coding/0/code"), shown));
    }
    match resource
        .get("identifier")
        .and_then(|ids| ids.pointer("/0/value"))
    {
        None => Ok(None),
        Some(value) => {
            let number = value
                .as_str()
                .and_then(|v| NhsNumber::parse(v).ok())
                .ok_or_else(|| invalid(format!("{at}/identifier/0/value"), value))?;
            Ok(Some((number, value.clone())))
        }
    }
}

/// The mother Patient: her NHS number (required, valid).
fn read_mother(resource: &Map<String, Value>, at: &str) -> Result<NhsNumber, CreateError> {
    let field = format!("{at}/identifier/0/value");
    let identifier = resource
        .get("identifier")
        .and_then(|ids| ids.get(0))
        .ok_or_else(|| missing(field.clone()))?;
    if let Some(system) = identifier.get("system")
        && system.as_str() != Some(NHS_NUMBER)
    {
        return Err(invalid(format!("{at}/identifier/0/system"), system));
    }
    let value = identifier
        .get("value")
        .ok_or_else(|| missing(field.clone()))?;
    value
        .as_str()
        .and_then(|v| NhsNumber::parse(v).ok())
        .ok_or_else(|| invalid(field, value))
}

mod observations;

#[cfg(test)]
mod tests;
