//! The witness server's own database (`closure-audit witness`): one row per log
//! origin with the latest checkpoint it cosigned, in its own migration tree
//! (`migrations/witness/{sqlite,postgres}`), apart from the service's schema.

use super::{Conn, Db};
use crate::error::{AppError, AppResult};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/witness/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/witness/postgres");

/// Serializes the witness's check-and-update transactions on PostgreSQL (on
/// SQLite, `BEGIN IMMEDIATE` on the one writer connection does).
const WITNESS_LOCK: i64 = 0x636c_6f73_7572_6502;

diesel::table! {
    witness_state (origin) {
        origin -> Text,
        size -> BigInt,
        root -> Text,
        note -> Text,
        cosignature -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

/// One log's state as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = witness_state)]
#[diesel(treat_none_as_null = true)]
pub struct StateRow {
    pub origin: String,
    pub size: i64,
    /// Hex of the root hash.
    pub root: String,
    /// The checkpoint note as the log signed it.
    pub note: String,
    /// The witness's cosignature line; none for a pinned starting point.
    pub cosignature: Option<String>,
    pub updated_at: i64,
}

/// Runs the witness migrations. Blocking.
pub fn migrate(db: &Db) -> AppResult<usize> {
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| {
        AppError::Internal(format!("witness migration failed: {e}"))
    };
    db.read_blocking(|conn| match conn {
        Conn::Sqlite(c) => Ok(c.run_pending_migrations(SQLITE).map_err(fail)?.len()),
        Conn::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({WITNESS_LOCK})"))?;
            let done = c.run_pending_migrations(POSTGRES).map(|d| d.len());
            c.batch_execute(&format!("SELECT pg_advisory_unlock({WITNESS_LOCK})"))?;
            done.map_err(fail)
        }
    })
}

/// Takes the witness's write lock for the rest of the transaction (PostgreSQL).
pub fn lock(conn: &mut Conn<'_>) -> AppResult<()> {
    if let Conn::Postgres(c) = conn {
        c.batch_execute(&format!("SELECT pg_advisory_xact_lock({WITNESS_LOCK})"))?;
    }
    Ok(())
}

pub fn get(conn: &mut Conn<'_>, origin: &str) -> AppResult<Option<StateRow>> {
    let row = crate::with_conn!(conn, c => witness_state::table
        .find(origin)
        .select(StateRow::as_select())
        .first(c)
        .optional())?;
    Ok(row)
}

/// Inserts or replaces the row of `row.origin`.
pub fn put(conn: &mut Conn<'_>, row: &StateRow) -> AppResult<()> {
    crate::with_conn!(conn, c => diesel::insert_into(witness_state::table)
        .values(row)
        .on_conflict(witness_state::origin)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}
