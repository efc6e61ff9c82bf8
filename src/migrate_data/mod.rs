//! `closure-audit migrate-data --from URL --to URL`: moves a whole deployment to
//! another database (SQLite to PostgreSQL above all; any direction works) and
//! verifies the log there before committing.
//!
//! 1. Refusals before anything is written: the same database twice, a source
//!    that is missing or whose schema is not this version's, a table the copy
//!    does not know, a missing signing key when there are checkpoints to check.
//! 2. The target's migrations run (the schema only).
//! 3. In one target transaction, reading one read-only snapshot of the source:
//!    the target must hold no data; every table of [`tables::TABLES`] is copied
//!    in keyset pages with its keys (same ids, `seq`s, timestamps and hashes);
//!    the sequencer's watermark is translated ([`watermark()`]); every identity
//!    sequence is moved past the copied keys; each table is read back and
//!    compared with what was read (rows and a digest of every column); and the
//!    log is verified as `GET /audit/verify` does it (every leaf recomputed, the
//!    tree, every checkpoint's signature and root, in the database and in the
//!    witness file, the closures replayed). Any failure rolls everything back, and
//!    the target is left as empty as it was.
//!
//! The source is opened read-only and never migrated. The append-only triggers
//! stay: they refuse `UPDATE` and `DELETE`, and the copy only inserts.
//!
//! The signing key and the witness file live in the data dir, not in the
//! database: the data dir moves with the data, and the settings' `data_dir` (or
//! `checkpoint_key_file`) must name it when this runs.

mod preflight;
mod sequences;
pub mod tables;
mod verify;
mod watermark;

use crate::audit::merkle::to_hex;
use crate::audit::verify::Report;
use crate::config::Settings;
use crate::db::{Conn, DatabaseUrl, Db, PoolOptions, log as store, migrations, sqlite_uri};
use crate::error::AppResult;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{PgConnection, SqliteConnection};
use std::fmt;
use std::path::Path;
use std::time::Duration;
use tables::{TABLES, Tally};
pub use watermark::watermark;

/// What was moved, printed at the end.
#[derive(Debug)]
pub struct Summary {
    pub from: String,
    pub to: String,
    pub tables: Vec<(&'static str, u64)>,
    /// The sequencer's watermark as stored in the target.
    pub watermark: i64,
    /// `table.column` and the last key handed out, for each identity sequence.
    pub sequences: Vec<(String, i64)>,
    pub tree_size: u64,
    pub root_hash: String,
    /// The size of the latest signed checkpoint.
    pub checkpoint: Option<u64>,
    /// Events not yet in the tree: the target's sequencer integrates them.
    pub pending: u64,
    pub report: Report,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "moved {} to {}", self.from, self.to)?;
        for (name, rows) in &self.tables {
            writeln!(f, "  {name:<16} {rows:>10} rows")?;
        }
        writeln!(f, "  {:<16} watermark {}", "log_state", self.watermark)?;
        let seqs: Vec<String> = self
            .sequences
            .iter()
            .map(|(s, v)| format!("{s} at {v}"))
            .collect();
        writeln!(f, "sequences: {}", seqs.join(", "))?;
        writeln!(
            f,
            "tree size {}, root hash {}, latest checkpoint {}, {} event(s) awaiting the sequencer",
            self.tree_size,
            self.root_hash,
            self.checkpoint
                .map(|s| format!("of size {s}"))
                .unwrap_or_else(|| "none".into()),
            self.pending
        )?;
        writeln!(f, "verified: {}", self.report.detail)
    }
}

/// Moves everything from `from` to `to` (database URLs as in the settings) and
/// verifies it there; the settings give the data dir (signing key, witness
/// file) and the pool options. Blocking.
pub fn run(settings: &Settings, from: &str, to: &str) -> Result<Summary, String> {
    let from_url = DatabaseUrl::parse(from).map_err(|e| format!("--from: {e}"))?;
    let to_url = DatabaseUrl::parse(to).map_err(|e| format!("--to: {e}"))?;
    preflight::refuse_same_file(&from_url, &to_url)?;
    preflight::every_column_carried()?;
    let keys = preflight::trusted_keys(settings)?;
    let witness = settings.data_dir.join("checkpoints.ndjson");

    let mut source = Source::open(&from_url, settings.sqlite_busy_timeout_ms)?;
    source
        .snapshot(preflight::check_schema)
        .map_err(|e| format!("source {}: {e}", from_url.redacted()))?;
    let target = Db::connect(
        &to_url,
        &PoolOptions {
            pool_size: 2,
            connect_timeout: Duration::from_millis(settings.db_connect_timeout_ms),
            sqlite_busy_timeout_ms: settings.sqlite_busy_timeout_ms,
        },
    )?;
    if let (Source::Postgres(_), DatabaseUrl::Postgres { .. }) = (&source, &to_url) {
        let here = source
            .snapshot(preflight::pg_identity)
            .map_err(|e| e.to_string())?;
        let there = target
            .read_blocking(preflight::pg_identity)
            .map_err(|e| e.to_string())?;
        if here == there {
            return Err(format!(
                "--from and --to name the same database ({here}): nothing to move"
            ));
        }
    }
    // A target that holds data is refused before its schema is touched (and
    // again inside the copy's transaction, in case data arrives meanwhile).
    let held = target
        .read_blocking(preflight::held_data)
        .map_err(|e| e.to_string())?;
    if !held.is_empty() {
        return Err(preflight::not_empty(&held).to_string());
    }
    let applied = migrations::run(&target).map_err(|e| format!("target: {e}"))?;
    tracing::info!(
        database = %to_url.redacted(),
        migrations_applied = applied.len(),
        "target schema ready"
    );

    let ctx = Ctx {
        keys: &keys,
        witness: &witness,
    };
    let mut summary = target
        .write_blocking(|dst| source.snapshot(|src| move_all(src, dst, &ctx)))
        .map_err(|e| e.to_string())?;
    summary.from = from_url.redacted();
    summary.to = to_url.redacted();
    Ok(summary)
}

struct Ctx<'a> {
    keys: &'a preflight::Keys,
    witness: &'a Path,
}

/// The source, opened read-only.
enum Source {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Source {
    fn open(url: &DatabaseUrl, busy_timeout_ms: u64) -> Result<Source, String> {
        match url {
            DatabaseUrl::Sqlite { path } => {
                if !path.is_file() {
                    return Err(format!(
                        "--from: there is no database at {}",
                        path.display()
                    ));
                }
                let rw = sqlite_uri(path, false);
                let uri = format!("{}ro", rw.strip_suffix("rw").unwrap_or(&rw));
                let mut c = SqliteConnection::establish(&uri)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {busy_timeout_ms}; PRAGMA query_only = ON;"
                ))
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                Ok(Source::Sqlite(c))
            }
            DatabaseUrl::Postgres { url: pg } => PgConnection::establish(pg)
                .map(Source::Postgres)
                .map_err(|e| format!("cannot connect to {}: {e}", url.redacted())),
        }
    }

    /// Runs `f` in one read-only transaction: every page comes from the same
    /// snapshot, even if the source is still in use.
    fn snapshot<T>(&mut self, f: impl FnOnce(&mut Conn) -> AppResult<T>) -> AppResult<T> {
        match self {
            Source::Sqlite(c) => c.transaction(|c| f(&mut Conn::Sqlite(c))),
            Source::Postgres(c) => c
                .build_transaction()
                .repeatable_read()
                .read_only()
                .run(|c| f(&mut Conn::Postgres(c))),
        }
    }
}

#[derive(QueryableByName)]
struct Num {
    #[diesel(sql_type = BigInt)]
    v: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    v: String,
}

#[derive(QueryableByName)]
struct MaybeName {
    #[diesel(sql_type = Nullable<Text>)]
    v: Option<String>,
}

/// The whole move, inside the target's transaction and the source's snapshot.
fn move_all(src: &mut Conn, dst: &mut Conn, ctx: &Ctx) -> AppResult<Summary> {
    preflight::in_transaction(src, dst, ctx)?;

    let mut tallies: Vec<(&dyn tables::Table, Tally)> = Vec::new();
    for t in TABLES {
        let tally = t.copy(src, dst)?;
        tracing::info!(table = t.name(), rows = tally.rows, "copied");
        tallies.push((*t, tally));
    }
    // The target's trend summary, from the closures it now holds.
    crate::db::trend_summary::rebuild(dst)?;
    let watermark = watermark(src, dst)?;
    let sequences = sequences::advance(src, dst)?;

    // Read back: the target holds exactly what was read from the source.
    verify::read_back(dst, &tallies)?;
    let report = verify::log(src, dst, ctx)?;

    let tree = verify::tree_of(dst)?;
    let size = tree.size();
    let root = tree.root(size).expect("own size");
    let events = tallies
        .iter()
        .find(|(t, _)| t.name() == "audit_events")
        .map(|(_, t)| t.rows)
        .unwrap_or(0);
    Ok(Summary {
        from: String::new(),
        to: String::new(),
        tables: tallies.iter().map(|(t, n)| (t.name(), n.rows)).collect(),
        watermark,
        sequences,
        tree_size: size,
        root_hash: to_hex(&root),
        checkpoint: store::latest_checkpoint(dst)?.map(|c| c.tree_size as u64),
        pending: events.saturating_sub(size),
        report,
    })
}
