//! The signed-in caller, taken from `Authorization: Bearer <JWT>` and checked
//! against the database on every request: a deactivated user, or one whose
//! password has changed since, is refused at once.

use super::token::token_is_current;
use crate::audit::Actor;
use crate::db::users::{self, UserRow};
use crate::domain::{Rank, Role};
use crate::error::{AppError, AppResult};
use crate::service::Context;
use crate::telemetry::RequestId;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub rank: Option<Rank>,
    pub officer_id: Option<String>,
    pub force_id: Option<String>,
    /// The token generation the caller's token carries (and the user has).
    pub token_generation: i64,
    /// The request this user is making, for the audit events it causes.
    pub request_id: String,
}

impl AuthUser {
    pub fn from_row(row: &UserRow, request_id: String) -> AppResult<AuthUser> {
        let role = Role::parse(&row.role).ok_or_else(|| {
            AppError::internal(format!("user {} has role {:?}", row.id, row.role))
        })?;
        Ok(AuthUser {
            id: row.id.clone(),
            username: row.username.clone(),
            role,
            rank: row.rank.as_deref().and_then(Rank::parse),
            officer_id: row.officer_id.clone(),
            force_id: row.force_id.clone(),
            token_generation: row.token_generation,
            request_id,
        })
    }

    /// The caller as recorded on audit events.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id.clone()),
            username: Some(self.username.clone()),
            role: Some(self.role),
            rank: self.rank,
            force_id: self.force_id.clone(),
        }
    }
}

pub(crate) fn unauthorized(why: &str) -> AppError {
    AppError::Unauthorized(format!("a valid bearer token is required: {why}"))
}

/// Where the caller's user row comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Read from the database for this request.
    Fresh,
    /// From [`crate::auth::cache::UserCache`] when it holds the user.
    Cached,
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate(req, Lookup::Fresh)
    }
}

/// The caller of the ingest endpoints. As [`AuthUser`], but the user may come
/// from the short-lived cache: the transaction that stores the closures checks
/// the user's `active` flag and token generation again.
pub struct IngestCaller(pub AuthUser);

impl FromRequest for IngestCaller {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate(req, Lookup::Cached);
        Box::pin(async move { user.await.map(IngestCaller) })
    }
}

fn authenticate(
    req: &HttpRequest,
    lookup: Lookup,
) -> LocalBoxFuture<'static, Result<AuthUser, AppError>> {
    let state = req.app_data::<web::Data<Context>>().cloned();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_owned));
    Box::pin(async move {
        let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
        let header = match header {
            None => return Err(unauthorized("no Authorization header")),
            Some(Err(_)) => return Err(unauthorized("malformed Authorization header")),
            Some(Ok(h)) => h,
        };
        let token = match header.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                t.trim().to_string()
            }
            _ => return Err(unauthorized("expected \"Bearer <token>\"")),
        };
        let claims = state.keys.verify(&token).map_err(|e| unauthorized(&e))?;
        let cached = match lookup {
            Lookup::Cached => state.users.get(&claims.sub),
            Lookup::Fresh => None,
        };
        let row = match cached {
            Some(row) => Some(row),
            None => {
                let sub = claims.sub.clone();
                let row = state.db.read(move |c| users::find(c, &sub)).await?;
                if let Some(r) = &row {
                    state.users.put(r);
                }
                row
            }
        };
        match row {
            Some(row) if token_is_current(row.active, row.token_generation, claims.r#gen) => {
                AuthUser::from_row(&row, request_id)
            }
            Some(row) if !row.active => Err(unauthorized("the user is deactivated")),
            Some(_) => Err(unauthorized("the token was revoked")),
            None => Err(unauthorized("the user does not exist")),
        }
    })
}
