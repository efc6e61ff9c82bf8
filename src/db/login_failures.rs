//! Failed logins per user name, for throttling (kept in the database so that
//! every instance behind a load balancer sees the same count).
//!
//! A login attempt first reserves a row here, before its password is checked;
//! the row becomes the failure when the password is wrong and is removed when it
//! is right. Reserving is counting and inserting under [`lock`], so concurrent
//! attempts for one user name cannot all see room under the limit.
//!
//! `login_throttles` keeps, per user name, when throttling was last recorded as
//! an `auth.login_throttled` event, so that a throttled user name writes at most
//! one such event per window.

use super::schema::{login_failures, login_throttles};
use super::{Conn, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

/// The first key of the two-key PostgreSQL advisory locks taken per user name
/// (an arbitrary constant). Two-key locks never collide with the one-key locks
/// of the migrations and the sequencer.
const LOGIN_LOCK_CLASS: i32 = 0x6c6f_6731;

/// Serializes, until the end of the current transaction, every transaction that
/// counts or reserves attempts for `username`. On PostgreSQL a transaction-scoped
/// advisory lock keyed on the user name's hash (two names sharing a hash only
/// wait for each other); on SQLite nothing is needed: writes go through one
/// connection in `BEGIN IMMEDIATE` transactions, so they are serial already.
/// Call it first in a [`super::Db::write`] transaction.
pub fn lock(conn: &mut Conn, username: &str) -> AppResult<()> {
    if let Conn::Postgres(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind::<Integer, _>(LOGIN_LOCK_CLASS)
            .bind::<Text, _>(username)
            .execute(*c)?;
    }
    Ok(())
}

/// Records an attempt (or a failure) for `username` at `at`; returns its id.
pub fn record(conn: &mut Conn, username: &str, at: i64) -> AppResult<i64> {
    Ok(
        with_conn!(conn, c => diesel::insert_into(login_failures::table)
        .values((login_failures::username.eq(username), login_failures::at.eq(at)))
        .returning(login_failures::id)
        .get_result(c))?,
    )
}

/// Removes one attempt (one whose password could not be checked).
pub fn remove(conn: &mut Conn, id: i64) -> AppResult<()> {
    with_conn!(conn, c => diesel::delete(login_failures::table.find(id)).execute(c))?;
    Ok(())
}

/// How many failures (and reserved attempts) `username` has since `since`.
pub fn count_since(conn: &mut Conn, username: &str, since: i64) -> AppResult<i64> {
    Ok(with_conn!(conn, c => login_failures::table
        .filter(login_failures::username.eq(username))
        .filter(login_failures::at.ge(since))
        .count()
        .get_result(c))?)
}

/// The time of the `n`-th oldest (from 0) failure of `username` since `since`:
/// once it leaves the window, the count is below the limit again.
pub fn nth_oldest_since(
    conn: &mut Conn,
    username: &str,
    since: i64,
    n: i64,
) -> AppResult<Option<i64>> {
    Ok(with_conn!(conn, c => login_failures::table
        .filter(login_failures::username.eq(username))
        .filter(login_failures::at.ge(since))
        .select(login_failures::at)
        .order_by(login_failures::at.asc())
        .offset(n.max(0))
        .first(c)
        .optional())?)
}

/// A successful login clears the user name's failures and its throttling
/// record (a new run of failures after it is throttled afresh, and recorded);
/// old rows of any user name are pruned at the same time.
pub fn clear(conn: &mut Conn, username: &str, older_than: i64) -> AppResult<()> {
    with_conn!(conn, c => diesel::delete(
        login_failures::table.filter(login_failures::username.eq(username).or(login_failures::at.lt(older_than)))
    )
    .execute(c))?;
    with_conn!(conn, c => diesel::delete(
        login_throttles::table.filter(login_throttles::username.eq(username).or(login_throttles::since.lt(older_than)))
    )
    .execute(c))?;
    Ok(())
}

/// Notes that `username` is throttled at `now`. True when this begins a new
/// record (none yet, or the last one is older than `window_start`): then the
/// caller writes the `auth.login_throttled` event in the same transaction.
/// Call under [`lock`].
pub fn begin_throttle(
    conn: &mut Conn,
    username: &str,
    now: i64,
    window_start: i64,
) -> AppResult<bool> {
    match throttled_since(conn, username)? {
        Some(s) if s >= window_start => Ok(false),
        Some(_) => {
            with_conn!(conn, c => diesel::update(login_throttles::table.find(username))
                .set(login_throttles::since.eq(now))
                .execute(c))?;
            Ok(true)
        }
        None => {
            with_conn!(conn, c => diesel::insert_into(login_throttles::table)
                .values((login_throttles::username.eq(username), login_throttles::since.eq(now)))
                .execute(c))?;
            Ok(true)
        }
    }
}

/// Whether throttling of `username` has been recorded since `window_start`.
pub fn throttle_recorded_since(
    conn: &mut Conn,
    username: &str,
    window_start: i64,
) -> AppResult<bool> {
    Ok(throttled_since(conn, username)?.is_some_and(|s| s >= window_start))
}

/// When throttling of `username` was last recorded, if ever.
fn throttled_since(conn: &mut Conn, username: &str) -> AppResult<Option<i64>> {
    Ok(with_conn!(conn, c => login_throttles::table
        .find(username)
        .select(login_throttles::since)
        .first(c)
        .optional())?)
}
