//! Trend tables: counts, hours to decision and rates per 100 finalised, grouped
//! by any of the contract's columns, with small counts suppressed.
//!
//! The aggregation is one pass over the closures in range (identical on both
//! backends), and the denominators come from the monthly volumes.

use crate::db::closures::TrendRow;
use crate::db::volumes::VolumeRow;
use crate::domain::closures::VICTIM_FIELDS;
use crate::domain::stats::{percentile, suppressed};
use crate::domain::trends::{Counts, hours_to_decision};
use crate::domain::validation::FieldError;
use std::collections::{BTreeMap, HashMap};

/// The columns a trend table may be grouped by.
pub fn group_columns() -> Vec<String> {
    let mut cols: Vec<String> = [
        "month",
        "force_id",
        "division",
        "offence_category",
        "outcome_code",
        "status",
        "risk_level",
    ]
    .map(String::from)
    .to_vec();
    cols.extend(VICTIM_FIELDS.iter().map(|f| format!("victim_{f}")));
    cols
}

/// The measure columns, after the group columns.
pub const MEASURES: [&str; 12] = [
    "closures",
    "outcome_15",
    "outcome_16",
    "signed_off",
    "rejected",
    "pending",
    "reopened",
    "flagged",
    "median_hours_to_decision",
    "p90_hours_to_decision",
    "finalised_total",
    "closures_per_100_finalised",
];

/// Volumes can be matched on these group columns only.
const VOLUME_DIMS: [&str; 4] = ["month", "force_id", "division", "offence_category"];

/// The default threshold when a victim characteristic is a group.
pub const DEFAULT_SUPPRESS_BELOW: u64 = 5;

/// Parses `group_by` (default `month`); 422 naming unknown columns.
pub fn parse_group_by(s: Option<&str>) -> Result<Vec<String>, Vec<FieldError>> {
    let allowed = group_columns();
    let cols: Vec<String> = match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => vec!["month".into()],
        Some(s) => s.split(',').map(|c| c.trim().to_string()).collect(),
    };
    let unknown: Vec<&String> = cols.iter().filter(|c| !allowed.contains(c)).collect();
    if !unknown.is_empty() {
        return Err(vec![FieldError::new(
            "group_by",
            crate::domain::FieldRule::NotOneOf,
            format!(
                "unknown column(s) {unknown:?}; use any of: {}",
                allowed.join(", ")
            ),
        )]);
    }
    let mut seen = Vec::new();
    for c in cols {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    Ok(seen)
}

/// The threshold in force: the one asked for, else 5 when a victim
/// characteristic is a group, else none.
pub fn suppress_threshold(asked: Option<u64>, group_by: &[String]) -> Option<u64> {
    asked.or_else(|| {
        group_by
            .iter()
            .any(|g| g.starts_with("victim_"))
            .then_some(DEFAULT_SUPPRESS_BELOW)
    })
}

/// `YYYY-MM` of a timestamp in microseconds.
pub use crate::domain::trends::month_of;

fn value(r: &TrendRow, col: &str) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    match col {
        "month" => month_of(r.closure_proposed_at),
        "force_id" => r.force_id.clone(),
        "division" => o(&r.division),
        "offence_category" => r.offence_category.clone(),
        "outcome_code" => r.outcome_code.to_string(),
        "status" => r.status.clone(),
        "risk_level" => o(&r.risk_level),
        other => {
            let field = other.trim_start_matches("victim_");
            let i = VICTIM_FIELDS.iter().position(|f| *f == field).unwrap_or(0);
            o(r.victim()[i])
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Acc {
    counts: Counts,
    hours: Vec<f64>,
    /// Median and p90 already known (a group read from the trend summary).
    given: Option<(Option<f64>, Option<f64>)>,
}

/// A trend table being built, one chunk of closures at a time.
pub struct Trends {
    group_by: Vec<String>,
    groups: BTreeMap<Vec<String>, Acc>,
}

impl Trends {
    pub fn new(group_by: Vec<String>) -> Self {
        Trends {
            group_by,
            groups: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, r: &TrendRow) {
        let key: Vec<String> = self.group_by.iter().map(|c| value(r, c)).collect();
        let a = self.groups.entry(key).or_default();
        a.counts
            .add(&Counts::of(r.outcome_code, &r.status, r.flagged != 0));
        if let Some(h) = hours_to_decision(r.received_at, r.decided_at) {
            a.hours.push(h);
        }
    }

    /// A whole group at once, its median and p90 known (from the trend summary).
    pub fn add_group(
        &mut self,
        key: Vec<String>,
        counts: Counts,
        median: Option<f64>,
        p90: Option<f64>,
    ) {
        let a = self.groups.entry(key).or_default();
        a.counts.add(&counts);
        a.given = Some((median, p90));
    }

    /// The table: a header, then one row per group in key order.
    pub fn finish(self, volumes: &[VolumeRow], suppress_below: Option<u64>) -> Vec<Vec<String>> {
        let denominators = denominators(&self.group_by, volumes);
        let mut out = vec![
            self.group_by
                .iter()
                .cloned()
                .chain(MEASURES.iter().map(|m| m.to_string()))
                .collect(),
        ];
        for (key, mut a) in self.groups {
            let count = |n: i64| {
                let n = n.max(0) as u64;
                if suppressed(n, suppress_below) {
                    "[c]".to_string()
                } else {
                    n.to_string()
                }
            };
            let c = a.counts;
            let hidden = suppressed(c.closures.max(0) as u64, suppress_below);
            let hours = |p: f64, a: &mut Acc| {
                let v = match a.given {
                    Some((median, p90)) => {
                        if p == 50.0 {
                            median
                        } else {
                            p90
                        }
                    }
                    None => percentile(&mut a.hours, p),
                };
                if hidden {
                    String::new()
                } else {
                    v.map(fmt2).unwrap_or_default()
                }
            };
            let finalised = denominators.as_ref().and_then(|d| d.get(&key).copied());
            let rate = match finalised {
                Some(n) if n > 0 && !hidden => fmt2(c.closures as f64 * 100.0 / n as f64),
                _ => String::new(),
            };
            let mut row = key.clone();
            row.extend([
                count(c.closures),
                count(c.outcome_15),
                count(c.outcome_16),
                count(c.signed_off),
                count(c.rejected),
                count(c.pending),
                count(c.reopened),
                count(c.flagged),
                hours(50.0, &mut a),
                hours(90.0, &mut a),
                finalised.map(|n| n.to_string()).unwrap_or_default(),
                rate,
            ]);
            out.push(row);
        }
        out
    }
}

/// Two decimals, as the CSV writes rates and hours.
pub fn fmt2(x: f64) -> String {
    format!("{x:.2}")
}

/// The finalised total of each group, when the groups can be matched to volumes
/// (only month, force, division and offence category can). A force's whole-force
/// total is used where it gave one, else the sum of its divisions'.
pub fn denominators(
    group_by: &[String],
    volumes: &[VolumeRow],
) -> Option<HashMap<Vec<String>, u64>> {
    if !group_by.iter().all(|g| VOLUME_DIMS.contains(&g.as_str())) {
        return None;
    }
    let by_division = group_by.iter().any(|g| g == "division");
    // (force, month, category, division) → total, with division "" for the force.
    let mut cells: HashMap<(String, String, String, String), u64> = HashMap::new();
    if by_division {
        for v in volumes.iter().filter(|v| !v.division.is_empty()) {
            cells.insert(
                (
                    v.force_id.clone(),
                    v.month.clone(),
                    v.offence_category.clone(),
                    v.division.clone(),
                ),
                v.finalised_total as u64,
            );
        }
    } else {
        let whole: HashMap<(&str, &str, &str), u64> = volumes
            .iter()
            .filter(|v| v.division.is_empty())
            .map(|v| {
                (
                    (
                        v.force_id.as_str(),
                        v.month.as_str(),
                        v.offence_category.as_str(),
                    ),
                    v.finalised_total as u64,
                )
            })
            .collect();
        for v in volumes {
            let k = (
                v.force_id.clone(),
                v.month.clone(),
                v.offence_category.clone(),
                String::new(),
            );
            match whole.get(&(
                v.force_id.as_str(),
                v.month.as_str(),
                v.offence_category.as_str(),
            )) {
                Some(total) => {
                    cells.insert(k, *total);
                }
                None => *cells.entry(k).or_default() += v.finalised_total as u64,
            }
        }
    }
    let mut out: HashMap<Vec<String>, u64> = HashMap::new();
    for ((force, month, category, division), total) in cells {
        let key = group_by
            .iter()
            .map(|g| match g.as_str() {
                "month" => month.clone(),
                "force_id" => force.clone(),
                "division" => division.clone(),
                _ => category.clone(),
            })
            .collect();
        *out.entry(key).or_default() += total;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(force: &str, division: &str, month: &str, total: i64) -> VolumeRow {
        VolumeRow {
            force_id: force.into(),
            division: division.into(),
            month: month.into(),
            offence_category: "rape".into(),
            finalised_total: total,
            updated_at: 0,
            updated_by_user_id: String::new(),
        }
    }

    #[test]
    fn group_by_is_checked() {
        assert_eq!(parse_group_by(None).unwrap(), ["month"]);
        assert_eq!(
            parse_group_by(Some("force_id,month,force_id")).unwrap(),
            ["force_id", "month"]
        );
        assert!(parse_group_by(Some("month,shoe_size")).is_err());
        assert_eq!(suppress_threshold(None, &["victim_sex".into()]), Some(5));
        assert_eq!(suppress_threshold(None, &["month".into()]), None);
        assert_eq!(suppress_threshold(Some(3), &["victim_sex".into()]), Some(3));
    }

    #[test]
    fn whole_force_totals_win_over_divisions() {
        let v = [
            vol("kent", "", "2026-10", 100),
            vol("kent", "North", "2026-10", 30),
            vol("kent", "South", "2026-10", 40),
            vol("essex", "A", "2026-10", 7),
            vol("essex", "B", "2026-10", 8),
        ];
        let d = denominators(&["force_id".into()], &v).unwrap();
        assert_eq!(d[&vec!["kent".to_string()]], 100);
        assert_eq!(d[&vec!["essex".to_string()]], 15);
        let d = denominators(&["force_id".into(), "division".into()], &v).unwrap();
        assert_eq!(d[&vec!["kent".to_string(), "North".to_string()]], 30);
        assert!(denominators(&["status".into()], &v).is_none());
    }
}
