//! `/api/v1/volumes`: monthly totals of VAWG crimes finalised.

use super::drafts;
use super::problems::{self as p, PROBLEM_JSON};
use super::schemas;
use crate::auth::AuthUser;
use crate::domain::time::rfc3339;
use crate::error::{AppResult, Problem};
use crate::service::Context;
use crate::service::volumes;
use actix_web::{put, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct VolumeRequest {
    /// The caller's own force.
    #[schema(schema_with = schemas::force_id)]
    force_id: String,
    /// Absent for the force as a whole.
    #[schema(min_length = 1, max_length = 128)]
    division: Option<String>,
    #[schema(schema_with = schemas::month)]
    month: String,
    #[schema(schema_with = schemas::offence_category)]
    offence_category: String,
    /// 0 to 10,000,000.
    #[schema(minimum = 0, maximum = 10_000_000)]
    finalised_total: i64,
}

#[derive(Serialize, ToSchema)]
pub struct VolumeView {
    force_id: String,
    division: Option<String>,
    month: String,
    offence_category: String,
    finalised_total: i64,
    updated_at: String,
}

/// Set the total for (force, division, month, offence category); the same key
/// again replaces it. The event records the old and new values.
#[utoipa::path(
    tag = "volumes",
    request_body = VolumeRequest,
    responses(
        (status = 200, body = VolumeView),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, description = "Not the force system of that force", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[put("/volumes")]
pub async fn put_volume(
    state: web::Data<Context>,
    caller: AuthUser,
    body: web::Json<Value>,
) -> AppResult<web::Json<VolumeView>> {
    let draft = drafts::volume(&body).map_err(Into::into);
    let stored = volumes::set(&state, &caller, draft).await?;
    let t = stored.total;
    Ok(web::Json(VolumeView {
        force_id: t.force_id,
        division: t.division,
        month: t.month,
        offence_category: t.offence_category,
        finalised_total: t.finalised_total,
        updated_at: rfc3339(stored.updated_at),
    }))
}
