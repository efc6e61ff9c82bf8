//! Whether the service can serve: the readiness probe's use case.

use super::Context;
use crate::error::AppResult;

/// `Ok` when the database answers.
pub async fn ready(ctx: &Context) -> AppResult<()> {
    ctx.db.ready().await
}
