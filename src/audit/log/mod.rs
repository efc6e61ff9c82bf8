//! The tamper-evident log: the sequencer that integrates committed events
//! into a Merkle tree stored as tlog-tiles, signs a checkpoint after each
//! round (in the manner of Trillian Tessera's integrator), and the proofs and
//! roots computed from the stored tiles. Ingest never waits for it: events are
//! written with the change they record, and the sequencer follows within a
//! fraction of a second. No instance holds the tree in memory, and start-up
//! reads no leaves.
//!
//! # Invariants (what the tables hold between rounds)
//! - `merkle_leaves` holds leaves `0..n`, each naming one event by `seq`;
//!   append-only. On SQLite leaves follow `seq` order; on PostgreSQL, the
//!   order in which transactions became final (see [`crate::db::log::pending_events`]).
//! - PostgreSQL: every event of a transaction below `log_state.watermark` is
//!   in the tree. Between full rounds the sequencer keeps a cursor
//!   ([`crate::db::log::Cursor`], set only after its round committed): every
//!   event of a transaction in `[watermark, cursor.horizon)` up to
//!   `cursor.last_seq` is in the tree, so the next round reads on from there.
//! - `log_state.tree_size` = `n`: the leaves the tiles hold. `merkle_tiles`
//!   holds every full tile of the tree of `n` leaves (written once,
//!   append-only), and `merkle_tile_tails` each level's partial tile of that
//!   tree (rewritten by every round); together they are tlog-tiles v0.1.0's
//!   tiles of size `n`, so a partial tile of width `W` for any size up to `n` is
//!   a prefix of the full tile or of the partial one.
//! - A round writes the leaves, the tiles, the edge, `tree_size` and the
//!   checkpoint of the new size in one transaction, under the sequencer's lock
//!   (PostgreSQL: an advisory lock, so exactly one instance sequences at a time
//!   and the log never forks; SQLite: its one writer). A round that fails
//!   leaves nothing behind, and the next resumes from what is stored.
//! - Every checkpoint's size is at most `tree_size`, and its root is the
//!   root of the tiles at that size.
//! - The only exception: a log from before tiles has leaves beyond
//!   `tree_size`; rounds build their tiles from the stored leaf hashes first
//!   ([`Log::catch_up`]) before integrating anything new.
//!
//! Every checkpoint this instance signs is also appended to a witness file
//! outside the database (`<data_dir>/checkpoints.ndjson`): someone who can
//! rewrite the database cannot rewrite what was already witnessed.

pub mod cosigning;
mod proofs;
mod sequencer;
mod stored;
mod witness;

use super::checkpoint::{SignedCheckpoint, Signer, TrustedKey};
use super::merkle::to_hex;
use crate::db::log::CheckpointRow;
use crate::db::rfc3339;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// A checkpoint as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    pub origin: String,
    pub tree_size: u64,
    /// Hex.
    pub root_hash: String,
    pub timestamp: String,
    /// Base64 of the raw 64-byte Ed25519 signature.
    pub signature: String,
    /// Hex C2SP key id.
    pub key_id: String,
    /// The checkpoint as a C2SP signed note.
    pub note: String,
}

impl CheckpointView {
    pub fn from_row(r: &CheckpointRow, origin: &str) -> Self {
        CheckpointView {
            origin: SignedCheckpoint::parse(&r.note)
                .map(|c| c.origin)
                .unwrap_or_else(|_| origin.to_string()),
            tree_size: r.tree_size as u64,
            root_hash: r.root_hash.clone(),
            timestamp: rfc3339(r.created_at),
            signature: r.signature.clone(),
            key_id: r.key_id.clone(),
            note: r.note.clone(),
        }
    }
}

pub struct Log {
    pub signer: Signer,
    /// Keys whose checkpoints are trusted: this one, and earlier ones after a rotation.
    pub trusted: Vec<TrustedKey>,
    pub witness: Option<PathBuf>,
    stop: AtomicBool,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    lag: sequencer::Lag,
    /// Rounds are building tiles for leaves stored before tiles.
    catching_up: AtomicBool,
    /// The last round took as many events as a round may: more are waiting,
    /// so the next round starts at once.
    backlog: AtomicBool,
    /// Events a round integrates at most.
    round_events: i64,
    /// PostgreSQL: where the last full round stopped (see [`crate::db::log::Cursor`]).
    cursor: std::sync::Mutex<Option<crate::db::log::Cursor>>,
}

impl Log {
    pub fn new(signer: Signer, previous_keys: Vec<TrustedKey>, witness: Option<PathBuf>) -> Log {
        let mut trusted = vec![signer.trusted()];
        trusted.extend(previous_keys);
        Log {
            signer,
            trusted,
            witness,
            stop: AtomicBool::new(false),
            thread: Default::default(),
            lag: sequencer::Lag::new(),
            catching_up: AtomicBool::new(false),
            backlog: AtomicBool::new(false),
            cursor: Default::default(),
            round_events: sequencer::ROUND_EVENTS,
        }
    }

    /// At most `n` events per round (`sequencer_round_events`).
    pub fn with_round_events(mut self, n: u32) -> Log {
        self.round_events = i64::from(n.max(1));
        self
    }
}

/// The API's view of a checkpoint just signed.
pub fn view(cp: &SignedCheckpoint, at: i64) -> CheckpointView {
    CheckpointView {
        origin: cp.origin.clone(),
        tree_size: cp.size,
        root_hash: to_hex(&cp.root),
        timestamp: rfc3339(at),
        signature: B64.encode(cp.signature),
        key_id: hex::encode(cp.key_id),
        note: cp.note.clone(),
    }
}
