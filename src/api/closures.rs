//! `/api/v1/closures` and `/api/v1/cases`: posting and reading closures.

use super::closure_requests::{BatchRequest, ClosureRequest};
use super::drafts;
use super::params::{decode_cursor, encode_cursor, page_limit, path_id};
use super::problems::{self as p, PROBLEM_JSON};
use super::schemas;
use super::views::ClosureView;
use crate::auth::{AuthUser, IngestCaller};
use crate::domain::FieldRule;
use crate::domain::signoff::Status;
use crate::error::{AppError, AppResult, Problem};
use crate::service::Context;
use crate::service::closures::{self as reads, Closure};
use crate::service::filters::{ClosureParams, closure_filter};
use crate::service::ingest::{Outcome, ingest};
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

/// The most closures one batch may hold.
pub const BATCH_MAX: usize = 1000;

/// One item's fate: `status` 201 (stored), 200 (replay of a stored closure),
/// or an error with its `problem`.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    index: usize,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<Problem>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResponse {
    results: Vec<BatchResult>,
}

#[derive(Serialize, ToSchema)]
pub struct ClosurePage {
    items: Vec<ClosureView>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseView {
    items: Vec<ClosureView>,
}

/// Post one closure. The same `source_event_id` with the same content again
/// answers 200 with the stored closure (and no new event); with different
/// content, 409.
#[utoipa::path(
    tag = "closures",
    request_body = ClosureRequest,
    responses(
        (status = 201, description = "Stored; `Location` names it", body = ClosureView),
        (status = 200, description = "Replay of a stored closure", body = ClosureView),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, description = "Not a force system or officer, or another force", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "source_event_id reused with different content", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[post("/closures")]
pub async fn create_closure(
    state: web::Data<Context>,
    IngestCaller(caller): IngestCaller,
    body: web::Json<Value>,
) -> AppResult<HttpResponse> {
    let outcome = ingest(&state, &caller, vec![drafts::closure(&body)])
        .await?
        .pop()
        .expect("one outcome");
    match outcome {
        Outcome::Created(row) => Ok(HttpResponse::Created()
            .insert_header((LOCATION, format!("/api/v1/closures/{}", row.id)))
            .json(ClosureView::from(row.as_ref()))),
        Outcome::Replayed(id) => {
            let stored = reads::replayed(&state, id).await?;
            Ok(HttpResponse::Ok().json(ClosureView::from(&stored)))
        }
        Outcome::Refused(e) => Err(e),
    }
}

/// Post up to 1,000 closures (body up to 16 MiB). Each is judged as the single
/// endpoint would judge it; the valid ones are stored.
#[utoipa::path(
    tag = "closures",
    request_body = BatchRequest,
    responses(
        (status = 200, body = BatchResponse),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, description = "Not a force system or officer of a force", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, description = "Not an object with a `closures` array of at most 1,000", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[post("/closures/batch")]
pub async fn create_batch(
    state: web::Data<Context>,
    IngestCaller(caller): IngestCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<web::Json<BatchResponse>> {
    let mut body = super::read_json(&req, payload, state.settings.max_batch_body_bytes).await?;
    let items = match body.get_mut("closures") {
        Some(Value::Array(items)) if items.len() <= BATCH_MAX => std::mem::take(items),
        Some(Value::Array(_)) => {
            return Err(AppError::field(
                "closures",
                FieldRule::TooManyItems,
                format!("must have at most {BATCH_MAX} items"),
            ));
        }
        Some(_) => {
            return Err(AppError::field(
                "closures",
                FieldRule::WrongType,
                "must be an array of closures",
            ));
        }
        None => {
            return Err(AppError::field(
                "closures",
                FieldRule::Required,
                "is required",
            ));
        }
    };
    let drafts = items.iter().map(drafts::closure).collect();
    let outcomes = ingest(&state, &caller, drafts).await?;
    let results = outcomes
        .into_iter()
        .enumerate()
        .map(|(index, o)| match o {
            Outcome::Created(row) => BatchResult {
                index,
                status: 201,
                id: Some(row.id),
                problem: None,
            },
            Outcome::Replayed(id) => BatchResult {
                index,
                status: 200,
                id: Some(id),
                problem: None,
            },
            Outcome::Refused(e) => {
                let problem = e.problem();
                BatchResult {
                    index,
                    status: problem.status,
                    id: None,
                    problem: Some(problem),
                }
            }
        })
        .collect();
    Ok(web::Json(BatchResponse { results }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ClosureQuery {
    /// `pending_signoff`, `signed_off`, `rejected` or `reopened`.
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    #[param(schema_with = schemas::force_id)]
    pub force_id: Option<String>,
    pub division: Option<String>,
    pub outcome_code: Option<i32>,
    #[param(schema_with = schemas::offence_category)]
    pub offence_category: Option<String>,
    /// On `closure_proposed_at`, inclusive: RFC 3339 timestamp or date.
    pub from: Option<String>,
    /// On `closure_proposed_at`, exclusive: RFC 3339 timestamp or date.
    pub to: Option<String>,
    /// Page length, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ClosureQuery {
    /// The filters, leaving the page aside.
    pub fn params(&self) -> ClosureParams {
        ClosureParams {
            status: self.status.clone(),
            force_id: self.force_id.clone(),
            division: self.division.clone(),
            outcome_code: self.outcome_code,
            offence_category: self.offence_category.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

fn closure_cursor(c: &Closure) -> String {
    encode_cursor(&format!("{}:{}", c.received_at, c.id))
}

fn parse_closure_cursor(cursor: &str) -> AppResult<(i64, String)> {
    let raw = decode_cursor(cursor)?;
    raw.split_once(':')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_string())))
        .ok_or_else(|| AppError::BadRequest("the cursor is not one this service issued".into()))
}

/// Closures the caller may see, newest received first, with keyset pagination
/// (a page never repeats or skips a row while others insert).
///
/// Listing is logged: each page answered is one `closure.listed` audit event,
/// committed with the page read, whose `details` hold the ids on the page
/// (`closure_ids`), their `count` and the `filters` used (with `limit` and
/// `cursor`). An empty page is logged too. A page whose event cannot be
/// written is not answered: the answer is the error (503 when the database
/// is unavailable).
#[utoipa::path(
    tag = "closures",
    params(ClosureQuery),
    responses(
        (status = 200, body = ClosurePage),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/closures")]
pub async fn list_closures(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<ClosureQuery>,
) -> AppResult<web::Json<ClosurePage>> {
    let filter = closure_filter(&q.params())?;
    let limit = page_limit(
        q.limit,
        state.settings.page_limit_default,
        state.settings.page_limit_max,
    )?;
    let before = q.cursor.as_deref().map(parse_closure_cursor).transpose()?;
    let filters = json!({"status": q.status, "force_id": q.force_id, "division": q.division,
                         "outcome_code": q.outcome_code, "offence_category": q.offence_category,
                         "from": q.from, "to": q.to, "limit": limit, "cursor": q.cursor});
    let page = reads::list(&state, &caller, filter, before, limit, filters).await?;
    let next_cursor = if page.more {
        page.items.last().map(closure_cursor)
    } else {
        None
    };
    Ok(web::Json(ClosurePage {
        items: page.items.iter().map(ClosureView::from).collect(),
        next_cursor,
    }))
}

/// One closure with its decisions. Viewing is itself an audit event.
#[utoipa::path(
    tag = "closures",
    params(("id" = String, Path, description = "The closure's id")),
    responses(
        (status = 200, body = ClosureView),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "No such closure, or another force's", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/closures/{id}")]
pub async fn get_closure(
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
) -> AppResult<web::Json<ClosureView>> {
    let id = path_id(id.into_inner(), "no such closure")?;
    let closure = reads::view(&state, &caller, id).await?;
    Ok(web::Json(ClosureView::from(&closure)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CaseQuery {
    /// Defaults to the caller's force; required of a national auditor.
    #[param(schema_with = schemas::force_id)]
    force_id: Option<String>,
    /// The force's crime reference (it may contain `/`).
    crime_reference: Option<String>,
}

/// Every closure ever posted for one crime, oldest first. Each is a view.
#[utoipa::path(
    tag = "closures",
    params(CaseQuery),
    responses(
        (status = 200, body = CaseView),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/cases")]
pub async fn get_case(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<CaseQuery>,
) -> AppResult<web::Json<CaseView>> {
    let q = q.into_inner();
    let all = reads::case(&state, &caller, q.force_id, q.crime_reference).await?;
    Ok(web::Json(CaseView {
        items: all.iter().map(ClosureView::from).collect(),
    }))
}
