//! The columns of `closures.csv` (API.md, "Exports") and one closure as a record.

use crate::db::closures::ClosureRow;
use crate::db::rfc3339;

pub const COLUMNS: [&str; 33] = [
    "id",
    "force_id",
    "division",
    "crime_reference",
    "source_event_id",
    "offence_category",
    "home_office_offence_code",
    "domestic_abuse_flag",
    "outcome_code",
    "crime_recorded_at",
    "closure_proposed_at",
    "received_at",
    "proposed_by_officer_id",
    "proposed_by_rank",
    "status",
    "decision",
    "decided_by_officer_id",
    "decided_by_rank",
    "decided_at",
    "hours_to_decision",
    "rationale",
    "decision_rationale",
    "review_flags",
    "risk_level",
    "victim_sex",
    "victim_age_band",
    "victim_ethnicity",
    "victim_disability",
    "victim_religion_or_belief",
    "victim_sexual_orientation",
    "victim_gender_reassignment",
    "victim_marriage_or_civil_partnership",
    "victim_pregnancy_or_maternity",
];

/// One closure in [`COLUMNS`] order; the decision columns hold the latest
/// decision, hours to decision run from `received_at` to it.
pub fn record(r: &ClosureRow) -> Vec<String> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut cells = vec![
        r.id.clone(),
        r.force_id.clone(),
        o(&r.division),
        r.crime_reference.clone(),
        r.source_event_id.clone(),
        r.offence_category.clone(),
        o(&r.home_office_offence_code),
        r.domestic_abuse_flag.to_string(),
        r.outcome_code.to_string(),
        rfc3339(r.crime_recorded_at),
        rfc3339(r.closure_proposed_at),
        rfc3339(r.received_at),
        r.proposed_by_officer_id.clone(),
        r.proposed_by_rank.clone(),
        r.status.clone(),
        o(&r.decision),
        o(&r.decided_by_officer_id),
        o(&r.decided_by_rank),
        r.decided_at.map(rfc3339).unwrap_or_default(),
        r.decided_at
            .map(|d| super::trends::fmt2((d - r.received_at) as f64 / 3.6e9))
            .unwrap_or_default(),
        r.rationale.clone(),
        o(&r.decision_rationale),
        r.review_flags.clone(),
        o(&r.risk_level),
    ];
    cells.extend(r.victim().iter().map(|v| v.unwrap_or_default().to_string()));
    cells
}
