//! The stored tiles against the stored leaves: what tlog-tiles clients,
//! witnesses and proofs read must be the tree the leaves make. Streamed with
//! the leaves: a builder of the right edge (at most 255 hashes per level), and
//! each page's completed tiles compared in one read per level.

use super::findings::{Finding, Findings};
use crate::audit::merkle::from_hex;
use crate::audit::tiles::{FullTile, TileBuilder, bytes_of, span_of};
use crate::db::Conn;
use crate::db::tiles as store;
use crate::error::AppResult;

pub struct TileCheck {
    built: TileBuilder,
    /// The leaves the stored tiles say they hold.
    stored_size: u64,
    pending: Vec<FullTile>,
    reported: bool,
}

impl TileCheck {
    pub fn new(c: &mut Conn) -> AppResult<TileCheck> {
        Ok(TileCheck {
            built: TileBuilder::default(),
            stored_size: store::tree_size(c)?.max(0) as u64,
            pending: Vec::new(),
            reported: false,
        })
    }

    /// The next stored leaf hash (hex); one that does not read stops the
    /// check (the tree check reports the leaf).
    pub fn push(&mut self, leaf_hash: &str) {
        if self.reported {
            return;
        }
        match from_hex(leaf_hash) {
            Some(h) => self.pending.extend(self.built.push(h)),
            None => self.reported = true,
        }
    }

    fn mismatch(&mut self, what: String, findings: &mut Findings) {
        if !self.reported {
            self.reported = true;
            findings.add(Finding::other(format!(
                "{what}: the tiles served to tlog clients and witnesses are not the tree of the stored leaves"
            )));
        }
    }

    /// Compares the full tiles completed since the last call with the stored ones.
    pub fn compare_page(&mut self, c: &mut Conn, findings: &mut Findings) -> AppResult<()> {
        let done: Vec<FullTile> = std::mem::take(&mut self.pending)
            .into_iter()
            .filter(|t| (t.index + 1).saturating_mul(span_of(t.level + 1)) <= self.stored_size)
            .collect();
        if done.is_empty() || self.reported {
            return Ok(());
        }
        let keys: Vec<(i32, i64)> = done
            .iter()
            .map(|t| (i32::from(t.level), t.index as i64))
            .collect();
        let stored = store::tiles(c, &keys)?;
        for t in &done {
            let found = stored
                .iter()
                .find(|s| s.level == i32::from(t.level) && s.tile_index == t.index as i64);
            match found {
                None => self.mismatch(format!("tile {}/{} is missing", t.level, t.index), findings),
                Some(s) if s.hashes != bytes_of(&t.hashes) => {
                    self.mismatch(format!("tile {}/{} differs", t.level, t.index), findings)
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// After the last leaf: the partial tiles, when the tiles hold every leaf.
    pub fn finish(&mut self, c: &mut Conn, findings: &mut Findings) -> AppResult<()> {
        self.compare_page(c, findings)?;
        if self.reported || self.built.size() != self.stored_size {
            // Tiles still being built for leaves stored before them.
            return Ok(());
        }
        let stored = store::tails(c)?;
        let built: Vec<(u8, u64, Vec<u8>)> = self
            .built
            .tails()
            .map(|(l, i, h)| (l, i, bytes_of(h)))
            .collect();
        let same = stored.len() == built.len()
            && stored.iter().zip(&built).all(|(s, (l, i, h))| {
                s.level == i32::from(*l) && s.tile_index == *i as i64 && &s.hashes == h
            });
        if !same {
            self.mismatch("the partial tiles differ".into(), findings);
        }
        Ok(())
    }
}
