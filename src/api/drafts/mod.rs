//! Each request body of the API read into the domain's draft of it; the
//! domain's `validate_*` functions judge the drafts.

use super::body::Body;
use crate::domain::FieldError;
use crate::domain::closures::{
    CHECKLIST, ClosureDraft, EvidenceDraft, ProposedByDraft, VICTIM_FIELDS, VictimDraft,
};
use crate::domain::signoff::{DecisionDraft, ReopenDraft};
use crate::domain::users::{NewUserDraft, SignInDraft, UserPatchDraft};
use crate::domain::volumes::VolumeDraft;
use crate::domain::webhooks::SubscriptionDraft;
use serde_json::Value as Json;

#[cfg(test)]
mod closures_tests;
#[cfg(test)]
mod users_tests;

/// `POST /closures` (and each item of a batch).
pub fn closure(body: &Json) -> Result<ClosureDraft, Vec<FieldError>> {
    let b = Body::root(body)?;
    Ok(ClosureDraft {
        source_event_id: b.text("source_event_id"),
        force_id: b.text("force_id"),
        division: b.text("division"),
        crime_reference: b.text("crime_reference"),
        offence_category: b.text("offence_category"),
        home_office_offence_code: b.text("home_office_offence_code"),
        domestic_abuse_flag: b.flag("domestic_abuse_flag"),
        outcome_code: b.whole("outcome_code"),
        named_suspect: b.flag("named_suspect"),
        crime_recorded_at: b.text("crime_recorded_at"),
        closure_proposed_at: b.text("closure_proposed_at"),
        proposed_by: b.object("proposed_by", |p| ProposedByDraft {
            officer_id: p.text("officer_id"),
            rank: p.text("rank"),
        }),
        rationale: b.text("rationale"),
        evidence: b.object("evidence", |e| EvidenceDraft {
            items: e.flags(CHECKLIST),
            risk_level: e.text("risk_level"),
            references: e.texts("references"),
        }),
        victim: b.object("victim", |v| VictimDraft(VICTIM_FIELDS.map(|f| v.text(f)))),
    })
}

/// `POST /closures/{id}/decision`.
pub fn decision(body: &Json) -> Result<DecisionDraft, Vec<FieldError>> {
    let b = Body::root(body)?;
    Ok(DecisionDraft {
        decision: b.text("decision"),
        rationale: b.text("rationale"),
        checklist: b.object("checklist", |c| c.flags(CHECKLIST)),
        expected_version: b.whole("expected_version"),
    })
}

/// `POST /closures/{id}/reopen`.
pub fn reopen(body: &Json) -> Result<ReopenDraft, Vec<FieldError>> {
    let b = Body::root(body)?;
    Ok(ReopenDraft {
        reason: b.text("reason"),
        expected_version: b.whole("expected_version"),
    })
}

/// `POST /auth/login`.
pub fn sign_in(body: &Json) -> Result<SignInDraft, Vec<FieldError>> {
    let b = Body::root(body)?;
    Ok(SignInDraft {
        username: b.text("username"),
        password: b.text("password"),
    })
}

/// `POST /users`.
pub fn new_user(body: &Json) -> Result<NewUserDraft, Vec<FieldError>> {
    let b = Body::root(body)?;
    Ok(NewUserDraft {
        username: b.text("username"),
        password: b.text("password"),
        display_name: b.text("display_name"),
        role: b.text("role"),
        rank: b.text("rank"),
        officer_id: b.text("officer_id"),
        force_id: b.text("force_id"),
    })
}

/// `PATCH /users/{id}`.
pub fn user_patch(body: &Json) -> Result<UserPatchDraft, Vec<FieldError>> {
    let b = Body::root(body)?;
    Ok(UserPatchDraft {
        active: b.flag("active"),
        display_name: b.text("display_name"),
        password: b.text("password"),
        rank: b.text("rank"),
    })
}

/// `POST /volumes`.
pub fn volume(body: &Json) -> Result<VolumeDraft, Vec<FieldError>> {
    let b = Body::root(body)?;
    Ok(VolumeDraft {
        force_id: b.text("force_id"),
        division: b.text("division"),
        month: b.text("month"),
        offence_category: b.text("offence_category"),
        finalised_total: b.whole("finalised_total"),
    })
}

/// `POST /webhooks`.
pub fn subscription(body: &Json) -> Result<SubscriptionDraft, Vec<FieldError>> {
    let b = Body::root(body)?;
    Ok(SubscriptionDraft {
        url: b.text("url"),
        events: b.texts("events"),
    })
}
