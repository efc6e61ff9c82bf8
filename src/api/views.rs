//! How closures and decisions are returned.

use crate::domain::time::rfc3339;
use crate::service::closures::{Closure, Decision};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProposedByView {
    pub officer_id: String,
    pub rank: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceView {
    pub victim_wishes_recorded: Option<bool>,
    pub evidence_led_prosecution_considered: Option<bool>,
    pub safeguarding_in_place: Option<bool>,
    pub victim_informed: Option<bool>,
    /// `standard`, `medium` or `high`.
    pub risk_level: Option<String>,
    pub references: Vec<String>,
}

/// The victim's characteristics as posted (absent ones are left out).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct VictimView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_band: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub religion_or_belief: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sexual_orientation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender_reassignment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marriage_or_civil_partnership: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pregnancy_or_maternity: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// `approve` or `reject`.
    pub decision: String,
    pub by_user_id: String,
    pub by_officer_id: String,
    /// The decider's rank at the moment of the decision.
    pub by_rank: String,
    pub rationale: String,
    /// The four checklist items as confirmed.
    #[schema(value_type = Object)]
    pub checklist: Value,
    pub decided_at: String,
}

impl From<&Decision> for DecisionView {
    fn from(d: &Decision) -> Self {
        DecisionView {
            decision: d.decision.clone(),
            by_user_id: d.by_user_id.clone(),
            by_officer_id: d.by_officer_id.clone(),
            by_rank: d.by_rank.clone(),
            rationale: d.rationale.clone(),
            checklist: serde_json::from_str(&d.checklist).unwrap_or(Value::Null),
            decided_at: rfc3339(d.decided_at),
        }
    }
}

/// A closure as returned: every field posted, and the service's own.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureView {
    pub id: String,
    pub source_event_id: String,
    pub force_id: String,
    pub division: Option<String>,
    pub crime_reference: String,
    pub offence_category: String,
    pub home_office_offence_code: Option<String>,
    pub domestic_abuse_flag: bool,
    pub outcome_code: i32,
    pub named_suspect: bool,
    pub crime_recorded_at: String,
    pub closure_proposed_at: String,
    pub proposed_by: ProposedByView,
    pub rationale: String,
    pub evidence: EvidenceView,
    pub victim: Option<VictimView>,
    /// `pending_signoff`, `signed_off`, `rejected` or `reopened`.
    pub status: String,
    /// The service's warnings for the reviewer, computed at ingest.
    pub review_flags: Vec<String>,
    pub received_at: String,
    /// Raised by every change of status.
    pub version: i64,
    pub decisions: Vec<DecisionView>,
}

impl From<&Closure> for ClosureView {
    fn from(c: &Closure) -> Self {
        let (r, decisions) = (&c.row, &c.decisions);
        let victim = VictimView {
            sex: r.victim_sex.clone(),
            age_band: r.victim_age_band.clone(),
            ethnicity: r.victim_ethnicity.clone(),
            disability: r.victim_disability.clone(),
            religion_or_belief: r.victim_religion_or_belief.clone(),
            sexual_orientation: r.victim_sexual_orientation.clone(),
            gender_reassignment: r.victim_gender_reassignment.clone(),
            marriage_or_civil_partnership: r.victim_marriage_or_civil_partnership.clone(),
            pregnancy_or_maternity: r.victim_pregnancy_or_maternity.clone(),
        };
        ClosureView {
            id: r.id.clone(),
            source_event_id: r.source_event_id.clone(),
            force_id: r.force_id.clone(),
            division: r.division.clone(),
            crime_reference: r.crime_reference.clone(),
            offence_category: r.offence_category.clone(),
            home_office_offence_code: r.home_office_offence_code.clone(),
            domestic_abuse_flag: r.domestic_abuse_flag,
            outcome_code: r.outcome_code,
            named_suspect: r.named_suspect,
            crime_recorded_at: rfc3339(r.crime_recorded_at),
            closure_proposed_at: rfc3339(r.closure_proposed_at),
            proposed_by: ProposedByView {
                officer_id: r.proposed_by_officer_id.clone(),
                rank: r.proposed_by_rank.clone(),
            },
            rationale: r.rationale.clone(),
            evidence: EvidenceView {
                victim_wishes_recorded: r.victim_wishes_recorded,
                evidence_led_prosecution_considered: r.evidence_led_prosecution_considered,
                safeguarding_in_place: r.safeguarding_in_place,
                victim_informed: r.victim_informed,
                risk_level: r.risk_level.clone(),
                references: serde_json::from_str(&r.evidence_references).unwrap_or_default(),
            },
            victim: r.victim().iter().any(Option::is_some).then_some(victim),
            status: r.status.clone(),
            review_flags: r
                .review_flags
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            received_at: rfc3339(r.received_at),
            version: r.version,
            decisions: decisions.iter().map(DecisionView::from).collect(),
        }
    }
}
