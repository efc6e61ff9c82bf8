//! The witness file as verification reads it: only as far as it was written
//! when measured, line by line in the order it was written (sizes never
//! decrease), so that only the checkpoints not reached yet are held.

use super::findings::{Finding, Findings};
use crate::audit::checkpoint::SignedCheckpoint;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// A witness file and its length at one moment. Measured before a snapshot
/// of the database begins, every line within the length belongs to a
/// checkpoint the snapshot holds; lines appended later are not read (their
/// checkpoint may have committed after the snapshot began).
#[derive(Debug, Clone)]
pub struct WitnessFile {
    path: PathBuf,
    /// `None`: the file did not exist.
    len: Option<u64>,
}

impl WitnessFile {
    pub fn measure(path: &Path) -> WitnessFile {
        WitnessFile {
            path: path.to_path_buf(),
            len: std::fs::metadata(path).ok().map(|m| m.len()),
        }
    }
}

pub(super) struct Witnessed {
    lines: std::io::Lines<std::io::BufReader<std::io::Take<std::fs::File>>>,
    line_no: u64,
    last_size: u64,
    peeked: Option<SignedCheckpoint>,
    path: String,
}

impl Witnessed {
    /// Opens the file; a missing one is a finding once the database holds a
    /// checkpoint (the service creates the file when it starts), an unreadable
    /// one always.
    pub(super) fn open(
        w: &WitnessFile,
        any_checkpoint: bool,
        findings: &mut Findings,
    ) -> Option<Witnessed> {
        let opened = match w.len {
            None => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
            Some(len) => std::fs::File::open(&w.path).map(|f| f.take(len)),
        };
        match opened {
            Ok(f) => Some(Witnessed {
                lines: std::io::BufReader::new(f).lines(),
                line_no: 0,
                last_size: 0,
                peeked: None,
                path: w.path.display().to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !any_checkpoint => None,
            Err(e) => {
                findings.add(Finding::other(format!(
                    "the witness file {} cannot be read ({e}): the checkpoints kept outside the database cannot be checked",
                    w.path.display()
                )));
                None
            }
        }
    }

    /// The checkpoints of size up to `size`, in order.
    pub(super) fn up_to(&mut self, size: u64, findings: &mut Findings) -> Vec<SignedCheckpoint> {
        let mut out = Vec::new();
        loop {
            if self.peeked.is_none() {
                self.peeked = self.next(findings);
            }
            match self.peeked.take() {
                Some(cp) if cp.size <= size => out.push(cp),
                Some(cp) => {
                    self.peeked = Some(cp);
                    return out;
                }
                None => return out,
            }
        }
    }

    fn next(&mut self, findings: &mut Findings) -> Option<SignedCheckpoint> {
        loop {
            let line = match self.lines.next()? {
                Ok(l) => l,
                Err(e) => {
                    findings.add(Finding::other(format!(
                        "the witness file {} cannot be read after line {} ({e})",
                        self.path, self.line_no
                    )));
                    return None;
                }
            };
            self.line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            match super::super::export::read_witness_line(&line) {
                Ok((cp, _)) if cp.size < self.last_size => {
                    findings.add(Finding::other(format!(
                        "line {} of the witness file {} goes back to size {} after {}: the file was edited",
                        self.line_no, self.path, cp.size, self.last_size
                    )));
                }
                Ok((cp, _)) => {
                    self.last_size = cp.size;
                    return Some(cp);
                }
                // A line cut short by a crash mid-write is ended by the next
                // write: it holds nothing, and is no finding.
                Err(_) if !line.trim_end().ends_with('}') => {}
                Err(e) => findings.add(Finding::other(format!(
                    "line {} of the witness file {} is not a checkpoint ({e}): the file was edited",
                    self.line_no, self.path
                ))),
            }
        }
    }
}
