use super::*;
use crate::audit::checkpoint::TrustedKey;

/// signed-note v1.0.0's example: its verifier key verifies its note.
#[test]
fn the_signed_note_example_verifies() {
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let text = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let note = Note::parse(text).unwrap();
    assert_eq!(note.body, "This is an example message.\n");
    assert_eq!(note.render(), text);
    let key = TrustedKey::parse_verifier_key(vkey).unwrap();
    let sig = &note.signatures[0];
    assert_eq!(sig.name, "example.com/foo");
    assert_eq!(sig.key_id, key.id);
    let ed = Signature::from_bytes(sig.signature.as_slice().try_into().unwrap());
    assert!(key.key.verify(note.body.as_bytes(), &ed).is_ok());
    let (name, kind, _) = parse_vkey(vkey).unwrap();
    assert_eq!((name.as_str(), kind), ("example.com/foo", ED25519));
    // A cosignature key is not a note key.
    assert!(CosignerKey::parse(vkey).is_err());
}

/// tlog-cosignature v1.0.1's example of the Ed25519 signed message.
#[test]
fn the_cosignature_v1_message_is_the_spec_s() {
    let body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(
        cosigned_message(body, 1679315147),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
}

#[test]
fn a_cosignature_verifies_with_its_key_only() {
    let w = Cosigner::new("witness.example/w1", SigningKey::from_bytes(&[3u8; 32]));
    let body = "closure-audit\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let sig = w.cosign(body, 1_700_000_000);
    assert_eq!(sig.signature.len(), 72);
    // The line round-trips, with the key id of type 0x04.
    let parsed = NoteSignature::parse_line(sig.line().trim_end()).unwrap();
    assert_eq!(parsed, sig);
    assert_eq!(
        sig.key_id,
        key_id_of("witness.example/w1", COSIGNATURE_V1, &w.verifier().key)
    );
    let vkey = w.verifier().verifier_key();
    assert!(vkey.starts_with("witness.example/w1+"));
    let key = CosignerKey::parse(&vkey).unwrap();
    assert_eq!(key, w.verifier());
    assert_eq!(key.verify(body, &sig), Some(1_700_000_000));
    // Another body, another time, another key: no.
    assert_eq!(key.verify(&body.replace("\n5\n", "\n6\n"), &sig), None);
    let mut later = sig.clone();
    later.signature[7] ^= 1;
    assert_eq!(key.verify(body, &later), None);
    let other = Cosigner::new("witness.example/w1", SigningKey::from_bytes(&[4u8; 32]));
    assert_eq!(other.verifier().verify(body, &sig), None);
}

#[test]
fn notes_with_several_signatures() {
    let w1 = Cosigner::new("w1", SigningKey::from_bytes(&[5u8; 32]));
    let w2 = Cosigner::new("w2", SigningKey::from_bytes(&[6u8; 32]));
    let body = "log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let mut note = Note {
        body: body.into(),
        signatures: vec![w1.cosign(body, 1)],
    };
    note.add(w2.cosign(body, 2));
    note.add(w1.cosign(body, 3)); // one line per key
    assert_eq!(note.signatures.len(), 2);
    let again = Note::parse(&note.render()).unwrap();
    assert_eq!(again, note);
    for bad in [
        "log\n1\n",                          // no signatures
        "log\n1\n\n",                        // empty signature block
        "log\n1\n\n\u{2014} w1 AAAA",        // no final newline
        "log\n1\n\n\u{2014} w 1 AAAAAAAA\n", // a name with a space
        "log\n1\n\n- w1 AAAAAAAA\n",         // not an em dash
        "log\n1\n\n\u{2014} w1 !!!!\n",      // not base64
    ] {
        assert!(Note::parse(bad).is_err(), "{bad:?}");
    }
}
