//! The closures against their events: the content each event vouches for
//! recomputed from what is stored (the closure as posted, each decision, each
//! reopening's reason), and the status and version replayed.

use super::findings::{CLOSURE, Finding, Findings};
use crate::audit::content::{DecisionContent, reason_hash};
use crate::audit::leaf::CanonicalEvent;

/// What the stored closure's content hashes to, where the source has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The source holds only some fields (a closures CSV): not checked.
    Unknown,
    /// The stored values are not ones the service writes.
    Unreadable,
    Hash(String),
}

/// A closure as stored, with what its events are checked against.
#[derive(Debug, Clone)]
pub struct ClosureRecord {
    pub id: String,
    pub force_id: Option<String>,
    pub status: String,
    pub version: Option<i64>,
    pub content: Content,
    /// Its decisions in the order taken; `None` when the source has none.
    pub decisions: Option<Vec<DecisionContent>>,
    /// The latest decision kept beside the closure (decision, rationale), which
    /// the exports read, where the source has it.
    pub latest: Option<(Option<String>, Option<String>)>,
}

const DECISION_ACTIONS: [&str; 2] = ["closure.approved", "closure.rejected"];

/// The actions that change a closure or vouch for its content: what a reader
/// passes to [`check_closure`].
pub const STATUS_ACTIONS: [&str; 4] = [
    "closure.created",
    "closure.approved",
    "closure.rejected",
    "closure.reopened",
];

fn detail_str<'a>(ev: &'a CanonicalEvent, key: &str) -> Option<&'a str> {
    ev.details.get(key).and_then(|v| v.as_str())
}

/// Checks one closure against its events (those of [`STATUS_ACTIONS`], in seq
/// order; others are ignored).
pub fn check_closure(rec: &ClosureRecord, events: &[&CanonicalEvent], findings: &mut Findings) {
    let force = rec.force_id.as_deref();
    let mut add = |f: Finding| findings.add(f.about(&rec.id, force));
    let events: Vec<&CanonicalEvent> = events
        .iter()
        .copied()
        .filter(|e| STATUS_ACTIONS.contains(&e.action.as_str()))
        .collect();

    let mut created = events.iter().filter(|e| e.action == "closure.created");
    match created.next() {
        None => add(Finding::other(format!(
            "{CLOSURE} has no closure.created event"
        ))),
        Some(ev) => {
            let recorded = detail_str(ev, "content_hash");
            let changed = match &rec.content {
                Content::Unknown => false,
                Content::Unreadable => true,
                Content::Hash(h) => recorded != Some(h.as_str()),
            };
            if changed {
                add(Finding::content(
                    ev.seq,
                    format!(
                        "{CLOSURE} no longer matches its closure.created event, seq {}: the closure as posted \
                         (its rationale, evidence or another field) was changed in the database",
                        ev.seq
                    ),
                ));
            }
        }
    }
    if let Some(again) = created.next() {
        add(Finding::content(
            again.seq,
            format!(
                "event seq {} is a second closure.created for {CLOSURE}",
                again.seq
            ),
        ));
    }

    if let Some(decisions) = &rec.decisions {
        let decided: Vec<&&CanonicalEvent> = events
            .iter()
            .filter(|e| DECISION_ACTIONS.contains(&e.action.as_str()))
            .collect();
        for i in 0..decided.len().max(decisions.len()) {
            match (decided.get(i), decisions.get(i)) {
                (Some(ev), Some(d)) => {
                    if let Some(recorded) = detail_str(ev, "decision_hash")
                        && recorded != d.hash()
                    {
                        add(Finding::content(
                            ev.seq,
                            format!(
                                "the decision on {CLOSURE} recorded by event seq {} no longer matches the stored decision: \
                                 its decision, rationale, checklist, decider, rank or time was changed in the database",
                                ev.seq
                            ),
                        ));
                    }
                }
                (Some(ev), None) => add(Finding::content(
                    ev.seq,
                    format!(
                        "the decision on {CLOSURE} recorded by event seq {} is gone from the stored decisions",
                        ev.seq
                    ),
                )),
                (None, Some(d)) => add(Finding::other(format!(
                    "{CLOSURE} has a stored decision ({}, by officer {}) with no event",
                    d.decision, d.by_officer_id
                ))),
                (None, None) => {}
            }
        }
        if let Some((decision, rationale)) = &rec.latest {
            let last = decisions.last();
            let kept_differs = decision.as_deref() != last.map(|d| d.decision.as_str())
                || rationale.as_deref() != last.map(|d| d.rationale.as_str());
            if kept_differs {
                let detail = format!(
                    "the latest decision kept beside {CLOSURE} (what the exports show) differs from its last stored decision"
                );
                add(match decided.last() {
                    Some(ev) => Finding::content(
                        ev.seq,
                        format!("{detail}, recorded by event seq {}", ev.seq),
                    ),
                    None => Finding::other(detail),
                });
            }
        }
    }

    for ev in events.iter().filter(|e| e.action == "closure.reopened") {
        if let Some(recorded) = detail_str(ev, "reason_hash")
            && Some(recorded.to_string()) != detail_str(ev, "reason").map(reason_hash)
        {
            add(Finding::content(
                ev.seq,
                format!(
                    "the reason of the reopening recorded by event seq {} does not match its hash",
                    ev.seq
                ),
            ));
        }
    }

    // Replay: the last event that set the status says what it must be now.
    let last = events.last().map(|ev| match ev.action.as_str() {
        "closure.created" => (ev.seq, "pending_signoff".to_string(), 1),
        _ => (
            ev.seq,
            detail_str(ev, "to_status").unwrap_or_default().to_string(),
            ev.details
                .get("version")
                .and_then(|v| v.as_i64())
                .unwrap_or_default(),
        ),
    });
    if let Some((seq, status, version)) = last
        && (status != rec.status || rec.version.is_some_and(|v| v != version))
    {
        add(Finding::content(
            seq,
            format!(
                "{CLOSURE} is {} (version {}) but its last event, seq {seq}, left it {status} (version {version}): \
                 it was changed with no event",
                rec.status,
                rec.version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "?".into())
            ),
        ));
    }
}

/// A `closure.created` event whose closure is not stored.
pub fn closure_gone(ev: &CanonicalEvent, findings: &mut Findings) {
    let id = ev.closure_id.as_deref().unwrap_or_default();
    findings.add(
        Finding::content(
            ev.seq,
            format!(
                "{CLOSURE}, created by event seq {}, is gone from the stored closures",
                ev.seq
            ),
        )
        .about(id, ev.force_id.as_deref()),
    );
}
