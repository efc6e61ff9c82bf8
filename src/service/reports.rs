//! The outlier report: closures per unit against its finalised total, on the
//! funnel plot around the overall proportion.

use crate::auth::AuthUser;
use crate::db::closures::{self, ClosureFilter};
use crate::db::volumes;
use crate::domain::closures::OFFENCE_CATEGORIES;
use crate::domain::stats::FunnelPoint;
use crate::domain::{FieldError, FieldRule};
use crate::error::{AppError, AppResult};
use crate::export::months::Months;
use crate::export::outliers::{Level, Units};
use crate::service::Context;
use crate::service::exports::{Download, auditor_scope, start_download};
use serde_json::json;

/// What an outlier report asks for.
#[derive(Debug, Clone)]
pub struct OutlierRequest {
    pub months: Months,
    pub level: Level,
    pub offence_category: Option<String>,
    pub outcome_code: Option<i32>,
}

impl OutlierRequest {
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        level: Option<&str>,
        category: Option<&str>,
        outcome: Option<i32>,
    ) -> AppResult<Self> {
        let months = Months::parse(from, to)?;
        let mut errors = Vec::new();
        let level = Level::parse(level);
        if level.is_none() {
            errors.push(FieldError::new(
                "level",
                FieldRule::NotOneOf,
                "must be force or division",
            ));
        }
        if let Some(c) = category
            && !OFFENCE_CATEGORIES.contains(&c)
        {
            errors.push(FieldError::new(
                "offence_category",
                FieldRule::NotOneOf,
                "is not a VAWG offence category",
            ));
        }
        if let Some(o) = outcome
            && o != 15
            && o != 16
        {
            errors.push(FieldError::new(
                "outcome_code",
                FieldRule::OutcomeNotAccepted,
                "must be 15 or 16",
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(OutlierRequest {
            months,
            level: level.expect("checked"),
            offence_category: category.map(str::to_owned),
            outcome_code: outcome,
        })
    }

    /// The report's title, naming the period and filters.
    pub fn title(&self) -> String {
        let mut t = format!(
            "Closures under outcomes 15/16 per crime finalised, by {}, {} to {}",
            match self.level {
                Level::Force => "force",
                Level::Division => "division",
            },
            self.months.from,
            self.months.to
        );
        if let Some(c) = &self.offence_category {
            t.push_str(&format!(", {c}"));
        }
        if let Some(o) = self.outcome_code {
            t.push_str(&format!(", outcome {o} only"));
        }
        t
    }
}

/// Computes the report within the caller's scope, and puts its download on the
/// record (`export.downloaded` committed before anything is answered; the
/// caller finishes the returned [`Download`] when the response ends).
pub async fn outliers(
    state: &Context,
    caller: &AuthUser,
    req: OutlierRequest,
    format: &'static str,
) -> AppResult<(Option<f64>, Vec<FunnelPoint>, Download)> {
    let scope = auditor_scope(caller)?;
    let force = match scope {
        crate::domain::access::Scope::All => None,
        crate::domain::access::Scope::Force(f) => Some(f),
    };
    let (from, to) = req.months.micros();
    let filter = ClosureFilter {
        force_id: force.clone(),
        offence_category: req.offence_category.clone(),
        outcome_code: req.outcome_code,
        from: Some(from),
        to: Some(to),
        ..Default::default()
    };
    let filters = json!({"from": req.months.from, "to": req.months.to, "level": format!("{:?}", req.level).to_lowercase(),
                         "offence_category": req.offence_category, "outcome_code": req.outcome_code});
    let db = state.db.clone();
    let (p0, points) = crate::db::blocking(move || {
        let mut units = Units::new(req.level);
        closures::for_each(&db, &filter, |r| {
            units.add(r);
            true
        })?;
        let vols = db.read_blocking(|c| {
            volumes::in_range(
                c,
                &req.months.from,
                &req.months.to,
                force.as_deref(),
                None,
                req.offence_category.as_deref(),
            )
        })?;
        Ok(units.finish(&vols))
    })
    .await?;
    let download = start_download(&state.db, caller, format, filters).await?;
    Ok((p0, points, download))
}
