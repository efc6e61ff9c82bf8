//! Streaming downloads: a producer on the blocking pool writes through a
//! bounded channel into the response, so memory stays flat however many rows
//! there are, and a slow client slows the producer rather than filling memory.
//!
//! The producer learns how its download ended: the response stream tells it
//! when the last chunk was taken (the body ended) or when it was dropped first
//! (the client went away), and `done(rows, completed)` then runs on the
//! producer's thread, off the async workers, to record it.

use crate::error::{AppError, AppResult};
use actix_web::HttpResponse;
use actix_web::HttpResponseBuilder;
use actix_web::body::SizedStream;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::Bytes;
use futures_util::Stream;
use std::panic::AssertUnwindSafe;
use tokio::sync::{mpsc, oneshot};

/// Chunks in flight between the producer and the client.
const CHANNEL_CHUNKS: usize = 8;
/// Bytes per chunk sent.
const CHUNK_BYTES: usize = 64 * 1024;

type Item = Result<Bytes, std::io::Error>;

/// Collects bytes and sends them to the response a chunk at a time.
struct Chunks {
    tx: mpsc::Sender<Item>,
    buf: Vec<u8>,
    open: bool,
}

impl Chunks {
    fn send(&mut self) {
        if !self.buf.is_empty() && self.open {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
            if self.tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                self.open = false;
            }
        }
    }
}

impl std::io::Write for Chunks {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK_BYTES {
            self.send();
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send();
        Ok(())
    }
}

/// The producer's end of a download: where it writes, and how it learns
/// whether the response took everything.
struct Pipe {
    chunks: Chunks,
    ended: oneshot::Receiver<()>,
}

/// A pipe and the response body it feeds. The body signals `ended` when it has
/// handed its last chunk to the server; dropped before that (the client went
/// away), it signals nothing and the producer's wait ends in an error.
fn pipe() -> (Pipe, impl Stream<Item = Item> + 'static) {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let (ended_tx, ended) = oneshot::channel();
    let body =
        futures_util::stream::unfold((rx, Some(ended_tx)), |(mut rx, mut ended_tx)| async move {
            match rx.recv().await {
                Some(item) => Some((item, (rx, ended_tx))),
                None => {
                    if let Some(t) = ended_tx.take() {
                        let _ = t.send(());
                    }
                    None
                }
            }
        });
    let chunks = Chunks {
        tx,
        buf: Vec::with_capacity(CHUNK_BYTES),
        open: true,
    };
    (Pipe { chunks, ended }, body)
}

impl Pipe {
    /// Closes the channel and waits (blocking) for the body to end or be
    /// dropped: whether everything sent was taken by the response.
    fn close(self) -> bool {
        let Pipe { chunks, ended } = self;
        let open = chunks.open;
        drop(chunks);
        open && ended.blocking_recv().is_ok()
    }
}

/// Where a producer writes its records.
pub struct Sink {
    csv: csv::Writer<Chunks>,
    ended: oneshot::Receiver<()>,
    rows: u64,
}

impl Sink {
    /// Writes one record (cells neutralised for spreadsheets); false when the
    /// client has gone and the producer should stop.
    pub fn record<I, S>(&mut self, cells: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut ok = true;
        for cell in cells {
            ok &= self
                .csv
                .write_field(super::neutralize(cell.as_ref()).as_bytes())
                .is_ok();
        }
        ok &= self.csv.write_record(None::<&[u8]>).is_ok();
        ok &= self.csv.get_ref().open;
        if ok {
            self.rows += 1;
        }
        ok
    }

    /// Ends the download after `outcome`: sends what is buffered (or the
    /// error, which cuts the response short) and waits for the response to
    /// take it all or be dropped. Returns (rows written, completed).
    fn end(self, outcome: AppResult<()>) -> (u64, bool) {
        let Sink {
            mut csv,
            ended,
            rows,
        } = self;
        let _ = csv.flush();
        let Ok(chunks) = csv.into_inner() else {
            return (rows, false);
        };
        let pipe = Pipe { chunks, ended };
        match outcome {
            Ok(()) => (rows, pipe.close()),
            Err(e) => {
                tracing::error!(error = %e, rows, "export failed part way; the download is cut short");
                let _ = pipe
                    .chunks
                    .tx
                    .blocking_send(Err(std::io::Error::other(e.to_string())));
                (rows, false)
            }
        }
    }
}

fn attachment(builder: &mut HttpResponseBuilder, filename: &str) {
    builder.insert_header((
        CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}\""),
    ));
}

/// Starts `produce` on the blocking pool and answers with its CSV as it comes.
/// `done(rows, completed)` runs after the response has ended, on the same
/// thread: `rows` are the data rows written, and `completed` is false when
/// the producer failed or the client went away before the end.
pub fn csv_response<P, D>(
    filename: &str,
    bom: bool,
    header: &[&str],
    produce: P,
    done: D,
) -> HttpResponse
where
    P: FnOnce(&mut Sink) -> AppResult<()> + Send + 'static,
    D: FnOnce(u64, bool) + Send + 'static,
{
    let (Pipe { mut chunks, ended }, body) = pipe();
    if bom {
        chunks.buf.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(chunks);
    let _ = csv.write_record(header);
    let mut sink = Sink {
        csv,
        ended,
        rows: 0,
    };
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        // A producer that panics still ends its download on the record.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| produce(&mut sink)))
            .unwrap_or_else(|_| Err(AppError::internal("the export's producer panicked")));
        let (rows, completed) = sink.end(outcome);
        done(rows, completed);
    });
    let mut builder = HttpResponse::Ok();
    builder.insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"));
    attachment(&mut builder, filename);
    builder.streaming(body)
}

/// Answers with `body`, made before (a report), the same way: `done(rows,
/// completed)` runs on a blocking thread once the response has taken the
/// whole body (`rows`, true) or was dropped before (0, false).
pub fn bytes_response<D>(
    content_type: &str,
    filename: Option<&str>,
    body: Vec<u8>,
    rows: u64,
    done: D,
) -> HttpResponse
where
    D: FnOnce(u64, bool) + Send + 'static,
{
    let (mut pipe, stream) = pipe();
    let len = body.len() as u64;
    pipe.chunks.buf = body;
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        pipe.chunks.send();
        let completed = pipe.close();
        done(if completed { rows } else { 0 }, completed);
    });
    let mut builder = HttpResponse::Ok();
    builder.insert_header((CONTENT_TYPE, content_type));
    if let Some(f) = filename {
        attachment(&mut builder, f);
    }
    builder.body(SizedStream::new(len, Box::pin(stream)))
}
