//! The `closures` and `decisions` tables: `row` the closure's row, `insert`
//! ingest's insert, `decisions` sign-off's transitions and the decisions
//! table, `export` the paged reads of exports and reports; the lookups are
//! here.

use crate::db::schema::closures;
use crate::db::{Conn, stream_rows, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;

/// Keys per `IN (…)` lookup, well under SQLite's limit of 32,766 bound values.
const KEYS_CHUNK: usize = 400;

/// Narrows a boxed closures query by a [`ClosureFilter`] (one text for every backend).
macro_rules! with_filter {
    ($q:expr, $f:expr) => {{
        let (mut q, f) = ($q, $f);
        if let Some(v) = &f.force_id {
            q = q.filter(closures::force_id.eq(v));
        }
        if let Some(v) = &f.status {
            q = q.filter(closures::status.eq(v));
        }
        if let Some(v) = &f.division {
            q = q.filter(closures::division.eq(v));
        }
        if let Some(v) = f.outcome_code {
            q = q.filter(closures::outcome_code.eq(v));
        }
        if let Some(v) = &f.offence_category {
            q = q.filter(closures::offence_category.eq(v));
        }
        if let Some(v) = f.from {
            q = q.filter(closures::closure_proposed_at.ge(v));
        }
        if let Some(v) = f.to {
            q = q.filter(closures::closure_proposed_at.lt(v));
        }
        q
    }};
}

mod decisions;
mod export;
mod insert;
mod row;

pub use crate::domain::filters::ClosureFilter;
pub use decisions::{
    DecisionRow, KeyedDecisionRow, LatestDecision, decisions_of, decisions_of_range,
    insert_decision, transition,
};
pub use export::{CsvRow, TrendRow, export_page, for_each, for_each_csv, for_each_trend_row};
pub use insert::{insert_new, insert_rows};
pub use row::ClosureRow;

/// For the given `source_event_id`s of one force: (source_event_id, id, content_hash).
pub fn stored_keys(
    conn: &mut Conn,
    force_id: &str,
    source_event_ids: &[&str],
) -> AppResult<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for chunk in source_event_ids.chunks(KEYS_CHUNK) {
        let found: Vec<(String, String, String)> = with_conn!(conn, c => closures::table
            .filter(closures::force_id.eq(force_id))
            .filter(closures::source_event_id.eq_any(chunk))
            .select((closures::source_event_id, closures::id, closures::content_hash))
            .load(c))?;
        out.extend(found);
    }
    Ok(out)
}

pub fn find(conn: &mut Conn, id: &str) -> AppResult<Option<ClosureRow>> {
    Ok(
        with_conn!(conn, c => closures::table.find(id).select(ClosureRow::as_select()).first(c).optional())?,
    )
}

/// Every closure posted for one crime, oldest first.
pub fn by_case(
    conn: &mut Conn,
    force_id: &str,
    crime_reference: &str,
) -> AppResult<Vec<ClosureRow>> {
    Ok(with_conn!(conn, c => closures::table
        .filter(closures::force_id.eq(force_id))
        .filter(closures::crime_reference.eq(crime_reference))
        .order((closures::received_at.asc(), closures::id.asc()))
        .limit(1000)
        .select(ClosureRow::as_select())
        .load(c))?)
}

/// A page of closures, newest received first, strictly after the keyset
/// position `before` = (received_at, id) of the previous page's last row.
pub fn page(
    conn: &mut Conn,
    f: &ClosureFilter,
    before: Option<(i64, String)>,
    limit: i64,
) -> AppResult<Vec<ClosureRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = closures::table
            .select(ClosureRow::as_select())
            .order((closures::received_at.desc(), closures::id.desc()))
            .limit(limit)
            .into_boxed();
        q = with_filter!(q, f);
        // `received_at <= at` first, so that the index on (received_at, id) gives
        // a range; an OR alone would make both planners scan from the start.
        if let Some((at, id)) = &before {
            q = q.filter(closures::received_at.le(*at)).filter(closures::received_at.lt(*at).or(closures::id.lt(id)));
        }
        q.load(c)
    })?)
}

/// At most `limit` closures after `after` in id order, row by row into `f`
/// (on PostgreSQL by `COPY`, [`crate::db::copy_out`]).
pub fn for_each_by_id(
    conn: &mut Conn,
    after: Option<&str>,
    limit: i64,
    f: impl FnMut(ClosureRow) -> AppResult<bool>,
) -> AppResult<()> {
    macro_rules! query {
        () => {{
            let mut q = closures::table
                .select(ClosureRow::as_select())
                .order(closures::id.asc())
                .limit(limit)
                .into_boxed();
            if let Some(a) = after {
                q = q.filter(closures::id.gt(a));
            }
            q
        }};
    }
    if let Conn::Postgres(c) = conn {
        use crate::db::copy_out::{Copied, copy_rows, param};
        let mut f = f;
        let query = format!(
            "SELECT {} FROM closures{} ORDER BY id LIMIT {limit}",
            crate::db::described::column_list::<ClosureRow>(),
            if after.is_some() {
                format!(" WHERE id > {}", param(1))
            } else {
                String::new()
            }
        );
        copy_rows(c, &query, after.as_slice(), |r| {
            f(ClosureRow::copied(r, 0)?)
        })?;
        return Ok(());
    }
    stream_rows!(conn, ClosureRow, query!(), f)
}

/// What the inspector's queue asks for: one force's closures awaiting a
/// decision (`statuses`), optionally of one division and offence category.
pub struct AwaitingFilter<'a> {
    pub force_id: &'a str,
    pub statuses: &'a [&'a str],
    pub division: Option<&'a str>,
    pub offence_category: Option<&'a str>,
}

/// A page of the queue, oldest received first, and how many there are in all.
pub fn awaiting(
    conn: &mut Conn,
    f: &AwaitingFilter,
    offset: i64,
    limit: i64,
) -> AppResult<(Vec<ClosureRow>, i64)> {
    macro_rules! narrowed {
        ($q:expr) => {{
            let mut q = $q
                .filter(closures::force_id.eq(f.force_id))
                .filter(closures::status.eq_any(f.statuses));
            if let Some(d) = f.division {
                q = q.filter(closures::division.eq(d));
            }
            if let Some(o) = f.offence_category {
                q = q.filter(closures::offence_category.eq(o));
            }
            q
        }};
    }
    let total: i64 =
        with_conn!(conn, c => narrowed!(closures::table.into_boxed()).count().get_result(c))?;
    let rows = with_conn!(conn, c => narrowed!(closures::table.into_boxed())
        .order((closures::received_at.asc(), closures::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(ClosureRow::as_select())
        .load(c))?;
    Ok((rows, total))
}

/// The divisions named on a force's closures, in order.
pub fn divisions(conn: &mut Conn, force_id: &str) -> AppResult<Vec<String>> {
    let names: Vec<Option<String>> = with_conn!(conn, c => closures::table
        .filter(closures::force_id.eq(force_id))
        .select(closures::division)
        .distinct()
        .order(closures::division.asc())
        .limit(1000)
        .load(c))?;
    Ok(names.into_iter().flatten().collect())
}

/// When each of these closures was last reopened (from its
/// `closure.reopened` events), for those ever reopened.
pub fn reopened_at(conn: &mut Conn, ids: &[&str]) -> AppResult<Vec<(String, i64)>> {
    use crate::db::schema::audit_events as ev;
    let mut out = Vec::new();
    for chunk in ids.chunks(KEYS_CHUNK) {
        let found: Vec<(Option<String>, Option<i64>)> = with_conn!(conn, c => ev::table
            .filter(ev::action.eq("closure.reopened"))
            .filter(ev::closure_id.eq_any(chunk))
            .group_by(ev::closure_id)
            .select((ev::closure_id, diesel::dsl::max(ev::at)))
            .load(c))?;
        out.extend(found.into_iter().filter_map(|(id, at)| Some((id?, at?))));
    }
    Ok(out)
}
