//! A range of whole months, as exports and reports are asked for them.

use crate::domain::volumes::is_month;
use crate::error::{AppError, AppResult};
use chrono::{Datelike, NaiveDate};

/// A range of whole months: `from` and `to` are `YYYY-MM`, both inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Months {
    pub from: String,
    pub to: String,
}

impl Months {
    /// 400 for a month that cannot be read, 422 when `to` is before `from`.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> AppResult<Months> {
        let read = |name: &str, v: Option<&str>, default: &str| -> AppResult<String> {
            match v {
                None => Ok(default.to_string()),
                Some(s) if is_month(s) => Ok(s.to_string()),
                Some(s) => Err(AppError::BadRequest(format!(
                    "{name} must be a month as YYYY-MM, not {s:?}"
                ))),
            }
        };
        let m = Months {
            from: read("from", from, "1970-01")?,
            to: read("to", to, "9999-12")?,
        };
        if m.to < m.from {
            return Err(AppError::field(
                "to",
                crate::domain::validation::FieldRule::RangeReversed,
                "must not be before from",
            ));
        }
        Ok(m)
    }

    /// The first instant of `from` and of the month after `to`, in microseconds.
    pub fn micros(&self) -> (i64, i64) {
        let start =
            |m: &str| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").expect("checked");
        let from = start(&self.from);
        let to = start(&self.to);
        let after = if to.month() == 12 {
            NaiveDate::from_ymd_opt(to.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(to.year(), to.month() + 1, 1)
        }
        .expect("a month");
        let us = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc()
                .timestamp_micros()
        };
        (us(from), us(after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_ranges() {
        let m = Months::parse(Some("2026-11"), Some("2026-12")).unwrap();
        let (a, b) = m.micros();
        assert_eq!(
            chrono::DateTime::from_timestamp_micros(a)
                .unwrap()
                .to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            chrono::DateTime::from_timestamp_micros(b)
                .unwrap()
                .to_rfc3339(),
            "2027-01-01T00:00:00+00:00"
        );
        assert!(matches!(
            Months::parse(Some("2026-13"), None),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            Months::parse(Some("2026-11"), Some("2026-10")),
            Err(AppError::Validation(_))
        ));
    }
}
