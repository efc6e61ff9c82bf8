//! Monthly totals of VAWG crimes finalised: the denominators of rates.

use super::closures::OFFENCE_CATEGORIES;
use super::forces::known_force;
use super::validation::{Errors, FieldError, FieldRule, Given, Need};
use chrono::NaiveDate;

/// The largest total accepted: far above any force's month.
pub const MAX_FINALISED_TOTAL: i64 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInput {
    pub force_id: String,
    pub division: Option<String>,
    /// `YYYY-MM`.
    pub month: String,
    pub offence_category: String,
    pub finalised_total: i64,
}

/// Whether `s` is a month as the contract writes them: `YYYY-MM`.
pub fn is_month(s: &str) -> bool {
    s.len() == 7 && NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok()
}

/// A monthly total as a client gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeDraft {
    pub force_id: Given<String>,
    pub division: Given<String>,
    pub month: Given<String>,
    pub offence_category: Given<String>,
    pub finalised_total: Given<i64>,
}

pub fn validate_volume(d: VolumeDraft) -> Result<VolumeInput, Vec<FieldError>> {
    let mut errs = Errors::default();
    let force_id = known_force("force_id", d.force_id, Need::Required, &mut errs);
    let division = errs.text("division", d.division, (1, 128), Need::Optional);
    let month = errs.text("month", d.month, (1, 16), Need::Required);
    if let Some(m) = &month
        && !is_month(m)
    {
        errs.add(
            "month",
            FieldRule::MonthFormat,
            "must be a month as YYYY-MM",
        );
    }
    let offence_category = errs.choice(
        "offence_category",
        d.offence_category,
        &OFFENCE_CATEGORIES,
        Need::Required,
    );
    let finalised_total = errs.whole("finalised_total", d.finalised_total, Need::Required);
    if let Some(n) = finalised_total
        && !(0..=MAX_FINALISED_TOTAL).contains(&n)
    {
        errs.add(
            "finalised_total",
            FieldRule::OutOfRange,
            format!("must be between 0 and {MAX_FINALISED_TOTAL}"),
        );
    }
    errs.finish(|| VolumeInput {
        force_id: force_id.unwrap_or_default(),
        division,
        month: month.unwrap_or_default(),
        offence_category: offence_category.unwrap_or_default(),
        finalised_total: finalised_total.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        assert!(is_month("2026-10"));
        assert!(!is_month("2026-13"));
        assert!(!is_month("2026-1"));
        assert!(!is_month("26-10-01"));
    }

    #[test]
    fn totals_are_bounded_and_every_field_named() {
        let text = |s: &str| Given::Value(s.to_string());
        let bad = VolumeDraft {
            force_id: text("gotham"),
            division: Given::Null,
            month: text("October"),
            offence_category: text("theft"),
            finalised_total: Given::Value(-1),
        };
        let codes: Vec<_> = validate_volume(bad)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            codes,
            [
                ("force_id".into(), FieldRule::UnknownForce),
                ("month".into(), FieldRule::MonthFormat),
                ("offence_category".into(), FieldRule::NotOneOf),
                ("finalised_total".into(), FieldRule::OutOfRange)
            ]
        );
    }
}
