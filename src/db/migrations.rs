//! Embedded migrations, one tree per backend with the same names.

use super::{Conn, Db};
use crate::error::{AppError, AppResult};
use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// An arbitrary constant: the advisory lock that lets only one instance migrate a
/// PostgreSQL database at a time.
const MIGRATION_LOCK: i64 = 0x636c_6f73_7572_6501;

/// Runs every pending migration; returns the versions applied. Blocking.
pub fn run(db: &Db) -> AppResult<Vec<String>> {
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| {
        AppError::Internal(format!("migration failed: {e}"))
    };
    db.read_blocking(|conn| match conn {
        Conn::Sqlite(c) => {
            let done = c.run_pending_migrations(SQLITE).map_err(fail)?;
            Ok(done.iter().map(|v| v.to_string()).collect())
        }
        Conn::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let done = c
                .run_pending_migrations(POSTGRES)
                .map(|d| d.iter().map(|v| v.to_string()).collect());
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            done.map_err(fail)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    fn names(dir: &str) -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    #[test]
    fn both_trees_have_the_same_migrations() {
        let root = env!("CARGO_MANIFEST_DIR");
        let sqlite = names(&format!("{root}/migrations/sqlite"));
        let postgres = names(&format!("{root}/migrations/postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres, "migration trees differ");
        for m in &sqlite {
            for f in ["up.sql", "down.sql"] {
                for tree in ["sqlite", "postgres"] {
                    let p = format!("{root}/migrations/{tree}/{m}/{f}");
                    assert!(std::path::Path::new(&p).is_file(), "{p} missing");
                }
            }
        }
    }
}
