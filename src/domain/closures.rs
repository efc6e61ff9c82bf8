//! A closure: one proposal to close one crime under outcome 15 or 16
//! (DOMAIN.md; API.md, "Closures"): what a checked closure holds and the
//! review flags the service raises for the reviewer. How a posted closure is
//! checked: [`super::closure_posting`].

use super::ranks::Rank;
use serde::Serialize;

/// The outcome types this service accepts (Home Office Counting Rules).
pub const ACCEPTED_OUTCOMES: [i64; 2] = [15, 16];

/// VAWG offence categories in scope (DOMAIN.md).
pub const OFFENCE_CATEGORIES: [&str; 12] = [
    "domestic_abuse",
    "rape",
    "other_sexual_offence",
    "stalking",
    "harassment",
    "controlling_or_coercive_behaviour",
    "honour_based_abuse",
    "female_genital_mutilation",
    "forced_marriage",
    "intimate_image_abuse",
    "non_fatal_strangulation",
    "other_vawg",
];

pub const RISK_LEVELS: [&str; 3] = ["standard", "medium", "high"];

pub const AGE_BANDS: [&str; 8] = [
    "under-18",
    "18-24",
    "25-34",
    "35-44",
    "45-54",
    "55-64",
    "65+",
    "not_stated",
];

/// The victim's protected characteristics, each optional (Equality Act 2010).
pub const VICTIM_FIELDS: [&str; 9] = [
    "sex",
    "age_band",
    "ethnicity",
    "disability",
    "religion_or_belief",
    "sexual_orientation",
    "gender_reassignment",
    "marriage_or_civil_partnership",
    "pregnancy_or_maternity",
];

/// The four items of the sign-off checklist, in DOMAIN.md's order.
pub const CHECKLIST: [&str; 4] = [
    "victim_wishes_recorded",
    "evidence_led_prosecution_considered",
    "safeguarding_in_place",
    "victim_informed",
];

pub const RATIONALE_LEN: (usize, usize) = (20, 10_000);
pub const MAX_REFERENCES: usize = 50;
/// Clock skew allowed on `closure_proposed_at`.
pub const FUTURE_SKEW_SECONDS: i64 = 300;
/// A closure proposed less than this long after recording is flagged.
pub const QUICK_CLOSURE_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposedBy {
    pub officer_id: String,
    pub rank: Rank,
}

/// What the force posted about the evidence; `None` where an item is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub victim_wishes_recorded: Option<bool>,
    pub evidence_led_prosecution_considered: Option<bool>,
    pub safeguarding_in_place: Option<bool>,
    pub victim_informed: Option<bool>,
    pub risk_level: Option<String>,
    pub references: Vec<String>,
}

impl Evidence {
    pub fn item(&self, name: &str) -> Option<bool> {
        match name {
            "victim_wishes_recorded" => self.victim_wishes_recorded,
            "evidence_led_prosecution_considered" => self.evidence_led_prosecution_considered,
            "safeguarding_in_place" => self.safeguarding_in_place,
            "victim_informed" => self.victim_informed,
            _ => None,
        }
    }
}

/// The victim's characteristics, in the order of [`VICTIM_FIELDS`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Victim(pub [Option<String>; 9]);

impl Victim {
    pub fn get(&self, field: &str) -> Option<&str> {
        VICTIM_FIELDS
            .iter()
            .position(|f| *f == field)
            .and_then(|i| self.0[i].as_deref())
    }
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// A posted closure, checked and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClosureInput {
    pub source_event_id: String,
    pub force_id: String,
    pub division: Option<String>,
    pub crime_reference: String,
    pub offence_category: String,
    pub home_office_offence_code: Option<String>,
    pub domestic_abuse_flag: bool,
    pub outcome_code: i64,
    pub named_suspect: bool,
    /// Microseconds since the epoch.
    pub crime_recorded_at: i64,
    pub closure_proposed_at: i64,
    pub proposed_by: ProposedBy,
    pub rationale: String,
    pub evidence: Evidence,
    pub victim: Victim,
}

/// The service's own warnings for the reviewer, computed at ingest.
pub fn review_flags(c: &ClosureInput) -> Vec<&'static str> {
    let mut flags = Vec::new();
    let missing = |v: Option<bool>| v != Some(true);
    if missing(c.evidence.victim_wishes_recorded) {
        flags.push("victim_wishes_not_recorded");
    }
    if missing(c.evidence.evidence_led_prosecution_considered) {
        flags.push("evidence_led_prosecution_not_considered");
    }
    if missing(c.evidence.safeguarding_in_place) {
        flags.push("safeguarding_not_in_place");
    }
    if missing(c.evidence.victim_informed) {
        flags.push("victim_not_informed");
    }
    if c.evidence.risk_level.as_deref() == Some("high") {
        flags.push("high_risk");
    }
    // Saturating: an input built in code may hold any two instants.
    if c.closure_proposed_at.saturating_sub(c.crime_recorded_at)
        < QUICK_CLOSURE_DAYS * 86_400 * 1_000_000
    {
        flags.push("closed_within_7_days");
    }
    if c.evidence.references.is_empty() {
        flags.push("no_evidence_references");
    }
    flags
}

pub use super::closure_posting::{
    ClosureDraft, EvidenceDraft, ProposedByDraft, VictimDraft, validate_closure,
};
