//! `/api/v1/exports`: streamed CSV for auditors. Each download is an
//! `export.downloaded` event with its filters, committed before the response
//! starts, and an `export.completed` event with its row count and whether it
//! completed, written when it ends.

use super::audit::{EventQuery, event_search};
use super::params::searchable;
use super::problems::{self as p};
use super::schemas;
use crate::audit::export::AUDIT_CSV_COLUMNS;
use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::export::closures_csv as closure_columns;
use crate::export::stream::csv_response;
use crate::service::Context;
use crate::service::exports::{self as service, TrendQuery};
use crate::service::filters::{ClosureParams, closure_filter};
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ClosuresCsvQuery {
    status: Option<String>,
    force_id: Option<String>,
    division: Option<String>,
    outcome_code: Option<i32>,
    offence_category: Option<String>,
    /// On `closure_proposed_at`, inclusive: RFC 3339 timestamp or date.
    from: Option<String>,
    /// On `closure_proposed_at`, exclusive.
    to: Option<String>,
    /// `true` starts the file with a UTF-8 byte-order mark.
    bom: Option<bool>,
}

fn stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

/// Every closure the auditor may see, matching the list's filters, oldest
/// received first (RFC 4180, CRLF, formula cells neutralised).
///
/// Logged: an `export.downloaded` event with these filters is committed
/// before the response starts (when it cannot be, the answer is that error,
/// e.g. 503, and no data); when the download ends, an `export.completed` event
/// records `rows`, `completed` (false when the client went away or the export
/// failed part way) and `downloaded_seq`, the seq of the first.
#[utoipa::path(
    tag = "exports",
    params(ClosuresCsvQuery),
    responses(
        (status = 200, content_type = "text/csv", description = "id,force_id,division,… (API.md)", body = String),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/exports/closures.csv")]
pub async fn closures_csv(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<ClosuresCsvQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let searched = searchable([
        ("force_id", q.force_id.as_deref()),
        ("division", q.division.as_deref()),
    ]);
    let list = ClosureParams {
        status: q.status.clone(),
        force_id: q.force_id.clone(),
        division: q.division.clone(),
        outcome_code: q.outcome_code,
        offence_category: q.offence_category.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
    };
    let filter = searched.and_then(|()| closure_filter(&list));
    let filters = json!({"status": q.status, "force_id": q.force_id, "division": q.division, "outcome_code": q.outcome_code,
                         "offence_category": q.offence_category, "from": q.from, "to": q.to});
    let export = service::closures(&state, &caller, filter, filters).await?;
    let download = export.download;
    Ok(csv_response(
        &format!("closures-{}.csv", stamp()),
        q.bom.unwrap_or(false),
        &closure_columns::COLUMNS,
        export.produce,
        move |rows, completed| download.finish(rows, completed),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditCsvQuery {
    closure_id: Option<String>,
    actor_id: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after_seq: Option<i64>,
    bom: Option<bool>,
}

/// The audit log, oldest first, with each event's leaf (auditors; a force
/// auditor sees its own force's events). Admins read the log as JSON.
///
/// Logged: an `export.downloaded` event with these filters is committed
/// before the response starts (when it cannot be, the answer is that error,
/// e.g. 503, and no data); when the download ends, an `export.completed` event
/// records `rows`, `completed` (false when the client went away or the export
/// failed part way) and `downloaded_seq`, the seq of the first.
///
/// The file includes the download's own `export.downloaded` event when the
/// filters match it (it is committed before the log is read), never its
/// `export.completed`.
#[utoipa::path(
    tag = "exports",
    params(AuditCsvQuery),
    responses(
        (status = 200, content_type = "text/csv", description = "seq,leaf_index,at,… (API.md)", body = String),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/exports/audit.csv")]
pub async fn audit_csv(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<AuditCsvQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let searched = searchable([
        ("closure_id", q.closure_id.as_deref()),
        ("actor_id", q.actor_id.as_deref()),
        ("action", q.action.as_deref()),
    ]);
    let query = EventQuery {
        closure_id: q.closure_id.clone(),
        actor_id: q.actor_id.clone(),
        action: q.action.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
        after_seq: q.after_seq,
        limit: None,
        cursor: None,
    };
    let search = searched.and_then(|()| event_search(&query));
    let filters = json!({"closure_id": q.closure_id, "actor_id": q.actor_id, "action": q.action, "from": q.from,
                         "to": q.to, "after_seq": q.after_seq});
    let export = service::audit_log(&state, &caller, search, filters).await?;
    let download = export.download;
    Ok(csv_response(
        &format!("audit-{}.csv", stamp()),
        q.bom.unwrap_or(false),
        &AUDIT_CSV_COLUMNS,
        export.produce,
        move |rows, completed| download.finish(rows, completed),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TrendsQuery {
    /// First month, `YYYY-MM` (inclusive).
    #[param(schema_with = schemas::month)]
    from: Option<String>,
    /// Last month, `YYYY-MM` (inclusive).
    #[param(schema_with = schemas::month)]
    to: Option<String>,
    /// Comma list of month (default), force_id, division, offence_category,
    /// outcome_code, status, risk_level, victim_* characteristics.
    group_by: Option<String>,
    /// Counts from 1 to N-1 are written `[c]` (default 5 when a victim
    /// characteristic is a group).
    #[param(minimum = 1)]
    suppress_below: Option<u64>,
    #[param(schema_with = schemas::force_id)]
    force_id: Option<String>,
    division: Option<String>,
    #[param(schema_with = schemas::offence_category)]
    offence_category: Option<String>,
    outcome_code: Option<i32>,
    bom: Option<bool>,
}

/// One row per group: counts, median and 90th percentile hours to decision,
/// finalised totals and closures per 100 finalised; small counts suppressed.
///
/// Logged: an `export.downloaded` event with these filters is committed
/// before the response starts (when it cannot be, the answer is that error,
/// e.g. 503, and no data); when the download ends, an `export.completed` event
/// records `rows`, `completed` (false when the client went away or the export
/// failed part way) and `downloaded_seq`, the seq of the first.
#[utoipa::path(
    tag = "exports",
    params(TrendsQuery),
    responses(
        (status = 200, content_type = "text/csv", description = "the group columns, then closures,outcome_15,… (API.md)", body = String),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/exports/trends.csv")]
pub async fn trends_csv(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<TrendsQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let searched = searchable([
        ("force_id", q.force_id.as_deref()),
        ("division", q.division.as_deref()),
    ]);
    let query = searched.map(|()| TrendQuery {
        from: q.from,
        to: q.to,
        group_by: q.group_by,
        suppress_below: q.suppress_below,
        force_id: q.force_id,
        division: q.division,
        offence_category: q.offence_category,
        outcome_code: q.outcome_code,
    });
    let (header, export) = service::trends(&state, &caller, query).await?;
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let download = export.download;
    Ok(csv_response(
        &format!("trends-{}.csv", stamp()),
        q.bom.unwrap_or(false),
        &header,
        export.produce,
        move |rows, completed| download.finish(rows, completed),
    ))
}
