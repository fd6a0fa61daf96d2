//! `GET /Patient`: search.

use actix_web::{HttpRequest, HttpResponse, web};

use super::audit::{self, AuditNote};
use super::base_url;
use super::{ApiError, FHIR_JSON};
use crate::auth::caller::{Caller, Mode};
use crate::domain::patient::Clearance;
use crate::domain::search::params::{self, SearchRequest};
use crate::domain::search::score::Matcher;
use crate::fhir;
use crate::store::audit::Auditor;
use crate::store::db::Db;
use crate::store::replica::Lane;
use crate::store::search::{self, CandidateQuery};

/// Default and largest `_max-results` (PDS).
const MAX_RESULTS: u8 = 50;

/// Most candidate rows one search may examine. A broader search (a short
/// wildcard over a wide birth-date range) is answered TOO_MANY_MATCHES
/// rather than tying up a connection.
const CANDIDATE_CAP: i64 = 10_000;

/// The most results this caller may receive for this request.
fn result_limit(caller: &Caller, request: &SearchRequest) -> Result<usize, ApiError> {
    let limit = caller.grants.search_limit;
    if limit == 1 && request.max_results.is_some_and(|m| m != 1) {
        return Err(ApiError::SingleResultOnly {
            token_kind: caller.mode.token_kind(),
        });
    }
    Ok(request.max_results.unwrap_or(MAX_RESULTS).min(limit) as usize)
}

pub async fn search(
    req: HttpRequest,
    db: web::Data<Db>,
    auditor: web::Data<Auditor>,
    caller: web::ReqData<Caller>,
) -> Result<HttpResponse, ApiError> {
    if caller.mode == Mode::Patient {
        return Err(ApiError::PatientForbidden);
    }
    let pairs = super::query::pairs(req.query_string())?;
    let request = params::parse(&pairs)?;
    if caller.grants.search_limit == 0 {
        return Err(ApiError::Forbidden(
            "Your access token does not allow searching".into(),
        ));
    }
    let limit = result_limit(&caller, &request)?;

    // Matching sees only what this caller may see of each record (the
    // matcher redacts before it compares), and very restricted records are
    // not even fetched for callers who may not see them: no answer, count
    // or score depends on what the caller may not see.
    let clearance = caller.grants.clearance;
    let matcher = Matcher::new(&request, clearance);
    let query_family = if request.fuzzy {
        None
    } else {
        request.family.clone()
    };
    let birth = request.birth;
    let former_names = request.history && !request.fuzzy;
    // Restricted patients never surface through a location search (PDS).
    let by_location = request.postcode.is_some() || request.general_practitioner.is_some();
    let event = audit::event_for(&req, &caller, AuditNote::recorded("search"), 200);
    // Scored on the blocking thread, under the connection's permit: the CPU
    // work of a fuzzy search stays bounded and off the HTTP workers, and
    // only matches are kept. The audit row is committed (after the
    // connection is given back) before the answer leaves.
    let (found, event) = db
        .read(Lane::Search, move |conn| {
            // Fresh for each attempt: the read may be tried again on the primary.
            let mut event = event.clone();
            let candidates = search::candidates(
                conn,
                &CandidateQuery {
                    family: query_family.as_ref(),
                    birth,
                    former_names,
                    cap: CANDIDATE_CAP,
                    very_restricted: clearance == Clearance::All,
                },
                |p| {
                    if by_location && p.is_restricted() {
                        return None;
                    }
                    matcher.score(&p).map(|score| (score, p))
                },
            )?;
            let mut matches = candidates.kept;
            let found = if candidates.truncated || matches.len() > limit {
                Err(ApiError::TooManyMatches)
            } else {
                matches.sort_by(|a, b| {
                    b.0.total_cmp(&a.0)
                        .then(a.1.nhs_number.cmp(&b.1.nhs_number))
                });
                // Search shows restricted records redacted, whoever asks (PDS).
                event.nhs_numbers = matches.iter().map(|(_, p)| p.nhs_number.as_i64()).collect();
                event.redacted = matches.iter().any(|(_, p)| p.is_restricted());
                Ok(matches)
            };
            Ok::<_, ApiError>((found, event))
        })
        .await?;
    audit::commit(&req, &auditor, event).await?;
    let base = base_url(&req);
    // A search result never carries the sharing consent (`search_view`).
    let view = super::patient::view_of(&caller);
    let entries = found?
        .into_iter()
        .map(|(score, patient)| {
            let (patient, _) = patient.search_view().visible_to(Clearance::None);
            let url = format!("{base}/Patient/{}", patient.nhs_number);
            (url, Some(score), fhir::patient::render(&patient, view))
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .json(fhir::bundle::searchset(&chrono::Utc::now(), entries)))
}
