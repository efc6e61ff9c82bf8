//! Exports and reports: streamed CSV that is safe to open in a spreadsheet,
//! trend tables, outliers and the funnel plot.

pub mod closures_csv;
pub mod months;
pub mod outliers;
pub mod produce;
pub mod stream;
pub mod svg;
pub mod trend_cache;
pub mod trends;

fn is_formula_start(b: Option<&u8>) -> bool {
    matches!(b, Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// Whether `cell` is some `'` (maybe none) followed by a formula character:
/// the cells [`neutralize`] prefixes.
fn needs_prefix(cell: &str) -> bool {
    is_formula_start(cell.trim_start_matches('\'').as_bytes().first())
}

/// Neutralises a cell for spreadsheets: one that begins with `=`, `+`, `-`, `@`,
/// tab or carriage return is prefixed with `'` (API.md, "Exports"). So that
/// [`restore`] is an exact inverse, text that already begins with quotes and
/// then one of those characters (`'=x`) gets one more quote as well.
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_prefix(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The exact inverse of [`neutralize`], for tools that read the CSV back.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_prefix(cell) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_restored() {
        for s in ["=SUM(A1)", "+1", "-5", "@cmd", "\tx", "\rx"] {
            let n = neutralize(s);
            assert!(n.starts_with('\''), "{s}");
            assert_eq!(restore(&n), s);
        }
        for s in ["plain", "", "12", "{\"a\":1}", "'quoted", "'"] {
            assert_eq!(neutralize(s), s);
            assert_eq!(restore(&neutralize(s)), s);
        }
        // Text that itself begins with quotes before a formula character.
        for s in ["'=x", "''-1", "'\tx"] {
            assert_eq!(neutralize(s), format!("'{s}"));
            assert_eq!(restore(&neutralize(s)), s);
        }
    }
}
