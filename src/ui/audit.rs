//! `/ui/audit`, "Audit": the auditor's dashboard. The funnel plot
//! (`reports::outliers`, drawn by the same picture as `/reports/funnel.svg`),
//! the trend table (`exports::trend_table`), links to the CSV downloads (served
//! here from the same use cases as `/exports/*.csv`, with the session), the
//! log's state from `audit::verify`, the latest checkpoint and each witness's
//! last cosignature. Every read is on the record as the API's are.

use super::page::{Chrome, Issue, UiError, in_session, issue_for, render};
use super::queue::urlencode;
use super::session::SignedIn;
use super::words;
use crate::audit::export::AUDIT_CSV_COLUMNS;
use crate::domain::closures::OFFENCE_CATEGORIES;
use crate::error::AppError;
use crate::export::closures_csv as closure_columns;
use crate::export::stream::{bytes_response, csv_response};
use crate::export::svg::funnel_svg;
use crate::service::Context;
use crate::service::exports::{self, TrendQuery};
use crate::service::filters::{ClosureParams, closure_filter, parse_instant};
use crate::service::reports::{OutlierRequest, outliers};
use crate::service::{audit as audit_service, witnesses};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Months as ChronoMonths, NaiveDate};
use serde::Deserialize;
use serde_json::json;

/// What the dashboard is asked for, as typed.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Period {
    from: Option<String>,
    to: Option<String>,
    offence_category: Option<String>,
    level: Option<String>,
}

/// The period read, with its defaults: the last 12 months including this
/// one, every offence, by force.
#[derive(Debug, Clone)]
struct Asked {
    from: String,
    to: String,
    offence: Option<String>,
    level: String,
}

fn this_month() -> NaiveDate {
    let today = chrono::Utc::now().date_naive();
    NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("a month")
}

fn month(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

impl Period {
    fn asked(&self) -> Asked {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let now = this_month();
        Asked {
            from: given(&self.from).unwrap_or_else(|| {
                month(now.checked_sub_months(ChronoMonths::new(11)).unwrap_or(now))
            }),
            to: given(&self.to).unwrap_or_else(|| month(now)),
            offence: given(&self.offence_category),
            level: given(&self.level).unwrap_or_else(|| "force".into()),
        }
    }
}

impl Asked {
    fn query(&self) -> String {
        let mut q = format!(
            "from={}&to={}&level={}",
            urlencode(&self.from),
            urlencode(&self.to),
            urlencode(&self.level)
        );
        if let Some(o) = &self.offence {
            q.push_str(&format!("&offence_category={}", urlencode(o)));
        }
        q
    }

    fn request(&self) -> Result<OutlierRequest, AppError> {
        OutlierRequest::parse(
            Some(&self.from),
            Some(&self.to),
            Some(&self.level),
            self.offence.as_deref(),
            None,
        )
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Witness {
    pub name: String,
    pub last: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/audit.html")]
struct AuditPage {
    chrome: Chrome,
    issues: Vec<Issue>,
    from: String,
    to: String,
    from_error: Option<String>,
    to_error: Option<String>,
    offences: Vec<Choice>,
    levels: Vec<Choice>,
    funnel: Option<String>,
    outliers: Vec<Vec<String>>,
    trend_header: Vec<String>,
    trends: Vec<Vec<String>>,
    downloads: Vec<(String, String)>,
    log_ok: bool,
    log_state: String,
    checkpoint: Option<(String, String, String)>,
    witnesses: Vec<Witness>,
    quorum: String,
}

/// Issues of a period that cannot be read, linked to its fields.
fn period_issues(err: &AppError) -> Option<Vec<Issue>> {
    match err {
        AppError::BadRequest(detail) => {
            let id = if detail.starts_with("to") {
                "to"
            } else {
                "from"
            };
            Some(vec![Issue {
                id: id.into(),
                text: format!(
                    "{} must be a month written as YYYY-MM, for example 2026-04",
                    if id == "to" { "To" } else { "From" }
                ),
            }])
        }
        AppError::Validation(errors) => Some(
            errors
                .iter()
                .map(|e| match e.field.as_str() {
                    "to" => Issue {
                        id: "to".into(),
                        text: "To must be the same as or after From".into(),
                    },
                    "offence_category" => Issue {
                        id: "offence_category".into(),
                        text: "Select an offence from the list".into(),
                    },
                    "level" => Issue {
                        id: "level".into(),
                        text: "Select force or division".into(),
                    },
                    f => Issue {
                        id: "from".into(),
                        text: format!("{}: {}", words::sentence(f), e.message),
                    },
                })
                .collect(),
        ),
        _ => None,
    }
}

fn trend_query(a: &Asked) -> TrendQuery {
    TrendQuery {
        from: Some(a.from.clone()),
        to: Some(a.to.clone()),
        group_by: Some("month".into()),
        offence_category: a.offence.clone(),
        ..TrendQuery::default()
    }
}

fn number(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

/// `GET /ui/audit`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    q: web::Query<Period>,
) -> Result<HttpResponse, UiError> {
    let frame = session.clone();
    in_session(
        &frame,
        async move {
            let asked = q.asked();
            let user = &session.user;
            let mut issues = Vec::new();
            let (mut funnel, mut table) = (None, Vec::new());
            let (mut trend_header, mut trends) = (Vec::new(), Vec::new());
            match asked.request() {
                Ok(request) => {
                    let (_, points, download) =
                        outliers(&state, user, request, "outliers.table").await?;
                    let n = points.len() as u64;
                    // Shown whole with the page: the download's end on the record.
                    let _ = web::block(move || download.finish(n, true)).await;
                    table = points
                        .iter()
                        .map(|p| {
                            vec![
                                p.unit.clone(),
                                p.closures.to_string(),
                                p.finalised_total.map(|n| n.to_string()).unwrap_or_default(),
                                number(p.proportion.map(|x| x * 100.0), 1),
                                words::sentence(p.flag.as_str()),
                            ]
                        })
                        .collect();
                    funnel = Some(format!("/ui/audit/funnel.svg?{}", asked.query()));
                    let (h, rows) =
                        exports::trend_table(&state, user, Ok(trend_query(&asked))).await?;
                    trend_header = h.iter().map(|c| words::sentence(c)).collect();
                    trends = rows;
                }
                Err(e) => {
                    // 403 first for whoever may not have reports, as the API does.
                    exports::auditor_scope(user)?;
                    issues = period_issues(&e).ok_or(e)?;
                }
            }
            let (log_ok, log_state) = match audit_service::verify(&state, user).await {
                Ok(report) if report.ok => (true, "Log intact".to_string()),
                Ok(report) => (false, format!("The log is not intact: {}", report.detail)),
                Err(AppError::Unavailable(detail)) => (false, format!("Not checked now: {detail}")),
                Err(e) => return Err(e.into()),
            };
            let latest = witnesses::latest(&state).await?;
            let checkpoint = latest.as_ref().map(|w| {
                (
                    w.checkpoint.tree_size.to_string(),
                    w.checkpoint.timestamp.clone(),
                    w.checkpoint.root_hash.clone(),
                )
            });
            let (states, quorum, met) = witnesses::witnesses(&state, user).await?;
            let witness_rows = states
                .into_iter()
                .map(|w| {
                    let status = w.status.as_ref();
                    Witness {
                        last: match status.and_then(|s| s.cosigned_size.zip(s.cosigned_at)) {
                            Some((size, at)) => {
                                format!("Tree size {size}, {}", words::instant(at))
                            }
                            None => "No cosignature yet".into(),
                        },
                        error: status.and_then(|s| s.last_error.clone()),
                        name: w.name,
                    }
                })
                .collect();
            let quorum = match (quorum.as_str(), met) {
                ("none", _) => {
                    "No witness policy is set: checkpoints are not sent to witnesses".to_string()
                }
                (q, true) => format!("Quorum {q}: met by the latest checkpoint"),
                (q, false) => format!("Quorum {q}: not met by the latest checkpoint"),
            };
            let title = if issues.is_empty() {
                "Audit"
            } else {
                "Error: Audit"
            };
            let query = asked.query();
            let page = AuditPage {
                chrome: Chrome::new(title, Some(&session), "/ui/audit"),
                from_error: issue_for(&issues, "from").map(str::to_owned),
                to_error: issue_for(&issues, "to").map(str::to_owned),
                issues,
                from: asked.from.clone(),
                to: asked.to.clone(),
                offences: OFFENCE_CATEGORIES
                    .iter()
                    .map(|o| Choice {
                        value: o.to_string(),
                        label: words::sentence(o),
                        selected: asked.offence.as_deref() == Some(*o),
                    })
                    .collect(),
                levels: ["force", "division"]
                    .iter()
                    .map(|l| Choice {
                        value: l.to_string(),
                        label: words::sentence(l),
                        selected: asked.level == *l,
                    })
                    .collect(),
                funnel,
                outliers: table,
                trend_header,
                trends,
                downloads: vec![
                    (
                        format!("/ui/audit/closures.csv?{query}"),
                        "Closures in this period (CSV)".into(),
                    ),
                    (
                        format!("/ui/audit/trends.csv?{query}"),
                        "Trend table by month (CSV)".into(),
                    ),
                    (
                        format!("/ui/audit/audit.csv?{query}"),
                        "Audit log events in this period (CSV)".into(),
                    ),
                ],
                log_ok,
                log_state,
                checkpoint,
                witnesses: witness_rows,
                quorum,
            };
            Ok(render(&req, StatusCode::OK, page))
        }
        .await,
    )
}

/// `GET /ui/audit/funnel.svg`: the funnel plot of the period.
pub async fn funnel(
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    q: web::Query<Period>,
) -> Result<HttpResponse, UiError> {
    let request = q.asked().request()?;
    let title = request.title();
    let (p0, items, download) = outliers(&state, &session.user, request, "funnel.svg").await?;
    let body = funnel_svg(&title, p0, &items).into_bytes();
    Ok(bytes_response(
        "image/svg+xml; charset=utf-8",
        None,
        body,
        items.len() as u64,
        move |rows, completed| download.finish(rows, completed),
    ))
}

fn stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

/// The period as the closure list's `from` (inclusive) and `to` (exclusive).
fn dates(a: &Asked) -> Result<(String, String), AppError> {
    let months = crate::export::months::Months::parse(Some(&a.from), Some(&a.to))?;
    let (from, to) = months.micros();
    let day = |us: i64| {
        chrono::DateTime::from_timestamp_micros(us)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    Ok((day(from), day(to)))
}

/// `GET /ui/audit/closures.csv`: the closures of the period, as
/// `/exports/closures.csv` answers them.
pub async fn closures_csv(
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    q: web::Query<Period>,
) -> Result<HttpResponse, UiError> {
    let a = q.asked();
    let (from, to) = dates(&a)?;
    let params = ClosureParams {
        offence_category: a.offence.clone(),
        from: Some(from.clone()),
        to: Some(to.clone()),
        ..ClosureParams::default()
    };
    let filters = json!({"offence_category": a.offence, "from": from, "to": to, "via": "ui"});
    let export = exports::closures(&state, &session.user, closure_filter(&params), filters).await?;
    let download = export.download;
    Ok(csv_response(
        &format!("closures-{}.csv", stamp()),
        false,
        &closure_columns::COLUMNS,
        export.produce,
        move |rows, completed| download.finish(rows, completed),
    ))
}

/// `GET /ui/audit/trends.csv`: the trend table by month, as `/exports/trends.csv`.
pub async fn trends_csv(
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    q: web::Query<Period>,
) -> Result<HttpResponse, UiError> {
    let a = q.asked();
    let (header, export) = exports::trends(&state, &session.user, Ok(trend_query(&a))).await?;
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let download = export.download;
    Ok(csv_response(
        &format!("trends-{}.csv", stamp()),
        false,
        &header,
        export.produce,
        move |rows, completed| download.finish(rows, completed),
    ))
}

/// `GET /ui/audit/audit.csv`: the audit log's events of the period, as
/// `/exports/audit.csv`.
pub async fn audit_csv(
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    q: web::Query<Period>,
) -> Result<HttpResponse, UiError> {
    let a = q.asked();
    let (from, to) = dates(&a)?;
    let search = (|| {
        Ok(audit_service::EventSearch {
            from: Some(parse_instant("from", &from)?),
            to: Some(parse_instant("to", &to)?),
            ..Default::default()
        })
    })();
    let filters = json!({"from": from, "to": to, "via": "ui"});
    let export = exports::audit_log(&state, &session.user, search, filters).await?;
    let download = export.download;
    Ok(csv_response(
        &format!("audit-{}.csv", stamp()),
        false,
        &AUDIT_CSV_COLUMNS,
        export.produce,
        move |rows, completed| download.finish(rows, completed),
    ))
}
