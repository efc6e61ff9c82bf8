//! The `users` table.

use super::schema::users;
use super::{Conn, is_unique_violation, with_conn};
use crate::error::{AppError, AppResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub rank: Option<String>,
    pub officer_id: Option<String>,
    pub force_id: Option<String>,
    pub active: bool,
    pub password_hash: String,
    pub token_generation: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Inserts a user; a taken user name is a 409.
pub fn insert(conn: &mut Conn, row: &UserRow) -> AppResult<()> {
    let res = with_conn!(conn, c => diesel::insert_into(users::table).values(row).execute(c));
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(AppError::Conflict(
            crate::domain::conflicts::Clash::UsernameTaken,
            format!("the user name {:?} is taken", row.username),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Writes every column of `row` back.
pub fn update(conn: &mut Conn, row: &UserRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::update(users::table.find(&row.id)).set(row).execute(c))?;
    Ok(())
}

pub fn find(conn: &mut Conn, id: &str) -> AppResult<Option<UserRow>> {
    Ok(
        with_conn!(conn, c => users::table.find(id).select(UserRow::as_select()).first(c).optional())?,
    )
}

/// For each of `ids` that exists: (id, active, token generation).
pub fn token_states(conn: &mut Conn, ids: &[&str]) -> AppResult<Vec<(String, bool, i64)>> {
    Ok(with_conn!(conn, c => users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::active, users::token_generation))
        .load(c))?)
}

pub fn find_by_username(conn: &mut Conn, username: &str) -> AppResult<Option<UserRow>> {
    Ok(with_conn!(conn, c => users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(c)
        .optional())?)
}

pub fn count(conn: &mut Conn) -> AppResult<i64> {
    Ok(with_conn!(conn, c => users::table.count().get_result(c))?)
}

/// Locks the rows of the active admins until the end of the transaction and
/// says how many there are. Taken before deciding whether an admin may be
/// deactivated, so that two admins deactivating each other at once cannot both
/// count two: on PostgreSQL the second waits for the first (`FOR UPDATE`) and
/// then sees its change; on SQLite write transactions already run one at a
/// time (`BEGIN IMMEDIATE` through one writer), so the count alone is enough.
pub fn lock_active_admins(conn: &mut Conn) -> AppResult<i64> {
    match conn {
        Conn::Postgres(c) => {
            let ids: Vec<String> = users::table
                .filter(users::role.eq("admin"))
                .filter(users::active.eq(true))
                .select(users::id)
                .order(users::id.asc())
                .for_update()
                .load(*c)?;
            Ok(ids.len() as i64)
        }
        Conn::Sqlite(_) => count_active_admins(conn),
    }
}

pub fn count_active_admins(conn: &mut Conn) -> AppResult<i64> {
    Ok(with_conn!(conn, c => users::table
        .filter(users::role.eq("admin"))
        .filter(users::active.eq(true))
        .count()
        .get_result(c))?)
}

/// A page of users in id order (ids are time-ordered), after `after` if given.
pub fn page(conn: &mut Conn, after: Option<&str>, limit: i64) -> AppResult<Vec<UserRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = users::table.select(UserRow::as_select()).order(users::id.asc()).limit(limit).into_boxed();
        if let Some(after) = after {
            q = q.filter(users::id.gt(after));
        }
        q.load(c)
    })?)
}
