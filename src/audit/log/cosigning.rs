//! The witness client: after each new checkpoint, every witness of the policy
//! (`CLOSURE_AUDIT_WITNESS_POLICY`, C2SP tlog-policy) is sent it with
//! `POST <url>/add-checkpoint` (C2SP tlog-witness), with the size that witness
//! last co-signed and the consistency proof from there. A 409 names the size the
//! witness holds (`text/x.tlog.size`), and the request is made again from it.
//! Failures are retried with exponential back-off. Every valid cosignature is
//! kept in the database (append-only). A 422 (the witness found the checkpoint
//! inconsistent with what it saw), a witness that holds a larger tree than this
//! log's, and a 200 without a valid cosignature of the checkpoint sent are
//! alarms: logged, counted in `/metrics` and shown by `/audit/witnesses`.
//!
//! It runs on a thread of its own, so that a slow witness never holds up a
//! request or the sequencer.

use super::Log;
use crate::audit::cosignature::{Note, NoteSignature};
use crate::audit::policy::{Policy, PolicyWitness};
use crate::db::cosignatures::{self as store, CosignatureRow, WitnessStatusRow};
use crate::db::log::{self as log_store, CheckpointRow};
use crate::db::{Db, now_micros};
use crate::error::AppResult;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Http = reqwest::blocking::Client;

/// How long one witness may take to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Back-off after a failure: doubling from the first, up to the last.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// 409s followed in one go before the next cycle takes over.
const MAX_SIZE_HINTS: usize = 3;
/// The most a witness's answer may hold.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the client knows of one witness between cycles.
#[derive(Debug, Clone)]
struct Known {
    /// The size the witness holds, as far as the client knows (0: unknown).
    size: u64,
    /// The size of the last checkpoint it co-signed for this log.
    cosigned: Option<u64>,
    failures: u32,
    next_try: Option<Instant>,
}

pub struct WitnessClient {
    pub policy: Policy,
    known: Mutex<Vec<Known>>,
    alarms: prometheus::IntCounterVec,
    cosigned_size: prometheus::IntGaugeVec,
}

/// An outcome worth recording.
enum Outcome {
    Cosigned(u64),
    Failed(String),
    Alarm(String),
}

impl WitnessClient {
    pub fn new(policy: Policy) -> WitnessClient {
        let n = policy.witnesses.len();
        WitnessClient {
            policy,
            known: Mutex::new(vec![
                Known {
                    size: 0,
                    cosigned: None,
                    failures: 0,
                    next_try: None,
                };
                n
            ]),
            alarms: prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "closure_audit_witness_alarms_total",
                    "Witness answers that say the log may have forked: a 422, a larger tree than the log's, or a 200 without a valid cosignature",
                ),
                &["witness"],
            )
            .expect("metric"),
            cosigned_size: prometheus::IntGaugeVec::new(
                prometheus::Opts::new(
                    "closure_audit_witness_cosigned_size",
                    "The tree size each witness last co-signed",
                ),
                &["witness"],
            )
            .expect("metric"),
        }
    }

    pub fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.alarms.clone()),
            Box::new(self.cosigned_size.clone()),
        ]
    }

    /// Loads what the database says each witness co-signed last.
    fn resume(&self, db: &Db) -> AppResult<()> {
        let rows = db.read_blocking(store::statuses)?;
        let mut known = self.known.lock().expect("known lock");
        for (i, w) in self.policy.witnesses.iter().enumerate() {
            if let Some(r) = rows.iter().find(|r| r.witness == w.name) {
                known[i].cosigned = r.cosigned_size.map(|s| s as u64);
                known[i].size = known[i].cosigned.unwrap_or(0);
                if let Some(s) = known[i].cosigned {
                    self.cosigned_size
                        .with_label_values(&[&w.name])
                        .set(s as i64);
                }
            }
        }
        Ok(())
    }

    /// One pass: every witness that has not co-signed the latest checkpoint
    /// and is not backing off is asked to.
    fn cycle(&self, http: &Http, log: &Log, db: &Db) -> AppResult<()> {
        let Some(latest) = db.read_blocking(log_store::latest_checkpoint)? else {
            return Ok(());
        };
        let size = latest.tree_size as u64;
        for (i, w) in self.policy.witnesses.iter().enumerate() {
            let Some(url) = &w.url else { continue };
            let due = {
                let k = &self.known.lock().expect("known lock")[i];
                k.cosigned != Some(size) && k.next_try.is_none_or(|t| Instant::now() >= t)
            };
            if !due {
                continue;
            }
            let outcome = self.submit(http, log, db, i, url, &latest);
            self.record(db, i, w, outcome)?;
        }
        Ok(())
    }

    /// Sends the checkpoint to witness `i`, following its size hints.
    fn submit(
        &self,
        http: &Http,
        log: &Log,
        db: &Db,
        i: usize,
        url: &str,
        latest: &CheckpointRow,
    ) -> Outcome {
        let size = latest.tree_size as u64;
        let w = &self.policy.witnesses[i];
        let note = match Note::parse(&latest.note) {
            Ok(n) => n,
            Err(e) => return Outcome::Failed(format!("the checkpoint does not parse: {e}")),
        };
        for _ in 0..MAX_SIZE_HINTS {
            let old = self.known.lock().expect("known lock")[i].size;
            if old > size {
                return Outcome::Alarm(format!(
                    "the witness holds a tree of {old} leaves, larger than this log's {size}"
                ));
            }
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                match log.consistency(db, old, size) {
                    Ok(p) => p,
                    Err(e) => {
                        return Outcome::Failed(format!("no consistency proof from {old}: {e}"));
                    }
                }
            };
            let mut body = format!("old {old}\n");
            for h in &proof {
                body.push_str(&B64.encode(h));
                body.push('\n');
            }
            body.push('\n');
            body.push_str(&latest.note);
            let answer = http
                .post(format!("{url}/add-checkpoint"))
                .body(body)
                .send()
                .and_then(|r| {
                    let status = r.status().as_u16();
                    let kind = r
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    r.text().map(|t| (status, kind, t))
                });
            let (status, kind, text) = match answer {
                Ok(a) => a,
                Err(e) => return Outcome::Failed(format!("no answer: {e}")),
            };
            if text.len() > MAX_ANSWER_BYTES {
                return Outcome::Failed(format!("an answer of {} bytes", text.len()));
            }
            match status {
                200 => return self.keep(db, w, &note, size, &text),
                409 if kind.starts_with("text/x.tlog.size") => {
                    match text.trim_end_matches('\n').parse::<u64>() {
                        Ok(n) if n != old => {
                            self.known.lock().expect("known lock")[i].size = n;
                        }
                        _ => return Outcome::Failed(format!("a 409 naming no new size: {text:?}")),
                    }
                }
                422 => {
                    return Outcome::Alarm(format!(
                        "the witness refused the checkpoint of {size} leaves as inconsistent (422): {}",
                        text.trim()
                    ));
                }
                s => return Outcome::Failed(format!("HTTP {s}: {}", text.trim())),
            }
        }
        Outcome::Failed("the witness kept naming other sizes (409)".into())
    }

    /// Keeps the witness's valid cosignatures of `note`; an answer without one
    /// is an alarm (it co-signed something other than what was sent).
    fn keep(&self, db: &Db, w: &PolicyWitness, note: &Note, size: u64, text: &str) -> Outcome {
        let mut kept = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let Ok(sig) = NoteSignature::parse_line(line) else {
                continue;
            };
            if let Some(ts) = w.key.verify(&note.body, &sig) {
                kept.push(CosignatureRow {
                    tree_size: size as i64,
                    witness: sig.name.clone(),
                    key_id: hex::encode(sig.key_id),
                    cosigned_at: ts as i64,
                    line: sig.line().trim_end().to_string(),
                    received_at: now_micros(),
                });
            }
        }
        if kept.is_empty() {
            return Outcome::Alarm(format!(
                "the witness answered 200 without a valid cosignature of the checkpoint of {size} leaves"
            ));
        }
        let stored = db.write_blocking(|c| {
            for row in &kept {
                store::insert(c, row)?;
            }
            Ok(())
        });
        match stored {
            Ok(()) => Outcome::Cosigned(size),
            Err(e) => Outcome::Failed(format!("cannot keep the cosignature: {e}")),
        }
    }

    /// Updates what is known of witness `i` after `outcome`, in memory and in
    /// the database.
    fn record(&self, db: &Db, i: usize, w: &PolicyWitness, outcome: Outcome) -> AppResult<()> {
        let now = now_micros();
        let mut alarm = false;
        let (error, cosigned) = {
            let mut known = self.known.lock().expect("known lock");
            let k = &mut known[i];
            match &outcome {
                Outcome::Cosigned(size) => {
                    k.size = *size;
                    k.cosigned = Some(*size);
                    k.failures = 0;
                    k.next_try = None;
                    (None, Some(*size))
                }
                Outcome::Failed(e) | Outcome::Alarm(e) => {
                    alarm = matches!(outcome, Outcome::Alarm(_));
                    k.failures = k.failures.saturating_add(1);
                    let backoff = BACKOFF_FIRST
                        .saturating_mul(1 << k.failures.min(16).saturating_sub(1))
                        .min(BACKOFF_MAX);
                    k.next_try = Some(Instant::now() + backoff);
                    (Some(e.clone()), None)
                }
            }
        };
        if let Some(size) = cosigned {
            self.cosigned_size
                .with_label_values(&[&w.name])
                .set(size as i64);
        }
        if let Some(e) = &error {
            if alarm {
                self.alarms.with_label_values(&[&w.name]).inc();
                tracing::error!(witness = %w.name, error = %e, "witness alarm: the log may have forked");
            } else {
                tracing::warn!(witness = %w.name, error = %e, "witness did not co-sign; retrying with back-off");
            }
        }
        db.write_blocking(|c| {
            let prior = store::statuses(c)?
                .into_iter()
                .find(|r| r.witness == w.name);
            let row = WitnessStatusRow {
                witness: w.name.clone(),
                key_id: hex::encode(w.key.id),
                cosigned_size: cosigned
                    .map(|s| s as i64)
                    .or(prior.as_ref().and_then(|p| p.cosigned_size)),
                cosigned_at: if cosigned.is_some() {
                    Some(now)
                } else {
                    prior.as_ref().and_then(|p| p.cosigned_at)
                },
                last_error: error.clone(),
                last_error_at: if error.is_some() {
                    Some(now)
                } else {
                    prior.as_ref().and_then(|p| p.last_error_at)
                },
                alarms: prior.map_or(0, |p| p.alarms) + i64::from(alarm),
            };
            store::put_status(c, &row)
        })
    }
}

impl Log {
    /// Runs the witness client every `interval` on a thread of its own until
    /// [`Log::stop`].
    pub fn spawn_cosigning(
        self: &Arc<Self>,
        db: Db,
        client: Arc<WitnessClient>,
        interval: Duration,
    ) {
        let log = self.clone();
        let spawned = std::thread::Builder::new()
            .name("witness-client".into())
            .spawn(move || {
                // Made on this thread: a blocking client runs a runtime of its
                // own, which may not be dropped from an async context.
                let http = match Http::builder()
                    .timeout(REQUEST_TIMEOUT)
                    .user_agent(concat!("closure-audit/", env!("CARGO_PKG_VERSION")))
                    .build()
                {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::error!(error = %e, "the witness client cannot start");
                        return;
                    }
                };
                if let Err(e) = client.resume(&db) {
                    tracing::warn!(error = %e, "witness client: cannot read what the witnesses co-signed");
                }
                while !log.stop.load(Ordering::Relaxed) {
                    if let Err(e) = client.cycle(&http, &log, &db) {
                        tracing::warn!(error = %e, "witness client: a cycle failed");
                    }
                    std::thread::sleep(interval);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "no witness client thread");
        }
    }
}

/// Reads the policy file named by `CLOSURE_AUDIT_WITNESS_POLICY`.
pub fn load_policy(path: &std::path::Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the witness policy {}: {e}", path.display()))?;
    Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}
