//! Who a user is allowed to be: the rules for creating and changing accounts
//! (API.md, "Auth and users").

use super::forces::is_known_force;
use super::officers::{OFFICER_ID_LEN, officer_id_problem};
use super::ranks::Rank;
use super::roles::{Requirement, Role};
use super::validation::{Errors, FieldError, Fields};
use serde_json::Value;

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

fn password(f: &Fields, errs: &mut Errors, required: bool) -> Option<String> {
    let Some(v) = f.get("password") else {
        if required {
            errs.add("password", "is required");
        }
        return None;
    };
    let Some(s) = v.as_str() else {
        errs.add("password", "must be a string");
        return None;
    };
    // As every text field (and sign-in reads the password as one).
    if s.contains('\0') {
        errs.add("password", "must not contain the NUL character (U+0000)");
        return None;
    }
    let n = s.chars().count();
    if n < PASSWORD_MIN_CHARS {
        errs.add(
            "password",
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        );
        None
    } else if n > PASSWORD_MAX_CHARS {
        errs.add(
            "password",
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        );
        None
    } else {
        Some(s.to_string())
    }
}

fn rank(f: &Fields, errs: &mut Errors) -> Option<Rank> {
    let v = f.get("rank")?;
    match v.as_str().and_then(Rank::parse) {
        Some(r) => Some(r),
        None => {
            errs.add("rank", format!("must be one of: {}", Rank::names()));
            None
        }
    }
}

/// Reads and checks the body of `POST /users`, reporting every failing field.
pub fn parse_new_user(body: &Value) -> Result<NewUser, Vec<FieldError>> {
    let f = Fields::root(body)?;
    let mut errs = Errors::default();
    let username = f.required_str("username", USERNAME_LEN, &mut errs);
    if let Some(u) = &username
        && !valid_username(u)
    {
        errs.add("username", "may hold only letters, digits and . _ - @");
    }
    let password = password(&f, &mut errs, true);
    let display_name = f.required_str("display_name", DISPLAY_NAME_LEN, &mut errs);
    let role = match f.get("role") {
        None => {
            errs.add("role", "is required");
            None
        }
        Some(v) => {
            let r = v.as_str().and_then(Role::parse);
            if r.is_none() {
                errs.add(
                    "role",
                    "must be one of: force_system, officer, auditor, admin",
                );
            }
            r
        }
    };
    let rank = rank(&f, &mut errs);
    let officer_id = f.optional_str("officer_id", OFFICER_ID_LEN, &mut errs);
    if let Some(problem) = officer_id.as_deref().and_then(officer_id_problem) {
        errs.add("officer_id", problem);
    }
    let force_id = f.optional_str("force_id", (1, 64), &mut errs);
    if let Some(id) = &force_id
        && !is_known_force(id)
    {
        errs.add("force_id", "is not a known force (see GET /api/v1/forces)");
    }
    if let Some(role) = role {
        match role.officer_fields_rule() {
            Requirement::Required => {
                if !f.has("rank") && !errs.has("rank") {
                    errs.add("rank", "is required for role officer");
                }
                if !f.has("officer_id") {
                    errs.add("officer_id", "is required for role officer");
                }
            }
            _ => {
                if f.has("rank") {
                    errs.add("rank", format!("must be null for role {role}"));
                }
                if f.has("officer_id") {
                    errs.add("officer_id", format!("must be null for role {role}"));
                }
            }
        }
        match role.force_rule() {
            Requirement::Required if !f.has("force_id") => {
                errs.add("force_id", format!("is required for role {role}"));
            }
            Requirement::Forbidden if f.has("force_id") => {
                errs.add("force_id", format!("must be null for role {role}"));
            }
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

/// Reads and checks the body of `PATCH /users/{id}` for a user of `role`.
pub fn parse_user_patch(body: &Value, role: Role) -> Result<UserPatch, Vec<FieldError>> {
    let f = Fields::root(body)?;
    let mut errs = Errors::default();
    let active = f.optional_bool("active", &mut errs);
    let display_name = f.optional_str("display_name", DISPLAY_NAME_LEN, &mut errs);
    let password = password(&f, &mut errs, false);
    let rank = rank(&f, &mut errs);
    match role.officer_fields_rule() {
        Requirement::Required if f.is_present("rank") && !f.has("rank") => {
            errs.add("rank", "an officer must hold a rank");
        }
        Requirement::Forbidden if f.has("rank") => {
            errs.add("rank", format!("must be null for role {role}"));
        }
        _ => {}
    }
    for key in ["active", "display_name", "password"] {
        if f.is_present(key) && !f.has(key) {
            errs.add(key, "must not be null");
        }
    }
    errs.finish(|| UserPatch {
        active,
        rank,
        display_name,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(r: Result<NewUser, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn officer_needs_rank_officer_id_and_force() {
        let body = json!({"username": "insp", "password": "correct horse battery", "display_name": "I", "role": "officer"});
        assert_eq!(
            fields(parse_new_user(&body)),
            ["rank", "officer_id", "force_id"]
        );
    }

    #[test]
    fn admin_has_no_force_or_rank() {
        let body = json!({"username": "a2", "password": "correct horse battery", "display_name": "A",
                          "role": "admin", "force_id": "kent", "rank": "inspector"});
        assert_eq!(fields(parse_new_user(&body)), ["rank", "force_id"]);
    }

    #[test]
    fn national_auditor_needs_no_force() {
        let body = json!({"username": "aud", "password": "correct horse battery", "display_name": "A", "role": "auditor"});
        let u = parse_new_user(&body).unwrap();
        assert_eq!(u.force_id, None);
        assert_eq!(u.role, Role::Auditor);
    }

    #[test]
    fn short_password_unknown_force_and_role_all_reported() {
        let body = json!({"username": "bad name", "password": "short", "display_name": "",
                          "role": "chief", "force_id": "gotham"});
        assert_eq!(
            fields(parse_new_user(&body)),
            ["username", "password", "display_name", "role", "force_id"]
        );
        let e = parse_new_user(
            &json!({"username": "x", "password": "short", "display_name": "d", "role": "admin"}),
        )
        .unwrap_err();
        assert_eq!(e[0].message, "must be at least 12 characters");
    }

    #[test]
    fn passwords_hold_no_nul_character() {
        let body = json!({"username": "a", "password": "correct horse\0battery", "display_name": "A", "role": "admin"});
        assert_eq!(fields(parse_new_user(&body)), ["password"]);
        assert!(
            parse_user_patch(&json!({"password": "correct horse\0battery"}), Role::Admin).is_err()
        );
    }

    #[test]
    fn patch_rules() {
        assert!(parse_user_patch(&json!({"rank": "inspector"}), Role::Auditor).is_err());
        assert!(parse_user_patch(&json!({"rank": null}), Role::Officer).is_err());
        let p = parse_user_patch(
            &json!({"rank": "detective_chief_inspector", "active": false}),
            Role::Officer,
        )
        .unwrap();
        assert_eq!(p.rank, Some(Rank::ChiefInspector));
        assert!(p.revokes_tokens());
        assert!(
            !parse_user_patch(&json!({"display_name": "New"}), Role::Admin)
                .unwrap()
                .revokes_tokens()
        );
    }
}
