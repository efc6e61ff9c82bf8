//! `/api/v1/users`: accounts, managed by admins.

use super::params::{Page, decode_cursor, page_limit, paginate, path_id};
use super::problems::{self as p, PROBLEM_JSON};
use super::schemas;
use crate::app::AppState;
use crate::audit::{self, Action, Event};
use crate::auth::{AuthUser, accounts, password};
use crate::db::users::{self, UserRow};
use crate::db::{now_micros, rfc3339};
use crate::domain::users::{parse_new_user, parse_user_patch};
use crate::domain::{Rank, Role};
use crate::error::{AppError, AppResult, Problem};
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

const ADMIN_ONLY: &str = "only an admin may manage users";

/// A user as returned; the password hash never leaves the service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub rank: Option<Rank>,
    pub officer_id: Option<String>,
    pub force_id: Option<String>,
    pub active: bool,
    pub created_at: String,
}

impl From<&UserRow> for UserView {
    fn from(r: &UserRow) -> Self {
        UserView {
            id: r.id.clone(),
            username: r.username.clone(),
            display_name: r.display_name.clone(),
            role: Role::parse(&r.role).unwrap_or(Role::Auditor),
            rank: r.rank.as_deref().and_then(Rank::parse),
            officer_id: r.officer_id.clone(),
            force_id: r.force_id.clone(),
            active: r.active,
            created_at: rfc3339(r.created_at),
        }
    }
}

/// The body of `POST /users` (documentation; the body is checked field by field).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CreateUserRequest {
    /// Letters, digits and `. _ - @`, 1 to 64 characters; unique.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    username: String,
    /// At least 12 characters.
    #[schema(min_length = 12, max_length = 1024)]
    password: String,
    #[schema(min_length = 1, max_length = 200)]
    display_name: String,
    role: Role,
    /// Required for officers, null otherwise. A `detective_` prefix is accepted and dropped.
    rank: Option<Rank>,
    /// Required for officers, null otherwise.
    #[schema(min_length = 1, max_length = 32)]
    officer_id: Option<String>,
    /// Required for force_system and officer, optional for auditor (none: national), null for admin.
    #[schema(schema_with = schemas::force_id)]
    force_id: Option<String>,
}

/// The body of `PATCH /users/{id}`: only the fields given change.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PatchUserRequest {
    /// `false` deactivates the user and revokes its live tokens at once.
    active: Option<bool>,
    /// Officers only.
    rank: Option<Rank>,
    #[schema(min_length = 1, max_length = 200)]
    display_name: Option<String>,
    /// At least 12 characters; revokes live tokens.
    #[schema(min_length = 12, max_length = 1024)]
    password: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Page length, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    items: Vec<UserView>,
    next_cursor: Option<String>,
}

/// Create a user (admin).
#[utoipa::path(
    tag = "users",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created; `Location` names it", body = UserView),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 409, description = "User name taken", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: web::Json<Value>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Admin], ADMIN_ONLY)?;
    let new = parse_new_user(&body)?;
    let pw = new.password.clone();
    let password_hash = state.hashers.run(move || password::hash(&pw)).await??;
    let row = accounts::new_row(new, password_hash);
    let view = UserView::from(&row);
    let actor = caller.actor();
    state
        .db
        .write(move |c| accounts::insert(c, &row, &actor, Some(&caller.request_id)))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/api/v1/users/{}", view.id)))
        .json(view))
}

/// List users (admin), oldest first.
#[utoipa::path(
    tag = "users",
    params(ListQuery),
    responses(
        (status = 200, body = UserPage),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: AuthUser,
    q: web::Query<ListQuery>,
) -> AppResult<web::Json<Page<UserView>>> {
    caller.require(&[Role::Admin], ADMIN_ONLY)?;
    let s = &state.settings;
    let limit = page_limit(q.limit, s.page_limit_default, s.page_limit_max)?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let rows = state
        .db
        .read(move |c| users::page(c, after.as_deref(), limit + 1))
        .await?;
    Ok(web::Json(paginate(
        rows,
        limit,
        |r| r.id.clone(),
        |r| UserView::from(r),
    )))
}

/// One user (admin).
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, body = UserView),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, response = p::NotFound),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<String>,
) -> AppResult<web::Json<UserView>> {
    caller.require(&[Role::Admin], ADMIN_ONLY)?;
    let id = path_id(id.into_inner(), "no such user")?;
    let row = state.db.read(move |c| users::find(c, &id)).await?;
    row.map(|r| web::Json(UserView::from(&r)))
        .ok_or_else(|| AppError::NotFound("no such user".into()))
}

/// Change a user (admin): deactivate, re-rank, rename, or set a new password.
/// Deactivation and a new password revoke the user's live tokens at once.
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "The user's id")),
    request_body = PatchUserRequest,
    responses(
        (status = 200, body = UserView),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, response = p::NotFound),
        (status = 409, description = "It would leave no active admin", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{id}")]
pub async fn patch_user(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> AppResult<web::Json<UserView>> {
    caller.require(&[Role::Admin], ADMIN_ONLY)?;
    let id = path_id(id.into_inner(), "no such user")?;
    let lookup = id.clone();
    let target = state
        .db
        .read(move |c| users::find(c, &lookup))
        .await?
        .ok_or_else(|| AppError::NotFound("no such user".into()))?;
    let role = Role::parse(&target.role).unwrap_or(Role::Auditor);
    let patch = parse_user_patch(&body, role)?;
    let new_hash = match patch.password.clone() {
        Some(pw) => Some(state.hashers.run(move || password::hash(&pw)).await??),
        None => None,
    };
    let actor = caller.actor();
    let deactivates_admin = patch.active == Some(false) && target.role == "admin";
    let row = state
        .db
        .write(move |c| {
            // Deactivating an admin: lock the active admins first, so that the
            // count below and this update cannot interleave with another
            // deactivation (two admins deactivating each other at once).
            if deactivates_admin {
                users::lock_active_admins(c)?;
            }
            // Read again inside the transaction: the change applies to the row as it is now.
            let mut row =
                users::find(c, &id)?.ok_or_else(|| AppError::NotFound("no such user".into()))?;
            let mut changes = serde_json::Map::new();
            if let Some(active) = patch.active.filter(|a| *a != row.active) {
                if !active && row.role == "admin" && users::count_active_admins(c)? <= 1 {
                    return Err(AppError::Conflict(
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
                return Ok(row);
            }
            if patch.revokes_tokens() {
                row.token_generation += 1;
                changes.insert("tokens_revoked".into(), json!(true));
            }
            row.updated_at = now_micros();
            users::update(c, &row)?;
            let details = json!({"user_id": row.id, "username": row.username, "changes": changes});
            let ev = Event::new(
                Action::UserUpdated,
                &actor,
                Some(&caller.request_id),
                details,
            );
            audit::append(c, ev.force(row.force_id.as_deref()))?;
            Ok(row)
        })
        .await?;
    state.users.forget(&row.id);
    Ok(web::Json(UserView::from(&row)))
}
