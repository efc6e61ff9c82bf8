//! The trend summary (`trend_cells`, `trend_hours`, migrations 000013 and
//! 000014): what
//! [`crate::domain::trends`] says each closure counts for, by month and force,
//! changed in the same transaction as the closure. A read of it in one
//! snapshot is therefore exact at that snapshot, whatever commits meanwhile
//! and on however many instances, with no ordering of sequence values assumed.
//!
//! Lock order: a transaction takes a `trend_versions` shard first (the
//! callers bump before they apply), then cells in key order, then hour buckets
//! in key order, so two transactions never wait for each other in a cycle.
//!
//! Every change to a cell's hours gives the cell a new random hours version
//! in the same transaction, so that a reader may keep what it read of a
//! cell's hours while the version stays ([`HoursCache`]).

use super::schema::{trend_cells, trend_hours};
use super::{Conn, with_conn};
use crate::domain::trends::{Counts, SummaryChange};
use crate::error::AppResult;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::upsert::excluded;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Rows per upsert on PostgreSQL (10 binds a cell, 4 a bucket).
const PG_ROWS: usize = 5000;

/// Applies `change` (see [`crate::domain::trends::record_change`]) inside the
/// caller's transaction.
pub fn apply(conn: &mut Conn, change: &SummaryChange) -> AppResult<()> {
    if change.is_empty() {
        return Ok(());
    }
    // The cells whose hours change take this transaction's hours version
    // (positive, so never the 0 of a cell that has had no hours); the others
    // keep theirs. One statement for both, so that cells are locked in key order.
    let version = (rand::random::<u64>() >> 1) as i64 | 1;
    let cells: Vec<_> = change
        .iter()
        .filter(|(_, c)| !c.counts.is_zero() || !c.hours.is_empty())
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
                trend_cells::hours_version.eq(if c.hours.is_empty() { 0 } else { version }),
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
                    trend_cells::hours_version.eq(diesel::dsl::sql::<BigInt>(
                        "CASE WHEN excluded.hours_version = 0 THEN trend_cells.hours_version \
                         ELSE excluded.hours_version END",
                    )),
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
    // A state of the hours that no reader has seen before.
    let version = (rand::random::<u64>() >> 1) as i64 | 1;
    with_conn!(conn, c => diesel::update(trend_cells::table)
        .set(trend_cells::hours_version.eq(version))
        .execute(c))?;
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

/// What a group's hours come to: how many decided, and the buckets holding
/// the ranks of [`RANK_PERCENTS`] (as [`SummaryGroup::buckets`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GroupHours {
    pub decided: i64,
    pub buckets: Vec<(i64, i64, i64)>,
}

/// Groups' hours already read, each kept under the cells (month, force) it was
/// read from and their hours versions (migration 000014): served again only
/// while every one of those cells is still at the same version, which every
/// change to a cell's hours replaces in its own transaction. The versions are
/// read in the same snapshot as the counts, so an answer from here is the one
/// the hours would give at that snapshot. A new closure changes counts, not
/// hours: ingest alone leaves every entry good.
#[derive(Clone, Default)]
pub struct HoursCache {
    groups: Arc<Mutex<KeptHours>>,
}

/// A group's cells → their versions when read, and the group's hours.
type KeptHours = HashMap<Vec<Key>, (Vec<i64>, Arc<GroupHours>)>;

/// Groups kept at most (a month × force table over a year is about 600);
/// past it the cache starts again empty.
const MAX_GROUPS: usize = 4096;

impl HoursCache {
    fn get(&self, cells: &[Key], versions: &[i64]) -> Option<Arc<GroupHours>> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups
            .get(cells)
            .filter(|(v, _)| v == versions)
            .map(|(_, h)| h.clone())
    }

    fn put(&self, cells: Vec<Key>, versions: Vec<i64>, hours: Arc<GroupHours>) {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if groups.len() >= MAX_GROUPS && !groups.contains_key(&cells) {
            groups.clear();
        }
        groups.insert(cells, (versions, hours));
    }
}

/// The ranks whose buckets a read keeps: those the median and the p90
/// interpolate between (R-7: floor((total-1)p/100) and the next one).
const RANK_PERCENTS: [i64; 2] = [50, 90];

/// A group's hours from its cells' buckets (bucket, n), in any order.
fn group_hours(mut buckets: Vec<(i64, i64)>) -> GroupHours {
    buckets.sort_unstable_by_key(|(b, _)| *b);
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(buckets.len());
    for (b, n) in buckets {
        match merged.last_mut() {
            Some((lb, ln)) if *lb == b => *ln += n,
            _ => merged.push((b, n)),
        }
    }
    merged.retain(|(_, n)| *n != 0);
    let total: i64 = merged.iter().map(|(_, n)| n).sum();
    let ranks: Vec<i64> = RANK_PERCENTS
        .iter()
        .flat_map(|p| {
            let r = (total - 1) * p / 100;
            [r, r + 1]
        })
        .filter(|r| (0..total).contains(r))
        .collect();
    let mut cum = 0;
    let mut kept = Vec::new();
    for (b, n) in merged {
        cum += n;
        if ranks.iter().any(|r| cum - n <= *r && *r < cum) {
            kept.push((b, n, cum));
        }
    }
    GroupHours {
        decided: total,
        buckets: kept,
    }
}

/// A cell's row: (month, force, the counts' columns, hours version).
type CellRow = (String, String, i64, i64, i64, i64, i64, i64, i64, i64, i64);

/// Missed cells read one statement each up to this many; past it, one
/// statement reads the buckets of every cell in range.
const PER_CELL_READS: usize = 32;

/// The buckets (bucket, n) of each of `cells`, in bucket order.
fn read_hours(
    conn: &mut Conn,
    from: &str,
    to: &str,
    force: Option<&str>,
    cells: &BTreeSet<Key>,
) -> AppResult<HashMap<Key, Vec<(i64, i64)>>> {
    let mut out: HashMap<Key, Vec<(i64, i64)>> = HashMap::new();
    if cells.is_empty() {
        return Ok(out);
    }
    if cells.len() <= PER_CELL_READS {
        for (m, f) in cells {
            let rows: Vec<(i64, i64)> = with_conn!(conn, c => trend_hours::table
                .filter(trend_hours::month.eq(m))
                .filter(trend_hours::force_id.eq(f))
                .filter(trend_hours::n.ne(0))
                .order(trend_hours::bucket)
                .select((trend_hours::bucket, trend_hours::n))
                .load(c))?;
            out.insert((m.clone(), f.clone()), rows);
        }
        return Ok(out);
    }
    let rows: Vec<(String, String, i64, i64)> = with_conn!(conn, c => {
        let mut q = trend_hours::table
            .filter(trend_hours::month.ge(from))
            .filter(trend_hours::month.le(to))
            .filter(trend_hours::n.ne(0))
            .into_boxed();
        if let Some(f) = force {
            q = q.filter(trend_hours::force_id.eq(f));
        }
        q.order((trend_hours::month, trend_hours::force_id, trend_hours::bucket))
            .select((trend_hours::month, trend_hours::force_id, trend_hours::bucket, trend_hours::n))
            .load(c)
    })?;
    for (m, f, b, n) in rows {
        let key = (m, f);
        if cells.contains(&key) {
            out.entry(key).or_default().push((b, n));
        }
    }
    Ok(out)
}

/// The summary grouped by `g` over the months `from..=to` (`YYYY-MM`), of one
/// force if given. Call it in one snapshot ([`crate::db::Db::snapshot_blocking`])
/// so that counts and hours are of the same state. With a `cache`, the hours
/// of a group whose cells are all at the versions they were read at before
/// are not read again: a read then costs the cells in range (about 600 a
/// year), whatever the number of closures or of distinct hours.
pub fn read(
    conn: &mut Conn,
    g: Grouping,
    from: &str,
    to: &str,
    force: Option<&str>,
    cache: Option<&HoursCache>,
) -> AppResult<Vec<(Key, SummaryGroup)>> {
    let cells: Vec<CellRow> = with_conn!(conn, c => {
        let mut q = trend_cells::table
            .filter(trend_cells::month.ge(from))
            .filter(trend_cells::month.le(to))
            .into_boxed();
        if let Some(f) = force {
            q = q.filter(trend_cells::force_id.eq(f));
        }
        q.order((trend_cells::month, trend_cells::force_id))
            .select((
                trend_cells::month,
                trend_cells::force_id,
                trend_cells::closures,
                trend_cells::outcome_15,
                trend_cells::outcome_16,
                trend_cells::signed_off,
                trend_cells::rejected,
                trend_cells::pending,
                trend_cells::reopened,
                trend_cells::flagged,
                trend_cells::hours_version,
            ))
            .load(c)
    })?;
    #[derive(Default)]
    struct Group {
        counts: Counts,
        cells: Vec<Key>,
        versions: Vec<i64>,
        hours: Option<Arc<GroupHours>>,
    }
    let mut groups: BTreeMap<Key, Group> = BTreeMap::new();
    for (m, f, a0, a1, a2, a3, a4, a5, a6, a7, version) in cells {
        let key = (
            if g.month { m.clone() } else { String::new() },
            if g.force { f.clone() } else { String::new() },
        );
        let group = groups.entry(key).or_default();
        group
            .counts
            .add(&Counts::from_array([a0, a1, a2, a3, a4, a5, a6, a7]));
        group.cells.push((m, f));
        group.versions.push(version);
    }
    // A cell whose closures all moved elsewhere is kept at zero: not a group.
    groups.retain(|_, g| g.counts.closures != 0);
    if let Some(cache) = cache {
        for group in groups.values_mut() {
            group.hours = cache.get(&group.cells, &group.versions);
        }
    }
    let missed: BTreeSet<Key> = groups
        .values()
        .filter(|g| g.hours.is_none())
        .flat_map(|g| g.cells.iter().cloned())
        .collect();
    let buckets = read_hours(conn, from, to, force, &missed)?;
    for group in groups.values_mut().filter(|g| g.hours.is_none()) {
        let all: Vec<(i64, i64)> = group
            .cells
            .iter()
            .filter_map(|c| buckets.get(c))
            .flatten()
            .copied()
            .collect();
        let hours = Arc::new(group_hours(all));
        if let Some(cache) = cache {
            cache.put(group.cells.clone(), group.versions.clone(), hours.clone());
        }
        group.hours = Some(hours);
    }
    Ok(groups
        .into_iter()
        .map(|(key, g)| {
            let hours = g.hours.unwrap_or_default();
            (
                key,
                SummaryGroup {
                    counts: g.counts,
                    decided: hours.decided,
                    buckets: hours.buckets.clone(),
                },
            )
        })
        .collect())
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
    fn group_hours_keep_the_buckets_of_the_ranks() {
        // Two cells' buckets, one bucket in both: 10 values, ranks 4, 5 (median)
        // and 8, 9 (p90).
        let h = group_hours(vec![(5, 2), (1, 3), (9, 1), (5, 1), (7, 0), (8, 3)]);
        assert_eq!(h.decided, 10);
        // cum: 1→3, 5→6, 8→9, 9→10.
        assert_eq!(h.buckets, vec![(5, 3, 6), (8, 3, 9), (9, 1, 10)]);
        assert_eq!(group_hours(vec![]), GroupHours::default());
        assert_eq!(
            group_hours(vec![(4, 1)]),
            GroupHours {
                decided: 1,
                buckets: vec![(4, 1, 1)]
            }
        );
    }

    #[test]
    fn cached_hours_are_served_only_at_their_versions() {
        let cache = HoursCache::default();
        let cells = vec![("2026-10".to_string(), "kent".to_string())];
        let h = Arc::new(group_hours(vec![(3, 2)]));
        cache.put(cells.clone(), vec![7], h.clone());
        assert_eq!(cache.get(&cells, &[7]), Some(h));
        assert_eq!(cache.get(&cells, &[8]), None);
        assert_eq!(cache.get(&[], &[]), None);
    }
}
