//! A closure: one proposal to close one crime under outcome 15 or 16
//! (DOMAIN.md; API.md, "Closures"). Validation of a posted closure and the
//! review flags the service raises for the reviewer.

use super::forces::is_known_force;
use super::officers::{OFFICER_ID_LEN, officer_id_problem};
use super::ranks::Rank;
use super::validation::{Errors, FieldError, Fields};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

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

impl ClosureInput {
    /// SHA-256 (hex) of the normalised content: two posts of one
    /// `source_event_id` are the same closure exactly when these match.
    pub fn content_hash(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("serialisable");
        hex::encode(Sha256::digest(&bytes))
    }
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

/// A short code (`white_british`, `25-34`, `not_stated`): what the victim
/// characteristics hold.
fn short_code(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-+.".contains(&b))
}

fn timestamp(f: &Fields, key: &str, errs: &mut Errors) -> Option<i64> {
    let s = f.required_str(key, (1, 64), errs)?;
    match DateTime::parse_from_rfc3339(&s) {
        Ok(t) => Some(t.timestamp_micros()),
        Err(_) => {
            errs.add(
                f.path(key),
                "must be an RFC 3339 timestamp, e.g. 2026-11-20T10:00:00Z",
            );
            None
        }
    }
}

fn one_of(
    f: &Fields,
    key: &str,
    allowed: &[&str],
    required: bool,
    errs: &mut Errors,
) -> Option<String> {
    let v = if required {
        f.required_str(key, (1, 64), errs)
    } else {
        f.optional_str(key, (1, 64), errs)
    }?;
    if allowed.contains(&v.as_str()) {
        Some(v)
    } else {
        errs.add(
            f.path(key),
            format!("must be one of: {}", allowed.join(", ")),
        );
        None
    }
}

/// Reads and checks a posted closure against every rule of the contract,
/// reporting every failing field at once. `now` bounds `closure_proposed_at`.
pub fn parse_closure(body: &Value, now: DateTime<Utc>) -> Result<ClosureInput, Vec<FieldError>> {
    let f = Fields::root(body)?;
    let mut errs = Errors::default();
    let source_event_id = f.required_str("source_event_id", (1, 128), &mut errs);
    let force_id = f.required_str("force_id", (1, 64), &mut errs);
    if let Some(id) = &force_id
        && !is_known_force(id)
    {
        errs.add("force_id", "is not a known force (see GET /api/v1/forces)");
    }
    let division = f.optional_str("division", (1, 128), &mut errs);
    let crime_reference = f.required_str("crime_reference", (1, 64), &mut errs);
    let offence_category = one_of(&f, "offence_category", &OFFENCE_CATEGORIES, true, &mut errs);
    let home_office_offence_code = f.optional_str("home_office_offence_code", (1, 16), &mut errs);
    let domestic_abuse_flag = f.required_bool("domestic_abuse_flag", &mut errs);
    let outcome_code = f.required_i64("outcome_code", &mut errs);
    if let Some(code) = outcome_code
        && !ACCEPTED_OUTCOMES.contains(&code)
    {
        errs.add(
            "outcome_code",
            "must be 15 or 16: this service accepts only outcome types 15 and 16",
        );
    }
    let named_suspect = f.required_bool("named_suspect", &mut errs);
    if named_suspect == Some(false) {
        errs.add(
            "named_suspect",
            "must be true: outcomes 15 and 16 need a named suspect (without one the outcome is 14 or 18)",
        );
    }
    let crime_recorded_at = timestamp(&f, "crime_recorded_at", &mut errs);
    let closure_proposed_at = timestamp(&f, "closure_proposed_at", &mut errs);
    if let (Some(rec), Some(prop)) = (crime_recorded_at, closure_proposed_at)
        && prop < rec
    {
        errs.add(
            "closure_proposed_at",
            "must not be before crime_recorded_at",
        );
    }
    if let Some(prop) = closure_proposed_at
        && prop > now.timestamp_micros() + FUTURE_SKEW_SECONDS * 1_000_000
    {
        errs.add("closure_proposed_at", "must not be in the future");
    }

    let proposed_by = {
        let path = f.path("proposed_by");
        match f.object("proposed_by", &path, &mut errs) {
            Some(p) => {
                let mut officer_id = p.required_str("officer_id", OFFICER_ID_LEN, &mut errs);
                if let Some(problem) = officer_id.as_deref().and_then(officer_id_problem) {
                    errs.add(p.path("officer_id"), problem);
                    officer_id = None;
                }
                let rank = match p.get("rank") {
                    None => {
                        errs.add(p.path("rank"), "is required");
                        None
                    }
                    Some(v) => {
                        let r = v.as_str().and_then(Rank::parse);
                        if r.is_none() {
                            errs.add(p.path("rank"), format!("must be one of: {}", Rank::names()));
                        }
                        r
                    }
                };
                officer_id
                    .zip(rank)
                    .map(|(officer_id, rank)| ProposedBy { officer_id, rank })
            }
            None => {
                if !errs.has("proposed_by") {
                    errs.add("proposed_by", "is required");
                }
                None
            }
        }
    };
    let rationale = f.required_str("rationale", RATIONALE_LEN, &mut errs);

    let evidence = {
        let path = f.path("evidence");
        match f.object("evidence", &path, &mut errs) {
            Some(e) => {
                let mut ev = Evidence {
                    victim_wishes_recorded: e.optional_bool("victim_wishes_recorded", &mut errs),
                    evidence_led_prosecution_considered: e
                        .optional_bool("evidence_led_prosecution_considered", &mut errs),
                    safeguarding_in_place: e.optional_bool("safeguarding_in_place", &mut errs),
                    victim_informed: e.optional_bool("victim_informed", &mut errs),
                    risk_level: one_of(&e, "risk_level", &RISK_LEVELS, false, &mut errs),
                    references: Vec::new(),
                };
                ev.references = e
                    .optional_str_array("references", MAX_REFERENCES, (1, 128), &mut errs)
                    .unwrap_or_default();
                Some(ev)
            }
            None => {
                if !errs.has("evidence") {
                    errs.add("evidence", "is required");
                }
                None
            }
        }
    };

    let victim = {
        let path = f.path("victim");
        let mut victim = Victim::default();
        if let Some(v) = f.object("victim", &path, &mut errs) {
            for (i, field) in VICTIM_FIELDS.iter().enumerate() {
                let value = if *field == "age_band" {
                    one_of(&v, field, &AGE_BANDS, false, &mut errs)
                } else {
                    let s = v.optional_str(field, (1, 64), &mut errs);
                    match s {
                        Some(s) if !short_code(&s) => {
                            errs.add(
                                v.path(field),
                                "must be a short code (letters, digits, _ - + .) or not_stated",
                            );
                            None
                        }
                        other => other,
                    }
                };
                victim.0[i] = value;
            }
        }
        victim
    };

    errs.finish(|| ClosureInput {
        source_event_id: source_event_id.unwrap_or_default(),
        force_id: force_id.unwrap_or_default(),
        division,
        crime_reference: crime_reference.unwrap_or_default(),
        offence_category: offence_category.unwrap_or_default(),
        home_office_offence_code,
        domestic_abuse_flag: domestic_abuse_flag.unwrap_or_default(),
        outcome_code: outcome_code.unwrap_or_default(),
        named_suspect: named_suspect.unwrap_or_default(),
        crime_recorded_at: crime_recorded_at.unwrap_or_default(),
        closure_proposed_at: closure_proposed_at.unwrap_or_default(),
        proposed_by: proposed_by.expect("checked"),
        rationale: rationale.unwrap_or_default(),
        evidence: evidence.expect("checked"),
        victim,
    })
}

/// The `force_id` a body names, if it is a string: read before validation so
/// that posting for another force is a 403 whatever else is wrong.
pub fn posted_force(body: &Value) -> Option<&str> {
    body.get("force_id").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn sample() -> Value {
        json!({
            "source_event_id": "NICHE-000123-CL1",
            "force_id": "bedfordshire",
            "division": "North",
            "crime_reference": "BD/12345/26",
            "offence_category": "domestic_abuse",
            "home_office_offence_code": "8N",
            "domestic_abuse_flag": true,
            "outcome_code": 16,
            "named_suspect": true,
            "crime_recorded_at": "2026-10-02T21:14:00Z",
            "closure_proposed_at": "2026-11-20T10:00:00Z",
            "proposed_by": {"officer_id": "4471", "rank": "constable"},
            "rationale": "Victim withdrew support on 18/11 after safeguarding visit.",
            "evidence": {
                "victim_wishes_recorded": true,
                "evidence_led_prosecution_considered": true,
                "safeguarding_in_place": true,
                "victim_informed": false,
                "risk_level": "medium",
                "references": ["BWV-2026-88812", "999-CALL-5521"]
            },
            "victim": {"sex": "female", "age_band": "25-34", "ethnicity": "white_british", "disability": "not_stated"}
        })
    }

    fn now() -> DateTime<Utc> {
        "2026-11-28T09:00:00Z".parse().unwrap()
    }

    fn fields(body: &Value) -> Vec<String> {
        parse_closure(body, now())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn the_contract_example_is_valid() {
        let c = parse_closure(&sample(), now()).unwrap();
        assert_eq!(c.outcome_code, 16);
        assert_eq!(c.proposed_by.rank, Rank::Constable);
        assert_eq!(c.victim.get("age_band"), Some("25-34"));
        assert_eq!(review_flags(&c), ["victim_not_informed"]);
    }

    #[test]
    fn every_rule_is_reported_at_once() {
        let mut b = sample();
        b["outcome_code"] = json!(14);
        b["named_suspect"] = json!(false);
        b["offence_category"] = json!("burglary");
        b["closure_proposed_at"] = json!("2026-10-01T00:00:00Z");
        b["rationale"] = json!("too short");
        b["proposed_by"]["rank"] = json!("general");
        b["evidence"]["risk_level"] = json!("extreme");
        b["evidence"]["references"] = json!(vec!["x"; 51]);
        b["victim"]["age_band"] = json!("20-30");
        b["force_id"] = json!("gotham");
        assert_eq!(
            fields(&b),
            [
                "force_id",
                "offence_category",
                "outcome_code",
                "named_suspect",
                "closure_proposed_at",
                "proposed_by.rank",
                "rationale",
                "evidence.risk_level",
                "evidence.references",
                "victim.age_band"
            ]
        );
    }

    #[test]
    fn future_proposals_are_refused_beyond_five_minutes() {
        let mut b = sample();
        b["closure_proposed_at"] = json!("2026-11-28T09:04:00Z");
        assert!(parse_closure(&b, now()).is_ok());
        b["closure_proposed_at"] = json!("2026-11-28T09:06:00Z");
        assert_eq!(fields(&b), ["closure_proposed_at"]);
    }

    #[test]
    fn required_fields() {
        assert_eq!(
            fields(&json!({})),
            [
                "source_event_id",
                "force_id",
                "crime_reference",
                "offence_category",
                "domestic_abuse_flag",
                "outcome_code",
                "named_suspect",
                "crime_recorded_at",
                "closure_proposed_at",
                "proposed_by",
                "rationale",
                "evidence"
            ]
        );
    }

    #[test]
    fn flags_for_missing_evidence_high_risk_and_quick_closure() {
        let mut b = sample();
        b["evidence"] = json!({"risk_level": "high"});
        b["crime_recorded_at"] = json!("2026-11-15T10:00:00Z");
        let c = parse_closure(&b, now()).unwrap();
        assert_eq!(
            review_flags(&c),
            [
                "victim_wishes_not_recorded",
                "evidence_led_prosecution_not_considered",
                "safeguarding_not_in_place",
                "victim_not_informed",
                "high_risk",
                "closed_within_7_days",
                "no_evidence_references"
            ]
        );
    }

    #[test]
    fn content_hash_tells_replays_from_changes() {
        let a = parse_closure(&sample(), now()).unwrap();
        let mut b = sample();
        b["extra_field_ignored"] = json!(1);
        assert_eq!(
            a.content_hash(),
            parse_closure(&b, now()).unwrap().content_hash()
        );
        b["rationale"] = json!("A different rationale of enough length.");
        assert_ne!(
            a.content_hash(),
            parse_closure(&b, now()).unwrap().content_hash()
        );
    }
}
