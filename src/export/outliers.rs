//! Outliers: each force (or division) on the funnel plot around the overall
//! proportion of closures under 15/16 per crime finalised.

use super::trends::denominators;
use crate::db::closures::ClosureRow;
use crate::db::volumes::VolumeRow;
use crate::domain::stats::{FunnelPoint, funnel};
use std::collections::BTreeMap;

pub const CSV_COLUMNS: [&str; 11] = [
    "unit",
    "closures",
    "finalised_total",
    "proportion",
    "overall_proportion",
    "z",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "flag",
];

/// `force` or `division`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Force,
    Division,
}

impl Level {
    pub fn parse(s: Option<&str>) -> Option<Level> {
        match s.unwrap_or("force") {
            "force" => Some(Level::Force),
            "division" => Some(Level::Division),
            _ => None,
        }
    }
    fn group_by(self) -> Vec<String> {
        match self {
            Level::Force => vec!["force_id".into()],
            Level::Division => vec!["force_id".into(), "division".into()],
        }
    }
}

/// Counts closures per unit as they stream past.
pub struct Units {
    level: Level,
    counts: BTreeMap<Vec<String>, u64>,
}

impl Units {
    pub fn new(level: Level) -> Self {
        Units {
            level,
            counts: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, r: &ClosureRow) {
        let key = match self.level {
            Level::Force => vec![r.force_id.clone()],
            Level::Division => vec![r.force_id.clone(), r.division.clone().unwrap_or_default()],
        };
        *self.counts.entry(key).or_default() += 1;
    }

    /// Every unit with closures or a finalised total, on the funnel.
    pub fn finish(mut self, volumes: &[VolumeRow]) -> (Option<f64>, Vec<FunnelPoint>) {
        let den = denominators(&self.level.group_by(), volumes).unwrap_or_default();
        for k in den.keys() {
            self.counts.entry(k.clone()).or_default();
        }
        let units: Vec<(String, u64, Option<u64>)> = self
            .counts
            .into_iter()
            .map(|(k, n)| {
                let name = match k.as_slice() {
                    [force, division] => format!("{force}/{division}"),
                    _ => k.join("/"),
                };
                let total = den.get(&k).copied();
                (name, n, total)
            })
            .collect();
        funnel(&units)
    }
}

fn num(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.6}")).unwrap_or_default()
}

/// One unit as a CSV record in [`CSV_COLUMNS`] order.
pub fn record(p: &FunnelPoint) -> Vec<String> {
    vec![
        p.unit.clone(),
        p.closures.to_string(),
        p.finalised_total.map(|n| n.to_string()).unwrap_or_default(),
        num(p.proportion),
        num(p.overall_proportion),
        num(p.z),
        num(p.lower_95),
        num(p.upper_95),
        num(p.lower_998),
        num(p.upper_998),
        p.flag.as_str().to_string(),
    ]
}
