//! The inspector's queue: the caller's force's closures awaiting a decision
//! (`pending_signoff` and `reopened`), oldest received first, each with how
//! long it has waited since it was received or last reopened. Only an officer
//! who may sign off for the force has one; each page read is a consultation
//! of the closures on it, logged as the closure list's pages are
//! (`closure.listed`).

use super::Context;
use super::closures::{Closure, with_decisions};
use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::closures::{self, AwaitingFilter};
use crate::db::now_micros;
use crate::domain::authorize::{self, Resource};
use crate::domain::signoff::Status;
use crate::error::{AppError, AppResult};
use crate::service::permit::permit;
use serde_json::json;

const DAY_US: i64 = 86_400_000_000;

/// One closure on the queue.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub closure: Closure,
    /// When it was received, or last reopened (microseconds).
    pub since: i64,
    /// Whole days waited.
    pub days: i64,
    /// Waiting longer than `signoff_due_days`.
    pub overdue: bool,
}

/// A page of the queue.
#[derive(Debug, Clone)]
pub struct Queue {
    pub items: Vec<Waiting>,
    /// Closures awaiting a decision under these filters, on every page.
    pub total: i64,
    /// The force's divisions, to filter by.
    pub divisions: Vec<String>,
    pub due_days: u64,
}

/// What the queue is narrowed to, and which page (from 1).
#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    pub division: Option<String>,
    pub offence_category: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

/// Whole days from `since` to `now`, and whether that is more than `due_days`.
pub fn waited(since: i64, now: i64, due_days: u64) -> (i64, bool) {
    let us = (now - since).max(0);
    (us / DAY_US, us > due_days as i64 * DAY_US)
}

/// The queue of the caller's force; 403 naming the rule for anyone who may
/// not sign off (below inspector: "sign-off requires the rank of inspector or
/// above").
pub async fn awaiting(state: &Context, caller: &AuthUser, q: QueueQuery) -> AppResult<Queue> {
    permit(caller, authorize::Action::Decide, Resource::Any)?;
    let force = caller
        .force_id
        .clone()
        .ok_or_else(|| AppError::internal("an officer without a force"))?;
    permit(caller, authorize::Action::Decide, Resource::Force(&force))?;
    if let Some(c) = &q.offence_category {
        crate::service::filters::closure_filter(&crate::service::filters::ClosureParams {
            offence_category: Some(c.clone()),
            ..Default::default()
        })?;
    }
    let due_days = state.settings.signoff_due_days;
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            let statuses = Status::DECIDABLE.map(Status::as_str);
            let filter = AwaitingFilter {
                force_id: &force,
                statuses: &statuses,
                division: q.division.as_deref(),
                offence_category: q.offence_category.as_deref(),
            };
            let per_page = q.per_page.max(1);
            let offset = (q.page.max(1) - 1) * per_page;
            let (rows, total) = closures::awaiting(c, &filter, offset, per_page)?;
            let divisions = closures::divisions(c, &force)?;
            let items = with_decisions(c, rows)?;
            let ids: Vec<&str> = items.iter().map(|cl| cl.id.as_str()).collect();
            let reopened = closures::reopened_at(c, &ids)?;
            let details = json!({
                "closure_ids": ids,
                "count": ids.len(),
                "filters": {"status": statuses, "division": q.division,
                            "offence_category": q.offence_category, "page": q.page.max(1)},
                "via": "ui",
            });
            let actor = caller.actor();
            let event = Event::new(
                Action::ClosureListed,
                &actor,
                Some(&caller.request_id),
                details,
            )
            .force(Some(&force));
            audit::append(c, event)?;
            let now = now_micros();
            let items = items
                .into_iter()
                .map(|closure| {
                    let since = match Status::parse(&closure.status) {
                        Some(Status::Reopened) => reopened
                            .iter()
                            .find(|(id, _)| *id == closure.id)
                            .map_or(closure.received_at, |(_, at)| *at),
                        _ => closure.received_at,
                    };
                    let (days, overdue) = waited(since, now, due_days);
                    Waiting {
                        closure,
                        since,
                        days,
                        overdue,
                    }
                })
                .collect();
            Ok(Queue {
                items,
                total,
                divisions,
                due_days,
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_waited_and_overdue() {
        let now = 100 * DAY_US;
        assert_eq!(waited(now, now, 7), (0, false));
        assert_eq!(waited(now - 7 * DAY_US, now, 7), (7, false));
        assert_eq!(waited(now - 7 * DAY_US - 1, now, 7), (7, true));
        assert_eq!(waited(now - 9 * DAY_US, now, 7), (9, true));
        assert_eq!(waited(now + 5, now, 7), (0, false));
    }
}
