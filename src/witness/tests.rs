//! The witness's checks as known answers, without HTTP or a database.

use super::*;
use crate::audit::checkpoint::Signer;
use crate::audit::merkle::{Tree, leaf_hash};
use ed25519_dalek::SigningKey;

const ORIGIN: &str = "example.test/log";

fn signer() -> Signer {
    Signer::new(ORIGIN, SigningKey::from_bytes(&[3u8; 32]))
}

fn logs() -> Logs {
    Logs::parse(&signer().verifier_key()).unwrap()
}

fn tree(n: u64) -> Tree {
    let mut t = Tree::new();
    for i in 0..n {
        t.push(leaf_hash(&i.to_be_bytes()));
    }
    t
}

fn body(old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
    let mut b = format!("old {old}\n");
    for h in proof {
        b.push_str(&B64.encode(h));
        b.push('\n');
    }
    b.push('\n');
    b.push_str(note);
    b.into_bytes()
}

fn checked(size: u64) -> (Checkpoint, Tree) {
    let t = tree(size);
    let note = signer().sign(size, &t.root(size).unwrap()).note;
    (check_signed(&logs(), &note).unwrap(), t)
}

#[test]
fn parses_the_spec_shape() {
    let (cp, t) = checked(10);
    let proof = t.consistency_proof(4, 10).unwrap();
    let req = parse_request(&body(4, &proof, &cp.note)).unwrap();
    assert_eq!(req.old, 4);
    assert_eq!(req.proof, proof);
    assert_eq!(req.note, cp.note);
}

#[test]
fn malformed_bodies_are_400() {
    let (cp, _) = checked(3);
    for b in [
        b"".to_vec(),
        b"old 1".to_vec(),
        b"old 01\n\n".to_vec(),
        b"old -1\n\n".to_vec(),
        b"new 1\n\n".to_vec(),
        b"old 1\nnot base64!\n\n".to_vec(),
        b"old 1\nAAAA\n\n".to_vec(),
        b"old 1\n".to_vec(),
        vec![0xff, 0xfe, b'\n'],
    ] {
        assert!(
            matches!(parse_request(&b), Err(Reject::BadRequest(_))),
            "{b:?}"
        );
    }
    let too_many = body(1, &vec![[0u8; 32]; 64], &cp.note);
    assert!(matches!(
        parse_request(&too_many),
        Err(Reject::BadRequest(_))
    ));
    assert!(parse_request(&body(1, &vec![[0u8; 32]; 63], &cp.note)).is_ok());
    for note in ["", "no signatures\n", "x\n\n\u{2014} x AAAA\n"] {
        assert!(matches!(
            check_signed(&logs(), note),
            Err(Reject::BadRequest(_))
        ));
    }
}

#[test]
fn signatures_decide_404_and_403() {
    let t = tree(2);
    let root = t.root(2).unwrap();
    let other = Signer::new("other.test/log", SigningKey::from_bytes(&[4u8; 32]));
    assert!(matches!(
        check_signed(&logs(), &other.sign(2, &root).note),
        Err(Reject::UnknownOrigin(_))
    ));
    // The right origin, an unknown key: ignored, so no trusted signature.
    let stranger = Signer::new(ORIGIN, SigningKey::from_bytes(&[5u8; 32]));
    assert!(matches!(
        check_signed(&logs(), &stranger.sign(2, &root).note),
        Err(Reject::Forbidden(_))
    ));
    // A trusted key's name and id, a signature that fails.
    let good = signer().sign(2, &root).note;
    let forged = good.replace("\n2\n", "\n3\n");
    assert!(matches!(
        check_signed(&logs(), &forged),
        Err(Reject::Forbidden(_))
    ));
    // An unknown key's line beside a valid one is ignored and dropped.
    let extra = stranger.sign(2, &root).note;
    let two = format!("{good}{}", extra.rsplit_once("\n\n").unwrap().1);
    let cp = check_signed(&logs(), &two).unwrap();
    assert_eq!(cp.note, good);
}

#[test]
fn the_status_table_against_the_state() {
    let (cp10, t) = checked(10);
    let r4 = t.root(4).unwrap();
    let proof = t.consistency_proof(4, 10).unwrap();
    // 200: first with old 0; next with a valid proof; same size same root.
    assert_eq!(check_consistent(None, 0, &[], &cp10), Ok(()));
    assert_eq!(check_consistent(Some((4, r4)), 4, &proof, &cp10), Ok(()));
    assert_eq!(
        check_consistent(Some((10, cp10.root)), 10, &[], &cp10),
        Ok(())
    );
    // 400: old above the size.
    assert!(matches!(
        check_consistent(None, 11, &[], &cp10),
        Err(Reject::BadRequest(_))
    ));
    // 409: old is not the stored size.
    assert_eq!(
        check_consistent(Some((4, r4)), 0, &[], &cp10),
        Err(Reject::Conflict(4))
    );
    assert_eq!(
        check_consistent(None, 4, &proof, &cp10),
        Err(Reject::Conflict(0))
    );
    // 422: a bad proof, a proof from 0, the same size with another root, size 0
    // with another root.
    let mut bad_proof = proof.clone();
    bad_proof[0][0] ^= 1;
    for (stored, old, p) in [
        (Some((4, r4)), 4, bad_proof),
        (Some((4, [9u8; 32])), 4, proof.clone()),
        (None, 0, proof.clone()),
        (Some((10, [9u8; 32])), 10, vec![]),
    ] {
        assert!(matches!(
            check_consistent(stored, old, &p, &cp10),
            Err(Reject::Unprocessable(_))
        ));
    }
    let zero = check_signed(&logs(), &signer().sign(0, &[1u8; 32]).note).unwrap();
    assert!(matches!(
        check_consistent(None, 0, &[], &zero),
        Err(Reject::Unprocessable(_))
    ));
    let empty = check_signed(&logs(), &signer().sign(0, &empty_root()).note).unwrap();
    assert_eq!(check_consistent(None, 0, &[], &empty), Ok(()));
}

#[test]
fn origin_hash_finds_the_log() {
    let hex_hash = hex::encode(Sha256::digest(ORIGIN.as_bytes()));
    assert_eq!(logs().origin_of_hash(&hex_hash).as_deref(), Some(ORIGIN));
    assert_eq!(logs().origin_of_hash("00"), None);
}

#[test]
fn extreme_sizes_and_junk_proofs_do_not_panic() {
    let big = i64::MAX as u64;
    let cp = check_signed(&logs(), &signer().sign(big, &[2u8; 32]).note).unwrap();
    for old in [1, 2, big - 1, big] {
        for n in [0usize, 1, 62, 63] {
            let proof = vec![[1u8; 32]; n];
            let r = check_consistent(Some((old, [3u8; 32])), old, &proof, &cp);
            assert!(
                matches!(r, Err(Reject::Unprocessable(_))),
                "{old} {n}: {r:?}"
            );
        }
    }
    // Sizes beyond 63 bits are malformed.
    let too_big = format!("{ORIGIN}\n{}\nAAAA\n", u64::MAX);
    assert!(matches!(
        check_signed(&logs(), &format!("{too_big}\n\u{2014} x AAAAAA==\n")),
        Err(Reject::BadRequest(_))
    ));
}
