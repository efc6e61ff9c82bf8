//! PostgreSQL: a query's rows read through `COPY (query) TO STDOUT (FORMAT
//! binary)`, each row's fields borrowed from libpq's buffer as it arrives.
//!
//! Against libpq's single-row mode, which builds a result (column names
//! copied, every field's offset and length) for each row, and diesel's typed
//! decoding into owned strings, this hands the caller each field's bytes where
//! they lie: on a 1,000,000-row export the reading thread was the bottleneck
//! (BENCHMARKS.md, issue 15, export speed).
//!
//! diesel's `copy_to` names its target statically (a table, or columns of
//! one); the statement here is made at run time, so [`Statement`] gives diesel
//! the text the calling thread put in [`STATEMENT`] just before, and nothing
//! else runs between. `COPY` takes no bind parameters: callers pass values as
//! settings of the transaction (`set_config(name, $1, true)`, bound) that the
//! query reads with `current_setting(name)`, or as integers they format.

use crate::error::{AppError, AppResult};
use diesel::connection::SimpleConnection;
use diesel::pg::{CopyFormat, CopyTarget, Pg};
use diesel::query_builder::AstPass;
use diesel::{Connection, PgConnection, QueryResult};
use std::cell::RefCell;
use std::io::BufRead;

thread_local! {
    /// The query of the `COPY` this thread is about to run.
    static STATEMENT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The `COPY` target: `(query)`, the query being this thread's [`STATEMENT`].
struct Statement;

impl CopyTarget for Statement {
    // Neither is read by `load_raw`; diesel wants a table and a type.
    type Table = crate::db::schema::closures::table;
    type SqlType = diesel::sql_types::Integer;

    fn walk_target(mut pass: AstPass<'_, '_, Pg>) -> QueryResult<()> {
        STATEMENT.with(|s| {
            pass.push_sql("(");
            pass.push_sql(&s.borrow());
            pass.push_sql(")");
        });
        Ok(())
    }
}

/// The signature, flags and header-extension length that begin binary `COPY`
/// output (PostgreSQL's documentation, `COPY`, "Binary Format").
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// One row's fields: where each lies in the row's bytes, `None` for NULL.
pub struct Fields<'a> {
    row: &'a [u8],
    spans: &'a [Option<(usize, usize)>],
}

impl<'a> Fields<'a> {
    /// Field `i`'s bytes, `None` for NULL.
    pub fn field(&self, i: usize) -> AppResult<Option<&'a [u8]>> {
        match self.spans.get(i) {
            Some(Some((from, to))) => Ok(Some(&self.row[*from..*to])),
            Some(None) => Ok(None),
            None => Err(AppError::internal(format!("COPY row has no field {i}"))),
        }
    }

    /// Field `i` as a `T` ([`FromCopy`]): an error if it is NULL and `T` is
    /// not an `Option`, or of another size than `T`'s.
    pub fn get<T: FromCopy<'a>>(&self, i: usize) -> AppResult<T> {
        T::from_copy(self.field(i)?)
    }

    /// A `text` field (PostgreSQL sends it in the database's encoding, UTF-8).
    pub fn text(&self, i: usize) -> AppResult<&'a str> {
        self.get(i)
    }

    pub fn opt_text(&self, i: usize) -> AppResult<Option<&'a str>> {
        self.get(i)
    }

    /// A `bytea` field.
    pub fn bytes(&self, i: usize) -> AppResult<&'a [u8]> {
        self.get(i)
    }

    /// A `bigint` field.
    pub fn i64(&self, i: usize) -> AppResult<i64> {
        self.get(i)
    }

    pub fn opt_i64(&self, i: usize) -> AppResult<Option<i64>> {
        self.get(i)
    }

    /// An `integer` field.
    pub fn i32(&self, i: usize) -> AppResult<i32> {
        self.get(i)
    }

    /// A `boolean` field.
    pub fn bool(&self, i: usize) -> AppResult<bool> {
        self.get(i)
    }
}

/// A Rust value read from one field of a `COPY` row, by the type the column
/// has (checked against `schema.rs` by [`crate::db::described::described_row`]).
pub trait FromCopy<'a>: Sized {
    fn from_copy(field: Option<&'a [u8]>) -> AppResult<Self>;
}

/// A row made from consecutive fields of a `COPY` row, starting at `at`:
/// each struct described by [`crate::db::described::described_row`] is.
pub trait Copied<'a>: Sized {
    fn copied(r: &Fields<'a>, at: usize) -> AppResult<Self>;
}

fn null() -> AppError {
    AppError::internal("COPY: NULL in a column that has none")
}

impl<'a> FromCopy<'a> for &'a [u8] {
    fn from_copy(f: Option<&'a [u8]>) -> AppResult<Self> {
        f.ok_or_else(null)
    }
}

impl<'a> FromCopy<'a> for &'a str {
    fn from_copy(f: Option<&'a [u8]>) -> AppResult<Self> {
        std::str::from_utf8(f.ok_or_else(null)?)
            .map_err(|e| AppError::internal(format!("COPY text: {e}")))
    }
}

impl<'a> FromCopy<'a> for String {
    fn from_copy(f: Option<&'a [u8]>) -> AppResult<Self> {
        <&str>::from_copy(f).map(str::to_owned)
    }
}

impl<'a> FromCopy<'a> for i64 {
    fn from_copy(f: Option<&'a [u8]>) -> AppResult<Self> {
        be(f.ok_or_else(null)?).map(i64::from_be_bytes)
    }
}

impl<'a> FromCopy<'a> for i32 {
    fn from_copy(f: Option<&'a [u8]>) -> AppResult<Self> {
        be(f.ok_or_else(null)?).map(i32::from_be_bytes)
    }
}

impl<'a> FromCopy<'a> for bool {
    fn from_copy(f: Option<&'a [u8]>) -> AppResult<Self> {
        be::<1>(f.ok_or_else(null)?).map(|[b]| b != 0)
    }
}

impl<'a, T: FromCopy<'a>> FromCopy<'a> for Option<T> {
    fn from_copy(f: Option<&'a [u8]>) -> AppResult<Self> {
        f.map(|b| T::from_copy(Some(b))).transpose()
    }
}

/// A number as sent: `N` bytes, most significant first.
fn be<const N: usize>(b: &[u8]) -> AppResult<[u8; N]> {
    b.try_into()
        .map_err(|_| AppError::internal(format!("COPY field of {} bytes, not {N}", b.len())))
}

/// Reads one tuple of binary `COPY` into `spans`: false for the trailer.
fn parse(row: &[u8], spans: &mut Vec<Option<(usize, usize)>>) -> AppResult<bool> {
    let bad = || AppError::internal("COPY row cut short");
    let count = i16::from_be_bytes(be(row.get(..2).ok_or_else(bad)?)?);
    if count < 0 {
        return Ok(false);
    }
    spans.clear();
    let mut at = 2;
    for _ in 0..count {
        let len = i32::from_be_bytes(be(row.get(at..at + 4).ok_or_else(bad)?)?);
        at += 4;
        if len < 0 {
            spans.push(None);
        } else {
            let end = at + len as usize;
            if end > row.len() {
                return Err(bad());
            }
            spans.push(Some((at, end)));
            at = end;
        }
    }
    Ok(true)
}

/// Where `query` reads the `n`th (from 1) of the `texts` given to [`copy_rows`].
pub fn param(n: usize) -> String {
    format!("current_setting('closure_audit.p{n}')")
}

/// Runs `COPY (query) TO STDOUT (FORMAT binary)` on `c` and calls `each` with
/// every row, in the query's order, until it answers false; the rest of the
/// answer is then read and dropped, so that the connection is left ready for
/// its next statement. `texts` are the values `query` reads with [`param`]
/// (bound, as settings of the transaction). Returns the rows handed to
/// `each`. Runs in a transaction of its own (a savepoint inside the caller's).
pub fn copy_rows(
    c: &mut PgConnection,
    query: &str,
    texts: &[&str],
    mut each: impl FnMut(&Fields<'_>) -> AppResult<bool>,
) -> AppResult<u64> {
    c.transaction(|c| {
        if !texts.is_empty() {
            let set: Vec<String> = (1..=texts.len())
                .map(|n| format!("set_config('closure_audit.p{n}', ${n}, true)"))
                .collect();
            let mut q = diesel::sql_query(format!("SELECT {}", set.join(", "))).into_boxed();
            for t in texts {
                q = q.bind::<diesel::sql_types::Text, _>(*t);
            }
            diesel::RunQueryDsl::execute(q, c)?;
        }
        let rows = read(c, query, &mut each);
        // libpq keeps the COPY's own outcome (its success, or the error that
        // ended it part way) until the next statement, which diesel's reader
        // never asks for: `batch_execute` takes and drops it, and this
        // statement then fails if the COPY did, its transaction aborted.
        c.batch_execute("SELECT 1")?;
        rows
    })
}

fn read(
    c: &mut PgConnection,
    query: &str,
    each: &mut impl FnMut(&Fields<'_>) -> AppResult<bool>,
) -> AppResult<u64> {
    STATEMENT.with(|s| *s.borrow_mut() = query.to_owned());
    let out = diesel::copy_to(Statement)
        .with_format(CopyFormat::Binary)
        .load_raw(c);
    STATEMENT.with(|s| s.borrow_mut().clear());
    let mut out = out?;
    let io = |e: std::io::Error| AppError::internal(format!("COPY: {e}"));
    let (mut rows, mut first, mut wanted) = (0u64, true, true);
    let mut failed = None;
    let mut spans = Vec::new();
    loop {
        let buf = out.fill_buf().map_err(io)?;
        if buf.is_empty() {
            break;
        }
        let len = buf.len();
        if wanted {
            match handle(buf, first, &mut spans, each) {
                Ok(Some(more)) => {
                    rows += 1;
                    wanted = more;
                }
                Ok(None) => {}
                // Read to the end all the same, for the connection's sake.
                Err(e) => {
                    failed = Some(e);
                    wanted = false;
                }
            }
        }
        first = false;
        out.consume(len);
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

/// One message of the answer (the first also holds the header): `Some`
/// (whether `each` wants more) when it held a row.
fn handle(
    mut row: &[u8],
    first: bool,
    spans: &mut Vec<Option<(usize, usize)>>,
    each: &mut impl FnMut(&Fields<'_>) -> AppResult<bool>,
) -> AppResult<Option<bool>> {
    if first {
        // The header: the signature, flags, then an extension of the length given.
        let header = row
            .get(..SIGNATURE.len() + 8)
            .filter(|h| h.starts_with(SIGNATURE))
            .ok_or_else(|| AppError::internal("COPY header not recognised"))?;
        let ext = u32::from_be_bytes(be(&header[SIGNATURE.len() + 4..])?) as usize;
        row = row
            .get(header.len() + ext..)
            .ok_or_else(|| AppError::internal("COPY header cut short"))?;
    }
    // Each row of `COPY TO` arrives as one message (PostgreSQL's protocol,
    // "COPY Operations"), so a row is never split across two buffers.
    if row.is_empty() || !parse(row, spans)? {
        return Ok(None);
    }
    each(&Fields { row, spans }).map(Some)
}
