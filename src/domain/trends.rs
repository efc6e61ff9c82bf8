//! What one closure counts for in a trend table (API.md, "Exports"), written
//! once for the table computed from the closures and for the summary kept as
//! they change: the month of its `closure_proposed_at` (UTC), whatever its
//! status; the counts it adds to; its hours from `received_at` to the latest
//! decision. And percentiles read back from a histogram of those hours.

/// Hours to decision are kept in the summary in buckets of 1/1000 h (3.6 s):
/// a bucket's midpoint is within 0.0005 h of every value in it, so a median or
/// p90 read from the buckets is within 0.0005 h of the exact one (0.0055 h once
/// written with two decimals).
pub const BUCKET_MICROS: i64 = 3_600_000;

/// `YYYY-MM` (UTC) of a timestamp in microseconds.
pub fn month_of(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_default()
}

/// The counted columns of a trend row, in the contract's order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub closures: i64,
    pub outcome_15: i64,
    pub outcome_16: i64,
    pub signed_off: i64,
    pub rejected: i64,
    pub pending: i64,
    pub reopened: i64,
    pub flagged: i64,
}

impl Counts {
    /// What one closure adds: itself, its outcome, its status, whether flagged.
    pub fn of(outcome_code: i32, status: &str, flagged: bool) -> Counts {
        let mut c = Counts {
            closures: 1,
            ..Counts::default()
        };
        match outcome_code {
            15 => c.outcome_15 = 1,
            16 => c.outcome_16 = 1,
            _ => {}
        }
        match status {
            "signed_off" => c.signed_off = 1,
            "rejected" => c.rejected = 1,
            "pending_signoff" => c.pending = 1,
            "reopened" => c.reopened = 1,
            _ => {}
        }
        c.flagged = flagged as i64;
        c
    }

    pub fn as_array(&self) -> [i64; 8] {
        [
            self.closures,
            self.outcome_15,
            self.outcome_16,
            self.signed_off,
            self.rejected,
            self.pending,
            self.reopened,
            self.flagged,
        ]
    }

    fn scaled(&self, k: i64) -> Counts {
        let a = self.as_array().map(|x| x * k);
        Counts::from_array(a)
    }

    pub fn from_array(a: [i64; 8]) -> Counts {
        Counts {
            closures: a[0],
            outcome_15: a[1],
            outcome_16: a[2],
            signed_off: a[3],
            rejected: a[4],
            pending: a[5],
            reopened: a[6],
            flagged: a[7],
        }
    }

    pub fn add(&mut self, o: &Counts) {
        let (a, b) = (self.as_array(), o.as_array());
        *self = Counts::from_array(std::array::from_fn(|i| a[i] + b[i]));
    }

    pub fn is_zero(&self) -> bool {
        self.as_array().iter().all(|x| *x == 0)
    }
}

/// Hours from receipt to the latest decision, for a decided closure.
pub fn hours_to_decision(received_at: i64, decided_at: Option<i64>) -> Option<f64> {
    decided_at.map(|d| (d - received_at) as f64 / 3.6e9)
}

/// The summary's bucket of those hours (floor of 1/1000 h).
pub fn hours_bucket(received_at: i64, decided_at: Option<i64>) -> Option<i64> {
    decided_at.map(|d| (d - received_at).div_euclid(BUCKET_MICROS))
}

/// The hours a bucket stands for: its midpoint.
pub fn bucket_hours(bucket: i64) -> f64 {
    (bucket as f64 + 0.5) * BUCKET_MICROS as f64 / 3.6e9
}

/// What a trend counts of one closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendFacts {
    pub closure_proposed_at: i64,
    pub force_id: String,
    pub outcome_code: i32,
    pub status: String,
    pub flagged: bool,
    pub received_at: i64,
    pub decided_at: Option<i64>,
}

/// What a change does to one summary cell (month, force): counts to add, and
/// hour buckets to add to (+1) or take from (-1).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CellChange {
    pub counts: Counts,
    pub hours: std::collections::BTreeMap<i64, i64>,
}

/// The summary's cells, keyed (month, force), in key order: the order the
/// database locks them in, the same for every transaction.
pub type SummaryChange = std::collections::BTreeMap<(String, String), CellChange>;

/// Adds to `change` what a closure moving from `old` to `new` does (`None`:
/// absent before, or after). Cells and buckets that end unchanged are dropped.
pub fn record_change(
    change: &mut SummaryChange,
    old: Option<&TrendFacts>,
    new: Option<&TrendFacts>,
) {
    for (facts, k) in [(old, -1), (new, 1)] {
        let Some(f) = facts else { continue };
        let cell = change
            .entry((month_of(f.closure_proposed_at), f.force_id.clone()))
            .or_default();
        cell.counts
            .add(&Counts::of(f.outcome_code, &f.status, f.flagged).scaled(k));
        if let Some(b) = hours_bucket(f.received_at, f.decided_at) {
            *cell.hours.entry(b).or_default() += k;
        }
    }
    change.retain(|_, c| {
        c.hours.retain(|_, n| *n != 0);
        !(c.counts.is_zero() && c.hours.is_empty())
    });
}

/// The ranks (0-based, among `total` sorted values) the `p`-th percentile
/// interpolates between, and the weight of the upper one (R-7, as
/// [`crate::domain::stats::percentile`]).
pub fn percentile_ranks(total: u64, p: f64) -> Option<(u64, u64, f64)> {
    if total == 0 {
        return None;
    }
    let h = (total - 1) as f64 * p / 100.0;
    let (lo, hi) = (h.floor(), h.ceil());
    Some((lo as u64, hi as u64, h - lo))
}

/// The `p`-th percentile of the values a histogram holds: `buckets` are
/// (bucket, how many, how many up to and including it) in bucket order, and
/// must include the buckets holding the ranks [`percentile_ranks`] names.
pub fn histogram_percentile(buckets: &[(i64, i64, i64)], total: u64, p: f64) -> Option<f64> {
    let (lo, hi, w) = percentile_ranks(total, p)?;
    let at = |rank: u64| {
        buckets
            .iter()
            .find(|(_, n, cum)| cum - n <= rank as i64 && (rank as i64) < *cum)
            .map(|(b, _, _)| bucket_hours(*b))
    };
    let (l, h) = (at(lo)?, at(hi)?);
    Some(l + w * (h - l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::percentile;

    fn facts(status: &str, decided: Option<i64>) -> TrendFacts {
        TrendFacts {
            closure_proposed_at: 1_790_000_000_000_000,
            force_id: "kent".into(),
            outcome_code: 15,
            status: status.into(),
            flagged: true,
            received_at: 1_790_000_000_000_000,
            decided_at: decided,
        }
    }

    #[test]
    fn a_change_takes_the_old_and_adds_the_new() {
        let mut ch = SummaryChange::new();
        let old = facts("pending_signoff", None);
        record_change(&mut ch, None, Some(&old));
        let cell = &ch[&(month_of(old.closure_proposed_at), "kent".to_string())];
        assert_eq!(cell.counts, Counts::of(15, "pending_signoff", true));
        assert!(cell.hours.is_empty());

        let decided = facts("signed_off", Some(old.received_at + 3_600_000_000));
        let mut ch = SummaryChange::new();
        record_change(&mut ch, Some(&old), Some(&decided));
        let cell = ch.values().next().unwrap();
        assert_eq!(
            (
                cell.counts.pending,
                cell.counts.signed_off,
                cell.counts.closures
            ),
            (-1, 1, 0)
        );
        assert_eq!(cell.hours.iter().collect::<Vec<_>>(), [(&1000, &1)]);

        // Reopening keeps the latest decision: only the status moves.
        let reopened = TrendFacts {
            status: "reopened".into(),
            ..decided.clone()
        };
        let mut ch = SummaryChange::new();
        record_change(&mut ch, Some(&decided), Some(&reopened));
        let cell = ch.values().next().unwrap();
        assert!(cell.hours.is_empty());
        assert_eq!((cell.counts.signed_off, cell.counts.reopened), (-1, 1));

        let mut ch = SummaryChange::new();
        record_change(&mut ch, Some(&decided), Some(&decided));
        assert!(ch.is_empty());
    }

    #[test]
    fn histogram_percentiles_are_within_half_a_bucket() {
        let values: Vec<i64> = (0..997)
            .map(|i| (i * 7919) % 100_000 * 1_000_000 + 17)
            .collect();
        let mut hist: std::collections::BTreeMap<i64, i64> = Default::default();
        for v in &values {
            *hist.entry(v.div_euclid(BUCKET_MICROS)).or_default() += 1;
        }
        let mut cum = 0;
        let buckets: Vec<(i64, i64, i64)> = hist
            .iter()
            .map(|(b, n)| {
                cum += n;
                (*b, *n, cum)
            })
            .collect();
        let mut hours: Vec<f64> = values.iter().map(|v| *v as f64 / 3.6e9).collect();
        for p in [0.0, 10.0, 50.0, 90.0, 100.0] {
            let exact = percentile(&mut hours, p).unwrap();
            let got = histogram_percentile(&buckets, values.len() as u64, p).unwrap();
            assert!((exact - got).abs() <= 0.0005 + 1e-9, "p{p}: {exact} {got}");
        }
        assert_eq!(histogram_percentile(&[], 0, 50.0), None);
    }
}
