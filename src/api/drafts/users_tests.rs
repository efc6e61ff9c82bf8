//! User bodies read and judged.

use super::{new_user, user_patch};
use crate::domain::users::{NewUser, UserPatch, validate_new_user, validate_user_patch};
use crate::domain::{FieldError, Rank, Role};
use serde_json::{Value, json};

fn parse_new_user(body: &Value) -> Result<NewUser, Vec<FieldError>> {
    validate_new_user(new_user(body)?)
}

fn parse_user_patch(body: &Value, role: Role) -> Result<UserPatch, Vec<FieldError>> {
    validate_user_patch(user_patch(body)?, role)
}

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
    assert!(parse_user_patch(&json!({"password": "correct horse\0battery"}), Role::Admin).is_err());
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
