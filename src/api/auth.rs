//! `/api/v1/auth`: sign-in and the caller.

use super::drafts;
use super::problems::{self as p};
use super::users::UserView;
use crate::auth::AuthUser;
use crate::domain::users::validate_sign_in;
use crate::error::AppResult;
use crate::service::Context;
use crate::service::login::login as sign_in;
use crate::telemetry::RequestId;
use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 256)]
    username: String,
    #[schema(min_length = 1, max_length = 1024)]
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: u64,
}

/// Sign in. Wrong user name, wrong password and a deactivated user get the same
/// 401; after 5 failures for one user name within 15 minutes, 429 until the
/// window passes (`Retry-After` says how long). The count is atomic: of any
/// number of attempts at once, at most 5 wrong passwords are checked per window.
/// A throttled user name writes one `auth.login_throttled` event per window; its
/// refusals are counted in `/metrics`, not logged one by one.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, response = p::UnprocessableEntity),
        (status = 429, response = p::TooManyRequests),
        (status = 503, response = p::ServiceUnavailable),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<Context>,
    request_id: RequestId,
    body: web::Json<Value>,
) -> AppResult<web::Json<TokenResponse>> {
    let (username, password) = validate_sign_in(drafts::sign_in(&body)?)?;
    let issued = sign_in(&state, username, password, request_id.0).await?;
    Ok(web::Json(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
    }))
}

/// The caller's own user.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = UserView),
        (status = 401, response = p::Unauthorized),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/auth/me")]
pub async fn me(state: web::Data<Context>, caller: AuthUser) -> AppResult<web::Json<UserView>> {
    let user = crate::service::users::me(&state, &caller).await?;
    Ok(web::Json(UserView::from(&user)))
}
