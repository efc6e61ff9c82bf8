//! The checks after the copy: every table read back, the log verified as
//! `GET /audit/verify` does it.

use super::Ctx;
use super::tables::{self, PAGE, Tally};
use crate::audit::merkle::{Tree, from_hex};
use crate::audit::verify::{Report, WitnessFile, verify_stored};
use crate::db::{Conn, log as store};
use crate::error::{AppError, AppResult};

/// Read back: the target holds exactly what was read from the source.
pub(super) fn read_back(dst: &mut Conn, tallies: &[(&dyn tables::Table, Tally)]) -> AppResult<()> {
    for (t, read) in tallies {
        let stored = t.tally(dst)?;
        if stored != *read {
            return Err(AppError::Internal(format!(
                "{} does not match after the copy: {} rows read from the source, {} in the target{}; nothing was written",
                t.name(),
                read.rows,
                stored.rows,
                if read.rows == stored.rows {
                    " with different contents"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}

/// The log, verified as `GET /audit/verify` does it (and, when it fails, the
/// source too, to tell a defect of the copy from a source that was already bad).
pub(super) fn log(src: &mut Conn, dst: &mut Conn, ctx: &Ctx) -> AppResult<Report> {
    // The source's service is stopped: every line of its witness file counts.
    let witness = WitnessFile::measure(ctx.witness);
    let report = verify_stored(dst, Some(&witness), &ctx.keys.trusted)?.report();
    if !report.ok {
        let source = verify_stored(src, Some(&witness), &ctx.keys.trusted)?.report();
        let why = if source.ok {
            "the source verifies, so the copy differs: this is a defect".to_string()
        } else if source.detail == report.detail {
            format!(
                "the source does not verify either, in the same way (with the key {} and the witness file {})",
                ctx.keys
                    .missing
                    .as_ref()
                    .map(|p| format!("{} (missing)", p.display()))
                    .unwrap_or_else(|| "of the settings".into()),
                ctx.witness.display()
            )
        } else {
            format!("the source does not verify either: {}", source.detail)
        };
        return Err(AppError::Internal(format!(
            "the moved log does not verify: {} (first bad event seq {}); {why}; nothing was written",
            report.detail,
            report
                .first_bad_seq
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into())
        )));
    }
    Ok(report)
}

/// The tree of the leaves stored in `c`.
pub(super) fn tree_of(c: &mut Conn) -> AppResult<Tree> {
    let mut tree = Tree::new();
    loop {
        let rows = store::leaves_from(c, tree.size() as i64, PAGE)?;
        if rows.is_empty() {
            return Ok(tree);
        }
        for r in rows {
            tree.push(from_hex(&r.leaf_hash).ok_or_else(|| {
                AppError::Internal(format!("leaf {} is not a hash", r.leaf_index))
            })?);
        }
    }
}
