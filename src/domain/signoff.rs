//! Inspector sign-off (recommendation 5.2): the statuses of a closure, the
//! decisions on it (who may take them: [`super::authorize`]).

use super::closures::{CHECKLIST, RATIONALE_LEN};
use super::officers::same_officer;
use super::roles::Role;
use super::validation::{Errors, FieldError, Fields};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    PendingSignoff,
    SignedOff,
    Rejected,
    Reopened,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::PendingSignoff,
        Status::SignedOff,
        Status::Rejected,
        Status::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingSignoff => "pending_signoff",
            Status::SignedOff => "signed_off",
            Status::Rejected => "rejected",
            Status::Reopened => "reopened",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Only a closure awaiting sign-off, or reopened, can be decided.
    pub const DECIDABLE: [Status; 2] = [Status::PendingSignoff, Status::Reopened];
    /// Only a decided closure can be reopened.
    pub const REOPENABLE: [Status; 2] = [Status::SignedOff, Status::Rejected];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
    /// The status a closure takes on this decision.
    pub fn outcome(self) -> Status {
        match self {
            Decision::Approve => Status::SignedOff,
            Decision::Reject => Status::Rejected,
        }
    }
}

/// The sign-off checklist as confirmed by the decider, in [`CHECKLIST`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checklist(pub [bool; 4]);

impl Checklist {
    pub fn to_json(self) -> Value {
        let mut m = serde_json::Map::new();
        for (name, v) in CHECKLIST.iter().zip(self.0) {
            m.insert((*name).to_string(), Value::Bool(v));
        }
        Value::Object(m)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInput {
    pub decision: Decision,
    pub rationale: String,
    pub checklist: Checklist,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReopenInput {
    pub reason: String,
    pub expected_version: Option<i64>,
}

fn expected_version(f: &Fields, errs: &mut Errors) -> Option<i64> {
    // Any whole number: one that is not the closure's version is a 409.
    f.optional_i64("expected_version", errs)
}

/// Reads a decision. Approval needs all four checklist items confirmed and a
/// rationale; rejection needs only the rationale (DOMAIN.md).
pub fn parse_decision(body: &Value) -> Result<DecisionInput, Vec<FieldError>> {
    let f = Fields::root(body)?;
    let mut errs = Errors::default();
    let decision = match f.required_str("decision", (1, 16), &mut errs) {
        Some(s) => {
            let d = Decision::parse(&s);
            if d.is_none() {
                errs.add("decision", "must be approve or reject");
            }
            d
        }
        None => None,
    };
    let rationale = f.required_str("rationale", RATIONALE_LEN, &mut errs);
    let path = f.path("checklist");
    let list = f.object("checklist", &path, &mut errs);
    let mut checklist = Checklist::default();
    for (i, item) in CHECKLIST.iter().enumerate() {
        let value = list.and_then(|l| l.optional_bool(item, &mut errs));
        checklist.0[i] = value == Some(true);
        if decision == Some(Decision::Approve)
            && value != Some(true)
            && !errs.has(&format!("checklist.{item}"))
        {
            errs.add(
                format!("checklist.{item}"),
                "must be confirmed (true) to approve",
            );
        }
    }
    let expected_version = expected_version(&f, &mut errs);
    errs.finish(|| DecisionInput {
        decision: decision.expect("checked"),
        rationale: rationale.unwrap_or_default(),
        checklist,
        expected_version,
    })
}

pub fn parse_reopen(body: &Value) -> Result<ReopenInput, Vec<FieldError>> {
    let f = Fields::root(body)?;
    let mut errs = Errors::default();
    let reason = f.required_str("reason", RATIONALE_LEN, &mut errs);
    let expected_version = expected_version(&f, &mut errs);
    errs.finish(|| ReopenInput {
        reason: reason.unwrap_or_default(),
        expected_version,
    })
}

pub const RULE_POSTER_IS_PROPOSER: &str =
    "an officer who posts a closure must name itself as the proposer";

/// Separation of duties at posting: an officer who posts a closure names itself
/// as the proposer (`Err` with the rule, for `proposed_by.officer_id`). Other
/// posters (a force's records system) name the proposing officer.
pub fn poster_may_propose(
    poster_role: Role,
    poster_officer_id: Option<&str>,
    proposer_officer_id: &str,
) -> Result<(), String> {
    if poster_role != Role::Officer {
        return Ok(());
    }
    match poster_officer_id {
        Some(me) if same_officer(me, proposer_officer_id) => Ok(()),
        Some(me) => Err(format!(
            "must be your own officer id ({me}): {RULE_POSTER_IS_PROPOSER}"
        )),
        None => Err(RULE_POSTER_IS_PROPOSER.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_officer_who_posts_names_itself() {
        assert!(poster_may_propose(Role::Officer, Some("ab12"), "AB12").is_ok());
        assert!(poster_may_propose(Role::Officer, Some("ab12"), "4471").is_err());
        assert!(poster_may_propose(Role::Officer, None, "4471").is_err());
        assert!(poster_may_propose(Role::ForceSystem, None, "4471").is_ok());
    }

    #[test]
    fn approval_needs_every_checklist_item() {
        let body = json!({"decision": "approve", "rationale": "All evidence reviewed in full.",
                          "checklist": {"victim_wishes_recorded": true, "evidence_led_prosecution_considered": false,
                                        "safeguarding_in_place": true}});
        let fields: Vec<_> = parse_decision(&body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "checklist.evidence_led_prosecution_considered",
                "checklist.victim_informed"
            ]
        );
        let reject =
            json!({"decision": "reject", "rationale": "Further enquiries are needed first."});
        let d = parse_decision(&reject).unwrap();
        assert_eq!(d.decision.outcome(), Status::Rejected);
        assert_eq!(d.checklist, Checklist([false; 4]));
    }

    #[test]
    fn statuses() {
        assert_eq!(
            Status::DECIDABLE,
            [Status::PendingSignoff, Status::Reopened]
        );
        assert_eq!(Status::REOPENABLE, [Status::SignedOff, Status::Rejected]);
        assert!(
            Status::ALL
                .iter()
                .all(|s| Status::DECIDABLE.contains(s) != Status::REOPENABLE.contains(s))
        );
    }
}
