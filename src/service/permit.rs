//! The caller's permission, asked of the domain's one table
//! ([`crate::domain::authorize`]) and answered as the service's error.

use super::closures::not_found;
use crate::auth::AuthUser;
use crate::domain::authorize::{Action, Caller, Resource, Verdict, authorize};
use crate::error::{AppError, AppResult};

/// The signed-in user as the rules see it.
pub fn caller(user: &AuthUser) -> Caller<'_> {
    Caller {
        user_id: &user.id,
        role: user.role,
        rank: user.rank,
        force_id: user.force_id.as_deref(),
        officer_id: user.officer_id.as_deref(),
    }
}

/// `Ok` when `user` may do `action` to `resource`: 403 with the rule, or 404
/// for a closure outside the caller's force.
pub fn permit(user: &AuthUser, action: Action, resource: Resource) -> AppResult<()> {
    permit_or(user, action, resource, not_found)
}

/// [`permit`], with `missing` as the 404 for a resource of another force
/// (which must look like one that does not exist).
pub fn permit_or(
    user: &AuthUser,
    action: Action,
    resource: Resource,
    missing: impl FnOnce() -> AppError,
) -> AppResult<()> {
    match authorize(&caller(user), action, resource) {
        Verdict::Allow => Ok(()),
        Verdict::Forbidden(rule) => Err(AppError::Forbidden(rule)),
        Verdict::NotFound => Err(missing()),
    }
}
