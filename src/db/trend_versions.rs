//! The version of what trend tables are computed from: every transaction that
//! adds a closure, decides or reopens one, or sets a volume calls [`bump`]; a
//! computed trend table is reused while [`current`] is unchanged.

use super::Conn;
use super::schema::trend_versions;
use crate::error::AppResult;
use crate::with_conn;
use diesel::prelude::*;

/// Rows of `trend_versions` (see its migration).
const SHARDS: i32 = 16;

/// Adds one to a shard picked at random (concurrent writers rarely pick the
/// same one), inside the caller's transaction.
pub fn bump(conn: &mut Conn) -> AppResult<()> {
    let shard = random_shard();
    with_conn!(conn, c => diesel::update(trend_versions::table.find(shard))
        .set(trend_versions::n.eq(trend_versions::n + 1))
        .execute(c))?;
    Ok(())
}

/// A shard picked at random.
pub fn random_shard() -> i32 {
    (rand::random::<u32>() % SHARDS as u32) as i32
}

/// The sum of the shards: it grows with every commit that called [`bump`].
pub fn current(conn: &mut Conn) -> AppResult<i64> {
    let all: Vec<i64> = with_conn!(conn, c => trend_versions::table
        .select(trend_versions::n)
        .load(c))?;
    Ok(all.into_iter().sum())
}
