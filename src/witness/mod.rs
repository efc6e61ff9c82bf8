//! `closure-audit witness`: a C2SP tlog-witness (add-checkpoint) server that
//! cosigns the checkpoints of the logs it trusts, once it has checked that each
//! is consistent with the last one it cosigned for that log.
//!
//! - `mod.rs` (here): the pure checks — reading a request body, verifying the
//!   log's signatures, deciding the answer against the stored state — and the
//!   use case [`Witness::add_checkpoint`] that runs them and stores the new state
//!   in the same transaction as it reads the old one;
//! - `http.rs`: the actix face (`POST /add-checkpoint`, `GET /<hex SHA-256 of
//!   origin>/checkpoint`);
//! - the state lives in `db::witness` (its own migration tree).
//!
//! sign-subtree (optional in tlog-witness) is not offered: it answers 404.

pub mod http;

use crate::audit::checkpoint::{TrustedKey, load_or_create_key};
use crate::audit::cosignature::{Cosigner, CosignerKey, Note, valid_key_name};
use crate::audit::merkle::{Hash, empty_root, from_hex, to_hex, verify_consistency};
use crate::db::witness::{self as store, StateRow};
use crate::db::{DatabaseUrl, Db, PoolOptions};
use crate::error::AppError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Verifier as _};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

/// The most consistency proof lines a request may carry (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a submission is not cosigned, as tlog-witness's status codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// 400: malformed body, or old size above the checkpoint's size.
    BadRequest(String),
    /// 403: no valid signature by a trusted key, or a trusted key's failing.
    Forbidden(String),
    /// 404: the origin is not a log this witness knows.
    UnknownOrigin(String),
    /// 409: the old size is not the stored size (which this holds).
    Conflict(u64),
    /// 422: not consistent with what was cosigned before.
    Unprocessable(String),
    /// 503: the state database does not answer.
    Unavailable(String),
    /// 500.
    Internal(String),
}

impl From<AppError> for Reject {
    fn from(e: AppError) -> Reject {
        match e {
            AppError::Unavailable(m) => Reject::Unavailable(m),
            other => Reject::Internal(other.to_string()),
        }
    }
}

/// A parsed add-checkpoint request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub old: u64,
    pub proof: Vec<Hash>,
    /// The checkpoint as a signed note.
    pub note: String,
}

fn bad(m: &str) -> Reject {
    Reject::BadRequest(m.to_string())
}

/// A decimal with no leading zero (unless it is `0`), fitting in 63 bits.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse::<u64>().ok().filter(|n| *n <= i64::MAX as u64)
}

/// Reads `old N\n`, up to 63 base64 hash lines, an empty line, then the note.
pub fn parse_request(body: &[u8]) -> Result<Request, Reject> {
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
    let (first, mut rest) = text
        .split_once('\n')
        .ok_or_else(|| bad("the body starts with an old size line"))?;
    let old = first
        .strip_prefix("old ")
        .and_then(decimal)
        .ok_or_else(|| bad("the first line is `old <size>` (decimal, no leading zero)"))?;
    let mut proof = Vec::new();
    loop {
        let (line, after) = rest
            .split_once('\n')
            .ok_or_else(|| bad("an empty line ends the consistency proof"))?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(bad("more than 63 consistency proof lines"));
        }
        let hash: Hash = B64
            .decode(line)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("a consistency proof line is not a base64 SHA-256 hash"))?;
        proof.push(hash);
    }
    Ok(Request {
        old,
        proof,
        note: rest.to_string(),
    })
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The note's text (origin, size, root, extension lines).
    pub body: String,
    /// The note with only the signatures that verified, as stored and served.
    pub note: String,
}

/// The logs a witness accepts: their verifier keys (a log's origin is its
/// key's name; an origin may have several keys).
#[derive(Debug, Clone, Default)]
pub struct Logs(pub Vec<TrustedKey>);

impl Logs {
    /// Comma-separated C2SP verifier keys (Ed25519, type 0x01).
    pub fn parse(list: &str) -> Result<Logs, String> {
        let keys = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|k| {
                TrustedKey::parse_verifier_key(k)
                    .and_then(|t| {
                        if valid_key_name(&t.name) {
                            Ok(t)
                        } else {
                            Err("the key name is not a log origin".into())
                        }
                    })
                    .map_err(|e| format!("witness_logs: {k}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Logs(keys))
    }

    pub fn knows(&self, origin: &str) -> bool {
        self.0.iter().any(|k| k.name == origin)
    }

    /// The origin whose SHA-256 is `hex` (lower case), if it is a known log.
    pub fn origin_of_hash(&self, hex_hash: &str) -> Option<String> {
        self.0
            .iter()
            .map(|k| &k.name)
            .find(|o| hex::encode(Sha256::digest(o.as_bytes())) == hex_hash)
            .cloned()
    }
}

/// Parses the note, finds its origin among `logs` and checks the log's
/// signatures: 400 malformed, 404 unknown origin, 403 no valid trusted
/// signature (or a trusted key's that fails). Signatures by unknown keys are
/// ignored (and dropped from the stored note).
pub fn check_signed(logs: &Logs, note: &str) -> Result<Checkpoint, Reject> {
    let parsed = Note::parse(note).map_err(|e| Reject::BadRequest(format!("checkpoint: {e}")))?;
    let mut lines = parsed.body.split('\n');
    let origin = lines
        .next()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| bad("checkpoint: no origin line"))?;
    let size = lines
        .next()
        .and_then(decimal)
        .ok_or_else(|| bad("checkpoint: bad tree size line"))?;
    let root: Hash = lines
        .next()
        .and_then(|l| B64.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("checkpoint: bad root hash line"))?;
    if !logs.knows(origin) {
        return Err(Reject::UnknownOrigin(format!(
            "{origin} is not a log this witness knows"
        )));
    }
    let mut verified = Vec::new();
    for sig in &parsed.signatures {
        for key in logs
            .0
            .iter()
            .filter(|k| k.name == sig.name && k.id == sig.key_id)
        {
            let ok = <[u8; 64]>::try_from(sig.signature.as_slice())
                .map(|b| Signature::from_bytes(&b))
                .is_ok_and(|s| key.key.verify(parsed.body.as_bytes(), &s).is_ok());
            if !ok {
                return Err(Reject::Forbidden(format!(
                    "the signature of trusted key {}+{} does not verify",
                    key.name,
                    hex::encode(key.id)
                )));
            }
            if !verified.contains(sig) {
                verified.push(sig.clone());
            }
        }
    }
    if verified.is_empty() {
        return Err(Reject::Forbidden(format!(
            "no signature by a trusted key of {origin}"
        )));
    }
    let note = Note {
        body: parsed.body.clone(),
        signatures: verified,
    }
    .render();
    Ok(Checkpoint {
        origin: origin.to_string(),
        size,
        root,
        body: parsed.body,
        note,
    })
}

/// The checks against the stored state, `(size, root)` of the latest cosigned
/// (or pinned) checkpoint, `None` when there is none: 400, 409, 422 or fine.
pub fn check_consistent(
    stored: Option<(u64, Hash)>,
    old: u64,
    proof: &[Hash],
    cp: &Checkpoint,
) -> Result<(), Reject> {
    if old > cp.size {
        return Err(bad("the old size is above the checkpoint's size"));
    }
    let stored_size = stored.map_or(0, |(s, _)| s);
    if old != stored_size {
        return Err(Reject::Conflict(stored_size));
    }
    if cp.size == 0 && cp.root != empty_root() {
        return Err(Reject::Unprocessable(
            "a checkpoint of size 0 must have the empty tree's root".into(),
        ));
    }
    if old == 0 {
        if !proof.is_empty() {
            return Err(Reject::Unprocessable(
                "the consistency proof from size 0 must be empty".into(),
            ));
        }
        return Ok(());
    }
    // old > 0 equals the stored size, so there is a stored state.
    let Some((_, stored_root)) = stored else {
        return Err(Reject::Conflict(0));
    };
    if old == cp.size {
        if cp.root != stored_root {
            return Err(Reject::Unprocessable(
                "same size as the cosigned checkpoint but a different root".into(),
            ));
        }
        if !proof.is_empty() {
            return Err(Reject::Unprocessable(
                "the consistency proof between equal sizes must be empty".into(),
            ));
        }
        return Ok(());
    }
    if !verify_consistency(old, cp.size, proof, &stored_root, &cp.root) {
        return Err(Reject::Unprocessable(
            "the consistency proof does not verify".into(),
        ));
    }
    Ok(())
}

fn stored_pair(row: &StateRow) -> Result<(u64, Hash), Reject> {
    let root = from_hex(&row.root)
        .ok_or_else(|| Reject::Internal(format!("stored root of {} is not hex", row.origin)))?;
    Ok((row.size as u64, root))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1)
        .max(1)
}

/// The witness settings, as `closure-audit witness` reads them.
#[derive(Debug, Clone)]
pub struct WitnessSettings {
    pub bind: String,
    pub database_url: String,
    pub name: String,
    pub key_file: PathBuf,
    pub logs: String,
    pub workers: usize,
    pub pool_size: u32,
    pub connect_timeout: Duration,
    pub sqlite_busy_timeout_ms: u64,
    pub shutdown_timeout_seconds: u64,
}

impl WitnessSettings {
    pub fn from_settings(s: &crate::Settings) -> Result<WitnessSettings, String> {
        let name = s.witness_name.clone().ok_or(
            "witness_name (CLOSURE_AUDIT_WITNESS_NAME) must be set: the cosignature key's name",
        )?;
        if !valid_key_name(&name) {
            return Err(format!(
                "witness_name {name:?} is not a key name (non-empty, no spaces, no '+')"
            ));
        }
        let database_url = s
            .witness_database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", s.data_dir.join("witness.db").display()));
        Ok(WitnessSettings {
            bind: s.bind.clone(),
            database_url,
            name,
            key_file: s
                .witness_key_file
                .clone()
                .unwrap_or_else(|| s.data_dir.join("witness-key")),
            logs: s.witness_logs.clone(),
            workers: s.workers,
            pool_size: s.db_pool_size,
            connect_timeout: Duration::from_millis(s.db_connect_timeout_ms),
            sqlite_busy_timeout_ms: s.sqlite_busy_timeout_ms,
            shutdown_timeout_seconds: s.shutdown_timeout_seconds,
        })
    }
}

/// The witness: the logs it trusts, its key, its state.
#[derive(Clone)]
pub struct Witness {
    pub logs: Logs,
    cosigner: std::sync::Arc<Cosigner>,
    db: Db,
}

impl Witness {
    /// Loads (or creates) the key, opens and migrates the state database.
    /// Blocking.
    pub fn open(s: &WitnessSettings) -> Result<Witness, String> {
        let logs = Logs::parse(&s.logs)?;
        if logs.0.is_empty() {
            tracing::warn!("witness_logs is empty: every submission will be answered 404");
        }
        let (key, created) = load_or_create_key(&s.key_file)?;
        let cosigner = Cosigner::new(&s.name, key);
        if created {
            tracing::warn!(path = %s.key_file.display(), "generated the witness cosigning key");
        }
        let url = DatabaseUrl::parse(&s.database_url)?;
        let db = Db::connect(
            &url,
            &PoolOptions {
                pool_size: s.pool_size,
                connect_timeout: s.connect_timeout,
                sqlite_busy_timeout_ms: s.sqlite_busy_timeout_ms,
            },
        )?;
        let applied = store::migrate(&db).map_err(|e| e.to_string())?;
        tracing::info!(database = %url.redacted(), migrations_applied = applied, "witness database ready");
        Ok(Witness {
            logs,
            cosigner: std::sync::Arc::new(cosigner),
            db,
        })
    }

    pub fn verifier(&self) -> CosignerKey {
        self.cosigner.verifier()
    }

    /// add-checkpoint: the cosignature line(s) of the submitted checkpoint, or
    /// why not. The stored size is read and replaced in one transaction (with
    /// the witness's lock), so that concurrent submissions never roll it back.
    pub async fn add_checkpoint(&self, body: Vec<u8>) -> Result<String, Reject> {
        let req = parse_request(&body)?;
        let cp = check_signed(&self.logs, &req.note)?;
        let cosigner = self.cosigner.clone();
        self.db
            .write(move |conn| {
                store::lock(conn)?;
                let row = store::get(conn, &cp.origin)?;
                let stored = match row.as_ref().map(stored_pair).transpose() {
                    Ok(s) => s,
                    Err(r) => return Ok(Err(r)),
                };
                if let Err(r) = check_consistent(stored, req.old, &req.proof, &cp) {
                    return Ok(Err(r));
                }
                let sig = cosigner.cosign(&cp.body, now_secs());
                let line = sig.line();
                store::put(
                    conn,
                    &StateRow {
                        origin: cp.origin.clone(),
                        size: cp.size as i64,
                        root: to_hex(&cp.root),
                        note: cp.note.clone(),
                        cosignature: Some(line.clone()),
                        updated_at: crate::db::now_micros(),
                    },
                )?;
                Ok(Ok(line))
            })
            .await?
    }

    /// The latest cosigned checkpoint of the log whose origin hashes to
    /// `origin_hash` (hex SHA-256), with its log signatures and cosignature.
    pub async fn latest(&self, origin_hash: &str) -> Result<Option<String>, Reject> {
        let Some(origin) = self.logs.origin_of_hash(origin_hash) else {
            return Ok(None);
        };
        let row = self.db.read(move |conn| store::get(conn, &origin)).await?;
        Ok(row.and_then(|r| r.cosignature.map(|c| format!("{}{c}", r.note))))
    }

    /// Records a checkpoint obtained out of band as the starting state of its
    /// log (`closure-audit witness pin`): the first add-checkpoint must then be
    /// consistent with it. Refused when the log already has a different state.
    /// Blocking. Returns (origin, size).
    pub fn pin(&self, note: &str) -> Result<(String, u64), String> {
        let cp = check_signed(&self.logs, note).map_err(|r| format!("{r:?}"))?;
        if cp.size == 0 {
            return Err("pinning a checkpoint of size 0 pins nothing".into());
        }
        let (origin, size) = (cp.origin.clone(), cp.size);
        self.db
            .write_blocking(move |conn| {
                store::lock(conn)?;
                if let Some(row) = store::get(conn, &cp.origin)? {
                    if row.size as u64 == cp.size && row.root == to_hex(&cp.root) {
                        return Ok(());
                    }
                    return Err(AppError::BadRequest(format!(
                        "{} already has a state (size {}); pinning is for a witness that has none",
                        cp.origin, row.size
                    )));
                }
                store::put(
                    conn,
                    &StateRow {
                        origin: cp.origin.clone(),
                        size: cp.size as i64,
                        root: to_hex(&cp.root),
                        note: cp.note.clone(),
                        cosignature: None,
                        updated_at: crate::db::now_micros(),
                    },
                )
            })
            .map_err(|e| e.to_string())?;
        Ok((origin, size))
    }
}

#[cfg(test)]
mod tests;
