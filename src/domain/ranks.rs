//! Police ranks of England and Wales with their ordinals (DOMAIN.md, "Ranks").

use super::validation::{Errors, FieldRule, Given, Need};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The ordinal from which a rank may sign off a closure: inspector.
pub const SIGN_OFF_MIN_ORDINAL: u8 = 3;

/// A rank as held by an account. Metropolitan and City of London equivalents are
/// kept as their own names so that what the force posted is what is stored, and
/// map to the ordinal of their counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    Constable,
    Sergeant,
    Inspector,
    ChiefInspector,
    Superintendent,
    ChiefSuperintendent,
    AssistantChiefConstable,
    Commander,
    DeputyChiefConstable,
    DeputyAssistantCommissioner,
    AssistantCommissioner,
    ChiefConstable,
    DeputyCommissioner,
    Commissioner,
}

impl Rank {
    pub const ALL: [Rank; 14] = [
        Rank::Constable,
        Rank::Sergeant,
        Rank::Inspector,
        Rank::ChiefInspector,
        Rank::Superintendent,
        Rank::ChiefSuperintendent,
        Rank::AssistantChiefConstable,
        Rank::Commander,
        Rank::DeputyChiefConstable,
        Rank::DeputyAssistantCommissioner,
        Rank::AssistantCommissioner,
        Rank::ChiefConstable,
        Rank::DeputyCommissioner,
        Rank::Commissioner,
    ];

    /// The ordinal of DOMAIN.md: 1 (constable) to 9 (chief constable).
    pub fn ordinal(self) -> u8 {
        match self {
            Rank::Constable => 1,
            Rank::Sergeant => 2,
            Rank::Inspector => 3,
            Rank::ChiefInspector => 4,
            Rank::Superintendent => 5,
            Rank::ChiefSuperintendent => 6,
            Rank::AssistantChiefConstable | Rank::Commander => 7,
            Rank::DeputyChiefConstable
            | Rank::DeputyAssistantCommissioner
            | Rank::AssistantCommissioner => 8,
            Rank::ChiefConstable | Rank::DeputyCommissioner | Rank::Commissioner => 9,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rank::Constable => "constable",
            Rank::Sergeant => "sergeant",
            Rank::Inspector => "inspector",
            Rank::ChiefInspector => "chief_inspector",
            Rank::Superintendent => "superintendent",
            Rank::ChiefSuperintendent => "chief_superintendent",
            Rank::AssistantChiefConstable => "assistant_chief_constable",
            Rank::Commander => "commander",
            Rank::DeputyChiefConstable => "deputy_chief_constable",
            Rank::DeputyAssistantCommissioner => "deputy_assistant_commissioner",
            Rank::AssistantCommissioner => "assistant_commissioner",
            Rank::ChiefConstable => "chief_constable",
            Rank::DeputyCommissioner => "deputy_commissioner",
            Rank::Commissioner => "commissioner",
        }
    }

    /// Inspector-level sign-off: ordinal 3 or more.
    pub fn may_sign_off(self) -> bool {
        self.ordinal() >= SIGN_OFF_MIN_ORDINAL
    }

    /// Parses a rank as a force system or an admin writes it. A "detective" prefix
    /// does not change a rank (DOMAIN.md), so `detective_inspector` is an inspector.
    pub fn parse(s: &str) -> Option<Rank> {
        let s = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let s = s.strip_prefix("detective_").unwrap_or(&s);
        Rank::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The list of accepted names, for error messages.
    pub fn names() -> String {
        Rank::ALL.map(Rank::as_str).join(", ")
    }
}

impl fmt::Display for Rank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rank {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Rank::parse(s).ok_or(())
    }
}

/// A rank by its name in DOMAIN.md.
pub fn known_rank(
    field: &str,
    given: Given<String>,
    need: Need,
    errs: &mut Errors,
) -> Option<Rank> {
    let wrong = || format!("must be one of: {}", Rank::names());
    match given {
        Given::Value(s) => {
            let r = Rank::parse(&s);
            if r.is_none() {
                errs.add(field, FieldRule::NotOneOf, wrong());
            }
            r
        }
        Given::OtherKind => {
            errs.add(field, FieldRule::NotOneOf, wrong());
            None
        }
        Given::Absent | Given::Null => {
            if need == Need::Required {
                errs.add(field, FieldRule::Required, "is required");
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_follow_domain_table() {
        assert_eq!(Rank::Constable.ordinal(), 1);
        assert_eq!(Rank::Sergeant.ordinal(), 2);
        assert_eq!(Rank::Inspector.ordinal(), 3);
        assert_eq!(Rank::Commander.ordinal(), 7);
        assert_eq!(Rank::AssistantCommissioner.ordinal(), 8);
        assert_eq!(Rank::Commissioner.ordinal(), 9);
    }

    #[test]
    fn sign_off_needs_inspector_or_above() {
        assert!(!Rank::Constable.may_sign_off());
        assert!(!Rank::Sergeant.may_sign_off());
        assert!(Rank::Inspector.may_sign_off());
        assert!(Rank::ChiefConstable.may_sign_off());
    }

    #[test]
    fn detective_prefix_does_not_change_rank() {
        assert_eq!(Rank::parse("detective_inspector"), Some(Rank::Inspector));
        assert_eq!(Rank::parse("Detective Sergeant"), Some(Rank::Sergeant));
        assert_eq!(Rank::parse("chief_inspector"), Some(Rank::ChiefInspector));
        assert_eq!(Rank::parse("general"), None);
    }

    #[test]
    fn names_round_trip() {
        for r in Rank::ALL {
            assert_eq!(Rank::parse(r.as_str()), Some(r));
        }
    }
}
