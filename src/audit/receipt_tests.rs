use super::*;
use crate::audit::checkpoint::Signer;
use crate::audit::cosignature::Cosigner;
use crate::audit::merkle::Tree;
use ed25519_dalek::SigningKey;

fn receipt_for(index: u64, size: u64, witness: Option<&Cosigner>) -> (Receipt, Signer) {
    let log = Signer::new("closure-audit", SigningKey::from_bytes(&[1; 32]));
    let mut tree = Tree::new();
    for i in 0..size {
        tree.push(leaf_hash(format!("event {i}").as_bytes()));
    }
    let cp = log.sign(size, &tree.root(size).unwrap());
    let mut note = Note::parse(&cp.note).unwrap();
    if let Some(w) = witness {
        note.add(w.cosign(&note.body, 1_800_000_000));
    }
    let r = Receipt {
        extra: Some(format!("event {index}").into_bytes()),
        index,
        proof: tree.inclusion_proof(index, size).unwrap(),
        checkpoint: note.render(),
    };
    (r, log)
}

#[test]
fn a_receipt_round_trips_and_verifies() {
    let w = Cosigner::new("w1.example", SigningKey::from_bytes(&[2; 32]));
    let (r, log) = receipt_for(5, 13, Some(&w));
    let text = r.render();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra ZXZlbnQgNQ==\nindex 5\n"));
    let parsed = Receipt::parse(&text).unwrap();
    assert_eq!(parsed, r);
    let proven = parsed.verify(&[log.trusted()], None).unwrap();
    assert_eq!((proven.tree_size, proven.index), (13, 5));
    let policy = Policy::parse(&format!(
        "witness w {}\nquorum w\n",
        w.verifier().verifier_key()
    ))
    .unwrap();
    assert_eq!(
        parsed
            .verify(&[log.trusted()], Some(&policy))
            .unwrap()
            .cosigners,
        vec!["w"]
    );
}

#[test]
fn a_receipt_that_does_not_hold_is_refused() {
    let w = Cosigner::new("w1.example", SigningKey::from_bytes(&[2; 32]));
    let (r, log) = receipt_for(5, 13, None);
    let keys = [log.trusted()];
    // Another event than the one logged.
    let mut other = r.clone();
    other.extra = Some(b"event 6".to_vec());
    assert!(other.verify(&keys, None).unwrap_err().contains("inclusion"));
    // Another index.
    let mut moved = r.clone();
    moved.index = 4;
    assert!(moved.verify(&keys, None).is_err());
    // Another log's key.
    let stranger = Signer::new("closure-audit", SigningKey::from_bytes(&[3; 32]));
    assert!(
        r.verify(&[stranger.trusted()], None)
            .unwrap_err()
            .contains("not signed")
    );
    // A policy whose quorum the checkpoint lacks.
    let policy = Policy::parse(&format!(
        "witness w {}\nquorum w\n",
        w.verifier().verifier_key()
    ))
    .unwrap();
    assert!(
        r.verify(&keys, Some(&policy))
            .unwrap_err()
            .contains("quorum")
    );
    // Malformed texts.
    for bad in [
        "",
        "c2sp.org/tlog-proof@v2\nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 01\n\nx\n",
        "c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\nnot-a-hash\n\nx\n",
    ] {
        assert!(Receipt::parse(bad).is_err(), "{bad:?}");
    }
}
