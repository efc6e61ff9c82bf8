//! Proofs: inclusion and consistency, from the tree cache.

use super::Log;
use crate::audit::merkle::Hash;
use crate::db::Db;
use crate::error::{AppError, AppResult};

impl Log {
    /// Makes sure the tree holds `size` leaves, reading any it lacks; 422 when
    /// the log is not that large.
    fn ensure(&self, db: &Db, size: u64, field: &str) -> AppResult<()> {
        if self.size() < size {
            self.sync(db)?;
        }
        let have = self.size();
        if have < size {
            return Err(AppError::field(
                field,
                crate::domain::validation::FieldRule::OutOfRange,
                format!("the log holds {have} leaves"),
            ));
        }
        Ok(())
    }

    /// The leaf hash and audit path of leaf `index` in the tree of `size`.
    pub fn inclusion(&self, db: &Db, index: u64, size: u64) -> AppResult<(Hash, Vec<Hash>)> {
        if index >= size {
            return Err(AppError::field(
                "leaf_index",
                crate::domain::validation::FieldRule::OutOfRange,
                "must be less than tree_size",
            ));
        }
        self.ensure(db, size, "tree_size")?;
        let tree = self.tree.read().expect("tree lock");
        Ok((
            tree.leaf(index).expect("leaf"),
            tree.inclusion_proof(index, size).expect("in range"),
        ))
    }

    /// The consistency proof between the trees of `first` and `second` leaves.
    pub fn consistency(&self, db: &Db, first: u64, second: u64) -> AppResult<Vec<Hash>> {
        if first == 0 {
            return Err(AppError::field(
                "first",
                crate::domain::validation::FieldRule::OutOfRange,
                "must be at least 1",
            ));
        }
        if first > second {
            return Err(AppError::field(
                "second",
                crate::domain::validation::FieldRule::RangeReversed,
                "must not be less than first",
            ));
        }
        self.ensure(db, second, "second")?;
        Ok(self
            .tree
            .read()
            .expect("tree lock")
            .consistency_proof(first, second)
            .expect("in range"))
    }
}
