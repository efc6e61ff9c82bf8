//! Verifying the audit log on request (`GET /audit/verify`): one verification
//! at a time per instance, in one snapshot, its detail scoped to the caller.

use crate::app::AppState;
use crate::audit::verify::{Report, verify_stored};
use crate::auth::AuthUser;
use crate::db;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use std::sync::atomic::{AtomicBool, Ordering};

pub const RULE_VERIFY: &str = "the audit log is verified by auditors and admins";

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
pub async fn verify(
    state: &actix_web::web::Data<AppState>,
    caller: &AuthUser,
) -> AppResult<Report> {
    caller.require(&[Role::Auditor, Role::Admin], RULE_VERIFY)?;
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
        let snapshot_at = db::now_micros();
        let verdict = st.db.snapshot_blocking(|c| {
            verify_stored(c, st.log.witness.as_deref(), snapshot_at, &st.log.trusted)
        })?;
        Ok(verdict.report_for(scope.as_deref()))
    })
    .await
}
