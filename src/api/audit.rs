//! `/api/v1/audit`: reading the audit log.

use super::params::{Page, decode_cursor, page_limit, paginate, parse_instant};
use super::problems::{self as p, PROBLEM_JSON};
use crate::audit::log::CheckpointView;
use crate::audit::merkle::to_hex;
use crate::audit::verify::{Entry, Report};
use crate::auth::AuthUser;
use crate::domain::time::rfc3339;
use crate::error::{AppError, AppResult, Problem};
use crate::service::Context;
use crate::service::audit::{self as service, EventSearch};
use crate::service::witnesses;
use actix_web::{get, web};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// The most events one page holds.
pub const EVENTS_PAGE_MAX: u32 = 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct EventActor {
    user_id: Option<String>,
    username: Option<String>,
    role: Option<String>,
    rank: Option<String>,
    force_id: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    seq: i64,
    /// Position in the Merkle tree, once the sequencer has integrated the event.
    leaf_index: Option<i64>,
    at: String,
    /// A dotted name: `closure.created`, `auth.login_failed`, …
    action: String,
    actor: EventActor,
    closure_id: Option<String>,
    force_id: Option<String>,
    request_id: Option<String>,
    details: Value,
}

impl EventView {
    pub fn new(entry: &Entry) -> Option<Self> {
        let e = entry.event.as_ref()?;
        Some(EventView {
            seq: entry.seq,
            leaf_index: entry.leaf_index,
            at: rfc3339(e.at),
            action: e.action.clone(),
            actor: EventActor {
                user_id: e.actor_user_id.clone(),
                username: e.actor_username.clone(),
                role: e.actor_role.clone(),
                rank: e.actor_rank.clone(),
                force_id: e.actor_force_id.clone(),
            },
            closure_id: e.closure_id.clone(),
            force_id: e.force_id.clone(),
            request_id: e.request_id.clone(),
            details: e.details.clone(),
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventQuery {
    pub closure_id: Option<String>,
    /// The acting user's id.
    pub actor_id: Option<String>,
    pub action: Option<String>,
    /// Inclusive: RFC 3339 timestamp or date.
    pub from: Option<String>,
    /// Exclusive: RFC 3339 timestamp or date.
    pub to: Option<String>,
    /// Only events after this `seq`.
    pub after_seq: Option<i64>,
    /// Page length, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    items: Vec<EventView>,
    next_cursor: Option<String>,
}

/// The search these parameters ask for: 400 for a cursor this service did not
/// issue or an instant that cannot be read.
pub fn event_search(q: &EventQuery) -> AppResult<EventSearch> {
    let cursor_seq = match q.cursor.as_deref().map(decode_cursor).transpose()? {
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            AppError::BadRequest("the cursor is not one this service issued".into())
        })?),
        None => None,
    };
    Ok(EventSearch {
        closure_id: q.closure_id.clone(),
        actor_id: q.actor_id.clone(),
        action: q.action.clone(),
        from: q
            .from
            .as_deref()
            .map(|s| parse_instant("from", s))
            .transpose()?,
        to: q
            .to
            .as_deref()
            .map(|s| parse_instant("to", s))
            .transpose()?,
        after_seq: q.after_seq.max(cursor_seq),
    })
}

/// Audit events, oldest first (ascending `seq`). Tailing: a client that asks
/// again and again with `after_seq=<last seq it saw>` receives every event
/// exactly once, even while others write (an event is listed only once every
/// lower `seq` is committed or abandoned).
#[utoipa::path(
    tag = "audit",
    params(EventQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/audit/events")]
pub async fn list_events(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<EventQuery>,
) -> AppResult<web::Json<Page<EventView>>> {
    let search = event_search(&q);
    let limit = page_limit(q.limit, state.settings.page_limit_default, EVENTS_PAGE_MAX);
    let entries = service::events(&state, &caller, search, limit.clone().map(|n| n + 1)).await?;
    let limit = limit?;
    let page = paginate(entries, limit, |e| e.seq.to_string(), EventView::new);
    Ok(web::Json(Page {
        items: page.items.into_iter().flatten().collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A witness's cosignature of a checkpoint (C2SP tlog-cosignature v1, Ed25519).
#[derive(Debug, Serialize, ToSchema)]
pub struct CosignatureView {
    /// The cosigner's key name.
    witness: String,
    /// Hex C2SP key id (of a cosignature key, type 0x04).
    key_id: String,
    /// When the witness co-signed (RFC 3339, whole seconds: the signed message's `time`).
    timestamp: String,
    /// Base64 of the raw 64-byte Ed25519 signature of `cosignature/v1\ntime <POSIX seconds>\n` and the checkpoint's body.
    signature: String,
}

/// The latest checkpoint, with what the witnesses said of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WitnessedCheckpoint {
    #[serde(flatten)]
    checkpoint: CheckpointView,
    /// Every cosignature received for this checkpoint.
    cosignatures: Vec<CosignatureView>,
    /// Whether they make the witness policy's quorum (true when no policy asks for any).
    quorum_met: bool,
}

/// The latest signed checkpoint of the log.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, body = WitnessedCheckpoint),
        (status = 401, response = p::Unauthorized),
        (status = 404, description = "No checkpoint has been signed yet", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/audit/checkpoint")]
pub async fn checkpoint(
    state: web::Data<Context>,
    caller: AuthUser,
) -> AppResult<web::Json<WitnessedCheckpoint>> {
    let w = witnesses::checkpoint(&state, &caller).await?;
    Ok(web::Json(WitnessedCheckpoint {
        checkpoint: w.checkpoint,
        cosignatures: w
            .cosignatures
            .into_iter()
            .map(|c| CosignatureView {
                witness: c.witness,
                key_id: c.key_id,
                timestamp: rfc3339(c.timestamp * 1_000_000),
                signature: base64::engine::general_purpose::STANDARD.encode(c.signature),
            })
            .collect(),
        quorum_met: w.quorum_met,
    }))
}

/// One witness of the policy and what the witness client knows of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WitnessView {
    /// Its name in the policy.
    name: String,
    /// Its cosignature verifier key (`name+hexkeyid+base64(0x04||key)`).
    verifier_key: String,
    /// Its submission prefix.
    url: Option<String>,
    /// The tree size it last co-signed, and when (RFC 3339).
    last_cosigned_size: Option<i64>,
    last_cosigned_at: Option<String>,
    /// The last failure or alarm, and when; kept after a later success.
    last_error: Option<String>,
    last_error_at: Option<String>,
    /// Alarms so far: a 422, a larger tree than the log's, a 200 without a valid cosignature.
    alarms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WitnessList {
    items: Vec<WitnessView>,
    /// The policy's quorum (`none` without a policy).
    quorum: String,
    /// Whether the latest checkpoint's cosignatures make it.
    quorum_met: bool,
}

/// The witnesses of the policy (`CLOSURE_AUDIT_WITNESS_POLICY`) and their state.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, body = WitnessList),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/audit/witnesses")]
pub async fn list_witnesses(
    state: web::Data<Context>,
    caller: AuthUser,
) -> AppResult<web::Json<WitnessList>> {
    let (items, quorum, quorum_met) = witnesses::witnesses(&state, &caller).await?;
    Ok(web::Json(WitnessList {
        items: items
            .into_iter()
            .map(|w| {
                let s = w.status;
                WitnessView {
                    name: w.name,
                    verifier_key: w.verifier_key,
                    url: w.url,
                    last_cosigned_size: s.as_ref().and_then(|s| s.cosigned_size),
                    last_cosigned_at: s.as_ref().and_then(|s| s.cosigned_at).map(rfc3339),
                    last_error: s.as_ref().and_then(|s| s.last_error.clone()),
                    last_error_at: s.as_ref().and_then(|s| s.last_error_at).map(rfc3339),
                    alarms: s.map_or(0, |s| s.alarms),
                }
            })
            .collect(),
        quorum,
        quorum_met,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PublicKeyView {
    /// Always `Ed25519`.
    algorithm: &'static str,
    /// Hex C2SP key id.
    key_id: String,
    /// Base64 of the raw 32-byte public key.
    public_key: String,
    /// The C2SP verifier key: `name+hexkeyid+base64(0x01||key)`.
    verifier_key: String,
}

/// The key that signs checkpoints.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, body = PublicKeyView),
        (status = 401, response = p::Unauthorized),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/audit/public-key")]
pub async fn public_key(state: web::Data<Context>, caller: AuthUser) -> web::Json<PublicKeyView> {
    let key = service::signing_key(&state, &caller);
    web::Json(PublicKeyView {
        algorithm: "Ed25519",
        key_id: hex::encode(key.key_id),
        public_key: base64::engine::general_purpose::STANDARD.encode(key.public_key),
        verifier_key: key.verifier_key,
    })
}

#[derive(Deserialize, IntoParams)]
pub struct InclusionQuery {
    leaf_index: u64,
    tree_size: u64,
}

#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    leaf_index: u64,
    tree_size: u64,
    /// Hex.
    leaf_hash: String,
    /// Hex hashes, from the leaf up (RFC 9162 §2.1.3).
    audit_path: Vec<String>,
}

/// The inclusion proof of a leaf in the tree of `tree_size` leaves.
#[utoipa::path(
    tag = "audit",
    params(InclusionQuery),
    responses(
        (status = 200, body = InclusionProof),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 422, description = "leaf_index not below tree_size, or tree_size beyond the log", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/audit/proof/inclusion")]
pub async fn inclusion_proof(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<InclusionQuery>,
) -> AppResult<web::Json<InclusionProof>> {
    let (index, size) = (q.leaf_index, q.tree_size);
    let (leaf, path) = service::inclusion(&state, &caller, index, size).await?;
    Ok(web::Json(InclusionProof {
        leaf_index: index,
        tree_size: size,
        leaf_hash: to_hex(&leaf),
        audit_path: path.iter().map(to_hex).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct ConsistencyQuery {
    /// At least 1.
    #[param(minimum = 1)]
    first: u64,
    second: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    first: u64,
    second: u64,
    /// Hex hashes (RFC 9162 §2.1.4).
    proof: Vec<String>,
}

/// The consistency proof between the trees of `first` and `second` leaves.
#[utoipa::path(
    tag = "audit",
    params(ConsistencyQuery),
    responses(
        (status = 200, body = ConsistencyProof),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 422, description = "first is 0 or above second, or second beyond the log", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/audit/proof/consistency")]
pub async fn consistency_proof(
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<ConsistencyQuery>,
) -> AppResult<web::Json<ConsistencyProof>> {
    let (first, second) = (q.first, q.second);
    let proof = service::consistency(&state, &caller, first, second).await?;
    Ok(web::Json(ConsistencyProof {
        first,
        second,
        proof: proof.iter().map(to_hex).collect(),
    }))
}

/// Recomputes everything from one consistent snapshot of the database: every
/// leaf from its event, the tree, every checkpoint's signature and root (those
/// in the database and those this instance witnessed outside it; a missing or
/// unreadable witness file is a finding), the content each event vouches for
/// (the closure as posted, each decision, each reopening's reason) from the
/// stored closures and decisions, and the closures' status and version replayed
/// from their events. `first_bad_seq` names the earliest event that is itself
/// wrong. Memory does not grow with the log; a second verification while one
/// runs on this instance is a 503 with `Retry-After`. A force auditor's detail
/// names no closure of another force.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, body = Report),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/audit/verify")]
pub async fn verify_log(
    state: web::Data<Context>,
    caller: AuthUser,
) -> AppResult<web::Json<Report>> {
    Ok(web::Json(service::verify(&state, &caller).await?))
}
