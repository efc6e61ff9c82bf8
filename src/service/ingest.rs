//! Posting closures, one or a batch: validation, force scoping, idempotency on
//! (force, `source_event_id`), and one `closure.created` event per new closure,
//! all written in one transaction.

use crate::app::AppState;
use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::closures::{self, ClosureRow};
use crate::db::now_micros;
use crate::domain::access::may_post_closures;
use crate::domain::closures::{parse_closure, posted_force, review_flags};
use crate::domain::is_known_force;
use crate::error::{AppError, AppResult};
use serde_json::{Value, json};
use std::collections::HashMap;

pub const RULE_POST: &str = "closures are posted by force systems and officers of the force";
pub const RULE_OWN_FORCE: &str = "closures may be posted for the caller's own force only";

/// What became of one posted closure.
#[derive(Debug)]
pub enum Outcome {
    /// Stored now (201).
    Created(Box<ClosureRow>),
    /// The same content was stored before under this key (200); the stored id.
    Replayed(String),
    /// Refused: 403, 409 or 422.
    Refused(AppError),
}

/// A posted closure that passed validation, waiting to be stored.
struct Candidate {
    index: usize,
    row: ClosureRow,
    /// Index of an earlier item of the same batch with the same key.
    duplicate_of: Option<usize>,
}

/// Judges each body as the single endpoint would and stores the valid ones.
/// The outcomes are in the order of `bodies`.
pub async fn ingest(
    state: &AppState,
    caller: &AuthUser,
    bodies: Vec<Value>,
) -> AppResult<Vec<Outcome>> {
    if !may_post_closures(caller.role) {
        return Err(AppError::Forbidden(RULE_POST.into()));
    }
    let own_force = caller
        .force_id
        .clone()
        .ok_or_else(|| AppError::Forbidden(RULE_POST.into()))?;
    let now = chrono::Utc::now();
    let received_at = now_micros();
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(bodies.len());
    let mut candidates = Vec::new();
    let mut first_by_key: HashMap<String, usize> = HashMap::new();
    for (index, body) in bodies.iter().enumerate() {
        if let Some(f) = posted_force(body)
            && f != own_force
            && is_known_force(f)
        {
            outcomes.push(Some(Outcome::Refused(AppError::Forbidden(
                RULE_OWN_FORCE.into(),
            ))));
            continue;
        }
        match parse_closure(body, now) {
            Err(errors) => outcomes.push(Some(Outcome::Refused(AppError::Validation(errors)))),
            Ok(input) => {
                let flags = review_flags(&input);
                let hash = input.content_hash();
                let key = input.source_event_id.clone();
                let id = uuid::Uuid::now_v7().to_string();
                let row = ClosureRow::new(input, id, received_at, &caller.id, &flags, hash);
                let duplicate_of = first_by_key.get(&key).copied();
                if duplicate_of.is_none() {
                    first_by_key.insert(key, index);
                }
                candidates.push(Candidate {
                    index,
                    row,
                    duplicate_of,
                });
                outcomes.push(None);
            }
        }
    }
    if candidates.is_empty() {
        return Ok(outcomes.into_iter().map(|o| o.expect("decided")).collect());
    }

    let actor = caller.actor();
    let request_id = caller.request_id.clone();
    let firsts: Vec<ClosureRow> = candidates
        .iter()
        .filter(|c| c.duplicate_of.is_none())
        .map(|c| c.row.clone())
        .collect();
    let stored = state
        .db
        .write(move |c| {
            let inserted: std::collections::HashSet<String> =
                closures::insert_new(c, &firsts)?.into_iter().collect();
            let taken: Vec<&str> = firsts
                .iter()
                .filter(|r| !inserted.contains(&r.id))
                .map(|r| r.source_event_id.as_str())
                .collect();
            let before: HashMap<String, (String, String)> =
                closures::stored_keys(c, &own_force, &taken)?
                    .into_iter()
                    .map(|(sid, id, hash)| (sid, (id, hash)))
                    .collect();
            let details: Vec<Value> = firsts
                .iter()
                .filter(|r| inserted.contains(&r.id))
                .map(created_details)
                .collect();
            let created: Vec<&ClosureRow> =
                firsts.iter().filter(|r| inserted.contains(&r.id)).collect();
            let events: Vec<Event> = created
                .iter()
                .zip(details)
                .map(|(r, d)| {
                    Event::new(Action::ClosureCreated, &actor, Some(&request_id), d)
                        .closure(&r.id, &r.force_id)
                })
                .collect();
            audit::append_all(c, &events)?;
            Ok((inserted, before))
        })
        .await?;
    let (inserted, before) = stored;

    let mut by_index: HashMap<usize, (String, String, bool)> = HashMap::new(); // id, hash, created now
    for cand in candidates {
        let outcome = match cand.duplicate_of {
            None if inserted.contains(&cand.row.id) => {
                by_index.insert(
                    cand.index,
                    (cand.row.id.clone(), cand.row.content_hash.clone(), true),
                );
                Outcome::Created(Box::new(cand.row))
            }
            None => match before.get(&cand.row.source_event_id) {
                Some((id, hash)) if *hash == cand.row.content_hash => {
                    by_index.insert(cand.index, (id.clone(), hash.clone(), false));
                    Outcome::Replayed(id.clone())
                }
                Some(_) => Outcome::Refused(reused()),
                None => Outcome::Refused(AppError::Conflict(
                    "a concurrent post of this source_event_id did not settle; retry".into(),
                )),
            },
            Some(first) => match by_index.get(&first) {
                Some((id, hash, _)) if *hash == cand.row.content_hash => {
                    Outcome::Replayed(id.clone())
                }
                _ => Outcome::Refused(reused()),
            },
        };
        outcomes[cand.index] = Some(outcome);
    }
    Ok(outcomes.into_iter().map(|o| o.expect("decided")).collect())
}

fn reused() -> AppError {
    AppError::Conflict(
        "this source_event_id was already posted for this force with different content".into(),
    )
}

fn created_details(r: &ClosureRow) -> Value {
    json!({
        "source_event_id": r.source_event_id,
        "crime_reference": r.crime_reference,
        "offence_category": r.offence_category,
        "outcome_code": r.outcome_code,
        "proposed_by": {"officer_id": r.proposed_by_officer_id, "rank": r.proposed_by_rank},
        "status": r.status,
        "version": r.version,
        "review_flags": r.review_flags,
        "content_hash": r.content_hash,
    })
}
