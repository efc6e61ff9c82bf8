//! `closure-audit user add`.

use super::UserAdd;
use closure_audit::audit::Actor;
use closure_audit::domain::Given;
use closure_audit::domain::users::{NewUserDraft, validate_new_user};
use closure_audit::{Settings, app};
use std::io::BufRead;

pub fn add(settings: &Settings, a: UserAdd) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let text = |s: String| Given::Value(s);
    let draft = NewUserDraft {
        username: text(a.username.clone()),
        password: text(password.trim_end_matches(['\r', '\n']).to_string()),
        display_name: text(a.display_name.clone().unwrap_or_else(|| a.username.clone())),
        role: text(a.role.clone()),
        rank: Given::from_option(a.rank.clone()),
        officer_id: Given::from_option(a.officer_id.clone()),
        force_id: Given::from_option(a.force_id.clone()),
    };
    let new = validate_new_user(draft).map_err(|errs| {
        errs.iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let db = app::open_database(settings)?;
    let row =
        closure_audit::service::users::create_blocking(&db, new, &Actor::system("command-line"))
            .map_err(|e| e.to_string())?;
    println!(
        "created user {} ({}) with id {}",
        row.username, row.role, row.id
    );
    Ok(())
}
