//! Ingest's insert: closures whose key is not taken yet.

use super::ClosureRow;
use crate::db::described::{Described, Prepared, column_list, unnest};
use crate::db::schema::closures;
use crate::db::{Conn, trend_summary, trend_versions};
use crate::domain::trends::{SummaryChange, record_change};
use crate::error::AppResult;
use diesel::PgConnection;
use diesel::prelude::*;
use std::sync::LazyLock;

/// Inserts the closures whose (force, `source_event_id`) is not taken yet,
/// and counts them in the trend summary; returns the ids of those inserted.
/// Concurrent posts of one key leave one row.
pub fn insert_new(conn: &mut Conn, rows: &[ClosureRow]) -> AppResult<Vec<String>> {
    let (inserted, change) = insert_rows(conn, rows)?;
    trend_summary::apply(conn, &change)?;
    Ok(inserted)
}

/// [`insert_new`] with the trend summary's change handed back, to be applied
/// by the caller later in the same transaction: last, just before the
/// commit, because every writer changes the same few summary rows (a month
/// and a force), and their row locks are held until the commit.
pub fn insert_rows(
    conn: &mut Conn,
    rows: &[ClosureRow],
) -> AppResult<(Vec<String>, SummaryChange)> {
    let mut inserted = Vec::with_capacity(rows.len());
    match conn {
        // SQLite runs in-process: one prepared statement per row costs little,
        // and diesel cannot combine RETURNING with a multi-row insert there.
        Conn::Sqlite(c) => {
            for row in rows {
                let n = diesel::insert_into(closures::table)
                    .values(row)
                    .on_conflict((closures::force_id, closures::source_event_id))
                    .do_nothing()
                    .execute(*c)?;
                if n == 1 {
                    inserted.push(row.id.clone());
                }
            }
            if !inserted.is_empty() {
                trend_versions::bump(conn)?;
            }
        }
        // PostgreSQL: one round trip, one prepared statement (which also bumps
        // the trend version when it stores anything).
        Conn::Postgres(c) => inserted.extend(insert_new_pg(c, rows)?),
    }
    // Applied after the version's shard is taken (the lock order of trend_summary).
    let mut change = SummaryChange::new();
    if !inserted.is_empty() {
        let stored: std::collections::HashSet<&str> = inserted.iter().map(String::as_str).collect();
        for row in rows.iter().filter(|r| stored.contains(r.id.as_str())) {
            record_change(&mut change, None, Some(&row.trend_facts()));
        }
    }
    Ok((inserted, change))
}

/// PostgreSQL: every row in one statement whose text never changes (one array
/// per column, unnested), one round trip whatever the number of rows. Answers
/// the ids stored now. Kept prepared ([`Prepared`]): parsed and planned once
/// per connection.
fn insert_new_pg(c: &mut PgConnection, rows: &[ClosureRow]) -> QueryResult<Vec<String>> {
    use diesel::sql_types::{Integer, Text};
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let q = diesel::sql_query(INSERT_UNNEST.as_str()).into_boxed();
    let q = ClosureRow::bind_arrays(q, rows).bind::<Integer, _>(trend_versions::random_shard());
    let inserted: Vec<Inserted> = Prepared(q).load(c)?;
    Ok(inserted.into_iter().map(|r| r.id).collect())
}

/// The insert: every column of [`ClosureRow`] as `$1` to `$n`, the trend
/// version's shard as `$n+1`.
static INSERT_UNNEST: LazyLock<String> = LazyLock::new(|| {
    let n = ClosureRow::COLUMNS.len();
    format!(
        "WITH ins AS (INSERT INTO closures ({}) SELECT * FROM {} \
         ON CONFLICT (force_id, source_event_id) DO NOTHING RETURNING id), \
         bump AS (UPDATE trend_versions SET n = n + 1 WHERE shard = ${} AND EXISTS (SELECT 1 FROM ins)) \
         SELECT id FROM ins",
        column_list::<ClosureRow>(),
        unnest::<ClosureRow>(1),
        n + 1,
    )
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::described::{check_unnest, select_list};
    use diesel::sqlite::Sqlite;

    #[test]
    fn the_insert_names_every_column_once_and_numbers_its_binds() {
        let all = closures::table.select(closures::all_columns);
        let columns = select_list(&diesel::debug_query::<Sqlite, _>(&all).to_string());
        assert!(columns.contains("decision_rationale"), "{columns:?}");
        check_unnest::<ClosureRow>(&INSERT_UNNEST, "closures", &columns);
        assert!(INSERT_UNNEST.ends_with(&format!(
            "WHERE shard = ${} AND EXISTS (SELECT 1 FROM ins)) SELECT id FROM ins",
            columns.len() + 1
        )));
    }
}
