//! Verifying the log from scratch: every leaf recomputed from its event, the
//! tree rebuilt, every checkpoint's signature and root checked, and the
//! closures checked against their events: the content each event vouches for
//! recomputed from what is stored, and the status and version replayed.
//!
//! One core serves `GET /audit/verify` and `closure-audit migrate-data` (which
//! stream the database in one snapshot, [`stored`]) and the offline verifier
//! (from an export, [`verify`]), and names the first bad event ([`findings`]).

mod closures;
mod findings;
mod pipeline;
pub mod stored;
mod tiled;
mod tree;
mod witnessed;

pub use closures::{ClosureRecord, Content, STATUS_ACTIONS, check_closure};
pub use findings::{Report, Verdict};
pub use stored::verify_stored;
pub use witnessed::WitnessFile;

use super::checkpoint::{SignedCheckpoint, TrustedKey};
use super::leaf::CanonicalEvent;
use findings::Findings;
use std::collections::{HashMap, HashSet};
use tree::TreeCheck;

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

impl From<crate::db::log::LeafWithEvent> for Entry {
    /// A leaf as the one leaf-order reader gives it.
    fn from(row: crate::db::log::LeafWithEvent) -> Entry {
        Entry {
            seq: row.leaf.seq,
            leaf_index: Some(row.leaf.leaf_index),
            event: row.event.map(CanonicalEvent::from_owned_row),
            leaf_hash: Some(row.leaf.leaf_hash),
        }
    }
}

/// Checks `entries` (leaves in order, then events not yet integrated) against
/// `checkpoints`, which must be signed by one of `keys`, and, when given, the
/// closures as stored. The offline verifier's entry point: everything is in
/// memory already.
pub fn verify(
    entries: &[Entry],
    checkpoints: &[SignedCheckpoint],
    keys: &[TrustedKey],
    closures: Option<&[ClosureRecord]>,
) -> Verdict {
    let mut findings = Findings::default();
    let mut tree = TreeCheck::new(keys);
    for cp in checkpoints {
        tree.add_checkpoint(cp, "checkpoints given", &mut findings);
    }
    for e in entries.iter().filter(|e| e.leaf_index.is_some()) {
        tree.push_leaf(e, &mut findings);
    }
    tree.finish(&mut findings);

    if let Some(closures) = closures {
        let mut by_closure: HashMap<&str, Vec<&CanonicalEvent>> = HashMap::new();
        for ev in entries.iter().filter_map(|e| e.event.as_ref()) {
            if let Some(id) = ev.closure_id.as_deref()
                && STATUS_ACTIONS.contains(&ev.action.as_str())
            {
                by_closure.entry(id).or_default().push(ev);
            }
        }
        for evs in by_closure.values_mut() {
            evs.sort_by_key(|e| e.seq);
        }
        let stored: HashSet<&str> = closures.iter().map(|c| c.id.as_str()).collect();
        for c in closures {
            let evs = by_closure
                .get(c.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            check_closure(c, evs, &mut findings);
        }
        for (id, evs) in &by_closure {
            if !stored.contains(id)
                && let Some(ev) = evs.iter().find(|e| e.action == "closure.created")
            {
                closures::closure_gone(ev, &mut findings);
            }
        }
    }
    Verdict {
        checked: entries.len() as u64,
        tree_size: tree.size(),
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::super::checkpoint::Signer;
    use super::super::merkle::{Tree, to_hex};
    use super::*;

    fn run(
        entries: &[Entry],
        cps: &[SignedCheckpoint],
        keys: &[TrustedKey],
        closures: Option<&[ClosureRecord]>,
    ) -> Report {
        verify(entries, cps, keys, closures).report()
    }
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
        let closures: Vec<ClosureRecord> = (1..=6)
            .map(|i| ClosureRecord {
                id: format!("c{i}"),
                force_id: Some("kent".into()),
                status: "pending_signoff".into(),
                version: Some(1),
                content: Content::Unknown,
                decisions: None,
                latest: None,
            })
            .collect();
        assert!(run(&entries, &cps, &keys, Some(&closures)).ok);

        let mut edited = entries.clone();
        edited[3].event.as_mut().unwrap().details = json!({"n": 99});
        assert_eq!(run(&edited, &cps, &keys, None).first_bad_seq, Some(4));

        // Edited between two checkpoints: the event is named, not the first
        // leaf after the last good checkpoint.
        let sparse = [signed(&entries, &signer, 2), signed(&entries, &signer, 6)];
        let r = run(&edited, &sparse, &keys, None);
        assert_eq!(r.first_bad_seq, Some(4), "{}", r.detail);
        assert!(r.detail.contains("altered"), "{}", r.detail);

        let mut removed = entries.clone();
        removed[2].event = None;
        assert_eq!(run(&removed, &cps, &keys, None).first_bad_seq, Some(3));

        let truncated = &entries[..4];
        let r = run(truncated, &cps, &keys, None);
        assert_eq!((r.ok, r.first_bad_seq), (false, Some(5)));

        let mut changed = closures.clone();
        changed[1].status = "signed_off".into();
        assert_eq!(
            run(&entries, &cps, &keys, Some(&changed)).first_bad_seq,
            Some(2)
        );

        // Rewritten from event 5 on, leaf hashes recomputed, re-signed with another key.
        let forger = Signer::new("test/log", SigningKey::from_bytes(&[2; 32]));
        let mut rewritten = entries.clone();
        rewritten[4].event.as_mut().unwrap().details = json!({"n": 0});
        rewritten[4].leaf_hash = Some(to_hex(&rewritten[4].event.as_ref().unwrap().leaf_hash()));
        let forged = [signed(&rewritten, &forger, 6)];
        let r = run(&rewritten, &forged, &keys, None);
        assert!(
            !r.ok && r.detail.contains("not signed by a trusted key"),
            "{}",
            r.detail
        );
        // The checkpoints witnessed earlier name where it diverges.
        let r = run(&rewritten, &cps, &keys, None);
        assert_eq!(r.first_bad_seq, Some(4), "{}", r.detail);
        let finer: Vec<SignedCheckpoint> = (1..=6).map(|s| signed(&entries, &signer, s)).collect();
        assert_eq!(run(&rewritten, &finer, &keys, None).first_bad_seq, Some(5));
    }
}
