//! Every role × rank × force relation × proposer and poster relation × action,
//! against the contract's table written out as data (API.md, "Roles and
//! scope"; DOMAIN.md: inspector and above sign off).

use super::*;

/// API.md's table: what each role may do at all.
const MAY: &[(Role, &[Action])] = &[
    (
        Role::ForceSystem,
        &[
            Action::PostClosures,
            Action::SetVolumes,
            Action::ReadClosures,
            Action::ManageWebhooks,
        ],
    ),
    (
        Role::Officer,
        &[
            Action::PostClosures,
            Action::ReadClosures,
            Action::Decide,
            Action::Reopen,
        ],
    ),
    (
        Role::Auditor,
        &[
            Action::ReadClosures,
            Action::ReadAuditLog,
            Action::VerifyLog,
            Action::ReadTiles,
            // A national auditor only: see `expected`.
            Action::ReadEntries,
            Action::Export,
        ],
    ),
    (
        Role::Admin,
        &[
            Action::ManageUsers,
            Action::ReadAuditLog,
            Action::VerifyLog,
            Action::ReadTiles,
        ],
    ),
    (Role::Witness, &[Action::ReadTiles]),
];

/// Actions on something of a force, which a caller of another force may not
/// touch; the ones it may not even see are answered 404.
const FORCE_BOUND: &[Action] = &[
    Action::PostClosures,
    Action::SetVolumes,
    Action::ReadClosures,
    Action::Decide,
    Action::Reopen,
    Action::ManageWebhooks,
];
const HIDDEN_WHEN_OTHER_FORCE: &[Action] = &[
    Action::ReadClosures,
    Action::Decide,
    Action::Reopen,
    Action::ManageWebhooks,
];

const ME: &str = "user-me";
const MY_OFFICER_ID: &str = "AB12";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Nothing,
    OwnForce,
    OtherForce,
    OwnClosure {
        proposed_by_me: bool,
        posted_by_me: bool,
    },
    OtherForcesClosure,
}

const TARGETS: [Target; 8] = [
    Target::Nothing,
    Target::OwnForce,
    Target::OtherForce,
    Target::OwnClosure {
        proposed_by_me: false,
        posted_by_me: false,
    },
    Target::OwnClosure {
        proposed_by_me: true,
        posted_by_me: false,
    },
    Target::OwnClosure {
        proposed_by_me: false,
        posted_by_me: true,
    },
    Target::OwnClosure {
        proposed_by_me: true,
        posted_by_me: true,
    },
    Target::OtherForcesClosure,
];

fn resource(t: Target) -> Resource<'static> {
    let closure = |force_id, proposer, poster| {
        Resource::Closure(Parties {
            force_id,
            proposer_officer_id: proposer,
            posted_by_user_id: poster,
        })
    };
    match t {
        Target::Nothing => Resource::Any,
        Target::OwnForce => Resource::Force("kent"),
        Target::OtherForce => Resource::Force("essex"),
        Target::OwnClosure {
            proposed_by_me,
            posted_by_me,
        } => closure(
            "kent",
            // Officer ids compare ignoring case.
            if proposed_by_me { "ab12" } else { "CD34" },
            if posted_by_me { ME } else { "user-other" },
        ),
        Target::OtherForcesClosure => closure("essex", "CD34", "user-other"),
    }
}

/// What the contract says, written from its words rather than from the code.
fn expected(
    role: Role,
    rank: Option<Rank>,
    force: Option<&str>,
    action: Action,
    t: Target,
) -> Verdict {
    let may_at_all = MAY
        .iter()
        .any(|(r, actions)| *r == role && actions.contains(&action));
    // A national auditor (no force) reads every force; anyone else acts for its own.
    let national = role == Role::Auditor && force.is_none();
    let other_force = matches!(t, Target::OtherForce | Target::OtherForcesClosure);
    let needs_force = FORCE_BOUND.contains(&action) && !national;
    // API.md: entry bundles "need a national auditor's token always".
    if action == Action::ReadEntries && !national {
        return Verdict::Forbidden(Rule::NationalAuditorsOnly);
    }
    if !may_at_all
        || (needs_force && force.is_none() && action != Action::Decide && action != Action::Reopen)
    {
        return Verdict::Forbidden(role_rule(action));
    }
    if needs_force && other_force {
        return if HIDDEN_WHEN_OTHER_FORCE.contains(&action) {
            Verdict::NotFound
        } else if action == Action::PostClosures {
            Verdict::Forbidden(Rule::OwnForceOnly)
        } else {
            Verdict::Forbidden(Rule::VolumesByForceSystem)
        };
    }
    if matches!(action, Action::Decide | Action::Reopen) && t != Target::Nothing {
        if force != Some("kent") {
            return Verdict::NotFound;
        }
        // DOMAIN.md: inspector (ordinal 3) and above sign off.
        if rank.is_none_or(|r| r.ordinal() < 3) {
            return Verdict::Forbidden(Rule::RankBelowInspector);
        }
        if action == Action::Decide
            && let Target::OwnClosure {
                proposed_by_me,
                posted_by_me,
            } = t
        {
            if proposed_by_me {
                return Verdict::Forbidden(Rule::ProposerCannotDecide);
            }
            if posted_by_me {
                return Verdict::Forbidden(Rule::PosterCannotDecide);
            }
        }
    }
    Verdict::Allow
}

/// The rule that names who may do `action` at all.
fn role_rule(action: Action) -> Rule {
    match action {
        Action::PostClosures => Rule::PostersOnly,
        Action::SetVolumes => Rule::VolumesByForceSystem,
        Action::ReadClosures => Rule::ReadersOfClosures,
        Action::Decide | Action::Reopen => Rule::OfficersOnly,
        Action::ReadAuditLog => Rule::AuditLogReaders,
        Action::VerifyLog => Rule::VerifiedByAuditorsAndAdmins,
        Action::ReadTiles => Rule::TileReaders,
        Action::ReadEntries => Rule::NationalAuditorsOnly,
        Action::Export => Rule::AuditorsOnly,
        Action::ManageUsers => Rule::AdminsOnly,
        Action::ManageWebhooks => Rule::WebhooksByForceSystem,
    }
}

#[test]
fn every_combination_matches_the_contract() {
    let ranks: Vec<Option<Rank>> = std::iter::once(None).chain(Rank::ALL.map(Some)).collect();
    let mut checked = 0;
    for role in Role::ALL {
        for rank in &ranks {
            for force in [None, Some("kent")] {
                let caller = Caller {
                    user_id: ME,
                    role,
                    rank: *rank,
                    force_id: force,
                    officer_id: Some(MY_OFFICER_ID),
                };
                for action in Action::ALL {
                    for t in TARGETS {
                        assert_eq!(
                            authorize(&caller, action, resource(t)),
                            expected(role, *rank, force, action, t),
                            "{role:?} {rank:?} of {force:?}: {action:?} on {t:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(
        checked,
        Role::ALL.len() * 15 * 2 * Action::ALL.len() * TARGETS.len()
    );
}

#[test]
fn every_rule_has_its_own_code_and_words() {
    let codes: std::collections::HashSet<_> = Rule::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), Rule::ALL.len());
    for r in Rule::ALL {
        assert!(r.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        assert!(!r.text().is_empty());
    }
}

#[test]
fn the_readme_lists_every_code() {
    let readme = include_str!("../../README.md");
    for r in Rule::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", r.code())),
            "README lacks {}",
            r.code()
        );
    }
}
