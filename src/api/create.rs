//! `POST /Patient`: create a patient and allocate an NHS number.

use actix_web::HttpResponse;

use super::ApiError;

pub async fn create() -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnsupportedService)
}
