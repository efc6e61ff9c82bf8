//! Setting a force's monthly finalised totals; the event keeps old and new values.

use crate::app::AppState;
use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::now_micros;
use crate::db::volumes::{self, VolumeRow};
use crate::domain::Role;
use crate::domain::volumes::parse_volume;
use crate::error::{AppError, AppResult};
use serde_json::{Value, json};

pub const RULE_VOLUMES: &str = "monthly volumes are set by the force system of the force";

/// `PUT /volumes`: insert or replace one total. Returns the row as stored.
pub async fn set(state: &AppState, caller: &AuthUser, body: &Value) -> AppResult<VolumeRow> {
    caller.require(&[Role::ForceSystem], RULE_VOLUMES)?;
    let input = parse_volume(body)?;
    if caller.force_id.as_deref() != Some(input.force_id.as_str()) {
        return Err(AppError::Forbidden(RULE_VOLUMES.into()));
    }
    let row = VolumeRow {
        force_id: input.force_id,
        division: input.division.unwrap_or_default(),
        month: input.month,
        offence_category: input.offence_category,
        finalised_total: input.finalised_total,
        updated_at: now_micros(),
        updated_by_user_id: caller.id.clone(),
    };
    let caller = caller.clone();
    state
        .db
        .write(move |c| {
            let old = volumes::current(c, &row)?;
            volumes::upsert(c, &row)?;
            let details = json!({
                "force_id": row.force_id,
                "division": (!row.division.is_empty()).then_some(&row.division),
                "month": row.month,
                "offence_category": row.offence_category,
                "old_finalised_total": old,
                "new_finalised_total": row.finalised_total,
            });
            let actor = caller.actor();
            let ev = Event::new(Action::VolumeSet, &actor, Some(&caller.request_id), details)
                .force(Some(&row.force_id));
            audit::append(c, ev)?;
            Ok(row)
        })
        .await
}
