//! Storage over SQLite (the default) and PostgreSQL from one binary.
//!
//! Queries are written once against [`Conn`] with [`with_conn!`], which expands the
//! body once per backend, so `RETURNING`, `ON CONFLICT` and multi-row inserts work on
//! both. Every call runs on the blocking pool through [`Db::read`] or [`Db::write`],
//! never on an async worker.
//!
//! On SQLite, writes go through a pool of one connection in `BEGIN IMMEDIATE`
//! transactions: SQLite has one writer at a time anyway, and queueing in-process
//! avoids lock waits inside the database. Reads use a pool of their own (WAL lets
//! them run beside the writer).

mod checkpointer;
pub mod closures;
pub mod copy_out;
pub mod cosignatures;
pub(crate) mod described;
pub mod events;
pub mod group;
pub mod log;
pub mod login_failures;
pub mod migrations;
mod pg_manager;
pub mod schema;
pub mod sessions;
pub mod tiles;
pub mod trend_summary;
pub mod trend_versions;
mod url;
pub mod users;
pub mod volumes;
pub mod webhooks;
pub mod witness;

pub use url::{DatabaseUrl, sqlite_uri};

use crate::error::{AppError, AppResult};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::{Connection, PgConnection, SqliteConnection};
use pg_manager::PgManager;
use std::path::PathBuf;
use std::time::Duration;

type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;
type PgPool = Pool<PgManager>;

/// A connection of either backend, as handed to query code.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection of whichever backend
/// `$conn` is, so that one query text serves both.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::Conn::Sqlite(inner) => {
                let $c: &mut ::diesel::SqliteConnection = inner;
                $body
            }
            $crate::db::Conn::Postgres(inner) => {
                let $c: &mut ::diesel::PgConnection = inner;
                $body
            }
        }
    };
}
pub use with_conn;

/// Reads `$query` (built for whichever backend `$conn` is) row by row into
/// `$f`, which returns `AppResult<bool>` (`false` stops): SQLite steps the
/// statement, PostgreSQL sends it in libpq's single-row mode (the busiest
/// readers use [`copy_out`] instead: no result built per row), so memory is one
/// row however many the query gives. The connection is held meanwhile.
#[macro_export]
macro_rules! stream_rows {
    ($conn:expr, $row:ty, $query:expr, $f:expr) => {{
        let mut f = $f;
        match $conn {
            $crate::db::Conn::Sqlite(inner) => {
                let c: &mut ::diesel::SqliteConnection = inner;
                for row in $query.load_iter::<$row, ::diesel::connection::DefaultLoadingMode>(c)? {
                    if !f(row?)? {
                        break;
                    }
                }
            }
            $crate::db::Conn::Postgres(inner) => {
                let c: &mut ::diesel::PgConnection = inner;
                for row in $query.load_iter::<$row, ::diesel::pg::PgRowByRowLoadingMode>(c)? {
                    if !f(row?)? {
                        break;
                    }
                }
            }
        }
        $crate::error::AppResult::Ok(())
    }};
}
pub use stream_rows;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool settings, from [`crate::config::Settings`].
///
/// Pools keep no minimum of idle connections: r2d2 would open them from a
/// background thread, and a process that exits while libpq is connecting there
/// can crash in libpq's exit handlers.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub pool_size: u32,
    pub connect_timeout: Duration,
    pub sqlite_busy_timeout_ms: u64,
}

#[derive(Clone)]
enum Pools {
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        path: PathBuf,
        _checkpointer: std::sync::Arc<checkpointer::Checkpointer>,
    },
    Postgres(PgPool),
}

/// The database: cheap to clone, shared by every worker.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    url: DatabaseUrl,
}

#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout_ms: u64,
    /// Extra PRAGMAs of this pool's connections.
    extra: &'static str,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "{} {}",
            sqlite_pragmas(self.busy_timeout_ms),
            self.extra
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// PRAGMAs of the one writer connection: a 16 MiB page cache (every insert
/// touches a page of each index; more would count against the export's memory
/// budget once the sequencer has read a large backlog through it).
const WRITER_PRAGMAS: &str = "PRAGMA cache_size = -16384;";

/// PRAGMAs set on every SQLite connection. `synchronous = NORMAL` in WAL mode
/// survives a crash of the process (a committed transaction is in the WAL); only
/// a power cut can lose the last transactions.
fn sqlite_pragmas(busy_timeout_ms: u64) -> String {
    format!(
        "PRAGMA busy_timeout = {busy_timeout_ms}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
         PRAGMA wal_autocheckpoint = {};",
        checkpointer::WRITER_AUTOCHECKPOINT_PAGES
    )
}

impl Db {
    /// Opens the database the URL names (creating an SQLite file and its folder
    /// when missing) and builds the pools. Blocking: call at start-up.
    pub fn connect(url: &DatabaseUrl, opts: &PoolOptions) -> Result<Db, String> {
        let pools = match url {
            DatabaseUrl::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create the folder {}: {e}", dir.display()))?;
                }
                // Create the file, then switch it to WAL once (the mode persists).
                let mut first = SqliteConnection::establish(&sqlite_uri(path, true))
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                first
                    .batch_execute(&format!(
                        "{} PRAGMA journal_mode = WAL;",
                        sqlite_pragmas(opts.sqlite_busy_timeout_ms)
                    ))
                    .map_err(|e| format!("cannot set up {}: {e}", path.display()))?;
                // The one writer connection is a queue: waiting for it is waiting
                // for a lock, so it may take as long as a lock wait.
                let build = |size: u32, wait: Duration, extra: &'static str| {
                    Pool::builder()
                        .max_size(size)
                        .min_idle(Some(0))
                        .connection_timeout(wait)
                        .connection_customizer(Box::new(SqlitePragmas {
                            busy_timeout_ms: opts.sqlite_busy_timeout_ms,
                            extra,
                        }))
                        .build(ConnectionManager::<SqliteConnection>::new(sqlite_uri(
                            path, false,
                        )))
                        .map_err(|e| format!("cannot open {}: {e}", path.display()))
                };
                let lock_wait =
                    Duration::from_millis(opts.sqlite_busy_timeout_ms).max(opts.connect_timeout);
                Pools::Sqlite {
                    read: build(opts.pool_size, opts.connect_timeout, "")?,
                    // The one writer keeps the indexes' hot pages in memory.
                    write: build(1, lock_wait, WRITER_PRAGMAS)?,
                    path: path.clone(),
                    _checkpointer: std::sync::Arc::new(checkpointer::Checkpointer::start(
                        path,
                        opts.sqlite_busy_timeout_ms,
                    )),
                }
            }
            DatabaseUrl::Postgres { url: pg } => {
                let pool = Pool::builder()
                    .max_size(opts.pool_size)
                    .min_idle(Some(0))
                    .connection_timeout(opts.connect_timeout)
                    .test_on_check_out(true)
                    .build(PgManager(ConnectionManager::<PgConnection>::new(pg)))
                    .map_err(|e| format!("cannot connect to {}: {e}", url.redacted()))?;
                Pools::Postgres(pool)
            }
        };
        Ok(Db {
            pools,
            url: url.clone(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs `f` on a pooled connection, without a transaction, on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn<'_>) -> AppResult<T> + Send + 'static,
    {
        let db = self.clone();
        blocking(move || db.read_blocking(f)).await
    }

    /// Runs `f` in one transaction (`BEGIN IMMEDIATE` on SQLite) on the blocking
    /// pool: everything `f` writes commits together or not at all.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn<'_>) -> AppResult<T> + Send + 'static,
    {
        let db = self.clone();
        blocking(move || db.write_blocking(f)).await
    }

    /// [`Db::read`] for code that is already off the async workers.
    pub fn read_blocking<T>(&self, f: impl FnOnce(&mut Conn<'_>) -> AppResult<T>) -> AppResult<T> {
        match &self.pools {
            Pools::Sqlite { read, .. } => {
                let mut c = read.get()?;
                f(&mut Conn::Sqlite(&mut c))
            }
            Pools::Postgres(pool) => {
                let mut c = pool.get()?;
                let result = f(&mut Conn::Postgres(&mut c.conn));
                c.suspect = matches!(result, Err(AppError::Unavailable(_)));
                result
            }
        }
    }

    /// Runs `f` in one read-only snapshot of the database, off the async
    /// workers' concern (blocking): every statement of `f` sees the same
    /// committed state, whatever commits meanwhile. PostgreSQL: a `REPEATABLE
    /// READ READ ONLY` transaction (it takes no transaction id, so it holds back
    /// no sequencer horizon); SQLite: one read transaction in WAL mode.
    pub fn snapshot_blocking<T>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> AppResult<T>,
    ) -> AppResult<T> {
        match &self.pools {
            Pools::Sqlite { read, .. } => {
                let mut c = read.get()?;
                c.transaction(|c| f(&mut Conn::Sqlite(c)))
            }
            Pools::Postgres(pool) => {
                let mut c = pool.get()?;
                let result = c
                    .conn
                    .build_transaction()
                    .repeatable_read()
                    .read_only()
                    .run(|c| f(&mut Conn::Postgres(c)));
                c.suspect = matches!(result, Err(AppError::Unavailable(_)));
                result
            }
        }
    }

    /// [`Db::write`] for code that is already off the async workers.
    pub fn write_blocking<T>(&self, f: impl FnOnce(&mut Conn<'_>) -> AppResult<T>) -> AppResult<T> {
        self.write_within(self.write_wait(), f)
    }

    /// How long a write waits for its connection before it is a 503.
    pub fn write_wait(&self) -> Duration {
        match &self.pools {
            Pools::Sqlite { write, .. } => write.connection_timeout(),
            Pools::Postgres(pool) => pool.connection_timeout(),
        }
    }

    /// [`Db::write_blocking`], waiting at most `wait` for a connection.
    pub fn write_within<T>(
        &self,
        wait: Duration,
        f: impl FnOnce(&mut Conn<'_>) -> AppResult<T>,
    ) -> AppResult<T> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                let mut c = write.get_timeout(wait)?;
                c.immediate_transaction(|c| f(&mut Conn::Sqlite(c)))
            }
            Pools::Postgres(pool) => {
                let mut c = pool.get_timeout(wait)?;
                let result = c.conn.transaction(|c| f(&mut Conn::Postgres(c)));
                c.suspect = matches!(result, Err(AppError::Unavailable(_)));
                result
            }
        }
    }

    /// Whether the database answers now. On SQLite the file must still be where
    /// the URL says (a fresh connection is opened, never creating one); on
    /// PostgreSQL a pooled connection must answer.
    pub async fn ready(&self) -> AppResult<()> {
        let db = self.clone();
        blocking(move || {
            if let Pools::Sqlite { path, .. } = &db.pools {
                let mut fresh =
                    SqliteConnection::establish(&sqlite_uri(path, false)).map_err(|e| {
                        AppError::Unavailable(format!("cannot open {}: {e}", path.display()))
                    })?;
                fresh.batch_execute("SELECT 1").map_err(|e| {
                    AppError::Unavailable(format!("{} does not answer: {e}", path.display()))
                })?;
            }
            db.read_blocking(|c| {
                with_conn!(c, c => c.batch_execute("SELECT 1")).map_err(AppError::from)
            })
            .map_err(|e| match e {
                AppError::Unavailable(m) => AppError::Unavailable(m),
                other => AppError::Unavailable(format!("database does not answer: {other}")),
            })
        })
        .await
    }
}

/// Runs blocking work on the blocking pool, inside the caller's tracing span so
/// that its log lines keep the request id.
pub async fn blocking<T, F>(f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> AppResult<T> + Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::web::block(move || span.in_scope(f)).await?
}

pub use crate::domain::time::{now_micros, rfc3339};

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// For the rest of the transaction on `conn`, PostgreSQL plans by walking
/// indexes: nested loops over index probes, index scans in the order asked
/// for, no parallel workers (a no-op on SQLite). For the log's readers, whose
/// every statement is a range of an index joined by key (the sequencer's
/// pending events, verify's ranges of leaves and of closure ids): on tables
/// just bulk-loaded and not yet analysed, the planner otherwise chose a
/// parallel hash join that read the whole of `merkle_leaves` for every range
/// (83% of a sequencing run's CPU in PostgreSQL, measured with perf). Reads
/// must not depend on the planner's statistics. JIT is off too: the costs of a
/// table not yet analysed are large enough to have each statement compiled
/// (130 ms of JIT for a count that reads no row, measured with `EXPLAIN
/// ANALYZE` on a log of 10,000,000 events).
pub fn plan_index_walks(conn: &mut Conn) -> AppResult<()> {
    if let Conn::Postgres(c) = conn {
        diesel::connection::SimpleConnection::batch_execute(
            *c,
            "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; \
             SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; \
             SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off;",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

    #[derive(QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }

    /// `.cargo/config.toml` builds the bundled SQLite in multi-thread mode:
    /// a build without it (the flag lost) shows here, not only as a slower
    /// verify.
    #[test]
    fn the_bundled_sqlite_is_built_multi_threaded() {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut c)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(options.iter().any(|o| o == "THREADSAFE=2"), "{options:?}");
    }
}
