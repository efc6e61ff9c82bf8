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

use super::checkpoint::{SignedCheckpoint, Signer, TrustedKey};
use super::leaf::CanonicalEvent;
use super::merkle::{Hash, Tree, from_hex, to_hex};
use crate::db::log::{self as store, CheckpointRow, LeafRow};
use crate::db::{Conn, Db, now_micros, rfc3339};
use crate::error::{AppError, AppResult};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Events integrated per round at most.
const ROUND_LIMIT: i64 = 20_000;

/// How long committed events may be held back before the sequencer warns.
const STALL_WARNING: Duration = Duration::from_secs(5);

/// How far the tree lags what is committed (PostgreSQL).
struct Lag {
    seconds: prometheus::Gauge,
    held_back: prometheus::IntGauge,
    warned: AtomicBool,
}

impl Lag {
    fn new() -> Lag {
        Lag {
            seconds: prometheus::Gauge::new(
                "closure_audit_sequencer_lag_seconds",
                "Age of the oldest committed event held back from the tree by an older open transaction (PostgreSQL)",
            )
            .expect("metric"),
            held_back: prometheus::IntGauge::new(
                "closure_audit_sequencer_held_back_events",
                "Committed events held back from the tree by an older open transaction (PostgreSQL)",
            )
            .expect("metric"),
            warned: AtomicBool::new(false),
        }
    }
}

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
    lag: Lag,
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
            lag: Lag::new(),
        }
    }

    pub fn size(&self) -> u64 {
        self.tree.read().expect("tree lock").size()
    }

    /// Reads leaves the tree does not have yet into `tree`.
    fn sync_into(tree: &mut Tree, c: &mut Conn) -> AppResult<()> {
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

    /// One sequencer round: integrate the events that are ready and sign a
    /// checkpoint of the new size. `None` when another instance holds the lock
    /// or there was nothing to do.
    pub fn round(&self, db: &Db) -> AppResult<Option<SignedCheckpoint>> {
        let mut tree = self.tree.write().expect("tree lock");
        let mut settled = tree.size();
        let result = db.write_blocking(|c| {
            if !store::try_sequencer_lock(c)? {
                return Ok(None);
            }
            Self::sync_into(&mut tree, c)?;
            settled = tree.size();
            let store::Pending {
                events,
                watermark,
                horizon,
            } = store::pending_events(c, ROUND_LIMIT)?;
            let latest = store::latest_checkpoint(c)?;
            if let Some(w) = watermark {
                store::set_watermark(c, w)?;
            }
            if let Some(h) = horizon {
                self.watch_horizon(c, h)?;
            }
            if events.is_empty() && latest.is_some_and(|l| l.tree_size as u64 == settled) {
                return Ok(None);
            }
            let leaves: Vec<LeafRow> = events
                .iter()
                .enumerate()
                .map(|(i, e)| LeafRow {
                    leaf_index: settled as i64 + i as i64,
                    seq: e.seq,
                    leaf_hash: to_hex(&CanonicalEvent::from_row(e).leaf_hash()),
                })
                .collect();
            store::insert_leaves(c, &leaves)?;
            for l in &leaves {
                tree.push(from_hex(&l.leaf_hash).expect("own hex"));
            }
            let size = tree.size();
            let cp = self.signer.sign(size, &tree.root(size).expect("size"));
            store::insert_checkpoint(c, &checkpoint_row(&cp))?;
            Ok(Some(cp))
        });
        match result {
            Ok(cp) => {
                drop(tree);
                if let Some(cp) = &cp {
                    self.witness(cp);
                }
                Ok(cp)
            }
            Err(e) => {
                tree.truncate(settled);
                Err(e)
            }
        }
    }

    fn witness(&self, cp: &SignedCheckpoint) {
        let Some(path) = &self.witness else { return };
        let line = serde_json::to_string(&view(cp, now_micros())).expect("json");
        if let Err(e) = crate::files::append_line(path, &line) {
            tracing::error!(path = %path.display(), error = %e, "cannot append to the checkpoint witness file");
        }
    }

    /// PostgreSQL: how far events committed are held back from the tree by an
    /// older transaction still open (a stall the sequencer cannot help): the
    /// lag in `/metrics`, and a warning naming that transaction once a stall
    /// passes [`STALL_WARNING`].
    fn watch_horizon(&self, c: &mut Conn, horizon: i64) -> AppResult<()> {
        let (n, oldest) = store::held_back(c, horizon)?;
        let lag = oldest.map_or(0.0, |at| (now_micros() - at).max(0) as f64 / 1e6);
        self.lag.held_back.set(n);
        self.lag.seconds.set(lag);
        let stalled = lag >= STALL_WARNING.as_secs_f64();
        if stalled && !self.lag.warned.swap(true, Ordering::Relaxed) {
            let culprit = store::oldest_open_transaction(c)?
                .map(|(pid, what)| format!("pid {pid}: {what}"))
                .unwrap_or_else(|| "unknown".into());
            tracing::warn!(
                held_back = n,
                lag_seconds = lag,
                oldest_open_transaction = %culprit,
                "sequencer stalled: committed events wait for an older transaction still open on the server"
            );
        } else if !stalled && self.lag.warned.swap(false, Ordering::Relaxed) {
            tracing::info!("sequencer: no longer held back");
        }
        Ok(())
    }

    /// The sequencer's gauges, for `/metrics`.
    pub fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.lag.seconds.clone()),
            Box::new(self.lag.held_back.clone()),
        ]
    }

    /// Runs rounds every `interval` on a thread of its own until [`Log::stop`].
    pub fn spawn(self: &Arc<Self>, db: Db, interval: Duration) {
        let log = self.clone();
        let handle = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || {
                let mut failing = false;
                while !log.stop.load(Ordering::Relaxed) {
                    match log.round(&db) {
                        Ok(_) if failing => {
                            tracing::info!("sequencer: recovered");
                            failing = false;
                        }
                        Ok(_) => {}
                        Err(e) if !failing => {
                            tracing::warn!(error = %e, "sequencer round failed; retrying");
                            failing = true;
                        }
                        Err(_) => {}
                    }
                    std::thread::sleep(interval);
                }
            })
            .expect("sequencer thread");
        *self.thread.lock().expect("thread lock") = Some(handle);
    }

    /// Asks the sequencer to stop after its current round.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the sequencer and waits for its round to end.
    pub fn stop_and_wait(&self) {
        self.stop();
        if let Some(h) = self.thread.lock().expect("thread lock").take() {
            let _ = h.join();
        }
    }

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
                format!("the log holds {have} leaves"),
            ));
        }
        Ok(())
    }

    /// The leaf hash and audit path of leaf `index` in the tree of `size`.
    pub fn inclusion(&self, db: &Db, index: u64, size: u64) -> AppResult<(Hash, Vec<Hash>)> {
        if index >= size {
            return Err(AppError::field("leaf_index", "must be less than tree_size"));
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
            return Err(AppError::field("first", "must be at least 1"));
        }
        if first > second {
            return Err(AppError::field("second", "must not be less than first"));
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

fn checkpoint_row(cp: &SignedCheckpoint) -> CheckpointRow {
    CheckpointRow {
        tree_size: cp.size as i64,
        root_hash: to_hex(&cp.root),
        key_id: hex::encode(cp.key_id),
        signature: B64.encode(cp.signature),
        note: cp.note.clone(),
        created_at: now_micros(),
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
