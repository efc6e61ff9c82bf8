//! What the witnesses said: the cosignatures of a checkpoint, whether they
//! make the policy's quorum, and each witness's state (`/audit/witnesses`).

use super::Context;
use crate::audit::cosignature::NoteSignature;
use crate::audit::log::CheckpointView;
use crate::auth::AuthUser;
use crate::db::cosignatures::{self as store, CosignatureRow, WitnessStatusRow};
use crate::db::log::{self as log_store, CheckpointRow};
use crate::domain::authorize::{Action, Resource};
use crate::error::{AppError, AppResult};
use crate::service::permit::permit;

/// One cosignature of a checkpoint.
#[derive(Debug, Clone)]
pub struct Cosignature {
    /// The cosigner's key name.
    pub witness: String,
    pub key_id: String,
    /// POSIX seconds.
    pub timestamp: i64,
    /// The raw 64-byte Ed25519 signature.
    pub signature: Vec<u8>,
    /// The note signature line.
    pub line: String,
}

impl Cosignature {
    fn from_row(r: &CosignatureRow) -> Option<Cosignature> {
        let sig = NoteSignature::parse_line(&r.line).ok()?;
        Some(Cosignature {
            witness: r.witness.clone(),
            key_id: r.key_id.clone(),
            timestamp: r.cosigned_at,
            signature: sig.signature.get(8..)?.to_vec(),
            line: r.line.clone(),
        })
    }
}

/// A checkpoint with what the witnesses said of it.
pub struct Witnessed {
    pub checkpoint: CheckpointView,
    pub note: String,
    pub cosignatures: Vec<Cosignature>,
    pub quorum_met: bool,
}

/// Whether `cosignatures` make the policy's quorum; with no policy no
/// cosignature is asked for (`quorum none`), so it is met.
pub fn quorum_met(ctx: &Context, cosignatures: &[Cosignature]) -> bool {
    let Some(client) = &ctx.witnesses else {
        return true;
    };
    let policy = &client.policy;
    policy.quorum_met(&|i| {
        let k = &policy.witnesses[i].key;
        let id = hex::encode(k.id);
        cosignatures
            .iter()
            .any(|c| c.witness == k.name && c.key_id == id)
    })
}

fn witnessed(ctx: &Context, row: CheckpointRow, cos: &[CosignatureRow]) -> Witnessed {
    let cosignatures: Vec<Cosignature> = cos.iter().filter_map(Cosignature::from_row).collect();
    let mut note = row.note.clone();
    for c in &cosignatures {
        note.push_str(&c.line);
        note.push('\n');
    }
    Witnessed {
        checkpoint: CheckpointView::from_row(&row, &ctx.log.signer.origin),
        quorum_met: quorum_met(ctx, &cosignatures),
        note,
        cosignatures,
    }
}

/// The latest checkpoint with its cosignatures; `None` before the first.
pub async fn latest(ctx: &Context) -> AppResult<Option<Witnessed>> {
    let found = ctx
        .db
        .read(|c| {
            let Some(row) = log_store::latest_checkpoint(c)? else {
                return Ok(None);
            };
            let cos = store::of_size(c, row.tree_size)?;
            Ok(Some((row, cos)))
        })
        .await?;
    Ok(found.map(|(row, cos)| witnessed(ctx, row, &cos)))
}

/// Co-signed checkpoints looked at for a receipt before the latest is taken.
const RECENT_COSIGNED: i64 = 16;

/// The checkpoint a receipt of leaf `index` carries: the largest that holds the
/// leaf and whose cosignatures make the quorum (a new checkpoint is co-signed a
/// moment after it is signed), else the latest; `None` while no checkpoint
/// holds the leaf.
pub async fn for_leaf(ctx: &Context, index: u64) -> AppResult<Option<Witnessed>> {
    let Some(latest) = latest(ctx).await? else {
        return Ok(None);
    };
    if latest.checkpoint.tree_size <= index {
        return Ok(None);
    }
    if latest.quorum_met {
        return Ok(Some(latest));
    }
    let candidates = ctx
        .db
        .read(move |c| {
            let mut out = Vec::new();
            for size in store::cosigned_sizes(c, index as i64, RECENT_COSIGNED)? {
                if let Some(row) = log_store::checkpoint_of_size(c, size)? {
                    out.push((row, store::of_size(c, size)?));
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Some(
        candidates
            .into_iter()
            .map(|(row, cos)| witnessed(ctx, row, &cos))
            .find(|w| w.quorum_met)
            .unwrap_or(latest),
    ))
}

/// `GET /audit/checkpoint`: the latest checkpoint and its cosignatures; 404
/// before the first.
pub async fn checkpoint(ctx: &Context, _caller: &AuthUser) -> AppResult<Witnessed> {
    latest(ctx)
        .await?
        .ok_or_else(|| AppError::NotFound("no checkpoint has been signed yet".into()))
}

/// One witness of the policy, as the client knows it.
pub struct WitnessState {
    pub name: String,
    pub verifier_key: String,
    pub url: Option<String>,
    pub status: Option<WitnessStatusRow>,
}

/// `GET /audit/witnesses`: the policy's witnesses with their state, the
/// quorum's name and whether the latest checkpoint meets it.
pub async fn witnesses(
    ctx: &Context,
    caller: &AuthUser,
) -> AppResult<(Vec<WitnessState>, String, bool)> {
    permit(caller, Action::ReadAuditLog, Resource::Any)?;
    let rows = ctx.db.read(store::statuses).await?;
    let met = latest(ctx).await?.is_some_and(|w| w.quorum_met);
    let Some(client) = &ctx.witnesses else {
        return Ok((Vec::new(), "none".into(), met));
    };
    let items = client
        .policy
        .witnesses
        .iter()
        .map(|w| WitnessState {
            name: w.name.clone(),
            verifier_key: w.key.verifier_key(),
            url: w.url.clone(),
            status: rows.iter().find(|r| r.witness == w.name).cloned(),
        })
        .collect();
    Ok((items, client.policy.quorum_name().to_string(), met))
}
