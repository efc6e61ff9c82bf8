//! Witness cosignatures (append-only) and what the witness client knows of
//! each witness.

use super::schema::{cosignatures, witness_status};
use super::{Conn, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cosignatures)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CosignatureRow {
    pub tree_size: i64,
    pub witness: String,
    pub key_id: String,
    pub cosigned_at: i64,
    pub line: String,
    pub received_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = witness_status)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct WitnessStatusRow {
    pub witness: String,
    pub key_id: String,
    pub cosigned_size: Option<i64>,
    pub cosigned_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub alarms: i64,
}

/// Keeps a cosignature; one already kept for that size and key is left as it is.
pub fn insert(conn: &mut Conn, row: &CosignatureRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(cosignatures::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// The cosignatures of the checkpoint of `tree_size`, oldest first.
pub fn of_size(conn: &mut Conn, tree_size: i64) -> AppResult<Vec<CosignatureRow>> {
    Ok(with_conn!(conn, c => cosignatures::table
        .filter(cosignatures::tree_size.eq(tree_size))
        .order((cosignatures::received_at.asc(), cosignatures::witness.asc()))
        .select(CosignatureRow::as_select())
        .load(c))?)
}

/// The tree sizes above `above` with cosignatures, largest first, at most `limit`.
pub fn cosigned_sizes(conn: &mut Conn, above: i64, limit: i64) -> AppResult<Vec<i64>> {
    Ok(with_conn!(conn, c => cosignatures::table
        .filter(cosignatures::tree_size.gt(above))
        .select(cosignatures::tree_size)
        .distinct()
        .order(cosignatures::tree_size.desc())
        .limit(limit)
        .load(c))?)
}

/// Every witness's status row.
pub fn statuses(conn: &mut Conn) -> AppResult<Vec<WitnessStatusRow>> {
    Ok(with_conn!(conn, c => witness_status::table
        .order(witness_status::witness.asc())
        .select(WitnessStatusRow::as_select())
        .load(c))?)
}

pub fn put_status(conn: &mut Conn, row: &WitnessStatusRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(witness_status::table)
        .values(row)
        .on_conflict(witness_status::witness)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}
