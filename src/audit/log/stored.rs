//! The tree as the database holds it: its size, its right edge, and the tiles
//! a proof reads.

use crate::audit::merkle::{Hash, Subtrees};
use crate::audit::tiles::{LoadedTiles, TileBuilder, WantedTiles, hashes_of, level_layout};
use crate::db::Conn;
use crate::db::tiles as store;
use crate::error::{AppError, AppResult};

pub(super) fn damaged(what: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("the log's tiles are damaged: {what}"))
}

/// The right edge of the stored tree, ready to take more leaves.
pub(super) fn edge(c: &mut Conn) -> AppResult<TileBuilder> {
    let size = store::tree_size(c)?;
    let size = u64::try_from(size).map_err(|_| damaged("negative tree size"))?;
    let mut tails: Vec<Vec<Hash>> = Vec::new();
    for row in store::tails(c)? {
        let level = usize::try_from(row.level).map_err(|_| damaged("negative level"))?;
        let expected = level_layout(size, level as u8).0;
        let hashes = hashes_of(&row.hashes)
            .filter(|_| u64::try_from(row.tile_index) == Ok(expected) && level >= tails.len())
            .ok_or_else(|| damaged(format!("the partial tile of level {level}")))?;
        tails.resize(level, Vec::new());
        tails.push(hashes);
    }
    TileBuilder::resume(size, tails)
        .ok_or_else(|| damaged(format!("the partial tiles do not fit {size} leaves")))
}

/// Runs `compute` over the stored tiles: once to learn which tiles it reads,
/// then over those tiles, read in one round trip per level. The caller has
/// checked that every subtree `compute` asks for is inside the stored tree.
///
/// Consistent without a snapshot: a hash, once stored, never changes, and the
/// tiles are read partial first and full second, so a partial tile completed
/// between the two reads is found among the full ones.
pub(super) fn over_tiles<T>(c: &mut Conn, compute: impl Fn(&dyn Subtrees) -> T) -> AppResult<T> {
    let wanted = WantedTiles::default();
    compute(&wanted);
    let wanted = wanted.tiles();
    let mut loaded = LoadedTiles::default();
    let tails = store::tails(c)?;
    for t in &tails {
        if wanted.contains(&(t.level as u8, t.tile_index as u64)) {
            loaded.insert(t.level as u8, t.tile_index as u64, &t.hashes);
        }
    }
    let keys: Vec<(i32, i64)> = wanted
        .iter()
        .map(|&(l, i)| (i32::from(l), i as i64))
        .collect();
    for t in store::tiles(c, &keys)? {
        if !loaded.insert(t.level as u8, t.tile_index as u64, &t.hashes) {
            return Err(damaged(format!("tile {}/{}", t.level, t.tile_index)));
        }
    }
    let out = compute(&loaded);
    if loaded.incomplete() {
        return Err(damaged("a tile a proof needs is missing"));
    }
    Ok(out)
}
