//! FHIR `Bundle` of type `searchset`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::instant;

/// `entries` are (fullUrl, search score if any, resource), best first. With
/// no entries the `entry` key is left out, as PDS does.
pub fn searchset(now: &DateTime<Utc>, entries: Vec<(String, Option<f64>, Value)>) -> Value {
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(now),
        "total": entries.len(),
    });
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(
            entries
                .into_iter()
                .map(|(full_url, score, resource)| match score {
                    Some(score) => json!({"fullUrl": full_url, "search": {"score": score}, "resource": resource}),
                    None => json!({"fullUrl": full_url, "resource": resource}),
                })
                .collect(),
        );
    }
    bundle
}
