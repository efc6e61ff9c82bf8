//! `/api/v1/audit`: reading the audit log.

use super::params::{Page, decode_cursor, page_limit, paginate, parse_instant};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::db::events::{self, EventFilter, EventRow};
use crate::db::rfc3339;
use crate::domain::Role;
use crate::error::{AppError, AppResult, Problem};
use actix_web::{get, web};
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

impl From<&EventRow> for EventView {
    fn from(r: &EventRow) -> Self {
        EventView {
            seq: r.seq,
            leaf_index: r.leaf_index,
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
    closure_id: Option<String>,
    /// The acting user's id.
    actor_id: Option<String>,
    action: Option<String>,
    /// Inclusive: RFC 3339 timestamp or date.
    from: Option<String>,
    /// Exclusive: RFC 3339 timestamp or date.
    to: Option<String>,
    /// Only events after this `seq`.
    after_seq: Option<i64>,
    /// Page length, 1 to 1000 (default 50).
    limit: Option<i64>,
    cursor: Option<String>,
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

/// Audit events, oldest first (ascending `seq`).
#[utoipa::path(
    tag = "audit",
    params(EventQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem),
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
        |r| r.seq.to_string(),
        |r| EventView::from(r),
    )))
}
