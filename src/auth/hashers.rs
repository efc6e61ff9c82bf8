//! Threads that do the password hashing (argon2id, ~27 ms of one core each).
//!
//! Hashing runs on threads of its own at a lower scheduling priority (nice 10),
//! one per core: when the machine is otherwise idle, logins have every core, and
//! when closures are being posted, the scheduler serves those first, so that a
//! storm of logins does not slow ingest down. At most [`QUEUE_PER_THREAD`] jobs
//! per thread may wait; past that a login is answered 503 with `Retry-After`.

use crate::error::{AppError, AppResult};
use crossbeam_channel::{Sender, TrySendError};
use tokio::sync::oneshot;

/// Jobs that may wait per hashing thread (about half a second of work each).
pub const QUEUE_PER_THREAD: usize = 16;

/// The scheduling priority of the hashing threads (0 is normal, 19 the lowest).
const NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Hashers {
    tx: Sender<Job>,
}

impl Hashers {
    /// Starts `threads` hashing threads (0: one per core).
    pub fn start(threads: usize) -> std::io::Result<Hashers> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let (tx, rx) = crossbeam_channel::bounded::<Job>(threads * QUEUE_PER_THREAD);
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    lower_priority();
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })?;
        }
        Ok(Hashers { tx })
    }

    /// Runs `f` on a hashing thread and waits for it without holding a worker.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let (reply, answer) = oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move || {
            let _ = reply.send(span.in_scope(f));
        });
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => AppError::Unavailable(
                "too many sign-ins are waiting for a password check; retry shortly".into(),
            ),
            TrySendError::Disconnected(_) => {
                AppError::Unavailable("the password checkers have stopped".into())
            }
        })?;
        answer
            .await
            .map_err(|_| AppError::internal("a password check was dropped"))
    }
}

/// Lowers the calling thread's priority (Linux: niceness is per thread).
fn lower_priority() {
    // SAFETY: gettid and setpriority take no pointers; a failure leaves the
    // priority as it was, which is harmless.
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, NICE)
    };
    if result != 0 {
        tracing::debug!("could not lower the priority of a password thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_answers() {
        let hashers = Hashers::start(2).unwrap();
        let answers: Vec<u32> = futures_util::future::join_all((0..10u32).map(|i| {
            let h = hashers.clone();
            async move { h.run(move || i * 2).await.unwrap() }
        }))
        .await;
        assert_eq!(answers, (0..10).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_full_queue_is_a_503() {
        let hashers = Hashers::start(1).unwrap();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let h = hashers.clone();
        let blocker = tokio::spawn(async move {
            h.run(move || {
                let _ = wait.recv();
            })
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let queued: Vec<_> = (0..QUEUE_PER_THREAD)
            .map(|_| {
                let h = hashers.clone();
                tokio::spawn(async move { h.run(|| ()).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let refused = hashers.run(|| ()).await;
        assert!(
            matches!(refused, Err(AppError::Unavailable(_))),
            "{refused:?}"
        );
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for q in queued {
            q.await.unwrap().unwrap();
        }
    }
}
