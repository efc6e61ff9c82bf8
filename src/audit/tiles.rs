//! The Merkle tree as tlog-tiles v0.1.0 serves it (`../shared/spec/c2sp/tlog-tiles.md`):
//! tiles of 256 hashes at levels 0 to 63, their paths, which tiles a tree size
//! has, and a builder that turns leaf hashes into tiles as a log integrates them.
//!
//! The builder is what the sequencer stores tiles with; it holds only the right
//! edge of the tree (at most 255 hashes per level), so it needs no memory that
//! grows with the log. Proofs read the tiles they need ([`WantedTiles`], then
//! [`LoadedTiles`]) through [`Subtrees`].

use super::merkle::{Hash, Subtrees, empty_root, node_hash};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;
/// The highest level a tile path may name.
pub const MAX_LEVEL: u8 = 63;

/// What a tile path names: a tile of hashes, or a bundle of entries (level 0's leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hashes { level: u8, index: u64, width: Width },
    /// `tile/entries/<N>[.p/<W>]`.
    Entries { index: u64, width: Width },
}

/// A full tile, or a partial one of 1 to 255 hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Full,
    Partial(u8),
}

impl Width {
    pub fn count(self) -> u64 {
        match self {
            Width::Full => TILE_WIDTH,
            Width::Partial(w) => w.into(),
        }
    }
}

/// `<N>` as tlog-tiles writes it: zero-padded 3-digit elements, all but the last
/// prefixed with `x` (1234067 → `x001/x234/067`, 5 → `005`).
pub fn format_index(mut n: u64) -> String {
    let mut groups = vec![n % 1000];
    n /= 1000;
    while n > 0 {
        groups.push(n % 1000);
        n /= 1000;
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i == last {
                format!("{g:03}")
            } else {
                format!("x{g:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn width_suffix(width: Width) -> String {
    match width {
        Width::Full => String::new(),
        Width::Partial(w) => format!(".p/{w}"),
    }
}

impl TilePath {
    /// The path below the log's prefix, e.g. `tile/0/x001/234.p/112`.
    pub fn to_path(self) -> String {
        match self {
            TilePath::Hashes {
                level,
                index,
                width,
            } => format!(
                "tile/{level}/{}{}",
                format_index(index),
                width_suffix(width)
            ),
            TilePath::Entries { index, width } => {
                format!(
                    "tile/entries/{}{}",
                    format_index(index),
                    width_suffix(width)
                )
            }
        }
    }

    /// Reads a path below the log's prefix. Only the canonical spelling is a
    /// tile: leading zeros, an `x` group that is not needed, a width of 0 or 256
    /// and anything else is `None` (a 404).
    pub fn parse(path: &str) -> Option<TilePath> {
        let rest = path.strip_prefix("tile/")?;
        let (kind, rest) = rest.split_once('/')?;
        let (index_part, width) = match rest.split_once(".p/") {
            Some((index, w)) => {
                let n: u8 = w.parse().ok()?;
                (n >= 1 && w == n.to_string()).then_some(())?;
                (index, Width::Partial(n))
            }
            None => (rest, Width::Full),
        };
        let mut index: u64 = 0;
        let groups: Vec<&str> = index_part.split('/').collect();
        for (i, g) in groups.iter().enumerate() {
            let digits = if i + 1 < groups.len() {
                g.strip_prefix('x')?
            } else {
                g
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let d: u64 = digits.parse().ok()?;
            index = index.checked_mul(1000)?.checked_add(d)?;
        }
        let tile = if kind == "entries" {
            TilePath::Entries { index, width }
        } else {
            let level: u8 = kind.parse().ok()?;
            if level > MAX_LEVEL || kind != level.to_string() {
                return None;
            }
            TilePath::Hashes {
                level,
                index,
                width,
            }
        };
        // One spelling per tile: `x000/005` is not `005`.
        (tile.to_path() == path).then_some(tile)
    }
}

/// The leaves one hash at `level` covers (`256^level`), saturating.
pub fn span_of(level: u8) -> u64 {
    span(level).unwrap_or(u64::MAX)
}

/// `256^level`, or `None` past what a `u64` tree can hold.
fn span(level: u8) -> Option<u64> {
    TILE_WIDTH.checked_pow(level.into())
}

/// The tiles a tree of `size` leaves has at `level`: how many full ones, and
/// the width of the partial one after them (0 when there is none).
pub fn level_layout(size: u64, level: u8) -> (u64, u8) {
    let Some(span) = span(level) else {
        return (0, 0);
    };
    let hashes = size / span;
    (hashes / TILE_WIDTH, (hashes % TILE_WIDTH) as u8)
}

/// Every tile a tree of `size` leaves has, level by level from 0: the full
/// tiles and the partial one of each level.
pub fn layout(size: u64) -> Vec<(u8, u64, u8)> {
    (0..=MAX_LEVEL)
        .map(|level| {
            let (full, partial) = level_layout(size, level);
            (level, full, partial)
        })
        .take_while(|(_, full, partial)| *full > 0 || *partial > 0)
        .collect()
}

/// A full tile, ready to store: its level, its index and its 256 hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullTile {
    pub level: u8,
    pub index: u64,
    pub hashes: Vec<Hash>,
}

/// The Merkle Tree Hash of a perfect subtree given by its 2^k hashes.
fn perfect_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

/// The right edge of a tree: for each level, the hashes of its partial tile.
/// Pushing leaf hashes completes full tiles, which the builder hands back to be
/// stored; what it keeps is at most 255 hashes per level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileBuilder {
    size: u64,
    /// `tails[l]`: the partial tile at level `l`.
    tails: Vec<Vec<Hash>>,
}

impl TileBuilder {
    /// The edge of a tree of `size` leaves, from its stored partial tiles
    /// (`tails[l]` at level `l`); `None` when they do not fit the size.
    pub fn resume(size: u64, tails: Vec<Vec<Hash>>) -> Option<TileBuilder> {
        let fits = tails.len() <= usize::from(MAX_LEVEL) + 1
            && (0..=MAX_LEVEL).all(|l| {
                let got = tails.get(usize::from(l)).map_or(0, Vec::len);
                usize::from(level_layout(size, l).1) == got
            });
        fits.then_some(TileBuilder { size, tails })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The partial tile at `level` (empty when there is none).
    pub fn tail(&self, level: u8) -> &[Hash] {
        self.tails
            .get(usize::from(level))
            .map_or(&[], Vec::as_slice)
    }

    /// Every level's partial tile: `(level, tile_index, hashes)`, lowest level
    /// first, levels without one left out.
    pub fn tails(&self) -> impl Iterator<Item = (u8, u64, &[Hash])> {
        self.tails
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .map(|(l, t)| {
                let level = l as u8;
                (level, level_layout(self.size, level).0, t.as_slice())
            })
    }

    /// Appends one leaf hash; returns the full tiles it completed, lowest level first.
    pub fn push(&mut self, leaf: Hash) -> Vec<FullTile> {
        self.size += 1;
        let mut done = Vec::new();
        let mut carry = leaf;
        let mut level = 0usize;
        loop {
            if self.tails.len() == level {
                self.tails.push(Vec::new());
            }
            self.tails[level].push(carry);
            if self.tails[level].len() < TILE_WIDTH as usize {
                break;
            }
            let hashes = std::mem::take(&mut self.tails[level]);
            let level_u8 = level as u8;
            let index = self.size / span(level_u8 + 1).unwrap_or(u64::MAX) - 1;
            carry = perfect_root(&hashes);
            done.push(FullTile {
                level: level_u8,
                index,
                hashes,
            });
            level += 1;
        }
        done
    }

    /// The tree's root (RFC 6962 MTH), from the partial tiles alone: every
    /// tail splits into perfect subtrees of falling size, folded from the right.
    pub fn root(&self) -> Hash {
        let mut subtrees: Vec<Hash> = Vec::new();
        for tail in self.tails.iter().rev() {
            let mut start = 0;
            for bit in (0..8).rev() {
                let n = 1usize << bit;
                if tail.len() - start >= n {
                    subtrees.push(perfect_root(&tail[start..start + n]));
                    start += n;
                }
            }
        }
        match subtrees.split_last() {
            None => empty_root(),
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// Where the hashes of a complete subtree live: the level of tiles that holds
/// them, the tile, and the span of hashes in it whose perfect root it is (a
/// subtree of height `8·level + r` is the root of `2^r` adjacent hashes of
/// one tile at `level`).
pub fn subtree_location(height: u32, index: u64) -> (u8, u64, std::ops::Range<usize>) {
    let level = (height / 8) as u8;
    let r = height % 8;
    let first = index << r;
    let offset = (first % TILE_WIDTH) as usize;
    (level, first / TILE_WIDTH, offset..offset + (1usize << r))
}

/// The tiles a computation over [`Subtrees`] reads, recorded by running it once
/// with placeholder hashes (a proof's shape does not depend on the values).
#[derive(Debug, Default)]
pub struct WantedTiles(std::cell::RefCell<std::collections::BTreeSet<(u8, u64)>>);

impl WantedTiles {
    /// `(level, tile_index)`, in order.
    pub fn tiles(&self) -> Vec<(u8, u64)> {
        self.0.borrow().iter().copied().collect()
    }
}

impl Subtrees for WantedTiles {
    fn subtree(&self, height: u32, index: u64) -> Hash {
        let (level, tile, _) = subtree_location(height, index);
        self.0.borrow_mut().insert((level, tile));
        [0; 32]
    }
}

/// Tiles read from storage, full or partial, as a source of subtree hashes.
/// A subtree whose tile is missing or too short gives a placeholder and marks
/// the set as incomplete, which the caller turns into an error: storage that
/// lacks a tile it should have is damaged, not a reason to panic.
#[derive(Debug, Default)]
pub struct LoadedTiles {
    tiles: std::collections::HashMap<(u8, u64), Vec<Hash>>,
    missing: std::cell::Cell<bool>,
}

impl LoadedTiles {
    /// Adds a tile from its stored bytes; `false` when they are not whole hashes.
    pub fn insert(&mut self, level: u8, index: u64, bytes: &[u8]) -> bool {
        let Some(hashes) = hashes_of(bytes) else {
            return false;
        };
        self.tiles.insert((level, index), hashes);
        true
    }

    /// Whether a subtree asked for was not in the tiles loaded.
    pub fn incomplete(&self) -> bool {
        self.missing.get()
    }
}

impl Subtrees for LoadedTiles {
    fn subtree(&self, height: u32, index: u64) -> Hash {
        let (level, tile, span) = subtree_location(height, index);
        match self.tiles.get(&(level, tile)).and_then(|t| t.get(span)) {
            Some(hashes) => perfect_root(hashes),
            None => {
                self.missing.set(true);
                [0; 32]
            }
        }
    }
}

/// Stored tile bytes as hashes; `None` unless a whole number of 32-byte hashes.
pub fn hashes_of(bytes: &[u8]) -> Option<Vec<Hash>> {
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect(),
    )
}

/// Hashes as tile bytes.
pub fn bytes_of(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

#[cfg(test)]
#[path = "tiles_tests.rs"]
mod tests;
