//! `/api/v1/users`: accounts, managed by admins.

use super::drafts;
use super::params::{Page, decode_cursor, page_limit, paginate, path_id};
use super::problems::{self as p, PROBLEM_JSON};
use super::schemas;
use crate::auth::AuthUser;
use crate::domain::time::rfc3339;
use crate::domain::users::User;
use crate::domain::{Rank, Role};
use crate::error::{AppResult, Problem};
use crate::service::{self, Context};
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

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

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            rank: u.rank,
            officer_id: u.officer_id.clone(),
            force_id: u.force_id.clone(),
            active: u.active,
            created_at: rfc3339(u.created_at),
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
    /// Required for force_system and officer, optional for auditor (none: national), null for admin and witness.
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
    state: web::Data<Context>,
    caller: AuthUser,
    body: web::Json<Value>,
) -> AppResult<HttpResponse> {
    let draft = drafts::new_user(&body).map_err(Into::into);
    let user = service::users::create(&state, &caller, draft).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/api/v1/users/{}", user.id)))
        .json(UserView::from(&user)))
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
    state: web::Data<Context>,
    caller: AuthUser,
    q: web::Query<ListQuery>,
) -> AppResult<web::Json<Page<UserView>>> {
    let s = &state.settings;
    let limit = page_limit(q.limit, s.page_limit_default, s.page_limit_max);
    let page = limit.clone().and_then(|limit| {
        let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok((after, limit + 1))
    });
    let users = service::users::list(&state, &caller, page).await?;
    let limit = limit?;
    Ok(web::Json(paginate(
        users,
        limit,
        |u| u.id.clone(),
        |u| UserView::from(u),
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
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
) -> AppResult<web::Json<UserView>> {
    let id = path_id(id.into_inner(), "no such user");
    let user = service::users::get(&state, &caller, id).await?;
    Ok(web::Json(UserView::from(&user)))
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
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> AppResult<web::Json<UserView>> {
    let id = path_id(id.into_inner(), "no such user");
    let draft = drafts::user_patch(&body).map_err(Into::into);
    let user = service::users::update(&state, &caller, id, draft).await?;
    Ok(web::Json(UserView::from(&user)))
}
