//! The trend summary (`trend_cells`, `trend_hours`, migration 000013): what
//! [`crate::domain::trends`] says each closure counts for, by month and force,
//! changed in the same transaction as the closure. A read of it in one
//! snapshot is therefore exact at that snapshot, whatever commits meanwhile
//! and on however many instances, with no ordering of sequence values assumed.
//!
//! Lock order: a transaction takes a `trend_versions` shard first (the
//! callers bump before they apply), then cells in key order, then hour buckets
//! in key order, so two transactions never wait for each other in a cycle.

use super::schema::{trend_cells, trend_hours};
use super::{Conn, with_conn};
use crate::domain::trends::{Counts, SummaryChange};
use crate::error::AppResult;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::upsert::excluded;

/// Rows per upsert on PostgreSQL (10 binds a cell, 4 a bucket).
const PG_ROWS: usize = 5000;

/// Applies `change` (see [`crate::domain::trends::record_change`]) inside the
/// caller's transaction.
pub fn apply(conn: &mut Conn, change: &SummaryChange) -> AppResult<()> {
    if change.is_empty() {
        return Ok(());
    }
    let cells: Vec<_> = change
        .iter()
        .filter(|(_, c)| !c.counts.is_zero())
        .map(|((m, f), c)| {
            let a = c.counts.as_array();
            (
                trend_cells::month.eq(m.as_str()),
                trend_cells::force_id.eq(f.as_str()),
                trend_cells::closures.eq(a[0]),
                trend_cells::outcome_15.eq(a[1]),
                trend_cells::outcome_16.eq(a[2]),
                trend_cells::signed_off.eq(a[3]),
                trend_cells::rejected.eq(a[4]),
                trend_cells::pending.eq(a[5]),
                trend_cells::reopened.eq(a[6]),
                trend_cells::flagged.eq(a[7]),
            )
        })
        .collect();
    let hours: Vec<_> = change
        .iter()
        .flat_map(|((m, f), c)| {
            c.hours.iter().map(move |(b, n)| {
                (
                    trend_hours::month.eq(m.as_str()),
                    trend_hours::force_id.eq(f.as_str()),
                    trend_hours::bucket.eq(*b),
                    trend_hours::n.eq(*n),
                )
            })
        })
        .collect();
    macro_rules! upsert_cells {
        ($rows:expr) => {
            diesel::insert_into(trend_cells::table)
                .values($rows)
                .on_conflict((trend_cells::month, trend_cells::force_id))
                .do_update()
                .set((
                    trend_cells::closures
                        .eq(trend_cells::closures + excluded(trend_cells::closures)),
                    trend_cells::outcome_15
                        .eq(trend_cells::outcome_15 + excluded(trend_cells::outcome_15)),
                    trend_cells::outcome_16
                        .eq(trend_cells::outcome_16 + excluded(trend_cells::outcome_16)),
                    trend_cells::signed_off
                        .eq(trend_cells::signed_off + excluded(trend_cells::signed_off)),
                    trend_cells::rejected
                        .eq(trend_cells::rejected + excluded(trend_cells::rejected)),
                    trend_cells::pending.eq(trend_cells::pending + excluded(trend_cells::pending)),
                    trend_cells::reopened
                        .eq(trend_cells::reopened + excluded(trend_cells::reopened)),
                    trend_cells::flagged.eq(trend_cells::flagged + excluded(trend_cells::flagged)),
                ))
        };
    }
    macro_rules! upsert_hours {
        ($rows:expr) => {
            diesel::insert_into(trend_hours::table)
                .values($rows)
                .on_conflict((
                    trend_hours::month,
                    trend_hours::force_id,
                    trend_hours::bucket,
                ))
                .do_update()
                .set(trend_hours::n.eq(trend_hours::n + excluded(trend_hours::n)))
        };
    }
    match conn {
        // In-process: a statement per row costs little (and diesel has no
        // multi-row upsert there).
        Conn::Sqlite(c) => {
            for row in &cells {
                upsert_cells!(*row).execute(*c)?;
            }
            for row in &hours {
                upsert_hours!(*row).execute(*c)?;
            }
        }
        // A statement per table (per chunk: binds stay under 65,535), rows in key order.
        Conn::Postgres(c) => {
            for chunk in cells.chunks(PG_ROWS) {
                upsert_cells!(chunk.to_vec()).execute(*c)?;
            }
            for chunk in hours.chunks(PG_ROWS) {
                upsert_hours!(chunk.to_vec()).execute(*c)?;
            }
        }
    }
    // Buckets emptied by a change of decision (rare: a decision after a reopening).
    for ((m, f), c) in change {
        for (b, _) in c.hours.iter().filter(|(_, n)| **n < 0) {
            with_conn!(conn, c => diesel::delete(
                trend_hours::table
                    .filter(trend_hours::month.eq(m))
                    .filter(trend_hours::force_id.eq(f))
                    .filter(trend_hours::bucket.eq(*b))
                    .filter(trend_hours::n.eq(0)),
            )
            .execute(c))?;
        }
    }
    Ok(())
}

/// The SQL of migration 000013 that fills the summary from the closures
/// (the part after its tables): the same text rebuilds it.
fn backfill_sql(conn: &Conn) -> &'static str {
    let up = match conn {
        Conn::Sqlite(_) => {
            include_str!("../../migrations/sqlite/2026-12-03-000013_trend_summary/up.sql")
        }
        Conn::Postgres(_) => {
            include_str!("../../migrations/postgres/2026-12-03-000013_trend_summary/up.sql")
        }
    };
    let at = up
        .find(BACKFILL_MARK)
        .expect("migration 000013 marks its backfill");
    &up[at..]
}

const BACKFILL_MARK: &str = "-- The closures already stored.";

/// Builds the summary again from the closures (`migrate-data` after its copy),
/// inside the caller's transaction.
pub fn rebuild(conn: &mut Conn) -> AppResult<()> {
    let sql = backfill_sql(conn);
    with_conn!(conn, c => diesel::delete(trend_hours::table).execute(c))?;
    with_conn!(conn, c => diesel::delete(trend_cells::table).execute(c))?;
    with_conn!(conn, c => c.batch_execute(sql))?;
    Ok(())
}

/// Which summary columns a read groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    pub month: bool,
    pub force: bool,
}

/// One group of a summary read: (month or "", force or "").
pub type Key = (String, String);

/// A group's counts, and the hour buckets that hold its medians' and p90's
/// ranks: (bucket, n, how many up to and including it), and how many decided.
#[derive(Debug, Default, Clone)]
pub struct SummaryGroup {
    pub counts: Counts,
    pub decided: i64,
    pub buckets: Vec<(i64, i64, i64)>,
}

#[derive(QueryableByName)]
struct CellSums {
    #[diesel(sql_type = Text)]
    m: String,
    #[diesel(sql_type = Text)]
    f: String,
    #[diesel(sql_type = BigInt)]
    closures: i64,
    #[diesel(sql_type = BigInt)]
    outcome_15: i64,
    #[diesel(sql_type = BigInt)]
    outcome_16: i64,
    #[diesel(sql_type = BigInt)]
    signed_off: i64,
    #[diesel(sql_type = BigInt)]
    rejected: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    reopened: i64,
    #[diesel(sql_type = BigInt)]
    flagged: i64,
}

#[derive(QueryableByName)]
struct RankBucket {
    #[diesel(sql_type = Text)]
    m: String,
    #[diesel(sql_type = Text)]
    f: String,
    #[diesel(sql_type = BigInt)]
    bucket: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    cum: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// The ranks whose buckets a read returns: those the median and the p90
/// interpolate between (R-7: floor((total-1)p/100) and the next one).
const RANK_PERCENTS: [i64; 2] = [50, 90];

fn sql_texts(g: Grouping, force: bool) -> (String, String) {
    let mut keys = Vec::new();
    if g.month {
        keys.push("month");
    }
    if g.force {
        keys.push("force_id");
    }
    let keys = keys.join(", ");
    let m = if g.month { "month" } else { "''" };
    let f = if g.force { "force_id" } else { "''" };
    let mut filter = "month >= $1 AND month <= $2".to_string();
    if force {
        filter.push_str(" AND force_id = $3");
    }
    let cells = format!(
        "SELECT {m} AS m, {f} AS f, \
         CAST(SUM(closures) AS BIGINT) AS closures, CAST(SUM(outcome_15) AS BIGINT) AS outcome_15, \
         CAST(SUM(outcome_16) AS BIGINT) AS outcome_16, CAST(SUM(signed_off) AS BIGINT) AS signed_off, \
         CAST(SUM(rejected) AS BIGINT) AS rejected, CAST(SUM(pending) AS BIGINT) AS pending, \
         CAST(SUM(reopened) AS BIGINT) AS reopened, CAST(SUM(flagged) AS BIGINT) AS flagged \
         FROM trend_cells WHERE {filter} GROUP BY {keys}"
    );
    let ranks: Vec<String> = RANK_PERCENTS
        .iter()
        .flat_map(|p| {
            let r = format!("(total - 1) * {p} / 100");
            [
                format!("(cum - n <= {r} AND {r} < cum)"),
                format!("(cum - n <= {r} + 1 AND {r} + 1 < cum)"),
            ]
        })
        .collect();
    let hours = format!(
        "SELECT m, f, bucket, n, cum, total FROM (\
           SELECT m, f, bucket, n, \
             CAST(SUM(n) OVER (PARTITION BY {keys} ORDER BY bucket ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS cum, \
             CAST(SUM(n) OVER (PARTITION BY {keys}) AS BIGINT) AS total \
           FROM (SELECT {m} AS m, {f} AS f, {keys}, bucket, CAST(SUM(n) AS BIGINT) AS n \
                 FROM trend_hours WHERE {filter} AND n <> 0 GROUP BY {keys}, bucket) h\
         ) w WHERE {} ORDER BY m, f, bucket",
        ranks.join(" OR ")
    );
    (cells, hours)
}

/// The summary grouped by `g` over the months `from..=to` (`YYYY-MM`), of one
/// force if given. Call it in one snapshot ([`crate::db::Db::snapshot_blocking`])
/// so that counts and hours are of the same state.
pub fn read(
    conn: &mut Conn,
    g: Grouping,
    from: &str,
    to: &str,
    force: Option<&str>,
) -> AppResult<Vec<(Key, SummaryGroup)>> {
    let (cells_sql, hours_sql) = sql_texts(g, force.is_some());
    macro_rules! run {
        ($c:expr, $sql:expr, $row:ty) => {{
            let q = diesel::sql_query($sql)
                .into_boxed()
                .bind::<Text, _>(from)
                .bind::<Text, _>(to);
            let q = match force {
                Some(f) => q.bind::<Text, _>(f),
                None => q,
            };
            q.load::<$row>($c)?
        }};
    }
    let (cells, buckets) = match conn {
        Conn::Sqlite(c) => (
            run!(*c, cells_sql.replace('$', "?"), CellSums),
            run!(*c, hours_sql.replace('$', "?"), RankBucket),
        ),
        Conn::Postgres(c) => (
            run!(*c, cells_sql, CellSums),
            run!(*c, hours_sql, RankBucket),
        ),
    };
    let mut groups: std::collections::BTreeMap<Key, SummaryGroup> = cells
        .into_iter()
        .map(|r| {
            let counts = Counts {
                closures: r.closures,
                outcome_15: r.outcome_15,
                outcome_16: r.outcome_16,
                signed_off: r.signed_off,
                rejected: r.rejected,
                pending: r.pending,
                reopened: r.reopened,
                flagged: r.flagged,
            };
            (
                (r.m, r.f),
                SummaryGroup {
                    counts,
                    ..Default::default()
                },
            )
        })
        .collect();
    for b in buckets {
        let g = groups.entry((b.m, b.f)).or_default();
        g.decided = b.total;
        g.buckets.push((b.bucket, b.n, b.cum));
    }
    // A cell whose closures all moved elsewhere is kept at zero: not a group.
    groups.retain(|_, g| g.counts.closures != 0);
    Ok(groups.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backfill_is_marked_in_both_migrations() {
        for up in [
            include_str!("../../migrations/sqlite/2026-12-03-000013_trend_summary/up.sql"),
            include_str!("../../migrations/postgres/2026-12-03-000013_trend_summary/up.sql"),
        ] {
            let at = up.find(BACKFILL_MARK).unwrap();
            assert!(!up[at..].contains("CREATE TABLE"));
            assert!(up[at..].contains("INSERT INTO trend_hours"));
        }
    }

    #[test]
    fn reads_group_by_what_is_asked() {
        let (cells, hours) = sql_texts(
            Grouping {
                month: true,
                force: false,
            },
            true,
        );
        assert!(cells.contains("GROUP BY month") && cells.contains("'' AS f"));
        assert!(cells.contains("force_id = $3"));
        assert!(hours.contains("PARTITION BY month ORDER BY bucket"));
    }
}
