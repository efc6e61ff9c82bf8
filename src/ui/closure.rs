//! `/ui/closures/{id}`: a closure, its evidence, review flags and decisions
//! (viewing is logged by the use case `closures::view`, as the API's is), and
//! for an officer who may, the decision form (`signoff::decide`) or the reopen
//! form (`signoff::reopen`). A refusal shows the page again with a GOV.UK error
//! summary linking to each field and what was typed kept.

use super::page::{Chrome, Issue, UiError, in_session, issue_for, render, see_other};
use super::queue::urlencode;
use super::session::{SignedIn, check_csrf};
use super::words;
use crate::domain::FieldError;
use crate::domain::closures::CHECKLIST;
use crate::domain::conflicts::Clash;
use crate::domain::signoff::{DecisionDraft, ReopenDraft};
use crate::domain::validation::Given;
use crate::error::AppError;
use crate::service::closures::{self, Closure};
use crate::service::sessions::Session;
use crate::service::signoff::{self, Choices};
use crate::service::{Context, Parsed};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

pub struct Item {
    pub key: String,
    pub value: String,
}

pub struct Shown {
    pub decision: String,
    pub by: String,
    pub at: String,
    pub rationale: String,
    pub checklist: Vec<Item>,
}

pub struct Check {
    pub name: &'static str,
    pub label: &'static str,
    pub checked: bool,
    pub error: Option<String>,
}

/// What the decider typed, kept when the page comes back with errors.
#[derive(Default)]
pub struct Typed {
    pub decision: String,
    pub rationale: String,
    pub checks: [bool; 4],
    pub reason: String,
}

#[derive(Template)]
#[template(path = "ui/closure.html")]
struct ClosurePage {
    chrome: Chrome,
    id: String,
    crime_reference: String,
    status: &'static str,
    status_class: &'static str,
    summary: Vec<Item>,
    rationale: String,
    evidence: Vec<Item>,
    references: Vec<String>,
    flags: Vec<String>,
    decisions: Vec<Shown>,
    choices: Choices,
    version: i64,
    issues: Vec<Issue>,
    decision: String,
    rationale_typed: String,
    checks: Vec<Check>,
    checklist_error: bool,
    reason: String,
    banner: Option<String>,
    back: Option<&'static str>,
    csrf: String,
}

impl ClosurePage {
    fn error(&self, id: &str) -> Option<&str> {
        issue_for(&self.issues, id)
    }
}

fn item(key: &str, value: impl Into<String>) -> Item {
    Item {
        key: key.to_string(),
        value: value.into(),
    }
}

fn page(
    session: &Session,
    c: Closure,
    issues: Vec<Issue>,
    typed: Typed,
    banner: Option<String>,
) -> ClosurePage {
    let choices = signoff::choices(&session.user, &c);
    let (status, status_class) = words::status(&c.status);
    let title = match issues.is_empty() {
        true => format!("Closure {}", c.crime_reference),
        false => format!("Error: Closure {}", c.crime_reference),
    };
    let summary = vec![
        item("Crime reference", c.crime_reference.clone()),
        item("Force", c.force_id.clone()),
        item(
            "Division",
            c.division.clone().unwrap_or_else(|| "Not given".into()),
        ),
        item("Offence", words::sentence(&c.offence_category)),
        item(
            "Home Office offence code",
            c.home_office_offence_code
                .clone()
                .unwrap_or_else(|| "Not given".into()),
        ),
        item("Domestic abuse", words::yes_no(Some(c.domestic_abuse_flag))),
        item("Outcome", words::outcome(c.outcome_code)),
        item("Named suspect", words::yes_no(Some(c.named_suspect))),
        item("Crime recorded", words::instant(c.crime_recorded_at)),
        item("Closure proposed", words::instant(c.closure_proposed_at)),
        item(
            "Proposed by",
            format!(
                "Officer {} ({})",
                c.proposed_by_officer_id,
                words::sentence(&c.proposed_by_rank).to_lowercase()
            ),
        ),
        item("Received", words::instant(c.received_at)),
        item("Version", c.version.to_string()),
    ];
    let e = &c.evidence;
    let evidence = vec![
        item(
            words::CHECKLIST_LABELS[0].1,
            words::yes_no(e.victim_wishes_recorded),
        ),
        item(
            words::CHECKLIST_LABELS[1].1,
            words::yes_no(e.evidence_led_prosecution_considered),
        ),
        item(
            words::CHECKLIST_LABELS[2].1,
            words::yes_no(e.safeguarding_in_place),
        ),
        item(
            words::CHECKLIST_LABELS[3].1,
            words::yes_no(e.victim_informed),
        ),
        item(
            "Risk level (DASH)",
            e.risk_level
                .as_deref()
                .map(words::sentence)
                .unwrap_or_else(|| "Not given".into()),
        ),
    ];
    let decisions = c
        .decisions
        .iter()
        .map(|d| Shown {
            decision: match d.decision.as_str() {
                "approve" => "Approved".into(),
                "reject" => "Rejected".into(),
                other => words::sentence(other),
            },
            by: format!(
                "Officer {} ({})",
                d.by_officer_id,
                words::sentence(&d.by_rank).to_lowercase()
            ),
            at: words::instant(d.decided_at),
            rationale: d.rationale.clone(),
            checklist: d
                .checklist
                .iter()
                .map(|(k, v)| item(words::checklist_label(k), words::yes_no(Some(*v))))
                .collect(),
        })
        .collect();
    let checks: Vec<Check> = CHECKLIST
        .iter()
        .zip(typed.checks)
        .map(|(name, checked)| Check {
            name,
            label: words::checklist_label(name),
            checked,
            error: issue_for(&issues, name).map(str::to_owned),
        })
        .collect();
    ClosurePage {
        chrome: Chrome::new(title, Some(session), ""),
        id: c.id.clone(),
        crime_reference: c.crime_reference.clone(),
        status,
        status_class,
        summary,
        rationale: c.rationale.clone(),
        evidence,
        references: e.references.clone(),
        flags: c.review_flags.iter().map(|f| words::flag(f)).collect(),
        decisions,
        choices,
        version: c.version,
        issues,
        decision: typed.decision,
        rationale_typed: typed.rationale,
        checklist_error: checks.iter().any(|c| c.error.is_some()),
        checks,
        reason: typed.reason,
        banner,
        back: super::page::signs_off(&session.user).then_some("/ui/queue"),
        csrf: session.csrf_token.clone(),
    }
}

#[derive(Deserialize)]
pub struct ViewParams {
    done: Option<String>,
}

/// `GET /ui/closures/{id}`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    id: web::Path<String>,
    q: web::Query<ViewParams>,
) -> Result<HttpResponse, UiError> {
    let frame = session.clone();
    in_session(
        &frame,
        async move {
            let c = closures::view(&state, &session.user, id.into_inner()).await?;
            let banner = q.done.as_deref().map(|done| match done {
                "reopened" => "The closure is reopened and awaits a decision".to_string(),
                _ => format!(
                    "Decision recorded: the closure is {}",
                    words::status(&c.status).0.to_lowercase()
                ),
            });
            let p = page(&session, c, Vec::new(), Typed::default(), banner);
            Ok(render(&req, StatusCode::OK, p))
        }
        .await,
    )
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf_token: String,
    decision: Option<String>,
    #[serde(default)]
    rationale: String,
    victim_wishes_recorded: Option<String>,
    evidence_led_prosecution_considered: Option<String>,
    safeguarding_in_place: Option<String>,
    victim_informed: Option<String>,
    expected_version: Option<String>,
}

fn version_given(v: &Option<String>) -> Given<i64> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Given::Absent,
        Some(s) => s.parse().map_or(Given::OtherKind, Given::Value),
    }
}

/// Each refused field as an entry of the error summary, linked to its field.
fn issues_of(errors: &[FieldError], typed: &Typed) -> Vec<Issue> {
    errors
        .iter()
        .map(|e| {
            let f = e.field.as_str();
            let (id, text) = if let Some(item) = f.strip_prefix("checklist.") {
                (
                    item.to_string(),
                    format!(
                        "Confirm \u{201c}{}\u{201d} to approve, or select Reject",
                        words::checklist_label(item)
                    ),
                )
            } else {
                match f {
                    "decision" => ("decision".into(), "Select Approve or Reject".into()),
                    "rationale" if typed.rationale.trim().is_empty() => {
                        ("rationale".into(), "Enter a rationale".into())
                    }
                    "rationale" => (
                        "rationale".into(),
                        "Rationale must be between 20 and 10,000 characters".into(),
                    ),
                    "reason" if typed.reason.trim().is_empty() => {
                        ("reason".into(), "Enter a reason for reopening".into())
                    }
                    "reason" => (
                        "reason".into(),
                        "Reason must be between 20 and 10,000 characters".into(),
                    ),
                    "checklist" => (
                        CHECKLIST[0].to_string(),
                        format!("Checklist: {}", e.message),
                    ),
                    _ => (
                        "decision".into(),
                        format!("{}: {}", words::sentence(f), e.message),
                    ),
                }
            };
            Issue { id, text }
        })
        .collect()
}

/// What a refused change shows: the page again, with the error summary (422
/// for fields, 409 when someone else changed the closure first).
async fn refused(
    req: &HttpRequest,
    state: &Context,
    session: &Session,
    id: String,
    err: AppError,
    typed: Typed,
) -> Result<HttpResponse, UiError> {
    let (status, issues) = match err {
        AppError::Validation(errors) => (StatusCode::UNPROCESSABLE_ENTITY, issues_of(&errors, &typed)),
        AppError::Conflict(
            Clash::StaleVersion | Clash::ConcurrentChange | Clash::AlreadyDecided | Clash::NotDecided,
            _,
        ) => (
            StatusCode::CONFLICT,
            vec![Issue {
                id: "history".into(),
                text: "Someone else decided on or changed this closure first. Read it again below before you act".into(),
            }],
        ),
        other => return Err(other.into()),
    };
    let c = closures::view(state, &session.user, id).await?;
    Ok(render(req, status, page(session, c, issues, typed, None)))
}

/// `POST /ui/closures/{id}/decision`.
pub async fn decide(
    req: HttpRequest,
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    id: web::Path<String>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, UiError> {
    let frame = session.clone();
    in_session(
        &frame,
        async move {
            let form = form.into_inner();
            check_csrf(&session, &form.csrf_token)?;
            let id = id.into_inner();
            let checks = [
                form.victim_wishes_recorded.is_some(),
                form.evidence_led_prosecution_considered.is_some(),
                form.safeguarding_in_place.is_some(),
                form.victim_informed.is_some(),
            ];
            let draft: Parsed<DecisionDraft> = Ok(DecisionDraft {
                decision: Given::from_option(form.decision.clone().filter(|d| !d.is_empty())),
                rationale: Given::Value(form.rationale.clone()),
                checklist: Given::Value(checks.map(Given::Value)),
                expected_version: version_given(&form.expected_version),
            });
            let typed = Typed {
                decision: form.decision.unwrap_or_default(),
                rationale: form.rationale,
                checks,
                reason: String::new(),
            };
            match signoff::decide(&state, &session.user, id.clone(), draft).await {
                Ok(_) => Ok(see_other(&format!(
                    "/ui/closures/{}?done=decided",
                    urlencode(&id)
                ))),
                Err(e) => refused(&req, &state, &session, id, e, typed).await,
            }
        }
        .await,
    )
}

#[derive(Deserialize)]
pub struct ReopenForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reason: String,
    expected_version: Option<String>,
}

/// `POST /ui/closures/{id}/reopen`.
pub async fn reopen(
    req: HttpRequest,
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    id: web::Path<String>,
    form: web::Form<ReopenForm>,
) -> Result<HttpResponse, UiError> {
    let frame = session.clone();
    in_session(
        &frame,
        async move {
            let form = form.into_inner();
            check_csrf(&session, &form.csrf_token)?;
            let id = id.into_inner();
            let draft: Parsed<ReopenDraft> = Ok(ReopenDraft {
                reason: Given::Value(form.reason.clone()),
                expected_version: version_given(&form.expected_version),
            });
            let typed = Typed {
                reason: form.reason,
                ..Typed::default()
            };
            match signoff::reopen(&state, &session.user, id.clone(), draft).await {
                Ok(_) => Ok(see_other(&format!(
                    "/ui/closures/{}?done=reopened",
                    urlencode(&id)
                ))),
                Err(e) => refused(&req, &state, &session, id, e, typed).await,
            }
        }
        .await,
    )
}
