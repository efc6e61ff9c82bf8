//! Deciding and reopening closures (recommendation 5.2): the decider's rank at
//! that moment is checked and stored; exactly one of many concurrent changes
//! wins, the others get 409.

use super::closures::{Closure, load, not_found};
use crate::audit::content::{DecisionContent, checklist_json, reason_hash};
use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::closures::{self, DecisionRow, LatestDecision};
use crate::db::now_micros;
use crate::domain::authorize::{self, Parties, Resource};
use crate::domain::conflicts::Clash;
use crate::domain::signoff::{
    Decision, DecisionDraft, DecisionInput, ReopenDraft, ReopenInput, Status, validate_decision,
    validate_reopen,
};
use crate::domain::webhooks::EventType;
use crate::error::{AppError, AppResult};
use crate::service::permit::permit;
use crate::service::webhooks::{nudge_if_queued, queue_change};
use crate::service::{Context, Parsed};
use serde_json::json;

fn parties(closure: &closures::ClosureRow) -> Parties<'_> {
    Parties {
        force_id: &closure.force_id,
        proposer_officer_id: &closure.proposed_by_officer_id,
        posted_by_user_id: &closure.received_by_user_id,
    }
}

/// The version a change applies to: the one the client expects, which must be
/// the current one, or else the current one.
fn version_to_change(expected: Option<i64>, current: i64) -> AppResult<i64> {
    match expected {
        Some(v) if v != current => Err(AppError::Conflict(
            Clash::StaleVersion,
            format!("expected_version {v} is stale: the closure is at version {current}"),
        )),
        _ => Ok(current),
    }
}

/// The closure's status, when it is one of `allowed`; a 409 naming what can be
/// `done` otherwise.
fn status_among(stored: &str, allowed: &[Status], done: &str, clash: Clash) -> AppResult<Status> {
    let status = Status::parse(stored)
        .ok_or_else(|| AppError::internal(format!("unknown status {stored:?}")))?;
    if allowed.contains(&status) {
        return Ok(status);
    }
    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    Err(AppError::Conflict(
        clash,
        format!(
            "the closure is {}; only a closure that is {} can be {done}",
            status.as_str(),
            names.join(" or ")
        ),
    ))
}

/// Another decision or reopening committed between our read and our write.
fn lost_race() -> AppError {
    AppError::Conflict(
        Clash::ConcurrentChange,
        "another change to this closure came first; read it again".into(),
    )
}

/// `POST /closures/{id}/decision`.
pub async fn decide(
    state: &Context,
    caller: &AuthUser,
    id: String,
    draft: Parsed<DecisionDraft>,
) -> AppResult<Closure> {
    permit(caller, authorize::Action::Decide, Resource::Any)?;
    // Judged now, reported after the access checks: who may not decide learns 403/404 first.
    let parsed = draft.and_then(|d| validate_decision(d).map_err(AppError::Validation));
    let caller = caller.clone();
    let body_of = state.closure_body;
    let (decided, queued) = state
        .db
        .write(move |c| {
            let closure = closures::find(c, &id)?.ok_or_else(not_found)?;
            let on = Resource::Closure(parties(&closure));
            permit(&caller, authorize::Action::Decide, on)?;
            let input: DecisionInput = parsed?;
            let status = status_among(
                &closure.status,
                &Status::DECIDABLE,
                "decided",
                Clash::AlreadyDecided,
            )?;
            let version = version_to_change(input.expected_version, closure.version)?;
            let to = input.decision.outcome();
            let now = now_micros();
            let rank = caller.rank.map(|r| r.as_str()).unwrap_or_default();
            let officer_id = caller.officer_id.clone().unwrap_or_default();
            let latest = LatestDecision {
                decision: input.decision.as_str(),
                by_user_id: &caller.id,
                by_officer_id: &officer_id,
                by_rank: rank,
                decided_at: now,
                rationale: &input.rationale,
            };
            if !closures::transition(c, &id, version, &Status::DECIDABLE, to, Some(latest))? {
                return Err(lost_race());
            }
            let checklist = checklist_json(input.checklist);
            closures::insert_decision(
                c,
                &DecisionRow {
                    id: 0,
                    closure_id: id.clone(),
                    decision: input.decision.as_str().into(),
                    by_user_id: caller.id.clone(),
                    by_officer_id: officer_id.clone(),
                    by_rank: rank.into(),
                    rationale: input.rationale.clone(),
                    checklist: checklist.to_string(),
                    decided_at: now,
                },
            )?;
            let (action, event) = match input.decision {
                Decision::Approve => (Action::ClosureApproved, EventType::ClosureApproved),
                Decision::Reject => (Action::ClosureRejected, EventType::ClosureRejected),
            };
            let content = DecisionContent {
                decision: input.decision.as_str().into(),
                rationale: input.rationale.clone(),
                checklist: checklist.clone(),
                by_user_id: caller.id.clone(),
                by_officer_id: officer_id.clone(),
                by_rank: rank.into(),
                decided_at: now,
            };
            let details = json!({
                "decision_hash": content.hash(),
                "decision": input.decision.as_str(),
                "rationale": input.rationale,
                "checklist": checklist,
                "by_officer_id": officer_id,
                "by_rank": rank,
                "from_status": status.as_str(),
                "to_status": to.as_str(),
                "version": version + 1,
            });
            let actor = caller.actor();
            audit::append(
                c,
                Event::new(action, &actor, Some(&caller.request_id), details)
                    .closure(&id, &closure.force_id),
            )?;
            let decided = load(c, &id)?;
            let queued = queue_change(c, body_of, event, &decided, now)?;
            Ok((decided, queued))
        })
        .await?;
    nudge_if_queued(state, queued);
    Ok(decided)
}

/// `POST /closures/{id}/reopen`.
pub async fn reopen(
    state: &Context,
    caller: &AuthUser,
    id: String,
    draft: Parsed<ReopenDraft>,
) -> AppResult<Closure> {
    permit(caller, authorize::Action::Reopen, Resource::Any)?;
    let parsed = draft.and_then(|d| validate_reopen(d).map_err(AppError::Validation));
    let caller = caller.clone();
    let body_of = state.closure_body;
    let (reopened, queued) = state
        .db
        .write(move |c| {
            let closure = closures::find(c, &id)?.ok_or_else(not_found)?;
            let on = Resource::Closure(parties(&closure));
            permit(&caller, authorize::Action::Reopen, on)?;
            let input: ReopenInput = parsed?;
            let status = status_among(
                &closure.status,
                &Status::REOPENABLE,
                "reopened",
                Clash::NotDecided,
            )?;
            let version = version_to_change(input.expected_version, closure.version)?;
            if !closures::transition(c, &id, version, &Status::REOPENABLE, Status::Reopened, None)?
            {
                return Err(lost_race());
            }
            let details = json!({
                "reason_hash": reason_hash(&input.reason),
                "reason": input.reason,
                "by_officer_id": caller.officer_id,
                "by_rank": caller.rank.map(|r| r.as_str()),
                "from_status": status.as_str(),
                "to_status": Status::Reopened.as_str(),
                "version": version + 1,
            });
            let actor = caller.actor();
            let ev = Event::new(
                Action::ClosureReopened,
                &actor,
                Some(&caller.request_id),
                details,
            )
            .closure(&id, &closure.force_id);
            audit::append(c, ev)?;
            let reopened = load(c, &id)?;
            let queued = queue_change(
                c,
                body_of,
                EventType::ClosureReopened,
                &reopened,
                now_micros(),
            )?;
            Ok((reopened, queued))
        })
        .await?;
    nudge_if_queued(state, queued);
    Ok(reopened)
}

/// What `caller` may do to `closure` now, for a face that offers only what
/// would be allowed (the use cases above decide again when it is done).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Choices {
    pub decide: bool,
    pub reopen: bool,
}

pub fn choices(caller: &AuthUser, closure: &Closure) -> Choices {
    let on = Resource::Closure(Parties {
        force_id: &closure.force_id,
        proposer_officer_id: &closure.proposed_by_officer_id,
        posted_by_user_id: &closure.received_by_user_id,
    });
    let status = Status::parse(&closure.status);
    let allowed = |action| permit(caller, action, on).is_ok();
    Choices {
        decide: status.is_some_and(|s| Status::DECIDABLE.contains(&s))
            && allowed(authorize::Action::Decide),
        reopen: status.is_some_and(|s| Status::REOPENABLE.contains(&s))
            && allowed(authorize::Action::Reopen),
    }
}
