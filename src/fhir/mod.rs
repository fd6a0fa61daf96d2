//! Rendering domain values as FHIR R4 JSON, and reading FHIR JSON back:
//! a Patient (`parse`), a PatientCreateRequest (`create`) and a patched
//! record (`patch`).

pub mod birth;
pub mod bundle;
pub mod capability;
pub mod coverage;
pub mod create;
pub mod outcome;
pub mod parse;
pub mod patch;
pub mod patient;
pub mod related;
pub mod urls;

use chrono::{DateTime, NaiveDate, Utc};

/// PDS writes instants as `2010-10-22T00:00:00+00:00`: UTC, no fraction.
pub fn instant(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

pub fn date(day: &NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}
