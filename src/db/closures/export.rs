//! Every closure matching a filter, a page at a time, for exports and reports.

use super::{ClosureFilter, ClosureRow};
use crate::db::schema::closures;
use crate::db::{Conn, Db, with_conn};
use crate::error::{AppError, AppResult};
use diesel::prelude::*;

/// A chunk of closures for an export or a report, oldest received first, after
/// the keyset position `after` = (received_at, id).
pub fn export_page(
    conn: &mut Conn,
    f: &ClosureFilter,
    after: Option<(i64, String)>,
    limit: i64,
) -> AppResult<Vec<ClosureRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = closures::table
            .select(ClosureRow::as_select())
            .order((closures::received_at.asc(), closures::id.asc()))
            .limit(limit)
            .into_boxed();
        q = with_filter!(q, f);
        if let Some((at, id)) = &after {
            q = q.filter(closures::received_at.ge(*at)).filter(closures::received_at.gt(*at).or(closures::id.gt(id)));
        }
        q.load(c)
    })?)
}

/// Rows per page when every matching closure is read. Up to three pages are
/// in memory at once (one being written out, one waiting, one being fetched),
/// about 1.5 KiB a row: 1,000 keeps an export's own memory near 5 MiB however
/// many rows it has, where 5,000 cost about 40 MiB at its peak (BENCHMARKS.md,
/// issue 15, memory).
const EXPORT_PAGE: usize = 1000;

/// Calls `each` for every closure matching `f`, oldest first, until it answers
/// false. Blocking. Pages are fetched on a thread of their own, one page ahead,
/// so that the database serves the next page while this one is being written
/// out; at most two pages are held at once.
pub fn for_each(
    db: &Db,
    f: &ClosureFilter,
    mut each: impl FnMut(&ClosureRow) -> bool,
) -> AppResult<u64> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<AppResult<Vec<ClosureRow>>>(1);
    let (db, filter) = (db.clone(), f.clone());
    let span = tracing::Span::current();
    let fetcher = std::thread::Builder::new()
        .name("export-fetch".into())
        .spawn(move || {
            let _in = span.enter();
            let result = db.read_blocking(|c| {
                let mut after = None;
                loop {
                    let rows = export_page(c, &filter, after, EXPORT_PAGE as i64)?;
                    let next = match rows.last() {
                        Some(last) if rows.len() == EXPORT_PAGE => {
                            Some((last.received_at, last.id.clone()))
                        }
                        _ => None,
                    };
                    // The reader has stopped (it answered false, or failed).
                    if tx.send(Ok(rows)).is_err() {
                        return Ok(());
                    }
                    match next {
                        Some(n) => after = Some(n),
                        None => return Ok(()),
                    }
                }
            });
            if let Err(e) = result {
                let _ = tx.send(Err(e));
            }
        })
        .map_err(|e| AppError::internal(format!("cannot start an export thread: {e}")))?;
    let mut n = 0;
    let mut stopped = false;
    for page in &rx {
        for r in &page? {
            n += 1;
            if !each(r) {
                stopped = true;
                break;
            }
        }
        if stopped {
            break;
        }
    }
    drop(rx);
    let _ = fetcher.join();
    Ok(n)
}
