//! Proofs and roots, from the stored tiles.

use super::Log;
use super::stored::over_tiles;
use crate::audit::merkle::{self, Hash};
use crate::db::tiles as store;
use crate::db::{Conn, Db};
use crate::domain::validation::FieldRule;
use crate::error::{AppError, AppResult};

/// 422 unless the stored tree holds at least `size` leaves.
fn within(c: &mut Conn, size: u64, field: &str) -> AppResult<()> {
    let have = store::tree_size(c)?;
    if (have as u64) < size {
        return Err(AppError::field(
            field,
            FieldRule::OutOfRange,
            format!("the log holds {have} leaves"),
        ));
    }
    Ok(())
}

impl Log {
    /// The leaf hash and audit path of leaf `index` in the tree of `size`.
    pub fn inclusion(&self, db: &Db, index: u64, size: u64) -> AppResult<(Hash, Vec<Hash>)> {
        if index >= size {
            return Err(AppError::field(
                "leaf_index",
                FieldRule::OutOfRange,
                "must be less than tree_size",
            ));
        }
        db.read_blocking(|c| {
            within(c, size, "tree_size")?;
            over_tiles(c, |t| {
                let path = merkle::inclusion_proof(t, index, size).unwrap_or_default();
                (t.subtree(0, index), path)
            })
        })
    }

    /// The consistency proof between the trees of `first` and `second` leaves.
    pub fn consistency(&self, db: &Db, first: u64, second: u64) -> AppResult<Vec<Hash>> {
        if first == 0 {
            return Err(AppError::field(
                "first",
                FieldRule::OutOfRange,
                "must be at least 1",
            ));
        }
        if first > second {
            return Err(AppError::field(
                "second",
                FieldRule::RangeReversed,
                "must not be less than first",
            ));
        }
        db.read_blocking(|c| {
            within(c, second, "second")?;
            over_tiles(c, |t| {
                merkle::consistency_proof(t, first, second).unwrap_or_default()
            })
        })
    }

    /// The root of the tree of `size` leaves (at most the stored size).
    pub fn root(c: &mut Conn, size: u64) -> AppResult<Hash> {
        within(c, size, "tree_size")?;
        over_tiles(c, |t| merkle::range_hash(t, 0, size))
    }

    /// Leaves the stored tree holds.
    pub fn tree_size(&self, db: &Db) -> AppResult<u64> {
        Ok(db.read_blocking(store::tree_size)? as u64)
    }
}
