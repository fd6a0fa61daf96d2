//! The `CapabilityStatement` served at `GET /metadata`: what this server
//! implements of the FHIR RESTful API.

use serde_json::{Value, json};

/// Every `GET /Patient` search parameter (the names `domain::search::params`
/// accepts) with its FHIR search type and what it matches.
pub const SEARCH_PARAMETERS: [(&str, &str, &str); 14] = [
    (
        "family",
        "string",
        "Family name; wildcards (`*`) after the first two characters",
    ),
    (
        "given",
        "string",
        "Given name; repeat for further given names",
    ),
    ("gender", "token", "male | female | other | unknown"),
    (
        "birthdate",
        "date",
        "Date of birth (`eq`, or a `ge`/`le` range); required",
    ),
    ("death-date", "date", "Date of death (`eq`, `ge`, `le`)"),
    ("address-postalcode", "string", "Postcode of an address"),
    (
        "address-postcode",
        "string",
        "Deprecated alias of address-postalcode",
    ),
    (
        "general-practitioner",
        "reference",
        "ODS code of the registered GP practice",
    ),
    ("email", "token", "Email address, exact"),
    ("phone", "token", "Phone number, exact"),
    (
        "_fuzzy-match",
        "token",
        "true for a fuzzy (phonetic) search",
    ),
    ("_exact-match", "token", "true to require exact matches"),
    ("_history", "token", "true to also match historic data"),
    ("_max-results", "number", "Most results to return (1-50)"),
];

/// Interactions on `Patient`.
pub const INTERACTIONS: [&str; 6] = [
    "read",
    "vread",
    "history-instance",
    "search-type",
    "patch",
    "create",
];

/// Interactions on `Coverage` (a patient's EHIC): the one search, and the
/// POST that sets it.
pub const COVERAGE_INTERACTIONS: [&str; 2] = ["search-type", "create"];

/// The `Coverage` entry: patient access only, one search parameter.
fn coverage() -> Value {
    let interactions: Vec<Value> = COVERAGE_INTERACTIONS
        .iter()
        .map(|code| json!({ "code": code }))
        .collect();
    json!({
        "type": "Coverage",
        "documentation": "A patient's European Health Insurance Card (EHIC/GHIC), for patient access (NHS login) only, on their own record. POST /Coverage sets it (with If-Match: the record's version), as a new version of the patient record.",
        "interaction": interactions,
        "versioning": "versioned",
        "updateCreate": false,
        "conditionalCreate": false,
        "conditionalUpdate": false,
        "conditionalDelete": "not-supported",
        "searchParam": [{
            "name": "subscriber",
            "type": "reference",
            "documentation": "Only as subscriber:identifier=<NHS number>, the caller's own, and alone",
        }],
    })
}

/// The statement, with `base` the server's own URL and `date` its instant.
pub fn statement(base: &str, date: &str) -> Value {
    let version = env!("CARGO_PKG_VERSION");
    let interactions: Vec<Value> = INTERACTIONS
        .iter()
        .map(|code| json!({ "code": code }))
        .collect();
    let params: Vec<Value> = SEARCH_PARAMETERS
        .iter()
        .map(|(name, kind, doc)| json!({ "name": name, "type": kind, "documentation": doc }))
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "pds",
        "kind": "instance",
        "software": { "name": env!("CARGO_PKG_NAME"), "version": version },
        "implementation": {
            "description": "Patient demographics service modelled on the NHS PDS FHIR API",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "description": "OAuth 2.0 bearer tokens (Authorization: Bearer <token>); every Patient request also needs an X-Request-ID UUID",
            },
            "resource": [{
                "type": "Patient",
                "interaction": interactions,
                "versioning": "versioned",
                "readHistory": true,
                "updateCreate": false,
                "conditionalCreate": false,
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
                "searchParam": params,
                "operation": [{
                    "name": "process-birth-details",
                    "definition": format!("{base}/OperationDefinition/Patient-process-birth-details"),
                    "documentation": "POST /Patient/$process-birth-details: register a birth from a transaction Bundle (baby, mother, RelatedPerson, birth Observations, delivery Location); the baby gets a new NHS number and the mother becomes its related person",
                }],
            }, coverage()],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::SEARCH_PARAMETERS;
    use crate::domain::search::params::{SearchError, parse};

    #[test]
    fn every_listed_parameter_is_one_the_search_accepts() {
        for (name, _, _) in SEARCH_PARAMETERS {
            let result = parse(&[(name.to_owned(), "x".to_owned())]);
            assert!(
                !matches!(result, Err(SearchError::AdditionalProperties(_))),
                "{name} is not a search parameter"
            );
        }
    }
}
