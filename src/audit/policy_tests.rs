use super::*;
use crate::audit::checkpoint::Signer;
use crate::audit::cosignature::Cosigner;
use ed25519_dalek::SigningKey;

fn witness(n: u8) -> Cosigner {
    Cosigner::new(&format!("w{n}.example"), SigningKey::from_bytes(&[n; 32]))
}

fn policy_text(quorum: &str) -> String {
    let log = Signer::new("closure-audit", SigningKey::from_bytes(&[9; 32]));
    let mut t = format!("# a comment\nlog {}\n\n", log.verifier_key());
    for n in 1..=3 {
        t.push_str(&format!(
            "witness X{n} {} http://127.0.0.1:1/w{n}/\n",
            witness(n).verifier().verifier_key()
        ));
    }
    for n in 4..=5 {
        t.push_str(&format!(
            "  witness\tY{n} {}\n",
            witness(n).verifier().verifier_key()
        ));
    }
    t.push_str("group X 2 X1 X2 X3\ngroup Y any Y4 Y5\ngroup XY all X Y\n");
    t.push_str(&format!("quorum {quorum}\n"));
    t
}

#[test]
fn the_spec_s_example_policy() {
    let p = Policy::parse(&policy_text("XY")).unwrap();
    assert_eq!(p.logs.len(), 1);
    assert_eq!(p.witnesses.len(), 5);
    assert_eq!(p.witnesses[0].url.as_deref(), Some("http://127.0.0.1:1/w1"));
    assert_eq!(p.quorum_name(), "XY");
    let with = |set: &'static [usize]| move |i: usize| set.contains(&i);
    assert!(p.quorum_met(&with(&[0, 1, 3])));
    assert!(p.quorum_met(&with(&[0, 2, 4])));
    assert!(!p.quorum_met(&with(&[0, 3, 4])), "one X is not two");
    assert!(!p.quorum_met(&with(&[0, 1, 2])), "no Y");
    let none = Policy::parse(&policy_text("none")).unwrap();
    assert!(none.quorum_met(&|_| false));
    let one = Policy::parse(&policy_text("Y5")).unwrap();
    assert!(one.quorum_met(&with(&[4])));
    assert!(!one.quorum_met(&with(&[3])));
}

#[test]
fn a_note_meets_the_quorum_with_valid_cosignatures_only() {
    let p = Policy::parse(&policy_text("X")).unwrap();
    let body = "closure-audit\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let mut note = Note {
        body: body.into(),
        signatures: vec![witness(1).cosign(body, 10)],
    };
    assert!(!p.note_meets_quorum(&note));
    // A cosignature of another body does not count.
    note.add(witness(2).cosign(
        "closure-audit\n4\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        11,
    ));
    assert!(!p.note_meets_quorum(&note));
    note.signatures.pop();
    note.add(witness(3).cosign(body, 12));
    assert!(p.note_meets_quorum(&note));
    assert_eq!(p.cosigners_of(&note), vec![(0, 10), (2, 12)]);
}

#[test]
fn bad_policies_are_refused_with_their_line() {
    let w1 = witness(1).verifier().verifier_key();
    let cases = [
        ("".to_string(), "quorum"),
        (format!("witness A {w1}\n"), "quorum"),
        (format!("witness A {w1}\nquorum B\n"), "line 2"),
        (
            format!("witness A {w1}\nwitness B {w1}\nquorum A\n"),
            "duplicate",
        ),
        (
            format!(
                "witness A {w1}\nwitness A {}\nquorum A\n",
                witness(2).verifier().verifier_key()
            ),
            "taken",
        ),
        (
            format!("witness A {w1}\ngroup G 2 A\nquorum G\n"),
            "threshold",
        ),
        (
            format!("witness A {w1}\ngroup G any A A\nquorum G\n"),
            "twice",
        ),
        (format!("witness A {w1}\nquorum A\nquorum A\n"), "second"),
        ("frobnicate\nquorum none\n".to_string(), "not a policy line"),
        ("witness A notakey\nquorum none\n".to_string(), "line 1"),
        // A log key where a cosigner key belongs (type 0x01, not 0x04).
        (
            format!(
                "witness A {}\nquorum A\n",
                Signer::new("x", SigningKey::from_bytes(&[1; 32])).verifier_key()
            ),
            "cosignature",
        ),
        ("quorum none\n\u{7}\n".to_string(), "control"),
    ];
    for (text, want) in cases {
        let err = Policy::parse(&text).unwrap_err();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}
