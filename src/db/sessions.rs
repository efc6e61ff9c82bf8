//! The `sessions` table: the pages' sign-ins (see the migration
//! `*_ui_sessions`). Rows are found by the SHA-256 of the cookie's id.

use super::schema::sessions;
use super::{Conn, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub token_generation: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut Conn, row: &SessionRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(sessions::table).values(row).execute(c))?;
    Ok(())
}

pub fn find(conn: &mut Conn, id_hash: &str) -> AppResult<Option<SessionRow>> {
    Ok(with_conn!(conn, c => sessions::table
        .find(id_hash)
        .select(SessionRow::as_select())
        .first(c)
        .optional())?)
}

/// Records that the session was used at `at`.
pub fn touch(conn: &mut Conn, id_hash: &str, at: i64) -> AppResult<()> {
    with_conn!(conn, c => diesel::update(sessions::table.find(id_hash))
        .set(sessions::last_seen_at.eq(at))
        .execute(c))?;
    Ok(())
}

/// Ends one session; whether there was one.
pub fn delete(conn: &mut Conn, id_hash: &str) -> AppResult<bool> {
    Ok(with_conn!(conn, c => diesel::delete(sessions::table.find(id_hash)).execute(c))? == 1)
}

/// Removes the sessions that have expired by `now` or were last used before
/// `idle_since`; how many.
pub fn purge(conn: &mut Conn, now: i64, idle_since: i64) -> AppResult<usize> {
    Ok(with_conn!(conn, c => diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.lt(idle_since)),
        ),
    )
    .execute(c))?)
}
