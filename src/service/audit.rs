//! Reading the audit log: its events within the caller's scope, the latest
//! checkpoint, the signing key, proofs, and verification on request
//! (`GET /audit/verify`: one at a time per instance, in one snapshot, its
//! detail scoped to the caller).

use super::{Context, Parsed};
use crate::audit::leaf::CanonicalEvent;
use crate::audit::merkle::Hash;
use crate::audit::verify::{Entry, Report, WitnessFile, stored};
use crate::auth::AuthUser;
use crate::db;
use crate::db::events::{self, EventFilter};
use crate::domain::Role;
use crate::domain::authorize::{self, Resource};
use crate::error::{AppError, AppResult};
use crate::service::permit::permit;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::domain::filters::EventSearch;

/// The events `caller` may read, after `search`. A force auditor sees the
/// events of its own force; a national auditor and an admin see all.
pub fn event_filter(caller: &AuthUser, search: Parsed<EventSearch>) -> AppResult<EventFilter> {
    permit(caller, authorize::Action::ReadAuditLog, Resource::Any)?;
    Ok(EventFilter {
        search: search?,
        force_scope: match caller.role {
            Role::Auditor => caller.force_id.clone(),
            _ => None,
        },
    })
}

/// `GET /audit/events`: at most `limit` events, oldest first, each with its
/// leaf index and hash once integrated. An event is listed only once every
/// lower `seq` is committed or abandoned, so a tailer misses none.
pub async fn events(
    ctx: &Context,
    caller: &AuthUser,
    search: Parsed<EventSearch>,
    limit: Parsed<i64>,
) -> AppResult<Vec<Entry>> {
    let filter = event_filter(caller, search)?;
    let limit = limit?;
    let page = ctx
        .db
        .read(move |c| events::page(c, &filter, limit))
        .await?;
    Ok(page.iter().map(entry).collect())
}

/// A listed event as the log's readers see it.
pub fn entry((e, leaf, hash): &events::EventWithLeaf) -> Entry {
    Entry {
        seq: e.seq,
        leaf_index: *leaf,
        event: Some(CanonicalEvent::from_row(e)),
        leaf_hash: hash.clone(),
    }
}

/// The key that signs checkpoints.
pub struct SigningKey {
    /// The C2SP key id.
    pub key_id: [u8; 4],
    /// The raw 32-byte Ed25519 public key.
    pub public_key: [u8; 32],
    /// The C2SP verifier key: `name+hexkeyid+base64(0x01||key)`.
    pub verifier_key: String,
}

/// `GET /audit/public-key`.
pub fn signing_key(ctx: &Context, _caller: &AuthUser) -> SigningKey {
    let s = &ctx.log.signer;
    SigningKey {
        key_id: s.key_id(),
        public_key: s.public().to_bytes(),
        verifier_key: s.verifier_key(),
    }
}

/// `GET /audit/proof/inclusion`: the leaf hash and its audit path; 422 for
/// an index not below the size, or a size beyond the log.
pub async fn inclusion(
    ctx: &actix_web::web::Data<Context>,
    _caller: &AuthUser,
    index: u64,
    size: u64,
) -> AppResult<(Hash, Vec<Hash>)> {
    let ctx = ctx.clone();
    db::blocking(move || ctx.log.inclusion(&ctx.db, index, size)).await
}

/// `GET /audit/proof/consistency`; 422 for `first` 0 or above `second`, or
/// `second` beyond the log.
pub async fn consistency(
    ctx: &actix_web::web::Data<Context>,
    _caller: &AuthUser,
    first: u64,
    second: u64,
) -> AppResult<Vec<Hash>> {
    let ctx = ctx.clone();
    db::blocking(move || ctx.log.consistency(&ctx.db, first, second)).await
}

/// Lets one verification run at a time on this instance: each reads the
/// whole log, and a second one at once would only halve the speed of both.
#[derive(Debug, Default)]
pub struct VerifyGate(AtomicBool);

/// Held while a verification runs.
pub struct VerifyTurn<'a>(&'a VerifyGate);

impl VerifyGate {
    pub fn try_enter(&self) -> Option<VerifyTurn<'_>> {
        self.0
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| VerifyTurn(self))
    }
}

impl Drop for VerifyTurn<'_> {
    fn drop(&mut self) {
        self.0.0.store(false, Ordering::Release);
    }
}

/// `GET /audit/verify`: everything recomputed from one snapshot of the
/// database and the witness file. A force auditor's report names no closure
/// of another force.
pub async fn verify(state: &actix_web::web::Data<Context>, caller: &AuthUser) -> AppResult<Report> {
    permit(caller, authorize::Action::VerifyLog, Resource::Any)?;
    let scope = match caller.role {
        Role::Auditor => caller.force_id.clone(),
        _ => None,
    };
    let st = state.clone();
    db::blocking(move || {
        let _turn = st.verify_gate.try_enter().ok_or_else(|| {
            AppError::Unavailable(
                "a verification of the log is already running on this instance; retry when it ends"
                    .into(),
            )
        })?;
        // Measured before the snapshot begins: every line written by then
        // is of a checkpoint the snapshot holds.
        let witness = st.log.witness.as_deref().map(WitnessFile::measure);
        // The two passes check different things, each in its own snapshot:
        // run them at once on two connections.
        let (log, closures) = std::thread::scope(|s| {
            let closures = s.spawn(|| st.db.snapshot_blocking(stored::verify_closures));
            let log = st
                .db
                .snapshot_blocking(|c| stored::verify_log(c, witness.as_ref(), &st.log.trusted));
            let closures = closures.join().unwrap_or_else(|_| {
                Err(AppError::internal("the closures' pass of verify panicked"))
            });
            (log, closures)
        });
        Ok(log?.with(closures?).report_for(scope.as_deref()))
    })
    .await
}
