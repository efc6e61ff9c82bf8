//! The rows of each export, produced once for both the HTTP download and the
//! offline `closure-audit export` command. Each writes records through `out`,
//! which answers false when the reader has gone.

use super::closures_csv;
use super::trend_cache::{Table, TrendCache};
use super::trends::Trends;
use crate::db::closures::{self, ClosureFilter};
use crate::db::trend_summary::{self, Grouping};
use crate::db::{Db, trend_versions, volumes};
use crate::domain::trends::histogram_percentile;
use crate::error::AppResult;
use crate::export::months::Months;
use std::sync::Arc;

/// Where a producer hands each record's cells (not yet neutralised).
pub type Out<'a> = &'a mut dyn FnMut(&[&str]) -> bool;

/// Every closure matching `filter`, oldest received first.
pub fn closures(db: &Db, filter: &ClosureFilter, out: Out) -> AppResult<u64> {
    closures::for_each_csv(db, filter, |r| {
        let cells = closures_csv::record(r);
        out(&cells.iter().map(|c| c.as_ref()).collect::<Vec<&str>>())
    })
}

/// What a trend table is made of.
#[derive(Debug, Clone)]
pub struct TrendSpec {
    pub months: Months,
    pub group_by: Vec<String>,
    pub suppress_below: Option<u64>,
    /// Force, division, category and outcome filters; `from`/`to` are set from `months`.
    pub filter: ClosureFilter,
}

impl TrendSpec {
    pub fn header(&self) -> Vec<String> {
        Trends::new(self.group_by.clone())
            .finish(&[], None)
            .remove(0)
    }
}

/// The trend table's rows (no header). With a `cache`, a table computed
/// before is reused while the trend version is unchanged.
pub fn trends(db: &Db, spec: &TrendSpec, cache: Option<&TrendCache>, out: Out) -> AppResult<u64> {
    let table = match cache {
        // Answered from the trend summary: exact at its snapshot, nothing to keep.
        _ if summary_grouping(spec).is_some() => compute_trends(db, spec, cache)?,
        None => compute_trends(db, spec, None)?,
        Some(cache) => {
            let key = format!("{spec:?}");
            let version = db.read_blocking(trend_versions::current)?;
            match cache.get(&key, version) {
                Some(table) => table,
                None => {
                    let table = compute_trends(db, spec, Some(cache))?;
                    // Kept only if nothing was committed while it was computed.
                    if db.read_blocking(trend_versions::current)? == version {
                        cache.put(key, version, table.clone());
                    }
                    table
                }
            }
        }
    };
    let mut rows = 0;
    for row in table.iter() {
        rows += 1;
        if !out(&row.iter().map(String::as_str).collect::<Vec<_>>()) {
            break;
        }
    }
    Ok(rows)
}

/// The summary's grouping when `spec` can be answered from the trend summary:
/// grouped by month and/or force only, filtered by force only.
fn summary_grouping(spec: &TrendSpec) -> Option<Grouping> {
    let f = &spec.filter;
    let only_force = f.division.is_none()
        && f.offence_category.is_none()
        && f.outcome_code.is_none()
        && f.status.is_none();
    let g = &spec.group_by;
    (only_force && !g.is_empty() && g.iter().all(|c| c == "month" || c == "force_id")).then(|| {
        Grouping {
            month: g.iter().any(|c| c == "month"),
            force: g.iter().any(|c| c == "force_id"),
        }
    })
}

fn compute_trends(db: &Db, spec: &TrendSpec, cache: Option<&TrendCache>) -> AppResult<Table> {
    let mut filter = spec.filter.clone();
    let (from, to) = spec.months.micros();
    filter.from = Some(from);
    filter.to = Some(to);
    let mut table = Trends::new(spec.group_by.clone());
    match summary_grouping(spec) {
        Some(g) => {
            let groups = db.snapshot_blocking(|c| {
                trend_summary::read(
                    c,
                    g,
                    &spec.months.from,
                    &spec.months.to,
                    filter.force_id.as_deref(),
                    cache.map(TrendCache::hours),
                )
            })?;
            for ((month, force), group) in groups {
                let key: Vec<String> = spec
                    .group_by
                    .iter()
                    .map(|c| {
                        if c == "month" {
                            month.clone()
                        } else {
                            force.clone()
                        }
                    })
                    .collect();
                let total = group.decided.max(0) as u64;
                let median = histogram_percentile(&group.buckets, total, 50.0);
                let p90 = histogram_percentile(&group.buckets, total, 90.0);
                table.add_group(key, group.counts, median, p90);
            }
        }
        None => {
            // The closure columns the groups are read from.
            let wanted: Vec<&str> = spec
                .group_by
                .iter()
                .map(|c| {
                    if c == "month" {
                        "closure_proposed_at"
                    } else {
                        c.as_str()
                    }
                })
                .collect();
            closures::for_each_trend_row(db, &filter, &wanted, |r| table.add(r))?;
        }
    }
    let vols = db.read_blocking(|c| {
        let f = &filter;
        volumes::in_range(
            c,
            &spec.months.from,
            &spec.months.to,
            f.force_id.as_deref(),
            f.division.as_deref(),
            f.offence_category.as_deref(),
        )
    })?;
    let mut rows = table.finish(&vols, spec.suppress_below);
    rows.remove(0);
    Ok(Arc::new(rows))
}
