use super::*;
use crate::audit::merkle::{Frontier, Tree, leaf_hash, range_hash};

#[test]
fn index_paths_as_the_spec_writes_them() {
    assert_eq!(format_index(1_234_067), "x001/x234/067");
    assert_eq!(format_index(5), "005");
    assert_eq!(format_index(1000), "x001/000");
    let t = TilePath::Hashes {
        level: 0,
        index: 1_234_067,
        width: Width::Partial(112),
    };
    assert_eq!(t.to_path(), "tile/0/x001/x234/067.p/112");
    assert_eq!(TilePath::parse("tile/0/x001/x234/067.p/112"), Some(t));
    assert_eq!(
        TilePath::parse("tile/entries/005"),
        Some(TilePath::Entries {
            index: 5,
            width: Width::Full
        })
    );
    assert_eq!(
        TilePath::parse("tile/63/000"),
        Some(TilePath::Hashes {
            level: 63,
            index: 0,
            width: Width::Full
        })
    );
}

#[test]
fn only_the_canonical_spelling_is_a_tile() {
    for bad in [
        "tile/0/5",
        "tile/0/0005",
        "tile/0/x000/005",
        "tile/00/005",
        "tile/64/000",
        "tile/0/005.p/0",
        "tile/0/005.p/256",
        "tile/0/005.p/012",
        "tile/0/001/234",
        "tile/0/x1/234",
        "tile/entries/x005",
        "tile/0/",
        "tile/0/abc",
        "tiles/0/005",
        "tile/-1/005",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
    ] {
        assert_eq!(TilePath::parse(bad), None, "{bad}");
    }
}

#[test]
fn the_spec_s_layouts() {
    // tlog-tiles: "a tree of size 70,000 will be represented by 273 full level 0
    // tiles, one partial level 0 tile of width 112, one full level 1 tile, one
    // partial level 1 tile of width 17, and one partial level 2 tile of width 1."
    assert_eq!(layout(70_000), [(0, 273, 112), (1, 1, 17), (2, 0, 1)]);
    // "a tree of size 256 will be represented by a full level 0 tile and a
    // partial level 1 tile of width 1."
    assert_eq!(layout(256), [(0, 1, 0), (1, 0, 1)]);
    assert_eq!(layout(0), []);
    assert_eq!(layout(u64::MAX).len(), 8);
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

#[test]
fn built_tiles_hold_the_spec_s_hashes_and_the_root() {
    let n = 70_000u64;
    let all = leaves(n);
    let mut tree = Tree::new();
    let mut frontier = Frontier::default();
    let mut builder = TileBuilder::default();
    let mut full = Vec::new();
    for (i, leaf) in all.iter().enumerate() {
        tree.push(*leaf);
        frontier.push(*leaf);
        full.extend(builder.push(*leaf));
        let size = i as u64 + 1;
        if size.is_power_of_two() || size.is_multiple_of(9_973) || size == n {
            assert_eq!(builder.root(), frontier.root(), "root at {size}");
            assert_eq!(Some(builder.root()), tree.root(size), "root at {size}");
        }
    }
    assert_eq!(builder.size(), n);
    let level0 = full.iter().filter(|t| t.level == 0).count();
    let level1 = full.iter().filter(|t| t.level == 1).count();
    assert_eq!((level0, level1, full.len()), (273, 1, 274));
    assert_eq!(
        (
            builder.tail(0).len(),
            builder.tail(1).len(),
            builder.tail(2).len()
        ),
        (112, 17, 1)
    );
    // MTH(D[(n*256 + i) * 256^l : (n*256 + i + 1) * 256^l]) for each i.
    let mth = |from: usize, len: usize| perfect_root(&all[from..from + len]);
    let t = full
        .iter()
        .find(|t| t.level == 0 && t.index == 200)
        .unwrap();
    assert_eq!(t.hashes, all[200 * 256..201 * 256]);
    let t = full.iter().find(|t| t.level == 1).unwrap();
    assert_eq!(t.index, 0);
    for i in [0usize, 1, 77, 255] {
        assert_eq!(t.hashes[i], mth(i * 256, 256), "level 1, hash {i}");
    }
    assert_eq!(builder.tail(2)[0], mth(0, 65_536));
    assert_eq!(builder.tail(1)[16], mth(16 * 256 + 65_536, 256));
}

#[test]
fn a_builder_resumes_from_its_stored_tails() {
    let mut a = TileBuilder::default();
    for leaf in leaves(1_000) {
        a.push(leaf);
    }
    let tails: Vec<Vec<Hash>> = (0..3).map(|l| a.tail(l).to_vec()).collect();
    let mut b = TileBuilder::resume(1_000, tails.clone()).unwrap();
    assert_eq!(b.root(), a.root());
    for leaf in leaves(600) {
        assert_eq!(a.push(leaf), b.push(leaf));
    }
    assert_eq!(b.root(), a.root());
    assert_eq!(TileBuilder::resume(999, tails.clone()), None);
    assert_eq!(TileBuilder::resume(1_000, tails[..1].to_vec()), None);
    assert_eq!(
        TileBuilder::resume(0, Vec::new()),
        Some(TileBuilder::default())
    );
    assert_eq!(TileBuilder::default().root(), empty_root());
}

/// The tiles a builder stored for `n` leaves, loaded as a proof would load them.
fn stored(n: u64) -> (Tree, LoadedTiles) {
    let mut tree = Tree::new();
    let mut b = TileBuilder::default();
    let mut loaded = LoadedTiles::default();
    for h in leaves(n) {
        tree.push(h);
        for t in b.push(h) {
            assert!(loaded.insert(t.level, t.index, &bytes_of(&t.hashes)));
        }
    }
    for (level, index, hashes) in b.tails() {
        assert!(loaded.insert(level, index, &bytes_of(hashes)));
    }
    (tree, loaded)
}

#[test]
fn proofs_from_tiles_are_the_tree_s_proofs() {
    // Sizes around tile edges at levels 0 and 1 (256 and 65,536 leaves).
    for n in [
        1u64, 2, 3, 255, 256, 257, 511, 512, 1000, 65_535, 65_536, 65_537, 70_000,
    ] {
        let (tree, tiles) = stored(n);
        let sizes = [1, 2, n / 3 + 1, n / 2, n.saturating_sub(1), n];
        for &size in sizes.iter().filter(|&&s| s >= 1 && s <= n) {
            assert_eq!(
                range_hash(&tiles, 0, size),
                tree.root(size).unwrap(),
                "root {size} of {n}"
            );
            for m in [0, size / 2, size - 1] {
                assert_eq!(
                    crate::audit::merkle::inclusion_proof(&tiles, m, size),
                    tree.inclusion_proof(m, size),
                    "inclusion {m} in {size} of {n}"
                );
            }
            for first in [1, size / 2, size] {
                if first >= 1 {
                    assert_eq!(
                        crate::audit::merkle::consistency_proof(&tiles, first, size),
                        tree.consistency_proof(first, size),
                        "consistency {first} → {size} of {n}"
                    );
                }
            }
        }
        assert!(
            !tiles.incomplete(),
            "a proof asked for a tile not stored ({n})"
        );
    }
}

#[test]
fn a_proof_reads_only_the_tiles_it_names() {
    let (_, tiles) = stored(70_000);
    let wanted = WantedTiles::default();
    let proof = crate::audit::merkle::inclusion_proof(&wanted, 69_999, 70_000);
    assert!(proof.is_some());
    // Leaf 69,999's tile at level 0 (273), its level-1 tile (1) and level 1's
    // full tile 0: nothing else.
    let names = wanted.tiles();
    assert!(names.contains(&(0, 273)), "{names:?}");
    assert!(names.len() <= 4, "{names:?}");
    // And a proof over a tile missing from storage is noticed, not a panic.
    let missing = LoadedTiles::default();
    let _ = crate::audit::merkle::inclusion_proof(&missing, 3, 300);
    assert!(missing.incomplete());
    assert!(!tiles.incomplete());
}
