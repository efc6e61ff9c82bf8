//! `/api/v1/closures/{id}/receipt`: a C2SP tlog-proof of a closure's latest
//! decision, for a force's records system to keep with the crime record.

use super::params::path_id;
use super::problems::{self as p, PROBLEM_JSON};
use crate::auth::AuthUser;
use crate::error::{AppResult, Problem};
use crate::service::Context;
use crate::service::receipts;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpResponse, get, web};

/// A receipt (`c2sp.org/tlog-proof@v1`): the index of the closure's latest
/// decision event (or its `closure.created` event while it awaits its first
/// sign-off, its `closure.reopened` event once reopened), the inclusion proof,
/// the latest checkpoint with its witness cosignatures, and the event's
/// canonical bytes as `extra`. Check one offline with
/// `closure-audit audit verify-receipt`. Reading it is a view of the closure.
#[utoipa::path(
    tag = "closures",
    params(("id" = String, Path, description = "The closure's id")),
    responses(
        (status = 200, description = "The receipt", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "No such closure, or another force's", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "The event is not yet in a signed checkpoint (`not_yet_checkpointed`): ask again in a second", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/closures/{id}/receipt")]
pub async fn receipt(
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(id.into_inner(), "no such closure")?;
    let text = receipts::receipt(&state, &caller, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body(text))
}
