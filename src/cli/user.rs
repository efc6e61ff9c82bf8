//! `closure-audit user add`.

use super::UserAdd;
use closure_audit::audit::Actor;
use closure_audit::domain::users::parse_new_user;
use closure_audit::{Settings, app};
use std::io::BufRead;

pub fn add(settings: &Settings, a: UserAdd) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let body = serde_json::json!({
        "username": a.username,
        "password": password.trim_end_matches(['\r', '\n']),
        "display_name": a.display_name.clone().unwrap_or_else(|| a.username.clone()),
        "role": a.role,
        "rank": a.rank,
        "officer_id": a.officer_id,
        "force_id": a.force_id,
    });
    let new = parse_new_user(&body).map_err(|errs| {
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
