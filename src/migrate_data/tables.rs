//! The tables `migrate-data` moves, one line each in [`TABLES`], and the paged
//! copy of one table: keyset pages in primary-key order, inserted with their
//! keys, so memory holds one page whatever the size of the table.
//!
//! Each pass over a table also keeps a [`Tally`]: the rows seen and an
//! order-independent digest of their contents, so that the copy can be read back
//! from the target and compared with what was read from the source (the two
//! backends may order text keys differently; the digest does not care).

use crate::db::closures::{ClosureRow, KeyedDecisionRow};
use crate::db::cosignatures::CosignatureRow;
use crate::db::described::select_list;
use crate::db::events::EventRow;
use crate::db::log::{CheckpointRow, LeafRow};
use crate::db::schema;
use crate::db::users::UserRow;
use crate::db::volumes::VolumeRow;
use crate::db::webhooks::{DeliveryRow, MessageRow, SubscriptionRow};
use crate::db::{Conn, with_conn};
use crate::error::AppResult;
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Rows read per page.
pub const PAGE: i64 = 5_000;

/// Bound values per `INSERT`: under SQLite's limit of 32,766 (PostgreSQL allows 65,535).
const MAX_BINDS: usize = 30_000;

/// What one pass over a table saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub rows: u64,
    /// XOR of SHA-256 over each row's every column: rows are unique by key, so
    /// equal tallies mean equal tables, in whatever order they were read.
    pub digest: [u8; 32],
}

impl Tally {
    fn add(&mut self, row: &impl std::fmt::Debug) {
        self.rows += 1;
        let h = Sha256::digest(format!("{row:?}").as_bytes());
        for (d, b) in self.digest.iter_mut().zip(h.iter()) {
            *d ^= b;
        }
    }
}

/// One table to move.
pub trait Table: Sync {
    fn name(&self) -> &'static str;
    /// The identity (auto-increment) column, whose sequence must end up past
    /// every copied key.
    fn identity(&self) -> Option<&'static str>;
    /// Every column of the table in `schema.rs`.
    fn columns(&self) -> BTreeSet<String>;
    /// The columns the row type reads and writes: must be all of them.
    fn carried(&self) -> BTreeSet<String>;
    fn count(&self, c: &mut Conn) -> AppResult<i64>;
    /// Copies every row of `from` into `to`, page by page, keys included.
    fn copy(&self, from: &mut Conn, to: &mut Conn) -> AppResult<Tally>;
    /// Reads every row of `c`, page by page.
    fn tally(&self, c: &mut Conn) -> AppResult<Tally>;
}

/// `(k1, k2, …) > (last.k1, last.k2, …)`, spelled out so that both backends
/// take it (a keyset position over a composite key).
macro_rules! after {
    ($t:ident, $last:ident; $k:ident) => {
        schema::$t::$k.gt($last.$k.clone())
    };
    ($t:ident, $last:ident; $k:ident, $($rest:ident),+) => {
        schema::$t::$k.gt($last.$k.clone()).or(
            schema::$t::$k.eq($last.$k.clone()).and(after!($t, $last; $($rest),+)),
        )
    };
}

/// One [`Table`] per line: `table: RowType, key(columns…)[, identity column];`.
/// The row type must carry every column (checked before anything is written).
macro_rules! tables {
    ($( $t:ident : $row:ty, key($k1:ident $(, $k:ident)*) $(, identity $id:ident)? ; )*) => {
        $(
            #[allow(non_camel_case_types)]
            struct $t;

            impl $t {
                /// The page after `last`, in key order.
                fn page(c: &mut Conn, last: Option<&$row>) -> AppResult<Vec<$row>> {
                    Ok(with_conn!(c, c => {
                        let mut q = schema::$t::table
                            .select(<$row>::as_select())
                            .order_by(schema::$t::$k1.asc())
                            $(.then_order_by(schema::$t::$k.asc()))*
                            .limit(PAGE)
                            .into_boxed();
                        if let Some(last) = last {
                            q = q.filter(after!($t, last; $k1 $(, $k)*));
                        }
                        q.load::<$row>(c)
                    })?)
                }

                /// Runs `f` on every page of `c`; tallies the rows.
                fn scan(
                    c: &mut Conn,
                    mut f: impl FnMut(&[$row]) -> AppResult<()>,
                ) -> AppResult<Tally> {
                    let mut tally = Tally::default();
                    let mut last: Option<$row> = None;
                    loop {
                        let rows = Self::page(c, last.as_ref())?;
                        rows.iter().for_each(|r| tally.add(r));
                        f(&rows)?;
                        if (rows.len() as i64) < PAGE {
                            return Ok(tally);
                        }
                        last = rows.into_iter().last();
                    }
                }
            }

            impl Table for $t {
                fn name(&self) -> &'static str {
                    stringify!($t)
                }

                fn identity(&self) -> Option<&'static str> {
                    None $(.or(Some(stringify!($id))))?
                }

                fn columns(&self) -> BTreeSet<String> {
                    select_list(&diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                        &schema::$t::table.select(schema::$t::all_columns),
                    ).to_string())
                }

                fn carried(&self) -> BTreeSet<String> {
                    select_list(&diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                        &schema::$t::table.select(<$row>::as_select()),
                    ).to_string())
                }

                fn count(&self, c: &mut Conn) -> AppResult<i64> {
                    Ok(with_conn!(c, c => schema::$t::table.count().get_result::<i64>(c))?)
                }

                fn copy(&self, from: &mut Conn, to: &mut Conn) -> AppResult<Tally> {
                    let chunk = (MAX_BINDS / self.columns().len().max(1)).max(1);
                    Self::scan(from, |rows| {
                        for part in rows.chunks(chunk) {
                            with_conn!(to, c => diesel::insert_into(schema::$t::table).values(part).execute(c))?;
                        }
                        Ok(())
                    })
                }

                fn tally(&self, c: &mut Conn) -> AppResult<Tally> {
                    Self::scan(c, |_| Ok(()))
                }
            }
        )*

        /// Every table that is moved, in the order it is copied (a closure before
        /// its decisions). `log_state`, the sequencer's one row, is not a copy
        /// but a translation: see [`super::watermark()`].
        pub static TABLES: &[&dyn Table] = &[$(&$t),*];
    };
}

tables! {
    users: UserRow, key(id);
    login_failures: LoginFailureRow, key(id), identity id;
    login_throttles: LoginThrottleRow, key(username);
    closures: ClosureRow, key(id);
    decisions: KeyedDecisionRow, key(id), identity id;
    volumes: VolumeRow, key(force_id, division, month, offence_category);
    audit_events: EventRow, key(seq), identity seq;
    merkle_leaves: LeafRow, key(leaf_index);
    checkpoints: CheckpointRow, key(tree_size);
    cosignatures: CosignatureRow, key(tree_size, witness, key_id);
    webhook_subscriptions: SubscriptionRow, key(id);
    webhook_messages: MessageRow, key(id), identity id;
    webhook_deliveries: DeliveryRow, key(seq), identity seq;
}

/// Tables the sequencer, the trend cache or diesel keep that are not data to
/// copy (`trend_versions` only tells a process when its cached trend tables are
/// stale; the target starts its own). The tiles are not copied either: they
/// follow from the leaves, and the target's first start builds them from the
/// copied leaf hashes (its `log_state.tree_size` starts at 0), so that the
/// copy cannot carry a tile that disagrees with its leaves. `witness_status`
/// is what the witness client learns again by asking (the cosignatures
/// themselves are copied). `sessions` are the pages' sign-ins: after a move
/// people sign in again. The trend summary (`trend_cells`, `trend_hours`)
/// follows from the closures: it is built again from the copied closures
/// ([`crate::db::trend_summary::rebuild`]), not carried.
pub const NOT_COPIED: [&str; 9] = [
    "log_state",
    "witness_status",
    "trend_versions",
    "trend_cells",
    "trend_hours",
    "merkle_tiles",
    "merkle_tile_tails",
    "sessions",
    "__diesel_schema_migrations",
];

// Row types for the tables whose own row types leave out a column on insert
// (the key the database assigns), or that have none.

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = schema::login_failures)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct LoginFailureRow {
    pub id: i64,
    pub username: String,
    pub at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = schema::login_throttles)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct LoginThrottleRow {
    pub username: String,
    pub since: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_type_carries_every_column() {
        for t in TABLES {
            assert!(!t.columns().is_empty(), "{}", t.name());
            assert_eq!(t.columns(), t.carried(), "{}", t.name());
        }
        assert!(
            TABLES[0].columns().contains("password_hash"),
            "{:?}",
            TABLES[0].columns()
        );
    }
}
