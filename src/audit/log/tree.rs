//! The tree cache: the in-memory tree kept in step with `merkle_leaves`.

use super::Log;
use crate::audit::merkle::{Tree, from_hex};
use crate::db::log as store;
use crate::db::{Conn, Db};
use crate::error::{AppError, AppResult};

impl Log {
    /// Reads leaves the tree does not have yet into `tree`.
    pub(super) fn sync_into(tree: &mut Tree, c: &mut Conn) -> AppResult<()> {
        loop {
            let from = tree.size() as i64;
            let rows = store::leaves_from(c, from, 100_000)?;
            if rows.is_empty() {
                return Ok(());
            }
            for (i, r) in rows.iter().enumerate() {
                let hash = from_hex(&r.leaf_hash)
                    .filter(|_| r.leaf_index == from + i as i64)
                    .ok_or_else(|| {
                        AppError::internal(format!(
                            "the leaves table is damaged at leaf {}",
                            from + i as i64
                        ))
                    })?;
                tree.push(hash);
            }
        }
    }

    /// Brings the tree up to the leaves in the database (other instances, start-up).
    pub fn sync(&self, db: &Db) -> AppResult<u64> {
        let mut tree = self.tree.write().expect("tree lock");
        db.read_blocking(|c| Self::sync_into(&mut tree, c))?;
        Ok(tree.size())
    }
}
