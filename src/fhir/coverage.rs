//! The FHIR side of `/Coverage` (PDS §5.10): the body of `POST /Coverage`
//! read into an [`Ehic`], and the `CoverageSearch` bundle both operations
//! answer with.
//!
//! The body is checked in the PDS order: the subscriber's NHS number first
//! (the caller may only change their own), then every required value that
//! is missing, in the order of PDS's schema (`status`, `beneficiary`,
//! `payor`, `identifier`, `period`), then wrong types and counts, then the
//! values themselves. Paths are written as PDS writes them
//! (`identifier/0/value`). Elements the schema does not name (the EHIC
//! `type` coding clients send, say) are accepted and ignored, as is the
//! country's `display`, which the server derives from the code.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::parse::shown;
use super::urls::NHS_NUMBER;
use super::{date, instant};
use crate::domain::NhsNumber;
use crate::domain::coverage::{Ehic, EhicField};
use crate::domain::python;

/// The system of the issuing country's code.
pub const ISO_3166: &str = "urn:iso:std:iso:3166";

/// Why a Coverage body was refused. Each variant is one PDS code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoverageError {
    /// MISSING_VALUE: the path of the first required value missing.
    #[error("Missing value - '{0}'")]
    MissingValue(String),
    /// INVALID_VALUE, the value as sent.
    #[error("Invalid value - '{value}' in field '{field}'")]
    InvalidValue { field: String, value: String },
    /// TOO_MANY_VALUES_SUBMITTED, the values as PDS shows them.
    #[error("Too many values submitted - {values} in field '{field}'")]
    TooManyValues { field: String, values: String },
    /// TOO_FEW_VALUES_SUBMITTED (`[]`).
    #[error("Too few values submitted - {values} in field '{field}'")]
    TooFewValues { field: String, values: String },
    /// INVALID_RESOURCE_ID: the subscriber is no valid NHS number.
    #[error("invalid NHS number")]
    InvalidNhsNumber,
    /// INVALID_UPDATE: a body that is no Coverage at all.
    #[error("Invalid update with error - {0}")]
    Invalid(String),
}

fn invalid(field: &str, value: &Value) -> CoverageError {
    CoverageError::InvalidValue {
        field: field.to_owned(),
        value: shown(value),
    }
}

/// The body as a JSON object, or INVALID_UPDATE.
pub fn body(bytes: &[u8]) -> Result<Map<String, Value>, CoverageError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CoverageError::Invalid(
            "the body must be a FHIR Coverage (a JSON object)".into(),
        )),
        Err(e) => Err(CoverageError::Invalid(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// The subscriber's NHS number (`subscriber.identifier.value`).
pub fn subscriber(top: &Map<String, Value>) -> Result<NhsNumber, CoverageError> {
    let mut at: &Value = top.get("subscriber").ok_or_else(|| missing("subscriber"))?;
    for (key, path) in [
        ("identifier", "subscriber/identifier"),
        ("value", "subscriber/identifier/value"),
    ] {
        at = at
            .as_object()
            .ok_or(CoverageError::InvalidNhsNumber)?
            .get(key)
            .ok_or_else(|| missing(path))?;
    }
    at.as_str()
        .and_then(|text| NhsNumber::parse(text).ok())
        .ok_or(CoverageError::InvalidNhsNumber)
}

fn missing(path: &str) -> CoverageError {
    CoverageError::MissingValue(path.to_owned())
}

/// The value at `path` (keys and indexes, `/`-separated), if every step
/// exists.
fn at<'a>(top: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut steps = path.split('/');
    let mut value = top.get(steps.next()?)?;
    for step in steps {
        value = match value {
            Value::Object(map) => map.get(step)?,
            Value::Array(items) => items.get(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The required values, in the order PDS reports the first one missing.
/// A path is only checked when its parent is an object that is there (an
/// item of an empty list is not; the checks after this one refuse a parent
/// of the wrong kind or a list of the wrong length).
const REQUIRED: &[&str] = &[
    "status",
    "beneficiary",
    "beneficiary/identifier",
    "beneficiary/identifier/value",
    "payor",
    "payor/0/identifier",
    "payor/0/identifier/value",
    "identifier",
    "identifier/0/value",
    "identifier/0/assigner",
    "identifier/0/assigner/identifier",
    "identifier/0/assigner/identifier/system",
    "identifier/0/assigner/identifier/value",
    "period",
    "period/end",
];

fn first_missing(top: &Map<String, Value>) -> Option<&'static str> {
    REQUIRED.iter().copied().find(|path| {
        let parent_holds = match path.rsplit_once('/') {
            None => true,
            Some((parent, _)) => at(top, parent).is_some_and(Value::is_object),
        };
        parent_holds && at(top, path).is_none()
    })
}

/// The string at `path`, or INVALID_VALUE showing what is there.
fn text<'a>(top: &'a Map<String, Value>, path: &str) -> Result<&'a str, CoverageError> {
    let value = at(top, path).ok_or_else(|| missing(path))?;
    value.as_str().ok_or_else(|| invalid(path, value))
}

/// Each of these must be an object.
const OBJECTS: &[&str] = &[
    "subscriber",
    "subscriber/identifier",
    "beneficiary",
    "beneficiary/identifier",
    "payor/0",
    "payor/0/identifier",
    "identifier/0",
    "identifier/0/assigner",
    "identifier/0/assigner/identifier",
    "period",
];

/// The list at `key` must hold exactly one item.
fn single(top: &Map<String, Value>, key: &str) -> Result<(), CoverageError> {
    match &top[key] {
        Value::Array(items) if items.len() == 1 => Ok(()),
        Value::Array(items) if items.is_empty() => Err(CoverageError::TooFewValues {
            field: key.into(),
            values: "[]".into(),
        }),
        Value::Array(_) => Err(CoverageError::TooManyValues {
            field: key.into(),
            values: python::repr(&top[key]),
        }),
        other => Err(invalid(key, other)),
    }
}

/// The path PDS names for a part of an EHIC.
fn path_of(field: EhicField) -> &'static str {
    match field {
        EhicField::CardNumber => "identifier/0/value",
        EhicField::Country => "identifier/0/assigner/identifier/value",
        EhicField::Institution => "payor/0/identifier/value",
        EhicField::PersonalId => "beneficiary/identifier/value",
        EhicField::Expiry => "period/end",
    }
}

/// The EHIC in a Coverage body; `today` bounds its expiry.
pub fn ehic(top: &Map<String, Value>, today: NaiveDate) -> Result<Ehic, CoverageError> {
    if let Some(path) = first_missing(top) {
        return Err(missing(path));
    }
    if let Some(kind) = top.get("resourceType")
        && kind.as_str() != Some("Coverage")
    {
        return Err(invalid("resourceType", kind));
    }
    if top["status"].as_str() != Some("active") {
        return Err(invalid("status", &top["status"]));
    }
    single(top, "payor")?;
    single(top, "identifier")?;
    for path in OBJECTS {
        if let Some(value) = at(top, path)
            && !value.is_object()
        {
            return Err(invalid(path, value));
        }
    }
    if let Some(system) = at(top, "subscriber/identifier/system")
        && system.as_str() != Some(NHS_NUMBER)
    {
        return Err(invalid("subscriber/identifier/system", system));
    }
    let system_path = "identifier/0/assigner/identifier/system";
    if text(top, system_path)? != ISO_3166 {
        return Err(invalid(
            system_path,
            &top["identifier"][0]["assigner"]["identifier"]["system"],
        ));
    }
    let card_number = text(top, path_of(EhicField::CardNumber))?;
    let country = text(top, path_of(EhicField::Country))?;
    let institution = text(top, path_of(EhicField::Institution))?;
    let personal_id = text(top, path_of(EhicField::PersonalId))?;
    let end = text(top, path_of(EhicField::Expiry))?;
    let expires = (end.len() == 10)
        .then(|| NaiveDate::parse_from_str(end, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| CoverageError::InvalidValue {
            field: path_of(EhicField::Expiry).into(),
            value: end.to_owned(),
        })?;
    Ehic::new(
        card_number,
        country,
        institution,
        personal_id,
        expires,
        today,
    )
    .map_err(|e| CoverageError::InvalidValue {
        field: path_of(e.field).into(),
        value: e.value,
    })
}

/// The Coverage resource of `subscriber`'s EHIC, as PDS renders it.
pub fn render(subscriber: NhsNumber, ehic: &Ehic) -> Value {
    json!({
        "resourceType": "Coverage",
        "status": "active",
        "subscriber": {
            "identifier": {"system": NHS_NUMBER, "value": subscriber.to_string()},
            "type": "Patient",
        },
        "beneficiary": {
            "identifier": {"value": ehic.personal_id()},
            "type": "Patient",
        },
        "identifier": [{
            "value": ehic.card_number(),
            "assigner": {
                "identifier": {"system": ISO_3166, "value": ehic.country().code()},
                "display": ehic.country().name(),
            },
        }],
        "payor": [{"identifier": {"value": ehic.institution()}}],
        "period": {"end": date(&ehic.expires())},
    })
}

/// The `CoverageSearch` bundle: the record's version in `meta.versionId`
/// (also without an EHIC: it is what `If-Match` takes), and the EHIC if
/// there is one, under `<base>/Coverage?subscriber:identifier=<number>`.
pub fn bundle(
    now: &DateTime<Utc>,
    base: &str,
    subscriber: NhsNumber,
    version: u32,
    ehic: Option<&Ehic>,
) -> Value {
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(now),
        "meta": {"versionId": version.to_string()},
        "total": usize::from(ehic.is_some()),
    });
    if let Some(ehic) = ehic {
        bundle["entry"] = json!([{
            "fullUrl": format!("{base}/Coverage?subscriber:identifier={subscriber}"),
            "resource": render(subscriber, ehic),
        }]);
    }
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: &str = "2026-12-01";

    fn today() -> NaiveDate {
        NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").unwrap()
    }

    /// The Postman collection's "Add Coverage" body, with a real country.
    fn sent() -> Value {
        json!({
            "resourceType": "Coverage",
            "identifier": [{"value": "291234567890121234", "assigner": {"identifier": {"system": ISO_3166, "value": "DEU"}}}],
            "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.eu/CodeSystem/v3-ActCode", "code": "EHIC", "display": "European Health Insurance Card"}]},
            "beneficiary": {"identifier": {"value": "9876543218"}},
            "period": {"end": "2026-08-20"},
            "payor": [{"identifier": {"value": "DE98735"}}],
            "subscriber": {"identifier": {"system": NHS_NUMBER, "value": "9000000009"}},
        })
    }

    fn parsed(body: &Value) -> Result<Ehic, CoverageError> {
        ehic(body.as_object().unwrap(), today())
    }

    fn without(path: &str) -> Value {
        let mut body = sent();
        let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
        let pointer = if parent.is_empty() {
            String::new()
        } else {
            format!("/{parent}")
        };
        body.pointer_mut(&pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        body
    }

    fn with(path: &str, value: Value) -> Value {
        let mut body = sent();
        *body.pointer_mut(&format!("/{path}")).unwrap() = value;
        body
    }

    #[test]
    fn a_full_body_reads_into_an_ehic_and_renders_back() {
        let ehic = parsed(&sent()).unwrap();
        assert_eq!(ehic.card_number(), "291234567890121234");
        assert_eq!(ehic.country().code(), "DEU");
        let n = subscriber(sent().as_object().unwrap()).unwrap();
        assert_eq!(n.to_string(), "9000000009");
        let shown = render(n, &ehic);
        assert_eq!(shown["identifier"][0]["assigner"]["display"], "Germany");
        assert_eq!(shown["payor"][0]["identifier"]["value"], "DE98735");
        assert_eq!(shown["beneficiary"]["identifier"]["value"], "9876543218");
        assert_eq!(shown["period"]["end"], "2026-08-20");
        assert_eq!(shown["subscriber"]["identifier"]["value"], "9000000009");
    }

    #[test]
    fn the_sandbox_stub_is_rendered_exactly() {
        let stub: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/coverage/patient_with_coverage_9000000009.json"
        ))
        .unwrap();
        let ehic = parsed(&stub["entry"][0]["resource"]).unwrap();
        let n = NhsNumber::parse("9000000009").unwrap();
        let at = DateTime::parse_from_rfc3339("2025-01-21T14:57:56+00:00")
            .unwrap()
            .to_utc();
        let base = "https://api.service.nhs.uk/personal-demographics/FHIR/R4";
        assert_eq!(bundle(&at, base, n, 2, Some(&ehic)), stub);
    }

    #[test]
    fn missing_values_are_named_by_path_in_schema_order() {
        for path in [
            "status",
            "beneficiary/identifier/value",
            "payor",
            "identifier/0/value",
            "identifier/0/assigner",
            "period/end",
        ] {
            let body = match path.split_once("/0/") {
                Some((list, rest)) => {
                    let mut b = sent();
                    b[list][0]
                        .as_object_mut()
                        .unwrap()
                        .remove(rest.split('/').next().unwrap());
                    b
                }
                None => without(path),
            };
            assert_eq!(
                parsed(&body),
                Err(CoverageError::MissingValue(path.into())),
                "{path}"
            );
        }
        // The first missing in order wins.
        let mut body = without("period");
        body.as_object_mut().unwrap().remove("status");
        assert_eq!(
            parsed(&body),
            Err(CoverageError::MissingValue("status".into()))
        );
        assert_eq!(
            subscriber(without("subscriber/identifier").as_object().unwrap()),
            Err(CoverageError::MissingValue("subscriber/identifier".into()))
        );
    }

    #[test]
    fn wrong_values_are_named_with_the_value_sent() {
        let cases = [
            ("period/end", json!("1860-12-15"), "1860-12-15"),
            ("period/end", json!("2026-8-20"), "2026-8-20"),
            ("payor/0/identifier/value", json!(""), ""),
            ("identifier/0/value", json!("ES_1"), "ES_1"),
            ("identifier/0/value", json!(12345), "12345"),
            (
                "identifier/0/assigner/identifier/value",
                json!("FAU"),
                "FAU",
            ),
            (
                "identifier/0/assigner/identifier/system",
                json!("urn:x"),
                "urn:x",
            ),
            (
                "beneficiary/identifier/value",
                json!("1".repeat(26)),
                &"1".repeat(26),
            ),
            ("status", json!("Expired"), "Expired"),
            ("resourceType", json!("Patient"), "Patient"),
            ("period", json!("2026-08-20"), "2026-08-20"),
        ];
        for (path, value, shown) in cases {
            assert_eq!(
                parsed(&with(path, value)),
                Err(CoverageError::InvalidValue {
                    field: path.into(),
                    value: shown.into()
                }),
                "{path}"
            );
        }
    }

    #[test]
    fn payor_and_identifier_hold_exactly_one_item() {
        let two =
            json!([{"identifier": {"value": "DE98765"}}, {"identifier": {"value": "FR98765"}}]);
        assert_eq!(
            parsed(&with("payor", two)),
            Err(CoverageError::TooManyValues {
                field: "payor".into(),
                values:
                    "[{'identifier': {'value': 'DE98765'}}, {'identifier': {'value': 'FR98765'}}]"
                        .into(),
            })
        );
        assert_eq!(
            parsed(&with("identifier", json!([]))),
            Err(CoverageError::TooFewValues {
                field: "identifier".into(),
                values: "[]".into()
            })
        );
    }

    #[test]
    fn the_subscriber_must_be_a_valid_nhs_number() {
        for value in [
            json!("9000000000"),
            json!(9000000009_u64),
            json!("900000000"),
        ] {
            let body = with("subscriber/identifier/value", value);
            assert_eq!(
                subscriber(body.as_object().unwrap()),
                Err(CoverageError::InvalidNhsNumber)
            );
        }
    }

    #[test]
    fn a_body_that_is_no_object_is_an_invalid_update() {
        assert!(matches!(body(b"[1]"), Err(CoverageError::Invalid(_))));
        assert!(matches!(body(b"{"), Err(CoverageError::Invalid(_))));
        assert!(body(sent().to_string().as_bytes()).is_ok());
    }
}
