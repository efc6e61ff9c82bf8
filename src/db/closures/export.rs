//! Every closure matching a filter, a page at a time, for exports and reports.

use super::{ClosureFilter, ClosureRow};
use crate::db::schema::closures;
use crate::db::{Conn, Db, with_conn};
use crate::error::{AppError, AppResult};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

/// A chunk of closures for an export or a report, oldest received first, after
/// the keyset position `after` = (received_at, id).
pub fn export_page(
    conn: &mut Conn,
    f: &ClosureFilter,
    after: Option<(i64, String)>,
    limit: i64,
) -> AppResult<Vec<ClosureRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = closures::table
            .select(ClosureRow::as_select())
            .order((closures::received_at.asc(), closures::id.asc()))
            .limit(limit)
            .into_boxed();
        q = with_filter!(q, f);
        if let Some((at, id)) = &after {
            q = q.filter(closures::received_at.ge(*at)).filter(closures::received_at.gt(*at).or(closures::id.gt(id)));
        }
        q.load(c)
    })?)
}

/// Rows per page when every matching closure is read. Up to three pages are
/// in memory at once (one being written out, one waiting, one being fetched),
/// about 1.5 KiB a row: 1,000 keeps an export's own memory near 5 MiB however
/// many rows it has, where 5,000 cost about 40 MiB at its peak (BENCHMARKS.md,
/// issue 15, memory).
const EXPORT_PAGE: usize = 1000;

/// Calls `each` for every closure matching `f`, oldest first, until it answers
/// false. Blocking. Pages are fetched on a thread of their own, one page ahead,
/// so that the database serves the next page while this one is being written
/// out; at most two pages are held at once.
pub fn for_each(
    db: &Db,
    f: &ClosureFilter,
    mut each: impl FnMut(&ClosureRow) -> bool,
) -> AppResult<u64> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<AppResult<Vec<ClosureRow>>>(1);
    let (db, filter) = (db.clone(), f.clone());
    let span = tracing::Span::current();
    let fetcher = std::thread::Builder::new()
        .name("export-fetch".into())
        .spawn(move || {
            let _in = span.enter();
            let result = db.read_blocking(|c| {
                if let Conn::Postgres(pg) = c {
                    return stream_pg(pg, &filter, |rows| tx.send(Ok(rows)).is_ok());
                }
                let mut after = None;
                loop {
                    let rows = export_page(c, &filter, after, EXPORT_PAGE as i64)?;
                    let next = match rows.last() {
                        Some(last) if rows.len() == EXPORT_PAGE => {
                            Some((last.received_at, last.id.clone()))
                        }
                        _ => None,
                    };
                    // The reader has stopped (it answered false, or failed).
                    if tx.send(Ok(rows)).is_err() {
                        return Ok(());
                    }
                    match next {
                        Some(n) => after = Some(n),
                        None => return Ok(()),
                    }
                }
            });
            if let Err(e) = result {
                let _ = tx.send(Err(e));
            }
        })
        .map_err(|e| AppError::internal(format!("cannot start an export thread: {e}")))?;
    let mut n = 0;
    let mut stopped = false;
    for page in &rx {
        for r in &page? {
            n += 1;
            if !each(r) {
                stopped = true;
                break;
            }
        }
        if stopped {
            break;
        }
    }
    drop(rx);
    let _ = fetcher.join();
    Ok(n)
}

/// PostgreSQL: one statement for the whole export, in one snapshot, its rows
/// taken as libpq receives them (row-by-row mode), so that the database
/// sends the next rows while these are decoded, instead of one keyset query
/// per page with the database idle while each page is decoded. Handed to
/// `send` [`EXPORT_PAGE`] rows at a time, until it answers false (the rest of
/// the answer is then read and dropped, leaving the connection clean).
fn stream_pg(
    c: &mut diesel::PgConnection,
    f: &ClosureFilter,
    mut send: impl FnMut(Vec<ClosureRow>) -> bool,
) -> AppResult<()> {
    use diesel::pg::PgRowByRowLoadingMode;
    let mut q = closures::table
        .select(ClosureRow::as_select())
        .order((closures::received_at.asc(), closures::id.asc()))
        .into_boxed();
    q = with_filter!(q, f);
    let mut rows = Vec::with_capacity(EXPORT_PAGE);
    for row in q.load_iter::<ClosureRow, PgRowByRowLoadingMode>(c)? {
        rows.push(row?);
        if rows.len() == EXPORT_PAGE
            && !send(std::mem::replace(
                &mut rows,
                Vec::with_capacity(EXPORT_PAGE),
            ))
        {
            return Ok(());
        }
    }
    if !rows.is_empty() {
        send(rows);
    }
    Ok(())
}

/// What a trend table reads of a closure: its group columns (those not asked
/// for are read as constants) and its measures.
#[derive(Debug, Clone, QueryableByName)]
pub struct TrendRow {
    #[diesel(sql_type = BigInt)]
    pub closure_proposed_at: i64,
    #[diesel(sql_type = Text)]
    pub force_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub division: Option<String>,
    #[diesel(sql_type = Text)]
    pub offence_category: String,
    #[diesel(sql_type = Integer)]
    pub outcome_code: i32,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub risk_level: Option<String>,
    /// 1 when it has at least one review flag.
    #[diesel(sql_type = Integer)]
    pub flagged: i32,
    #[diesel(sql_type = BigInt)]
    pub received_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub decided_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_sex: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_age_band: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_ethnicity: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_disability: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_religion_or_belief: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_sexual_orientation: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_gender_reassignment: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_marriage_or_civil_partnership: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub victim_pregnancy_or_maternity: Option<String>,
}

impl TrendRow {
    pub fn victim(&self) -> [&Option<String>; 9] {
        [
            &self.victim_sex,
            &self.victim_age_band,
            &self.victim_ethnicity,
            &self.victim_disability,
            &self.victim_religion_or_belief,
            &self.victim_sexual_orientation,
            &self.victim_gender_reassignment,
            &self.victim_marriage_or_civil_partnership,
            &self.victim_pregnancy_or_maternity,
        ]
    }
}

/// The select list of [`TrendRow`]: the group columns in `wanted` (closure
/// column names), constants for the others, and the measures.
fn trend_select(wanted: &[&str]) -> String {
    let col = |name: &str, constant: &str| {
        if wanted.contains(&name) {
            name.to_string()
        } else {
            format!("{constant} AS {name}")
        }
    };
    let mut cols = vec![
        col("closure_proposed_at", "CAST(0 AS BIGINT)"),
        col("force_id", "''"),
        col("division", "CAST(NULL AS TEXT)"),
        col("offence_category", "''"),
        "outcome_code".into(),
        "status".into(),
        col("risk_level", "CAST(NULL AS TEXT)"),
        "CASE WHEN review_flags <> '' THEN 1 ELSE 0 END AS flagged".into(),
        "received_at".into(),
        "decided_at".into(),
    ];
    for v in crate::domain::closures::VICTIM_FIELDS {
        cols.push(col(&format!("victim_{v}"), "CAST(NULL AS TEXT)"));
    }
    cols.join(", ")
}

/// The statement reading every [`TrendRow`] matching `f` (no order: the
/// aggregation needs none, so no plan has to sort or page), and its binds.
fn trend_query(f: &ClosureFilter, wanted: &[&str]) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut conds = Vec::new();
    let mut cond = |col: &str, op: &str, b: Bind| {
        binds.push(b);
        conds.push(format!("{col} {op} ${}", binds.len()));
    };
    if let Some(v) = &f.force_id {
        cond("force_id", "=", Bind::Text(v.clone()));
    }
    if let Some(v) = &f.status {
        cond("status", "=", Bind::Text(v.clone()));
    }
    if let Some(v) = &f.division {
        cond("division", "=", Bind::Text(v.clone()));
    }
    if let Some(v) = f.outcome_code {
        cond("outcome_code", "=", Bind::Int(v));
    }
    if let Some(v) = &f.offence_category {
        cond("offence_category", "=", Bind::Text(v.clone()));
    }
    if let Some(v) = f.from {
        cond("closure_proposed_at", ">=", Bind::Big(v));
    }
    if let Some(v) = f.to {
        cond("closure_proposed_at", "<", Bind::Big(v));
    }
    let mut sql = format!("SELECT {} FROM closures", trend_select(wanted));
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    (sql, binds)
}

#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i32),
    Big(i64),
}

macro_rules! bound {
    ($sql:expr, $binds:expr) => {{
        let mut q = diesel::sql_query($sql).into_boxed();
        for b in $binds {
            q = match b {
                Bind::Text(v) => q.bind::<Text, _>(v.clone()),
                Bind::Int(v) => q.bind::<Integer, _>(*v),
                Bind::Big(v) => q.bind::<BigInt, _>(*v),
            };
        }
        q
    }};
}

/// Rows per fetch of PostgreSQL's cursor.
const TREND_FETCH: usize = 5000;

/// Calls `each` for every closure matching `f`, reading only the columns a
/// trend needs (`wanted`: the closure columns it groups by). One statement
/// in one snapshot, streamed: SQLite steps through it, PostgreSQL through a
/// cursor a few thousand rows at a time. It has no ORDER BY and no paging, so
/// whatever plan the database picks (an index range or a sequential scan)
/// reads each row once, statistics or not.
pub fn for_each_trend_row(
    db: &Db,
    f: &ClosureFilter,
    wanted: &[&str],
    mut each: impl FnMut(&TrendRow),
) -> AppResult<u64> {
    let (sql, binds) = trend_query(f, wanted);
    db.snapshot_blocking(|conn| {
        let mut n = 0u64;
        match conn {
            Conn::Sqlite(c) => {
                let sql = sql.replace('$', "?");
                let rows = bound!(sql, &binds)
                    .load_iter::<TrendRow, diesel::connection::DefaultLoadingMode>(*c)?;
                for r in rows {
                    each(&r?);
                    n += 1;
                }
            }
            Conn::Postgres(c) => {
                bound!(
                    format!("DECLARE trend_rows NO SCROLL CURSOR FOR {sql}"),
                    &binds
                )
                .execute(*c)?;
                loop {
                    let rows: Vec<TrendRow> =
                        diesel::sql_query(format!("FETCH {TREND_FETCH} FROM trend_rows"))
                            .load(*c)?;
                    for r in &rows {
                        each(r);
                    }
                    n += rows.len() as u64;
                    if rows.len() < TREND_FETCH {
                        break;
                    }
                }
                diesel::sql_query("CLOSE trend_rows").execute(*c)?;
            }
        }
        Ok(n)
    })
}
