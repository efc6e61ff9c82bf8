//! The tamper-evident log: an in-memory Merkle tree kept in step with the
//! `merkle_leaves` table, and the sequencer that integrates committed events
//! and signs a checkpoint after each round, in the manner of Trillian's
//! integrator. Ingest never waits for it: events are written with the change
//! they record, and the sequencer follows within a fraction of a second.
//!
//! With several instances on one PostgreSQL, a round runs under a
//! transaction-scoped advisory lock, so exactly one instance sequences at a
//! time and the log never forks; the others keep their trees in step by reading
//! the leaves.
//!
//! Every checkpoint this instance signs is also appended to a witness file
//! outside the database (`<data_dir>/checkpoints.ndjson`): someone who can
//! rewrite the database cannot rewrite what was already witnessed.

mod proofs;
mod sequencer;
mod tree;
mod witness;

use super::checkpoint::{SignedCheckpoint, Signer, TrustedKey};
use super::merkle::{Tree, to_hex};
use crate::db::log::CheckpointRow;
use crate::db::rfc3339;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::RwLock;
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
    tree: RwLock<Tree>,
    pub signer: Signer,
    /// Keys whose checkpoints are trusted: this one, and earlier ones after a rotation.
    pub trusted: Vec<TrustedKey>,
    pub witness: Option<PathBuf>,
    stop: AtomicBool,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    lag: sequencer::Lag,
}

impl Log {
    pub fn new(signer: Signer, previous_keys: Vec<TrustedKey>, witness: Option<PathBuf>) -> Log {
        let mut trusted = vec![signer.trusted()];
        trusted.extend(previous_keys);
        Log {
            tree: RwLock::new(Tree::new()),
            signer,
            trusted,
            witness,
            stop: AtomicBool::new(false),
            thread: Default::default(),
            lag: sequencer::Lag::new(),
        }
    }

    pub fn size(&self) -> u64 {
        self.tree.read().expect("tree lock").size()
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
