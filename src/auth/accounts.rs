//! Creating accounts, shared by the API, the first start and the command line.

use crate::audit::{self, Action, Actor, Event};
use crate::db::users::{self, UserRow};
use crate::db::{Conn, Db, now_micros};
use crate::domain::users::NewUser;
use crate::error::{AppError, AppResult};
use serde_json::json;

/// The row for a new, active user whose password is already hashed.
pub fn new_row(new: NewUser, password_hash: String) -> UserRow {
    let now = now_micros();
    UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        username: new.username,
        display_name: new.display_name,
        role: new.role.as_str().to_string(),
        rank: new.rank.map(|r| r.as_str().to_string()),
        officer_id: new.officer_id,
        force_id: new.force_id,
        active: true,
        password_hash,
        token_generation: 0,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts the user and its `user.created` event in the caller's transaction.
pub fn insert(
    c: &mut Conn,
    row: &UserRow,
    actor: &Actor,
    request_id: Option<&str>,
) -> AppResult<()> {
    users::insert(c, row)?;
    let details = json!({ "user": crate::api::users::UserView::from(row) });
    let ev = Event::new(Action::UserCreated, actor, request_id, details);
    audit::append(c, ev.force(row.force_id.as_deref()))?;
    Ok(())
}

/// Creates a user from the command line (blocking).
pub fn create_blocking(db: &Db, new: NewUser, actor: &Actor) -> AppResult<UserRow> {
    let hash = super::password::hash(&new.password)?;
    let row = new_row(new, hash);
    db.write_blocking(|c| insert(c, &row, actor, None))?;
    Ok(row)
}

/// First start: when the database holds no user, create `admin` with the given
/// password, or a random one printed once to the log. Blocking.
pub fn ensure_admin(db: &Db, password: Option<&str>) -> Result<(), String> {
    if db.read_blocking(users::count).map_err(|e| e.to_string())? > 0 {
        return Ok(());
    }
    let (password, generated) = match password.filter(|p| !p.is_empty()) {
        Some(p) => {
            if p.chars().count() < crate::domain::users::PASSWORD_MIN_CHARS {
                tracing::warn!(
                    "CLOSURE_AUDIT_ADMIN_PASSWORD is shorter than {} characters: accepted for the first \
                     start, but change it",
                    crate::domain::users::PASSWORD_MIN_CHARS
                );
            }
            (p.to_string(), false)
        }
        None => (super::secret::hex_random(12), true),
    };
    let hash = super::password::hash(&password).map_err(|e| e.to_string())?;
    let new = NewUser {
        username: "admin".into(),
        password: String::new(),
        display_name: "Administrator".into(),
        role: crate::domain::Role::Admin,
        rank: None,
        officer_id: None,
        force_id: None,
    };
    let row = new_row(new, hash);
    let actor = Actor::system("first-start");
    let created = db.write_blocking(|c| {
        // Another instance may have won the race to the first start.
        if users::count(c)? > 0 {
            return Ok(false);
        }
        insert(c, &row, &actor, None).map(|_| true)
    });
    match created {
        Ok(true) if generated => {
            tracing::warn!(
                "first start: created user \"admin\" with password {password} (shown once; change it)"
            );
        }
        Ok(true) => tracing::info!(
            "first start: created user \"admin\" with the password of CLOSURE_AUDIT_ADMIN_PASSWORD"
        ),
        Ok(false) | Err(AppError::Conflict(_)) => {}
        Err(e) => return Err(format!("cannot create the first admin: {e}")),
    }
    Ok(())
}
