//! The refusals, before anything is written and again inside the copy's
//! transaction: the same database twice, a source whose schema is not this
//! version's, a table or column the copy does not know, a target that holds
//! data, a missing signing key, events SQLite's sequencer would never reach.

use super::tables::{NOT_COPIED, TABLES};
use super::{Ctx, Name, Num};
use crate::audit::checkpoint::{Signer, TrustedKey};
use crate::config::Settings;
use crate::db::{Conn, DatabaseUrl, log as store, migrations};
use crate::domain::conflicts::Clash;
use crate::error::{AppError, AppResult};
use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every column of every table is carried by its row type.
pub(super) fn every_column_carried() -> Result<(), String> {
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
    Ok(())
}

/// The keys whose checkpoints are trusted, as the service would load them (the
/// key file, never created here, and the previous keys), and the key file's
/// path when it is missing.
pub(super) struct Keys {
    pub(super) trusted: Vec<TrustedKey>,
    pub(super) missing: Option<PathBuf>,
}

pub(super) fn trusted_keys(settings: &Settings) -> Result<Keys, String> {
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

/// Two SQLite URLs that name one file (the target need not exist yet).
pub(super) fn refuse_same_file(from: &DatabaseUrl, to: &DatabaseUrl) -> Result<(), String> {
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

/// What tells one PostgreSQL database from another, however it is reached.
pub(super) fn pg_identity(c: &mut Conn) -> AppResult<String> {
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
pub(super) fn check_schema(c: &mut Conn) -> AppResult<()> {
    let q = diesel::sql_query("SELECT CAST(version AS TEXT) AS v FROM __diesel_schema_migrations");
    let applied: Result<Vec<Name>, _> = crate::db::with_conn!(c, c => q.load(c));
    let applied: BTreeSet<String> = applied
        .map_err(|e| {
            AppError::Conflict(
                Clash::MigrationRefused,
                format!("not a closure-audit database (no migrations recorded: {e})"),
            )
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
        return Err(AppError::Conflict(
            Clash::MigrationRefused,
            format!(
                "its schema lacks migrations {missing:?}: bring it up to date first \
             (`closure-audit migrate` with CLOSURE_AUDIT_DATABASE_URL set to it)"
            ),
        ));
    }
    let unknown: Vec<&String> = applied.difference(&known).collect();
    if !unknown.is_empty() {
        return Err(AppError::Conflict(
            Clash::MigrationRefused,
            format!(
                "it has migrations {unknown:?} that this closure-audit does not know: use the version that wrote it"
            ),
        ));
    }
    Ok(())
}

fn refuse(msg: String) -> AppError {
    AppError::Conflict(
        Clash::MigrationRefused,
        format!("{msg}; nothing was written"),
    )
}

/// The rows of each table that exists and is not empty, as `"3 users"`.
pub(super) fn held_data(c: &mut Conn) -> AppResult<Vec<String>> {
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

pub(super) fn not_empty(held: &[String]) -> AppError {
    refuse(format!(
        "the target already holds data ({}): migrate-data fills only an empty database, so give it a new one",
        held.join(", ")
    ))
}

/// The checks inside the target's transaction and the source's snapshot,
/// before the first row is copied.
pub(super) fn in_transaction(src: &mut Conn, dst: &mut Conn, ctx: &Ctx) -> AppResult<()> {
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
    Ok(())
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
