//! The identity sequences of the target, moved past every key the source
//! handed out.

use super::tables::TABLES;
use super::{MaybeName, Num};
use crate::db::Conn;
use crate::error::AppResult;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// Moves each identity sequence of the target past the copied keys and past
/// every key the source ever handed out (deleted rows included), so that new
/// rows never take an old key.
pub(super) fn advance(src: &mut Conn, dst: &mut Conn) -> AppResult<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for t in TABLES {
        let Some(col) = t.identity() else { continue };
        let table = t.name();
        let copied = {
            let q = diesel::sql_query(format!("SELECT COALESCE(MAX({col}), 0) AS v FROM {table}"));
            crate::db::with_conn!(dst, c => q.get_result::<Num>(c))?.v
        };
        let last = copied.max(last_handed_out(src, table, col)?);
        if last > 0 {
            match dst {
                Conn::Postgres(c) => {
                    diesel::sql_query("SELECT setval(pg_get_serial_sequence($1, $2), $3) AS v")
                        .bind::<Text, _>(table)
                        .bind::<Text, _>(col)
                        .bind::<BigInt, _>(last)
                        .get_result::<Num>(*c)?;
                }
                Conn::Sqlite(c) => {
                    let n = diesel::sql_query(
                        "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?",
                    )
                    .bind::<BigInt, _>(last)
                    .bind::<Text, _>(table)
                    .execute(*c)?;
                    if n == 0 {
                        diesel::sql_query("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)")
                            .bind::<Text, _>(table)
                            .bind::<BigInt, _>(last)
                            .execute(*c)?;
                    }
                }
            }
        }
        out.push((format!("{table}.{col}"), last));
    }
    Ok(out)
}

/// The last key the source's sequence for `table.col` handed out (0 for none).
fn last_handed_out(c: &mut Conn, table: &str, col: &str) -> AppResult<i64> {
    Ok(match c {
        Conn::Sqlite(c) => diesel::sql_query("SELECT seq AS v FROM sqlite_sequence WHERE name = ?")
            .bind::<Text, _>(table)
            .get_result::<Num>(*c)
            .optional()?
            .map(|n| n.v)
            .unwrap_or(0),
        Conn::Postgres(c) => {
            let seq = diesel::sql_query("SELECT pg_get_serial_sequence($1, $2) AS v")
                .bind::<Text, _>(table)
                .bind::<Text, _>(col)
                .get_result::<MaybeName>(*c)?
                .v;
            match seq {
                None => 0,
                Some(seq) => {
                    diesel::sql_query(format!(
                        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS v FROM {seq}"
                    ))
                    .get_result::<Num>(*c)?
                    .v
                }
            }
        }
    })
}
