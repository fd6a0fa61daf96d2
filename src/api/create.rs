//! `POST /Patient`: create a patient and allocate an NHS number (PDS §5.9).
//!
//! 1. **Who:** healthcare workers whose role grants create
//!    (`demographics_update`). Application, privileged-application and
//!    patient tokens get 403 INVALID_METHOD, other workers 403 ACCESS_DENIED.
//! 2. **Request:** `Content-Type` `application/json` or
//!    `application/fhir+json`, and a PatientCreateRequest body, checked in
//!    the PDS order: missing required values first (`name`, `address`,
//!    `gender`, `birthDate`, then inside the items), then unknown elements,
//!    wrong values and counts, then the business rules (INVALID_CREATE).
//! 3. **Matching:** the demographics become a fuzzy search (first given
//!    name, family, birth date, and gender and postcode when known) scored by
//!    the search [`Matcher`] on what the caller may see of each record. Only
//!    a score of at least [`MATCH_THRESHOLD`] counts: one such patient
//!    answers 200 SINGLE_MATCH naming them, several answer 200
//!    MULTIPLE_MATCHES, and nothing is created. Weaker resemblances (Jayne
//!    Smyth for Jane Smith scores 0.937) do not stop a create. A record the
//!    caller may not see in full is also compared on names, birth date and
//!    gender alone (never on where the patient lives): a duplicate of it is
//!    refused too, with an answer that names no number, no count and no
//!    place (MULTIPLE_MATCHES, [`ApiError::MatchWithheld`]).
//! 4. **Create:** a fresh number from the allocation range
//!    (`store::allocate`), version 1, security `U`, verification status
//!    `01`, server ids on every list item, the audit row and the answer for
//!    retries, all in one transaction. 201 with the Patient, `ETag: W/"1"`
//!    and `Location`.
//!
//! A retry by the same caller with the same X-Request-ID and body gets the
//! same 201 answer (version 1 read again, shown as the caller may see it
//! now, audited as `create-replay`) and creates nothing (within 24 hours);
//! anybody else reusing the id gets 400. Concurrent requests with one id, or
//! for people born on the same day, queue on advisory locks, so neither a
//! retry nor two simultaneous creates of one person make two records.

use std::collections::HashSet;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::audit::AuditNote;
use super::writes::{self, retry_key};
use super::{ApiError, FHIR_JSON};
use crate::auth::caller::{Caller, Mode};
use crate::domain::codes::{AddressUse, Gender, NameUse, Security, TelecomSystem, Verification};
use crate::domain::patch::{self, Editor, PatchError};
use crate::domain::patient::{Clearance, Details, Period};
use crate::domain::search::params::{DateRange, Pattern, SearchRequest};
use crate::domain::search::score::Matcher;
use crate::domain::{NhsNumber, Patient};
use crate::fhir;
use crate::fhir::parse::ParseError;
use crate::fhir::urls::*;
use crate::store::allocate::{self, AllocationRange};
use crate::store::db::{DbError, Writes};
use crate::store::patients::{self, FormerNameRow, PatientRow};
use crate::store::search::{self, CandidateQuery};
use crate::store::updates::{self, Remembered};

/// The lowest fuzzy score at which an existing patient counts as the person
/// being created. 0.95 needs every identifying field to agree or nearly
/// agree: a postcode the record holds only as a past address (0.95 on a
/// weight of 2) still passes, a homophone family name (0.9 on 3) with a
/// slightly different given name does not.
pub const MATCH_THRESHOLD: f64 = 0.95;

/// Most patients born on one day that matching examines before falling back
/// to those with the same family name (about 2,000 per day at 70 million).
const CANDIDATE_CAP: i64 = 10_000;

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

fn may_create(caller: &Caller) -> Result<(), ApiError> {
    match caller.mode {
        Mode::Application | Mode::PrivilegedApplication | Mode::Patient => {
            Err(ApiError::InvalidMethod {
                verb: "create",
                token_kind: caller.mode.token_kind(),
            })
        }
        Mode::HealthcareWorker if caller.grants.create => Ok(()),
        Mode::HealthcareWorker => Err(ApiError::Forbidden(
            "The selected role does not allow creating patients (it needs B0825 Amend Patient Demographics at AAL3)".into(),
        )),
    }
}

/// The allocation range, read from `ALLOCATION_RANGE` once.
fn allocation_range() -> Result<AllocationRange, ApiError> {
    static RANGE: OnceLock<Result<AllocationRange, String>> = OnceLock::new();
    RANGE
        .get_or_init(|| crate::config::allocation_range().map_err(|e| e.to_string()))
        .clone()
        .map_err(ApiError::Internal)
}

/// How a create ended.
enum Outcome {
    /// The new patient (or, for a retry, the version its first answer
    /// showed), as the caller may see it.
    Created {
        patient: Box<Patient>,
        replayed: bool,
    },
    Matched(Duplicates),
}

/// The patients a create would duplicate.
#[derive(Debug, PartialEq)]
enum Duplicates {
    None,
    /// Matched on what the caller may see: named (one) or counted (several).
    Visible(Vec<NhsNumber>),
    /// Only records the caller may not see in full match, on their names,
    /// birth date and gender: the create is refused without saying which,
    /// how many or where.
    Withheld(Vec<NhsNumber>),
}

pub async fn create(
    req: HttpRequest,
    db: web::Data<Writes>,
    caller: web::ReqData<Caller>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    may_create(&caller)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media != "application/json" && media != "application/fhir+json" {
        return Err(ApiError::UnsupportedService);
    }
    let json: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::InvalidCreate(format!("the body is not valid JSON: {e}")))?;
    let today = chrono::Utc::now().date_naive();
    let mut patient = parse_request(&json, today)?;
    let clearance = caller.grants.clearance;
    let matchers = Matchers {
        visible: Matcher::at(&match_request(&patient), today, clearance),
        identity: Matcher::at(&identity_request(&patient), today, Clearance::All),
        clearance,
    };
    let range = allocation_range()?;

    let (request_id, hash) = retry_key(&req, &caller, &body)?;
    let note = AuditNote {
        action: "create",
        ..AuditNote::default()
    };
    // Numbers and status are filled in once known; written before the
    // answer leaves, whatever it is.
    let mut event = crate::api::audit::event_for(&req, &caller, note, 201);

    let outcome = db
        .run(move |conn| {
            writes::transaction(conn, |conn| {
                allocate::lock_request_id(conn, request_id)?;
                if let Some(previous) = updates::remembered(conn, request_id)? {
                    // The hash covers the caller: another caller reusing
                    // the id is a different request.
                    if previous.request_hash != hash {
                        return Err(ApiError::RequestIdReused(request_id.to_string()).into());
                    }
                    let (shown, redacted, sensitive_override) =
                        writes::kept_version(conn, &previous, clearance)?;
                    event.action = "create-replay".into();
                    event.nhs_numbers = vec![previous.nhs_number];
                    event.redacted = redacted;
                    event.sensitive_override = sensitive_override;
                    crate::store::audit::insert_now(conn, &event)?;
                    return Ok(Outcome::Created {
                        patient: Box::new(shown),
                        replayed: true,
                    });
                }
                let birth = patient
                    .birth_date
                    .ok_or(ApiError::MissingValue("birthDate".into()))?;
                allocate::lock_birth_date(conn, birth)?;
                let duplicates = matches(conn, &matchers, &patient)?;
                if duplicates != Duplicates::None {
                    event.status = 200;
                    (event.nhs_numbers, event.redacted) = match &duplicates {
                        Duplicates::Visible(found) => (numbers(found), false),
                        Duplicates::Withheld(found) => (numbers(found), true),
                        Duplicates::None => (Vec::new(), false),
                    };
                    crate::store::audit::insert_now(conn, &event)?;
                    return Ok(Outcome::Matched(duplicates));
                }
                let number = allocate::next_number(conn, range)?.ok_or_else(|| {
                    tracing::error!(%range, "the NHS number allocation range is used up");
                    ApiError::AllocationExhausted(range.to_string())
                })?;
                patient.nhs_number = number;
                patients::insert(
                    conn,
                    &[PatientRow::from_patient(&patient, None)],
                    &FormerNameRow::of(&patient),
                )?;
                event.nhs_numbers = vec![number.as_i64()];
                crate::store::audit::insert_now(conn, &event)?;
                updates::remember(
                    conn,
                    request_id,
                    &Remembered {
                        request_hash: hash,
                        status: 201,
                        nhs_number: number.as_i64(),
                        version: patient.version as i32,
                    },
                )?;
                Ok(Outcome::Created {
                    patient: Box::new(patient),
                    replayed: false,
                })
            })
        })
        .await??;

    let (patient, replayed) = match outcome {
        Outcome::Created { patient, replayed } => (patient, replayed),
        Outcome::Matched(duplicates) => {
            req.extensions_mut().insert(AuditNote::recorded("create"));
            return Err(match duplicates {
                Duplicates::Visible(found) if found.len() == 1 => {
                    ApiError::SingleMatch(found[0].to_string())
                }
                Duplicates::Visible(_) => ApiError::MultipleMatches,
                Duplicates::Withheld(_) | Duplicates::None => ApiError::MatchWithheld,
            });
        }
    };
    // The audit row is already committed: with the new patient, or (a
    // replay) just before.
    let action = if replayed { "create-replay" } else { "create" };
    req.extensions_mut().insert(AuditNote::recorded(action));
    let number = patient.nhs_number;
    Ok(HttpResponse::Created()
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, format!("W/\"{}\"", patient.version)))
        .insert_header((
            header::LOCATION,
            format!("{}/Patient/{number}", super::base_url(&req)),
        ))
        .json(fhir::patient::render(&patient)))
}

fn numbers(found: &[NhsNumber]) -> Vec<i64> {
    found.iter().map(|n| n.as_i64()).collect()
}

// ---------------------------------------------------------------------------
// Matching

/// The demographics as a fuzzy search. Gender `unknown` and pseudo
/// postcodes (`ZZ99 …`) say nothing about who this is, so they are left out.
fn match_request(patient: &Patient) -> SearchRequest {
    let postcode = patient
        .details
        .addresses
        .iter()
        .filter(|a| a.address_use == AddressUse::Home)
        .chain(&patient.details.addresses)
        .filter_map(|a| a.postal_code.as_deref())
        .map(str::trim)
        .find(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '))
        .filter(|p| !crate::domain::search::normalise::postcode(p).starts_with("ZZ99"));
    SearchRequest {
        postcode: postcode.map(|p| Pattern::Exact(p.to_owned())),
        ..identity_request(patient)
    }
}

/// The demographics that say who, not where: first given name, family
/// name, birth date and gender.
fn identity_request(patient: &Patient) -> SearchRequest {
    let name = patient
        .details
        .names
        .iter()
        .find(|n| n.name_use == NameUse::Usual);
    SearchRequest {
        family: name.and_then(|n| n.family.clone()).map(Pattern::Exact),
        given: name
            .and_then(|n| n.given.first().cloned())
            .map(Pattern::Exact)
            .into_iter()
            .collect(),
        gender: patient
            .gender
            .filter(|g| matches!(g, Gender::Male | Gender::Female)),
        birth: DateRange {
            from: patient.birth_date,
            to: patient.birth_date,
        },
        fuzzy: true,
        ..SearchRequest::default()
    }
}

/// How a create is matched against the store.
struct Matchers {
    /// Every field, on what the caller may see of each record.
    visible: Matcher,
    /// Names, birth date and gender only, on the whole record: for records
    /// the caller may not see in full, so that a duplicate of one is still
    /// refused, without the answer depending on where that patient lives.
    identity: Matcher,
    clearance: Clearance,
}

/// The patients `patient` would duplicate: those scoring at least
/// [`MATCH_THRESHOLD`], in number order. Superseded and invalidated records
/// never match; restricted and deceased ones do.
fn matches(
    conn: &mut diesel::PgConnection,
    matchers: &Matchers,
    patient: &Patient,
) -> Result<Duplicates, DbError> {
    let birth = DateRange {
        from: patient.birth_date,
        to: patient.birth_date,
    };
    let strong = |score: Option<f64>| score.is_some_and(|s| s >= MATCH_THRESHOLD);
    let keep = |p: Patient| {
        if strong(matchers.visible.score(&p)) {
            Some((p.nhs_number, true))
        } else if !p.visible_in_full_to(matchers.clearance) && strong(matchers.identity.score(&p)) {
            Some((p.nhs_number, false))
        } else {
            None
        }
    };
    let mut found = search::candidates(
        conn,
        &CandidateQuery {
            family: None,
            birth,
            former_names: false,
            cap: CANDIDATE_CAP,
            very_restricted: true,
        },
        keep,
    )?;
    if found.truncated {
        // A placeholder birth date shared by very many records: only the
        // same family name can be checked then.
        let family = match_request(patient).family.map(|p| match p {
            Pattern::Exact(f) => Pattern::Exact(crate::domain::search::normalise::name(&f)),
            other => other,
        });
        found = search::candidates(
            conn,
            &CandidateQuery {
                family: family.as_ref(),
                birth,
                former_names: false,
                cap: CANDIDATE_CAP,
                very_restricted: true,
            },
            keep,
        )?;
    }
    let (mut visible, mut withheld): (Vec<_>, Vec<_>) =
        found.kept.into_iter().partition(|(_, seen)| *seen);
    visible.sort();
    withheld.sort();
    let first = |list: Vec<(NhsNumber, bool)>| list.into_iter().map(|(n, _)| n).collect();
    Ok(if !visible.is_empty() {
        Duplicates::Visible(first(visible))
    } else if !withheld.is_empty() {
        Duplicates::Withheld(first(withheld))
    } else {
        Duplicates::None
    })
}

// ---------------------------------------------------------------------------
// The request

/// Stands in for the number until one is allocated.
fn placeholder() -> NhsNumber {
    NhsNumber::from_stem(900_000_000).expect("9000000009 is a valid number")
}

/// How a value is quoted in INVALID_VALUE: strings as they are, anything
/// else as JSON (as `fhir::parse` does).
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn invalid(field: impl Into<String>, value: &Value) -> ApiError {
    ApiError::InvalidValue {
        field: field.into(),
        value: shown(value),
    }
}

/// A value as Python writes it (PDS's TOO_MANY_VALUES_SUBMITTED shows
/// `['One', 'Two']`).
fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let s = s.replace('\\', "\\\\");
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!("'{}'", s.replace('\'', "\\'"))
            }
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        python_repr(&Value::from(k.as_str())),
                        python_repr(v)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A parser error, with too many items shown as PDS shows them.
fn from_parse(error: ParseError, body: &Value) -> ApiError {
    match error {
        ParseError::TooManyValues { field } => ApiError::TooManyItems {
            values: body
                .pointer(&format!("/{field}"))
                .map(python_repr)
                .unwrap_or_default(),
            field,
        },
        other => ApiError::from(other),
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
fn list<'a>(top: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], ApiError> {
    match top.get(key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(invalid(key, other)),
    }
}

/// The items of a list with fresh server ids (8 hex digits, as PDS).
fn with_ids(items: &[Value], used: &mut HashSet<String>) -> Value {
    Value::Array(
        items
            .iter()
            .map(|item| match item {
                Value::Object(map) => {
                    let mut map = map.clone();
                    let id = loop {
                        let candidate = format!("{:08X}", rand::random::<u32>());
                        if used.insert(candidate.clone()) {
                            break candidate;
                        }
                    };
                    map.insert("id".into(), Value::from(id));
                    Value::Object(map)
                }
                other => other.clone(),
            })
            .collect(),
    )
}

/// The parts a FHIR Patient needs beyond what the request carries.
fn skeleton() -> Map<String, Value> {
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

/// Validates a PatientCreateRequest and reads it into a Patient (version 1,
/// security `U`, verified, the placeholder number).
fn parse_request(body: &Value, today: NaiveDate) -> Result<Patient, ApiError> {
    let Value::Object(top) = body else {
        return Err(ApiError::InvalidCreate(
            "the body must be a FHIR Patient (a JSON object)".into(),
        ));
    };
    if let Some(field) = first_missing(top) {
        return Err(ApiError::MissingValue(field));
    }
    let unknown: Vec<String> = top
        .keys()
        .filter(|k| !CREATE_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::AdditionalProperties(unknown));
    }
    if let Some(rt) = top.get("resourceType")
        && rt.as_str() != Some("Patient")
    {
        return Err(invalid("resourceType", rt));
    }
    let names = list(top, "name")?;
    match names.len() {
        0 => {
            return Err(ApiError::TooFewItems {
                field: "name".into(),
                values: "[]".into(),
            });
        }
        1 => {}
        _ => {
            return Err(ApiError::TooManyItems {
                field: "name".into(),
                values: python_repr(&top["name"]),
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
        return Err(ApiError::TooFewItems {
            field: "address".into(),
            values: "[]".into(),
        });
    }
    let telecoms = list(top, "telecom")?;
    let extensions = list(top, "extension")?;

    let mut used = HashSet::new();
    let mut doc = skeleton();
    doc.insert("name".into(), with_ids(names, &mut used));
    for key in ["gender", "birthDate"] {
        doc.insert(key.into(), top[key].clone());
    }
    doc.insert("address".into(), with_ids(addresses, &mut used));
    if top.contains_key("telecom") {
        doc.insert("telecom".into(), with_ids(telecoms, &mut used));
    }
    let mut patient = fhir::parse::patient(
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
fn read_extensions(items: &[Value], details: &mut Details, body: &Value) -> Result<(), ApiError> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("extension/{i}");
        let Value::Object(map) = item else {
            return Err(invalid(path, item));
        };
        let url = match map.get("url") {
            None => return Err(ApiError::MissingValue(format!("{path}/url"))),
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
            return Err(ApiError::TooManyItems {
                field: "extension".into(),
                values: python_repr(&body["extension"]),
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
        let parsed = fhir::parse::patient(
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
        return Err(ApiError::InvalidCreate(
            "a Registering Authority extension is required".into(),
        ));
    }
    Ok(())
}

/// `extension/0/…` → `extension/<i>/…`.
fn reindexed(error: ParseError, i: usize) -> ParseError {
    let fix = |field: String| match field.strip_prefix("extension/0") {
        Some(rest) => format!("extension/{i}{rest}"),
        None => field,
    };
    match error {
        ParseError::InvalidValue { field, value } => ParseError::InvalidValue {
            field: fix(field),
            value,
        },
        ParseError::AdditionalProperty { field } => {
            ParseError::AdditionalProperty { field: fix(field) }
        }
        ParseError::MissingValue { field } => ParseError::MissingValue { field: fix(field) },
        ParseError::TooManyValues { field } => ParseError::TooManyValues { field: fix(field) },
    }
}

/// `{url, extension: [registeringAuthorityType, organisationIdentifier]}`:
/// the type a code `a`–`x` or `1`, the organisation 2 to 15 characters.
fn registering_authority(map: &Map<String, Value>, path: &str) -> Result<(), ApiError> {
    let only = |map: &Map<String, Value>, at: &str, allowed: &[&str]| {
        let extra: Vec<String> = map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| format!("{at}/{k}"))
            .collect();
        if extra.is_empty() {
            Ok(())
        } else {
            Err(ApiError::AdditionalProperties(extra))
        }
    };
    only(map, path, &["url", "extension"])?;
    let parts = match map.get("extension") {
        None => return Err(ApiError::MissingValue(format!("{path}/extension"))),
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
                    .ok_or_else(|| ApiError::MissingValue(format!("{at}/valueCodeableConcept")))?
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
                    .ok_or_else(|| ApiError::MissingValue(format!("{at}/code")))?;
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
                    .ok_or_else(|| ApiError::MissingValue(format!("{at}/valueString")))?;
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
                    None => ApiError::MissingValue(format!("{at}/url")),
                    Some(url) => invalid(format!("{at}/url"), url),
                });
            }
        }
    }
    if !kind {
        return Err(ApiError::MissingValue(format!(
            "{path}/extension/registeringAuthorityType"
        )));
    }
    if !organisation {
        return Err(ApiError::MissingValue(format!(
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
fn rules(patient: &Patient, addresses: &[Value], today: NaiveDate) -> Result<(), ApiError> {
    let d = &patient.details;
    if d.names
        .iter()
        .any(|n| n.name_use == NameUse::Usual && n.period.and_then(|p| p.end).is_some())
    {
        return Err(ApiError::InvalidCreate(
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
            return Err(ApiError::InvalidCreate(
                "address lines 1 and 4 or 2 and 4 must be completed as a minimum".into(),
            ));
        }
    }
    if d.telecoms
        .iter()
        .any(|t| t.system == TelecomSystem::Email && !is_email(t.value.trim()))
    {
        return Err(ApiError::InvalidCreate("email format is invalid".into()));
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
        PatchError::InvalidValue { field, value } => ApiError::InvalidValue { field, value },
        PatchError::NoPatches => ApiError::InvalidCreate("nothing to create".into()),
        PatchError::Invalid(reason) | PatchError::Forbidden(reason) => {
            ApiError::InvalidCreate(reason)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn err(edit: impl FnOnce(&mut Value)) -> ApiError {
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
        let m = Matcher::at(&match_request(&p), today(), Clearance::All);
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
            Err(ApiError::MissingValue(field)) => field,
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
            ApiError::InvalidValue {
                field: "name/0/given".into(),
                value: "not an array".into()
            }
        );
        assert_eq!(
            err(|v| v["address"][0] = json!("not an object")),
            ApiError::InvalidValue {
                field: "address/0".into(),
                value: "not an object".into()
            }
        );
        assert_eq!(
            err(|v| v["gender"] = json!("other")),
            ApiError::InvalidValue {
                field: "gender".into(),
                value: "other".into()
            }
        );
        assert_eq!(
            err(|v| v["birthDate"] = json!("not-a-date")),
            ApiError::InvalidValue {
                field: "birthDate".into(),
                value: "not-a-date".into()
            }
        );
        assert_eq!(
            err(|v| v["name"][0]["given"] = json!(["One", "Two", "Three", "Four", "Five", "six"])),
            ApiError::TooManyItems {
                field: "name/0/given".into(),
                values: "['One', 'Two', 'Three', 'Four', 'Five', 'six']".into()
            }
        );
        assert!(matches!(
            err(|v| v["name"] = json!([v["name"][0].clone(), v["name"][0].clone()])),
            ApiError::TooManyItems { field, .. } if field == "name"
        ));
        assert!(matches!(
            err(|v| v["name"] = json!([])),
            ApiError::TooFewItems { field, .. } if field == "name"
        ));
        assert_eq!(
            err(|v| v["pets"] = json!(["cat"])),
            ApiError::AdditionalProperties(vec!["pets".into()])
        );
        assert_eq!(
            err(
                |v| v["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] =
                    json!("z")
            ),
            ApiError::InvalidValue {
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
            ApiError::InvalidValue {
                field: "extension/1/extension/0/valueCodeableConcept/coding/0/code".into(),
                value: "en".into()
            }
        );
    }

    #[test]
    fn business_rules_are_invalid_create() {
        let reason = |edit: &dyn Fn(&mut Value)| match parse_request(&request(edit), today()) {
            Err(ApiError::InvalidCreate(reason)) => reason,
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
    fn python_repr_quotes_like_python() {
        assert_eq!(
            python_repr(&json!(["a", "it's", 1, null, true, {"k": "v"}])),
            r#"['a', "it's", 1, None, True, {'k': 'v'}]"#
        );
    }
}
