//! FHIR `OperationOutcome` with one issue coded in the Spine error system.

use serde_json::{Value, json};

use super::urls::SPINE_ERROR;

/// One issue: FHIR severity and issue type, Spine code and display.
pub struct Issue<'a> {
    pub severity: &'static str,
    pub code: &'static str,
    pub spine_code: &'static str,
    pub display: &'a str,
    pub diagnostics: Option<&'a str>,
}

pub fn render(issue: &Issue<'_>) -> Value {
    let mut entry = json!({
        "severity": issue.severity,
        "code": issue.code,
        "details": {"coding": [{
            "system": SPINE_ERROR,
            "version": "1",
            "code": issue.spine_code,
            "display": issue.display
        }]}
    });
    if let Some(d) = issue.diagnostics {
        entry["diagnostics"] = json!(d);
    }
    json!({"resourceType": "OperationOutcome", "issue": [entry]})
}
