//! Inspector sign-off (recommendation 5.2): the statuses of a closure, the
//! decisions on it (who may take them: [`super::authorize`]).

use super::closures::{CHECKLIST, RATIONALE_LEN};
use super::officers::same_officer;
use super::roles::Role;
use super::validation::{Errors, FieldError, FieldRule, Given, Need};
use serde::Serialize;

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
    /// Each item by its name, in [`CHECKLIST`] order.
    pub fn items(self) -> impl Iterator<Item = (&'static str, bool)> {
        CHECKLIST.into_iter().zip(self.0)
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

/// A decision as a client gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionDraft {
    pub decision: Given<String>,
    pub rationale: Given<String>,
    /// The checklist items, in [`CHECKLIST`] order.
    pub checklist: Given<[Given<bool>; 4]>,
    pub expected_version: Given<i64>,
}

/// A reopening as a client gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReopenDraft {
    pub reason: Given<String>,
    pub expected_version: Given<i64>,
}

fn expected_version(given: Given<i64>, errs: &mut Errors) -> Option<i64> {
    // Any whole number: one that is not the closure's version is a 409.
    errs.whole("expected_version", given, Need::Optional)
}

/// Checks a decision. Approval needs all four checklist items confirmed and a
/// rationale; rejection needs only the rationale (DOMAIN.md).
pub fn validate_decision(d: DecisionDraft) -> Result<DecisionInput, Vec<FieldError>> {
    let mut errs = Errors::default();
    let decision = match errs.text("decision", d.decision, (1, 16), Need::Required) {
        Some(s) => {
            let d = Decision::parse(&s);
            if d.is_none() {
                errs.add("decision", FieldRule::NotOneOf, "must be approve or reject");
            }
            d
        }
        None => None,
    };
    let rationale = errs.text("rationale", d.rationale, RATIONALE_LEN, Need::Required);
    let items = errs
        .object("checklist", d.checklist, Need::Optional)
        .unwrap_or_default();
    let mut checklist = Checklist::default();
    for (i, (item, given)) in CHECKLIST.iter().zip(items).enumerate() {
        let field = format!("checklist.{item}");
        let value = errs.flag(&field, given, Need::Optional);
        checklist.0[i] = value == Some(true);
        if decision == Some(Decision::Approve) && value != Some(true) && !errs.has(&field) {
            errs.add(
                field,
                FieldRule::ChecklistNotConfirmed,
                "must be confirmed (true) to approve",
            );
        }
    }
    let expected_version = expected_version(d.expected_version, &mut errs);
    errs.finish(|| DecisionInput {
        decision: decision.expect("checked"),
        rationale: rationale.unwrap_or_default(),
        checklist,
        expected_version,
    })
}

pub fn validate_reopen(d: ReopenDraft) -> Result<ReopenInput, Vec<FieldError>> {
    let mut errs = Errors::default();
    let reason = errs.text("reason", d.reason, RATIONALE_LEN, Need::Required);
    let expected_version = expected_version(d.expected_version, &mut errs);
    errs.finish(|| ReopenInput {
        reason: reason.unwrap_or_default(),
        expected_version,
    })
}

pub const RULE_POSTER_IS_PROPOSER: &str =
    "an officer who posts a closure must name itself as the proposer";

/// Separation of duties at posting: an officer who posts a closure names itself
/// as the proposer (`Err` names [`PROPOSER_FIELD`]). Other posters (a force's
/// records system) name the proposing officer.
pub fn poster_may_propose(
    poster_role: Role,
    poster_officer_id: Option<&str>,
    proposer_officer_id: &str,
) -> Result<(), FieldError> {
    if poster_role != Role::Officer {
        return Ok(());
    }
    let refuse = |message: String| {
        Err(FieldError::new(
            PROPOSER_FIELD,
            FieldRule::PosterNotProposer,
            message,
        ))
    };
    match poster_officer_id {
        Some(me) if same_officer(me, proposer_officer_id) => Ok(()),
        Some(me) => refuse(format!(
            "must be your own officer id ({me}): {RULE_POSTER_IS_PROPOSER}"
        )),
        None => refuse(RULE_POSTER_IS_PROPOSER.to_string()),
    }
}

/// The field separation of duties at posting speaks of.
pub const PROPOSER_FIELD: &str = "proposed_by.officer_id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_officer_who_posts_names_itself() {
        assert!(poster_may_propose(Role::Officer, Some("ab12"), "AB12").is_ok());
        let e = poster_may_propose(Role::Officer, Some("ab12"), "4471").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            (PROPOSER_FIELD, FieldRule::PosterNotProposer)
        );
        assert!(poster_may_propose(Role::Officer, None, "4471").is_err());
        assert!(poster_may_propose(Role::ForceSystem, None, "4471").is_ok());
    }

    #[test]
    fn approval_needs_every_checklist_item() {
        let confirmed = |b: [bool; 4]| Given::Value(b.map(Given::Value));
        let draft = DecisionDraft {
            decision: Given::Value("approve".into()),
            rationale: Given::Value("All evidence reviewed in full.".into()),
            checklist: confirmed([true, false, true, true]),
            expected_version: Given::Absent,
        };
        let e = validate_decision(draft.clone()).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "checklist.evidence_led_prosecution_considered");
        assert_eq!(e[0].code, FieldRule::ChecklistNotConfirmed);
        let reject = DecisionDraft {
            decision: Given::Value("reject".into()),
            checklist: Given::Absent,
            ..draft
        };
        let d = validate_decision(reject).unwrap();
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
