//! `/api/v1/volumes`: monthly totals of VAWG crimes finalised.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::db::rfc3339;
use crate::error::{AppResult, Problem};
use crate::service::volumes;
use actix_web::{put, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct VolumeRequest {
    /// The caller's own force.
    force_id: String,
    /// Absent for the force as a whole.
    division: Option<String>,
    /// `YYYY-MM`.
    month: String,
    offence_category: String,
    /// 0 to 10,000,000.
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
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, description = "Not the force system of that force", body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[put("/volumes")]
pub async fn put_volume(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: web::Json<Value>,
) -> AppResult<web::Json<VolumeView>> {
    let row = volumes::set(&state, &caller, &body).await?;
    Ok(web::Json(VolumeView {
        division: (!row.division.is_empty()).then_some(row.division),
        force_id: row.force_id,
        month: row.month,
        offence_category: row.offence_category,
        finalised_total: row.finalised_total,
        updated_at: rfc3339(row.updated_at),
    }))
}
