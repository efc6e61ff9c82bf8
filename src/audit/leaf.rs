//! The canonical, versioned bytes of an audit event: what a leaf of the tree
//! commits to. The same event gives the same bytes on SQLite and PostgreSQL, and
//! from an export (CSV or NDJSON) as from the database, so anyone can recompute
//! a leaf hash without the service.
//!
//! Format `closure-audit/event/v1`: that line, a newline, then the event as JSON
//! with object keys sorted, no insignificant white space, timestamps as integer
//! microseconds since the epoch:
//! `{"action":…,"actor":{"force_id":…,"rank":…,"role":…,"user_id":…,"username":…},"at":…,"closure_id":…,"details":…,"force_id":…,"request_id":…,"seq":…}`

use super::merkle::{Hash, leaf_hash};
use crate::db::events::EventRow;
use serde_json::Value;

pub const LEAF_FORMAT: &str = "closure-audit/event/v1";

/// The fields of an event that the log commits to.
#[derive(Debug, Clone, PartialEq)]
pub struct CanonicalEvent {
    pub seq: i64,
    /// Microseconds since the epoch.
    pub at: i64,
    pub action: String,
    pub actor_user_id: Option<String>,
    pub actor_username: Option<String>,
    pub actor_role: Option<String>,
    pub actor_rank: Option<String>,
    pub actor_force_id: Option<String>,
    pub closure_id: Option<String>,
    pub force_id: Option<String>,
    pub request_id: Option<String>,
    pub details: Value,
}

impl CanonicalEvent {
    pub fn from_row(r: &EventRow) -> Self {
        Self::from_owned_row(r.clone())
    }

    /// [`CanonicalEvent::from_row`] without copying the row's strings.
    pub fn from_owned_row(r: EventRow) -> Self {
        let details = match serde_json::from_str(&r.details) {
            Ok(v) => v,
            Err(_) => Value::String(r.details),
        };
        CanonicalEvent {
            seq: r.seq,
            at: r.at,
            action: r.action,
            actor_user_id: r.actor_user_id,
            actor_username: r.actor_username,
            actor_role: r.actor_role,
            actor_rank: r.actor_rank,
            actor_force_id: r.actor_force_id,
            closure_id: r.closure_id,
            force_id: r.force_id,
            request_id: r.request_id,
            details,
        }
    }

    /// The canonical bytes of [`LEAF_FORMAT`]: the keys are written in their
    /// sorted order by hand (the test below holds them to the general
    /// canonical form), `details` through [`canonical_json`].
    pub fn bytes(&self) -> Vec<u8> {
        fn text(out: &mut Vec<u8>, v: &Option<String>) {
            match v {
                Some(s) => write_str(out, s),
                None => out.extend_from_slice(b"null"),
            }
        }
        let mut out = Vec::with_capacity(384);
        out.extend_from_slice(LEAF_FORMAT.as_bytes());
        out.extend_from_slice(b"\n{\"action\":");
        write_str(&mut out, &self.action);
        out.extend_from_slice(b",\"actor\":{\"force_id\":");
        text(&mut out, &self.actor_force_id);
        out.extend_from_slice(b",\"rank\":");
        text(&mut out, &self.actor_rank);
        out.extend_from_slice(b",\"role\":");
        text(&mut out, &self.actor_role);
        out.extend_from_slice(b",\"user_id\":");
        text(&mut out, &self.actor_user_id);
        out.extend_from_slice(b",\"username\":");
        text(&mut out, &self.actor_username);
        out.extend_from_slice(b"},\"at\":");
        out.extend_from_slice(self.at.to_string().as_bytes());
        out.extend_from_slice(b",\"closure_id\":");
        text(&mut out, &self.closure_id);
        out.extend_from_slice(b",\"details\":");
        write_canonical(&self.details, &mut out);
        out.extend_from_slice(b",\"force_id\":");
        text(&mut out, &self.force_id);
        out.extend_from_slice(b",\"request_id\":");
        text(&mut out, &self.request_id);
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        out.push(b'}');
        out
    }

    /// The bytes as the general canonical form makes them: what
    /// [`CanonicalEvent::bytes`] must equal.
    #[cfg(test)]
    fn bytes_general(&self) -> Vec<u8> {
        let v = serde_json::json!({
            "seq": self.seq,
            "at": self.at,
            "action": self.action,
            "actor": {
                "user_id": self.actor_user_id,
                "username": self.actor_username,
                "role": self.actor_role,
                "rank": self.actor_rank,
                "force_id": self.actor_force_id,
            },
            "closure_id": self.closure_id,
            "force_id": self.force_id,
            "request_id": self.request_id,
            "details": self.details,
        });
        let mut out = String::new();
        out.push_str(LEAF_FORMAT);
        out.push('\n');
        canonical_json(&v, &mut out);
        out.into_bytes()
    }

    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.bytes())
    }

    /// Reads the canonical bytes back (an entry of a tlog-tiles entry bundle);
    /// `None` unless they are exactly what [`CanonicalEvent::bytes`] makes.
    pub fn from_bytes(bytes: &[u8]) -> Option<CanonicalEvent> {
        let text = std::str::from_utf8(bytes).ok()?;
        let json = text.strip_prefix(LEAF_FORMAT)?.strip_prefix('\n')?;
        let v: Value = serde_json::from_str(json).ok()?;
        let text_of = |v: &Value| match v {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            _ => None,
        };
        let a = &v["actor"];
        let e = CanonicalEvent {
            seq: v["seq"].as_i64()?,
            at: v["at"].as_i64()?,
            action: v["action"].as_str()?.to_string(),
            actor_user_id: text_of(&a["user_id"])?,
            actor_username: text_of(&a["username"])?,
            actor_role: text_of(&a["role"])?,
            actor_rank: text_of(&a["rank"])?,
            actor_force_id: text_of(&a["force_id"])?,
            closure_id: text_of(&v["closure_id"])?,
            force_id: text_of(&v["force_id"])?,
            request_id: text_of(&v["request_id"])?,
            details: v["details"].clone(),
        };
        (e.bytes() == bytes).then_some(e)
    }
}

/// A JSON string as serde_json writes it (its escaping is the canonical one).
fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("a string serializes");
}

/// JSON with object keys sorted (by their UTF-8 bytes) and no white space.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_canonical(&map[*k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, other).expect("a scalar serializes"),
    }
}

/// JSON with object keys sorted (by their UTF-8 bytes) and no white space.
pub fn canonical_json(v: &Value, out: &mut String) {
    let mut bytes = std::mem::take(out).into_bytes();
    write_canonical(v, &mut bytes);
    *out = String::from_utf8(bytes).expect("JSON text is UTF-8");
}

/// `details` as canonical JSON text (the `details_json` column of exports).
pub fn canonical_text(v: &Value) -> String {
    let mut s = String::new();
    canonical_json(v, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_bytes_read_back() {
        let e = event();
        assert_eq!(CanonicalEvent::from_bytes(&e.bytes()), Some(e.clone()));
        // Not canonical (spaces), or not the format: refused.
        let spaced = String::from_utf8(e.bytes()).unwrap().replacen(':', ": ", 1);
        assert_eq!(CanonicalEvent::from_bytes(spaced.as_bytes()), None);
        assert_eq!(CanonicalEvent::from_bytes(b"{}"), None);
    }

    #[test]
    fn the_keys_written_by_hand_are_the_canonical_form() {
        let mut e = event();
        assert_eq!(e.bytes(), e.bytes_general());
        e.actor_user_id = None;
        e.closure_id = None;
        e.request_id = Some("\u{1}\"\\/ é".into());
        e.details = Value::String("not json".into());
        e.seq = i64::MAX;
        e.at = -1;
        assert_eq!(e.bytes(), e.bytes_general());
        let row = EventRow {
            seq: e.seq,
            at: e.at,
            action: e.action.clone(),
            actor_user_id: None,
            actor_username: e.actor_username.clone(),
            actor_role: e.actor_role.clone(),
            actor_rank: None,
            actor_force_id: e.actor_force_id.clone(),
            closure_id: None,
            force_id: e.force_id.clone(),
            request_id: e.request_id.clone(),
            details: "not json".into(),
        };
        assert_eq!(CanonicalEvent::from_row(&row), e);
        assert_eq!(CanonicalEvent::from_owned_row(row), e);
    }

    fn event() -> CanonicalEvent {
        CanonicalEvent {
            seq: 7,
            at: 1_795_849_299_123_456,
            action: "closure.created".into(),
            actor_user_id: Some("u1".into()),
            actor_username: Some("rms".into()),
            actor_role: Some("force_system".into()),
            actor_rank: None,
            actor_force_id: Some("kent".into()),
            closure_id: Some("c1".into()),
            force_id: Some("kent".into()),
            request_id: Some("r1".into()),
            details: json!({"z": 1, "a": {"y": [1, "two", null], "b": "é\"\n"}}),
        }
    }

    #[test]
    fn canonical_bytes_are_stable() {
        let text = String::from_utf8(event().bytes()).unwrap();
        assert_eq!(
            text,
            "closure-audit/event/v1\n{\"action\":\"closure.created\",\"actor\":{\"force_id\":\"kent\",\"rank\":null,\"role\":\"force_system\",\"user_id\":\"u1\",\"username\":\"rms\"},\"at\":1795849299123456,\"closure_id\":\"c1\",\"details\":{\"a\":{\"b\":\"é\\\"\\n\",\"y\":[1,\"two\",null]},\"z\":1},\"force_id\":\"kent\",\"request_id\":\"r1\",\"seq\":7}"
        );
        // Key order in the stored details does not matter.
        let mut other = event();
        other.details =
            serde_json::from_str(r#"{"a":{"y":[1,"two",null],"b":"é\"\n"},"z":1}"#).unwrap();
        assert_eq!(other.leaf_hash(), event().leaf_hash());
        other.seq = 8;
        assert_ne!(other.leaf_hash(), event().leaf_hash());
    }
}
