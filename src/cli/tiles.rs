//! Reading a log straight from its tlog-tiles URL (`audit verify --tiles`):
//! the checkpoint, every hash tile (whose root must be the checkpoint's) and
//! every entry bundle (the events, which need a national auditor's token).

use closure_audit::audit::checkpoint::SignedCheckpoint;
use closure_audit::audit::leaf::CanonicalEvent;
use closure_audit::audit::merkle::{Subtrees, range_hash, to_hex};
use closure_audit::audit::tiles::{LoadedTiles, TILE_WIDTH, TilePath, Width, layout};
use closure_audit::audit::verify::Entry;
use std::time::Duration;

/// A log as its tiles serve it.
pub struct TiledLog {
    /// `/checkpoint` as served, with its cosignatures.
    pub checkpoint: SignedCheckpoint,
    pub entries: Vec<Entry>,
}

struct Reader {
    http: reqwest::blocking::Client,
    prefix: String,
    token: Option<String>,
}

impl Reader {
    fn get(&self, path: &str, with_token: bool) -> Result<Vec<u8>, String> {
        let url = format!("{}/{path}", self.prefix);
        let mut req = self.http.get(&url);
        if let (true, Some(t)) = (with_token, &self.token) {
            req = req.bearer_auth(t);
        }
        let res = req.send().map_err(|e| format!("{url}: {e}"))?;
        let status = res.status();
        if !status.is_success() {
            return Err(format!("{url}: HTTP {status}"));
        }
        Ok(res.bytes().map_err(|e| format!("{url}: {e}"))?.to_vec())
    }
}

fn tile_path(t: TilePath) -> String {
    t.to_path()
}

/// Reads the log at `prefix` (e.g. `https://audit.kent.example/log`). The
/// token, when given, is sent with every request (the entry bundles need a
/// national auditor's; the rest needs one only when the log is not public).
pub fn read(prefix: &str, token: Option<&str>) -> Result<TiledLog, String> {
    let reader = Reader {
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?,
        prefix: prefix.trim_end_matches('/').to_string(),
        token: token.map(str::to_string),
    };
    let note = String::from_utf8(reader.get("checkpoint", true)?)
        .map_err(|_| "the checkpoint is not UTF-8".to_string())?;
    let checkpoint = SignedCheckpoint::parse(&note)?;
    let size = checkpoint.size;

    // Every hash tile of that size: their root must be the checkpoint's.
    let mut tiles = LoadedTiles::default();
    for (level, full, partial) in layout(size) {
        let widths = (0..full)
            .map(|n| (n, Width::Full))
            .chain((partial > 0).then_some((full, Width::Partial(partial))));
        for (index, width) in widths {
            let path = tile_path(TilePath::Hashes {
                level,
                index,
                width,
            });
            let bytes = reader.get(&path, true)?;
            if bytes.len() as u64 != width.count() * 32 || !tiles.insert(level, index, &bytes) {
                return Err(format!("{path}: {} bytes is not that tile", bytes.len()));
            }
        }
    }
    let root = range_hash(&tiles, 0, size);
    if tiles.incomplete() || root != checkpoint.root {
        return Err(format!(
            "the hash tiles of {size} leaves do not give the checkpoint's root: the tiles and the checkpoint disagree"
        ));
    }

    // Every entry, with the leaf hash the tiles hold for it.
    let mut entries = Vec::with_capacity(size as usize);
    let bundles = size.div_ceil(TILE_WIDTH);
    for index in 0..bundles {
        let count = (size - index * TILE_WIDTH).min(TILE_WIDTH);
        let width = if count == TILE_WIDTH {
            Width::Full
        } else {
            Width::Partial(count as u8)
        };
        let path = tile_path(TilePath::Entries { index, width });
        let bytes = reader.get(&path, true)?;
        let mut rest = bytes.as_slice();
        for i in 0..count {
            let leaf = index * TILE_WIDTH + i;
            let (len, tail) = rest
                .split_first_chunk::<2>()
                .ok_or_else(|| format!("{path}: ends before entry {leaf}"))?;
            let len = u16::from_be_bytes(*len) as usize;
            if tail.len() < len {
                return Err(format!("{path}: entry {leaf} is cut short"));
            }
            let (entry, after) = tail.split_at(len);
            rest = after;
            let event = CanonicalEvent::from_bytes(entry)
                .ok_or_else(|| format!("{path}: entry {leaf} is not an event's canonical bytes"))?;
            entries.push(Entry {
                seq: event.seq,
                leaf_index: Some(leaf as i64),
                event: Some(event),
                leaf_hash: Some(to_hex(&tiles.subtree(0, leaf))),
            });
        }
        if !rest.is_empty() {
            return Err(format!("{path}: more than {count} entries"));
        }
    }
    Ok(TiledLog {
        checkpoint,
        entries,
    })
}
