//! Verifying the log as the database holds it, streamed: leaves in order in
//! pages (with the checkpoints each page reaches, from the database and from
//! the witness file, and the stored tiles they complete), then the events not yet integrated, then the closures in
//! pages with their events and decisions. Run it inside one snapshot
//! ([`crate::db::Db::snapshot_blocking`]) so that commits made meanwhile are
//! not seen half-way; memory is a page, whatever the size of the log.

use super::Entry;
use super::closures::{ClosureRecord, Content, STATUS_ACTIONS, check_closure, closure_gone};
use super::findings::{Finding, Findings, Verdict};
use super::tiled::TileCheck;
use super::tree::TreeCheck;
use super::witnessed::{WitnessFile, Witnessed};
use crate::audit::checkpoint::{SignedCheckpoint, TrustedKey};
use crate::audit::content::DecisionContent;
use crate::audit::leaf::CanonicalEvent;
use crate::db::Conn;
use crate::db::closures::{self, ClosureRow, DecisionRow};
use crate::db::events::{self, EventRow};
use crate::db::log as store;
use crate::error::AppResult;
use std::collections::{HashMap, HashSet};

/// Leaves (or pending events) per page.
const LOG_PAGE: i64 = 2000;
/// Closures per page (each with its events and decisions).
const CLOSURE_PAGE: i64 = 500;

const DATABASE: &str = "database";
pub(super) const WITNESS: &str = "witness file";

/// Verifies everything the database holds on `c`, and the checkpoints kept in
/// the `witness` file outside it as far as it was written when measured
/// (measure it before the snapshot begins: a line is written after its
/// checkpoint commits, so every line written before is in the snapshot).
pub fn verify_stored(
    c: &mut Conn,
    witness: Option<&WitnessFile>,
    keys: &[TrustedKey],
) -> AppResult<Verdict> {
    let mut findings = Findings::default();
    let mut tree = TreeCheck::new(keys);
    let mut tiles = TileCheck::new(c)?;
    let any_checkpoint = store::latest_checkpoint(c)?.is_some();
    let mut witnessed = witness.and_then(|w| Witnessed::open(w, any_checkpoint, &mut findings));
    let mut checked = 0u64;

    // The leaves, in order, with the checkpoints each page reaches.
    let mut from = 0i64;
    loop {
        let leaves = store::leaves_from(c, from, LOG_PAGE)?;
        let Some(last) = leaves.last() else { break };
        let reach = last.leaf_index + 1;
        add_checkpoints(c, &mut tree, &mut witnessed, from, reach, &mut findings)?;
        let seqs: Vec<i64> = leaves.iter().map(|l| l.seq).collect();
        let mut rows: HashMap<i64, EventRow> = events::by_seqs(c, &seqs)?
            .into_iter()
            .map(|e| (e.seq, e))
            .collect();
        let mut page = Vec::with_capacity(leaves.len());
        for l in &leaves {
            let entry = Entry {
                seq: l.seq,
                leaf_index: Some(l.leaf_index),
                event: rows.remove(&l.seq).as_ref().map(CanonicalEvent::from_row),
                leaf_hash: Some(l.leaf_hash.clone()),
            };
            tree.push_leaf(&entry, &mut findings);
            tiles.push(&l.leaf_hash);
            page.push(entry);
        }
        tiles.compare_page(c, &mut findings)?;
        checked += page.len() as u64;
        closures_still_stored(c, &page, &mut findings)?;
        from = reach;
    }
    add_checkpoints(c, &mut tree, &mut witnessed, from, i64::MAX, &mut findings)?;
    tree.finish(&mut findings);
    tiles.finish(c, &mut findings)?;

    // Events committed but not integrated yet.
    let mut after = 0i64;
    loop {
        let rows = events::without_leaf_after(c, after, LOG_PAGE)?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        let page: Vec<Entry> = rows
            .iter()
            .map(|r| Entry {
                seq: r.seq,
                leaf_index: None,
                event: Some(CanonicalEvent::from_row(r)),
                leaf_hash: None,
            })
            .collect();
        checked += page.len() as u64;
        closures_still_stored(c, &page, &mut findings)?;
    }

    // The closures, each against its events and decisions.
    let mut after: Option<String> = None;
    loop {
        let rows = closures::page_by_id(c, after.as_deref(), CLOSURE_PAGE)?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id.clone());
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut decisions: HashMap<String, Vec<DecisionContent>> = HashMap::new();
        for d in closures::decisions_of(c, &ids)? {
            decisions
                .entry(d.closure_id.clone())
                .or_default()
                .push(decision_content(&d));
        }
        let mut evs: HashMap<String, Vec<CanonicalEvent>> = HashMap::new();
        for e in events::of_closures(c, &ids, &STATUS_ACTIONS)? {
            let ev = CanonicalEvent::from_row(&e);
            evs.entry(e.closure_id.clone().unwrap_or_default())
                .or_default()
                .push(ev);
        }
        for r in &rows {
            let rec = record(r, decisions.remove(&r.id).unwrap_or_default());
            let mine: Vec<&CanonicalEvent> = evs
                .get(&r.id)
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            check_closure(&rec, &mine, &mut findings);
        }
    }

    Ok(Verdict {
        checked,
        tree_size: tree.size(),
        findings,
    })
}

/// Adds the checkpoints of sizes in `(from, to]`, from the database and the
/// witness file, before the tree reaches them.
fn add_checkpoints(
    c: &mut Conn,
    tree: &mut TreeCheck,
    witnessed: &mut Option<Witnessed>,
    from: i64,
    to: i64,
    findings: &mut Findings,
) -> AppResult<()> {
    for row in store::checkpoints_between(c, from, to)? {
        match SignedCheckpoint::parse(&row.note) {
            Ok(cp) => tree.add_checkpoint(&cp, DATABASE, findings),
            Err(e) => findings.add(Finding::other(format!(
                "the checkpoint of size {} in the database cannot be read: {e}",
                row.tree_size
            ))),
        }
    }
    if let Some(w) = witnessed {
        for cp in w.up_to(to as u64, findings) {
            tree.add_checkpoint(&cp, WITNESS, findings);
        }
    }
    Ok(())
}

/// Every `closure.created` event of `page` must still have its closure.
fn closures_still_stored(c: &mut Conn, page: &[Entry], findings: &mut Findings) -> AppResult<()> {
    let created: Vec<&CanonicalEvent> = page
        .iter()
        .filter_map(|e| e.event.as_ref())
        .filter(|ev| ev.action == "closure.created" && ev.closure_id.is_some())
        .collect();
    if created.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = created
        .iter()
        .filter_map(|e| e.closure_id.as_deref())
        .collect();
    let present: HashSet<String> = closures::existing_ids(c, &ids)?.into_iter().collect();
    for ev in created {
        if !present.contains(ev.closure_id.as_deref().unwrap_or_default()) {
            closure_gone(ev, findings);
        }
    }
    Ok(())
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

fn record(r: &ClosureRow, decisions: Vec<DecisionContent>) -> ClosureRecord {
    ClosureRecord {
        id: r.id.clone(),
        force_id: Some(r.force_id.clone()),
        status: r.status.clone(),
        version: Some(r.version),
        content: match r.input() {
            Some(input) => Content::Hash(crate::audit::content::closure_hash(&input)),
            None => Content::Unreadable,
        },
        decisions: Some(decisions),
        latest: Some((r.decision.clone(), r.decision_rationale.clone())),
    }
}
