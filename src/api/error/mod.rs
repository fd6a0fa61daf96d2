//! Every error the API returns, and its one mapping to HTTP status and a
//! FHIR OperationOutcome. Handlers return `ApiError`; none builds error JSON.
//! The Spine codes are in [`spine`]; what the other layers' errors become,
//! in `from`.

mod from;
pub mod spine;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use super::FHIR_JSON;
use crate::fhir::outcome::{self, Issue};
use spine::{Spec, Spine};

/// What went wrong behind a 500: logged with its sources, never shown.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Seconds a client should wait before retrying a 503 (PDS sends 5).
pub const RETRY_AFTER_SECS: u32 = 5;

/// Where PDS points callers for the rules on headers and access.
pub const GUIDANCE: &str =
    "https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no usable bearer token; the text is the PDS diagnostics.
    #[error("unauthorised: {0}")]
    Unauthorized(String),
    /// 403 for NHS login callers: below P9, or another person's record.
    #[error("patient access denied")]
    PatientForbidden,
    /// 403: authenticated, but no access level allows this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 400: NHSD-Session-URID names no role of the user (or is needed).
    #[error("invalid NHSD-Session-URID")]
    InvalidRole(String),
    /// 403: this access mode may not use this method ("update", "create").
    #[error("method not allowed for this access mode")]
    InvalidMethod {
        verb: &'static str,
        token_kind: &'static str,
    },
    /// 403 ACCESS_DENIED: this access mode may not use this resource at
    /// all (`/Coverage` outside patient access); `verb` is the HTTP method.
    #[error("resource not allowed for this access mode")]
    ModeNotAllowed {
        verb: &'static str,
        token_kind: &'static str,
    },
    #[error("X-Request-ID missing")]
    MissingRequestId,
    /// 400: a retry's X-Request-ID was used for a different request.
    #[error("X-Request-ID reused")]
    RequestIdReused(String),
    /// 412: an update without `If-Match`.
    #[error("If-Match missing")]
    PreconditionFailed,
    /// 412: `If-Match` not of the form `W/"<version>"` (PDS's published
    /// scenarios answer it as a missing one).
    #[error("malformed If-Match")]
    IfMatchMalformed,
    /// 409: `If-Match` names an old version.
    #[error("version mismatch")]
    VersionMismatch,
    /// 400 INVALID_UPDATE: `Invalid update with error - <reason>`.
    #[error("invalid update: {0}")]
    InvalidUpdate(String),
    /// 403 FORBIDDEN_UPDATE (severity information).
    #[error("forbidden update: {0}")]
    ForbiddenUpdate(String),
    /// 400 MISSING_VALUE `Missing value - '<field>'`.
    #[error("missing value {0}")]
    MissingValue(String),
    /// 400 TOO_MANY_VALUES_SUBMITTED.
    #[error("too many values in {0}")]
    TooManyValues(String),
    /// 400: query parameters the search does not know.
    #[error("unknown parameters")]
    AdditionalProperties(Vec<String>),
    /// 400: `Invalid value - '<value>' in field '<field>'`.
    #[error("invalid value in {field}")]
    InvalidValue { field: String, value: String },
    /// 400: a search without a birth date.
    #[error("missing birth date")]
    MissingBirthDate,
    /// 400 INVALID_SEARCH_DATA with the reason.
    #[error("invalid search data: {0}")]
    InvalidSearchData(String),
    /// 200 (sic): more matches than `_max-results`.
    #[error("too many matches")]
    TooManyMatches,
    /// 403: application-restricted callers may only ask for one result.
    #[error("application may not ask for more than one result")]
    SingleResultOnly { token_kind: &'static str },
    #[error("X-Request-ID invalid")]
    InvalidRequestId(String),
    #[error("invalid NHS number in path")]
    InvalidResourceId,
    #[error("patient not found")]
    NotFound,
    #[error("patient invalidated")]
    Invalidated,
    #[error("unsupported path {0}")]
    UnsupportedRequest(String),
    #[error("unsupported service")]
    UnsupportedService,
    /// 400 INVALID_CREATE: `Invalid patient create data provided - '<reason>'`.
    #[error("invalid create: {0}")]
    InvalidCreate(String),
    /// 200 (sic): a create whose demographics match one patient (the number).
    #[error("single match")]
    SingleMatch(String),
    /// 200 MULTIPLE_MATCHES (sic): the demographics match only records the
    /// caller may not see in full. Neither which, how many nor where is said.
    #[error("match withheld")]
    MatchWithheld,
    /// 400: a birth registration whose delivery (live or still) and the
    /// baby's death disagree.
    #[error("birth and death status inconsistent")]
    BirthDeathInconsistent,
    /// 200 (sic): a create whose demographics match several patients.
    #[error("multiple matches")]
    MultipleMatches,
    /// 400 TOO_MANY_VALUES_SUBMITTED with the values, as PDS shows them
    /// (`['One', 'Two', …]`).
    #[error("too many values in {field}")]
    TooManyItems { field: String, values: String },
    /// 400 TOO_FEW_VALUES_SUBMITTED with the values (`[]`).
    #[error("too few values in {field}")]
    TooFewItems { field: String, values: String },
    /// 503: the NHS number allocation range (shown) is used up.
    #[error("allocation range {0} exhausted")]
    AllocationExhausted(String),
    /// 503: the database is unreachable or busy, or the audit trail cannot
    /// be written (the cause is logged).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: a fault of the service. The cause is logged with the request,
    /// whose X-Request-ID the answer asks the client to quote.
    #[error("internal error")]
    Internal(#[source] Cause),
    /// 429: the caller is over its rate limit (see `limits`); `client` names
    /// it, `retry_after` is whole seconds (at least 1).
    #[error("too many requests from {client}")]
    TooManyRequests {
        client: String,
        per_second: u32,
        retry_after: u64,
    },
    /// 413: a request body larger than `MAX_BODY_BYTES`.
    #[error("request body over {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 408: the request body did not arrive in time (`idle`: a pause
    /// between two parts too long, else the whole body too slow); `ms` is
    /// the limit that ran out.
    #[error("request body too slow")]
    BodyTimeout { idle: bool, ms: u128 },
    /// The HTTP parser's own refusal, answered at the connection (see
    /// `wire::Refusals`): 400 a malformed request line or header (a URL
    /// of 65,534 bytes or more, text that is not UTF-8), 431 a head over
    /// its limits, 408 a head not received in time.
    #[error("request refused by the HTTP parser ({status})")]
    Unparsed { status: u16 },
}

/// Marks, in the response extensions, an answer the service gave because
/// of its own failure, for the metrics: `"unavailable"` (503, database
/// unreachable or busy) or `"internal"` (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerFault(pub &'static str);

impl ApiError {
    /// The Spine code this error is answered with.
    pub fn spine(&self) -> Spine {
        use Spine as C;
        match self {
            Self::Unauthorized(_)
            | Self::PatientForbidden
            | Self::Forbidden(_)
            | Self::ModeNotAllowed { .. } => C::AccessDenied,
            Self::InvalidRole(_)
            | Self::RequestIdReused(_)
            | Self::InvalidValue { .. }
            | Self::SingleResultOnly { .. }
            | Self::InvalidRequestId(_) => C::InvalidValue,
            Self::InvalidMethod { .. } => C::InvalidMethod,
            Self::MissingRequestId | Self::MissingValue(_) | Self::MissingBirthDate => {
                C::MissingValue
            }
            Self::PreconditionFailed | Self::IfMatchMalformed => C::PreconditionFailed,
            Self::VersionMismatch => C::ResourceVersionMismatch,
            Self::InvalidUpdate(_) => C::InvalidUpdate,
            Self::ForbiddenUpdate(_) => C::ForbiddenUpdate,
            Self::TooManyValues(_) | Self::TooManyItems { .. } => C::TooManyValuesSubmitted,
            Self::TooFewItems { .. } => C::TooFewValuesSubmitted,
            Self::AdditionalProperties(_) => C::AdditionalProperties,
            Self::InvalidSearchData(_) => C::InvalidSearchData,
            Self::TooManyMatches => C::TooManyMatches,
            Self::InvalidResourceId => C::InvalidResourceId,
            Self::NotFound => C::ResourceNotFound,
            Self::Invalidated => C::InvalidatedResource,
            Self::UnsupportedRequest(_) => C::UnsupportedRequest,
            Self::UnsupportedService => C::UnsupportedService,
            Self::InvalidCreate(_) => C::InvalidCreate,
            Self::SingleMatch(_) => C::SingleMatch,
            Self::BirthDeathInconsistent => C::InsertBirthDeathStatusInconsistent,
            Self::MultipleMatches | Self::MatchWithheld => C::MultipleMatches,
            Self::AllocationExhausted(_) | Self::Unavailable(_) => C::ServiceUnavailable,
            Self::Internal(_) => C::UnknownError,
            Self::TooManyRequests { .. } => C::TooManyRequests,
            Self::PayloadTooLarge { .. } => C::RequestTooLarge,
            // Here the service could not be called because the request
            // never arrived whole.
            Self::BodyTimeout { .. } | Self::Unparsed { status: 408 } => C::UnableToCallService,
            Self::Unparsed { status: 431 } => C::RequestTooLarge,
            Self::Unparsed { .. } => C::InvalidValue,
        }
    }

    /// How this error is answered: its code's entry, and where PDS answers
    /// this error otherwise than the code's other errors, the difference.
    fn spec(&self) -> Spec {
        let spec = self.spine().spec();
        match self {
            Self::Unauthorized(_) => spec.with_status(StatusCode::UNAUTHORIZED),
            Self::PatientForbidden => spec.with_display("Patient cannot perform this action"),
            // The display names the mode (`display`).
            Self::SingleResultOnly { .. } => {
                spec.with_status(StatusCode::FORBIDDEN).with_issue("token")
            }
            // A used-up range, not a database that may come back.
            Self::AllocationExhausted(_) => spec.with_issue("exception"),
            Self::Unparsed { status: 431 } => {
                spec.with_status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            }
            _ => spec,
        }
    }

    /// Most displays are fixed per code; INVALID_METHOD names the mode.
    fn display(&self) -> String {
        match self {
            Self::InvalidMethod { verb, token_kind }
            | Self::ModeNotAllowed { verb, token_kind } => {
                format!("Cannot {verb} resource with {token_kind} access token")
            }
            Self::SingleResultOnly { token_kind } => {
                format!("Cannot retrieve more than one result with {token_kind} access token")
            }
            other => other.spec().display.to_owned(),
        }
    }

    fn diagnostics(&self) -> Option<String> {
        match self {
            Self::Unauthorized(text) | Self::Forbidden(text) => Some(text.clone()),
            Self::RequestIdReused(id) => Some(format!(
                "Invalid value - '{id}' in header 'X-Request-ID': it was used within the last 24 hours for a different request; send a new X-Request-ID for a new request (reuse one only to retry the same request)"
            )),
            Self::PreconditionFailed => Some(
                "Invalid request with error - If-Match header must be supplied to update this resource"
                    .into(),
            ),
            Self::IfMatchMalformed => Some(
                "Invalid request with error - If-Match header must be of the form W/\"<version>\""
                    .into(),
            ),
            Self::InvalidUpdate(reason) => Some(format!("Invalid update with error - {reason}")),
            Self::ForbiddenUpdate(reason) => {
                Some(format!("Forbidden update with error - {reason}"))
            }
            Self::MissingValue(field) => Some(format!("Missing value - '{field}'")),
            Self::TooManyValues(field) => {
                Some(format!("Too many values submitted in field '{field}'"))
            }
            Self::AdditionalProperties(names) => {
                let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
                let verb = if names.len() == 1 { "was" } else { "were" };
                Some(format!(
                    "Invalid request with error - Additional properties are not allowed ({} {verb} unexpected)",
                    quoted.join(", ")
                ))
            }
            Self::InvalidValue { field, value } => {
                Some(format!("Invalid value - '{value}' in field '{field}'"))
            }
            Self::MissingBirthDate => Some(
                "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'".into(),
            ),
            Self::InvalidSearchData(reason) => {
                Some(format!("Invalid search data provided - '{reason}'"))
            }
            Self::SingleResultOnly { .. } => Some(
                "Your app has insufficient permissions to perform this search. Please contact support."
                    .into(),
            ),
            Self::PatientForbidden => Some(format!(
                "Your access token has insufficient permissions. See documentation regarding Patient access restrictions {GUIDANCE}"
            )),
            Self::InvalidRole(urid) => Some(format!(
                "Invalid value - '{urid}' in header 'NHSD-Session-URID'. Refer to the guidance for this header in our API Specification {GUIDANCE}"
            )),
            Self::InvalidMethod { .. } => Some(
                "Your app has insufficient permissions to use this method. Please contact support.".into(),
            ),
            Self::ModeNotAllowed { .. } => Some(
                "Your app has insufficient permissions to use this operation. Please contact support.".into(),
            ),
            Self::MissingRequestId => Some(
                "Invalid request with error - X-Request-ID header must be supplied to access this resource"
                    .into(),
            ),
            Self::InvalidRequestId(value) => {
                Some(format!("Invalid value - '{value}' in header 'X-Request-ID'"))
            }
            Self::UnsupportedRequest(path) => Some(format!("Unsupported path - '{path}'")),
            Self::InvalidCreate(reason) => Some(format!(
                "Invalid patient create data provided - '{reason}'"
            )),
            Self::SingleMatch(nhs_number) => Some(format!(
                "Unable to create new patient. NHS number {nhs_number} found for supplied demographic data."
            )),
            Self::BirthDeathInconsistent => Some("Insert Birth - Death Status Inconsistent".into()),
            Self::MatchWithheld => Some(
                "Unable to create new patient. The supplied demographic data may match a record that cannot be shown with this access. Ask a user with access to sensitive records to trace the patient."
                    .into(),
            ),
            Self::MultipleMatches => Some(
                "Unable to create new patient. Multiple matches found for supplied demographic data."
                    .into(),
            ),
            Self::TooManyItems { field, values } => Some(format!(
                "Too many values submitted - {values} in field '{field}'"
            )),
            Self::TooFewItems { field, values } => Some(format!(
                "Too few values submitted - {values} in field '{field}'"
            )),
            Self::AllocationExhausted(range) => Some(format!(
                "No NHS number is left to allocate: the allocation range {range} is used up, \
                 so no patient was created. The service operator must configure a new range \
                 (ALLOCATION_RANGE)."
            )),
            Self::Unavailable(_) => Some(format!(
                "The service is temporarily unable to process this request. Using the same \
                 'X-Request-ID' header, retry your request after the time specified by the \
                 'Retry-After' response header ({RETRY_AFTER_SECS} seconds)."
            )),
            Self::Internal(_) => Some(
                "An unknown error occurred processing this request. Contact the service \
                 operator with the X-Request-ID of this request."
                    .into(),
            ),
            Self::TooManyRequests {
                client, per_second, ..
            } => Some(format!(
                "Your application, {client}, has exceeded its quota of {per_second} requests every 1 second(s) and is being rate limited. Please see: https://digital.nhs.uk/developer/guides-and-documentation/reference-guide#rate-limits for more details."
            )),
            Self::PayloadTooLarge { limit } => Some(format!(
                "Invalid request with error - the request body is larger than the limit of {limit} bytes"
            )),
            Self::BodyTimeout { idle: false, ms } => Some(format!(
                "Invalid request with error - the request body did not arrive within {ms} ms; \
                 nothing was done. Send the whole request again, faster."
            )),
            Self::BodyTimeout { idle: true, ms } => Some(format!(
                "Invalid request with error - no part of the request body arrived for {ms} ms; \
                 nothing was done. Send the whole request again, without pauses."
            )),
            Self::Unparsed { status: 408 } => Some(
                "Invalid request with error - the request line and headers did not arrive in time; \
                 nothing was done. Send the whole request again, faster."
                    .into(),
            ),
            Self::Unparsed { status: 431 } => Some(
                "Invalid request with error - the request line and headers are too large \
                 (over 128 KiB, or more than 96 headers)"
                    .into(),
            ),
            Self::Unparsed { .. } => Some(
                "Invalid request with error - the request line or a header cannot be read: it is \
                 malformed or not UTF-8, or the URL is longer than 65,533 bytes"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.spec().status
    }

    fn error_response(&self) -> HttpResponse {
        let spec = self.spec();
        match self {
            Self::Unavailable(cause) => tracing::warn!(%cause, "answering 503"),
            Self::Internal(cause) => {
                tracing::error!(cause = %Chain(cause.as_ref()), "answering 500");
            }
            _ => {}
        }
        let diagnostics = self.diagnostics();
        let display = self.display();
        let body = outcome::render(&Issue {
            severity: spec.severity,
            code: spec.issue,
            spine_code: spec.code,
            display: &display,
            diagnostics: diagnostics.as_deref(),
        });
        let mut response = HttpResponse::build(spec.status);
        response.content_type(FHIR_JSON);
        if spec.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
        }
        if let Self::TooManyRequests { retry_after, .. } = self {
            response.insert_header((header::RETRY_AFTER, (*retry_after).max(1).to_string()));
        }
        match self {
            Self::Unavailable(_) => {
                response.extensions_mut().insert(ServerFault("unavailable"));
            }
            Self::Internal(_) => {
                response.extensions_mut().insert(ServerFault("internal"));
            }
            _ => {}
        }
        response.json(body)
    }
}

/// An error and its sources, `: `-separated, as one log field.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the row")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_logged_cause_carries_the_whole_chain() {
        let error = ApiError::Internal(Box::new(Outer(std::io::Error::other("disk on fire"))));
        let ApiError::Internal(cause) = &error else {
            unreachable!()
        };
        assert_eq!(
            Chain(cause.as_ref()).to_string(),
            "reading the row: disk on fire"
        );
        // The client is told to quote its request id, not the cause.
        let shown = error.diagnostics().unwrap();
        assert!(
            shown.contains("X-Request-ID") && !shown.contains("disk"),
            "{shown}"
        );
        assert_eq!(error.spec().status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
