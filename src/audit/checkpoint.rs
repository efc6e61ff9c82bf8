//! Signed checkpoints in the C2SP formats: `tlog-checkpoint` bodies in
//! `signed-note` envelopes, with Ed25519 keys and C2SP key ids.
//!
//! Body: `<origin>\n<tree size>\n<base64 root hash>\n`. Note: the body, an empty
//! line, then one line per signature: `— <key name> <base64(key id || signature)>`.
//! Key id: the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key).
//! Verifier key: `<key name>+<hex key id>+<base64(0x01 || public key)>`.

use super::merkle::Hash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use std::path::Path;

const ED25519: u8 = 0x01;

/// The C2SP key id of an Ed25519 note key under `name`.
pub fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    super::cosignature::key_id_of(name, ED25519, public)
}

/// `name+hexid+base64(0x01||key)`.
pub fn verifier_key(name: &str, public: &VerifyingKey) -> String {
    let mut raw = vec![ED25519];
    raw.extend_from_slice(public.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, public)),
        B64.encode(raw)
    )
}

/// A trusted key, from a verifier key string or a base64 raw public key.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub name: String,
    pub key: VerifyingKey,
    pub id: [u8; 4],
}

impl TrustedKey {
    pub fn new(name: &str, key: VerifyingKey) -> Self {
        TrustedKey {
            name: name.to_string(),
            id: key_id(name, &key),
            key,
        }
    }

    /// Parses `name+hexid+base64(0x01||key)`, checking that the id matches.
    pub fn parse_verifier_key(s: &str) -> Result<TrustedKey, String> {
        let (name, kind, key) = super::cosignature::parse_vkey(s)?;
        if kind != ED25519 {
            return Err("verifier key: not an Ed25519 note key (type 0x01)".into());
        }
        let t = TrustedKey::new(&name, key);
        super::cosignature::check_id(s, &t.id)?;
        Ok(t)
    }
}

/// The Ed25519 key whose 32-byte seed (hex) is in `path`, or a new one written
/// there first (mode 0600, flushed with its folder); `true` when it was created.
/// The log's checkpoint key and the witness's cosigning key are kept this way.
pub fn load_or_create_key(path: &Path) -> Result<(SigningKey, bool), String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let seed: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("{} is not a 32-byte hex Ed25519 seed", path.display()))?;
            Ok((SigningKey::from_bytes(&seed), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
            // On disk (flushed, with its folder) before its first signature.
            crate::files::create_private(path, hex::encode(seed).as_bytes())?;
            Ok((SigningKey::from_bytes(&seed), true))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The log's signing key.
pub struct Signer {
    pub origin: String,
    key: SigningKey,
}

impl Signer {
    pub fn new(origin: &str, key: SigningKey) -> Self {
        Signer {
            origin: origin.to_string(),
            key,
        }
    }

    /// The key in `path` (32-byte seed, hex), or a new one written there (mode 0600).
    pub fn load_or_create(origin: &str, path: &Path) -> Result<Signer, String> {
        let (key, created) = load_or_create_key(path)?;
        let s = Signer::new(origin, key);
        if created {
            tracing::warn!(path = %path.display(), verifier_key = %s.verifier_key(), "generated the checkpoint signing key");
        }
        Ok(s)
    }

    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.origin, &self.public())
    }

    pub fn verifier_key(&self) -> String {
        verifier_key(&self.origin, &self.public())
    }

    pub fn trusted(&self) -> TrustedKey {
        TrustedKey::new(&self.origin, self.public())
    }

    /// Signs a checkpoint of `size` with `root`.
    pub fn sign(&self, size: u64, root: &Hash) -> SignedCheckpoint {
        let body = body(&self.origin, size, root);
        let signature = self.key.sign(body.as_bytes()).to_bytes();
        let mut line = self.key_id().to_vec();
        line.extend_from_slice(&signature);
        let note = format!("{body}\n\u{2014} {} {}\n", self.origin, B64.encode(line));
        SignedCheckpoint {
            origin: self.origin.clone(),
            size,
            root: *root,
            key_id: self.key_id(),
            signature,
            note,
        }
    }
}

fn body(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", B64.encode(root))
}

/// A checkpoint and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub key_id: [u8; 4],
    pub signature: [u8; 64],
    pub note: String,
}

impl SignedCheckpoint {
    /// Parses a signed note; the first signature line is taken as the log's.
    pub fn parse(note: &str) -> Result<SignedCheckpoint, String> {
        let (text, sigs) = note
            .split_once("\n\n")
            .ok_or("a signed note has an empty line before its signatures")?;
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or("checkpoint: no origin line")?
            .to_string();
        let size: u64 = lines
            .next()
            .and_then(|l| l.parse().ok())
            .ok_or("checkpoint: bad tree size line")?;
        let root: Hash = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or("checkpoint: bad root hash line")?;
        let sig_line = sigs
            .lines()
            .find(|l| l.starts_with('\u{2014}'))
            .ok_or("checkpoint: no signature line")?;
        let b64 = sig_line
            .rsplit(' ')
            .next()
            .ok_or("checkpoint: bad signature line")?;
        let raw = B64
            .decode(b64)
            .map_err(|_| "checkpoint: bad signature encoding")?;
        if raw.len() != 68 {
            return Err("checkpoint: not an Ed25519 signature".into());
        }
        Ok(SignedCheckpoint {
            origin,
            size,
            root,
            key_id: raw[..4].try_into().expect("4"),
            signature: raw[4..].try_into().expect("64"),
            note: note.to_string(),
        })
    }

    /// Whether one of `keys` (by key id) signed this checkpoint's body.
    pub fn verify(&self, keys: &[TrustedKey]) -> bool {
        let body = body(&self.origin, self.size, &self.root);
        keys.iter()
            .filter(|k| k.id == self.key_id && k.name == self.origin)
            .any(|k| {
                k.key
                    .verify(body.as_bytes(), &Signature::from_bytes(&self.signature))
                    .is_ok()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_parse_verify() {
        let s = Signer::new("closure-audit.test/log", SigningKey::from_bytes(&[7u8; 32]));
        let cp = s.sign(42, &[9u8; 32]);
        assert!(cp.note.starts_with("closure-audit.test/log\n42\n"));
        assert!(cp.note.contains("\n\n\u{2014} closure-audit.test/log "));
        let parsed = SignedCheckpoint::parse(&cp.note).unwrap();
        assert_eq!(parsed, cp);
        let trusted = TrustedKey::parse_verifier_key(&s.verifier_key()).unwrap();
        assert!(parsed.verify(std::slice::from_ref(&trusted)));
        // Another key, or an altered note, does not verify.
        let other = Signer::new("closure-audit.test/log", SigningKey::from_bytes(&[8u8; 32]));
        assert!(!parsed.verify(&[other.trusted()]));
        let altered = SignedCheckpoint::parse(&cp.note.replace("\n42\n", "\n43\n")).unwrap();
        assert!(!altered.verify(&[trusted]));
        assert!(TrustedKey::parse_verifier_key("x+00000000+AAAA").is_err());
    }
}
