//! The sequencer's watermark, translated for the target.

use super::Num;
use crate::db::schema::log_state;
use crate::db::{Conn, log as store};
use crate::error::AppResult;
use diesel::prelude::*;

/// Sets the sequencer's watermark in the target; returns it.
///
/// On PostgreSQL the watermark is a transaction id, which means nothing in
/// another database. It becomes the target's own horizon, taken inside the
/// copy's transaction: every transaction below it has ended (and wrote no event,
/// or the target would not have been empty), the copied events carry the copy's
/// transaction id, which is not below it, and every later event carries a
/// later one. So the sequencer looks at the copied events once: those with a
/// leaf are skipped (it integrates only events without one), those without are
/// integrated in `seq` order, and every event written after the move is
/// integrated as usual. SQLite does not read the watermark: the source's value
/// is kept.
pub fn watermark(src: &mut Conn, dst: &mut Conn) -> AppResult<i64> {
    let value = match dst {
        Conn::Postgres(c) => {
            diesel::sql_query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS v")
                .get_result::<Num>(*c)?
                .v
        }
        Conn::Sqlite(_) => crate::db::with_conn!(src, c => log_state::table
            .find(1)
            .select(log_state::watermark)
            .first::<i64>(c)
            .optional())?
        .unwrap_or(0),
    };
    store::set_watermark(dst, value)?;
    Ok(value)
}
