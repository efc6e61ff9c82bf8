//! A closure's row, described once (the struct, and the column arrays of
//! PostgreSQL's insert), and the closure as posted rebuilt from it.

use crate::db::described::described_row;
use crate::db::schema::closures;
use crate::domain::Rank;
use crate::domain::closures::{ClosureInput, Evidence, ProposedBy, Victim};
use crate::domain::signoff::Status;
use crate::domain::trends::TrendFacts;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};

described_row! {
    table closures;
    #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
    #[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
    pub struct ClosureRow {
        id: Text => String,
        force_id: Text => String,
        source_event_id: Text => String,
        division: Nullable<Text> => Option<String>,
        crime_reference: Text => String,
        offence_category: Text => String,
        home_office_offence_code: Nullable<Text> => Option<String>,
        domestic_abuse_flag: Bool => bool,
        outcome_code: Integer => i32,
        named_suspect: Bool => bool,
        crime_recorded_at: BigInt => i64,
        closure_proposed_at: BigInt => i64,
        proposed_by_officer_id: Text => String,
        proposed_by_rank: Text => String,
        rationale: Text => String,
        victim_wishes_recorded: Nullable<Bool> => Option<bool>,
        evidence_led_prosecution_considered: Nullable<Bool> => Option<bool>,
        safeguarding_in_place: Nullable<Bool> => Option<bool>,
        victim_informed: Nullable<Bool> => Option<bool>,
        risk_level: Nullable<Text> => Option<String>,
        evidence_references: Text => String,
        victim_sex: Nullable<Text> => Option<String>,
        victim_age_band: Nullable<Text> => Option<String>,
        victim_ethnicity: Nullable<Text> => Option<String>,
        victim_disability: Nullable<Text> => Option<String>,
        victim_religion_or_belief: Nullable<Text> => Option<String>,
        victim_sexual_orientation: Nullable<Text> => Option<String>,
        victim_gender_reassignment: Nullable<Text> => Option<String>,
        victim_marriage_or_civil_partnership: Nullable<Text> => Option<String>,
        victim_pregnancy_or_maternity: Nullable<Text> => Option<String>,
        review_flags: Text => String,
        content_hash: Text => String,
        status: Text => String,
        version: BigInt => i64,
        received_at: BigInt => i64,
        received_by_user_id: Text => String,
        decision: Nullable<Text> => Option<String>,
        decided_by_user_id: Nullable<Text> => Option<String>,
        decided_by_officer_id: Nullable<Text> => Option<String>,
        decided_by_rank: Nullable<Text> => Option<String>,
        decided_at: Nullable<BigInt> => Option<i64>,
        decision_rationale: Nullable<Text> => Option<String>,
    }
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

    /// What a trend table counts of this closure.
    pub fn trend_facts(&self) -> TrendFacts {
        TrendFacts {
            closure_proposed_at: self.closure_proposed_at,
            force_id: self.force_id.clone(),
            outcome_code: self.outcome_code,
            status: self.status.clone(),
            flagged: !self.review_flags.is_empty(),
            received_at: self.received_at,
            decided_at: self.decided_at,
        }
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
