//! Filters as a face received them (query strings, command-line flags), read
//! into the domain's [`ClosureFilter`]: written once for the closure list, the
//! closures export and the offline export.

use crate::domain::closures::OFFENCE_CATEGORIES;
use crate::domain::filters::ClosureFilter;
use crate::domain::signoff::Status;
use crate::domain::{FieldError, FieldRule, is_known_force};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, NaiveDate, NaiveTime};

/// The closure filters, as text.
#[derive(Debug, Clone, Default)]
pub struct ClosureParams {
    pub status: Option<String>,
    pub force_id: Option<String>,
    pub division: Option<String>,
    pub outcome_code: Option<i32>,
    pub offence_category: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Reads the filters: 422 naming each unknown value, 400 for a time that is
/// neither an RFC 3339 timestamp nor a date.
pub fn closure_filter(q: &ClosureParams) -> AppResult<ClosureFilter> {
    let mut errors = Vec::new();
    if let Some(s) = &q.status
        && Status::parse(s).is_none()
    {
        errors.push(FieldError::new(
            "status",
            FieldRule::NotOneOf,
            "must be pending_signoff, signed_off, rejected or reopened",
        ));
    }
    if let Some(c) = &q.offence_category
        && !OFFENCE_CATEGORIES.contains(&c.as_str())
    {
        errors.push(FieldError::new(
            "offence_category",
            FieldRule::NotOneOf,
            "is not a VAWG offence category",
        ));
    }
    if let Some(f) = &q.force_id
        && !is_known_force(f)
    {
        errors.push(FieldError::new(
            "force_id",
            FieldRule::UnknownForce,
            "is not a known force",
        ));
    }
    let from = q
        .from
        .as_deref()
        .map(|s| parse_instant("from", s))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|s| parse_instant("to", s))
            .transpose()?;
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(ClosureFilter {
        force_id: q.force_id.clone(),
        status: q.status.clone(),
        division: q.division.clone(),
        outcome_code: q.outcome_code,
        offence_category: q.offence_category.clone(),
        from,
        to,
    })
}

/// A list's time filter: an RFC 3339 timestamp or a date (midnight UTC), as
/// microseconds since the epoch; 400 otherwise.
pub fn parse_instant(name: &str, s: &str) -> AppResult<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc().timestamp_micros());
    }
    Err(AppError::BadRequest(format!(
        "{name} must be an RFC 3339 timestamp or a date (YYYY-MM-DD), not {s:?}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        assert_eq!(parse_instant("from", "1970-01-02").unwrap(), 86_400_000_000);
        assert_eq!(
            parse_instant("from", "1970-01-01T00:00:01Z").unwrap(),
            1_000_000
        );
        assert!(parse_instant("from", "yesterday").is_err());
    }

    #[test]
    fn unknown_values_are_named() {
        let q = ClosureParams {
            status: Some("closed".into()),
            force_id: Some("atlantis".into()),
            ..Default::default()
        };
        match closure_filter(&q) {
            Err(AppError::Validation(errs)) => {
                let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["status", "force_id"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
