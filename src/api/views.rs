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
        let checklist = d
            .checklist
            .iter()
            .map(|(name, v)| (name.clone(), Value::Bool(*v)))
            .collect();
        DecisionView {
            decision: d.decision.clone(),
            by_user_id: d.by_user_id.clone(),
            by_officer_id: d.by_officer_id.clone(),
            by_rank: d.by_rank.clone(),
            rationale: d.rationale.clone(),
            checklist: Value::Object(checklist),
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
        let v = |field| c.victim.get(field).map(str::to_owned);
        let victim = VictimView {
            sex: v("sex"),
            age_band: v("age_band"),
            ethnicity: v("ethnicity"),
            disability: v("disability"),
            religion_or_belief: v("religion_or_belief"),
            sexual_orientation: v("sexual_orientation"),
            gender_reassignment: v("gender_reassignment"),
            marriage_or_civil_partnership: v("marriage_or_civil_partnership"),
            pregnancy_or_maternity: v("pregnancy_or_maternity"),
        };
        let e = &c.evidence;
        ClosureView {
            id: c.id.clone(),
            source_event_id: c.source_event_id.clone(),
            force_id: c.force_id.clone(),
            division: c.division.clone(),
            crime_reference: c.crime_reference.clone(),
            offence_category: c.offence_category.clone(),
            home_office_offence_code: c.home_office_offence_code.clone(),
            domestic_abuse_flag: c.domestic_abuse_flag,
            outcome_code: c.outcome_code,
            named_suspect: c.named_suspect,
            crime_recorded_at: rfc3339(c.crime_recorded_at),
            closure_proposed_at: rfc3339(c.closure_proposed_at),
            proposed_by: ProposedByView {
                officer_id: c.proposed_by_officer_id.clone(),
                rank: c.proposed_by_rank.clone(),
            },
            rationale: c.rationale.clone(),
            evidence: EvidenceView {
                victim_wishes_recorded: e.victim_wishes_recorded,
                evidence_led_prosecution_considered: e.evidence_led_prosecution_considered,
                safeguarding_in_place: e.safeguarding_in_place,
                victim_informed: e.victim_informed,
                risk_level: e.risk_level.clone(),
                references: e.references.clone(),
            },
            victim: (!c.victim.is_empty()).then_some(victim),
            status: c.status.clone(),
            review_flags: c.review_flags.clone(),
            received_at: rfc3339(c.received_at),
            version: c.version,
            decisions: c.decisions.iter().map(DecisionView::from).collect(),
        }
    }
}

/// A closure as JSON, as the API returns it: the `data` of a webhook's body.
pub fn closure_json(c: &Closure) -> serde_json::Value {
    serde_json::to_value(ClosureView::from(c)).unwrap_or_default()
}
