//! The sequencer: rounds that integrate committed events and sign a
//! checkpoint, on a thread of their own.

use super::{Log, stored};
use crate::audit::checkpoint::SignedCheckpoint;
use crate::audit::leaf::CanonicalEvent;
use crate::audit::merkle::{from_hex, to_hex};
use crate::audit::tiles::{FullTile, TileBuilder, bytes_of};
use crate::db::log::{self as store, CheckpointRow, LeafRow};
use crate::db::tiles::{self, TailRow, TileRow};
use crate::db::{Conn, Db, now_micros};
use crate::error::AppResult;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Events integrated per round at most, unless configured
/// (`sequencer_round_events`).
pub(super) const ROUND_EVENTS: i64 = 20_000;

/// Leaves stored before tiles that one round builds tiles for, at most.
const CATCH_UP_LIMIT: i64 = 200_000;

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
    /// One sequencer round: integrate the events that are ready, store the
    /// tiles they complete and the new right edge, and sign a checkpoint of the
    /// new size, all in one transaction. `None` when another instance holds the
    /// lock, there was nothing to do, or the round only built tiles for leaves
    /// stored before tiles were (see [`Log::catch_up`]).
    pub fn round(&self, db: &Db) -> AppResult<Option<SignedCheckpoint>> {
        let cursor = *self.cursor.lock().expect("cursor lock");
        let mut next_cursor = None;
        let cp = db.write_blocking(|c| {
            if !store::try_sequencer_lock(c)? {
                return Ok(None);
            }
            let mut edge = stored::edge(c)?;
            let start = edge.size();
            let mut full = Vec::new();
            if !self.catch_up(c, &mut edge, &mut full)? {
                write_edge(c, &edge, &full)?;
                return Ok(None);
            }
            let store::Pending {
                events,
                watermark,
                horizon,
                cursor,
            } = store::pending_events(c, self.round_events, cursor)?;
            next_cursor = cursor;
            self.backlog
                .store(events.len() as i64 >= self.round_events, Ordering::Relaxed);
            let latest = store::latest_checkpoint(c)?;
            if let Some(w) = watermark {
                store::set_watermark(c, w)?;
            }
            if let Some(h) = horizon {
                self.watch_horizon(c, h)?;
            }
            let signed = latest.is_some_and(|l| l.tree_size as u64 == edge.size());
            if events.is_empty() && signed {
                if edge.size() != start {
                    write_edge(c, &edge, &full)?;
                }
                return Ok(None);
            }
            let from = edge.size() as i64;
            let mut leaves = Vec::with_capacity(events.len());
            for (i, e) in events.into_iter().enumerate() {
                let seq = e.seq;
                let hash = CanonicalEvent::from_owned_row(e).leaf_hash();
                full.extend(edge.push(hash));
                leaves.push(LeafRow {
                    leaf_index: from + i as i64,
                    seq,
                    leaf_hash: to_hex(&hash),
                });
            }
            store::insert_leaves(c, &leaves)?;
            write_edge(c, &edge, &full)?;
            let cp = self.signer.sign(edge.size(), &edge.root());
            store::insert_checkpoint(c, &checkpoint_row(&cp))?;
            Ok(Some(cp))
        })?;
        // Kept only once the round has committed: a cursor says what the tree holds.
        *self.cursor.lock().expect("cursor lock") = next_cursor;
        if let Some(cp) = &cp {
            self.witness(cp);
        }
        Ok(cp)
    }

    /// Leaves stored before the tiles were (a log from before tiles, or a
    /// round that stored leaves and tiles but was interrupted cannot leave
    /// that: they commit together) are pushed into the edge, at most
    /// [`CATCH_UP_LIMIT`] per round; `true` once the tiles hold every leaf.
    fn catch_up(
        &self,
        c: &mut Conn,
        edge: &mut TileBuilder,
        full: &mut Vec<FullTile>,
    ) -> AppResult<bool> {
        let stored = tiles::leaves_stored(c)?;
        if stored as u64 <= edge.size() {
            self.catching_up.store(false, Ordering::Relaxed);
            return Ok(true);
        }
        if !self.catching_up.swap(true, Ordering::Relaxed) {
            tracing::info!(
                tiled = edge.size(),
                leaves = stored,
                "building tiles for leaves stored before tiles"
            );
        }
        let from = edge.size() as i64;
        let rows = store::leaves_from(c, from, CATCH_UP_LIMIT)?;
        for (i, r) in rows.iter().enumerate() {
            let hash = from_hex(&r.leaf_hash)
                .filter(|_| r.leaf_index == from + i as i64)
                .ok_or_else(|| stored::damaged(format!("leaf {}", from + i as i64)))?;
            full.extend(edge.push(hash));
        }
        Ok(edge.size() >= stored as u64)
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
                    let result = log.round(&db);
                    // Behind (tiles to build, or a full round with more
                    // events waiting): the next round starts at once.
                    let behind = log.catching_up.load(Ordering::Relaxed)
                        || log.backlog.load(Ordering::Relaxed);
                    match result {
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
                    if !behind || failing {
                        std::thread::sleep(interval);
                    }
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

/// Stores the tiles a round completed, the new right edge and its size.
fn write_edge(c: &mut Conn, edge: &TileBuilder, full: &[FullTile]) -> AppResult<()> {
    let rows: Vec<TileRow> = full
        .iter()
        .map(|t| TileRow {
            level: i32::from(t.level),
            tile_index: t.index as i64,
            hashes: bytes_of(&t.hashes),
        })
        .collect();
    tiles::insert_tiles(c, &rows)?;
    let tails: Vec<TailRow> = edge
        .tails()
        .map(|(level, index, hashes)| TailRow {
            level: i32::from(level),
            tile_index: index as i64,
            hashes: bytes_of(hashes),
        })
        .collect();
    tiles::replace_tails(c, &tails)?;
    tiles::set_tree_size(c, edge.size() as i64)
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
