//! `POST /Patient/$process-birth-details`: register a birth (PDS §5.11).
//! The baby gets a new NHS number and the mother becomes the baby's
//! related person, in one transaction.
//!
//! 1. **Who:** as `POST /Patient` (`create::may_create`): healthcare
//!    workers whose role grants create; application, privileged and patient
//!    tokens get 403 INVALID_METHOD.
//! 2. **Request:** a transaction Bundle, checked in the order of
//!    `fhir::birth`; the query may say `ignore_potential_matches=true`.
//! 3. **The mother** must be on file: her number, or the record it was
//!    merged into (which is the one related); unknown or invalidated is 400
//!    INVALID_VALUE on her number's path.
//! 4. **Matching:** the baby is checked as any create is. A match that
//!    already has this mother as its related person is this birth
//!    registered before, and always stops the registration (SINGLE_MATCH or
//!    MULTIPLE_MATCHES, 200); other matches are potential duplicates, which
//!    stop it unless `ignore_potential_matches=true` (PDS: twins' and
//!    cousins' lookalikes, a second baby of the same name and day). A match
//!    the caller may not see in full always stops it: whose baby it is is
//!    not the caller's to learn (its related people are hidden from them),
//!    so the answer may not depend on it.
//! 5. **Create:** as `POST /Patient` (allocation, audit, the answer kept for
//!    retries), plus the mother's related-person row, all or nothing. 201
//!    with the baby as a retrieve shows it, `ETag`, `Location` and a
//!    `notification-id` (the birth notification's id, a UUID; a retry with
//!    the same X-Request-ID gets the same baby and the same id).

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::PgConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::create::{self, Actions, Addition, Create, created, settle};
use super::{ApiError, query};
use crate::auth::caller::Caller;
use crate::domain::NhsNumber;
use crate::domain::patch;
use crate::domain::patient::{Clearance, Period};
use crate::domain::related::{RelatedDetails, RelatedPerson, Relationship};
use crate::domain::search::duplicates::Duplicates;
use crate::fhir;
use crate::fhir::birth::BirthRequest;
use crate::store::allocate::AllocationRange;
use crate::store::audit::AuditEvent;
use crate::store::db::Writes;
use crate::store::patients::{self, Retrieved};
use crate::store::related::{self, RelatedRow};

pub const NOTIFICATION_ID: &str = "notification-id";
const IGNORE_POTENTIAL_MATCHES: &str = "ignore_potential_matches";

const ACTIONS: Actions = Actions {
    first: "birth",
    replay: "birth-replay",
};

pub async fn process_birth_details(
    req: HttpRequest,
    db: web::Data<Writes>,
    range: web::Data<AllocationRange>,
    caller: web::ReqData<Caller>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    create::may_create(&caller)?;
    if !create::is_json(&req) {
        return Err(ApiError::UnsupportedService);
    }
    let ignore_potential = ignore_potential_matches(req.query_string())?;
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let BirthRequest {
        registration,
        mother_field,
    } = fhir::birth::request(&body, today, now)?;
    let born = registration.baby.birth_date;
    let work = Create::new(
        &req,
        &caller,
        registration.baby,
        today,
        **range,
        &body,
        ACTIONS,
    )?;
    let request_id = work.request_id();
    let mother = Mother {
        number: registration.mother,
        field: mother_field,
        ignore_potential,
        since: born,
        clearance: caller.grants.clearance,
    };
    let outcome = db
        .run(move |conn| create::store(conn, work, mother))
        .await?;
    let baby = settle(&req, outcome, ACTIONS)?;
    Ok(created(&req, &baby)
        .insert_header((
            NOTIFICATION_ID,
            notification_id(request_id, baby.nhs_number).to_string(),
        ))
        .json(fhir::patient::render(
            &baby,
            super::patient::view_of(&caller),
        )))
}

/// `ignore_potential_matches=true|false` (default false); any other
/// parameter is refused, as search refuses unknown ones.
fn ignore_potential_matches(query: &str) -> Result<bool, ApiError> {
    let mut ignore = None;
    for (name, value) in query::pairs(query)? {
        if name != IGNORE_POTENTIAL_MATCHES {
            return Err(ApiError::AdditionalProperties(vec![name]));
        }
        if ignore.is_some() {
            return Err(ApiError::TooManyValues(name));
        }
        ignore = Some(match value.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(ApiError::InvalidValue { field: name, value }),
        });
    }
    Ok(ignore.unwrap_or(false))
}

/// The birth notification's id: derived from the request and the baby's
/// number (UUID version 8), so a retry answers the same id without keeping
/// it, and no two births share one.
fn notification_id(request_id: Uuid, baby: NhsNumber) -> Uuid {
    let digest = Sha256::new()
        .chain_update(b"birth-notification\n")
        .chain_update(request_id.as_bytes())
        .chain_update(baby.as_i64().to_be_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// What a birth adds to a create: the mother, found, and related to the
/// baby.
struct Mother {
    number: NhsNumber,
    /// Where the number was in the Bundle.
    field: String,
    ignore_potential: bool,
    /// The baby's birth date: when the relationship starts.
    since: Option<chrono::NaiveDate>,
    /// What the caller may see of the records matched.
    clearance: Clearance,
}

impl Mother {
    /// Of `matched`, those that stop the registration even when potential
    /// matches are ignored: this birth registered before (the record has
    /// this mother as a related person), or a record the caller may not
    /// see in full, whose related people are not theirs to test.
    fn stopping_anyway(
        &self,
        conn: &mut PgConnection,
        matched: Vec<NhsNumber>,
    ) -> Result<Vec<NhsNumber>, ApiError> {
        let keys: Vec<i64> = matched.iter().map(|n| n.as_i64()).collect();
        let mut hidden = Vec::new();
        for row in patients::find_many(conn, &keys)? {
            let patient = row.into_patient()?;
            if !patient.visible_in_full_to(self.clearance) {
                hidden.push(patient.nhs_number);
            }
        }
        let mut kept = Vec::new();
        for n in matched {
            let stops = hidden.contains(&n)
                || related::of_patient(conn, n)?
                    .iter()
                    .any(|p| p.details.patient == Some(self.number));
            if stops {
                kept.push(n);
            }
        }
        Ok(kept)
    }
}

impl Addition for Mother {
    fn prepare(&mut self, conn: &mut PgConnection) -> Result<(), ApiError> {
        match patients::retrieve(conn, self.number)? {
            // A superseded number: the record it was merged into.
            Retrieved::Current(mother) => {
                self.number = mother.nhs_number;
                Ok(())
            }
            Retrieved::Missing | Retrieved::Invalidated => Err(ApiError::InvalidValue {
                field: self.field.clone(),
                value: self.number.to_string(),
            }),
        }
    }

    fn stopping(&self, conn: &mut PgConnection, found: Duplicates) -> Result<Duplicates, ApiError> {
        if !self.ignore_potential {
            return Ok(found);
        }
        Ok(match found {
            // Matched only on records the caller may not see in full.
            Duplicates::None | Duplicates::Withheld(_) => found,
            Duplicates::Visible(list) => match self.stopping_anyway(conn, list)? {
                kept if kept.is_empty() => Duplicates::None,
                kept => Duplicates::Visible(kept),
            },
        })
    }

    fn created(
        &self,
        conn: &mut PgConnection,
        baby: NhsNumber,
        event: &mut AuditEvent,
    ) -> Result<(), ApiError> {
        let mut new_id = patch::item_ids(Default::default());
        let person = RelatedPerson {
            id: new_id(),
            details: RelatedDetails {
                patient: Some(self.number),
                active: true,
                period: Some(Period {
                    start: self.since,
                    end: None,
                }),
                relationship: vec![Relationship::Personal, Relationship::Mother],
                ..RelatedDetails::default()
            },
        };
        related::upsert(conn, &[RelatedRow::from_person(baby, &person)])?;
        // The mother's record is linked to: her number is audited too.
        event.nhs_numbers.push(self.number.as_i64());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_says_only_whether_to_ignore_potential_matches() {
        assert!(!ignore_potential_matches("").unwrap());
        assert!(ignore_potential_matches("ignore_potential_matches=true").unwrap());
        assert!(!ignore_potential_matches("ignore_potential_matches=false").unwrap());
        assert!(matches!(
            ignore_potential_matches("ignore_potential_matches=yes"),
            Err(ApiError::InvalidValue { .. })
        ));
        assert!(matches!(
            ignore_potential_matches("bananas=1"),
            Err(ApiError::AdditionalProperties(_))
        ));
        assert!(matches!(
            ignore_potential_matches("ignore_potential_matches=true&ignore_potential_matches=true"),
            Err(ApiError::TooManyValues(_))
        ));
    }

    #[test]
    fn notification_ids_are_uuids_fixed_by_request_and_baby() {
        let (r, b) = (Uuid::new_v4(), NhsNumber::parse("9000000009").unwrap());
        let id = notification_id(r, b);
        assert_eq!(id, notification_id(r, b));
        assert_eq!(id.get_version_num(), 8);
        assert_ne!(id, notification_id(Uuid::new_v4(), b));
        assert_ne!(
            id,
            notification_id(r, NhsNumber::parse("9000000017").unwrap())
        );
    }
}
