//! The documented shapes of the closure bodies, for the OpenAPI document only:
//! bodies are read field by field by [`super::drafts`], so that every failing
//! field is reported at once.

use super::schemas;
use crate::domain::Rank;
use serde::Deserialize;
use utoipa::ToSchema;

/// The body of `POST /closures` (see API.md "Closures"; checked field by field,
/// every failing field reported at once; unknown fields are ignored).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ClosureRequest {
    /// 1 to 128 characters; the idempotency key, unique within a force.
    #[schema(min_length = 1, max_length = 128)]
    source_event_id: String,
    /// The caller's own force.
    #[schema(schema_with = schemas::force_id)]
    force_id: String,
    #[schema(min_length = 1, max_length = 128)]
    division: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    crime_reference: String,
    #[schema(schema_with = schemas::offence_category)]
    offence_category: String,
    #[schema(min_length = 1, max_length = 16)]
    home_office_offence_code: Option<String>,
    domestic_abuse_flag: bool,
    /// 15 or 16.
    #[schema(minimum = 15, maximum = 16)]
    outcome_code: i32,
    #[schema(schema_with = schemas::must_be_true)]
    named_suspect: bool,
    /// RFC 3339.
    #[schema(format = DateTime)]
    crime_recorded_at: String,
    /// Not before `crime_recorded_at`; not in the future (5 minutes of skew allowed).
    #[schema(format = DateTime)]
    closure_proposed_at: String,
    proposed_by: ProposedByRequest,
    /// 20 to 10,000 characters.
    #[schema(min_length = 20, max_length = 10000)]
    rationale: String,
    evidence: EvidenceRequest,
    victim: Option<VictimRequest>,
}

/// Who proposed the closure.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProposedByRequest {
    #[schema(min_length = 1, max_length = 32)]
    officer_id: String,
    /// A `detective_` prefix is accepted and dropped.
    rank: Rank,
}

/// What the force records about the evidence; every item is optional (an
/// absent or false item raises a review flag).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct EvidenceRequest {
    victim_wishes_recorded: Option<bool>,
    evidence_led_prosecution_considered: Option<bool>,
    safeguarding_in_place: Option<bool>,
    victim_informed: Option<bool>,
    #[schema(schema_with = schemas::risk_level)]
    risk_level: Option<String>,
    /// At most 50, each 1 to 128 characters.
    #[schema(max_items = 50)]
    references: Option<Vec<String>>,
}

/// The victim's characteristics, each optional: a short code or `not_stated`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct VictimRequest {
    #[schema(schema_with = schemas::short_code)]
    sex: Option<String>,
    #[schema(schema_with = schemas::age_band)]
    age_band: Option<String>,
    #[schema(schema_with = schemas::short_code)]
    ethnicity: Option<String>,
    #[schema(schema_with = schemas::short_code)]
    disability: Option<String>,
    #[schema(schema_with = schemas::short_code)]
    religion_or_belief: Option<String>,
    #[schema(schema_with = schemas::short_code)]
    sexual_orientation: Option<String>,
    #[schema(schema_with = schemas::short_code)]
    gender_reassignment: Option<String>,
    #[schema(schema_with = schemas::short_code)]
    marriage_or_civil_partnership: Option<String>,
    #[schema(schema_with = schemas::short_code)]
    pregnancy_or_maternity: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct BatchRequest {
    /// Up to 1,000 closures, each judged as `POST /closures` would.
    #[schema(max_items = 1000)]
    closures: Vec<ClosureRequest>,
}
