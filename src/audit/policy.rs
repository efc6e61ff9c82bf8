//! Trust policies (C2SP tlog-policy): the logs, the witnesses and the quorum
//! of cosignatures a checkpoint needs. The witness client reads the witnesses
//! and their URLs from one; the offline verifier and receipts check a quorum.

use super::checkpoint::TrustedKey;
use super::cosignature::{CosignerKey, Note};
use std::collections::HashSet;

/// Limits on what a policy may define (the spec recommends at least 32 of each).
pub const MAX_ENTRIES: usize = 64;

#[derive(Debug, Clone)]
pub struct PolicyLog {
    pub key: TrustedKey,
    pub url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PolicyWitness {
    /// The name in the policy (not the key's name).
    pub name: String,
    pub key: CosignerKey,
    /// Its submission prefix (tlog-witness), when this policy is used to reach it.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub logs: Vec<PolicyLog>,
    pub witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None`: `quorum none`.
    quorum: Option<Member>,
    quorum_name: String,
}

fn fields(line: &str) -> Vec<&str> {
    line.split([' ', '\t']).filter(|f| !f.is_empty()).collect()
}

impl Policy {
    /// Reads a policy file; the error names the line.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
            quorum_name: String::new(),
        };
        let mut names: HashSet<String> = HashSet::new();
        let mut keys: HashSet<[u8; 32]> = HashSet::new();
        let mut quorum_seen = false;
        for (i, raw) in text.split('\n').enumerate() {
            let at = |e: String| format!("policy line {}: {e}", i + 1);
            if raw
                .bytes()
                .any(|b| b < 0x20 && b != b'\t' && b != b'\r' || b == 0x7f)
            {
                return Err(at("a control character".into()));
            }
            let line = raw.trim_end_matches('\r').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f = fields(line);
            if p.logs.len() + p.witnesses.len() + p.groups.len() >= MAX_ENTRIES {
                return Err(at(format!("more than {MAX_ENTRIES} entries")));
            }
            match f[0] {
                "log" if f.len() == 2 || f.len() == 3 => {
                    let key = TrustedKey::parse_verifier_key(f[1]).map_err(at)?;
                    if !keys.insert(*key.key.as_bytes()) {
                        return Err(at("a duplicate key".into()));
                    }
                    p.logs.push(PolicyLog {
                        key,
                        url: f.get(2).map(|u| u.to_string()),
                    });
                }
                "witness" if f.len() == 3 || f.len() == 4 => {
                    let name = f[1].to_string();
                    let key = CosignerKey::parse(f[2]).map_err(at)?;
                    if name == "none" || !names.insert(name.clone()) {
                        return Err(at(format!("the name {name} is taken")));
                    }
                    if !keys.insert(*key.key.as_bytes()) {
                        return Err(at("a duplicate key".into()));
                    }
                    p.witnesses.push(PolicyWitness {
                        name,
                        key,
                        url: f.get(3).map(|u| u.trim_end_matches('/').to_string()),
                    });
                }
                "group" if f.len() >= 4 => {
                    let name = f[1].to_string();
                    let mut members = Vec::new();
                    for m in &f[3..] {
                        let member = p
                            .member(m)
                            .ok_or_else(|| at(format!("{m} is not defined above")))?;
                        if members.contains(&member) {
                            return Err(at(format!("{m} is listed twice")));
                        }
                        members.push(member);
                    }
                    let n = members.len();
                    let threshold = match f[2] {
                        "all" => n,
                        "any" => 1,
                        k => k
                            .parse::<usize>()
                            .ok()
                            .filter(|k| (1..=n).contains(k) && !f[2].starts_with('0'))
                            .ok_or_else(|| at(format!("the threshold {k} is not 1 to {n}")))?,
                    };
                    if name == "none" || !names.insert(name.clone()) {
                        return Err(at(format!("the name {name} is taken")));
                    }
                    p.groups.push(Group {
                        name,
                        threshold,
                        members,
                    });
                }
                "quorum" if f.len() == 2 => {
                    if quorum_seen {
                        return Err(at("a second quorum line".into()));
                    }
                    quorum_seen = true;
                    p.quorum_name = f[1].to_string();
                    p.quorum = if f[1] == "none" {
                        None
                    } else {
                        Some(
                            p.member(f[1])
                                .ok_or_else(|| at(format!("{} is not defined above", f[1])))?,
                        )
                    };
                }
                _ => return Err(at(format!("not a policy line: {line}"))),
            }
        }
        if !quorum_seen {
            return Err("a policy has exactly one quorum line".into());
        }
        Ok(p)
    }

    fn member(&self, name: &str) -> Option<Member> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(Member::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Member::Group)
    }

    /// The quorum's name (`none` when no cosignature is needed).
    pub fn quorum_name(&self) -> &str {
        &self.quorum_name
    }

    /// Whether the witnesses for which `cosigned(i)` holds make the quorum.
    pub fn quorum_met(&self, cosigned: &dyn Fn(usize) -> bool) -> bool {
        fn holds(p: &Policy, m: Member, cosigned: &dyn Fn(usize) -> bool) -> bool {
            match m {
                Member::Witness(i) => cosigned(i),
                Member::Group(g) => {
                    let group = &p.groups[g];
                    group
                        .members
                        .iter()
                        .filter(|&&m| holds(p, m, cosigned))
                        .count()
                        >= group.threshold
                }
            }
        }
        self.quorum.is_none_or(|q| holds(self, q, cosigned))
    }

    /// The witnesses whose valid cosignature `note` carries, with their
    /// timestamps (index into [`Policy::witnesses`]).
    pub fn cosigners_of(&self, note: &Note) -> Vec<(usize, u64)> {
        self.witnesses
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                note.signatures
                    .iter()
                    .find_map(|s| w.key.verify(&note.body, s))
                    .map(|ts| (i, ts))
            })
            .collect()
    }

    /// Whether `note` carries the quorum of cosignatures.
    pub fn note_meets_quorum(&self, note: &Note) -> bool {
        let signed: Vec<usize> = self.cosigners_of(note).iter().map(|c| c.0).collect();
        self.quorum_met(&|i| signed.contains(&i))
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
