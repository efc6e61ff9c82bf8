//! The unit tests of `merkle.rs`.

use super::*;

/// RFC 6962 reference inputs (certificate-transparency merkle_tree_test.cc).
const INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn h(s: &str) -> Hash {
    from_hex(s).unwrap()
}

#[test]
fn frontier_roots_match_the_tree() {
    let mut t = Tree::new();
    let mut f = Frontier::default();
    assert_eq!(f.root(), empty_root());
    for i in 0..300u32 {
        let h = leaf_hash(&i.to_be_bytes());
        t.push(h);
        f.push(h);
        assert_eq!(Some(f.root()), t.root(f.size()), "size {}", f.size());
    }
}

pub fn reference_tree() -> Tree {
    let mut t = Tree::new();
    for i in INPUTS {
        t.push(leaf_hash(&hex::decode(i).unwrap()));
    }
    t
}

#[test]
fn known_answers() {
    assert_eq!(
        to_hex(&empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        to_hex(&leaf_hash(b"L123456")),
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    );
    assert_eq!(
        to_hex(&node_hash(b"N123", b"N456")),
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    );
    let t = reference_tree();
    for (i, root) in ROOTS.iter().enumerate() {
        assert_eq!(
            to_hex(&t.root(i as u64 + 1).unwrap()),
            *root,
            "root of {}",
            i + 1
        );
    }
}

#[test]
fn reference_inclusion_paths() {
    let t = reference_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (m, n, want) in cases {
        let path = t.inclusion_proof(m, n).unwrap();
        assert_eq!(
            path.iter().map(to_hex).collect::<Vec<_>>(),
            want,
            "path {m} in {n}"
        );
        assert!(verify_inclusion(
            &t.leaf(m).unwrap(),
            m,
            n,
            &path,
            &h(ROOTS[n as usize - 1])
        ));
    }
}

#[test]
fn reference_consistency_proofs() {
    let t = reference_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (m, n, want) in cases {
        let proof = t.consistency_proof(m, n).unwrap();
        assert_eq!(
            proof.iter().map(to_hex).collect::<Vec<_>>(),
            want,
            "proof {m}→{n}"
        );
        assert!(verify_consistency(
            m,
            n,
            &proof,
            &h(ROOTS[m as usize - 1]),
            &h(ROOTS[n as usize - 1])
        ));
    }
}

fn flip(h: &Hash) -> Hash {
    let mut x = *h;
    x[31] ^= 1;
    x
}

/// Every valid proof, corrupted in each way (index ±1, size changed, a hash
/// flipped, truncated, extended), is refused.
#[test]
fn corrupted_proofs_are_refused() {
    let mut t = Tree::new();
    for i in 0..38u32 {
        t.push(leaf_hash(&i.to_be_bytes()));
    }
    for n in 1..=37u64 {
        // (the tree holds one leaf more, so that size + 1 has a root)
        let root = t.root(n).unwrap();
        for m in 0..n {
            let leaf = t.leaf(m).unwrap();
            let path = t.inclusion_proof(m, n).unwrap();
            assert!(verify_inclusion(&leaf, m, n, &path, &root), "valid {m}/{n}");
            assert!(!verify_inclusion(&leaf, m + 1, n, &path, &root));
            if m > 0 {
                assert!(!verify_inclusion(&leaf, m - 1, n, &path, &root));
            }
            // A changed size is checked against the root of that size, as a
            // verifier takes both from one signed checkpoint.
            if let Some(bigger) = t.root(n + 1) {
                assert!(
                    !verify_inclusion(&leaf, m, n + 1, &path, &bigger),
                    "size+1 {m}/{n}"
                );
            }
            if n > 1 {
                assert!(
                    !verify_inclusion(&leaf, m, n - 1, &path, &t.root(n - 1).unwrap()),
                    "size-1 {m}/{n}"
                );
            }
            assert!(!verify_inclusion(&flip(&leaf), m, n, &path, &root));
            assert!(!verify_inclusion(&leaf, m, n, &path, &flip(&root)));
            for i in 0..path.len() {
                let mut bad = path.clone();
                bad[i] = flip(&bad[i]);
                assert!(!verify_inclusion(&leaf, m, n, &bad, &root));
            }
            if !path.is_empty() {
                assert!(!verify_inclusion(
                    &leaf,
                    m,
                    n,
                    &path[..path.len() - 1],
                    &root
                ));
            }
            let mut longer = path.clone();
            longer.push(root);
            assert!(!verify_inclusion(&leaf, m, n, &longer, &root));
        }
        for m in 1..n {
            let first = t.root(m).unwrap();
            let proof = t.consistency_proof(m, n).unwrap();
            assert!(
                verify_consistency(m, n, &proof, &first, &root),
                "valid {m}→{n}"
            );
            assert!(!verify_consistency(m + 1, n, &proof, &first, &root));
            if let Some(bigger) = t.root(n + 1) {
                assert!(
                    !verify_consistency(m, n + 1, &proof, &first, &bigger),
                    "size+1 {m}→{n}"
                );
            }
            assert!(!verify_consistency(m, n, &proof, &flip(&first), &root));
            assert!(!verify_consistency(m, n, &proof, &first, &flip(&root)));
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i]);
                assert!(!verify_consistency(m, n, &bad, &first, &root));
            }
            if !proof.is_empty() {
                assert!(!verify_consistency(
                    m,
                    n,
                    &proof[..proof.len() - 1],
                    &first,
                    &root
                ));
            }
            let mut longer = proof.clone();
            longer.push(root);
            assert!(!verify_consistency(m, n, &longer, &first, &root));
        }
    }
}

#[test]
fn truncate_undoes_appends() {
    let mut t = reference_tree();
    let before = t.root(5).unwrap();
    t.truncate(5);
    assert_eq!(t.size(), 5);
    assert_eq!(t.root(5).unwrap(), before);
    t.push(leaf_hash(&hex::decode(INPUTS[5]).unwrap()));
    assert_eq!(to_hex(&t.root(6).unwrap()), ROOTS[5]);
}

#[test]
fn hex_both_ways_as_the_hex_crate() {
    let h: Hash = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(200));
    assert_eq!(to_hex(&h), hex::encode(h));
    assert_eq!(from_hex(&hex::encode(h)), Some(h));
    assert_eq!(from_hex(&hex::encode(h).to_uppercase()), Some(h));
    for b in 0..=255u8 {
        let mut s = hex::encode(h).into_bytes();
        s[17] = b;
        let text = String::from_utf8_lossy(&s).into_owned();
        let mut want = [0u8; 32];
        let want = hex::decode_to_slice(&text, &mut want).ok().map(|_| want);
        assert_eq!(from_hex(&text), want, "byte {b}");
    }
    assert_eq!(from_hex(&hex::encode(h)[..62]), None);
    assert_eq!(from_hex(""), None);
}
