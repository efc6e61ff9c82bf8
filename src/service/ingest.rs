//! Posting closures, one or a batch: validation, force scoping, idempotency on
//! (force, `source_event_id`), and one `closure.created` event per new closure,
//! all written in one transaction. Concurrent requests share a transaction
//! (group commit), each keeping its own answers and its own events.

use crate::audit::{self, Action, Actor, Event};
use crate::auth::AuthUser;
use crate::auth::extractor::unauthorized;
use crate::auth::token::token_is_current;
use crate::db::closures::{self, ClosureRow};
use crate::db::group::{GroupOptions, GroupWriter};
use crate::db::now_micros;
use crate::db::trend_summary;
use crate::db::users;
use crate::db::{Conn, Db};
use crate::domain::authorize::{self, Resource, Verdict};
use crate::domain::closures::{ClosureDraft, review_flags, validate_closure};
use crate::domain::conflicts::Clash;
use crate::domain::is_known_force;
use crate::domain::signoff::{PROPOSER_FIELD, poster_may_propose};
use crate::domain::validation::FieldError;
use crate::domain::webhooks::EventType;
use crate::error::{AppError, AppResult};
use crate::service::Context;
use crate::service::closures::{Closure, closure_of};
use crate::service::permit::permit;
use crate::service::webhooks::{ClosureBody, Outbox, nudge_if_queued};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What became of one posted closure.
#[derive(Debug)]
pub enum Outcome {
    /// Stored now (201).
    Created(Box<Closure>),
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
/// The outcomes are in the order of `drafts` (each as its face read it).
pub async fn ingest(
    state: &Context,
    caller: &AuthUser,
    drafts: Vec<Result<ClosureDraft, Vec<FieldError>>>,
) -> AppResult<Vec<Outcome>> {
    let may = authorize::Action::PostClosures;
    permit(caller, may, Resource::Any)?;
    let who = super::permit::caller(caller);
    let now = chrono::Utc::now();
    let received_at = now_micros();
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(drafts.len());
    let mut candidates = Vec::new();
    let mut first_by_key: HashMap<String, usize> = HashMap::new();
    for (index, draft) in drafts.into_iter().enumerate() {
        let draft = match draft {
            Ok(draft) => draft,
            Err(errors) => {
                outcomes.push(Some(Outcome::Refused(AppError::Validation(errors))));
                continue;
            }
        };
        // An unknown force is a field error, reported with the others.
        if let Some(f) = draft.named_force().filter(|f| is_known_force(f))
            && let Verdict::Forbidden(rule) = authorize::authorize(&who, may, Resource::Force(f))
        {
            outcomes.push(Some(Outcome::Refused(AppError::Forbidden(rule))));
            continue;
        }
        // Separation of duties: an officer posting names itself as the proposer,
        // judged with every other field so that all failing fields come at once.
        let proposer_error = |proposer: &str| {
            poster_may_propose(caller.role, caller.officer_id.as_deref(), proposer).err()
        };
        let named_proposer = draft.named_proposer().map(str::to_owned);
        let parsed = match validate_closure(draft, now) {
            Err(mut errors) => {
                if !errors.iter().any(|e| e.field == PROPOSER_FIELD)
                    && let Some(e) = named_proposer.as_deref().and_then(proposer_error)
                {
                    errors.push(e);
                }
                Err(errors)
            }
            Ok(input) => match proposer_error(&input.proposed_by.officer_id) {
                Some(e) => Err(vec![e]),
                None => Ok(input),
            },
        };
        match parsed {
            Err(errors) => outcomes.push(Some(Outcome::Refused(AppError::Validation(errors)))),
            Ok(input) => {
                let flags = review_flags(&input);
                let hash = crate::audit::content::closure_hash(&input);
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

    let firsts: Vec<ClosureRow> = candidates
        .iter()
        .filter(|c| c.duplicate_of.is_none())
        .map(|c| c.row.clone())
        .collect();
    let weight = firsts.len();
    let job = StoreJob {
        user_id: caller.id.clone(),
        token_generation: caller.token_generation,
        rows: firsts,
        actor: caller.actor(),
        request_id: caller.request_id.clone(),
    };
    let Stored {
        inserted,
        before,
        queued,
    } = match state.ingest.submit(job, weight).await? {
        Ok(stored) => stored,
        Err(e) => {
            state.users.forget(&caller.id);
            return Err(e);
        }
    };
    nudge_if_queued(state, queued);

    let mut by_index: HashMap<usize, (String, String, bool)> = HashMap::new(); // id, hash, created now
    for cand in candidates {
        let outcome = match cand.duplicate_of {
            None if inserted.contains(&cand.row.id) => {
                by_index.insert(
                    cand.index,
                    (cand.row.id.clone(), cand.row.content_hash.clone(), true),
                );
                Outcome::Created(Box::new(closure_of(cand.row, Vec::new())))
            }
            None => match before.get(&cand.row.source_event_id) {
                Some((id, hash)) if *hash == cand.row.content_hash => {
                    by_index.insert(cand.index, (id.clone(), hash.clone(), false));
                    Outcome::Replayed(id.clone())
                }
                Some(_) => Outcome::Refused(reused()),
                None => Outcome::Refused(AppError::Conflict(
                    Clash::PostNotSettled,
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

/// The closures of one request that passed validation, to be stored with the
/// other requests' closures of the same group commit.
pub struct StoreJob {
    /// The caller, whose `active` flag and token generation are checked in the
    /// transaction.
    user_id: String,
    token_generation: i64,
    /// The first of each `source_event_id` in the request.
    rows: Vec<ClosureRow>,
    actor: Actor,
    request_id: String,
}

/// What storing one [`StoreJob`] found.
pub struct Stored {
    /// Ids of the rows stored now.
    inserted: HashSet<String>,
    /// For rows whose key was taken: `source_event_id` to the stored (id, hash).
    before: HashMap<String, (String, String)>,
    /// Webhook deliveries the group's transaction queued (for all its jobs).
    queued: usize,
}

/// The group-commit writer of posted closures.
pub type IngestWriter = GroupWriter<StoreJob, AppResult<Stored>>;

/// Starts the writer that stores posted closures, committing concurrent
/// requests together (see [`crate::db::group`]).
pub fn start_writer(
    db: &Db,
    opts: GroupOptions,
    body_of: ClosureBody,
) -> std::io::Result<IngestWriter> {
    GroupWriter::start(db.clone(), "ingest", opts, move |c, jobs| {
        store_group(c, jobs, body_of)
    })
}

/// Stores the closures of several requests in the caller's transaction: one
/// insert for all (a key taken earlier in the group counts as taken), a lookup
/// of the taken keys, and one `closure.created` event per stored closure,
/// recorded with the request that posted it, and its webhook deliveries.
fn store_group(
    c: &mut Conn,
    jobs: &[StoreJob],
    body_of: ClosureBody,
) -> AppResult<Vec<AppResult<Stored>>> {
    let ids: Vec<&str> = jobs.iter().map(|j| j.user_id.as_str()).collect();
    let tokens: HashMap<String, (bool, i64)> = users::token_states(c, &ids)?
        .into_iter()
        .map(|(id, active, generation)| (id, (active, generation)))
        .collect();
    let allowed: Vec<bool> = jobs
        .iter()
        .map(|j| {
            tokens.get(&j.user_id).is_some_and(|&(active, generation)| {
                token_is_current(active, generation, j.token_generation)
            })
        })
        .collect();
    let jobs_allowed = || {
        jobs.iter()
            .zip(&allowed)
            .filter(|(_, ok)| **ok)
            .map(|(j, _)| j)
    };
    let all: Vec<ClosureRow> = jobs_allowed()
        .flat_map(|j| j.rows.iter().cloned())
        .collect();
    let (inserted, summary) = closures::insert_rows(c, &all)?;
    let inserted: HashSet<String> = inserted.into_iter().collect();
    let mut taken: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for row in all.iter().filter(|r| !inserted.contains(&r.id)) {
        taken
            .entry(row.force_id.as_str())
            .or_default()
            .push(row.source_event_id.as_str());
    }
    let mut before: HashMap<(String, String), (String, String)> = HashMap::new();
    for (force, keys) in taken {
        for (sid, id, hash) in closures::stored_keys(c, force, &keys)? {
            before.insert((force.to_string(), sid), (id, hash));
        }
    }
    let events: Vec<Event> = jobs_allowed()
        .flat_map(|j| {
            j.rows
                .iter()
                .filter(|r| inserted.contains(&r.id))
                .map(move |r| {
                    Event::new(
                        Action::ClosureCreated,
                        &j.actor,
                        Some(&j.request_id),
                        created_details(r),
                    )
                    .closure(&r.id, &r.force_id)
                })
        })
        .collect();
    audit::append_all(c, &events)?;
    let queued = queue_created(c, &all, &inserted, body_of)?;
    // Last: the summary's rows are the ones every writer locks.
    trend_summary::apply(c, &summary)?;
    Ok(jobs
        .iter()
        .zip(allowed)
        .map(|(j, ok)| {
            if !ok {
                return Err(unauthorized(
                    "the user was deactivated or the token revoked",
                ));
            }
            Ok(Stored {
                inserted: j
                    .rows
                    .iter()
                    .filter(|r| inserted.contains(&r.id))
                    .map(|r| r.id.clone())
                    .collect(),
                before: j
                    .rows
                    .iter()
                    .filter_map(|r| {
                        let key = (r.force_id.clone(), r.source_event_id.clone());
                        before
                            .get(&key)
                            .map(|found| (r.source_event_id.clone(), found.clone()))
                    })
                    .collect(),
                queued,
            })
        })
        .collect())
}

/// Queues `closure.created` for the rows stored now, where a subscription
/// hears of it: how many deliveries.
fn queue_created(
    c: &mut Conn,
    rows: &[ClosureRow],
    inserted: &HashSet<String>,
    body_of: ClosureBody,
) -> AppResult<usize> {
    let created = || rows.iter().filter(|r| inserted.contains(&r.id));
    let mut forces: Vec<&str> = created().map(|r| r.force_id.as_str()).collect();
    forces.sort_unstable();
    forces.dedup();
    if forces.is_empty() {
        return Ok(0);
    }
    let mut outbox = Outbox::open(c, &forces, body_of)?;
    for row in created() {
        if outbox.wants(&row.force_id, EventType::ClosureCreated) {
            let closure = closure_of(row.clone(), Vec::new());
            outbox.add(EventType::ClosureCreated, &closure, row.received_at);
        }
    }
    outbox.close(c)
}

fn reused() -> AppError {
    AppError::Conflict(
        Clash::IdempotencyKeyReused,
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
