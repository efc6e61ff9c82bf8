//! Setting a force's monthly finalised totals; the event keeps old and new values.

use super::{Context, Parsed};
use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::now_micros;
use crate::db::volumes::{self, VolumeRow};
use crate::domain::authorize::{self, Resource};
use crate::domain::volumes::{VolumeDraft, VolumeInput, validate_volume};
use crate::error::AppResult;
use crate::service::permit::permit;
use serde_json::json;

/// A total as stored.
#[derive(Debug, Clone)]
pub struct Volume {
    pub total: VolumeInput,
    /// Microseconds since the epoch.
    pub updated_at: i64,
}

/// `PUT /volumes`: insert or replace one total. Returns it as stored.
pub async fn set(
    state: &Context,
    caller: &AuthUser,
    draft: Parsed<VolumeDraft>,
) -> AppResult<Volume> {
    permit(caller, authorize::Action::SetVolumes, Resource::Any)?;
    let input = validate_volume(draft?)?;
    permit(
        caller,
        authorize::Action::SetVolumes,
        Resource::Force(&input.force_id),
    )?;
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
    let row = state
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
        .await?;
    Ok(Volume {
        total: VolumeInput {
            division: (!row.division.is_empty()).then_some(row.division),
            force_id: row.force_id,
            month: row.month,
            offence_category: row.offence_category,
            finalised_total: row.finalised_total,
        },
        updated_at: row.updated_at,
    })
}
