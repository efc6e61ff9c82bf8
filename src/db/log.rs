//! The Merkle log's tables: leaves, checkpoints and the sequencer's watermark,
//! and the backend-specific query for events ready to be integrated.

use super::events::EventRow;
use super::schema::{audit_events, checkpoints, log_state, merkle_leaves};
use super::{Conn, stream_rows, with_conn};
use crate::error::AppResult;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = merkle_leaves)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub struct LeafRow {
    pub leaf_index: i64,
    pub seq: i64,
    pub leaf_hash: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = checkpoints)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CheckpointRow {
    pub tree_size: i64,
    pub root_hash: String,
    pub key_id: String,
    pub signature: String,
    pub note: String,
    pub created_at: i64,
}

/// An arbitrary constant: the advisory lock held by the one instance that
/// sequences, for the length of a round's transaction.
const SEQUENCER_LOCK: i64 = 0x636c_6f73_7572_6502;

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    v: bool,
}

#[derive(QueryableByName)]
struct Num {
    #[diesel(sql_type = BigInt)]
    v: i64,
}

/// Takes the sequencer's lock for this transaction: only one instance on a
/// PostgreSQL database sequences at a time (SQLite has one writer anyway).
pub fn try_sequencer_lock(conn: &mut Conn) -> AppResult<bool> {
    Ok(match conn {
        Conn::Sqlite(_) => true,
        Conn::Postgres(c) => {
            diesel::sql_query(format!(
                "SELECT pg_try_advisory_xact_lock({SEQUENCER_LOCK}) AS v"
            ))
            .get_result::<One>(*c)?
            .v
        }
    })
}

/// Leaves from `from` on, in order, at most `limit`.
pub fn leaves_from(conn: &mut Conn, from: i64, limit: i64) -> AppResult<Vec<LeafRow>> {
    Ok(with_conn!(conn, c => merkle_leaves::table
        .filter(merkle_leaves::leaf_index.ge(from))
        .order(merkle_leaves::leaf_index.asc())
        .limit(limit)
        .select(LeafRow::as_select())
        .load(c))?)
}

/// One past the highest leaf index stored (0 when there is none).
pub fn leaf_end(conn: &mut Conn) -> AppResult<i64> {
    let max: Option<i64> = with_conn!(conn, c => merkle_leaves::table
        .select(diesel::dsl::max(merkle_leaves::leaf_index))
        .first(c))?;
    Ok(max.map_or(0, |m| m + 1))
}

/// A leaf with the event it commits to; `event` is `None` where the row is gone.
pub struct LeafWithEvent {
    pub leaf: LeafRow,
    pub event: Option<EventRow>,
}

/// The one reader of the log in leaf order: the leaves whose index is in
/// `range`, each with its event, in one statement read row by row (SQLite
/// steps it; PostgreSQL sends it by `COPY`, [`super::copy_out`]), so memory
/// is one row whatever the range. `f` returns `false` to stop. It holds the
/// connection while it runs: a caller that must read something else between
/// leaves (checkpoints, stored tiles) streams in ranges and reads in between.
pub fn stream_leaves(
    conn: &mut Conn,
    range: std::ops::Range<i64>,
    mut f: impl FnMut(LeafWithEvent) -> AppResult<bool>,
) -> AppResult<()> {
    if let Conn::Postgres(c) = conn {
        let query = format!(
            "SELECT l.leaf_index, l.seq, l.leaf_hash, {} \
             FROM merkle_leaves l LEFT JOIN audit_events e ON e.seq = l.seq \
             WHERE l.leaf_index >= {} AND l.leaf_index < {} ORDER BY l.leaf_index",
            super::events::copy_columns("e."),
            range.start,
            range.end
        );
        super::copy_out::copy_rows(c, &query, &[], |r| {
            let leaf = LeafRow {
                leaf_index: r.i64(0)?,
                seq: r.i64(1)?,
                leaf_hash: r.text(2)?.to_owned(),
            };
            let event = EventRow::copied_if_any(r, 3)?;
            f(LeafWithEvent { leaf, event })
        })?;
        return Ok(());
    }
    stream_rows!(
        conn,
        (LeafRow, Option<EventRow>),
        merkle_leaves::table
            .left_join(audit_events::table.on(audit_events::seq.eq(merkle_leaves::seq)))
            .filter(merkle_leaves::leaf_index.ge(range.start))
            .filter(merkle_leaves::leaf_index.lt(range.end))
            .order(merkle_leaves::leaf_index.asc())
            .select((LeafRow::as_select(), Option::<EventRow>::as_select())),
        |(leaf, event)| f(LeafWithEvent { leaf, event })
    )
}

/// The leaf of the event `seq`, once integrated.
pub fn leaf_of(conn: &mut Conn, seq: i64) -> AppResult<Option<i64>> {
    Ok(with_conn!(conn, c => merkle_leaves::table
        .filter(merkle_leaves::seq.eq(seq))
        .select(merkle_leaves::leaf_index)
        .first(c)
        .optional())?)
}

/// Stores a round's leaves: PostgreSQL by `COPY` (binary), in one statement
/// however many; SQLite by multi-row inserts.
pub fn insert_leaves(conn: &mut Conn, rows: &[LeafRow]) -> AppResult<()> {
    match conn {
        Conn::Postgres(c) => {
            diesel::copy_from(merkle_leaves::table)
                .from_insertable(rows)
                .execute(*c)?;
        }
        Conn::Sqlite(c) => {
            for chunk in rows.chunks(2000) {
                diesel::insert_into(merkle_leaves::table)
                    .values(chunk)
                    .execute(*c)?;
            }
        }
    }
    Ok(())
}

/// PostgreSQL: where a full round stopped, kept (in memory, by the one
/// instance that sequences) until the watermark moves: every event of a
/// transaction in `[watermark, horizon)` with `seq <= last_seq` is in the tree.
/// It lets the next round read on from `last_seq` rather than walk again what
/// the rounds of a backlog have integrated (each round would otherwise probe
/// every event of the window: quadratic in the backlog).
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    pub horizon: i64,
    pub last_seq: i64,
}

/// What a sequencer round may integrate.
pub struct Pending {
    /// Committed events not yet in the tree, in the order to integrate them.
    pub events: Vec<EventRow>,
    /// The watermark to store once they are (PostgreSQL, after a round that
    /// took every event that was final).
    pub watermark: Option<i64>,
    /// PostgreSQL: the transaction horizon below which events are final.
    pub horizon: Option<i64>,
    /// PostgreSQL, after a full round: the cursor for the next round, to keep
    /// once this round has committed.
    pub cursor: Option<Cursor>,
}

/// Events committed but not yet in the tree, in the order they are to be
/// integrated, at most `limit`; with the watermark to store once they are.
/// `cursor` is what the previous round returned, if it committed (any cursor
/// this instance kept stays true: the tree only grows).
pub fn pending_events(conn: &mut Conn, limit: i64, cursor: Option<Cursor>) -> AppResult<Pending> {
    const COLS: &str = "seq, at, action, actor_user_id, actor_username, actor_role, actor_rank, actor_force_id, \
                        closure_id, force_id, request_id, details";
    const NO_LEAF: &str = "NOT EXISTS (SELECT 1 FROM merkle_leaves l WHERE l.seq = e.seq)";
    super::plan_index_walks(conn)?;
    match conn {
        // One writer at a time: events become visible in `seq` order.
        Conn::Sqlite(c) => {
            let rows = diesel::sql_query(format!(
                "SELECT {COLS} FROM audit_events WHERE seq > COALESCE((SELECT MAX(seq) FROM merkle_leaves), 0) \
                 ORDER BY seq LIMIT {limit}"
            ))
            .load::<EventRow>(*c)?;
            Ok(Pending {
                events: rows,
                watermark: None,
                horizon: None,
                cursor: None,
            })
        }
        // Many writers: sequence numbers are taken before commit, so an event can
        // become visible after a later one. Only events whose transaction is
        // older than every running transaction are final; take those.
        Conn::Postgres(c) => {
            let watermark: i64 = log_state::table
                .find(1)
                .select(log_state::watermark)
                .first(*c)?;
            let horizon = diesel::sql_query(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS v",
            )
            .get_result::<Num>(*c)?
            .v;
            // The events of transactions in `[from, to)` with no leaf, by `seq`
            // (a walk of the txid index).
            let window = |c: &mut PgConnection, from: i64, to: i64| {
                diesel::sql_query(format!(
                    "SELECT {COLS} FROM audit_events e WHERE e.txid >= $1 AND e.txid < $2 \
                     AND {NO_LEAF} ORDER BY e.seq LIMIT {limit}"
                ))
                .bind::<BigInt, _>(from)
                .bind::<BigInt, _>(to)
                .load::<EventRow>(c)
            };
            let rows = match cursor {
                // The window of the watermark, whole: the first round, or the
                // first after the watermark moved.
                None => window(c, watermark, horizon)?,
                // After a full round: the old window from its last seq on, and
                // the transactions that have become final since.
                Some(k) => {
                    let old_end = k.horizon.min(horizon);
                    // Sorting off: the one plan left is a walk of the primary
                    // key from `last_seq` that stops after `limit` (the txid
                    // index would read the whole window to sort it).
                    c.batch_execute("SET LOCAL enable_sort = off")?;
                    let mut rows = diesel::sql_query(format!(
                        "SELECT {COLS} FROM audit_events e WHERE e.seq > $1 AND e.txid >= $2 \
                         AND e.txid < $3 AND {NO_LEAF} ORDER BY e.seq LIMIT {limit}"
                    ))
                    .bind::<BigInt, _>(k.last_seq)
                    .bind::<BigInt, _>(watermark)
                    .bind::<BigInt, _>(old_end)
                    .load::<EventRow>(*c)?;
                    c.batch_execute("SET LOCAL enable_sort = DEFAULT")?;
                    // Few: what committed since that round.
                    rows.extend(window(c, old_end.max(watermark), horizon)?);
                    rows.sort_unstable_by_key(|r| r.seq);
                    rows.truncate(limit as usize);
                    rows
                }
            };
            let full = rows.len() as i64 >= limit;
            let cursor = rows.last().filter(|_| full).map(|last| Cursor {
                horizon,
                last_seq: last.seq,
            });
            Ok(Pending {
                events: rows,
                watermark: (!full).then_some(horizon),
                horizon: Some(horizon),
                cursor,
            })
        }
    }
}

pub fn set_watermark(conn: &mut Conn, watermark: i64) -> AppResult<()> {
    with_conn!(conn, c => diesel::update(log_state::table.find(1)).set(log_state::watermark.eq(watermark)).execute(c))?;
    Ok(())
}

pub fn insert_checkpoint(conn: &mut Conn, row: &CheckpointRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(checkpoints::table)
        .values(row)
        .on_conflict(checkpoints::tree_size)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

pub fn latest_checkpoint(conn: &mut Conn) -> AppResult<Option<CheckpointRow>> {
    Ok(with_conn!(conn, c => checkpoints::table
        .order(checkpoints::tree_size.desc())
        .select(CheckpointRow::as_select())
        .first(c)
        .optional())?)
}

pub fn checkpoint_of_size(conn: &mut Conn, size: i64) -> AppResult<Option<CheckpointRow>> {
    Ok(with_conn!(conn, c => checkpoints::table
        .find(size)
        .select(CheckpointRow::as_select())
        .first(c)
        .optional())?)
}

pub fn all_checkpoints(conn: &mut Conn) -> AppResult<Vec<CheckpointRow>> {
    Ok(with_conn!(conn, c => checkpoints::table
        .order(checkpoints::tree_size.asc())
        .select(CheckpointRow::as_select())
        .load(c))?)
}

/// The checkpoints of sizes in `(after, up_to]`, smallest first.
pub fn checkpoints_between(
    conn: &mut Conn,
    after: i64,
    up_to: i64,
) -> AppResult<Vec<CheckpointRow>> {
    Ok(with_conn!(conn, c => checkpoints::table
        .filter(checkpoints::tree_size.gt(after))
        .filter(checkpoints::tree_size.le(up_to))
        .order(checkpoints::tree_size.asc())
        .select(CheckpointRow::as_select())
        .load(c))?)
}

#[derive(QueryableByName)]
struct HeldBack {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    oldest: Option<i64>,
}

/// PostgreSQL: events committed but held back from the tree because a
/// transaction older than theirs is still open (their `txid` is at or above
/// `horizon`): how many, and when the oldest was written.
pub fn held_back(conn: &mut Conn, horizon: i64) -> AppResult<(i64, Option<i64>)> {
    let Conn::Postgres(c) = conn else {
        return Ok((0, None));
    };
    let r = diesel::sql_query(
        "SELECT count(*) AS n, min(at) AS oldest FROM audit_events e WHERE e.txid >= $1 \
         AND NOT EXISTS (SELECT 1 FROM merkle_leaves l WHERE l.seq = e.seq)",
    )
    .bind::<BigInt, _>(horizon)
    .get_result::<HeldBack>(*c)?;
    Ok((r.n, r.oldest))
}

#[derive(QueryableByName)]
struct OpenTransaction {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    pid: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    what: Option<String>,
}

/// PostgreSQL: the oldest open transaction holding a transaction id, as
/// `pid` and a line about it (for the log when the sequencer stalls behind it).
pub fn oldest_open_transaction(conn: &mut Conn) -> AppResult<Option<(i32, String)>> {
    let Conn::Postgres(c) = conn else {
        return Ok(None);
    };
    let rows = diesel::sql_query(
        "SELECT pid, format('%s@%s since %s, %s: %s', usename, datname, xact_start, state, left(query, 120)) AS what \
         FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY age(backend_xid) DESC LIMIT 1",
    )
    .load::<OpenTransaction>(*c)?;
    Ok(rows.into_iter().next().and_then(|r| r.pid.zip(r.what)))
}
