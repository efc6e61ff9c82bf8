//! `/api/v1/closures/{id}/decision` and `/reopen`: inspector sign-off.

use super::drafts;
use super::params::path_id;
use super::problems::{self as p, PROBLEM_JSON};
use super::views::ClosureView;
use crate::auth::AuthUser;
use crate::domain::signoff::Decision;
use crate::error::{AppResult, Problem};
use crate::service::Context;
use crate::service::signoff;
use actix_web::{post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DecisionRequest {
    #[schema(value_type = Decision)]
    decision: String,
    /// 20 to 10,000 characters.
    #[schema(min_length = 20, max_length = 10000)]
    rationale: String,
    /// All four items true to approve; a rejection needs none.
    #[schema(value_type = Option<ChecklistRequest>)]
    checklist: Option<Value>,
    /// When given, must be the closure's current version (else 409).
    expected_version: Option<i64>,
}

/// The sign-off checklist as the decider confirms it.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ChecklistRequest {
    victim_wishes_recorded: Option<bool>,
    evidence_led_prosecution_considered: Option<bool>,
    safeguarding_in_place: Option<bool>,
    victim_informed: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ReopenRequest {
    /// 20 to 10,000 characters.
    #[schema(min_length = 20, max_length = 10000)]
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
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, description = "Below inspector, the proposer, or not an officer", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such closure, or another force's", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "Already decided, or stale expected_version", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, description = "Every unconfirmed checklist item, a bad rationale…", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[post("/closures/{id}/decision")]
pub async fn decide(
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> AppResult<web::Json<ClosureView>> {
    let id = path_id(id.into_inner(), "no such closure")?;
    let draft = drafts::decision(&body).map_err(Into::into);
    let closure = signoff::decide(&state, &caller, id, draft).await?;
    Ok(web::Json(ClosureView::from(&closure)))
}

/// Reopen a signed-off or rejected closure: an officer of its force, inspector or above.
#[utoipa::path(
    tag = "sign-off",
    params(("id" = String, Path, description = "The closure's id")),
    request_body = ReopenRequest,
    responses(
        (status = 200, description = "Reopened, version + 1", body = ClosureView),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, description = "Below inspector, or not an officer", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such closure, or another force's", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "Not signed off or rejected, or stale expected_version", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[post("/closures/{id}/reopen")]
pub async fn reopen(
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> AppResult<web::Json<ClosureView>> {
    let id = path_id(id.into_inner(), "no such closure")?;
    let draft = drafts::reopen(&body).map_err(Into::into);
    let closure = signoff::reopen(&state, &caller, id, draft).await?;
    Ok(web::Json(ClosureView::from(&closure)))
}
