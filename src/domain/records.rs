//! Closures and decisions as stored, as the faces show them. Every value is as
//! the service wrote it (text where the record holds text), so that a record
//! edited outside the service still reads, and shows what it holds; the audit
//! log's verification is what tells whether it was edited.

use super::closures::{Evidence, Victim};

/// A closure as stored, with every decision taken on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClosure {
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
    /// Microseconds since the epoch.
    pub crime_recorded_at: i64,
    pub closure_proposed_at: i64,
    pub proposed_by_officer_id: String,
    /// A rank's name (DOMAIN.md).
    pub proposed_by_rank: String,
    pub rationale: String,
    pub evidence: Evidence,
    pub victim: Victim,
    /// A status's name (`pending_signoff`, …).
    pub status: String,
    /// The service's warnings for the reviewer, computed at ingest.
    pub review_flags: Vec<String>,
    pub received_at: i64,
    pub received_by_user_id: String,
    /// Raised by every change of status.
    pub version: i64,
    /// Oldest first.
    pub decisions: Vec<StoredDecision>,
}

/// One decision as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    /// `approve` or `reject`.
    pub decision: String,
    pub by_user_id: String,
    pub by_officer_id: String,
    /// The decider's rank at the moment of the decision.
    pub by_rank: String,
    pub rationale: String,
    /// The checklist items as confirmed, by name, in the order stored.
    pub checklist: Vec<(String, bool)>,
    pub decided_at: i64,
}
