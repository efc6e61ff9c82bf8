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
//!    the sequencer's watermark is translated ([`watermark`]); every identity
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

pub mod tables;

use crate::audit::checkpoint::{Signer, TrustedKey};
use crate::audit::merkle::{Tree, from_hex, to_hex};
use crate::audit::verify::{Report, WitnessFile, verify_stored};
use crate::config::Settings;
use crate::db::schema::log_state;
use crate::db::{Conn, DatabaseUrl, Db, PoolOptions, log as store, migrations, sqlite_uri};
use crate::error::{AppError, AppResult};
use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{PgConnection, SqliteConnection};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tables::{NOT_COPIED, PAGE, TABLES, Tally};

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
    refuse_same_file(&from_url, &to_url)?;
    for t in TABLES {
        let missing: Vec<String> = t.columns().difference(&t.carried()).cloned().collect();
        if !missing.is_empty() {
            return Err(format!(
                "migrate-data does not copy {}.{}: add it to the table's row type",
                t.name(),
                missing.join(", ")
            ));
        }
    }
    let keys = trusted_keys(settings)?;
    let witness = settings.data_dir.join("checkpoints.ndjson");

    let mut source = Source::open(&from_url, settings.sqlite_busy_timeout_ms)?;
    source
        .snapshot(check_schema)
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
        let here = source.snapshot(pg_identity).map_err(|e| e.to_string())?;
        let there = target
            .read_blocking(pg_identity)
            .map_err(|e| e.to_string())?;
        if here == there {
            return Err(format!(
                "--from and --to name the same database ({here}): nothing to move"
            ));
        }
    }
    // A target that holds data is refused before its schema is touched (and
    // again inside the copy's transaction, in case data arrives meanwhile).
    let held = target.read_blocking(held_data).map_err(|e| e.to_string())?;
    if !held.is_empty() {
        return Err(not_empty(&held).to_string());
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

/// The keys whose checkpoints are trusted, as the service would load them (the
/// key file, never created here, and the previous keys), and the key file's
/// path when it is missing.
struct Keys {
    trusted: Vec<TrustedKey>,
    missing: Option<PathBuf>,
}

fn trusted_keys(settings: &Settings) -> Result<Keys, String> {
    let key_file = settings
        .checkpoint_key_file
        .clone()
        .unwrap_or_else(|| settings.data_dir.join("checkpoint-key"));
    let mut keys = Keys {
        trusted: Vec::new(),
        missing: None,
    };
    if key_file.is_file() {
        keys.trusted
            .push(Signer::load_or_create(&settings.log_origin, &key_file)?.trusted());
    } else {
        keys.missing = Some(key_file);
    }
    for k in settings
        .checkpoint_previous_keys
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        keys.trusted.push(
            TrustedKey::parse_verifier_key(k)
                .map_err(|e| format!("checkpoint_previous_keys: {e}"))?,
        );
    }
    Ok(keys)
}

struct Ctx<'a> {
    keys: &'a Keys,
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

/// Two SQLite URLs that name one file (the target need not exist yet).
fn refuse_same_file(from: &DatabaseUrl, to: &DatabaseUrl) -> Result<(), String> {
    if from == to {
        return Err("--from and --to name the same database: nothing to move".into());
    }
    if let (DatabaseUrl::Sqlite { path: a }, DatabaseUrl::Sqlite { path: b }) = (from, to) {
        let canonical = |p: &Path| {
            p.canonicalize().ok().or_else(|| {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
                let dir = dir.unwrap_or(Path::new(".")).canonicalize().ok()?;
                Some(dir.join(p.file_name()?))
            })
        };
        if let (Some(a), Some(b)) = (canonical(a), canonical(b))
            && a == b
        {
            return Err(format!(
                "--from and --to name the same file ({}): nothing to move",
                a.display()
            ));
        }
    }
    Ok(())
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

/// What tells one PostgreSQL database from another, however it is reached.
fn pg_identity(c: &mut Conn) -> AppResult<String> {
    match c {
        Conn::Postgres(c) => Ok(diesel::sql_query(
            "SELECT current_database() || ' on the server started at ' || pg_postmaster_start_time()::text \
             || ', port ' || COALESCE(inet_server_port()::text, 'socket') AS v",
        )
        .get_result::<Name>(*c)?
        .v),
        Conn::Sqlite(_) => Ok(String::new()),
    }
}

fn versions<DB: diesel::backend::Backend>(
    m: &impl MigrationSource<DB>,
) -> AppResult<BTreeSet<String>> {
    Ok(m.migrations()
        .map_err(|e| AppError::Internal(e.to_string()))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

/// The source's schema must be exactly this version's: it is not migrated here.
fn check_schema(c: &mut Conn) -> AppResult<()> {
    let q = diesel::sql_query("SELECT CAST(version AS TEXT) AS v FROM __diesel_schema_migrations");
    let applied: Result<Vec<Name>, _> = crate::db::with_conn!(c, c => q.load(c));
    let applied: BTreeSet<String> = applied
        .map_err(|e| {
            AppError::Conflict(format!(
                "not a closure-audit database (no migrations recorded: {e})"
            ))
        })?
        .into_iter()
        .map(|n| n.v)
        .collect();
    let known = match c {
        Conn::Sqlite(_) => versions::<diesel::sqlite::Sqlite>(&migrations::SQLITE)?,
        Conn::Postgres(_) => versions::<diesel::pg::Pg>(&migrations::POSTGRES)?,
    };
    let missing: Vec<&String> = known.difference(&applied).collect();
    if !missing.is_empty() {
        return Err(AppError::Conflict(format!(
            "its schema lacks migrations {missing:?}: bring it up to date first \
             (`closure-audit migrate` with CLOSURE_AUDIT_DATABASE_URL set to it)"
        )));
    }
    let unknown: Vec<&String> = applied.difference(&known).collect();
    if !unknown.is_empty() {
        return Err(AppError::Conflict(format!(
            "it has migrations {unknown:?} that this closure-audit does not know: use the version that wrote it"
        )));
    }
    Ok(())
}

fn refuse(msg: String) -> AppError {
    AppError::Conflict(format!("{msg}; nothing was written"))
}

/// The rows of each table that exists and is not empty, as `"3 users"`.
fn held_data(c: &mut Conn) -> AppResult<Vec<String>> {
    let present: BTreeSet<String> = table_names(c)?.into_iter().collect();
    let mut held = Vec::new();
    for t in TABLES.iter().filter(|t| present.contains(t.name())) {
        let n = t.count(c)?;
        if n > 0 {
            held.push(format!("{n} {}", t.name()));
        }
    }
    Ok(held)
}

fn not_empty(held: &[String]) -> AppError {
    refuse(format!(
        "the target already holds data ({}): migrate-data fills only an empty database, so give it a new one",
        held.join(", ")
    ))
}

/// The whole move, inside the target's transaction and the source's snapshot.
fn move_all(src: &mut Conn, dst: &mut Conn, ctx: &Ctx) -> AppResult<Summary> {
    // Every table of the target's schema is in the list (or deliberately not copied).
    let listed: BTreeSet<&str> = TABLES.iter().map(|t| t.name()).chain(NOT_COPIED).collect();
    let unlisted: Vec<String> = table_names(dst)?
        .into_iter()
        .filter(|t| !listed.contains(t.as_str()))
        .collect();
    if !unlisted.is_empty() {
        return Err(refuse(format!(
            "migrate-data does not know the table(s) {}: add them to src/migrate_data/tables.rs",
            unlisted.join(", ")
        )));
    }
    // The target holds no data.
    let held = held_data(dst)?;
    if !held.is_empty() {
        return Err(not_empty(&held));
    }
    // Checkpoints need their key.
    if let Some(path) = &ctx.keys.missing
        && ctx.keys.trusted.is_empty()
        && store::latest_checkpoint(src)?.is_some()
    {
        return Err(refuse(format!(
            "the checkpoint signing key {} is missing, so the checkpoints cannot be verified \
             (and a service started on the target would sign with a new key): the data dir moves \
             with the database; copy it first, or point CLOSURE_AUDIT_DATA_DIR (or \
             CLOSURE_AUDIT_CHECKPOINT_KEY_FILE) at it",
            path.display()
        )));
    }
    if matches!(dst, Conn::Sqlite(_)) {
        refuse_unreachable_events(src)?;
    }

    let mut tallies: Vec<(&dyn tables::Table, Tally)> = Vec::new();
    for t in TABLES {
        let tally = t.copy(src, dst)?;
        tracing::info!(table = t.name(), rows = tally.rows, "copied");
        tallies.push((*t, tally));
    }
    let watermark = watermark(src, dst)?;
    let sequences = advance_sequences(src, dst)?;

    // Read back: the target holds exactly what was read from the source.
    for (t, read) in &tallies {
        let stored = t.tally(dst)?;
        if stored != *read {
            return Err(AppError::Internal(format!(
                "{} does not match after the copy: {} rows read from the source, {} in the target{}; nothing was written",
                t.name(),
                read.rows,
                stored.rows,
                if read.rows == stored.rows {
                    " with different contents"
                } else {
                    ""
                }
            )));
        }
    }

    // The log, verified as `GET /audit/verify` does it.
    // The source's service is stopped: every line of its witness file counts.
    let witness = WitnessFile::measure(ctx.witness);
    let report = verify_stored(dst, Some(&witness), &ctx.keys.trusted)?.report();
    if !report.ok {
        let source = verify_stored(src, Some(&witness), &ctx.keys.trusted)?.report();
        let why = if source.ok {
            "the source verifies, so the copy differs: this is a defect".to_string()
        } else if source.detail == report.detail {
            format!(
                "the source does not verify either, in the same way (with the key {} and the witness file {})",
                ctx.keys
                    .missing
                    .as_ref()
                    .map(|p| format!("{} (missing)", p.display()))
                    .unwrap_or_else(|| "of the settings".into()),
                ctx.witness.display()
            )
        } else {
            format!("the source does not verify either: {}", source.detail)
        };
        return Err(AppError::Internal(format!(
            "the moved log does not verify: {} (first bad event seq {}); {why}; nothing was written",
            report.detail,
            report
                .first_bad_seq
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into())
        )));
    }

    let tree = tree_of(dst)?;
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

/// The tables of the database's schema.
fn table_names(c: &mut Conn) -> AppResult<Vec<String>> {
    let rows: Vec<Name> = match c {
        Conn::Sqlite(c) => diesel::sql_query(
            "SELECT name AS v FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .load(*c)?,
        Conn::Postgres(c) => diesel::sql_query(
            "SELECT tablename::text AS v FROM pg_tables WHERE schemaname = current_schema()",
        )
        .load(*c)?,
    };
    Ok(rows.into_iter().map(|r| r.v).collect())
}

/// SQLite's sequencer integrates the events after the last one in the tree, in
/// `seq` order. PostgreSQL's integrates in commit order, so an event can still
/// be waiting there behind a later one already in the tree: on SQLite it would
/// never be integrated.
fn refuse_unreachable_events(src: &mut Conn) -> AppResult<()> {
    let q = diesel::sql_query(
        "SELECT COUNT(*) AS v FROM audit_events e \
         WHERE NOT EXISTS (SELECT 1 FROM merkle_leaves l WHERE l.seq = e.seq) \
         AND e.seq < (SELECT COALESCE(MAX(seq), 0) FROM merkle_leaves)",
    );
    let n = crate::db::with_conn!(src, c => q.get_result::<Num>(c))?.v;
    if n > 0 {
        return Err(refuse(format!(
            "{n} event(s) of the source await its sequencer behind events already in the tree, \
             which SQLite's sequencer would never integrate: run the source service until \
             GET /api/v1/audit/checkpoint covers every event, stop it, and try again"
        )));
    }
    Ok(())
}

/// Sets the sequencer's watermark in the target; returns it.
///
/// On PostgreSQL the watermark is a transaction id, which means nothing in
/// another database. It becomes the target's own horizon, taken inside the
/// copy's transaction: every transaction below it has ended (and wrote no event,
/// or the target would not have been empty), the copied events carry the copy's
/// transaction id, which is not below it, and every later event carries a
/// later one. So the sequencer looks at the copied events once: those with a
/// leaf are skipped (it integrates only events without one), those without are
/// integrated in `seq` order, and every event written after the move is
/// integrated as usual. SQLite does not read the watermark: the source's value
/// is kept.
pub fn watermark(src: &mut Conn, dst: &mut Conn) -> AppResult<i64> {
    let value = match dst {
        Conn::Postgres(c) => {
            diesel::sql_query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS v")
                .get_result::<Num>(*c)?
                .v
        }
        Conn::Sqlite(_) => crate::db::with_conn!(src, c => log_state::table
            .find(1)
            .select(log_state::watermark)
            .first::<i64>(c)
            .optional())?
        .unwrap_or(0),
    };
    store::set_watermark(dst, value)?;
    Ok(value)
}

/// Moves each identity sequence of the target past the copied keys and past
/// every key the source ever handed out (deleted rows included), so that new
/// rows never take an old key.
fn advance_sequences(src: &mut Conn, dst: &mut Conn) -> AppResult<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for t in TABLES {
        let Some(col) = t.identity() else { continue };
        let table = t.name();
        let copied = {
            let q = diesel::sql_query(format!("SELECT COALESCE(MAX({col}), 0) AS v FROM {table}"));
            crate::db::with_conn!(dst, c => q.get_result::<Num>(c))?.v
        };
        let last = copied.max(last_handed_out(src, table, col)?);
        if last > 0 {
            match dst {
                Conn::Postgres(c) => {
                    diesel::sql_query("SELECT setval(pg_get_serial_sequence($1, $2), $3) AS v")
                        .bind::<Text, _>(table)
                        .bind::<Text, _>(col)
                        .bind::<BigInt, _>(last)
                        .get_result::<Num>(*c)?;
                }
                Conn::Sqlite(c) => {
                    let n = diesel::sql_query(
                        "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?",
                    )
                    .bind::<BigInt, _>(last)
                    .bind::<Text, _>(table)
                    .execute(*c)?;
                    if n == 0 {
                        diesel::sql_query("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)")
                            .bind::<Text, _>(table)
                            .bind::<BigInt, _>(last)
                            .execute(*c)?;
                    }
                }
            }
        }
        out.push((format!("{table}.{col}"), last));
    }
    Ok(out)
}

/// The last key the source's sequence for `table.col` handed out (0 for none).
fn last_handed_out(c: &mut Conn, table: &str, col: &str) -> AppResult<i64> {
    Ok(match c {
        Conn::Sqlite(c) => diesel::sql_query("SELECT seq AS v FROM sqlite_sequence WHERE name = ?")
            .bind::<Text, _>(table)
            .get_result::<Num>(*c)
            .optional()?
            .map(|n| n.v)
            .unwrap_or(0),
        Conn::Postgres(c) => {
            let seq = diesel::sql_query("SELECT pg_get_serial_sequence($1, $2) AS v")
                .bind::<Text, _>(table)
                .bind::<Text, _>(col)
                .get_result::<MaybeName>(*c)?
                .v;
            match seq {
                None => 0,
                Some(seq) => {
                    diesel::sql_query(format!(
                        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS v FROM {seq}"
                    ))
                    .get_result::<Num>(*c)?
                    .v
                }
            }
        }
    })
}

/// The tree of the leaves stored in `c`.
fn tree_of(c: &mut Conn) -> AppResult<Tree> {
    let mut tree = Tree::new();
    loop {
        let rows = store::leaves_from(c, tree.size() as i64, PAGE)?;
        if rows.is_empty() {
            return Ok(tree);
        }
        for r in rows {
            tree.push(from_hex(&r.leaf_hash).ok_or_else(|| {
                AppError::Internal(format!("leaf {} is not a hash", r.leaf_index))
            })?);
        }
    }
}
