//! Roles of the service's users (API.md, "Roles and scope").

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A force's records management system: posts closures and monthly volumes.
    ForceSystem,
    /// A police officer: reads its force's closures; decides them from inspector up.
    Officer,
    /// Reads closures, the audit log, exports and reports (own force, or national).
    Auditor,
    /// Manages users and reads the audit log; cannot sign off.
    Admin,
    /// An outside monitor or witness: reads checkpoints, hash tiles and proofs
    /// only (needed when the log is not public).
    Witness,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::ForceSystem,
        Role::Officer,
        Role::Auditor,
        Role::Admin,
        Role::Witness,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ForceSystem => "force_system",
            Role::Officer => "officer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Witness => "witness",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether a user of this role must, may or must not belong to a force.
    pub fn force_rule(self) -> Requirement {
        match self {
            Role::ForceSystem | Role::Officer => Requirement::Required,
            Role::Auditor => Requirement::Optional,
            Role::Admin | Role::Witness => Requirement::Forbidden,
        }
    }

    /// `rank` and `officer_id` are required for officers and null otherwise.
    pub fn officer_fields_rule(self) -> Requirement {
        match self {
            Role::Officer => Requirement::Required,
            _ => Requirement::Forbidden,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Required,
    Optional,
    Forbidden,
}
