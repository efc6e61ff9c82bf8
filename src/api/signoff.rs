//! `/api/v1/closures/{id}/decision` and `/reopen`: inspector sign-off.

use super::views::ClosureView;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{AppResult, Problem};
use crate::service::signoff;
use actix_web::{post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DecisionRequest {
    /// `approve` or `reject`.
    decision: String,
    /// 20 to 10,000 characters.
    rationale: String,
    /// `victim_wishes_recorded`, `evidence_led_prosecution_considered`,
    /// `safeguarding_in_place`, `victim_informed`: all four true to approve.
    #[schema(value_type = Object)]
    checklist: Option<Value>,
    /// When given, must be the closure's current version (else 409).
    expected_version: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ReopenRequest {
    /// 20 to 10,000 characters.
    reason: String,
    expected_version: Option<i64>,
}

/// Approve or reject a closure: an officer of its force, inspector or above,
/// not its proposer. Of concurrent decisions exactly one wins; the others get 409.
#[utoipa::path(
    tag = "sign-off",
    params(("id" = String, Path, description = "The closure's id")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Decided: `signed_off` or `rejected`, version + 1", body = ClosureView),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, description = "Below inspector, the proposer, or not an officer", body = Problem),
        (status = 404, description = "No such closure, or another force's", body = Problem),
        (status = 409, description = "Already decided, or stale expected_version", body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, description = "Every unconfirmed checklist item, bad rationale…", body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/closures/{id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> AppResult<web::Json<ClosureView>> {
    let closure = signoff::decide(&state, &caller, id.into_inner(), &body).await?;
    Ok(web::Json(ClosureView::from(&closure)))
}

/// Reopen a signed-off or rejected closure: an officer of its force, inspector or above.
#[utoipa::path(
    tag = "sign-off",
    params(("id" = String, Path, description = "The closure's id")),
    request_body = ReopenRequest,
    responses(
        (status = 200, description = "Reopened, version + 1", body = ClosureView),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "Not signed off or rejected, or stale expected_version", body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/closures/{id}/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> AppResult<web::Json<ClosureView>> {
    let closure = signoff::reopen(&state, &caller, id.into_inner(), &body).await?;
    Ok(web::Json(ClosureView::from(&closure)))
}
