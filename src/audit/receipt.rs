//! Receipts: a C2SP tlog-proof (`c2sp.org/tlog-proof@v1`) that one event is in
//! the log, for a force's records system to keep with the crime record. The
//! `extra` line carries the event's canonical bytes, so the receipt says what
//! was logged as well as that it was; the leaf hash is SHA-256(0x00 || extra).

use super::checkpoint::{SignedCheckpoint, TrustedKey};
use super::cosignature::Note;
use super::merkle::{Hash, leaf_hash, verify_inclusion};
use super::policy::Policy;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most a receipt may hold (a checkpoint with cosignatures and an event).
pub const MAX_RECEIPT_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The event's canonical bytes.
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The checkpoint as the log served it, with its cosignatures.
    pub checkpoint: String,
}

impl Receipt {
    pub fn render(&self) -> String {
        let mut out = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<Receipt, String> {
        if text.len() > MAX_RECEIPT_BYTES {
            return Err(format!("a receipt is at most {MAX_RECEIPT_BYTES} bytes"));
        }
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or("a receipt has an empty line before its checkpoint")?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(format!("a receipt starts with {HEADER}"));
        }
        let mut line = lines.next().ok_or("a receipt has an index line")?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b64)
                    .map_err(|_| "the extra line is not base64")?,
            );
            line = lines.next().ok_or("a receipt has an index line")?;
        }
        let digits = line
            .strip_prefix("index ")
            .ok_or("a receipt has an index line")?;
        let index: u64 = digits
            .parse()
            .ok()
            .filter(|i: &u64| i.to_string() == digits)
            .ok_or("the index is a decimal without leading zeros")?;
        let proof = lines
            .map(|l| {
                B64.decode(l)
                    .ok()
                    .and_then(|b| <Hash>::try_from(b).ok())
                    .ok_or_else(|| format!("not a base64 hash: {l:?}"))
            })
            .collect::<Result<Vec<Hash>, String>>()?;
        if proof.len() > 63 {
            return Err("an inclusion proof has at most 63 hashes".into());
        }
        Ok(Receipt {
            extra,
            index,
            proof,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// Checks the receipt against the log's keys and, with a policy, the
    /// quorum of witness cosignatures; returns what it proves.
    pub fn verify(&self, keys: &[TrustedKey], policy: Option<&Policy>) -> Result<Proven, String> {
        let extra = self
            .extra
            .as_ref()
            .ok_or("the receipt carries no event (no extra line)")?;
        let note = Note::parse(&self.checkpoint)?;
        let cp = keys
            .iter()
            .find_map(|k| {
                note.signatures
                    .iter()
                    .filter(|s| s.name == k.name && s.key_id == k.id)
                    .find_map(|s| {
                        let mut raw = s.key_id.to_vec();
                        raw.extend_from_slice(&s.signature);
                        let one =
                            format!("{}\n\u{2014} {} {}\n", note.body, s.name, B64.encode(raw));
                        SignedCheckpoint::parse(&one)
                            .ok()
                            .filter(|c| c.verify(std::slice::from_ref(k)))
                    })
            })
            .ok_or("the checkpoint is not signed by the log's key")?;
        let cosigners = match policy {
            Some(p) => {
                if !p.note_meets_quorum(&note) {
                    return Err(format!(
                        "the checkpoint lacks the policy's quorum ({}) of witness cosignatures",
                        p.quorum_name()
                    ));
                }
                p.cosigners_of(&note)
                    .into_iter()
                    .map(|(i, _)| p.witnesses[i].name.clone())
                    .collect()
            }
            None => Vec::new(),
        };
        let leaf = leaf_hash(extra);
        if !verify_inclusion(&leaf, self.index, cp.size, &self.proof, &cp.root) {
            return Err(format!(
                "the inclusion proof does not prove leaf {} in the tree of {} leaves",
                self.index, cp.size
            ));
        }
        Ok(Proven {
            origin: cp.origin,
            tree_size: cp.size,
            index: self.index,
            cosigners,
        })
    }
}

/// What a verified receipt proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub origin: String,
    pub tree_size: u64,
    pub index: u64,
    /// The policy's witnesses whose cosignatures it carries.
    pub cosigners: Vec<String>,
}

#[cfg(test)]
#[path = "receipt_tests.rs"]
mod tests;
