//! Verifying the log as the database holds it, in two passes that each read
//! in one snapshot ([`crate::db::Db::snapshot_blocking`]) so that commits made
//! meanwhile are not seen half-way, and that check different things, so they
//! may run at once on two connections ([`verify_log`], [`verify_closures`]):
//!
//! - the log: the leaves in leaf order with their events, streamed by
//!   [`store::stream_leaves`] in ranges, with the checkpoints each range
//!   reaches (from the database and from the witness file) read before it and
//!   the stored tiles it completes compared after it; then the events not yet
//!   integrated;
//! - the closures in id order, in pages, each page beside the events and
//!   decisions of the same range of ids (ranges of their indexes, not lists of
//!   keys), so that an event whose closure is gone is found in the same walk.
//!
//! Memory is a range's completed tiles and a page of closures, whatever the
//! size of the log.

use super::Entry;
use super::closures::{ClosureRecord, Content, STATUS_ACTIONS, check_closure, closure_gone};
use super::findings::{Finding, Findings, Verdict};
use super::pipeline::{Handoff, pipeline};
use super::tiled::TileCheck;
use super::tree::TreeCheck;
use super::witnessed::{WitnessFile, Witnessed};
use crate::audit::checkpoint::{SignedCheckpoint, TrustedKey};
use crate::audit::content::DecisionContent;
use crate::audit::leaf::CanonicalEvent;
use crate::db::Conn;
use crate::db::closures::{self, ClosureRow, DecisionRow};
use crate::db::events::{self, EventRow};
use crate::db::log::{self as store, LeafWithEvent};
use crate::error::AppResult;
use std::collections::HashMap;

/// Leaves read in one statement: then the checkpoints of the next range are
/// read and the tiles this one completed compared (256 full tiles of
/// 8 KiB at most are held meanwhile).
const LEAF_RANGE: i64 = 65_536;
/// Events not yet integrated, per page.
const PENDING_PAGE: i64 = 2000;
/// Closures per page (each with its events and decisions).
const CLOSURE_PAGE: i64 = 2000;

const DATABASE: &str = "database";
pub(super) const WITNESS: &str = "witness file";

/// Verifies everything the database holds on `c`, the log then the closures,
/// in the one snapshot `c` is in (what `closure-audit migrate-data` checks).
pub fn verify_stored(
    c: &mut Conn,
    witness: Option<&WitnessFile>,
    keys: &[TrustedKey],
) -> AppResult<Verdict> {
    let log = verify_log(c, witness, keys)?;
    Ok(log.with(verify_closures(c)?))
}

/// What the reader of [`verify_log`] hands to its tree check, in leaf order:
/// the checkpoints to hold the tree to before these leaves.
#[derive(Default)]
struct LogBatch {
    checkpoints: Vec<(SignedCheckpoint, &'static str)>,
    leaves: Vec<LeafWithEvent>,
}

/// Leaves handed over at a time.
const BATCH: usize = 1024;

/// The log on `c`: every leaf recomputed from its event, the tree held to
/// every checkpoint in the database and in the `witness` file outside it as
/// far as it was written when measured (measure it before the snapshot
/// begins: a line is written after its checkpoint commits, so every line
/// written before is in the snapshot), and the stored tiles to the leaves.
///
/// Two threads ([`pipeline`]): this one reads (the leaves with their events,
/// the checkpoints, the stored tiles, which it compares), the second
/// recomputes each leaf from its event (the canonical bytes and their
/// SHA-256) and the tree.
pub fn verify_log(
    c: &mut Conn,
    witness: Option<&WitnessFile>,
    keys: &[TrustedKey],
) -> AppResult<Verdict> {
    let mut findings = Findings::default();
    let check = |(tree, found): &mut (TreeCheck, Findings), batch: &mut LogBatch| {
        for (cp, source) in batch.checkpoints.drain(..) {
            tree.add_checkpoint(&cp, source, found);
        }
        for row in batch.leaves.drain(..) {
            tree.push_leaf(&Entry::from(row), found);
        }
    };
    let (checked, (mut tree, found)) = pipeline(
        (TreeCheck::new(keys), Findings::default()),
        check,
        |handoff| read_log(c, witness, handoff, &mut findings),
    )?;
    let mut found = found;
    tree.finish(&mut found);
    findings.merge(found);
    Ok(Verdict {
        checked,
        tree_size: tree.size(),
        findings,
    })
}

/// The reading half of [`verify_log`]: sends the checkpoints and leaves in
/// order, compares the stored tiles, and counts the events.
fn read_log(
    c: &mut Conn,
    witness: Option<&WitnessFile>,
    handoff: &Handoff<LogBatch>,
    findings: &mut Findings,
) -> AppResult<u64> {
    crate::db::plan_index_walks(c)?;
    let mut tiles = TileCheck::new(c)?;
    let any_checkpoint = store::latest_checkpoint(c)?.is_some();
    let mut witnessed = witness.and_then(|w| Witnessed::open(w, any_checkpoint, findings));
    let mut checked = 0u64;
    let fresh = || {
        let mut b: LogBatch = handoff.buffer();
        b.checkpoints.clear();
        b.leaves.clear();
        b.leaves.reserve(BATCH);
        b
    };

    // The leaves, in order, a range at a time, with the checkpoints each
    // range reaches given before its leaves. A gap in the leaf indexes is
    // only fewer rows in a range (the tree check reports it).
    let end = store::leaf_end(c)?;
    let mut from = 0i64;
    loop {
        let to = from.saturating_add(LEAF_RANGE).min(end);
        let last = from >= end;
        let mut batch = fresh();
        let upto = if last { i64::MAX } else { to };
        batch.checkpoints = checkpoints(c, &mut witnessed, from, upto, findings)?;
        if last {
            handoff.send(batch)?;
            break;
        }
        store::stream_leaves(c, from..to, |row| {
            tiles.push(&row.leaf.leaf_hash);
            batch.leaves.push(row);
            if batch.leaves.len() == BATCH {
                handoff.send(std::mem::replace(&mut batch, fresh()))?;
            }
            checked += 1;
            Ok(true)
        })?;
        handoff.send(batch)?;
        tiles.compare_page(c, findings)?;
        from = to;
    }
    tiles.finish(c, findings)?;

    // Events committed but not integrated yet: counted (their closures'
    // pass checks what they say).
    let mut after = 0i64;
    loop {
        let rows = events::without_leaf_after(c, after, PENDING_PAGE)?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        checked += rows.len() as u64;
    }
    Ok(checked)
}

/// A page of closures, in id order, with the events and decisions of the
/// same range of ids.
#[derive(Default)]
struct ClosurePage {
    closures: Vec<ClosureRow>,
    events: Vec<EventRow>,
    decisions: Vec<DecisionRow>,
}

/// What the checking thread of [`verify_closures`] keeps: its findings, and
/// the buffers of a page's records, used again for every page.
#[derive(Default)]
struct ClosureCheck {
    findings: Findings,
    records: Vec<ClosureRecord>,
    events: Vec<CanonicalEvent>,
}

/// The closures on `c`, each against its events and decisions, and every
/// `closure.created` event against a stored closure. Two threads
/// ([`pipeline`]): this one reads pages, the second computes each closure's
/// content hash, reads each event's details and checks.
pub fn verify_closures(c: &mut Conn) -> AppResult<Verdict> {
    let check = |st: &mut ClosureCheck, page: &mut ClosurePage| {
        st.records.clear();
        st.records.extend(page.closures.iter().map(record));
        st.events.clear();
        st.events.extend(
            page.events
                .drain(..)
                .filter(|e| STATUS_ACTIONS.contains(&e.action.as_str()))
                .map(CanonicalEvent::from_owned_row),
        );
        check_page(
            &mut st.records,
            &st.events,
            &page.decisions,
            &mut st.findings,
        );
    };
    crate::db::plan_index_walks(c)?;
    let ((), st) = pipeline(ClosureCheck::default(), check, |handoff| {
        let mut after: Option<String> = None;
        loop {
            let mut page: ClosurePage = handoff.buffer();
            page.closures.clear();
            page.events.clear();
            page.decisions.clear();
            closures::for_each_by_id(c, after.as_deref(), CLOSURE_PAGE, |r| {
                page.closures.push(r);
                Ok(true)
            })?;
            let upto = page.closures.last().map(|r| r.id.clone());
            // The last round reads what lies after the last closure: events
            // only, of closures that are gone.
            events::for_each_of_closure_range(c, after.as_deref(), upto.as_deref(), |e| {
                page.events.push(e);
                Ok(true)
            })?;
            if upto.is_some() {
                page.decisions =
                    closures::decisions_of_range(c, after.as_deref(), upto.as_deref())?;
            }
            handoff.send(page)?;
            match upto {
                Some(u) => after = Some(u),
                None => return Ok(()),
            }
        }
    })?;
    Ok(Verdict {
        checked: 0,
        tree_size: 0,
        findings: st.findings,
    })
}

/// Where each closure's items are in `items`, which the database gave in
/// closure order: runs of one closure id are contiguous (whatever the
/// database's collation), so a run is found by comparing neighbours.
fn runs<T>(items: &[T], id: impl Fn(&T) -> &str) -> HashMap<&str, std::ops::Range<usize>> {
    let mut out = HashMap::new();
    let mut start = 0;
    for i in 1..=items.len() {
        if i == items.len() || id(&items[i]) != id(&items[start]) {
            out.insert(id(&items[start]), start..i);
            start = i;
        }
    }
    out
}

/// One page of closures (in id order) against the events of the same range
/// of ids (in `(closure_id, seq)` order) and their decisions.
fn check_page(
    page: &mut [ClosureRecord],
    evs: &[CanonicalEvent],
    decisions: &[DecisionRow],
    findings: &mut Findings,
) {
    let mut of_closure = runs(evs, |e| e.closure_id.as_deref().unwrap_or_default());
    let decided = runs(decisions, |d| d.closure_id.as_str());
    for rec in page.iter_mut() {
        let taken = decided.get(rec.id.as_str()).cloned().unwrap_or_default();
        rec.decisions = Some(decisions[taken].iter().map(decision_content).collect());
        let mine: Vec<&CanonicalEvent> = of_closure
            .remove(rec.id.as_str())
            .map(|r| evs[r].iter().collect())
            .unwrap_or_default();
        check_closure(rec, &mine, findings);
    }
    // What is left has no stored closure.
    for r in of_closure.into_values() {
        if let Some(ev) = evs[r].iter().find(|e| e.action == "closure.created") {
            closure_gone(ev, findings);
        }
    }
}

/// The checkpoints of sizes in `(from, to]`, from the database and the
/// witness file, to give the tree before it reaches them.
fn checkpoints(
    c: &mut Conn,
    witnessed: &mut Option<Witnessed>,
    from: i64,
    to: i64,
    findings: &mut Findings,
) -> AppResult<Vec<(SignedCheckpoint, &'static str)>> {
    let mut out = Vec::new();
    for row in store::checkpoints_between(c, from, to)? {
        match SignedCheckpoint::parse(&row.note) {
            Ok(cp) => out.push((cp, DATABASE)),
            Err(e) => findings.add(Finding::other(format!(
                "the checkpoint of size {} in the database cannot be read: {e}",
                row.tree_size
            ))),
        }
    }
    if let Some(w) = witnessed {
        for cp in w.up_to(to as u64, findings) {
            out.push((cp, WITNESS));
        }
    }
    Ok(out)
}

fn decision_content(d: &DecisionRow) -> DecisionContent {
    DecisionContent {
        decision: d.decision.clone(),
        rationale: d.rationale.clone(),
        checklist: serde_json::from_str(&d.checklist)
            .unwrap_or_else(|_| serde_json::Value::String(d.checklist.clone())),
        by_user_id: d.by_user_id.clone(),
        by_officer_id: d.by_officer_id.clone(),
        by_rank: d.by_rank.clone(),
        decided_at: d.decided_at,
    }
}

/// The closure as stored, its decisions still to be added.
fn record(r: &ClosureRow) -> ClosureRecord {
    ClosureRecord {
        id: r.id.clone(),
        force_id: Some(r.force_id.clone()),
        status: r.status.clone(),
        version: Some(r.version),
        content: match r.input() {
            Some(input) => Content::Hash(crate::audit::content::closure_hash(&input)),
            None => Content::Unreadable,
        },
        decisions: None,
        latest: Some((r.decision.clone(), r.decision_rationale.clone())),
    }
}
