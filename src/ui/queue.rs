//! `/ui/queue`, "Awaiting sign-off": the inspector's queue (the use case
//! `service::queue`), filtered by division and offence, a page at a time.

use super::page::{Chrome, UiError, in_session, render};
use super::session::SignedIn;
use super::words;
use crate::domain::closures::OFFENCE_CATEGORIES;
use crate::service::Context;
use crate::service::queue::{self, QueueQuery};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

pub const PER_PAGE: i64 = 25;

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Tag {
    pub text: String,
}

pub struct Row {
    pub href: String,
    pub crime_reference: String,
    pub offence: String,
    pub outcome: String,
    pub division: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub days: i64,
    pub overdue: bool,
    pub flags: Vec<Tag>,
}

#[derive(Template)]
#[template(path = "ui/queue.html")]
struct QueuePage {
    chrome: Chrome,
    rows: Vec<Row>,
    total: i64,
    due_days: u64,
    divisions: Vec<Choice>,
    offences: Vec<Choice>,
    page: i64,
    pages: i64,
    previous: Option<String>,
    next: Option<String>,
    filtered: bool,
}

#[derive(Deserialize)]
pub struct QueueParams {
    division: Option<String>,
    offence_category: Option<String>,
    page: Option<String>,
}

fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn link(division: &Option<String>, offence: &Option<String>, page: i64) -> String {
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(d) = division {
        q.push(("division", d.clone()));
    }
    if let Some(o) = offence {
        q.push(("offence_category", o.clone()));
    }
    q.push(("page", page.to_string()));
    let query: Vec<String> = q
        .into_iter()
        .map(|(k, v)| format!("{k}={}", urlencode(&v)))
        .collect();
    format!("/ui/queue?{}", query.join("&"))
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `GET /ui/queue`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    q: web::Query<QueueParams>,
) -> Result<HttpResponse, UiError> {
    let frame = session.clone();
    in_session(
        &frame,
        async move {
            let q = q.into_inner();
            let division = given(q.division);
            let offence = given(q.offence_category);
            let page = given(q.page)
                .and_then(|p| p.parse::<i64>().ok())
                .unwrap_or(1)
                .max(1);
            let queue = queue::awaiting(
                &state,
                &session.user,
                QueueQuery {
                    division: division.clone(),
                    offence_category: offence.clone(),
                    page,
                    per_page: PER_PAGE,
                },
            )
            .await?;
            let pages = ((queue.total + PER_PAGE - 1) / PER_PAGE).max(1);
            let rows = queue
                .items
                .iter()
                .map(|w| {
                    let c = &w.closure;
                    let (status, status_class) = words::status(&c.status);
                    Row {
                        href: format!("/ui/closures/{}", urlencode(&c.id)),
                        crime_reference: c.crime_reference.clone(),
                        offence: words::sentence(&c.offence_category),
                        outcome: c.outcome_code.to_string(),
                        division: c.division.clone().unwrap_or_default(),
                        status,
                        status_class,
                        days: w.days,
                        overdue: w.overdue,
                        flags: c
                            .review_flags
                            .iter()
                            .map(|f| Tag {
                                text: words::flag(f),
                            })
                            .collect(),
                    }
                })
                .collect();
            let divisions = queue
                .divisions
                .iter()
                .map(|d| Choice {
                    value: d.clone(),
                    label: d.clone(),
                    selected: division.as_deref() == Some(d.as_str()),
                })
                .collect();
            let offences = OFFENCE_CATEGORIES
                .iter()
                .map(|o| Choice {
                    value: o.to_string(),
                    label: words::sentence(o),
                    selected: offence.as_deref() == Some(*o),
                })
                .collect();
            let page_view = QueuePage {
                chrome: Chrome::new("Awaiting sign-off", Some(&session), "/ui/queue"),
                rows,
                total: queue.total,
                due_days: queue.due_days,
                divisions,
                offences,
                page,
                pages,
                previous: (page > 1).then(|| link(&division, &offence, page - 1)),
                next: (page < pages).then(|| link(&division, &offence, page + 1)),
                filtered: division.is_some() || offence.is_some(),
            };
            Ok(render(&req, StatusCode::OK, page_view))
        }
        .await,
    )
}
