//! The `volumes` table: monthly totals of VAWG crimes finalised.

use super::schema::volumes;
use super::{Conn, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = volumes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct VolumeRow {
    pub force_id: String,
    /// Empty for the force as a whole.
    pub division: String,
    pub month: String,
    pub offence_category: String,
    pub finalised_total: i64,
    pub updated_at: i64,
    pub updated_by_user_id: String,
}

/// The stored total for the row's key, if any.
pub fn current(conn: &mut Conn, key: &VolumeRow) -> AppResult<Option<i64>> {
    Ok(with_conn!(conn, c => volumes::table
        .find((&key.force_id, &key.division, &key.month, &key.offence_category))
        .select(volumes::finalised_total)
        .first(c)
        .optional())?)
}

/// Inserts the total, or replaces the one stored under the same key.
pub fn upsert(conn: &mut Conn, row: &VolumeRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(volumes::table)
        .values(row)
        .on_conflict((volumes::force_id, volumes::division, volumes::month, volumes::offence_category))
        .do_update()
        .set((
            volumes::finalised_total.eq(row.finalised_total),
            volumes::updated_at.eq(row.updated_at),
            volumes::updated_by_user_id.eq(&row.updated_by_user_id),
        ))
        .execute(c))?;
    super::trend_versions::bump(conn)
}

/// The totals of months `from..=to` (`YYYY-MM`), optionally of one force,
/// division or offence category.
pub fn in_range(
    conn: &mut Conn,
    from: &str,
    to: &str,
    force_id: Option<&str>,
    division: Option<&str>,
    category: Option<&str>,
) -> AppResult<Vec<VolumeRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = volumes::table
            .filter(volumes::month.ge(from))
            .filter(volumes::month.le(to))
            .select(VolumeRow::as_select())
            .into_boxed();
        if let Some(v) = force_id { q = q.filter(volumes::force_id.eq(v)); }
        if let Some(v) = division { q = q.filter(volumes::division.eq(v)); }
        if let Some(v) = category { q = q.filter(volumes::offence_category.eq(v)); }
        q.load(c)
    })?)
}
