//! Verifying the log from scratch: recompute every leaf from the events,
//! rebuild the tree, check every checkpoint's signature and root, and replay
//! the events against the closures' current state. One core serves both
//! `GET /audit/verify` (from the database) and the offline verifier (from an
//! export), and names the first bad event.

use super::checkpoint::{SignedCheckpoint, TrustedKey};
use super::export::{entries_from_db, read_checkpoints};
use super::leaf::CanonicalEvent;
use super::merkle::{Tree, from_hex, to_hex};
use crate::db::{Conn, closures, log as store};
use crate::error::AppResult;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// One row of the log, in leaf order: what the export or the database holds.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: i64,
    pub leaf_index: Option<i64>,
    /// The event's content; `None` when the row is gone.
    pub event: Option<CanonicalEvent>,
    /// The leaf hash stored beside the event, if any.
    pub leaf_hash: Option<String>,
}

/// A closure's state as stored, to compare with what its events say.
#[derive(Debug, Clone)]
pub struct ClosureState {
    pub id: String,
    pub status: String,
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub ok: bool,
    /// Events checked.
    pub checked: u64,
    pub first_bad_seq: Option<i64>,
    pub detail: String,
}

struct Finding {
    position: usize,
    seq: Option<i64>,
    detail: String,
}

/// Checks `entries` (leaves in order, then events not yet integrated) against
/// `checkpoints`, which must be signed by one of `keys`, and, when given, the
/// closures' stored state.
pub fn verify(
    entries: &[Entry],
    checkpoints: &[SignedCheckpoint],
    keys: &[TrustedKey],
    closures: Option<&[ClosureState]>,
) -> Report {
    let mut findings: Vec<Finding> = Vec::new();
    let mut tree = Tree::new();
    let leaves: Vec<&Entry> = entries.iter().filter(|e| e.leaf_index.is_some()).collect();

    for (pos, e) in leaves.iter().enumerate() {
        let index = e.leaf_index.expect("leaf");
        if index != pos as i64 && findings.is_empty() {
            findings.push(Finding {
                position: pos,
                seq: Some(e.seq),
                detail: format!(
                    "leaf {pos} is missing from the log (the next leaf is {index}, event seq {})",
                    e.seq
                ),
            });
        }
        let recomputed = e.event.as_ref().map(CanonicalEvent::leaf_hash);
        match (&recomputed, &e.leaf_hash) {
            (None, _) => findings.push(Finding {
                position: pos,
                seq: Some(e.seq),
                detail: format!(
                    "event seq {} (leaf {index}) has been removed from the log",
                    e.seq
                ),
            }),
            (Some(h), Some(stored)) if to_hex(h) != *stored => findings.push(Finding {
                position: pos,
                seq: Some(e.seq),
                detail: format!(
                    "event seq {} (leaf {index}) does not match its leaf hash: it was altered",
                    e.seq
                ),
            }),
            _ => {}
        }
        let hash = recomputed
            .or_else(|| e.leaf_hash.as_deref().and_then(from_hex))
            .unwrap_or([0; 32]);
        tree.push(hash);
    }

    // Checkpoints, smallest first: each must be signed by a trusted key and match
    // the tree rebuilt from the events.
    let mut cps: Vec<&SignedCheckpoint> = checkpoints.iter().collect();
    cps.sort_by_key(|c| c.size);
    let mut good_size = 0u64;
    for cp in cps {
        if !cp.verify(keys) {
            findings.push(Finding {
                position: cp.size.min(leaves.len() as u64).saturating_sub(1) as usize,
                seq: None,
                detail: format!(
                    "the checkpoint of size {} is not signed by a trusted key (key id {})",
                    cp.size,
                    hex::encode(cp.key_id)
                ),
            });
            continue;
        }
        if cp.size > tree.size() {
            let last = leaves.last().map(|e| e.seq).unwrap_or(0);
            findings.push(Finding {
                position: leaves.len(),
                seq: Some(last + 1),
                detail: format!(
                    "the log holds {} leaves but a signed checkpoint covers {}: the tail after event seq {last} was removed",
                    tree.size(),
                    cp.size
                ),
            });
            continue;
        }
        if tree.root(cp.size) != Some(cp.root) {
            let pos = good_size as usize;
            findings.push(Finding {
                position: pos,
                seq: leaves.get(pos).map(|e| e.seq),
                detail: format!(
                    "the first {} leaves do not hash to the signed checkpoint's root; they matched up to {good_size}: \
                     the log was rewritten from leaf {good_size} on",
                    cp.size
                ),
            });
        } else {
            good_size = good_size.max(cp.size);
        }
    }

    // The closures are replayed against an intact log only: where the log itself
    // is damaged, that damage is the first bad event.
    if findings.is_empty()
        && let Some(closures) = closures
    {
        replay(entries, closures, leaves.len(), &mut findings);
    }

    let checked = entries.len() as u64;
    match findings.into_iter().min_by_key(|f| f.position) {
        None => Report {
            ok: true,
            checked,
            first_bad_seq: None,
            detail: format!("intact: {checked} events, tree of {} leaves", tree.size()),
        },
        Some(f) => Report {
            ok: false,
            checked,
            first_bad_seq: f.seq,
            detail: f.detail,
        },
    }
}

/// The log as the database holds it, read for [`check_stored`].
pub struct Stored {
    pub entries: Vec<Entry>,
    pub checkpoints: Vec<SignedCheckpoint>,
    pub closures: Vec<ClosureState>,
}

/// Reads what [`check_stored`] checks: the log in leaf order (then the events
/// not yet integrated), every checkpoint kept in the database, and every
/// closure's status and version.
pub fn read_stored(c: &mut Conn) -> AppResult<Stored> {
    Ok(Stored {
        entries: entries_from_db(c)?,
        checkpoints: store::all_checkpoints(c)?
            .iter()
            .filter_map(|r| SignedCheckpoint::parse(&r.note).ok())
            .collect(),
        closures: closures::states(c)?
            .into_iter()
            .map(|(id, status, version)| ClosureState {
                id,
                status,
                version: Some(version),
            })
            .collect(),
    })
}

/// Verifies the stored log against the checkpoints in the database and those
/// witnessed outside it in `witness` (when it can be read), and replays the
/// closures: what `GET /audit/verify` and `closure-audit migrate-data` run.
pub fn check_stored(mut stored: Stored, witness: Option<&Path>, keys: &[TrustedKey]) -> Report {
    if let Some(path) = witness
        && let Ok(text) = std::fs::read_to_string(path)
    {
        stored
            .checkpoints
            .extend(read_checkpoints(&text).unwrap_or_default());
    }
    verify(
        &stored.entries,
        &stored.checkpoints,
        keys,
        Some(&stored.closures),
    )
}

/// Replays the closure events and compares the result with each closure's
/// stored status (and version): a change with no event is found here.
fn replay(
    entries: &[Entry],
    closures: &[ClosureState],
    leaf_count: usize,
    findings: &mut Vec<Finding>,
) {
    let mut state: HashMap<&str, (String, i64, i64, usize)> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(ev) = &e.event else { continue };
        let Some(id) = ev.closure_id.as_deref() else {
            continue;
        };
        let position = if e.leaf_index.is_some() {
            i
        } else {
            leaf_count + i
        };
        let to = match ev.action.as_str() {
            "closure.created" => Some(("pending_signoff".to_string(), 1)),
            "closure.approved" | "closure.rejected" | "closure.reopened" => {
                let status = ev
                    .details
                    .get("to_status")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let version = ev
                    .details
                    .get("version")
                    .and_then(|v| v.as_i64())
                    .unwrap_or_default();
                Some((status, version))
            }
            _ => None,
        };
        if let Some((status, version)) = to {
            state.insert(id, (status, version, e.seq, position));
        }
    }
    for c in closures {
        match state.get(c.id.as_str()) {
            None => findings.push(Finding {
                position: usize::MAX,
                seq: None,
                detail: format!("closure {} has no closure.created event", c.id),
            }),
            Some((status, version, seq, position)) => {
                if *status != c.status || c.version.is_some_and(|v| v != *version) {
                    findings.push(Finding {
                        position: *position,
                        seq: Some(*seq),
                        detail: format!(
                            "closure {} is {} (version {}) but its last event, seq {seq}, left it {status} (version {version}): \
                             it was changed with no event",
                            c.id,
                            c.status,
                            c.version.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
                        ),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::checkpoint::Signer;
    use super::*;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    fn log(n: i64) -> Vec<Entry> {
        (1..=n)
            .map(|seq| {
                let ev = CanonicalEvent {
                    seq,
                    at: 1_000_000 * seq,
                    action: "closure.created".into(),
                    actor_user_id: None,
                    actor_username: Some("rms".into()),
                    actor_role: None,
                    actor_rank: None,
                    actor_force_id: None,
                    closure_id: Some(format!("c{seq}")),
                    force_id: Some("kent".into()),
                    request_id: None,
                    details: json!({"n": seq}),
                };
                Entry {
                    seq,
                    leaf_index: Some(seq - 1),
                    leaf_hash: Some(to_hex(&ev.leaf_hash())),
                    event: Some(ev),
                }
            })
            .collect()
    }

    fn signed(entries: &[Entry], signer: &Signer, size: u64) -> SignedCheckpoint {
        let mut t = Tree::new();
        for e in entries {
            t.push(e.event.as_ref().unwrap().leaf_hash());
        }
        signer.sign(size, &t.root(size).unwrap())
    }

    #[test]
    fn intact_and_each_kind_of_damage() {
        let signer = Signer::new("test/log", SigningKey::from_bytes(&[1; 32]));
        let keys = [signer.trusted()];
        let entries = log(6);
        let cps = [signed(&entries, &signer, 3), signed(&entries, &signer, 6)];
        let closures: Vec<ClosureState> = (1..=6)
            .map(|i| ClosureState {
                id: format!("c{i}"),
                status: "pending_signoff".into(),
                version: Some(1),
            })
            .collect();
        assert!(verify(&entries, &cps, &keys, Some(&closures)).ok);

        let mut edited = entries.clone();
        edited[3].event.as_mut().unwrap().details = json!({"n": 99});
        assert_eq!(verify(&edited, &cps, &keys, None).first_bad_seq, Some(4));

        let mut removed = entries.clone();
        removed[2].event = None;
        assert_eq!(verify(&removed, &cps, &keys, None).first_bad_seq, Some(3));

        let truncated = &entries[..4];
        let r = verify(truncated, &cps, &keys, None);
        assert_eq!((r.ok, r.first_bad_seq), (false, Some(5)));

        let mut changed = closures.clone();
        changed[1].status = "signed_off".into();
        assert_eq!(
            verify(&entries, &cps, &keys, Some(&changed)).first_bad_seq,
            Some(2)
        );

        // Rewritten from event 5 on, leaf hashes recomputed, re-signed with another key.
        let forger = Signer::new("test/log", SigningKey::from_bytes(&[2; 32]));
        let mut rewritten = entries.clone();
        rewritten[4].event.as_mut().unwrap().details = json!({"n": 0});
        rewritten[4].leaf_hash = Some(to_hex(&rewritten[4].event.as_ref().unwrap().leaf_hash()));
        let forged = [signed(&rewritten, &forger, 6)];
        let r = verify(&rewritten, &forged, &keys, None);
        assert!(
            !r.ok && r.detail.contains("not signed by a trusted key"),
            "{}",
            r.detail
        );
        // The checkpoints witnessed earlier name where it diverges.
        let r = verify(&rewritten, &cps, &keys, None);
        assert_eq!(r.first_bad_seq, Some(4), "{}", r.detail);
        let finer: Vec<SignedCheckpoint> = (1..=6).map(|s| signed(&entries, &signer, s)).collect();
        assert_eq!(
            verify(&rewritten, &finer, &keys, None).first_bad_seq,
            Some(5)
        );
    }
}
