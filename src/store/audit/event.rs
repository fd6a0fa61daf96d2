//! What the trail records of a request.

use chrono::{DateTime, Utc};

/// One audited request. Holds identifiers only: never a token, never patient
/// data beyond the NHS numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    /// "healthcare-worker" | "application-restricted" |
    /// "privileged-application" | "patient-access" | "unknown-scope" (a
    /// token that verified but names no scope of this API) |
    /// "unauthenticated" (no token verified)
    pub access_mode: String,
    pub user_id: Option<String>,
    /// The CIS2 `person_roleid` of the selected role.
    pub role_id: Option<String>,
    /// e.g. `S8000:G8000:R8000`
    pub role_code: Option<String>,
    pub org_code: Option<String>,
    /// The client application.
    pub client_id: Option<String>,
    /// The access level used, e.g. "staff_view".
    pub level: Option<String>,
    /// "retrieve" | "search" | "update" | "create" | "history" | "related" |
    /// "coverage" | "update-coverage" (the EHIC read and changed) |
    /// "update-replay" | "create-replay" | "update-coverage-replay" (a retry
    /// answered from a kept answer)
    pub action: String,
    pub nhs_numbers: Vec<i64>,
    pub status: u16,
    pub redacted: bool,
    /// A restricted record was returned unredacted.
    pub sensitive_override: bool,
}
