//! Reading closures, within the caller's scope. Viewing one is itself an audit
//! event (Data Protection Act 2018, s.62: consultation is logged).

use crate::app::AppState;
use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::Conn;
use crate::db::closures::{self, ClosureFilter, ClosureRow, DecisionRow};
use crate::domain::access::{Scope, closure_scope};
use crate::error::{AppError, AppResult};
use serde_json::json;

/// A closure with every decision taken on it.
#[derive(Debug, Clone)]
pub struct Closure {
    pub row: ClosureRow,
    pub decisions: Vec<DecisionRow>,
}

pub fn not_found() -> AppError {
    AppError::NotFound("no such closure".into())
}

/// The closures `caller` may read; 403 for a role that reads none.
pub fn scope_of(caller: &AuthUser) -> AppResult<Scope> {
    closure_scope(caller.role, caller.force_id.as_deref())
        .map_err(|rule| AppError::Forbidden(rule.into()))
}

/// Attaches their decisions to closure rows (one query for all).
pub fn with_decisions(c: &mut Conn, rows: Vec<ClosureRow>) -> AppResult<Vec<Closure>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut decisions = closures::decisions_of(c, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut decisions)
                .into_iter()
                .partition(|d| d.closure_id == row.id);
            decisions = rest;
            Closure {
                row,
                decisions: mine,
            }
        })
        .collect())
}

/// One closure with its decisions, read inside the caller's transaction.
pub fn load(c: &mut Conn, id: &str) -> AppResult<Closure> {
    let row = closures::find(c, id)?.ok_or_else(not_found)?;
    Ok(with_decisions(c, vec![row])?.remove(0))
}

fn viewed<'a>(
    caller: &'a AuthUser,
    actor: &'a crate::audit::Actor,
    row: &'a ClosureRow,
) -> Event<'a> {
    let details = json!({"crime_reference": row.crime_reference, "version": row.version});
    Event::new(
        Action::ClosureViewed,
        actor,
        Some(&caller.request_id),
        details,
    )
    .closure(&row.id, &row.force_id)
}

/// `GET /closures/{id}`: another force's closure does not exist for the caller.
pub async fn view(state: &AppState, caller: &AuthUser, id: String) -> AppResult<Closure> {
    let scope = scope_of(caller)?;
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            let closure = load(c, &id)?;
            if !scope.allows(&closure.row.force_id) {
                return Err(not_found());
            }
            let actor = caller.actor();
            audit::append(c, viewed(&caller, &actor, &closure.row))?;
            Ok(closure)
        })
        .await
}

/// `GET /closures`: a page, newest received first, after the keyset position
/// `before`. A force the caller may not see yields an empty page.
pub async fn list(
    state: &AppState,
    caller: &AuthUser,
    mut filter: ClosureFilter,
    before: Option<(i64, String)>,
    limit: i64,
) -> AppResult<Vec<Closure>> {
    match scope_of(caller)?.narrow(filter.force_id.as_deref()) {
        Ok(force) => filter.force_id = force,
        Err(_) => return Ok(Vec::new()),
    }
    state
        .db
        .read(move |c| {
            let rows = closures::page(c, &filter, before, limit)?;
            with_decisions(c, rows)
        })
        .await
}

/// `GET /cases`: every closure posted for one crime, oldest first; each is a view.
pub async fn case(
    state: &AppState,
    caller: &AuthUser,
    force_id: String,
    crime_reference: String,
) -> AppResult<Vec<Closure>> {
    if !scope_of(caller)?.allows(&force_id) {
        return Ok(Vec::new());
    }
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            let rows = closures::by_case(c, &force_id, &crime_reference)?;
            let all = with_decisions(c, rows)?;
            let actor = caller.actor();
            let events: Vec<Event> = all
                .iter()
                .map(|cl| viewed(&caller, &actor, &cl.row))
                .collect();
            audit::append_all(c, &events)?;
            Ok(all)
        })
        .await
}
