//! Group commit: the writes of concurrent requests committed in one transaction.
//!
//! A request hands its job to a [`GroupWriter`] and awaits the answer; it holds
//! no thread while it waits. Each writer thread takes the first waiting job, then
//! every job that queued behind it (up to a weight, counted in rows), and runs
//! them all through one call of the writer's function in one transaction. Under
//! load a commit serves many requests; alone, a job is committed at once, with no
//! timer to wait for.
//!
//! When a group's transaction fails for a reason other than the database being
//! unreachable, each job is run again on its own, so that one job's failure is
//! never another's.
//!
//! On SQLite one writer thread is right (the database has one writer anyway); on
//! PostgreSQL several overlap their round trips.

use super::{Conn, Db};
use crate::error::{AppError, AppResult};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::panic::AssertUnwindSafe;
use std::time::Instant;
use tokio::sync::oneshot;

/// Runs a group of jobs inside one transaction; answers one result per job, in
/// the order of the jobs.
pub type GroupFn<J, R> = dyn Fn(&mut Conn<'_>, &[J]) -> AppResult<Vec<R>> + Send + Sync;

struct Pending<J, R> {
    job: J,
    weight: usize,
    /// When the job has waited as long as a write may wait for a connection.
    deadline: Instant,
    reply: oneshot::Sender<AppResult<R>>,
}

/// How a [`GroupWriter`] is sized.
#[derive(Debug, Clone, Copy)]
pub struct GroupOptions {
    /// Writer threads (connections writing at once).
    pub writers: usize,
    /// A group stops taking jobs once their weights reach this.
    pub max_weight: usize,
    /// Jobs that may wait; beyond it a request is told to come back (503).
    pub queue: usize,
}

/// A queue of write jobs and the threads that commit them in groups. Cheap to
/// clone; the threads stop when the last clone is dropped.
pub struct GroupWriter<J, R> {
    tx: Sender<Pending<J, R>>,
    name: &'static str,
    db: Db,
}

impl<J, R> Clone for GroupWriter<J, R> {
    fn clone(&self) -> Self {
        GroupWriter {
            tx: self.tx.clone(),
            name: self.name,
            db: self.db.clone(),
        }
    }
}

impl<J: Send + 'static, R: Send + 'static> GroupWriter<J, R> {
    /// Starts `opts.writers` threads named `name` that commit jobs with `run`.
    pub fn start(
        db: Db,
        name: &'static str,
        opts: GroupOptions,
        run: impl Fn(&mut Conn<'_>, &[J]) -> AppResult<Vec<R>> + Send + Sync + 'static,
    ) -> std::io::Result<GroupWriter<J, R>> {
        let (tx, rx) = crossbeam_channel::bounded(opts.queue.max(1));
        let run: std::sync::Arc<GroupFn<J, R>> = std::sync::Arc::new(run);
        for i in 0..opts.writers.max(1) {
            let (db, rx, run) = (db.clone(), rx.clone(), run.clone());
            let max_weight = opts.max_weight.max(1);
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || writer_loop(&db, &rx, &*run, max_weight))?;
        }
        Ok(GroupWriter { tx, name, db })
    }

    /// Queues `job` (of `weight` rows) and waits for its group to commit.
    pub async fn submit(&self, job: J, weight: usize) -> AppResult<R> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Pending {
                job,
                weight,
                deadline: Instant::now() + self.db.write_wait(),
                reply,
            })
            .map_err(|e| match e {
                TrySendError::Full(_) => {
                    AppError::Unavailable(format!("the {} queue is full; retry shortly", self.name))
                }
                TrySendError::Disconnected(_) => {
                    AppError::Unavailable(format!("the {} writer has stopped", self.name))
                }
            })?;
        answer
            .await
            .map_err(|_| AppError::internal(format!("the {} writer dropped a job", self.name)))?
    }
}

fn writer_loop<J, R>(
    db: &Db,
    rx: &Receiver<Pending<J, R>>,
    run: &GroupFn<J, R>,
    max_weight: usize,
) {
    while let Ok(first) = rx.recv() {
        let mut weight = first.weight;
        let mut group = vec![first];
        while weight < max_weight {
            match rx.try_recv() {
                Ok(next) => {
                    weight += next.weight;
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        commit_group(db, run, group);
    }
}

fn commit_group<J, R>(db: &Db, run: &GroupFn<J, R>, group: Vec<Pending<J, R>>) {
    // The group waits for a connection no longer than its oldest job may.
    let deadline = group.iter().map(|p| p.deadline).min();
    let wait = deadline.map_or(db.write_wait(), |d| {
        d.saturating_duration_since(Instant::now())
    });
    let (jobs, replies): (Vec<J>, Vec<_>) = group.into_iter().map(|p| (p.job, p.reply)).unzip();
    let result = if wait.is_zero() {
        Err(AppError::Unavailable(
            "no database connection became free in time".into(),
        ))
    } else {
        attempt(db, run, &jobs, wait)
    };
    match result {
        Ok(results) => answer(replies, results),
        Err(AppError::Unavailable(m)) => {
            for reply in replies {
                let _ = reply.send(Err(AppError::Unavailable(m.clone())));
            }
        }
        Err(e) if jobs.len() == 1 => {
            let _ = replies.into_iter().next().map(|r| r.send(Err(e)));
        }
        Err(e) => {
            tracing::debug!(error = %e, jobs = jobs.len(), "group failed; committing its jobs one by one");
            for (job, reply) in jobs.iter().zip(replies) {
                let result = attempt(db, run, std::slice::from_ref(job), db.write_wait())
                    .and_then(|mut r| r.pop().ok_or_else(|| AppError::internal("no result")));
                let _ = reply.send(result);
            }
        }
    }
}

/// One transaction over `jobs`, waiting at most `wait` for a connection; a
/// panic inside is a 500 for these jobs, never a dead writer.
fn attempt<J, R>(
    db: &Db,
    run: &GroupFn<J, R>,
    jobs: &[J],
    wait: std::time::Duration,
) -> AppResult<Vec<R>> {
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| db.write_within(wait, |c| run(c, jobs))))
            .unwrap_or_else(|_| Err(AppError::internal("a group writer panicked")))?;
    if result.len() == jobs.len() {
        Ok(result)
    } else {
        Err(AppError::internal(format!(
            "a group of {} jobs gave {} results",
            jobs.len(),
            result.len()
        )))
    }
}

fn answer<R>(replies: Vec<oneshot::Sender<AppResult<R>>>, results: Vec<R>) {
    for (reply, result) in replies.into_iter().zip(results) {
        let _ = reply.send(Ok(result));
    }
}
