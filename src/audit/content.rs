//! The content an event vouches for: the hashes that `closure.created`, the
//! decision events and `closure.reopened` record of what they concern, so that
//! verification can recompute them from the stored closures and decisions
//! (API.md, "Audit log": content, not only status). Editing a stored rationale
//! without a matching event is then visible, although no event was touched.

use super::leaf::canonical_json;
use crate::domain::closures::ClosureInput;
use crate::domain::signoff::Checklist;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One decision as stored: what its event's `decision_hash` covers.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionContent {
    pub decision: String,
    pub rationale: String,
    /// The four checklist items as a JSON object.
    pub checklist: Value,
    pub by_user_id: String,
    pub by_officer_id: String,
    pub by_rank: String,
    /// Microseconds since the epoch.
    pub decided_at: i64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl DecisionContent {
    /// SHA-256 (hex) of the decision's canonical JSON (keys sorted, no white space).
    pub fn hash(&self) -> String {
        let v = json!({
            "decision": self.decision,
            "rationale": self.rationale,
            "checklist": self.checklist,
            "by_user_id": self.by_user_id,
            "by_officer_id": self.by_officer_id,
            "by_rank": self.by_rank,
            "decided_at": self.decided_at,
        });
        let mut text = String::new();
        canonical_json(&v, &mut text);
        sha256_hex(text.as_bytes())
    }
}

/// SHA-256 (hex) of a closure's normalised content (the JSON of its
/// [`ClosureInput`], fields in declaration order): two posts of one
/// `source_event_id` are the same closure exactly when these match.
pub fn closure_hash(c: &ClosureInput) -> String {
    sha256_hex(&serde_json::to_vec(c).expect("serialisable"))
}

/// The checklist as a decision's stored JSON and its event carry it.
pub fn checklist_json(c: Checklist) -> Value {
    Value::Object(
        c.items()
            .map(|(name, v)| (name.to_string(), Value::Bool(v)))
            .collect(),
    )
}

/// SHA-256 (hex) of a reopening's reason, as UTF-8.
pub fn reason_hash(reason: &str) -> String {
    sha256_hex(reason.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DecisionContent {
        DecisionContent {
            decision: "approve".into(),
            rationale: "All four items confirmed with the OIC.".into(),
            checklist: json!({"victim_informed": true, "safeguarding_in_place": true}),
            by_user_id: "u1".into(),
            by_officer_id: "2210".into(),
            by_rank: "inspector".into(),
            decided_at: 1_764_000_000_000_000,
        }
    }

    #[test]
    fn every_field_counts_and_key_order_does_not() {
        let a = sample();
        let mut reordered = a.clone();
        reordered.checklist = json!({"safeguarding_in_place": true, "victim_informed": true});
        assert_eq!(a.hash(), reordered.hash());
        let mut b = a.clone();
        b.rationale.push('.');
        assert_ne!(a.hash(), b.hash());
        let mut c = a.clone();
        c.decided_at += 1;
        assert_ne!(a.hash(), c.hash());
        assert_eq!(reason_hash("x").len(), 64);
    }
}
