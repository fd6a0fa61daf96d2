//! `GET /Patient/{id}/RelatedPerson`.

use actix_web::HttpResponse;

use super::ApiError;

pub async fn related() -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnsupportedService)
}
