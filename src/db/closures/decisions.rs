//! Sign-off's writes: a closure's transitions, and the `decisions` table.

use crate::db::described::described_row;
use crate::db::schema::{closures, decisions};
use crate::db::{Conn, trend_summary, trend_versions, with_conn};
use crate::domain::signoff::Status;
use crate::domain::trends::{SummaryChange, TrendFacts, record_change};
use crate::error::AppResult;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// The latest decision, as it is copied onto the closure.
pub struct LatestDecision<'a> {
    pub decision: &'a str,
    pub by_user_id: &'a str,
    pub by_officer_id: &'a str,
    pub by_rank: &'a str,
    pub decided_at: i64,
    pub rationale: &'a str,
}

/// What the trend summary counted of a closure: proposed at, force, outcome,
/// status, review flags, received at, decided at.
type Counted = (i64, String, i32, String, String, i64, Option<i64>);

/// Moves a closure from `version` in one of `from` to `to`, raising its version;
/// records the decision on it when one is given. Returns whether it moved: it
/// does not when another change came first, so exactly one of many concurrent
/// changes wins.
pub fn transition(
    conn: &mut Conn,
    id: &str,
    version: i64,
    from: &[Status],
    to: Status,
    decision: Option<LatestDecision>,
) -> AppResult<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    // What the trend summary counted of it at `version`: if the update below
    // matches, the row is still at `version`, so this is what it changes.
    let before: Option<Counted> = with_conn!(conn, c => closures::table
            .filter(closures::id.eq(id))
            .filter(closures::version.eq(version))
            .select((
                closures::closure_proposed_at,
                closures::force_id,
                closures::outcome_code,
                closures::status,
                closures::review_flags,
                closures::received_at,
                closures::decided_at,
            ))
            .first(c)
            .optional())?;
    let Some((closure_proposed_at, force_id, outcome_code, status, flags, received_at, decided_at)) =
        before
    else {
        return Ok(false);
    };
    let old = TrendFacts {
        closure_proposed_at,
        force_id,
        outcome_code,
        status,
        flagged: !flags.is_empty(),
        received_at,
        decided_at,
    };
    let new = TrendFacts {
        status: to.as_str().to_string(),
        decided_at: decision.as_ref().map(|d| d.decided_at).or(old.decided_at),
        ..old.clone()
    };
    let target = closures::table
        .filter(closures::id.eq(id))
        .filter(closures::version.eq(version))
        .filter(closures::status.eq_any(from));
    let n = match decision {
        Some(d) => with_conn!(conn, c => diesel::update(target)
            .set((
                closures::status.eq(to.as_str()),
                closures::version.eq(version + 1),
                closures::decision.eq(d.decision),
                closures::decided_by_user_id.eq(d.by_user_id),
                closures::decided_by_officer_id.eq(d.by_officer_id),
                closures::decided_by_rank.eq(d.by_rank),
                closures::decided_at.eq(d.decided_at),
                closures::decision_rationale.eq(d.rationale),
            ))
            .execute(c))?,
        None => with_conn!(conn, c => diesel::update(target)
            .set((closures::status.eq(to.as_str()), closures::version.eq(version + 1)))
            .execute(c))?,
    };
    if n == 1 {
        trend_versions::bump(conn)?;
        let mut change = SummaryChange::new();
        record_change(&mut change, Some(&old), Some(&new));
        trend_summary::apply(conn, &change)?;
    }
    Ok(n == 1)
}

described_row! {
    table decisions;
    /// A decision as sign-off records it (the database assigns `id`).
    #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
    #[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
    pub struct DecisionRow {
        #[diesel(skip_insertion)]
        id: BigInt => i64,
        closure_id: Text => String,
        decision: Text => String,
        by_user_id: Text => String,
        by_officer_id: Text => String,
        by_rank: Text => String,
        rationale: Text => String,
        checklist: Text => String,
        decided_at: BigInt => i64,
    }
    also
    /// A decision inserted with its `id`, as migrate-data copies it.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
    #[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
    pub struct KeyedDecisionRow;
}

pub fn insert_decision(conn: &mut Conn, row: &DecisionRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(decisions::table).values(row).execute(c))?;
    Ok(())
}

/// The decisions on these closures, in the order they were taken.
pub fn decisions_of(conn: &mut Conn, closure_ids: &[&str]) -> AppResult<Vec<DecisionRow>> {
    if closure_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(with_conn!(conn, c => decisions::table
        .filter(decisions::closure_id.eq_any(closure_ids))
        .order(decisions::id.asc())
        .select(DecisionRow::as_select())
        .load(c))?)
}

/// The decisions on the closures whose ids are in `(after, upto]` (either end
/// open when `None`), in `(closure_id, id)` order: a range of their index.
pub fn decisions_of_range(
    conn: &mut Conn,
    after: Option<&str>,
    upto: Option<&str>,
) -> AppResult<Vec<DecisionRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = decisions::table
            .order((decisions::closure_id.asc(), decisions::id.asc()))
            .select(DecisionRow::as_select())
            .into_boxed();
        if let Some(a) = after {
            q = q.filter(decisions::closure_id.gt(a));
        }
        if let Some(u) = upto {
            q = q.filter(decisions::closure_id.le(u));
        }
        q.load(c)
    })?)
}
