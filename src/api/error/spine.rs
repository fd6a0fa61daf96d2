//! The Spine error codes the service answers with, each written once: its
//! HTTP status, FHIR issue severity and type, and display. An [`ApiError`]
//! names its code; where PDS answers a code differently for one error, the
//! error says so explicitly (`ApiError::spec`).
//!
//! [`ApiError`]: super::ApiError

use actix_web::http::StatusCode;

/// How an answer is coded: a code's entry, with any departure applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub status: StatusCode,
    pub severity: &'static str,
    /// The FHIR issue type (`issue.code`).
    pub issue: &'static str,
    /// The Spine code (`issue.details.coding.code`).
    pub code: &'static str,
    pub display: &'static str,
}

impl Spec {
    pub const fn with_status(self, status: StatusCode) -> Self {
        Self { status, ..self }
    }

    pub const fn with_issue(self, issue: &'static str) -> Self {
        Self { issue, ..self }
    }

    pub const fn with_display(self, display: &'static str) -> Self {
        Self { display, ..self }
    }
}

macro_rules! spine {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:ident, $severity:literal, $issue:literal, $display:literal;)+) => {
        /// A code of the Spine-ErrorOrWarningCode system.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Spine { $($(#[$doc])* $variant),+ }

        impl Spine {
            pub const ALL: &'static [Spine] = &[$(Self::$variant),+];

            /// The code's entry: how PDS usually answers it.
            pub const fn spec(self) -> Spec {
                match self {
                    $(Self::$variant => Spec {
                        status: StatusCode::$status,
                        severity: $severity,
                        issue: $issue,
                        code: $code,
                        display: $display,
                    }),+
                }
            }
        }
    };
}

spine! {
    AccessDenied = "ACCESS_DENIED", FORBIDDEN, "error", "forbidden", "Access Denied - Unauthorised";
    InvalidValue = "INVALID_VALUE", BAD_REQUEST, "error", "value", "Provided value is invalid";
    /// The display names the verb and the access mode (`ApiError::display`).
    InvalidMethod = "INVALID_METHOD", FORBIDDEN, "error", "forbidden", "";
    MissingValue = "MISSING_VALUE", BAD_REQUEST, "error", "required", "Required value is missing";
    PreconditionFailed = "PRECONDITION_FAILED", PRECONDITION_FAILED, "error", "structure", "Required condition was not fulfilled";
    ResourceVersionMismatch = "RESOURCE_VERSION_MISMATCH", CONFLICT, "error", "conflict", "Resource version supplied does not match actual version";
    InvalidUpdate = "INVALID_UPDATE", BAD_REQUEST, "error", "structure", "Update is invalid";
    ForbiddenUpdate = "FORBIDDEN_UPDATE", FORBIDDEN, "information", "forbidden", "Update is forbidden";
    TooManyValuesSubmitted = "TOO_MANY_VALUES_SUBMITTED", BAD_REQUEST, "error", "value", "Too many values submitted";
    TooFewValuesSubmitted = "TOO_FEW_VALUES_SUBMITTED", BAD_REQUEST, "error", "value", "Too few values submitted";
    AdditionalProperties = "ADDITIONAL_PROPERTIES", BAD_REQUEST, "error", "invariant", "Additional properties should not be included";
    InvalidSearchData = "INVALID_SEARCH_DATA", BAD_REQUEST, "error", "value", "Search data is invalid";
    /// 200 (sic), as PDS.
    TooManyMatches = "TOO_MANY_MATCHES", OK, "information", "multiple-matches", "Too Many Matches";
    InvalidResourceId = "INVALID_RESOURCE_ID", BAD_REQUEST, "error", "value", "Resource Id is invalid";
    ResourceNotFound = "RESOURCE_NOT_FOUND", NOT_FOUND, "information", "not-found", "Resource not found";
    InvalidatedResource = "INVALIDATED_RESOURCE", NOT_FOUND, "error", "processing", "Resource that has been marked as invalid was requested - invalid resources cannot be retrieved";
    UnsupportedRequest = "UNSUPPORTED_REQUEST", BAD_REQUEST, "error", "value", "The request is not one that is supported.";
    UnsupportedService = "UNSUPPORTED_SERVICE", BAD_REQUEST, "error", "processing", "Unsupported Service";
    InvalidCreate = "INVALID_CREATE", BAD_REQUEST, "error", "value", "Patient create data is invalid";
    /// 200 (sic), as PDS.
    SingleMatch = "SINGLE_MATCH", OK, "error", "value", "Single match found";
    /// 200 (sic), as PDS.
    MultipleMatches = "MULTIPLE_MATCHES", OK, "error", "value", "Multiple matches found";
    /// A birth whose delivery and vital status disagree (display as PDS: the code).
    InsertBirthDeathStatusInconsistent = "INSERT_BIRTH_DEATH_STATUS_INCONSISTENT", BAD_REQUEST, "error", "processing", "INSERT_BIRTH_DEATH_STATUS_INCONSISTENT";
    ServiceUnavailable = "SERVICE_UNAVAILABLE", SERVICE_UNAVAILABLE, "error", "timeout", "Service unavailable";
    UnknownError = "UNKNOWN_ERROR", INTERNAL_SERVER_ERROR, "error", "unknown", "Unknown Error";
    TooManyRequests = "TOO_MANY_REQUESTS", TOO_MANY_REQUESTS, "error", "value", "Too many requests";
    RequestTooLarge = "REQUEST_TOO_LARGE", PAYLOAD_TOO_LARGE, "error", "too-long", "Request is too large";
    /// PDS's only 408 code.
    UnableToCallService = "UNABLE_TO_CALL_SERVICE", REQUEST_TIMEOUT, "error", "timeout", "Unable to call service";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_written_once() {
        let mut codes: Vec<&str> = Spine::ALL.iter().map(|s| s.spec().code).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before);
        assert!(
            codes.iter().all(|c| {
                !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            })
        );
    }
}
