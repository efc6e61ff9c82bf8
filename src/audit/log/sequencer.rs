//! The sequencer: rounds that integrate committed events and sign a
//! checkpoint, on a thread of their own.

use super::Log;
use crate::audit::checkpoint::SignedCheckpoint;
use crate::audit::leaf::CanonicalEvent;
use crate::audit::merkle::{from_hex, to_hex};
use crate::db::log::{self as store, CheckpointRow, LeafRow};
use crate::db::{Conn, Db, now_micros};
use crate::error::AppResult;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Events integrated per round at most.
const ROUND_LIMIT: i64 = 20_000;

/// How long committed events may be held back before the sequencer warns.
const STALL_WARNING: Duration = Duration::from_secs(5);

/// How far the tree lags what is committed (PostgreSQL).
pub(super) struct Lag {
    seconds: prometheus::Gauge,
    held_back: prometheus::IntGauge,
    warned: AtomicBool,
}

impl Lag {
    pub(super) fn new() -> Lag {
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

impl Log {
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
