//! Closure bodies read and judged: the JSON a force posts, through
//! [`super::closure`] and the domain's rules.

use super::closure;
use crate::audit::content::closure_hash;
use crate::domain::closures::{ClosureInput, review_flags, validate_closure};
use crate::domain::validation::FieldRule;
use crate::domain::{FieldError, Rank};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

fn parse_closure(body: &Value, now: DateTime<Utc>) -> Result<ClosureInput, Vec<FieldError>> {
    validate_closure(closure(body)?, now)
}

fn sample() -> Value {
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
        closure_hash(&a),
        closure_hash(&parse_closure(&b, now()).unwrap())
    );
    b["rationale"] = json!("A different rationale of enough length.");
    assert_ne!(
        closure_hash(&a),
        closure_hash(&parse_closure(&b, now()).unwrap())
    );
}

#[test]
fn each_failure_carries_its_code() {
    let mut b = sample();
    b["outcome_code"] = json!(14);
    b["named_suspect"] = json!(false);
    b["crime_recorded_at"] = json!("yesterday");
    b["proposed_by"]["officer_id"] = json!(" 4471");
    b["evidence"]["references"] = json!(["ok", 5]);
    b["victim"]["ethnicity"] = json!("white british");
    b["division"] = json!(7);
    let codes: Vec<_> = parse_closure(&b, now())
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect();
    assert_eq!(
        codes,
        [
            ("division".to_string(), FieldRule::WrongType),
            ("outcome_code".into(), FieldRule::OutcomeNotAccepted),
            ("named_suspect".into(), FieldRule::NamedSuspectRequired),
            ("crime_recorded_at".into(), FieldRule::TimestampFormat),
            ("proposed_by.officer_id".into(), FieldRule::OfficerIdFormat),
            ("evidence.references[1]".into(), FieldRule::WrongType),
            ("victim.ethnicity".into(), FieldRule::ShortCode),
        ]
    );
    let e = parse_closure(&json!([1]), now()).unwrap_err();
    assert_eq!(
        (e[0].field.as_str(), e[0].code),
        ("body", FieldRule::WrongType)
    );
}
