//! The rows of each export, produced once for both the HTTP download and the
//! offline `closure-audit export` command. Each writes records through `out`,
//! which answers false when the reader has gone.

use super::closures_csv;
use super::trend_cache::{Table, TrendCache};
use super::trends::Trends;
use crate::db::closures::{self, ClosureFilter};
use crate::db::{Db, trend_versions, volumes};
use crate::error::AppResult;
use crate::export::months::Months;
use std::sync::Arc;

pub type Out<'a> = &'a mut dyn FnMut(Vec<String>) -> bool;

/// Every closure matching `filter`, oldest received first.
pub fn closures(db: &Db, filter: &ClosureFilter, out: Out) -> AppResult<u64> {
    closures::for_each(db, filter, |r| out(closures_csv::record(r)))
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
        None => compute_trends(db, spec)?,
        Some(cache) => {
            let key = format!("{spec:?}");
            let version = db.read_blocking(trend_versions::current)?;
            match cache.get(&key, version) {
                Some(table) => table,
                None => {
                    let table = compute_trends(db, spec)?;
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
        if !out(row.clone()) {
            break;
        }
    }
    Ok(rows)
}

fn compute_trends(db: &Db, spec: &TrendSpec) -> AppResult<Table> {
    let mut filter = spec.filter.clone();
    let (from, to) = spec.months.micros();
    filter.from = Some(from);
    filter.to = Some(to);
    let mut table = Trends::new(spec.group_by.clone());
    closures::for_each(db, &filter, |r| {
        table.add(r);
        true
    })?;
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
