//! Two threads for one pass of the verifier: this one reads the database, a
//! second checks what was read, handed over in buffers through a bounded
//! channel and handed back emptied to be filled again, so that neither the
//! memory held nor the allocations made grow with the log (the allocator
//! returns freed pages to the system at once, so a buffer allocated afresh
//! for every batch costs page faults: measured with perf).

use crate::error::{AppError, AppResult};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

/// Buffers on their way to the checking thread at most.
const DEPTH: usize = 2;

/// The reading side's end: buffers to fill, and where to send them.
pub struct Handoff<T> {
    full: SyncSender<T>,
    free: Receiver<T>,
}

impl<T: Default> Handoff<T> {
    /// A buffer to fill: one handed back (not yet cleared), or a new one.
    pub fn buffer(&self) -> T {
        self.free.try_recv().unwrap_or_default()
    }

    pub fn send(&self, t: T) -> AppResult<()> {
        self.full
            .send(t)
            .map_err(|_| AppError::internal("the checking thread of verify stopped"))
    }
}

/// Runs `read` here and `check` (with its `state`) on a second thread over
/// every buffer `read` sends, in order; returns what each ended with.
pub fn pipeline<T, R, S>(
    state: S,
    mut check: impl FnMut(&mut S, &mut T) + Send,
    read: impl FnOnce(&Handoff<T>) -> AppResult<R>,
) -> AppResult<(R, S)>
where
    T: Default + Send,
    S: Send,
{
    let (full_tx, full_rx) = sync_channel::<T>(DEPTH);
    let (free_tx, free_rx) = channel::<T>();
    let (read, checked) = std::thread::scope(|s| {
        let checker = s.spawn(move || {
            let mut state = state;
            for mut t in full_rx {
                check(&mut state, &mut t);
                let _ = free_tx.send(t);
            }
            state
        });
        let handoff = Handoff {
            full: full_tx,
            free: free_rx,
        };
        let read = read(&handoff);
        drop(handoff);
        (read, checker.join().ok())
    });
    let state =
        checked.ok_or_else(|| AppError::internal("the checking thread of verify panicked"))?;
    Ok((read?, state))
}
