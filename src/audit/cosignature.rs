//! Signed notes with several signatures (C2SP signed-note v1.0.0) and Ed25519
//! witness cosignatures (C2SP tlog-cosignature v1.0.1), as the witness client,
//! the witness server (`closure-audit witness`) and the receipt verifier use them.
//!
//! A cosignature is a note signature line `— <name> base64(key id || u64 BE
//! timestamp || Ed25519 signature)` whose key id is SHA-256(name || 0x0A ||
//! 0x04 || public key)[:4] and whose signed message is `cosignature/v1\n`,
//! `time <timestamp>\n`, then the checkpoint's whole body.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of an Ed25519 cosignature key (tlog-cosignature).
pub const COSIGNATURE_V1: u8 = 0x04;
/// The signature type byte of an Ed25519 note key (signed-note).
pub const ED25519: u8 = 0x01;

/// The key id of a key of `kind` (0x01 note, 0x04 cosignature) named `name`.
pub fn key_id_of(name: &str, kind: u8, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', kind]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A key name is non-empty and holds no Unicode space and no `+` (signed-note).
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    /// What follows the key id: the signature (with a cosignature's timestamp first).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// `— <name> <base64(key id || signature)>\n`.
    pub fn line(&self) -> String {
        let mut raw = self.key_id.to_vec();
        raw.extend_from_slice(&self.signature);
        format!("\u{2014} {} {}\n", self.name, B64.encode(raw))
    }

    /// Reads one signature line (without its newline).
    pub fn parse_line(line: &str) -> Result<NoteSignature, String> {
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or("a signature line starts with an em dash and a space")?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or("a signature line is a key name and a base64 signature")?;
        if !valid_key_name(name) || b64.contains(' ') {
            return Err("a signature line is a key name and a base64 signature".into());
        }
        let raw = B64
            .decode(b64)
            .map_err(|_| "a signature is not base64".to_string())?;
        if raw.len() < 5 {
            return Err("a signature is shorter than its key id".into());
        }
        Ok(NoteSignature {
            name: name.to_string(),
            key_id: raw[..4].try_into().expect("4 bytes"),
            signature: raw[4..].to_vec(),
        })
    }
}

/// A signed note: its text (ending in a newline) and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

/// The most signature lines a note may carry here (signed-note lets a
/// verifier set a limit).
pub const MAX_SIGNATURES: usize = 100;

impl Note {
    /// Reads a note: text, an empty line, then at least one signature line.
    pub fn parse(note: &str) -> Result<Note, String> {
        let split = note
            .find("\n\n")
            .ok_or("a signed note has an empty line before its signatures")?;
        let (body, sigs) = (&note[..split + 1], &note[split + 2..]);
        if !sigs.ends_with('\n') {
            return Err("a signed note ends with a newline".into());
        }
        let signatures = sigs
            .strip_suffix('\n')
            .expect("ends with a newline")
            .split('\n')
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.is_empty() || signatures.len() > MAX_SIGNATURES {
            return Err(format!(
                "a signed note carries 1 to {MAX_SIGNATURES} signatures"
            ));
        }
        Ok(Note {
            body: body.to_string(),
            signatures,
        })
    }

    pub fn render(&self) -> String {
        let mut out = format!("{}\n", self.body);
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out
    }

    /// Adds `sig` unless the note already carries a signature by that key.
    pub fn add(&mut self, sig: NoteSignature) {
        if !self
            .signatures
            .iter()
            .any(|s| s.name == sig.name && s.key_id == sig.key_id)
        {
            self.signatures.push(sig);
        }
    }
}

/// The message a v1 cosignature signs.
pub fn cosigned_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// A witness's Ed25519 cosigning key.
pub struct Cosigner {
    pub name: String,
    key: SigningKey,
}

impl Cosigner {
    pub fn new(name: &str, key: SigningKey) -> Cosigner {
        Cosigner {
            name: name.to_string(),
            key,
        }
    }

    pub fn verifier(&self) -> CosignerKey {
        CosignerKey::new(&self.name, self.key.verifying_key())
    }

    /// The cosignature of a checkpoint `body` at `timestamp` (POSIX seconds).
    pub fn cosign(&self, body: &str, timestamp: u64) -> NoteSignature {
        let sig = self.key.sign(cosigned_message(body, timestamp).as_bytes());
        let mut signature = timestamp.to_be_bytes().to_vec();
        signature.extend_from_slice(&sig.to_bytes());
        NoteSignature {
            name: self.name.clone(),
            key_id: self.verifier().id,
            signature,
        }
    }
}

/// A witness's public key, as a log or a verifier trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    pub name: String,
    pub key: VerifyingKey,
    pub id: [u8; 4],
}

impl CosignerKey {
    pub fn new(name: &str, key: VerifyingKey) -> CosignerKey {
        CosignerKey {
            name: name.to_string(),
            id: key_id_of(name, COSIGNATURE_V1, &key),
            key,
        }
    }

    /// `name+hexid+base64(0x04 || key)`.
    pub fn verifier_key(&self) -> String {
        let mut raw = vec![COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }

    /// Reads a cosigner's verifier key, checking its type and id.
    pub fn parse(vkey: &str) -> Result<CosignerKey, String> {
        let (name, kind, key) = parse_vkey(vkey)?;
        if kind != COSIGNATURE_V1 {
            return Err("not a cosignature/v1 (Ed25519, type 0x04) verifier key".into());
        }
        let k = CosignerKey::new(&name, key);
        check_id(vkey, &k.id)?;
        Ok(k)
    }

    /// Whether `sig` is this key's line (name and key id).
    pub fn names(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.id
    }

    /// The timestamp of `sig` when it is this key's valid cosignature of `body`.
    pub fn verify(&self, body: &str, sig: &NoteSignature) -> Option<u64> {
        if !self.names(sig) || sig.signature.len() != 72 {
            return None;
        }
        let timestamp = u64::from_be_bytes(sig.signature[..8].try_into().ok()?);
        if timestamp > i64::MAX as u64 {
            return None;
        }
        let ed = Signature::from_bytes(sig.signature[8..].try_into().ok()?);
        self.key
            .verify(cosigned_message(body, timestamp).as_bytes(), &ed)
            .ok()
            .map(|_| timestamp)
    }
}

/// `name+hexid+base64(type || key)` → (name, type, Ed25519 key).
pub fn parse_vkey(vkey: &str) -> Result<(String, u8, VerifyingKey), String> {
    let mut parts = vkey.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("a verifier key is name+hexkeyid+base64key".into());
    };
    if !valid_key_name(name) || id.len() != 8 || hex::decode(id).is_err() {
        return Err("a verifier key is name+hexkeyid+base64key".into());
    }
    let raw = B64
        .decode(b64)
        .map_err(|_| "a verifier key's key is not base64".to_string())?;
    if raw.len() != 33 {
        return Err("a verifier key here is an Ed25519 key (33 bytes with its type)".into());
    }
    let key = VerifyingKey::from_bytes(raw[1..].try_into().expect("32 bytes"))
        .map_err(|e| format!("verifier key: {e}"))?;
    Ok((name.to_string(), raw[0], key))
}

/// The key id a verifier key states must be the one its key and name give.
pub(super) fn check_id(vkey: &str, id: &[u8; 4]) -> Result<(), String> {
    let given = vkey.trim().split('+').nth(1).unwrap_or_default();
    if given != hex::encode(id) {
        return Err("verifier key: the key id does not match the key".into());
    }
    Ok(())
}

#[cfg(test)]
#[path = "cosignature_tests.rs"]
mod tests;
