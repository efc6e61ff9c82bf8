//! Reading closures, within the caller's scope. Viewing one, and each page of
//! the list, is itself an audit event (Data Protection Act 2018, s.62:
//! consultation is logged).

use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::Conn;
use crate::db::closures::{self, ClosureFilter, ClosureRow, DecisionRow};
use crate::domain::access::{Scope, closure_scope};
use crate::domain::authorize::{self, Resource};
use crate::domain::cases::{CaseKey, case_key};
use crate::domain::closures::{Evidence, Victim};
use crate::error::{AppError, AppResult};
use crate::service::Context;
use crate::service::permit::permit;
use serde_json::{Value, json};

pub use crate::domain::records::{StoredClosure as Closure, StoredDecision as Decision};

/// A closure as the faces show it, from its row and its decisions' rows.
pub fn closure_of(row: ClosureRow, decisions: Vec<DecisionRow>) -> Closure {
    let victim = Victim(row.victim().map(|v| v.map(str::to_owned)));
    // References the service wrote are a JSON list; anything else shows as none.
    let references = serde_json::from_str(&row.evidence_references).unwrap_or_default();
    Closure {
        evidence: Evidence {
            victim_wishes_recorded: row.victim_wishes_recorded,
            evidence_led_prosecution_considered: row.evidence_led_prosecution_considered,
            safeguarding_in_place: row.safeguarding_in_place,
            victim_informed: row.victim_informed,
            risk_level: row.risk_level,
            references,
        },
        victim,
        review_flags: row
            .review_flags
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        decisions: decisions.into_iter().map(decision_of).collect(),
        id: row.id,
        source_event_id: row.source_event_id,
        force_id: row.force_id,
        division: row.division,
        crime_reference: row.crime_reference,
        offence_category: row.offence_category,
        home_office_offence_code: row.home_office_offence_code,
        domestic_abuse_flag: row.domestic_abuse_flag,
        outcome_code: row.outcome_code,
        named_suspect: row.named_suspect,
        crime_recorded_at: row.crime_recorded_at,
        closure_proposed_at: row.closure_proposed_at,
        proposed_by_officer_id: row.proposed_by_officer_id,
        proposed_by_rank: row.proposed_by_rank,
        rationale: row.rationale,
        status: row.status,
        received_at: row.received_at,
        received_by_user_id: row.received_by_user_id,
        version: row.version,
    }
}

fn decision_of(d: DecisionRow) -> Decision {
    // The checklist the service wrote is a JSON object of booleans.
    let checklist = match serde_json::from_str::<Value>(&d.checklist) {
        Ok(Value::Object(items)) => items
            .into_iter()
            .map(|(k, v)| (k, v.as_bool().unwrap_or(false)))
            .collect(),
        _ => Vec::new(),
    };
    Decision {
        decision: d.decision,
        by_user_id: d.by_user_id,
        by_officer_id: d.by_officer_id,
        by_rank: d.by_rank,
        rationale: d.rationale,
        checklist,
        decided_at: d.decided_at,
    }
}

pub fn not_found() -> AppError {
    AppError::NotFound("no such closure".into())
}

/// The closures `caller` may read; 403 for a role that reads none.
pub fn scope_of(caller: &AuthUser) -> AppResult<Scope> {
    permit(caller, authorize::Action::ReadClosures, Resource::Any)?;
    Ok(closure_scope(caller.force_id.as_deref()))
}

/// Attaches their decisions to closure rows (one query for all).
pub fn with_decisions(c: &mut Conn, rows: Vec<ClosureRow>) -> AppResult<Vec<Closure>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut by_closure: std::collections::HashMap<String, Vec<DecisionRow>> =
        std::collections::HashMap::new();
    for d in closures::decisions_of(c, &ids)? {
        by_closure.entry(d.closure_id.clone()).or_default().push(d);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let decisions = by_closure.remove(&row.id).unwrap_or_default();
            closure_of(row, decisions)
        })
        .collect())
}

/// One closure with its decisions, read inside the caller's transaction.
pub fn load(c: &mut Conn, id: &str) -> AppResult<Closure> {
    let row = closures::find(c, id)?.ok_or_else(not_found)?;
    Ok(with_decisions(c, vec![row])?.remove(0))
}

fn viewed<'a>(caller: &'a AuthUser, actor: &'a crate::audit::Actor, row: &'a Closure) -> Event<'a> {
    let details = json!({"crime_reference": row.crime_reference, "version": row.version});
    Event::new(
        Action::ClosureViewed,
        actor,
        Some(&caller.request_id),
        details,
    )
    .closure(&row.id, &row.force_id)
}

/// The closure stored before under a replayed `source_event_id`, for its
/// poster (who posted it, so this is no consultation of another's record).
pub async fn replayed(ctx: &Context, id: String) -> AppResult<Closure> {
    ctx.db.read(move |c| load(c, &id)).await
}

/// `GET /closures/{id}`: another force's closure does not exist for the caller.
pub async fn view(state: &Context, caller: &AuthUser, id: String) -> AppResult<Closure> {
    let scope = scope_of(caller)?;
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            let closure = load(c, &id)?;
            if !scope.allows(&closure.force_id) {
                return Err(not_found());
            }
            let actor = caller.actor();
            audit::append(c, viewed(&caller, &actor, &closure))?;
            Ok(closure)
        })
        .await
}

/// A page of the closure list.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Closure>,
    /// Whether more rows follow this page.
    pub more: bool,
}

/// `GET /closures`: a page of at most `limit`, newest received first, after the
/// keyset position `before`. Listing is a consultation of every closure on the
/// page: the page is read in one transaction with its `closure.listed` event
/// (the ids on the page, and `filters` as the caller gave them), so no page is
/// answered without its record. A force the caller may not see yields an empty
/// page, which is logged too.
pub async fn list(
    state: &Context,
    caller: &AuthUser,
    mut filter: ClosureFilter,
    before: Option<(i64, String)>,
    limit: i64,
    filters: Value,
) -> AppResult<ListPage> {
    let scope = scope_of(caller)?;
    let visible = match scope.narrow(filter.force_id.as_deref()) {
        Ok(force) => {
            filter.force_id = force;
            true
        }
        Err(_) => false,
    };
    let scope_force = match scope {
        Scope::Force(f) => Some(f),
        Scope::All => None,
    };
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            let mut rows = if visible {
                closures::page(c, &filter, before, limit + 1)?
            } else {
                Vec::new()
            };
            let more = rows.len() as i64 > limit;
            rows.truncate(limit.max(0) as usize);
            let items = with_decisions(c, rows)?;
            let ids: Vec<&str> = items.iter().map(|cl| cl.id.as_str()).collect();
            let details = json!({"closure_ids": ids, "count": ids.len(), "filters": filters});
            let actor = caller.actor();
            let event = Event::new(
                Action::ClosureListed,
                &actor,
                Some(&caller.request_id),
                details,
            )
            .force(scope_force.as_deref());
            audit::append(c, event)?;
            Ok(ListPage { items, more })
        })
        .await
}

/// `GET /cases`: every closure posted for one crime, oldest first; each is a view.
pub async fn case(
    state: &Context,
    caller: &AuthUser,
    force_id: Option<String>,
    crime_reference: Option<String>,
) -> AppResult<Vec<Closure>> {
    let scope = scope_of(caller)?;
    let CaseKey {
        force_id,
        crime_reference,
    } = case_key(force_id, caller.force_id.as_deref(), crime_reference)?;
    if !scope.allows(&force_id) {
        return Ok(Vec::new());
    }
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            let rows = closures::by_case(c, &force_id, &crime_reference)?;
            let all = with_decisions(c, rows)?;
            let actor = caller.actor();
            let events: Vec<Event> = all.iter().map(|cl| viewed(&caller, &actor, cl)).collect();
            audit::append_all(c, &events)?;
            Ok(all)
        })
        .await
}
