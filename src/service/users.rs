//! Accounts: creating, listing, reading and changing users (admins only), the
//! caller's own user, and the first admin of a new database.

use super::{Context, Parsed};
use crate::audit::{self, Action, Actor, Event};
use crate::auth::{AuthUser, password};
use crate::db::users::{self, UserRow};
use crate::db::{Conn, Db, now_micros, rfc3339};
use crate::domain::authorize::{self, Resource};
use crate::domain::conflicts::Clash;
use crate::domain::users::{
    NewUser, NewUserDraft, PASSWORD_MIN_CHARS, User, UserPatch, UserPatchDraft, validate_new_user,
    validate_user_patch,
};
use crate::domain::{Rank, Role};
use crate::error::{AppError, AppResult};
use crate::service::permit::permit;
use serde_json::{Map, Value, json};

fn no_such_user() -> AppError {
    AppError::NotFound("no such user".into())
}

fn admin_only(caller: &AuthUser) -> AppResult<()> {
    permit(caller, authorize::Action::ManageUsers, Resource::Any)
}

/// The user of a stored row.
pub fn user_of(r: &UserRow) -> User {
    User {
        id: r.id.clone(),
        username: r.username.clone(),
        display_name: r.display_name.clone(),
        role: Role::parse(&r.role).unwrap_or(Role::Auditor),
        rank: r.rank.as_deref().and_then(Rank::parse),
        officer_id: r.officer_id.clone(),
        force_id: r.force_id.clone(),
        active: r.active,
        created_at: r.created_at,
    }
}

/// The user as an event records it: the fields the API returns.
fn recorded(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "rank": u.rank,
        "officer_id": u.officer_id,
        "force_id": u.force_id,
        "active": u.active,
        "created_at": rfc3339(u.created_at),
    })
}

/// The row for a new, active user whose password is already hashed.
fn new_row(new: NewUser, password_hash: String) -> UserRow {
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
fn insert(c: &mut Conn, row: &UserRow, actor: &Actor, request_id: Option<&str>) -> AppResult<()> {
    users::insert(c, row)?;
    let details = json!({ "user": recorded(&user_of(row)) });
    let ev = Event::new(Action::UserCreated, actor, request_id, details);
    audit::append(c, ev.force(row.force_id.as_deref()))?;
    Ok(())
}

/// `POST /users`: a new user, with its event. A taken user name is a 409.
pub async fn create(
    ctx: &Context,
    caller: &AuthUser,
    draft: Parsed<NewUserDraft>,
) -> AppResult<User> {
    admin_only(caller)?;
    let new = validate_new_user(draft?)?;
    let pw = new.password.clone();
    let password_hash = ctx.hashers.run(move || password::hash(&pw)).await??;
    let row = new_row(new, password_hash);
    let user = user_of(&row);
    let actor = caller.actor();
    let request_id = caller.request_id.clone();
    ctx.db
        .write(move |c| insert(c, &row, &actor, Some(&request_id)))
        .await?;
    Ok(user)
}

/// `GET /users`: at most `limit` users in id order after the id `after`
/// (`page` is `(after, limit)`).
pub async fn list(
    ctx: &Context,
    caller: &AuthUser,
    page: Parsed<(Option<String>, i64)>,
) -> AppResult<Vec<User>> {
    admin_only(caller)?;
    let (after, limit) = page?;
    let rows = ctx
        .db
        .read(move |c| users::page(c, after.as_deref(), limit))
        .await?;
    Ok(rows.iter().map(user_of).collect())
}

/// `GET /users/{id}`.
pub async fn get(ctx: &Context, caller: &AuthUser, id: Parsed<String>) -> AppResult<User> {
    admin_only(caller)?;
    let id = id?;
    let row = ctx.db.read(move |c| users::find(c, &id)).await?;
    row.map(|r| user_of(&r)).ok_or_else(no_such_user)
}

/// `GET /auth/me`: the caller's own user, as stored now.
pub async fn me(ctx: &Context, caller: &AuthUser) -> AppResult<User> {
    let id = caller.id.clone();
    let row = ctx.db.read(move |c| users::find(c, &id)).await?;
    row.map(|r| user_of(&r))
        .ok_or_else(|| AppError::Unauthorized("the user does not exist".into()))
}

/// `PATCH /users/{id}`: `parse` reads the change for a user of the target's
/// role. Deactivation and a new password revoke the user's live tokens; the
/// last active admin cannot be deactivated (409); a change is one
/// `user.updated` event with each field's old and new value.
pub async fn update(
    ctx: &Context,
    caller: &AuthUser,
    id: Parsed<String>,
    draft: Parsed<UserPatchDraft>,
) -> AppResult<User> {
    admin_only(caller)?;
    let id = id?;
    let lookup = id.clone();
    let target = ctx
        .db
        .read(move |c| users::find(c, &lookup))
        .await?
        .ok_or_else(no_such_user)?;
    let patch = validate_user_patch(draft?, user_of(&target).role)?;
    let new_hash = match patch.password.clone() {
        Some(pw) => Some(ctx.hashers.run(move || password::hash(&pw)).await??),
        None => None,
    };
    let actor = caller.actor();
    let request_id = caller.request_id.clone();
    let deactivates_admin = patch.active == Some(false) && target.role == "admin";
    let row = ctx
        .db
        .write(move |c| {
            // Deactivating an admin: lock the active admins first, so that the
            // count below and this update cannot interleave with another
            // deactivation (two admins deactivating each other at once).
            if deactivates_admin {
                users::lock_active_admins(c)?;
            }
            // Read again inside the transaction: the change applies to the row as it is now.
            let mut row = users::find(c, &id)?.ok_or_else(no_such_user)?;
            let Some(changes) = apply(c, &mut row, &patch, new_hash)? else {
                return Ok(row);
            };
            users::update(c, &row)?;
            let details = json!({"user_id": row.id, "username": row.username, "changes": changes});
            let ev = Event::new(Action::UserUpdated, &actor, Some(&request_id), details);
            audit::append(c, ev.force(row.force_id.as_deref()))?;
            Ok(row)
        })
        .await?;
    ctx.users.forget(&row.id);
    Ok(user_of(&row))
}

/// Applies `patch` to `row`; the changes made, each with its old and new
/// value, or `None` when nothing changes.
fn apply(
    c: &mut Conn,
    row: &mut UserRow,
    patch: &UserPatch,
    new_hash: Option<String>,
) -> AppResult<Option<Map<String, Value>>> {
    let mut changes = Map::new();
    if let Some(active) = patch.active.filter(|a| *a != row.active) {
        if !active && row.role == "admin" && users::count_active_admins(c)? <= 1 {
            return Err(AppError::Conflict(
                Clash::LastActiveAdmin,
                "this is the last active admin; it cannot be deactivated".into(),
            ));
        }
        changes.insert("active".into(), json!({"old": row.active, "new": active}));
        row.active = active;
    }
    if let Some(rank) = patch
        .rank
        .map(|r| r.as_str().to_string())
        .filter(|r| Some(r) != row.rank.as_ref())
    {
        changes.insert("rank".into(), json!({"old": row.rank, "new": rank}));
        row.rank = Some(rank);
    }
    if let Some(name) = patch
        .display_name
        .clone()
        .filter(|n| *n != row.display_name)
    {
        changes.insert(
            "display_name".into(),
            json!({"old": row.display_name, "new": name}),
        );
        row.display_name = name;
    }
    if let Some(hash) = new_hash {
        changes.insert("password".into(), json!("changed"));
        row.password_hash = hash;
    }
    if changes.is_empty() {
        return Ok(None);
    }
    if patch.revokes_tokens() {
        row.token_generation += 1;
        changes.insert("tokens_revoked".into(), json!(true));
    }
    row.updated_at = now_micros();
    Ok(Some(changes))
}

/// Creates a user from the command line (blocking).
pub fn create_blocking(db: &Db, new: NewUser, actor: &Actor) -> AppResult<User> {
    let hash = password::hash(&new.password)?;
    let row = new_row(new, hash);
    db.write_blocking(|c| insert(c, &row, actor, None))?;
    Ok(user_of(&row))
}

/// First start: when the database holds no user, create `admin` with the given
/// password, or a random one printed once to the log. Blocking.
pub fn ensure_admin(db: &Db, password: Option<&str>) -> Result<(), String> {
    if db.read_blocking(users::count).map_err(|e| e.to_string())? > 0 {
        return Ok(());
    }
    let (password, generated) = match password.filter(|p| !p.is_empty()) {
        Some(p) => {
            if p.chars().count() < PASSWORD_MIN_CHARS {
                tracing::warn!(
                    "CLOSURE_AUDIT_ADMIN_PASSWORD is shorter than {PASSWORD_MIN_CHARS} characters: \
                     accepted for the first start, but change it"
                );
            }
            (p.to_string(), false)
        }
        None => (crate::auth::secret::hex_random(12), true),
    };
    let hash = password::hash(&password).map_err(|e| e.to_string())?;
    let new = NewUser {
        username: "admin".into(),
        password: String::new(),
        display_name: "Administrator".into(),
        role: Role::Admin,
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
        Ok(false) | Err(AppError::Conflict(..)) => {}
        Err(e) => return Err(format!("cannot create the first admin: {e}")),
    }
    Ok(())
}
