//! `/api/v1/audit`: reading the audit log.

use super::params::{Page, decode_cursor, page_limit, paginate, parse_instant};
use super::problems::{self as p, PROBLEM_JSON};
use crate::app::AppState;
use crate::audit::log::CheckpointView;
use crate::audit::merkle::to_hex;
use crate::audit::verify::Report;
use crate::auth::AuthUser;
use crate::db::events::{self, EventFilter, EventRow};
use crate::db::{self, log as store, rfc3339};
use crate::domain::Role;
use crate::error::{AppError, AppResult, Problem};
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
    pub fn new(r: &EventRow, leaf_index: Option<i64>) -> Self {
        EventView {
            seq: r.seq,
            leaf_index,
            at: rfc3339(r.at),
            action: r.action.clone(),
            actor: EventActor {
                user_id: r.actor_user_id.clone(),
                username: r.actor_username.clone(),
                role: r.actor_role.clone(),
                rank: r.actor_rank.clone(),
                force_id: r.actor_force_id.clone(),
            },
            closure_id: r.closure_id.clone(),
            force_id: r.force_id.clone(),
            request_id: r.request_id.clone(),
            details: serde_json::from_str(&r.details).unwrap_or(Value::String(r.details.clone())),
        }
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

/// The events a caller may read, after these filters. A force auditor sees the
/// events of its own force; a national auditor and an admin see all.
pub fn event_filter(caller: &AuthUser, q: &EventQuery) -> AppResult<EventFilter> {
    caller.require(
        &[Role::Auditor, Role::Admin],
        "the audit log is read by auditors and admins",
    )?;
    let cursor_seq = match q.cursor.as_deref().map(decode_cursor).transpose()? {
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            AppError::BadRequest("the cursor is not one this service issued".into())
        })?),
        None => None,
    };
    Ok(EventFilter {
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
        force_scope: match caller.role {
            Role::Auditor => caller.force_id.clone(),
            _ => None,
        },
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
    state: web::Data<AppState>,
    caller: AuthUser,
    q: web::Query<EventQuery>,
) -> AppResult<web::Json<Page<EventView>>> {
    let filter = event_filter(&caller, &q)?;
    let limit = page_limit(q.limit, state.settings.page_limit_default, EVENTS_PAGE_MAX)?;
    let rows = state
        .db
        .read(move |c| events::page(c, &filter, limit + 1))
        .await?;
    Ok(web::Json(paginate(
        rows,
        limit,
        |(r, _, _)| r.seq.to_string(),
        |(r, leaf, _)| EventView::new(r, *leaf),
    )))
}

/// The latest signed checkpoint of the log.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, body = CheckpointView),
        (status = 401, response = p::Unauthorized),
        (status = 404, description = "No checkpoint has been signed yet", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/audit/checkpoint")]
pub async fn checkpoint(
    state: web::Data<AppState>,
    _caller: AuthUser,
) -> AppResult<web::Json<CheckpointView>> {
    let row = state
        .db
        .read(store::latest_checkpoint)
        .await?
        .ok_or_else(|| AppError::NotFound("no checkpoint has been signed yet".into()))?;
    Ok(web::Json(CheckpointView::from_row(
        &row,
        &state.log.signer.origin,
    )))
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
pub async fn public_key(state: web::Data<AppState>, _caller: AuthUser) -> web::Json<PublicKeyView> {
    let s = &state.log.signer;
    web::Json(PublicKeyView {
        algorithm: "Ed25519",
        key_id: hex::encode(s.key_id()),
        public_key: base64::engine::general_purpose::STANDARD.encode(s.public().as_bytes()),
        verifier_key: s.verifier_key(),
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
    state: web::Data<AppState>,
    _caller: AuthUser,
    q: web::Query<InclusionQuery>,
) -> AppResult<web::Json<InclusionProof>> {
    let (index, size) = (q.leaf_index, q.tree_size);
    let st = state.clone();
    let (leaf, path) = db::blocking(move || st.log.inclusion(&st.db, index, size)).await?;
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
    state: web::Data<AppState>,
    _caller: AuthUser,
    q: web::Query<ConsistencyQuery>,
) -> AppResult<web::Json<ConsistencyProof>> {
    let (first, second) = (q.first, q.second);
    let st = state.clone();
    let proof = db::blocking(move || st.log.consistency(&st.db, first, second)).await?;
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
    state: web::Data<AppState>,
    caller: AuthUser,
) -> AppResult<web::Json<Report>> {
    Ok(web::Json(
        crate::service::audit::verify(&state, &caller).await?,
    ))
}
