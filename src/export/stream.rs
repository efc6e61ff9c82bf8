//! Streaming CSV downloads: a producer on the blocking pool writes records
//! through a bounded channel into the response, so memory stays flat however
//! many rows there are, and a slow client slows the producer rather than
//! filling memory.

use crate::error::AppResult;
use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::Bytes;
use tokio::sync::mpsc;

/// Chunks in flight between the producer and the client.
const CHANNEL_CHUNKS: usize = 8;
/// Bytes per chunk sent.
const CHUNK_BYTES: usize = 64 * 1024;

/// Collects bytes and sends them to the response a chunk at a time.
struct Chunks {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
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

/// Where a producer writes its records.
pub struct Sink {
    csv: csv::Writer<Chunks>,
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
        ok && self.csv.get_ref().open
    }

    /// Sends what is buffered; whether the client is still there.
    fn finish(&mut self) -> bool {
        let _ = self.csv.flush();
        self.csv.get_ref().open
    }

    fn fail(&mut self, e: String) {
        let _ = self.csv.flush();
        let _ = self
            .csv
            .get_ref()
            .tx
            .blocking_send(Err(std::io::Error::other(e)));
    }
}

/// Starts `produce` on the blocking pool and answers with its CSV as it comes.
/// `produce` returns how many rows it wrote; `done(rows, completed)` runs after
/// it (to record the download), on the same thread.
pub fn csv_response<P, D>(
    filename: &str,
    bom: bool,
    header: &[&str],
    produce: P,
    done: D,
) -> HttpResponse
where
    P: FnOnce(&mut Sink) -> AppResult<u64> + Send + 'static,
    D: FnOnce(u64, bool) + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let mut chunks = Chunks {
        tx,
        buf: Vec::with_capacity(CHUNK_BYTES),
        open: true,
    };
    if bom {
        chunks.buf.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(chunks);
    let _ = csv.write_record(header);
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut sink = Sink { csv };
        match produce(&mut sink) {
            Ok(rows) => {
                let completed = sink.finish();
                done(rows, completed);
            }
            Err(e) => {
                tracing::error!(error = %e, "export failed part way; the download is cut short");
                sink.fail(e.to_string());
                done(0, false);
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(stream)
}
