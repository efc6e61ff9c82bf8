//! Every closure matching a filter, a page at a time, for exports and reports.

use super::{ClosureFilter, ClosureRow};
use crate::db::schema::closures;
use crate::db::{Conn, Db, copy_out, with_conn};
use crate::error::{AppError, AppResult};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

/// A value bound to a statement made at run time.
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

/// PostgreSQL: one `COPY` for the whole export ([`copy_filtered`]), in one
/// snapshot, so that the database sends the next rows while these are
/// decoded, instead of one keyset query per page with the database idle
/// while each page is decoded. Handed to `send` [`EXPORT_PAGE`] rows at a
/// time, until it answers false.
fn stream_pg(
    c: &mut diesel::PgConnection,
    f: &ClosureFilter,
    mut send: impl FnMut(Vec<ClosureRow>) -> bool,
) -> AppResult<()> {
    use crate::db::copy_out::Copied;
    let columns = crate::db::described::column_list::<ClosureRow>();
    let mut rows = Vec::with_capacity(EXPORT_PAGE);
    copy_filtered(c, f, &columns, |r| {
        rows.push(ClosureRow::copied(r, 0)?);
        Ok(rows.len() < EXPORT_PAGE
            || send(std::mem::replace(
                &mut rows,
                Vec::with_capacity(EXPORT_PAGE),
            )))
    })?;
    if !rows.is_empty() {
        send(rows);
    }
    Ok(())
}

/// `columns` of every closure matching `f`, oldest received first, by `COPY`
/// ([`copy_out::copy_rows`]): the filter's text values bound, its numbers
/// written in.
fn copy_filtered(
    c: &mut diesel::PgConnection,
    f: &ClosureFilter,
    columns: &str,
    each: impl FnMut(&copy_out::Fields<'_>) -> AppResult<bool>,
) -> AppResult<u64> {
    let mut texts = Vec::new();
    let (conds, _) = filter_conditions(f, |_, b| match b {
        Bind::Text(v) => {
            texts.push(v.clone());
            copy_out::param(texts.len())
        }
        Bind::Int(v) => v.to_string(),
        Bind::Big(v) => v.to_string(),
    });
    let query = format!(
        "SELECT {columns} FROM closures{} ORDER BY received_at, id",
        where_clause(&conds)
    );
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    copy_out::copy_rows(c, &query, &texts, each)
}

/// What `closures.csv` shows of a closure, borrowed from where it was read:
/// a [`ClosureRow`] (SQLite), or PostgreSQL's `COPY` buffer.
#[derive(Debug, Clone, Copy)]
pub struct CsvRow<'a> {
    pub id: &'a str,
    pub force_id: &'a str,
    pub division: Option<&'a str>,
    pub crime_reference: &'a str,
    pub source_event_id: &'a str,
    pub offence_category: &'a str,
    pub home_office_offence_code: Option<&'a str>,
    pub domestic_abuse_flag: bool,
    pub outcome_code: i32,
    pub crime_recorded_at: i64,
    pub closure_proposed_at: i64,
    pub received_at: i64,
    pub proposed_by_officer_id: &'a str,
    pub proposed_by_rank: &'a str,
    pub status: &'a str,
    pub decision: Option<&'a str>,
    pub decided_by_officer_id: Option<&'a str>,
    pub decided_by_rank: Option<&'a str>,
    pub decided_at: Option<i64>,
    pub rationale: &'a str,
    pub decision_rationale: Option<&'a str>,
    pub review_flags: &'a str,
    pub risk_level: Option<&'a str>,
    pub victim: [Option<&'a str>; 9],
}

impl ClosureRow {
    pub fn csv_row(&self) -> CsvRow<'_> {
        CsvRow {
            id: &self.id,
            force_id: &self.force_id,
            division: self.division.as_deref(),
            crime_reference: &self.crime_reference,
            source_event_id: &self.source_event_id,
            offence_category: &self.offence_category,
            home_office_offence_code: self.home_office_offence_code.as_deref(),
            domestic_abuse_flag: self.domestic_abuse_flag,
            outcome_code: self.outcome_code,
            crime_recorded_at: self.crime_recorded_at,
            closure_proposed_at: self.closure_proposed_at,
            received_at: self.received_at,
            proposed_by_officer_id: &self.proposed_by_officer_id,
            proposed_by_rank: &self.proposed_by_rank,
            status: &self.status,
            decision: self.decision.as_deref(),
            decided_by_officer_id: self.decided_by_officer_id.as_deref(),
            decided_by_rank: self.decided_by_rank.as_deref(),
            decided_at: self.decided_at,
            rationale: &self.rationale,
            decision_rationale: self.decision_rationale.as_deref(),
            review_flags: &self.review_flags,
            risk_level: self.risk_level.as_deref(),
            victim: self.victim(),
        }
    }
}

/// The columns of [`CsvRow`], in its order, as PostgreSQL's `COPY` reads them.
const CSV_SELECT: &str = "id, force_id, division, crime_reference, source_event_id, \
    offence_category, home_office_offence_code, domestic_abuse_flag, outcome_code, \
    crime_recorded_at, closure_proposed_at, received_at, proposed_by_officer_id, \
    proposed_by_rank, status, decision, decided_by_officer_id, decided_by_rank, decided_at, \
    rationale, decision_rationale, review_flags, risk_level, victim_sex, victim_age_band, \
    victim_ethnicity, victim_disability, victim_religion_or_belief, victim_sexual_orientation, \
    victim_gender_reassignment, victim_marriage_or_civil_partnership, \
    victim_pregnancy_or_maternity";

impl<'a> CsvRow<'a> {
    /// A row of [`CSV_SELECT`] as `COPY` sent it.
    fn copied(r: &copy_out::Fields<'a>) -> AppResult<Self> {
        let mut victim = [None; 9];
        for (i, v) in victim.iter_mut().enumerate() {
            *v = r.opt_text(23 + i)?;
        }
        Ok(CsvRow {
            id: r.text(0)?,
            force_id: r.text(1)?,
            division: r.opt_text(2)?,
            crime_reference: r.text(3)?,
            source_event_id: r.text(4)?,
            offence_category: r.text(5)?,
            home_office_offence_code: r.opt_text(6)?,
            domestic_abuse_flag: r.bool(7)?,
            outcome_code: r.i32(8)?,
            crime_recorded_at: r.i64(9)?,
            closure_proposed_at: r.i64(10)?,
            received_at: r.i64(11)?,
            proposed_by_officer_id: r.text(12)?,
            proposed_by_rank: r.text(13)?,
            status: r.text(14)?,
            decision: r.opt_text(15)?,
            decided_by_officer_id: r.opt_text(16)?,
            decided_by_rank: r.opt_text(17)?,
            decided_at: r.opt_i64(18)?,
            rationale: r.text(19)?,
            decision_rationale: r.opt_text(20)?,
            review_flags: r.text(21)?,
            risk_level: r.opt_text(22)?,
            victim,
        })
    }
}

/// Calls `each` for every closure matching `f` as `closures.csv` shows it,
/// oldest received first, until it answers false. Blocking. SQLite: as
/// [`for_each`]. PostgreSQL: one `COPY` of the columns shown, in one
/// snapshot, each row's fields borrowed where libpq received them
/// ([`crate::db::copy_out`]) and handed on at once, with no typed row made.
pub fn for_each_csv(
    db: &Db,
    f: &ClosureFilter,
    mut each: impl FnMut(&CsvRow<'_>) -> bool,
) -> AppResult<u64> {
    if db.backend() != crate::db::Backend::Postgres {
        return for_each(db, f, |r| each(&r.csv_row()));
    }
    db.read_blocking(|conn| {
        let Conn::Postgres(c) = conn else {
            return Err(AppError::internal("not a PostgreSQL connection"));
        };
        copy_filtered(c, f, CSV_SELECT, |r| Ok(each(&CsvRow::copied(r)?)))
    })
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

/// The conditions of `f` on closures' columns, each value written by
/// `param(n, value)` (its 1-based number among the values, and the value),
/// and the values in that order.
fn filter_conditions(
    f: &ClosureFilter,
    mut param: impl FnMut(usize, &Bind) -> String,
) -> (Vec<String>, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut conds = Vec::new();
    let mut cond = |col: &str, op: &str, b: Bind| {
        conds.push(format!("{col} {op} {}", param(binds.len() + 1, &b)));
        binds.push(b);
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
    (conds, binds)
}

fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

/// The statement reading every [`TrendRow`] matching `f` (no order: the
/// aggregation needs none, so no plan has to sort or page), and its binds.
fn trend_query(f: &ClosureFilter, wanted: &[&str]) -> (String, Vec<Bind>) {
    let (conds, binds) = filter_conditions(f, |n, _| format!("${n}"));
    let sql = format!(
        "SELECT {} FROM closures{}",
        trend_select(wanted),
        where_clause(&conds)
    );
    (sql, binds)
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
