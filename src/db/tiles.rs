//! The tree as tlog-tiles stores it: full tiles (written once), each level's
//! partial tile (rewritten by every sequencer round) and the size they describe.
//! What the rows mean, and the invariants that hold between them, are written
//! down once, in `audit::log`.

use super::schema::{log_state, merkle_leaves, merkle_tile_tails, merkle_tiles};
use super::{Conn, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;

/// A full tile: 256 hashes, 8,192 bytes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = merkle_tiles)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct TileRow {
    pub level: i32,
    pub tile_index: i64,
    pub hashes: Vec<u8>,
}

/// A level's partial tile: 1 to 255 hashes (no row when the level has none).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = merkle_tile_tails)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct TailRow {
    pub level: i32,
    pub tile_index: i64,
    pub hashes: Vec<u8>,
}

/// Full tiles per insert statement (8 KiB each).
const INSERT_CHUNK: usize = 64;

/// Leaves the tiles hold.
pub fn tree_size(conn: &mut Conn) -> AppResult<i64> {
    Ok(with_conn!(conn, c => log_state::table
        .find(1)
        .select(log_state::tree_size)
        .first(c))?)
}

pub fn set_tree_size(conn: &mut Conn, size: i64) -> AppResult<()> {
    with_conn!(conn, c => diesel::update(log_state::table.find(1))
        .set(log_state::tree_size.eq(size))
        .execute(c))?;
    Ok(())
}

/// Leaves stored (one past the highest `leaf_index`), by the primary key.
pub fn leaves_stored(conn: &mut Conn) -> AppResult<i64> {
    let max: Option<i64> = with_conn!(conn, c => merkle_leaves::table
        .select(diesel::dsl::max(merkle_leaves::leaf_index))
        .first(c))?;
    Ok(max.map_or(0, |m| m + 1))
}

/// Every level's partial tile, lowest level first.
pub fn tails(conn: &mut Conn) -> AppResult<Vec<TailRow>> {
    Ok(with_conn!(conn, c => merkle_tile_tails::table
        .order(merkle_tile_tails::level.asc())
        .select(TailRow::as_select())
        .load(c))?)
}

/// Replaces the partial tiles with `rows`.
pub fn replace_tails(conn: &mut Conn, rows: &[TailRow]) -> AppResult<()> {
    with_conn!(conn, c => diesel::delete(merkle_tile_tails::table).execute(c))?;
    if !rows.is_empty() {
        with_conn!(conn, c => diesel::insert_into(merkle_tile_tails::table).values(rows).execute(c))?;
    }
    Ok(())
}

pub fn insert_tiles(conn: &mut Conn, rows: &[TileRow]) -> AppResult<()> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        with_conn!(conn, c => diesel::insert_into(merkle_tiles::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// The full tiles among `wanted` (`(level, tile_index)`) that are stored.
pub fn tiles(conn: &mut Conn, wanted: &[(i32, i64)]) -> AppResult<Vec<TileRow>> {
    let mut levels: Vec<i32> = wanted.iter().map(|w| w.0).collect();
    levels.sort_unstable();
    levels.dedup();
    let mut out = Vec::new();
    for level in levels {
        let indexes: Vec<i64> = wanted
            .iter()
            .filter(|w| w.0 == level)
            .map(|w| w.1)
            .collect();
        let rows: Vec<TileRow> = with_conn!(conn, c => merkle_tiles::table
            .filter(merkle_tiles::level.eq(level))
            .filter(merkle_tiles::tile_index.eq_any(&indexes))
            .select(TileRow::as_select())
            .load(c))?;
        out.extend(rows);
    }
    Ok(out)
}

/// One full tile's hashes, when it is stored.
pub fn tile(conn: &mut Conn, level: i32, index: i64) -> AppResult<Option<Vec<u8>>> {
    Ok(with_conn!(conn, c => merkle_tiles::table
        .find((level, index))
        .select(merkle_tiles::hashes)
        .first(c)
        .optional())?)
}

/// The partial tile of `level`, when it has one.
pub fn tail(conn: &mut Conn, level: i32) -> AppResult<Option<TailRow>> {
    Ok(with_conn!(conn, c => merkle_tile_tails::table
        .find(level)
        .select(TailRow::as_select())
        .first(c)
        .optional())?)
}
