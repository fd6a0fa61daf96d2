//! Every error the API returns, and its one mapping to HTTP status and a
//! FHIR OperationOutcome. Handlers return `ApiError`; none builds error JSON.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use super::FHIR_JSON;
use crate::fhir::outcome::{self, Issue};
use crate::store::db::DbError;

/// Seconds a client should wait before retrying a 503 (PDS sends 5).
pub const RETRY_AFTER_SECS: u32 = 5;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("X-Request-ID missing")]
    MissingRequestId,
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
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

struct Spec {
    status: StatusCode,
    severity: &'static str,
    code: &'static str,
    spine_code: &'static str,
    display: &'static str,
}

const fn spec(
    status: StatusCode,
    severity: &'static str,
    code: &'static str,
    spine_code: &'static str,
    display: &'static str,
) -> Spec {
    Spec {
        status,
        severity,
        code,
        spine_code,
        display,
    }
}

impl ApiError {
    fn spec(&self) -> Spec {
        use StatusCode as S;
        match self {
            Self::MissingRequestId => spec(
                S::BAD_REQUEST,
                "error",
                "required",
                "MISSING_VALUE",
                "Required value is missing",
            ),
            Self::InvalidRequestId(_) => spec(
                S::BAD_REQUEST,
                "error",
                "value",
                "INVALID_VALUE",
                "Provided value is invalid",
            ),
            Self::InvalidResourceId => spec(
                S::BAD_REQUEST,
                "error",
                "value",
                "INVALID_RESOURCE_ID",
                "Resource Id is invalid",
            ),
            Self::NotFound => spec(
                S::NOT_FOUND,
                "information",
                "not-found",
                "RESOURCE_NOT_FOUND",
                "Resource not found",
            ),
            Self::Invalidated => spec(
                S::NOT_FOUND,
                "error",
                "processing",
                "INVALIDATED_RESOURCE",
                "Resource that has been marked as invalid was requested - invalid resources cannot be retrieved",
            ),
            Self::UnsupportedRequest(_) => spec(
                S::BAD_REQUEST,
                "error",
                "value",
                "UNSUPPORTED_REQUEST",
                "The request is not one that is supported.",
            ),
            Self::UnsupportedService => spec(
                S::BAD_REQUEST,
                "error",
                "processing",
                "UNSUPPORTED_SERVICE",
                "Unsupported Service",
            ),
            Self::Unavailable(_) => spec(
                S::SERVICE_UNAVAILABLE,
                "error",
                "timeout",
                "SERVICE_UNAVAILABLE",
                "Service unavailable",
            ),
            Self::Internal(_) => spec(
                S::INTERNAL_SERVER_ERROR,
                "error",
                "unknown",
                "UNKNOWN_ERROR",
                "Unknown Error",
            ),
        }
    }

    fn diagnostics(&self) -> Option<String> {
        match self {
            Self::MissingRequestId => Some(
                "Invalid request with error - X-Request-ID header must be supplied to access this resource"
                    .into(),
            ),
            Self::InvalidRequestId(value) => {
                Some(format!("Invalid value - '{value}' in header 'X-Request-ID'"))
            }
            Self::UnsupportedRequest(path) => Some(format!("Unsupported path - '{path}'")),
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
            Self::Internal(cause) => tracing::error!(%cause, "answering 500"),
            _ => {}
        }
        let diagnostics = self.diagnostics();
        let body = outcome::render(&Issue {
            severity: spec.severity,
            code: spec.code,
            spine_code: spec.spine_code,
            display: spec.display,
            diagnostics: diagnostics.as_deref(),
        });
        let mut response = HttpResponse::build(spec.status);
        response.content_type(FHIR_JSON);
        if spec.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
        }
        response.json(body)
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(cause) => Self::Unavailable(cause),
            other => Self::Internal(other.to_string()),
        }
    }
}
