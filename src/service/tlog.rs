//! The log as tlog-tiles serves it under `/log`: the latest checkpoint as a
//! signed note, hash tiles and entry bundles (C2SP tlog-tiles v0.1.0), within
//! what the caller may read.

use super::Context;
use crate::audit::leaf::CanonicalEvent;
use crate::audit::tiles::{TILE_WIDTH, Width, level_layout};
use crate::auth::AuthUser;
use crate::db::{Conn, log as store, tiles};
use crate::domain::authorize::{Action, Resource};
use crate::error::{AppError, AppResult};
use crate::service::permit::permit;

/// Hashes are 32 bytes.
const HASH: usize = 32;

/// Checkpoint and hash tiles: anyone when the log is public, else the roles
/// that may read them. `None` is a caller without a (valid) token.
fn may_read_tiles(ctx: &Context, caller: Option<&AuthUser>) -> AppResult<()> {
    match caller {
        _ if ctx.settings.log_public => Ok(()),
        None => Err(AppError::Unauthorized(
            "this log is not public: a token is needed".into(),
        )),
        Some(user) => permit(user, Action::ReadTiles, Resource::Any),
    }
}

/// `GET /log/checkpoint`: the latest checkpoint as a signed note with the
/// log's signature and every cosignature received for it; `None` before the
/// first is signed.
pub async fn checkpoint(ctx: &Context, caller: Option<&AuthUser>) -> AppResult<Option<String>> {
    may_read_tiles(ctx, caller)?;
    Ok(super::witnesses::latest(ctx).await?.map(|w| w.note))
}

/// How many hashes tile `index` of `level` has in the tree of the latest
/// checkpoint at `width`; `None` when that tile is not in that tree.
fn published(c: &mut Conn, level: u8, index: u64, width: Width) -> AppResult<Option<usize>> {
    let size = store::latest_checkpoint(c)?.map_or(0, |r| r.tree_size as u64);
    let (full, partial) = level_layout(size, level);
    Ok(match width {
        Width::Full => (index < full).then_some(TILE_WIDTH as usize),
        Width::Partial(w) => {
            (index < full || (index == full && w <= partial)).then_some(usize::from(w))
        }
    })
}

/// `GET /log/tile/<L>/<N>[.p/<W>]`: the tile's hashes; `None` (404) when the
/// published tree has no such tile. A partial tile is a prefix of the full
/// tile or of the level's partial tile: stored hashes never change.
pub async fn hash_tile(
    ctx: &Context,
    caller: Option<&AuthUser>,
    level: u8,
    index: u64,
    width: Width,
) -> AppResult<Option<Vec<u8>>> {
    may_read_tiles(ctx, caller)?;
    ctx.db
        .read(move |c| {
            let Some(count) = published(c, level, index, width)? else {
                return Ok(None);
            };
            let (l, i) = (i32::from(level), index as i64);
            let bytes = match tiles::tile(c, l, i)? {
                Some(full) => full,
                None => tiles::tail(c, l)?
                    .filter(|t| t.tile_index == i)
                    .map(|t| t.hashes)
                    .unwrap_or_default(),
            };
            if bytes.len() < count * HASH {
                return Err(AppError::internal(format!(
                    "the log's tiles are damaged: tile {level}/{index} has {} hashes, {count} expected",
                    bytes.len() / HASH
                )));
            }
            Ok(Some(bytes[..count * HASH].to_vec()))
        })
        .await
}

/// `GET /log/tile/entries/<N>[.p/<W>]`: the canonical bytes of the events
/// that are leaves `256·N ..`, each after its length as two bytes (big-endian),
/// as tlog-tiles' entry bundles are; `None` (404) when the published tree has
/// no such bundle. National auditors only, whatever `log_public` says.
pub async fn entry_bundle(
    ctx: &Context,
    caller: Option<&AuthUser>,
    index: u64,
    width: Width,
) -> AppResult<Option<Vec<u8>>> {
    let Some(user) = caller else {
        return Err(AppError::Unauthorized(
            "entry bundles hold personal data: a national auditor's token is needed".into(),
        ));
    };
    permit(user, Action::ReadEntries, Resource::Any)?;
    ctx.db
        .read(move |c| {
            let Some(count) = published(c, 0, index, width)? else {
                return Ok(None);
            };
            let from = (index * TILE_WIDTH) as i64;
            let mut out = Vec::new();
            let mut entries = 0usize;
            store::stream_leaves(c, from..from + count as i64, |row| {
                let Some(event) = row.event else {
                    return Err(AppError::internal(format!(
                        "the log is damaged: entry bundle {index} lacks the event of leaf {}",
                        row.leaf.leaf_index
                    )));
                };
                let seq = event.seq;
                let bytes = CanonicalEvent::from_owned_row(event).bytes();
                let len = u16::try_from(bytes.len()).map_err(|_| {
                    AppError::internal(format!(
                        "event {seq} is longer than an entry bundle can carry"
                    ))
                })?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&bytes);
                entries += 1;
                Ok(true)
            })?;
            if entries != count {
                return Err(AppError::internal(format!(
                    "the log is damaged: entry bundle {index} lacks leaves"
                )));
            }
            Ok(Some(out))
        })
        .await
}
