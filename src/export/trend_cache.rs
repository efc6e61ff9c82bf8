//! Computed trend tables, kept while nothing they are computed from has changed.
//!
//! A table over a million closures takes seconds to compute and a dashboard asks
//! for the same table again and again. Each table is stored with the trend
//! version it was computed at ([`crate::db::trend_versions`]), which every commit
//! that adds a closure, changes a status or sets a volume moves on, on every
//! instance alike. A table is served from here only while the version is still
//! the same, so an answer is never stale; it costs one small read to know.

use crate::db::trend_summary::HoursCache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Tables kept at most; past it the cache starts again empty.
const MAX_TABLES: usize = 256;
/// Larger tables are not kept (they would hold memory a long time).
const MAX_ROWS: usize = 50_000;

pub type Table = Arc<Vec<Vec<String>>>;

#[derive(Clone, Default)]
pub struct TrendCache {
    tables: Arc<Mutex<HashMap<String, (i64, Table)>>>,
    /// Tables answered from the trend summary are not kept (they are exact at
    /// their snapshot); the hours of their groups are, by cell versions.
    hours: HoursCache,
}

impl TrendCache {
    /// The hours of trend-summary groups read before.
    pub fn hours(&self) -> &HoursCache {
        &self.hours
    }

    /// The table stored under `key` if it was computed at `version`.
    pub fn get(&self, key: &str, version: i64) -> Option<Table> {
        let tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        tables
            .get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, t)| t.clone())
    }

    pub fn put(&self, key: String, version: i64, table: Table) {
        if table.len() > MAX_ROWS {
            return;
        }
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        if tables.len() >= MAX_TABLES && !tables.contains_key(&key) {
            tables.clear();
        }
        tables.insert(key, (version, table));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_served_only_at_its_version() {
        let cache = TrendCache::default();
        let t: Table = Arc::new(vec![vec!["2026-10".into(), "3".into()]]);
        cache.put("k".into(), 7, t.clone());
        assert_eq!(cache.get("k", 7), Some(t));
        assert_eq!(cache.get("k", 8), None);
        assert_eq!(cache.get("other", 7), None);
    }
}
