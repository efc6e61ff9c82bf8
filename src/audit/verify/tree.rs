//! The log itself, streamed in leaf order: every leaf recomputed from its
//! event, the tree's root at the size of every checkpoint (signed by a trusted
//! key), and the tail that a checkpoint covers. Memory is O(log n): only the
//! tree's right edge and the checkpoints not reached yet are held.

use super::Entry;
use super::findings::{Finding, Findings};
use crate::audit::checkpoint::{SignedCheckpoint, TrustedKey};
use crate::audit::leaf::CanonicalEvent;
use crate::audit::merkle::{Frontier, Hash, from_hex};
use std::collections::BTreeMap;

/// A signed root the tree must reach, and where it was kept.
struct Claim {
    root: Hash,
    source: &'static str,
}

pub struct TreeCheck<'k> {
    keys: &'k [TrustedKey],
    frontier: Frontier,
    /// Checkpoints not reached yet, by size.
    ahead: BTreeMap<u64, Vec<Claim>>,
    /// The largest size whose checkpoints all matched.
    good_size: u64,
    /// The seq of the first leaf after `good_size`.
    seq_after_good: Option<i64>,
    last_leaf_seq: i64,
    /// Whether a leaf index was found missing (reported once).
    gap_reported: bool,
}

impl<'k> TreeCheck<'k> {
    pub fn new(keys: &'k [TrustedKey]) -> Self {
        TreeCheck {
            keys,
            frontier: Frontier::default(),
            ahead: BTreeMap::new(),
            good_size: 0,
            seq_after_good: None,
            last_leaf_seq: 0,
            gap_reported: false,
        }
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// A checkpoint to hold the tree to; give it before the tree reaches its
    /// size (a reader adds those of each page before the page's leaves).
    pub fn add_checkpoint(
        &mut self,
        cp: &SignedCheckpoint,
        source: &'static str,
        findings: &mut Findings,
    ) {
        if !cp.verify(self.keys) {
            findings.add(Finding::other(format!(
                "the checkpoint of size {} in the {source} is not signed by a trusted key (key id {})",
                cp.size,
                hex::encode(cp.key_id)
            )));
            return;
        }
        let claim = Claim {
            root: cp.root,
            source,
        };
        if cp.size == 0 {
            return;
        }
        if cp.size <= self.size() {
            // Reached already: only possible for a size given late; it cannot be
            // checked against a tree that has moved on.
            findings.add(Finding::other(format!(
                "the checkpoint of size {} in the {source} came out of order and could not be checked",
                cp.size
            )));
            return;
        }
        self.ahead.entry(cp.size).or_default().push(claim);
    }

    /// The next leaf, in leaf order.
    pub fn push_leaf(&mut self, e: &Entry, findings: &mut Findings) {
        let pos = self.size();
        let index = e.leaf_index.unwrap_or(pos as i64);
        if index != pos as i64 && !self.gap_reported {
            self.gap_reported = true;
            findings.add(Finding::event(
                e.seq,
                format!(
                    "leaf {pos} is missing from the log (the next leaf is {index}, event seq {}): events are out of order or removed",
                    e.seq
                ),
            ));
        }
        let recomputed = e.event.as_ref().map(CanonicalEvent::leaf_hash);
        match (&recomputed, &e.leaf_hash) {
            (None, _) => findings.add(Finding::event(
                e.seq,
                format!(
                    "event seq {} (leaf {index}) has been removed from the log",
                    e.seq
                ),
            )),
            (Some(h), Some(stored)) if from_hex(stored).as_ref() != Some(h) => {
                findings.add(Finding::event(
                    e.seq,
                    format!(
                        "event seq {} (leaf {index}) does not match its leaf hash: it was altered",
                        e.seq
                    ),
                ))
            }
            _ => {}
        }
        let hash = recomputed
            .or_else(|| e.leaf_hash.as_deref().and_then(from_hex))
            .unwrap_or([0; 32]);
        if pos == self.good_size {
            self.seq_after_good = Some(e.seq);
        }
        self.frontier.push(hash);
        self.last_leaf_seq = e.seq;
        self.reach(findings);
    }

    /// Compares the checkpoints of the size just reached.
    fn reach(&mut self, findings: &mut Findings) {
        let size = self.size();
        let Some(claims) = self.ahead.remove(&size) else {
            return;
        };
        let root = self.frontier.root();
        let mut all_match = true;
        for c in claims.iter().filter(|c| c.root != root) {
            all_match = false;
            let good = self.good_size;
            findings.add(Finding::range(
                good,
                self.seq_after_good,
                format!(
                    "the first {size} leaves do not hash to the root of the signed checkpoint of that size in the {}; \
                     they matched up to {good}: the log was rewritten from leaf {good} on",
                    c.source
                ),
            ));
        }
        if all_match {
            self.good_size = size;
        }
    }

    /// After the last leaf: a checkpoint larger than the tree means its tail
    /// was removed.
    pub fn finish(&mut self, findings: &mut Findings) {
        if let Some((&size, claims)) = self.ahead.iter().next() {
            let last = self.last_leaf_seq;
            findings.add(Finding::event(
                last + 1,
                format!(
                    "the log holds {} leaves but a signed checkpoint in the {} covers {size}: the tail after event seq {last} was removed",
                    self.size(),
                    claims[0].source
                ),
            ));
        }
        self.ahead.clear();
    }
}
