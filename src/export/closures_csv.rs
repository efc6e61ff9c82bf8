//! The columns of `closures.csv` (API.md, "Exports") and one closure as a record.

use crate::db::closures::CsvRow;
use crate::db::rfc3339;
use std::borrow::Cow;

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
pub fn record<'a>(r: &CsvRow<'a>) -> Vec<Cow<'a, str>> {
    let o = |v: Option<&'a str>| Cow::Borrowed(v.unwrap_or_default());
    let b = Cow::Borrowed;
    let mut cells = vec![
        b(r.id),
        b(r.force_id),
        o(r.division),
        b(r.crime_reference),
        b(r.source_event_id),
        b(r.offence_category),
        o(r.home_office_offence_code),
        b(if r.domestic_abuse_flag {
            "true"
        } else {
            "false"
        }),
        r.outcome_code.to_string().into(),
        rfc3339(r.crime_recorded_at).into(),
        rfc3339(r.closure_proposed_at).into(),
        rfc3339(r.received_at).into(),
        b(r.proposed_by_officer_id),
        b(r.proposed_by_rank),
        b(r.status),
        o(r.decision),
        o(r.decided_by_officer_id),
        o(r.decided_by_rank),
        r.decided_at.map(rfc3339).unwrap_or_default().into(),
        r.decided_at
            .map(|d| super::trends::fmt2((d - r.received_at) as f64 / 3.6e9))
            .unwrap_or_default()
            .into(),
        b(r.rationale),
        o(r.decision_rationale),
        b(r.review_flags),
        o(r.risk_level),
    ];
    cells.extend(r.victim.map(o));
    cells
}
