//! SQLite WAL checkpoints off the writer.
//!
//! By default the connection whose commit fills the WAL past 1,000 pages copies
//! the WAL back into the database file itself, inside that commit, and SQLite
//! has one writer: every writer waits meanwhile. Here a thread of its own runs
//! passive checkpoints (which never block the writer or readers) every
//! [`INTERVAL`], on the other core, and the writer's automatic checkpoint is
//! kept only as a backstop at a larger size.

use super::sqlite_uri;
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const INTERVAL: Duration = Duration::from_millis(100);

/// WAL pages past which a committing writer checkpoints by itself (the
/// backstop, should this thread fall behind).
pub const WRITER_AUTOCHECKPOINT_PAGES: u32 = 50_000;

/// Stops the thread when the last clone of the database handle is dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Checkpointer {
    pub fn start(path: &Path, busy_timeout_ms: u64) -> Checkpointer {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, uri) = (stop.clone(), sqlite_uri(path, false));
        let spawned = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                let mut conn = None;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(INTERVAL);
                    if conn.is_none() {
                        conn = SqliteConnection::establish(&uri).ok().and_then(|mut c| {
                            c.batch_execute(&format!("PRAGMA busy_timeout = {busy_timeout_ms};"))
                                .ok()
                                .map(|_| c)
                        });
                    }
                    if let Some(c) = conn.as_mut()
                        && let Err(e) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);")
                    {
                        tracing::debug!(error = %e, "WAL checkpoint failed; reconnecting");
                        conn = None;
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no WAL checkpoint thread; the writer checkpoints");
        }
        Checkpointer { stop }
    }
}
