//! What exports and reports share: who may have them, the months they cover,
//! and the events each download leaves: `export.downloaded` before its first
//! byte, `export.completed` when it ends.

use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::Db;
use crate::domain::Role;
use crate::domain::access::{Scope, closure_scope};
use crate::domain::volumes::is_month;
use crate::error::{AppError, AppResult};
use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

pub const RULE_EXPORTS: &str = "exports and reports are for auditors";

/// The auditor's scope; 403 for anyone else.
pub fn auditor_scope(caller: &AuthUser) -> AppResult<Scope> {
    caller.require(&[Role::Auditor], RULE_EXPORTS)?;
    closure_scope(caller.role, caller.force_id.as_deref())
        .map_err(|rule| AppError::Forbidden(rule.into()))
}

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
            return Err(AppError::field("to", "must not be before from"));
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

/// A download on the record: its `export.downloaded` event is committed, and
/// [`Download::finish`] follows it with `export.completed` when it ends.
pub struct Download {
    db: Db,
    caller: AuthUser,
    export: &'static str,
    /// The `seq` of the `export.downloaded` event.
    pub seq: i64,
}

/// Commits the `export.downloaded` event (the export's name and `filters`)
/// before anything of the export is sent, so that a download cut off by a
/// crash is still on the record. An error here (503 when the database is
/// unavailable) is answered instead of the data.
pub async fn start_download(
    db: &Db,
    caller: &AuthUser,
    export: &'static str,
    filters: Value,
) -> AppResult<Download> {
    let (db, caller) = (db.clone(), caller.clone());
    crate::db::blocking(move || {
        let seq = db.write_blocking(|c| {
            let actor = caller.actor();
            let details = json!({"export": export, "filters": filters});
            let ev = Event::new(
                Action::ExportDownloaded,
                &actor,
                Some(&caller.request_id),
                details,
            )
            .force(caller.force_id.as_deref());
            audit::append(c, ev)
        })?;
        Ok(Download {
            db,
            caller,
            export,
            seq,
        })
    })
    .await
}

impl Download {
    /// Records how the download ended (blocking: call it off the async
    /// workers): `rows` data rows written, `completed` false when the client
    /// went away or the export failed part way. The data has gone out by
    /// now, so a failure to record this is logged, not answered; the
    /// `export.downloaded` event stands either way.
    pub fn finish(self, rows: u64, completed: bool) {
        let actor = self.caller.actor();
        let details = json!({"export": self.export, "rows": rows, "completed": completed,
                             "downloaded_seq": self.seq});
        let res = self.db.write_blocking(|c| {
            let ev = Event::new(
                Action::ExportCompleted,
                &actor,
                Some(&self.caller.request_id),
                details,
            )
            .force(self.caller.force_id.as_deref());
            audit::append(c, ev).map(|_| ())
        });
        if let Err(e) = res {
            tracing::error!(error = %e, export = self.export, downloaded_seq = self.seq,
                            rows, completed, "could not record the end of a download");
        }
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
