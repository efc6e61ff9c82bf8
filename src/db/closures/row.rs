//! A closure's row, and the closure as posted rebuilt from it.

use crate::db::schema::closures;
use crate::domain::Rank;
use crate::domain::closures::{ClosureInput, Evidence, ProposedBy, Victim};
use crate::domain::signoff::Status;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = closures)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ClosureRow {
    pub id: String,
    pub force_id: String,
    pub source_event_id: String,
    pub division: Option<String>,
    pub crime_reference: String,
    pub offence_category: String,
    pub home_office_offence_code: Option<String>,
    pub domestic_abuse_flag: bool,
    pub outcome_code: i32,
    pub named_suspect: bool,
    pub crime_recorded_at: i64,
    pub closure_proposed_at: i64,
    pub proposed_by_officer_id: String,
    pub proposed_by_rank: String,
    pub rationale: String,
    pub victim_wishes_recorded: Option<bool>,
    pub evidence_led_prosecution_considered: Option<bool>,
    pub safeguarding_in_place: Option<bool>,
    pub victim_informed: Option<bool>,
    pub risk_level: Option<String>,
    pub evidence_references: String,
    pub victim_sex: Option<String>,
    pub victim_age_band: Option<String>,
    pub victim_ethnicity: Option<String>,
    pub victim_disability: Option<String>,
    pub victim_religion_or_belief: Option<String>,
    pub victim_sexual_orientation: Option<String>,
    pub victim_gender_reassignment: Option<String>,
    pub victim_marriage_or_civil_partnership: Option<String>,
    pub victim_pregnancy_or_maternity: Option<String>,
    pub review_flags: String,
    pub content_hash: String,
    pub status: String,
    pub version: i64,
    pub received_at: i64,
    pub received_by_user_id: String,
    pub decision: Option<String>,
    pub decided_by_user_id: Option<String>,
    pub decided_by_officer_id: Option<String>,
    pub decided_by_rank: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_rationale: Option<String>,
}

impl ClosureRow {
    /// A new closure, pending sign-off, from a checked input.
    pub fn new(
        c: ClosureInput,
        id: String,
        received_at: i64,
        by_user_id: &str,
        flags: &[&str],
        hash: String,
    ) -> Self {
        let [sex, age, eth, dis, rel, orient, gender, marriage, preg] = c.victim.0;
        ClosureRow {
            id,
            force_id: c.force_id,
            source_event_id: c.source_event_id,
            division: c.division,
            crime_reference: c.crime_reference,
            offence_category: c.offence_category,
            home_office_offence_code: c.home_office_offence_code,
            domestic_abuse_flag: c.domestic_abuse_flag,
            outcome_code: c.outcome_code as i32,
            named_suspect: c.named_suspect,
            crime_recorded_at: c.crime_recorded_at,
            closure_proposed_at: c.closure_proposed_at,
            proposed_by_officer_id: c.proposed_by.officer_id,
            proposed_by_rank: c.proposed_by.rank.as_str().to_string(),
            rationale: c.rationale,
            victim_wishes_recorded: c.evidence.victim_wishes_recorded,
            evidence_led_prosecution_considered: c.evidence.evidence_led_prosecution_considered,
            safeguarding_in_place: c.evidence.safeguarding_in_place,
            victim_informed: c.evidence.victim_informed,
            risk_level: c.evidence.risk_level,
            evidence_references: serde_json::to_string(&c.evidence.references)
                .unwrap_or_else(|_| "[]".into()),
            victim_sex: sex,
            victim_age_band: age,
            victim_ethnicity: eth,
            victim_disability: dis,
            victim_religion_or_belief: rel,
            victim_sexual_orientation: orient,
            victim_gender_reassignment: gender,
            victim_marriage_or_civil_partnership: marriage,
            victim_pregnancy_or_maternity: preg,
            review_flags: flags.join(";"),
            content_hash: hash,
            status: Status::PendingSignoff.as_str().to_string(),
            version: 1,
            received_at,
            received_by_user_id: by_user_id.to_string(),
            decision: None,
            decided_by_user_id: None,
            decided_by_officer_id: None,
            decided_by_rank: None,
            decided_at: None,
            decision_rationale: None,
        }
    }

    /// The closure as it was posted, rebuilt from the row: what `content_hash`
    /// covers, so verification can recompute it. `None` when a stored value is
    /// not one the service ever writes (an unknown rank, references that are
    /// not a JSON list), which is itself a sign of tampering.
    pub fn input(&self) -> Option<ClosureInput> {
        Some(ClosureInput {
            source_event_id: self.source_event_id.clone(),
            force_id: self.force_id.clone(),
            division: self.division.clone(),
            crime_reference: self.crime_reference.clone(),
            offence_category: self.offence_category.clone(),
            home_office_offence_code: self.home_office_offence_code.clone(),
            domestic_abuse_flag: self.domestic_abuse_flag,
            outcome_code: self.outcome_code.into(),
            named_suspect: self.named_suspect,
            crime_recorded_at: self.crime_recorded_at,
            closure_proposed_at: self.closure_proposed_at,
            proposed_by: ProposedBy {
                officer_id: self.proposed_by_officer_id.clone(),
                rank: Rank::parse(&self.proposed_by_rank)?,
            },
            rationale: self.rationale.clone(),
            evidence: Evidence {
                victim_wishes_recorded: self.victim_wishes_recorded,
                evidence_led_prosecution_considered: self.evidence_led_prosecution_considered,
                safeguarding_in_place: self.safeguarding_in_place,
                victim_informed: self.victim_informed,
                risk_level: self.risk_level.clone(),
                references: serde_json::from_str(&self.evidence_references).ok()?,
            },
            victim: Victim(self.victim().map(|v| v.map(str::to_owned))),
        })
    }

    pub fn victim(&self) -> [Option<&str>; 9] {
        [
            self.victim_sex.as_deref(),
            self.victim_age_band.as_deref(),
            self.victim_ethnicity.as_deref(),
            self.victim_disability.as_deref(),
            self.victim_religion_or_belief.as_deref(),
            self.victim_sexual_orientation.as_deref(),
            self.victim_gender_reassignment.as_deref(),
            self.victim_marriage_or_civil_partnership.as_deref(),
            self.victim_pregnancy_or_maternity.as_deref(),
        ]
    }
}
