//! Failed logins per user name, for throttling (kept in the database so that
//! every instance behind a load balancer sees the same count).

use super::schema::login_failures;
use super::{Conn, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;

pub fn record(conn: &mut Conn, username: &str, at: i64) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(login_failures::table)
        .values((login_failures::username.eq(username), login_failures::at.eq(at)))
        .execute(c))?;
    Ok(())
}

/// The failures for `username` since `since`: how many, and the oldest.
pub fn since(conn: &mut Conn, username: &str, since: i64) -> AppResult<(i64, Option<i64>)> {
    let (n, oldest): (i64, Option<i64>) = with_conn!(conn, c => login_failures::table
        .filter(login_failures::username.eq(username))
        .filter(login_failures::at.ge(since))
        .select((diesel::dsl::count_star(), diesel::dsl::min(login_failures::at)))
        .first(c))?;
    Ok((n, oldest))
}

/// A successful login clears the user name's failures; old rows of any user
/// name are pruned at the same time.
pub fn clear(conn: &mut Conn, username: &str, older_than: i64) -> AppResult<()> {
    with_conn!(conn, c => diesel::delete(
        login_failures::table.filter(login_failures::username.eq(username).or(login_failures::at.lt(older_than)))
    )
    .execute(c))?;
    Ok(())
}
