//! What must hold after a fault: every acknowledged closure stored once with the
//! content acknowledged, one `closure.created` event per closure, and a log that
//! the sequencer has caught up with and that verifies.

use crate::server::Service;
use closure_audit::audit::export::read_checkpoints;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// A closure the service acknowledged (201, or 200 for a replay of a stored one).
#[derive(Debug, Clone)]
pub struct Ack {
    pub source_event_id: String,
    /// The body posted.
    pub posted: Value,
    /// The id the service answered, if the answer carried one.
    pub id: Option<String>,
    /// The whole closure answered by a single POST.
    pub returned: Option<Value>,
}

/// What the checks covered.
#[derive(Debug)]
pub struct Checked {
    pub closures: usize,
    pub acknowledged: usize,
    pub events: usize,
    pub tree_size: u64,
}

/// Every closure of `force`, page by page (newest first), as `token` sees them.
pub async fn all_closures(svc: &Service, token: &str, force: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/closures?force_id={force}&limit=500{cursor}");
        let reply = svc.get(&path, token).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        all.extend(
            reply.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .cloned(),
        );
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return all,
        }
    }
}

/// Every audit event matching `query`, oldest first.
pub async fn events(svc: &Service, admin: &str, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/audit/events?limit=1000&{query}{cursor}");
        let reply = svc.get(&path, admin).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        all.extend(
            reply.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .cloned(),
        );
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return all,
        }
    }
}

/// Waits until the latest checkpoint covers every event and every event has
/// its leaf; returns (events, checkpoint).
pub async fn settle(svc: &Service, admin: &str) -> (Vec<Value>, Value) {
    let started = Instant::now();
    loop {
        let all = events(svc, admin, "").await;
        let cp = svc.get("/api/v1/audit/checkpoint", admin).await;
        if cp.status == 200
            && cp.body["tree_size"].as_u64() == Some(all.len() as u64)
            && all.iter().all(|e| e["leaf_index"].is_u64())
        {
            return (all, cp.body);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the sequencer did not catch up within 30 s: checkpoint {} for {} events",
            cp.body,
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `posted` is contained in `stored`: every member posted is stored with the
/// same value (objects recursively; arrays and scalars exactly).
pub fn contained(posted: &Value, stored: &Value, path: &str) -> Result<(), String> {
    match (posted, stored) {
        (Value::Object(p), Value::Object(s)) => {
            for (k, v) in p {
                let here = format!("{path}.{k}");
                match s.get(k) {
                    Some(sv) => contained(v, sv, &here)?,
                    None => return Err(format!("{here} is missing")),
                }
            }
            Ok(())
        }
        _ if posted == stored => Ok(()),
        _ => Err(format!("{path}: posted {posted}, stored {stored}")),
    }
}

/// Checks the state after a fault. `acks` are the closures the service
/// acknowledged; `sent` every `source_event_id` the clients tried.
pub async fn after_fault(
    svc: &Service,
    admin: &str,
    reader: &str,
    force: &str,
    acks: &[Ack],
    sent: &HashSet<String>,
    data_dir: &Path,
) -> Checked {
    let stored = all_closures(svc, reader, force).await;
    let mut by_sid: HashMap<&str, &Value> = HashMap::new();
    let mut ids = HashSet::new();
    for c in &stored {
        let sid = c["source_event_id"].as_str().expect("source_event_id");
        assert!(
            by_sid.insert(sid, c).is_none(),
            "source_event_id {sid} is stored twice"
        );
        assert!(
            ids.insert(c["id"].as_str().expect("id").to_string()),
            "closure id {} is listed twice",
            c["id"]
        );
        assert!(
            sent.contains(sid),
            "closure {sid} is stored but no client ever sent it"
        );
    }

    let mut acked = HashSet::new();
    for a in acks {
        assert!(
            acked.insert(a.source_event_id.as_str()),
            "{} acknowledged twice as new",
            a.source_event_id
        );
        let Some(s) = by_sid.get(a.source_event_id.as_str()) else {
            panic!(
                "closure {} was acknowledged (id {:?}) but is not stored",
                a.source_event_id, a.id
            );
        };
        if let Some(id) = &a.id {
            assert_eq!(
                s["id"].as_str(),
                Some(id.as_str()),
                "{}: stored under another id",
                a.source_event_id
            );
        }
        if let Err(e) = contained(&a.posted, s, "") {
            panic!("{}: stored content differs: {e}", a.source_event_id);
        }
        if let Some(r) = &a.returned {
            assert_eq!(
                r, *s,
                "{}: the stored closure differs from the one answered",
                a.source_event_id
            );
        }
    }

    // A sample read one by one, as a reader of the force does.
    for a in acks
        .iter()
        .filter(|a| a.id.is_some())
        .step_by(acks.len() / 20 + 1)
    {
        let id = a.id.as_deref().unwrap();
        let one = svc.get(&format!("/api/v1/closures/{id}"), reader).await;
        assert_eq!(one.status, 200, "GET closure {id}: {}", one.body);
        assert_eq!(&one.body, by_sid[a.source_event_id.as_str()]);
    }

    let (all_events, cp) = settle(svc, admin).await;
    let created: Vec<&Value> = all_events
        .iter()
        .filter(|e| e["action"] == "closure.created")
        .collect();
    assert_eq!(
        created.len(),
        stored.len(),
        "one closure.created event per closure"
    );
    let created_ids: HashSet<String> = created
        .iter()
        .map(|e| e["closure_id"].as_str().expect("closure_id").to_string())
        .collect();
    assert_eq!(
        created_ids, ids,
        "the closure.created events name exactly the stored closures"
    );

    let report = svc.get("/api/v1/audit/verify", admin).await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(
        report.body["ok"],
        Value::Bool(true),
        "verify: {}",
        report.body
    );
    assert!(report.body["first_bad_seq"].is_null(), "{}", report.body);

    // The witness file outside the database is still readable as a whole, and
    // (once the round that signed it has appended it) holds the latest checkpoint.
    let started = Instant::now();
    loop {
        let witness = std::fs::read_to_string(data_dir.join("checkpoints.ndjson"))
            .expect("the witness file exists");
        let witnessed = read_checkpoints(&witness).unwrap_or_else(|e| {
            panic!("the witness file is no longer readable after the fault: {e}")
        });
        if witnessed
            .iter()
            .any(|w| Some(w.size) == cp["tree_size"].as_u64())
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the latest checkpoint {cp} is not in the witness file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    Checked {
        closures: stored.len(),
        acknowledged: acks.len(),
        events: all_events.len(),
        tree_size: cp["tree_size"].as_u64().unwrap_or(0),
    }
}
