//! Who may do what: the contract's table (API.md, "Roles and scope"; DOMAIN.md,
//! ranks) as one function that every use case calls, so that no face and no
//! use case writes a rule of its own.

use super::officers::same_officer;
use super::ranks::Rank;
use super::roles::Role;

/// The signed-in user, as the rules see it (its rank now is the one that counts).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub user_id: &'a str,
    pub role: Role,
    pub rank: Option<Rank>,
    pub force_id: Option<&'a str>,
    pub officer_id: Option<&'a str>,
}

/// What the caller asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Post closures (single or batch).
    PostClosures,
    /// Set a monthly total of crimes finalised.
    SetVolumes,
    /// Read closures and cases (within a scope: see `access::closure_scope`).
    ReadClosures,
    /// Approve or reject a closure.
    Decide,
    /// Reopen a decided closure.
    Reopen,
    /// List audit events, checkpoints and proofs.
    ReadAuditLog,
    /// Run `/audit/verify`.
    VerifyLog,
    /// Read the checkpoint and hash tiles under `/log` when the log is not public.
    ReadTiles,
    /// Read entry bundles under `/log` (the events themselves: personal data).
    ReadEntries,
    /// CSV extracts, trend tables and outlier reports.
    Export,
    /// Create, list, read and change users.
    ManageUsers,
    /// Subscribe to the force's changes (webhooks), see and manage the subscriptions.
    ManageWebhooks,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::PostClosures,
        Action::SetVolumes,
        Action::ReadClosures,
        Action::Decide,
        Action::Reopen,
        Action::ReadAuditLog,
        Action::VerifyLog,
        Action::ReadTiles,
        Action::ReadEntries,
        Action::Export,
        Action::ManageUsers,
        Action::ManageWebhooks,
    ];
}

/// What the action is done to.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// Nothing in particular yet: the check before anything is read, so that a
    /// caller who may never do this learns nothing of what exists.
    Any,
    /// Something of one force: the force a closure or a total is posted for.
    Force(&'a str),
    /// One stored closure, with the people it names.
    Closure(Parties<'a>),
}

/// The people a closure names: who proposed it and which account posted it.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    pub force_id: &'a str,
    pub proposer_officer_id: &'a str,
    pub posted_by_user_id: &'a str,
}

/// A rule that refuses, with its words and its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    PostersOnly,
    OwnForceOnly,
    VolumesByForceSystem,
    ReadersOfClosures,
    OfficersOnly,
    RankBelowInspector,
    ProposerCannotDecide,
    PosterCannotDecide,
    AuditLogReaders,
    VerifiedByAuditorsAndAdmins,
    TileReaders,
    NationalAuditorsOnly,
    AuditorsOnly,
    AdminsOnly,
    WebhooksByForceSystem,
}

impl Rule {
    pub const ALL: [Rule; 15] = [
        Rule::PostersOnly,
        Rule::OwnForceOnly,
        Rule::VolumesByForceSystem,
        Rule::ReadersOfClosures,
        Rule::OfficersOnly,
        Rule::RankBelowInspector,
        Rule::ProposerCannotDecide,
        Rule::PosterCannotDecide,
        Rule::AuditLogReaders,
        Rule::VerifiedByAuditorsAndAdmins,
        Rule::TileReaders,
        Rule::NationalAuditorsOnly,
        Rule::AuditorsOnly,
        Rule::AdminsOnly,
        Rule::WebhooksByForceSystem,
    ];

    /// The rule in words, as a 403's `detail` gives it.
    pub fn text(self) -> &'static str {
        match self {
            Rule::PostersOnly => "closures are posted by force systems and officers of the force",
            Rule::OwnForceOnly => "closures may be posted for the caller's own force only",
            Rule::VolumesByForceSystem => {
                "monthly volumes are set by the force system of the force"
            }
            Rule::ReadersOfClosures => "closures are read by force systems, officers and auditors",
            Rule::OfficersOnly => {
                "sign-off is taken by officers of the closure's force; this role cannot decide"
            }
            Rule::RankBelowInspector => "sign-off requires the rank of inspector or above",
            Rule::ProposerCannotDecide => {
                "separation of duties: an officer cannot decide on a closure it proposed"
            }
            Rule::PosterCannotDecide => {
                "separation of duties: a user cannot decide on a closure it posted"
            }
            Rule::AuditLogReaders => "the audit log is read by auditors and admins",
            Rule::VerifiedByAuditorsAndAdmins => "the audit log is verified by auditors and admins",
            Rule::TileReaders => {
                "this log's checkpoint and tiles are read by auditors, admins and witnesses"
            }
            Rule::NationalAuditorsOnly => {
                "the log's entries hold personal data and are read by national auditors only"
            }
            Rule::AuditorsOnly => "exports and reports are for auditors",
            Rule::AdminsOnly => "only an admin may manage users",
            Rule::WebhooksByForceSystem => {
                "webhooks are subscribed to and managed by the force system of the force"
            }
        }
    }

    /// A stable snake_case name for the rule.
    pub fn code(self) -> &'static str {
        match self {
            Rule::PostersOnly => "posting_role_required",
            Rule::OwnForceOnly => "other_force",
            Rule::VolumesByForceSystem => "volumes_by_force_system",
            Rule::ReadersOfClosures => "closure_reader_role_required",
            Rule::OfficersOnly => "officer_role_required",
            Rule::RankBelowInspector => "rank_below_inspector",
            Rule::ProposerCannotDecide => "proposer_cannot_decide",
            Rule::PosterCannotDecide => "poster_cannot_decide",
            Rule::AuditLogReaders => "audit_log_reader_role_required",
            Rule::VerifiedByAuditorsAndAdmins => "verifier_role_required",
            Rule::TileReaders => "tile_reader_role_required",
            Rule::NationalAuditorsOnly => "national_auditor_required",
            Rule::AuditorsOnly => "auditor_role_required",
            Rule::AdminsOnly => "admin_role_required",
            Rule::WebhooksByForceSystem => "force_system_required",
        }
    }
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// 403: the rule that forbids it.
    Forbidden(Rule),
    /// 404: the thing is outside the caller's force, so for the caller it does not exist.
    NotFound,
}

fn forbid_unless(ok: bool, rule: Rule) -> Verdict {
    if ok {
        Verdict::Allow
    } else {
        Verdict::Forbidden(rule)
    }
}

/// Whether `caller` may do `action` to `resource`.
pub fn authorize(caller: &Caller, action: Action, resource: Resource) -> Verdict {
    use Role::*;
    let role = caller.role;
    match action {
        Action::PostClosures => {
            if !matches!(role, ForceSystem | Officer) || caller.force_id.is_none() {
                return Verdict::Forbidden(Rule::PostersOnly);
            }
            match resource {
                Resource::Force(f) => forbid_unless(caller.force_id == Some(f), Rule::OwnForceOnly),
                Resource::Closure(p) => {
                    forbid_unless(caller.force_id == Some(p.force_id), Rule::OwnForceOnly)
                }
                Resource::Any => Verdict::Allow,
            }
        }
        Action::SetVolumes => {
            let own = match resource {
                Resource::Force(f) => caller.force_id == Some(f),
                Resource::Closure(p) => caller.force_id == Some(p.force_id),
                Resource::Any => caller.force_id.is_some(),
            };
            forbid_unless(role == ForceSystem && own, Rule::VolumesByForceSystem)
        }
        Action::ReadClosures => {
            let reads = match role {
                Admin | Witness => false,
                Auditor => true,
                ForceSystem | Officer => caller.force_id.is_some(),
            };
            if !reads {
                return Verdict::Forbidden(Rule::ReadersOfClosures);
            }
            match resource {
                Resource::Closure(Parties { force_id, .. }) | Resource::Force(force_id)
                    if caller.force_id.is_some_and(|mine| mine != force_id) =>
                {
                    Verdict::NotFound
                }
                _ => Verdict::Allow,
            }
        }
        Action::Decide | Action::Reopen => {
            if role != Officer {
                return Verdict::Forbidden(Rule::OfficersOnly);
            }
            let parties = match resource {
                Resource::Any => return Verdict::Allow,
                Resource::Force(force_id) => Parties {
                    force_id,
                    proposer_officer_id: "",
                    posted_by_user_id: "",
                },
                Resource::Closure(p) => p,
            };
            if caller.force_id != Some(parties.force_id) {
                return Verdict::NotFound;
            }
            if !caller.rank.is_some_and(Rank::may_sign_off) {
                return Verdict::Forbidden(Rule::RankBelowInspector);
            }
            if action == Action::Reopen || matches!(resource, Resource::Force(_)) {
                return Verdict::Allow;
            }
            if caller
                .officer_id
                .is_some_and(|me| same_officer(me, parties.proposer_officer_id))
            {
                return Verdict::Forbidden(Rule::ProposerCannotDecide);
            }
            forbid_unless(
                caller.user_id != parties.posted_by_user_id,
                Rule::PosterCannotDecide,
            )
        }
        Action::ReadAuditLog => {
            forbid_unless(matches!(role, Auditor | Admin), Rule::AuditLogReaders)
        }
        Action::VerifyLog => forbid_unless(
            matches!(role, Auditor | Admin),
            Rule::VerifiedByAuditorsAndAdmins,
        ),
        Action::ReadTiles => {
            forbid_unless(matches!(role, Auditor | Admin | Witness), Rule::TileReaders)
        }
        Action::ReadEntries => forbid_unless(
            role == Auditor && caller.force_id.is_none(),
            Rule::NationalAuditorsOnly,
        ),
        Action::Export => forbid_unless(role == Auditor, Rule::AuditorsOnly),
        Action::ManageUsers => forbid_unless(role == Admin, Rule::AdminsOnly),
        Action::ManageWebhooks => {
            if role != ForceSystem || caller.force_id.is_none() {
                return Verdict::Forbidden(Rule::WebhooksByForceSystem);
            }
            match resource {
                Resource::Force(f) | Resource::Closure(Parties { force_id: f, .. })
                    if caller.force_id != Some(f) =>
                {
                    Verdict::NotFound
                }
                _ => Verdict::Allow,
            }
        }
    }
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
