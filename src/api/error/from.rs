//! What the other layers' errors become on the wire.

use diesel::result::Error as DieselError;

use super::ApiError;
use crate::auth::caller::Denial;
use crate::domain::patch::PatchError;
use crate::domain::search::params::SearchError;
use crate::fhir::birth::BirthError;
use crate::fhir::coverage::CoverageError;
use crate::fhir::create::CreateError;
use crate::fhir::parse::ParseError;
use crate::store::db::{DbError, RunError};

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(cause) => Self::Unavailable(cause),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// So that a handler's transaction (`Connection::transaction`) can fail
/// with an `ApiError`, and roll back on it.
impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        DbError::from(error).into()
    }
}

/// A `Db::run` closure fails with `ApiError`; a transport failure of its
/// connection becomes `Unavailable` (and nothing else does, but the
/// service's own refusals, which happen outside those closures).
impl RunError for ApiError {
    fn connection_lost(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<Denial> for ApiError {
    fn from(denial: Denial) -> Self {
        match denial {
            Denial::NoApiScope => Self::Unauthorized("Invalid Access Token".into()),
            Denial::PatientNotAllowed => Self::PatientForbidden,
            Denial::InvalidRole(urid) => Self::InvalidRole(urid),
            Denial::NoAccessLevel(why) => Self::Forbidden(why),
        }
    }
}

impl From<ParseError> for ApiError {
    fn from(error: ParseError) -> Self {
        match error {
            ParseError::InvalidValue { field, value } => Self::InvalidValue { field, value },
            ParseError::AdditionalProperty { field } => Self::AdditionalProperties(vec![field]),
            ParseError::MissingValue { field } => Self::MissingValue(field),
            ParseError::TooManyValues { field } => Self::TooManyValues(field),
        }
    }
}

impl From<PatchError> for ApiError {
    fn from(error: PatchError) -> Self {
        match error {
            PatchError::NoPatches => Self::InvalidUpdate("No patches found".into()),
            PatchError::InvalidValue { field, value } => Self::InvalidValue { field, value },
            PatchError::Invalid(reason) => Self::InvalidUpdate(reason),
            PatchError::Forbidden(reason) => Self::ForbiddenUpdate(reason),
            PatchError::TooManyValues { field, values } => Self::TooManyItems { field, values },
        }
    }
}

impl From<BirthError> for ApiError {
    fn from(error: BirthError) -> Self {
        match error {
            BirthError::Create(error) => error.into(),
            BirthError::DeathStatusInconsistent => Self::BirthDeathInconsistent,
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(error: CreateError) -> Self {
        match error {
            CreateError::MissingValue(field) => Self::MissingValue(field),
            CreateError::InvalidValue { field, value } => Self::InvalidValue { field, value },
            CreateError::AdditionalProperties(names) => Self::AdditionalProperties(names),
            CreateError::TooManyValues { field, values } => Self::TooManyItems { field, values },
            CreateError::TooFewValues { field, values } => Self::TooFewItems { field, values },
            CreateError::Invalid(reason) => Self::InvalidCreate(reason),
        }
    }
}

const BELOW_MINIMUM: &str =
    "No searches were performed as the search criteria did not meet the minimum requirements";
const NOT_FUZZY: &str =
    "A fuzzy search was requested however the data given did not meet the fuzzy search criteria";

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::NoParameters => Self::UnsupportedService,
            SearchError::AdditionalProperties(names) => Self::AdditionalProperties(names),
            SearchError::InvalidValue { field, value } => Self::InvalidValue { field, value },
            SearchError::MissingBirthDate => Self::MissingBirthDate,
            SearchError::BelowMinimum => Self::InvalidSearchData(BELOW_MINIMUM.into()),
            SearchError::Conflicting(reason) => Self::InvalidSearchData(reason),
            SearchError::FuzzyCriteria => Self::InvalidSearchData(NOT_FUZZY.into()),
        }
    }
}

impl From<CoverageError> for ApiError {
    fn from(error: CoverageError) -> Self {
        match error {
            CoverageError::MissingValue(field) => Self::MissingValue(field),
            CoverageError::InvalidValue { field, value } => Self::InvalidValue { field, value },
            CoverageError::TooManyValues { field, values } => Self::TooManyItems { field, values },
            CoverageError::TooFewValues { field, values } => Self::TooFewItems { field, values },
            CoverageError::InvalidNhsNumber => Self::InvalidResourceId,
            CoverageError::Invalid(reason) => Self::InvalidUpdate(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::DatabaseErrorKind;
    use std::error::Error as _;

    #[test]
    fn a_lost_connection_stays_unavailable_and_other_faults_keep_their_source() {
        let closed = DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("server closed the connection unexpectedly".to_owned()),
        );
        let lost = ApiError::from(closed);
        assert!(matches!(&lost, ApiError::Unavailable(_)), "{lost:?}");
        assert!(lost.connection_lost());

        let fault = ApiError::from(DieselError::NotFound);
        assert!(!fault.connection_lost());
        let ApiError::Internal(cause) = &fault else {
            panic!("{fault:?}");
        };
        assert!(matches!(
            cause.downcast_ref::<DbError>(),
            Some(DbError::Query(DieselError::NotFound))
        ));
        assert_eq!(
            fault.source().map(|s| s.to_string()).as_deref(),
            Some("database error: Record not found")
        );
        // Refusals are not the connection's doing.
        assert!(!ApiError::NotFound.connection_lost());
        assert!(!ApiError::AllocationExhausted("x".into()).connection_lost());
    }
}
