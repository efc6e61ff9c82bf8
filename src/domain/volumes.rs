//! Monthly totals of VAWG crimes finalised: the denominators of rates.

use super::closures::OFFENCE_CATEGORIES;
use super::forces::is_known_force;
use super::validation::{Errors, FieldError, Fields};
use chrono::NaiveDate;
use serde_json::Value;

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

pub fn parse_volume(body: &Value) -> Result<VolumeInput, Vec<FieldError>> {
    let f = Fields::root(body)?;
    let mut errs = Errors::default();
    let force_id = f.required_str("force_id", (1, 64), &mut errs);
    if let Some(id) = &force_id
        && !is_known_force(id)
    {
        errs.add("force_id", "is not a known force (see GET /api/v1/forces)");
    }
    let division = f.optional_str("division", (1, 128), &mut errs);
    let month = f.required_str("month", (1, 16), &mut errs);
    if let Some(m) = &month
        && !is_month(m)
    {
        errs.add("month", "must be a month as YYYY-MM");
    }
    let offence_category = f.required_str("offence_category", (1, 64), &mut errs);
    if let Some(c) = &offence_category
        && !OFFENCE_CATEGORIES.contains(&c.as_str())
    {
        errs.add(
            "offence_category",
            format!("must be one of: {}", OFFENCE_CATEGORIES.join(", ")),
        );
    }
    let finalised_total = f.required_i64("finalised_total", &mut errs);
    if let Some(n) = finalised_total
        && !(0..=MAX_FINALISED_TOTAL).contains(&n)
    {
        errs.add(
            "finalised_total",
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
    use serde_json::json;

    #[test]
    fn months() {
        assert!(is_month("2026-10"));
        assert!(!is_month("2026-13"));
        assert!(!is_month("2026-1"));
        assert!(!is_month("26-10-01"));
    }

    #[test]
    fn rules() {
        let ok = json!({"force_id": "kent", "month": "2026-10", "offence_category": "rape", "finalised_total": 120});
        assert_eq!(parse_volume(&ok).unwrap().division, None);
        let bad = json!({"force_id": "gotham", "month": "October", "offence_category": "theft", "finalised_total": -1});
        let fields: Vec<_> = parse_volume(&bad)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect();
        assert_eq!(
            fields.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
            ["force_id", "month", "offence_category", "finalised_total"]
        );
        assert_eq!(fields[1].1, "must be a month as YYYY-MM");
    }
}
