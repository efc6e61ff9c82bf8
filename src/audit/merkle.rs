//! The RFC 9162 (RFC 6962) Merkle tree: hashing, an append-only in-memory tree
//! of complete subtrees, inclusion and consistency proofs, and their
//! verification (RFC 9162 §2.1).

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// SHA-256 of the empty string: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// Node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &[u8], right: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n ≥ 2): where RFC 9162 splits.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The right edge of a tree being built leaf by leaf: one hash per complete
/// subtree of the size's binary decomposition (a compact range from 0), so
/// memory is O(log n) whatever the size. Enough to know the root at every size
/// on the way, which is what a streaming verifier needs.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// (height, hash), largest subtree first.
    stack: Vec<(u32, Hash)>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(h, left)) = self.stack.last() {
            if h != node.0 {
                break;
            }
            self.stack.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.stack.push(node);
        self.size += 1;
    }

    /// The root of the leaves pushed so far (RFC 9162 §2.1.1).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut acc)) = it.next() else {
            return empty_root();
        };
        for (_, left) in it {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// An append-only tree that keeps the hash of every complete, aligned subtree:
/// `levels[k][i]` covers leaves `i·2^k .. (i+1)·2^k`. Any subtree hash is then
/// O(log² n) to compute, and appending is O(log n).
#[derive(Debug, Clone, Default)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            levels: vec![Vec::new()],
        }
    }

    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels.first()?.get(index as usize).copied()
    }

    pub fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut k = 0;
        while self.levels[k].len().is_multiple_of(2) {
            let n = self.levels[k].len();
            let parent = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[k + 1].push(parent);
            k += 1;
        }
    }

    /// Drops every leaf from `size` on (undoes appends that were not committed).
    pub fn truncate(&mut self, size: u64) {
        for (k, level) in self.levels.iter_mut().enumerate() {
            level.truncate((size >> k) as usize);
        }
    }

    /// The root of the first `size` leaves.
    pub fn root(&self, size: u64) -> Option<Hash> {
        (size <= self.size()).then(|| range_hash(self, 0, size))
    }

    /// PATH(m, D[0:n]) for leaf `m` in the tree of the first `n` leaves.
    pub fn inclusion_proof(&self, m: u64, n: u64) -> Option<Vec<Hash>> {
        (n <= self.size()).then(|| inclusion_proof(self, m, n))?
    }

    /// PROOF(m, D[0:n]): consistency of the first `m` leaves with the first `n`.
    pub fn consistency_proof(&self, m: u64, n: u64) -> Option<Vec<Hash>> {
        (n <= self.size()).then(|| consistency_proof(self, m, n))?
    }
}

impl Subtrees for Tree {
    fn subtree(&self, height: u32, index: u64) -> Hash {
        self.levels[height as usize][index as usize]
    }
}

/// Where proofs read hashes from: the hash of the complete subtree of height
/// `height` (2^height leaves) at `index`, covering leaves
/// `index·2^height .. (index+1)·2^height`. Proofs ask only for subtrees inside
/// the tree they are about, so a source may assume every one it is asked for
/// exists.
pub trait Subtrees {
    fn subtree(&self, height: u32, index: u64) -> Hash;
}

/// MTH of leaves `start..end`, from complete subtrees: `start` is a multiple
/// of the largest power of two not above `end - start`, as every range
/// RFC 9162's recursions visit is.
pub fn range_hash(src: &(impl Subtrees + ?Sized), start: u64, end: u64) -> Hash {
    let n = end - start;
    if n == 0 {
        return empty_root();
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let k = n.trailing_zeros();
        return src.subtree(k, start >> k);
    }
    let k = split(n);
    node_hash(
        &range_hash(src, start, start + k),
        &range_hash(src, start + k, end),
    )
}

/// PATH(m, D[0:n]) for leaf `m` in the tree of the first `n` leaves.
pub fn inclusion_proof(src: &(impl Subtrees + ?Sized), m: u64, n: u64) -> Option<Vec<Hash>> {
    if m >= n {
        return None;
    }
    let mut proof = Vec::new();
    path(src, m, 0, n, &mut proof);
    Some(proof)
}

fn path(src: &(impl Subtrees + ?Sized), m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(src, m, start, start + k, out);
        out.push(range_hash(src, start + k, end));
    } else {
        path(src, m - k, start + k, end, out);
        out.push(range_hash(src, start, start + k));
    }
}

/// PROOF(m, D[0:n]): consistency of the first `m` leaves with the first `n`.
pub fn consistency_proof(src: &(impl Subtrees + ?Sized), m: u64, n: u64) -> Option<Vec<Hash>> {
    if m == 0 || m > n {
        return None;
    }
    let mut proof = Vec::new();
    subproof(src, m, 0, n, true, &mut proof);
    Some(proof)
}

fn subproof(
    src: &(impl Subtrees + ?Sized),
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(range_hash(src, start, end));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, out);
        out.push(range_hash(src, start + k, end));
    } else {
        subproof(src, m - k, start + k, end, false, out);
        out.push(range_hash(src, start, start + k));
    }
}

/// RFC 9162 §2.1.3.2: does `path` prove leaf `index` in the tree of `size` with `root`?
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: does `proof` show the tree of `first` leaves (root
/// `first_root`) is a prefix of the tree of `second` leaves (root `second_root`)?
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    if path.is_empty() {
        return false;
    }
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && fr == *first_root && sr == *second_root
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A hash as 64 lowercase hex digits (every leaf of the log is stored so,
/// and verify reads them back: a table is faster than the `hex` crate's
/// per-digit branches, measured with perf).
pub fn to_hex(h: &Hash) -> String {
    let mut out = String::with_capacity(64);
    for b in h {
        out.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(b & 15)]));
    }
    out
}

/// The value of each byte as a hex digit (either case), 0xff when it is none.
const HEX_VALUES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// 64 hex digits (either case) as a hash; `None` for anything else.
pub fn from_hex(s: &str) -> Option<Hash> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut h = [0u8; 32];
    for (i, out) in h.iter_mut().enumerate() {
        let (hi, lo) = (
            HEX_VALUES[usize::from(s[2 * i])],
            HEX_VALUES[usize::from(s[2 * i + 1])],
        );
        if hi == 0xff || lo == 0xff {
            return None;
        }
        *out = hi << 4 | lo;
    }
    Some(h)
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
