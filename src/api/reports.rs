//! `/api/v1/reports`: outliers on the funnel plot, as JSON, CSV or a picture.

use super::problems::{self as p};
use super::schemas;
use crate::auth::AuthUser;
use crate::domain::stats::FunnelPoint;
use crate::error::{AppError, AppResult};
use crate::export::outliers::{CSV_COLUMNS, record};
use crate::export::stream::bytes_response;
use crate::export::svg::funnel_svg;
use crate::service::Context;
use crate::service::reports::{OutlierRequest, outliers};
use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
pub struct OutlierQuery {
    /// First month, `YYYY-MM` (inclusive; default: all).
    #[param(schema_with = schemas::month)]
    from: Option<String>,
    /// Last month, `YYYY-MM` (inclusive).
    #[param(schema_with = schemas::month)]
    to: Option<String>,
    /// `force` (default) or `division`.
    #[param(schema_with = schemas::level)]
    level: Option<String>,
    #[param(schema_with = schemas::offence_category)]
    offence_category: Option<String>,
    /// 15 or 16 (default: both).
    #[param(minimum = 15, maximum = 16)]
    outcome_code: Option<i32>,
}

impl OutlierQuery {
    fn request(&self) -> AppResult<OutlierRequest> {
        OutlierRequest::parse(
            self.from.as_deref(),
            self.to.as_deref(),
            self.level.as_deref(),
            self.offence_category.as_deref(),
            self.outcome_code,
        )
    }
}

#[derive(Serialize, ToSchema)]
pub struct OutlierReport {
    /// Over the units that have a finalised total.
    overall_proportion: Option<f64>,
    #[schema(value_type = Vec<super::schemas::FunnelPointSchema>)]
    items: Vec<FunnelPoint>,
}

/// Each unit's closures under 15/16 per crime finalised, with funnel-plot limits
/// at 95% and 99.8% (normal approximation to the binomial) around the overall
/// proportion and its flag. `Accept: text/csv` answers CSV.
///
/// Logged: an `export.downloaded` event (`outliers.json`, `outliers.csv` or
/// `funnel.svg`, with these parameters) is committed before the answer (when it
/// cannot be, the answer is that error, e.g. 503); when the response ends, an
/// `export.completed` event records `rows` (units), `completed` and
/// `downloaded_seq`.
#[utoipa::path(
    tag = "reports",
    params(OutlierQuery),
    responses(
        (status = 200, description = "JSON, or CSV (`unit,closures,…`) with `Accept: text/csv`", content((OutlierReport = "application/json"), (String = "text/csv"))),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/reports/outliers")]
pub async fn outlier_report(
    state: web::Data<Context>,
    caller: AuthUser,
    req: HttpRequest,
    q: web::Query<OutlierQuery>,
) -> AppResult<HttpResponse> {
    let wants_csv = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    let (p0, items, download) = outliers(
        &state,
        &caller,
        q.request()?,
        if wants_csv {
            "outliers.csv"
        } else {
            "outliers.json"
        },
    )
    .await?;
    let rows = items.len() as u64;
    let done = move |rows, completed| download.finish(rows, completed);
    if !wants_csv {
        let body = serde_json::to_vec(&OutlierReport {
            overall_proportion: p0,
            items,
        })
        .map_err(|e| AppError::internal(format!("the report does not serialise: {e}")))?;
        return Ok(bytes_response("application/json", None, body, rows, done));
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let _ = w.write_record(CSV_COLUMNS);
    for p in &items {
        let _ = w.write_record(
            record(p)
                .iter()
                .map(|c| crate::export::neutralize(c).into_owned()),
        );
    }
    let body = w.into_inner().unwrap_or_default();
    Ok(bytes_response(
        "text/csv; charset=utf-8",
        Some("outliers.csv"),
        body,
        rows,
        done,
    ))
}

/// The funnel plot: one point per unit, the 95% and 99.8% limits, the overall
/// proportion, outliers labelled, and a title naming the period and filters.
///
/// Logged: an `export.downloaded` event (`outliers.json`, `outliers.csv` or
/// `funnel.svg`, with these parameters) is committed before the answer (when it
/// cannot be, the answer is that error, e.g. 503); when the response ends, an
/// `export.completed` event records `rows` (units), `completed` and
/// `downloaded_seq`.
#[utoipa::path(
    tag = "reports",
    params(OutlierQuery),
    responses(
        (status = 200, content_type = "image/svg+xml", body = String),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/reports/funnel.svg")]
pub async fn funnel(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<OutlierQuery>,
) -> AppResult<HttpResponse> {
    let request = q.request()?;
    let title = request.title();
    let (p0, items, download) = outliers(&state, &caller, request, "funnel.svg").await?;
    let body = funnel_svg(&title, p0, &items).into_bytes();
    Ok(bytes_response(
        "image/svg+xml; charset=utf-8",
        None,
        body,
        items.len() as u64,
        move |rows, completed| download.finish(rows, completed),
    ))
}
