//! The statistics of the reports (DOMAIN.md, "Trends and outliers"): percentiles,
//! funnel-plot control limits (Spiegelhalter, 2005) and small-count suppression.

use serde::Serialize;

/// Two-sided 95% ("alert", about 2 SD) and 99.8% ("alarm", about 3 SD) normal quantiles.
pub const Z95: f64 = 1.959_963_984_540_054;
pub const Z998: f64 = 3.090_232_306_167_813;

/// The `p`-th percentile (0-100) of `values`, by linear interpolation between
/// the closest ranks (the R-7 / spreadsheet PERCENTILE.INC method).
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let h = (values.len() - 1) as f64 * p / 100.0;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Some(values[lo] + (h - lo as f64) * (values[hi] - values[lo]))
}

/// Whether a count must be suppressed: from 1 to `below - 1`.
pub fn suppressed(count: u64, below: Option<u64>) -> bool {
    below.is_some_and(|b| count >= 1 && count < b)
}

/// Where a unit falls on the funnel plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    HighAlarm,
    HighAlert,
    Within,
    LowAlert,
    LowAlarm,
    NoDenominator,
}

impl Flag {
    pub const ALL: [Flag; 6] = [
        Flag::HighAlarm,
        Flag::HighAlert,
        Flag::Within,
        Flag::LowAlert,
        Flag::LowAlarm,
        Flag::NoDenominator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Flag::HighAlarm => "high_alarm",
            Flag::HighAlert => "high_alert",
            Flag::Within => "within",
            Flag::LowAlert => "low_alert",
            Flag::LowAlarm => "low_alarm",
            Flag::NoDenominator => "no_denominator",
        }
    }
}

/// One unit's place on the funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelPoint {
    pub unit: String,
    pub closures: u64,
    pub finalised_total: Option<u64>,
    pub proportion: Option<f64>,
    pub overall_proportion: Option<f64>,
    pub z: Option<f64>,
    pub lower_95: Option<f64>,
    pub upper_95: Option<f64>,
    pub lower_998: Option<f64>,
    pub upper_998: Option<f64>,
    pub flag: Flag,
}

/// The control limits around `p0` for a denominator `n`: the binomial
/// proportion's normal approximation, p0 ± z·√(p0(1−p0)/n), clipped to [0, 1].
pub fn limits(p0: f64, n: f64, z: f64) -> (f64, f64) {
    let sd = (p0 * (1.0 - p0) / n).sqrt();
    ((p0 - z * sd).max(0.0), (p0 + z * sd).min(1.0))
}

/// Places every unit (name, closures, finalised total) on the funnel around the
/// overall proportion of the units that have a denominator.
pub fn funnel(units: &[(String, u64, Option<u64>)]) -> (Option<f64>, Vec<FunnelPoint>) {
    let (num, den) = units
        .iter()
        .filter_map(|(_, c, n)| n.filter(|n| *n > 0).map(|n| (*c, n)))
        .fold((0u64, 0u64), |(a, b), (c, n)| (a + c, b + n));
    let p0 = (den > 0).then(|| num as f64 / den as f64);
    let points = units
        .iter()
        .map(|(unit, closures, n)| {
            let base = FunnelPoint {
                unit: unit.clone(),
                closures: *closures,
                finalised_total: *n,
                proportion: None,
                overall_proportion: p0,
                z: None,
                lower_95: None,
                upper_95: None,
                lower_998: None,
                upper_998: None,
                flag: Flag::NoDenominator,
            };
            let (Some(n), Some(p0)) = (n.filter(|n| *n > 0), p0) else {
                return base;
            };
            let n = n as f64;
            let p = *closures as f64 / n;
            let sd = (p0 * (1.0 - p0) / n).sqrt();
            let (l95, u95) = limits(p0, n, Z95);
            let (l998, u998) = limits(p0, n, Z998);
            let flag = if p > u998 {
                Flag::HighAlarm
            } else if p > u95 {
                Flag::HighAlert
            } else if p < l998 {
                Flag::LowAlarm
            } else if p < l95 {
                Flag::LowAlert
            } else {
                Flag::Within
            };
            FunnelPoint {
                proportion: Some(p),
                z: (sd > 0.0).then(|| (p - p0) / sd),
                lower_95: Some(l95),
                upper_95: Some(u95),
                lower_998: Some(l998),
                upper_998: Some(u998),
                flag,
                ..base
            }
        })
        .collect();
    (p0, points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        assert_eq!(percentile(&mut [], 50.0), None);
        assert_eq!(percentile(&mut [4.0], 90.0), Some(4.0));
        assert_eq!(percentile(&mut [3.0, 1.0, 2.0, 4.0], 50.0), Some(2.5));
        let p90 = percentile(
            &mut [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            90.0,
        )
        .unwrap();
        assert!((p90 - 9.1).abs() < 1e-9);
    }

    #[test]
    fn suppression() {
        assert!(!suppressed(0, Some(5)));
        assert!(suppressed(1, Some(5)) && suppressed(4, Some(5)));
        assert!(!suppressed(5, Some(5)));
        assert!(!suppressed(2, None));
    }

    #[test]
    fn funnel_flags() {
        let units = vec![
            ("a".to_string(), 50, Some(100)),
            ("b".to_string(), 30, Some(100)),
            ("c".to_string(), 10, Some(100)),
            ("d".to_string(), 300, Some(1000)),
            ("e".to_string(), 5, None),
        ];
        let (p0, pts) = funnel(&units);
        let p0 = p0.unwrap();
        assert!((p0 - 390.0 / 1300.0).abs() < 1e-12);
        let flags: Vec<Flag> = pts.iter().map(|p| p.flag).collect();
        assert_eq!(
            flags,
            [
                Flag::HighAlarm,
                Flag::Within,
                Flag::LowAlarm,
                Flag::Within,
                Flag::NoDenominator
            ]
        );
        let sd = (p0 * (1.0 - p0) / 100.0).sqrt();
        assert!((pts[0].upper_95.unwrap() - (p0 + Z95 * sd)).abs() < 1e-12);
        assert!((pts[0].z.unwrap() - (0.5 - p0) / sd).abs() < 1e-12);
        assert_eq!(pts[4].proportion, None);
    }
}
