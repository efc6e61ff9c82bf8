//! `GET /closures/{id}/receipt`: a C2SP tlog-proof that the closure's latest
//! decision event (or, while it awaits its first sign-off, its
//! `closure.created` event; once reopened, its `closure.reopened` event) is in
//! the log, with the latest checkpoint that holds it and is co-signed by the
//! witness policy's quorum (else the latest), and the event's canonical bytes
//! as `extra`. Reading it is a view of the closure.

use super::Context;
use super::closures::{load, not_found, scope_of};
use super::witnesses;
use crate::audit::leaf::CanonicalEvent;
use crate::audit::receipt::Receipt;
use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::{self, events, log as log_store};
use crate::domain::conflicts::Clash;
use crate::domain::signoff::Status;
use crate::error::{AppError, AppResult};
use serde_json::json;

/// The receipt of closure `id`, for a caller who may read it.
pub async fn receipt(ctx: &Context, caller: &AuthUser, id: String) -> AppResult<String> {
    let scope = scope_of(caller)?;
    let who = caller.clone();
    let (event, leaf) = ctx
        .db
        .write(move |c| {
            let closure = load(c, &id)?;
            if !scope.allows(&closure.force_id) {
                return Err(not_found());
            }
            // A decided or reopened closure: its latest decision (or reopening);
            // one awaiting its first sign-off: the closure as posted.
            let wanted: &[&str] = match Status::parse(&closure.status) {
                Some(Status::PendingSignoff) | None => &["closure.created"],
                Some(_) => &["closure.approved", "closure.rejected", "closure.reopened"],
            };
            let event = events::of_closures(c, &[&closure.id], wanted)?
                .pop()
                .ok_or_else(|| AppError::internal(format!("closure {} has no event", closure.id)))?;
            let leaf = log_store::leaf_of(c, event.seq)?;
            let actor = who.actor();
            let details = json!({"crime_reference": closure.crime_reference, "version": closure.version, "receipt": true});
            audit::append(
                c,
                Event::new(Action::ClosureViewed, &actor, Some(&who.request_id), details)
                    .closure(&closure.id, &closure.force_id),
            )?;
            Ok((event, leaf))
        })
        .await?;
    let not_yet = || {
        AppError::Conflict(
            Clash::NotYetCheckpointed,
            format!("event {} is not yet in a signed checkpoint", event.seq),
        )
    };
    let index = leaf.ok_or_else(not_yet)? as u64;
    let latest = witnesses::for_leaf(ctx, index).await?.ok_or_else(not_yet)?;
    let size = latest.checkpoint.tree_size;
    let log = ctx.log.clone();
    let database = ctx.db.clone();
    let (_, proof) = db::blocking(move || log.inclusion(&database, index, size)).await?;
    Ok(Receipt {
        extra: Some(CanonicalEvent::from_row(&event).bytes()),
        index,
        proof,
        checkpoint: latest.note,
    }
    .render())
}
