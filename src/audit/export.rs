//! The log as files: exporting it (NDJSON or CSV, in leaf order) and reading
//! exports, checkpoints, keys and closures back for the offline verifier.

use super::checkpoint::{SignedCheckpoint, TrustedKey};
use super::content::DecisionContent;
use super::leaf::{CanonicalEvent, canonical_text};
use super::verify::{ClosureRecord, Content, Entry};
use crate::db::events::without_leaf_after;
use crate::db::log as store;
use crate::db::{Conn, rfc3339};
use crate::domain::FieldError;
use crate::domain::closures::{ClosureDraft, validate_closure};
use crate::error::AppResult;
use crate::export::{neutralize, restore};
use serde_json::{Value, json};
use std::io::Write;

/// The CSV columns of an audit export (API.md, "Exports").
pub const AUDIT_CSV_COLUMNS: [&str; 14] = [
    "seq",
    "leaf_index",
    "at",
    "action",
    "actor_user_id",
    "actor_username",
    "actor_role",
    "actor_rank",
    "actor_force_id",
    "closure_id",
    "force_id",
    "request_id",
    "details_json",
    "leaf_hash",
];

/// The whole log from the database, one entry at a time: leaves in order
/// (with their events, or none where an event is gone) through the one
/// leaf-order reader, then events not yet integrated. Run it in one snapshot
/// ([`crate::db::Db::snapshot_blocking`]).
pub fn for_each_entry(c: &mut Conn, mut f: impl FnMut(Entry) -> AppResult<()>) -> AppResult<()> {
    store::stream_leaves(c, 0..i64::MAX, |row| {
        f(Entry::from(row))?;
        Ok(true)
    })?;
    let mut after = 0i64;
    loop {
        let rows = without_leaf_after(c, after, 2000)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.seq;
        for e in rows {
            f(Entry {
                seq: e.seq,
                leaf_index: None,
                event: Some(CanonicalEvent::from_owned_row(e)),
                leaf_hash: None,
            })?;
        }
    }
}

/// [`for_each_entry`] collected: for a log known to be small (tests).
pub fn entries_from_db(c: &mut Conn) -> AppResult<Vec<Entry>> {
    let mut entries = Vec::new();
    for_each_entry(c, |e| {
        entries.push(e);
        Ok(())
    })?;
    Ok(entries)
}

/// One NDJSON line: the event as the API shows it, with its leaf.
pub fn ndjson_line(e: &Entry) -> Value {
    match &e.event {
        None => {
            json!({"seq": e.seq, "leaf_index": e.leaf_index, "leaf_hash": e.leaf_hash, "missing": true})
        }
        Some(ev) => json!({
            "seq": e.seq,
            "leaf_index": e.leaf_index,
            "at": rfc3339(ev.at),
            "action": ev.action,
            "actor": {"user_id": ev.actor_user_id, "username": ev.actor_username, "role": ev.actor_role,
                      "rank": ev.actor_rank, "force_id": ev.actor_force_id},
            "closure_id": ev.closure_id,
            "force_id": ev.force_id,
            "request_id": ev.request_id,
            "details": ev.details,
            "leaf_hash": e.leaf_hash,
        }),
    }
}

/// One CSV record, in [`AUDIT_CSV_COLUMNS`] order (not yet neutralised).
pub fn csv_record(e: &Entry) -> Vec<String> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut cells = match &e.event {
        None => vec![
            e.seq.to_string(),
            e.leaf_index.map(|i| i.to_string()).unwrap_or_default(),
        ]
        .into_iter()
        .chain(std::iter::repeat_n(String::new(), 11))
        .collect::<Vec<_>>(),
        Some(ev) => vec![
            e.seq.to_string(),
            e.leaf_index.map(|i| i.to_string()).unwrap_or_default(),
            rfc3339(ev.at),
            ev.action.clone(),
            s(&ev.actor_user_id),
            s(&ev.actor_username),
            s(&ev.actor_role),
            s(&ev.actor_rank),
            s(&ev.actor_force_id),
            s(&ev.closure_id),
            s(&ev.force_id),
            s(&ev.request_id),
            canonical_text(&ev.details),
        ],
    };
    cells.push(s(&e.leaf_hash));
    cells
}

/// Writes an export one entry at a time, as NDJSON or CSV (with its header).
pub enum EntryWriter<W: Write> {
    Ndjson(W),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> EntryWriter<W> {
    /// `format`: `ndjson` or `csv`.
    pub fn new(format: &str, out: W) -> Result<Self, String> {
        match format {
            "ndjson" => Ok(EntryWriter::Ndjson(out)),
            "csv" => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                w.write_record(AUDIT_CSV_COLUMNS)
                    .map_err(|e| e.to_string())?;
                Ok(EntryWriter::Csv(Box::new(w)))
            }
            other => Err(format!("unknown format {other:?}: use ndjson or csv")),
        }
    }

    pub fn write(&mut self, e: &Entry) -> Result<(), String> {
        match self {
            EntryWriter::Ndjson(out) => {
                writeln!(out, "{}", ndjson_line(e)).map_err(|e| e.to_string())
            }
            EntryWriter::Csv(w) => {
                let cells = csv_record(e);
                w.write_record(cells.iter().map(|c| neutralize(c).into_owned()))
                    .map_err(|e| e.to_string())
            }
        }
    }

    pub fn finish(self) -> Result<(), String> {
        match self {
            EntryWriter::Ndjson(mut out) => out.flush(),
            EntryWriter::Csv(mut w) => w.flush(),
        }
        .map_err(|e| e.to_string())
    }
}

fn write_all(format: &str, entries: &[Entry], out: &mut impl Write) -> Result<(), String> {
    let mut w = EntryWriter::new(format, out)?;
    for e in entries {
        w.write(e)?;
    }
    w.finish()
}

pub fn write_ndjson(entries: &[Entry], out: &mut impl Write) -> Result<(), String> {
    write_all("ndjson", entries, out)
}

pub fn write_csv(entries: &[Entry], out: &mut impl Write) -> Result<(), String> {
    write_all("csv", entries, out)
}

fn micros(at: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.timestamp_micros())
        .map_err(|e| format!("bad timestamp {at:?}: {e}"))
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// Reads an export: CSV (by its header) or NDJSON.
pub fn read_export(text: &str) -> Result<Vec<Entry>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.starts_with("seq,leaf_index,") {
        return read_csv(text);
    }
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let seq = v["seq"].as_i64().ok_or(format!("line {}: no seq", n + 1))?;
        let event = if v.get("missing").is_some_and(|m| m == true) {
            None
        } else {
            let a = &v["actor"];
            Some(CanonicalEvent {
                seq,
                at: micros(v["at"].as_str().unwrap_or_default())?,
                action: opt(&v["action"]).unwrap_or_default(),
                actor_user_id: opt(&a["user_id"]),
                actor_username: opt(&a["username"]),
                actor_role: opt(&a["role"]),
                actor_rank: opt(&a["rank"]),
                actor_force_id: opt(&a["force_id"]),
                closure_id: opt(&v["closure_id"]),
                force_id: opt(&v["force_id"]),
                request_id: opt(&v["request_id"]),
                details: v["details"].clone(),
            })
        };
        out.push(Entry {
            seq,
            leaf_index: v["leaf_index"].as_i64(),
            event,
            leaf_hash: opt(&v["leaf_hash"]),
        });
    }
    Ok(out)
}

fn read_csv(text: &str) -> Result<Vec<Entry>, String> {
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (n, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| format!("record {}: {e}", n + 1))?;
        let cell = |i: usize| restore(rec.get(i).unwrap_or_default()).to_string();
        let optc = |i: usize| Some(cell(i)).filter(|s| !s.is_empty());
        let seq: i64 = cell(0)
            .parse()
            .map_err(|_| format!("record {}: bad seq", n + 1))?;
        let event = if cell(3).is_empty() {
            None
        } else {
            Some(CanonicalEvent {
                seq,
                at: micros(&cell(2))?,
                action: cell(3),
                actor_user_id: optc(4),
                actor_username: optc(5),
                actor_role: optc(6),
                actor_rank: optc(7),
                actor_force_id: optc(8),
                closure_id: optc(9),
                force_id: optc(10),
                request_id: optc(11),
                details: serde_json::from_str(&cell(12))
                    .map_err(|e| format!("record {}: details_json: {e}", n + 1))?,
            })
        };
        out.push(Entry {
            seq,
            leaf_index: cell(1).parse().ok(),
            event,
            leaf_hash: optc(13),
        });
    }
    Ok(out)
}

/// One line of the witness file: a checkpoint as the API returns it.
pub fn read_checkpoint_line(line: &str) -> Result<SignedCheckpoint, String> {
    read_witness_line(line).map(|(cp, _)| cp)
}

/// One line of the witness file, with when it was written (microseconds; the
/// file's lines are written after the checkpoint's commit).
pub fn read_witness_line(line: &str) -> Result<(SignedCheckpoint, Option<i64>), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let cp = SignedCheckpoint::parse(v["note"].as_str().ok_or("a checkpoint without a note")?)?;
    let at = v["timestamp"].as_str().and_then(|t| micros(t).ok());
    Ok((cp, at))
}

/// Checkpoints from a file: one signed note, or NDJSON of checkpoints as the
/// API returns them (the witness file's format).
pub fn read_checkpoints(text: &str) -> Result<Vec<SignedCheckpoint>, String> {
    if text.trim_start().starts_with('{') {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            // A line cut short by a crash while it was written holds nothing.
            .filter(|l| l.trim_end().ends_with('}'))
            .map(read_checkpoint_line)
            .collect()
    } else {
        Ok(vec![SignedCheckpoint::parse(text)?])
    }
}

/// A trusted key: a C2SP verifier key, or the JSON of `GET /audit/public-key`.
pub fn read_key(text: &str) -> Result<TrustedKey, String> {
    let text = text.trim();
    if text.starts_with('{') {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        return TrustedKey::parse_verifier_key(
            v["verifier_key"].as_str().ok_or("no verifier_key")?,
        );
    }
    TrustedKey::parse_verifier_key(text)
}

/// How a face reads one closure's posted fields from its JSON.
pub type DraftOf = fn(&Value) -> Result<ClosureDraft, Vec<FieldError>>;

/// Closures as stored: NDJSON of closures as the API returns them (every field
/// posted and the decisions, so that their content is checked too), or a
/// closures CSV export (its `id`, `force_id` and `status` columns: status only).
/// `draft_of` reads the posted fields of one closure as the API reads a post.
pub fn read_closures(text: &str, draft_of: DraftOf) -> Result<Vec<ClosureRecord>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.starts_with("id,") {
        let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let headers = r.headers().map_err(|e| e.to_string())?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or(format!("no {name} column"))
        };
        let (id, force, status) = (col("id")?, col("force_id")?, col("status")?);
        return r
            .records()
            .map(|rec| {
                let rec = rec.map_err(|e| e.to_string())?;
                Ok(ClosureRecord {
                    id: restore(&rec[id]).to_string(),
                    force_id: Some(restore(&rec[force]).to_string()),
                    status: restore(&rec[status]).to_string(),
                    version: None,
                    content: Content::Unknown,
                    decisions: None,
                    latest: None,
                })
            })
            .collect();
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).map_err(|e| e.to_string())?;
            closure_record(&v, draft_of)
        })
        .collect()
}

/// A closure as the API shows it, as a record to check.
fn closure_record(v: &Value, draft_of: DraftOf) -> Result<ClosureRecord, String> {
    let id = opt(&v["id"]).ok_or("a closure without an id")?;
    // The posted fields are judged as they were when posted; no instant is too late.
    let judged =
        draft_of(v).and_then(|d| validate_closure(d, chrono::DateTime::<chrono::Utc>::MAX_UTC));
    let content = match judged {
        Ok(input) => Content::Hash(crate::audit::content::closure_hash(&input)),
        Err(_) => Content::Unreadable,
    };
    let decisions = match v.get("decisions").and_then(Value::as_array) {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|d| {
                    Ok(DecisionContent {
                        decision: opt(&d["decision"]).unwrap_or_default(),
                        rationale: opt(&d["rationale"]).unwrap_or_default(),
                        checklist: d["checklist"].clone(),
                        by_user_id: opt(&d["by_user_id"]).unwrap_or_default(),
                        by_officer_id: opt(&d["by_officer_id"]).unwrap_or_default(),
                        by_rank: opt(&d["by_rank"]).unwrap_or_default(),
                        decided_at: micros(d["decided_at"].as_str().unwrap_or_default())?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
        ),
    };
    Ok(ClosureRecord {
        id,
        force_id: opt(&v["force_id"]),
        status: opt(&v["status"]).ok_or("a closure without a status")?,
        version: v["version"].as_i64(),
        content,
        decisions,
        latest: None,
    })
}
