//! The `audit_events` table: appending, and reading pages in `seq` order.

use super::described::{Described, Prepared, column_list, described_row, unnest};
use super::schema::{audit_events, merkle_leaves};
use super::{Conn, stream_rows, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use std::sync::LazyLock;

described_row! {
    table audit_events;
    /// An event to append (the database assigns `seq`).
    #[derive(Debug, Clone, Insertable)]
    pub struct NewEventRow<'a> {
        at: BigInt => i64,
        action: Text => &'a str,
        actor_user_id: Nullable<Text> => Option<&'a str>,
        actor_username: Nullable<Text> => Option<&'a str>,
        actor_role: Nullable<Text> => Option<&'a str>,
        actor_rank: Nullable<Text> => Option<&'a str>,
        actor_force_id: Nullable<Text> => Option<&'a str>,
        closure_id: Nullable<Text> => Option<&'a str>,
        force_id: Nullable<Text> => Option<&'a str>,
        request_id: Nullable<Text> => Option<&'a str>,
        details: Text => String,
    }
}

described_row! {
    table audit_events;
    /// A stored event. Insertable too, `seq` and all: migrate-data copies events
    /// with their keys. On PostgreSQL the writing transaction's `txid` is not in the
    /// schema and not copied: the copy's own transaction id fills it, which is what
    /// the sequencer's watermark is set against.
    #[derive(Debug, Clone, Queryable, Selectable, QueryableByName, Insertable)]
    #[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
    pub struct EventRow {
        seq: BigInt => i64,
        at: BigInt => i64,
        action: Text => String,
        actor_user_id: Nullable<Text> => Option<String>,
        actor_username: Nullable<Text> => Option<String>,
        actor_role: Nullable<Text> => Option<String>,
        actor_rank: Nullable<Text> => Option<String>,
        actor_force_id: Nullable<Text> => Option<String>,
        closure_id: Nullable<Text> => Option<String>,
        force_id: Nullable<Text> => Option<String>,
        request_id: Nullable<Text> => Option<String>,
        details: Text => String,
    }
}

/// [`EventRow`]'s columns, in its order, each after `prefix` (a table's
/// alias and a dot, or nothing), for a `COPY` ([`super::copy_out`]).
pub(crate) fn copy_columns(prefix: &str) -> String {
    EventRow::COLUMNS
        .iter()
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl EventRow {
    /// The event in the [`copy_columns`] starting at field `at` of a `COPY`
    /// row, `None` when its `seq` is NULL (none joined).
    pub(crate) fn copied_if_any(
        r: &super::copy_out::Fields<'_>,
        at: usize,
    ) -> AppResult<Option<Self>> {
        use super::copy_out::Copied;
        match r.field(at)? {
            None => Ok(None),
            Some(_) => Self::copied(r, at).map(Some),
        }
    }
}

/// Appends one event; returns its `seq`.
pub fn insert(conn: &mut Conn, row: &NewEventRow) -> AppResult<i64> {
    Ok(
        with_conn!(conn, c => diesel::insert_into(audit_events::table)
        .values(row)
        .returning(audit_events::seq)
        .get_result(c))?,
    )
}

/// Appends many events in order (multi-row inserts).
pub fn insert_all(conn: &mut Conn, rows: &[NewEventRow]) -> AppResult<()> {
    match conn {
        Conn::Sqlite(c) => {
            for chunk in rows.chunks(1000) {
                diesel::insert_into(audit_events::table)
                    .values(chunk)
                    .execute(*c)?;
            }
        }
        Conn::Postgres(c) => insert_all_pg(c, rows)?,
    }
    Ok(())
}

/// PostgreSQL: all rows in one statement whose text never changes (one array
/// per column, unnested in order), one round trip, kept prepared like the
/// closures' insert.
fn insert_all_pg(c: &mut diesel::PgConnection, rows: &[NewEventRow]) -> QueryResult<()> {
    let q = diesel::sql_query(INSERT_UNNEST.as_str()).into_boxed();
    Prepared(NewEventRow::bind_arrays(q, rows)).execute(c)?;
    Ok(())
}

/// The insert: every column of [`NewEventRow`] as `$1` to `$n`, stored in the
/// order of the rows.
static INSERT_UNNEST: LazyLock<String> = LazyLock::new(|| {
    let cols = column_list::<NewEventRow>();
    format!(
        "INSERT INTO audit_events ({cols}) SELECT {cols} FROM {} WITH ORDINALITY \
         AS u({cols}, n) ORDER BY n",
        unnest::<NewEventRow>(1)
    )
});

pub use crate::domain::filters::EventFilter;

/// An event with its leaf index and leaf hash, once the sequencer has integrated it.
pub type EventWithLeaf = (EventRow, Option<i64>, Option<String>);

#[derive(QueryableByName)]
struct Settled {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    v: Option<i64>,
}

/// The highest `seq` up to which every event is committed or abandoned, so that
/// a reader tailing the log by `seq` never skips one that commits late; `None`
/// when every visible event qualifies (SQLite: one writer, commits in `seq`
/// order). PostgreSQL: the sequence's last value, bounded by the smallest
/// tail mark a running transaction holds (migration `tail_horizon` explains).
/// The two are read in this order, in two statements.
pub fn settled_seq(conn: &mut Conn) -> AppResult<Option<i64>> {
    let Conn::Postgres(c) = conn else {
        return Ok(None);
    };
    let last = diesel::sql_query("SELECT last_value AS v FROM audit_events_seq_seq")
        .get_result::<Settled>(*c)?
        .v
        .unwrap_or(0);
    let mark = diesel::sql_query(
        "SELECT min((((classid::bigint) & 65535) << 32) | (objid::text::bigint)) AS v FROM pg_locks \
         WHERE locktype = 'advisory' AND objsubid = 1 AND (classid::bigint >> 16) = 99 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .get_result::<Settled>(*c)?
    .v;
    Ok(Some(mark.map_or(last, |m| m.min(last))))
}

/// A page of events, oldest first, each with its leaf index and hash once
/// integrated; only events up to [`settled_seq`], so that tailing by `seq`
/// receives every event exactly once.
pub fn page(conn: &mut Conn, filter: &EventFilter, limit: i64) -> AppResult<Vec<EventWithLeaf>> {
    let settled = settled_seq(conn)?;
    Ok(with_conn!(conn, c => {
        let mut q = audit_events::table
            .left_join(merkle_leaves::table.on(merkle_leaves::seq.eq(audit_events::seq)))
            .select((EventRow::as_select(), merkle_leaves::leaf_index.nullable(), merkle_leaves::leaf_hash.nullable()))
            .order(audit_events::seq.asc())
            .limit(limit)
            .into_boxed();
        if let Some(v) = &filter.search.closure_id { q = q.filter(audit_events::closure_id.eq(v)); }
        if let Some(v) = &filter.search.actor_id { q = q.filter(audit_events::actor_user_id.eq(v)); }
        if let Some(v) = &filter.search.action { q = q.filter(audit_events::action.eq(v)); }
        if let Some(v) = filter.search.from { q = q.filter(audit_events::at.ge(v)); }
        if let Some(v) = filter.search.to { q = q.filter(audit_events::at.lt(v)); }
        if let Some(v) = filter.search.after_seq { q = q.filter(audit_events::seq.gt(v)); }
        if let Some(v) = settled { q = q.filter(audit_events::seq.le(v)); }
        if let Some(f) = &filter.force_scope {
            q = q.filter(audit_events::force_id.eq(f).or(audit_events::actor_force_id.eq(f)));
        }
        q.load(c)
    })?)
}

/// Events not yet integrated into the tree, after `after_seq`, in `seq` order.
pub fn without_leaf_after(conn: &mut Conn, after_seq: i64, limit: i64) -> AppResult<Vec<EventRow>> {
    Ok(with_conn!(conn, c => audit_events::table
        .filter(audit_events::seq.gt(after_seq))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            merkle_leaves::table.filter(merkle_leaves::seq.eq(audit_events::seq)),
        )))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(c))?)
}

/// The events of these closures with one of `actions`, in `seq` order. The
/// actions are picked here, not in SQL: a filter on `action` lets a planner
/// choose the `(action, seq)` index and scan every event of that action once
/// per call, where `(closure_id, seq)` reads just these closures' events.
pub fn of_closures(
    conn: &mut Conn,
    closure_ids: &[&str],
    actions: &[&str],
) -> AppResult<Vec<EventRow>> {
    if closure_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<EventRow> = with_conn!(conn, c => audit_events::table
        .filter(audit_events::closure_id.eq_any(closure_ids))
        .order((audit_events::closure_id.asc(), audit_events::seq.asc()))
        .select(EventRow::as_select())
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter(|e| actions.contains(&e.action.as_str()))
        .collect())
}

/// The events of the closures whose ids are in `(after, upto]` (either end
/// open when `None`), in `(closure_id, seq)` order, row by row into `f`: a
/// range of the `(closure_id, seq)` index, which the verifier walks beside
/// the closures in id order (on PostgreSQL by `COPY`, [`super::copy_out`]).
/// Events of no closure are not included.
pub fn for_each_of_closure_range(
    conn: &mut Conn,
    after: Option<&str>,
    upto: Option<&str>,
    f: impl FnMut(EventRow) -> AppResult<bool>,
) -> AppResult<()> {
    macro_rules! query {
        () => {{
            let mut q = audit_events::table
                .filter(audit_events::closure_id.is_not_null())
                .order((audit_events::closure_id.asc(), audit_events::seq.asc()))
                .select(EventRow::as_select())
                .into_boxed();
            if let Some(a) = after {
                q = q.filter(audit_events::closure_id.gt(a));
            }
            if let Some(u) = upto {
                q = q.filter(audit_events::closure_id.le(u));
            }
            q
        }};
    }
    if let Conn::Postgres(c) = conn {
        let mut f = f;
        let mut texts = Vec::new();
        let mut conds = vec!["closure_id IS NOT NULL".to_string()];
        for (op, v) in [(">", after), ("<=", upto)] {
            if let Some(v) = v {
                texts.push(v);
                conds.push(format!(
                    "closure_id {op} {}",
                    super::copy_out::param(texts.len())
                ));
            }
        }
        let query = format!(
            "SELECT {} FROM audit_events WHERE {} ORDER BY closure_id, seq",
            copy_columns(""),
            conds.join(" AND ")
        );
        super::copy_out::copy_rows(c, &query, &texts, |r| {
            match EventRow::copied_if_any(r, 0)? {
                Some(e) => f(e),
                None => Err(crate::error::AppError::internal("an event without its seq")),
            }
        })?;
        return Ok(());
    }
    stream_rows!(conn, EventRow, query!(), f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::described::{check_unnest, select_list};
    use diesel::sqlite::Sqlite;

    #[test]
    fn the_insert_names_every_column_but_seq_once_and_numbers_its_binds() {
        let all = audit_events::table.select(audit_events::all_columns);
        let mut columns = select_list(&diesel::debug_query::<Sqlite, _>(&all).to_string());
        assert!(columns.remove("seq"), "{columns:?}");
        check_unnest::<NewEventRow>(&INSERT_UNNEST, "audit_events", &columns);
        let cols = column_list::<NewEventRow>();
        assert!(INSERT_UNNEST.contains(&format!(") SELECT {cols} FROM unnest(")));
        assert!(INSERT_UNNEST.ends_with(&format!(" WITH ORDINALITY AS u({cols}, n) ORDER BY n")));
    }
}
