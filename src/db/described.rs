//! A table's row described once: [`described_row!`] takes the columns as
//! `name: SqlType => RustType` and makes of them the row struct (with the
//! derives written above it), the column list and PostgreSQL array types that
//! an `unnest` insert names ([`Described`]), the function binding one array per
//! column in that order, and a compile-time check that each SQL type is the one
//! `schema.rs` gives the column. Adding a column to such a table is one line in
//! `schema.rs` and one in its description.

use diesel::QueryResult;
use diesel::RunQueryDsl;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, BoxedSqlQuery, Query, QueryFragment, QueryId, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use std::collections::BTreeSet;

/// A query of fixed text to which the arrays are bound.
pub type Unnest<'f> = BoxedSqlQuery<'f, Pg, SqlQuery>;

/// A raw query whose text never changes, kept prepared on its connection:
/// diesel never caches a `sql_query` (it cannot know the text is fixed), so
/// without this PostgreSQL parses and plans it on every call. Only for text
/// that is the same on every call (binds vary, the SQL does not): the cache
/// is keyed by the text, and grows by one entry per distinct text.
pub struct Prepared<Q>(pub Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    // Not static: the statement cache keys it by its text and bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, C> RunQueryDsl<C> for Prepared<Q> {}

/// What [`described_row!`] knows of a row type.
pub trait Described {
    /// The columns, in the order of the struct's fields.
    const COLUMNS: &'static [&'static str];
    /// Each column's PostgreSQL array type (`text[]`, `bigint[]`, …), in that order.
    const PG_ARRAYS: &'static [&'static str];

    /// Binds one array per column, in [`Self::COLUMNS`] order, after the binds
    /// `q` holds already: the arrays of [`unnest`]`(first)`.
    fn bind_arrays<'f>(q: Unnest<'f>, rows: &'f [Self]) -> Unnest<'f>
    where
        Self: Sized + 'f;
}

/// The columns, comma-separated, in order: `id, force_id, …`.
pub fn column_list<R: Described>() -> String {
    R::COLUMNS.join(", ")
}

/// `unnest($first::text[], $first+1::text[], …)`: one array per column, the
/// binds numbered from `first`.
pub fn unnest<R: Described>(first: usize) -> String {
    let arrays: Vec<String> = R::PG_ARRAYS
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}", first + i))
        .collect();
    format!("unnest({})", arrays.join(", "))
}

/// A SQL type's PostgreSQL array type, as a cast names it.
pub trait PgArray {
    const NAME: &'static str;
}

impl PgArray for Text {
    const NAME: &'static str = "text[]";
}
impl PgArray for Bool {
    const NAME: &'static str = "boolean[]";
}
impl PgArray for Integer {
    const NAME: &'static str = "integer[]";
}
impl PgArray for BigInt {
    const NAME: &'static str = "bigint[]";
}
impl<T: PgArray> PgArray for Nullable<T> {
    const NAME: &'static str = T::NAME;
}

/// The column names of a rendered `SELECT a.x, a.y FROM a`.
pub fn select_list(sql: &str) -> BTreeSet<String> {
    let list = sql
        .split_once("SELECT ")
        .and_then(|(_, rest)| rest.split_once(" FROM "))
        .map(|(cols, _)| cols)
        .unwrap_or_default();
    list.split(", ")
        .map(|c| {
            c.rsplit('.')
                .next()
                .unwrap_or(c)
                .trim_matches('`')
                .to_string()
        })
        .filter(|c| !c.is_empty())
        .collect()
}

/// One row type from one description:
///
/// ```ignore
/// described_row! {
///     table closures;
///     #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
///     pub struct ClosureRow {
///         id: Text => String,
///         division: Nullable<Text> => Option<String>,
///     }
/// }
/// ```
///
/// makes `pub struct ClosureRow { pub id: String, pub division: Option<String> }`
/// with those attributes and `#[diesel(table_name = closures)]`, and implements
/// [`Described`] for it. The SQL types must be in scope where it is used; a
/// field may carry attributes of its own (`#[diesel(skip_insertion)]`).
///
/// `also <attributes> pub struct Other;` after the struct makes a second struct
/// of the same fields without the fields' attributes: every column as it is
/// stored, for copying rows whole (migrate-data copies keys too).
macro_rules! described_row {
    (
        table $table:ident;
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fattr:meta])* $field:ident : $st:ty => $ty:ty ),+ $(,)?
        }
        also $(#[$aattr:meta])* $avis:vis struct $also:ident;
    ) => {
        $crate::db::described::described_row! {
            table $table;
            $(#[$attr])*
            $vis struct $name {
                $( $(#[$fattr])* $field: $st => $ty, )+
            }
        }

        $(#[$aattr])*
        #[diesel(table_name = $table)]
        $avis struct $also {
            $( pub $field: $ty, )+
        }
    };
    (
        table $table:ident;
        $(#[$attr:meta])*
        $vis:vis struct $name:ident $(<$lt:lifetime>)? {
            $( $(#[$fattr:meta])* $field:ident : $st:ty => $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        #[diesel(table_name = $table)]
        $vis struct $name $(<$lt>)? {
            $( $(#[$fattr])* pub $field: $ty, )+
        }

        impl $(<$lt>)? $crate::db::described::Described for $name $(<$lt>)? {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            const PG_ARRAYS: &'static [&'static str] =
                &[$(<$st as $crate::db::described::PgArray>::NAME),+];

            fn bind_arrays<'f>(
                q: $crate::db::described::Unnest<'f>,
                rows: &'f [Self],
            ) -> $crate::db::described::Unnest<'f>
            where
                Self: Sized + 'f,
            {
                q $(.bind::<::diesel::sql_types::Array<$st>, _>(
                    rows.iter().map(|r| &r.$field).collect::<Vec<_>>(),
                ))+
            }
        }

        impl<'copy $(, $lt)?> $crate::db::copy_out::Copied<'copy> for $name $(<$lt>)?
        where
            $( $ty: $crate::db::copy_out::FromCopy<'copy>, )+
        {
            #[allow(unused_assignments)]
            fn copied(
                r: &$crate::db::copy_out::Fields<'copy>,
                at: usize,
            ) -> $crate::error::AppResult<Self> {
                let mut i = at;
                Ok($name {
                    $( $field: {
                        i += 1;
                        <$ty as $crate::db::copy_out::FromCopy>::from_copy(r.field(i - 1)?)?
                    }, )+
                })
            }
        }

        // Each described SQL type is the column's in `schema.rs`, or this fails to compile.
        #[allow(dead_code)]
        const _: () = {
            fn same<C: ::diesel::Expression<SqlType = ST>, ST>() {}
            fn sql_types_are_the_schemas() {
                $( same::<$table::$field, $st>(); )+
            }
        };
    };
}
pub(crate) use described_row;

/// Checks the text of an insert of `R` from `unnest`: its column list names
/// each of `columns` (the table's, from `schema.rs`) exactly once, in
/// [`Described::COLUMNS`] order; `unnest(…)` binds `$1` to `$n`, one array of
/// each column's type; any other bind comes after, numbered on from `$n+1`.
#[cfg(test)]
pub fn check_unnest<R: Described>(sql: &str, table: &str, columns: &BTreeSet<String>) {
    let head = format!("INSERT INTO {table} (");
    let (_, rest) = sql.split_once(&head).expect("INSERT INTO table (");
    let (list, rest) = rest.split_once(')').expect("a column list");
    let named: Vec<&str> = list.split(", ").collect();
    let once: BTreeSet<String> = named.iter().map(|c| c.to_string()).collect();
    assert_eq!(named.len(), once.len(), "a column named twice: {list}");
    assert_eq!(&once, columns, "the statement's columns are the table's");
    assert_eq!(named, R::COLUMNS, "in the order of the arrays");

    let (_, args) = rest.split_once("unnest(").expect("unnest(");
    let (args, after) = args.split_once(')').expect("unnest(…)");
    let expected: Vec<String> = (1..=named.len())
        .zip(R::PG_ARRAYS)
        .map(|(i, t)| format!("${i}::{t}"))
        .collect();
    assert_eq!(args.split(", ").collect::<Vec<_>>(), expected);

    let later: Vec<usize> = after
        .split('$')
        .skip(1)
        .map(|b| {
            let digits: String = b.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("a bind number")
        })
        .collect();
    let on: Vec<usize> = (named.len() + 1..).take(later.len()).collect();
    assert_eq!(later, on, "binds after the arrays");
    assert!(
        !sql[..sql.find("unnest(").unwrap_or(0)].contains('$'),
        "{sql}"
    );
}
