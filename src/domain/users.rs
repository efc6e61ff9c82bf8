//! Who a user is allowed to be: the rules for creating and changing accounts
//! (API.md, "Auth and users").

use super::forces::known_force;
use super::officers::{OFFICER_ID_LEN, officer_id_problem};
use super::ranks::Rank;
use super::ranks::known_rank;
use super::roles::{Requirement, Role};
use super::validation::{Errors, FieldError, FieldRule, Given, Need};

pub const PASSWORD_MIN_CHARS: usize = 12;
/// Long enough for any passphrase, short enough that hashing it is no attack.
pub const PASSWORD_MAX_CHARS: usize = 1024;
const USERNAME_LEN: (usize, usize) = (1, 64);
const DISPLAY_NAME_LEN: (usize, usize) = (1, 200);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub display_name: String,
    pub role: Role,
    pub rank: Option<Rank>,
    pub officer_id: Option<String>,
    pub force_id: Option<String>,
}

/// The changes a `PATCH /users/{id}` asks for; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub active: Option<bool>,
    pub rank: Option<Rank>,
    pub display_name: Option<String>,
    pub password: Option<String>,
}

impl UserPatch {
    /// A new password or deactivation ends every token issued before it.
    pub fn revokes_tokens(&self) -> bool {
        self.password.is_some() || self.active == Some(false)
    }
}

/// A user as the service knows it (the password hash stays in the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub rank: Option<Rank>,
    pub officer_id: Option<String>,
    pub force_id: Option<String>,
    pub active: bool,
    /// Microseconds since the epoch.
    pub created_at: i64,
}

/// A user name: letters, digits and `. _ - @`, so that it is safe in logs and CSV.
pub fn valid_username(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// The body of `POST /users` (or `closure-audit user add`) as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUserDraft {
    pub username: Given<String>,
    pub password: Given<String>,
    pub display_name: Given<String>,
    pub role: Given<String>,
    pub rank: Given<String>,
    pub officer_id: Given<String>,
    pub force_id: Given<String>,
}

/// The body of `PATCH /users/{id}` as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatchDraft {
    pub active: Given<bool>,
    pub display_name: Given<String>,
    pub password: Given<String>,
    pub rank: Given<String>,
}

fn password(given: Given<String>, need: Need, errs: &mut Errors) -> Option<String> {
    let s = errs.text("password", given, (0, usize::MAX), need)?;
    let n = s.chars().count();
    if n < PASSWORD_MIN_CHARS {
        errs.add(
            "password",
            FieldRule::Length,
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        );
        None
    } else if n > PASSWORD_MAX_CHARS {
        errs.add(
            "password",
            FieldRule::Length,
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        );
        None
    } else {
        Some(s)
    }
}

/// A sign-in as given: a user name and a password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInDraft {
    pub username: Given<String>,
    pub password: Given<String>,
}

/// The user name and password of a sign-in, both required (any user name that
/// could exist, any password that could be set).
pub fn validate_sign_in(d: SignInDraft) -> Result<(String, String), Vec<FieldError>> {
    let mut errs = Errors::default();
    let username = errs.text("username", d.username, (1, 256), Need::Required);
    let password = errs.text(
        "password",
        d.password,
        (1, PASSWORD_MAX_CHARS),
        Need::Required,
    );
    errs.finish(|| (username.unwrap_or_default(), password.unwrap_or_default()))
}

/// Checks the body of `POST /users`, reporting every failing field.
pub fn validate_new_user(d: NewUserDraft) -> Result<NewUser, Vec<FieldError>> {
    let mut errs = Errors::default();
    let username = errs.text("username", d.username, USERNAME_LEN, Need::Required);
    if let Some(u) = &username
        && !valid_username(u)
    {
        errs.add(
            "username",
            FieldRule::UsernameCharacters,
            "may hold only letters, digits and . _ - @",
        );
    }
    let password = password(d.password, Need::Required, &mut errs);
    let display_name = errs.text(
        "display_name",
        d.display_name,
        DISPLAY_NAME_LEN,
        Need::Required,
    );
    let role = match d.role {
        Given::Absent | Given::Null => {
            errs.add("role", FieldRule::Required, "is required");
            None
        }
        given => {
            let r = given.value().and_then(|s| Role::parse(s));
            if r.is_none() {
                errs.add(
                    "role",
                    FieldRule::NotOneOf,
                    "must be one of: force_system, officer, auditor, admin, witness",
                );
            }
            r
        }
    };
    let (rank_given, officer_given, force_given) = (
        d.rank.is_given(),
        d.officer_id.is_given(),
        d.force_id.is_given(),
    );
    let rank = known_rank("rank", d.rank, Need::Optional, &mut errs);
    let officer_id = errs.text("officer_id", d.officer_id, OFFICER_ID_LEN, Need::Optional);
    if let Some(problem) = officer_id.as_deref().and_then(officer_id_problem) {
        errs.add("officer_id", FieldRule::OfficerIdFormat, problem);
    }
    let force_id = known_force("force_id", d.force_id, Need::Optional, &mut errs);
    if let Some(role) = role {
        let required = |errs: &mut Errors, field: &str| {
            errs.add(
                field,
                FieldRule::RequiredForRole,
                format!("is required for role {role}"),
            );
        };
        let forbidden = |errs: &mut Errors, field: &str| {
            errs.add(
                field,
                FieldRule::NotForRole,
                format!("must be null for role {role}"),
            );
        };
        match role.officer_fields_rule() {
            Requirement::Required => {
                if !rank_given && !errs.has("rank") {
                    required(&mut errs, "rank");
                }
                if !officer_given {
                    required(&mut errs, "officer_id");
                }
            }
            _ => {
                if rank_given {
                    forbidden(&mut errs, "rank");
                }
                if officer_given {
                    forbidden(&mut errs, "officer_id");
                }
            }
        }
        match role.force_rule() {
            Requirement::Required if !force_given => required(&mut errs, "force_id"),
            Requirement::Forbidden if force_given => forbidden(&mut errs, "force_id"),
            _ => {}
        }
    }
    errs.finish(|| NewUser {
        username: username.unwrap_or_default(),
        password: password.unwrap_or_default(),
        display_name: display_name.unwrap_or_default(),
        role: role.expect("checked"),
        rank,
        officer_id,
        force_id,
    })
}

/// Checks the body of `PATCH /users/{id}` for a user of `role`.
pub fn validate_user_patch(d: UserPatchDraft, role: Role) -> Result<UserPatch, Vec<FieldError>> {
    let mut errs = Errors::default();
    let nulled: Vec<&str> = [
        ("active", d.active.is_present() && !d.active.is_given()),
        (
            "display_name",
            d.display_name.is_present() && !d.display_name.is_given(),
        ),
        (
            "password",
            d.password.is_present() && !d.password.is_given(),
        ),
    ]
    .into_iter()
    .filter_map(|(k, nulled)| nulled.then_some(k))
    .collect();
    let (rank_present, rank_given) = (d.rank.is_present(), d.rank.is_given());
    let active = errs.flag("active", d.active, Need::Optional);
    let display_name = errs.text(
        "display_name",
        d.display_name,
        DISPLAY_NAME_LEN,
        Need::Optional,
    );
    let password = password(d.password, Need::Optional, &mut errs);
    let rank = known_rank("rank", d.rank, Need::Optional, &mut errs);
    match role.officer_fields_rule() {
        Requirement::Required if rank_present && !rank_given => {
            errs.add(
                "rank",
                FieldRule::RequiredForRole,
                "an officer must hold a rank",
            );
        }
        Requirement::Forbidden if rank_given => {
            errs.add(
                "rank",
                FieldRule::NotForRole,
                format!("must be null for role {role}"),
            );
        }
        _ => {}
    }
    for key in nulled {
        errs.add(key, FieldRule::NotNull, "must not be null");
    }
    errs.finish(|| UserPatch {
        active,
        rank,
        display_name,
        password,
    })
}
