//! What verification found, and which finding is the answer.
//!
//! A finding about one event of the log (altered, removed, out of order, the
//! tail cut) names that event and always wins over a finding about a range of
//! leaves (a checkpoint whose root no longer matches): the range is the answer
//! only when nothing narrower is known, that is when the stored leaf hashes
//! were rewritten too (API.md, "Audit log"). Where the log itself is whole, a
//! closure or decision that no longer matches its event names that event.
//! Where the log is damaged, that damage is the answer: a closure whose events
//! were cut off would otherwise blame the last event it still has. Among
//! findings of one kind the earliest event wins. Only the best finding of each
//! kind is kept, so memory does not grow with the damage either.

use serde::Serialize;

/// Written in a finding's detail where the closure concerned is named, so that
/// the detail can be shown to a force auditor without naming another force's
/// closure.
pub const CLOSURE: &str = "{closure}";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// One event is itself wrong (its `seq` is known).
    Event,
    /// The leaves from some position on no longer match a signed checkpoint.
    Range,
    /// A stored closure or decision no longer matches the event that vouches
    /// for it (the event's `seq` is known), or the event's closure is gone.
    Content,
    /// Nothing names an event: a checkpoint not signed by a trusted key, the
    /// witness file unreadable, a closure or decision with no event.
    Other,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    pub seq: Option<i64>,
    /// Position in leaf order, for range findings.
    pub position: u64,
    /// The closure the detail names, with its force.
    pub closure: Option<(String, Option<String>)>,
    /// Human sentence; [`CLOSURE`] stands for the closure.
    pub detail: String,
}

impl Finding {
    pub fn event(seq: i64, detail: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::Event,
            seq: Some(seq),
            position: 0,
            closure: None,
            detail: detail.into(),
        }
    }

    pub fn content(seq: i64, detail: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::Content,
            ..Finding::event(seq, detail)
        }
    }

    pub fn range(position: u64, seq: Option<i64>, detail: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::Range,
            seq,
            position,
            closure: None,
            detail: detail.into(),
        }
    }

    pub fn other(detail: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::Other,
            seq: None,
            position: 0,
            closure: None,
            detail: detail.into(),
        }
    }

    /// The finding concerns closure `id` of `force`.
    pub fn about(mut self, id: &str, force: Option<&str>) -> Finding {
        self.closure = Some((id.to_string(), force.map(str::to_owned)));
        self
    }

    /// The detail for a reader who may see the closures of `force` only
    /// (`None`: every force).
    pub fn detail_for(&self, force: Option<&str>) -> String {
        let name = match (&self.closure, force) {
            (None, _) => return self.detail.clone(),
            (Some((id, _)), None) => format!("closure {id}"),
            (Some((id, Some(f))), Some(mine)) if f == mine => format!("closure {id}"),
            (Some(_), Some(_)) => "a closure of another force".to_string(),
        };
        self.detail.replace(CLOSURE, &name)
    }

    fn better_than(&self, other: &Finding) -> bool {
        match self.kind {
            Kind::Event | Kind::Content => self.seq < other.seq,
            Kind::Range => self.position < other.position,
            Kind::Other => false,
        }
    }
}

/// The best finding of each kind, and how many there were.
#[derive(Debug, Default)]
pub struct Findings {
    best: [Option<Finding>; 4],
    pub count: u64,
}

impl Findings {
    pub fn add(&mut self, f: Finding) {
        self.count += 1;
        let slot = &mut self.best[f.kind as usize];
        match slot {
            Some(current) if !f.better_than(current) => {}
            _ => *slot = Some(f),
        }
    }

    /// Adds what another pass found.
    pub fn merge(&mut self, other: Findings) {
        let count = self.count + other.count;
        for f in other.best.into_iter().flatten() {
            self.add(f);
        }
        self.count = count;
    }

    /// The answer: the earliest wrong event of the log, else the earliest
    /// range, else the earliest event its closure no longer matches, else the
    /// first other finding.
    pub fn answer(&self) -> Option<&Finding> {
        self.best.iter().flatten().next()
    }
}

/// The verdict on the whole log.
#[derive(Debug)]
pub struct Verdict {
    pub checked: u64,
    pub tree_size: u64,
    pub findings: Findings,
}

/// The answer of `GET /audit/verify` and of the offline verifier.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub ok: bool,
    /// Events checked.
    pub checked: u64,
    /// The seq of the earliest event that is itself wrong; else the first leaf
    /// after the last checkpoint that still matches; null when intact.
    pub first_bad_seq: Option<i64>,
    pub detail: String,
}

impl Verdict {
    /// This verdict with the findings of another pass over the same snapshot
    /// or database (its counts are this one's).
    pub fn with(mut self, other: Verdict) -> Verdict {
        self.findings.merge(other.findings);
        self
    }

    /// The report for a reader who may see the closures of `force` only
    /// (`None`: every force).
    pub fn report_for(&self, force: Option<&str>) -> Report {
        match self.findings.answer() {
            None => Report {
                ok: true,
                checked: self.checked,
                first_bad_seq: None,
                detail: format!(
                    "intact: {} events, tree of {} leaves",
                    self.checked, self.tree_size
                ),
            },
            Some(f) => {
                let more = self.findings.count - 1;
                let mut detail = f.detail_for(force);
                if more > 0 {
                    detail.push_str(&format!(
                        " ({more} other finding{} after this one)",
                        if more == 1 { "" } else { "s" }
                    ));
                }
                Report {
                    ok: false,
                    checked: self.checked,
                    first_bad_seq: f.seq,
                    detail,
                }
            }
        }
    }

    pub fn report(&self) -> Report {
        self.report_for(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_beats_a_range_and_the_earliest_wins() {
        let mut f = Findings::default();
        f.add(Finding::other("unsigned"));
        f.add(Finding::content(2, "closure changed"));
        assert_eq!(f.answer().unwrap().kind, Kind::Content);
        f.add(Finding::range(3, Some(4), "rewritten from leaf 3"));
        assert_eq!(f.answer().unwrap().kind, Kind::Range);
        f.add(Finding::event(9, "altered"));
        f.add(Finding::event(7, "altered"));
        f.add(Finding::event(8, "altered"));
        assert_eq!(f.answer().unwrap().seq, Some(7));
        assert_eq!(f.count, 6);

        let mut closures = Findings::default();
        closures.add(Finding::content(1, "closure changed"));
        closures.add(Finding::content(5, "closure changed"));
        f.merge(closures);
        assert_eq!(f.count, 8);
        assert_eq!(f.answer().unwrap().seq, Some(7), "an event still wins");
        assert_eq!(
            f.best[Kind::Content as usize].as_ref().unwrap().seq,
            Some(1)
        );
    }

    #[test]
    fn another_forces_closure_is_not_named() {
        let f = Finding::event(3, format!("{CLOSURE} was changed")).about("c1", Some("kent"));
        assert_eq!(f.detail_for(None), "closure c1 was changed");
        assert_eq!(f.detail_for(Some("kent")), "closure c1 was changed");
        assert_eq!(
            f.detail_for(Some("essex")),
            "a closure of another force was changed"
        );
    }
}
