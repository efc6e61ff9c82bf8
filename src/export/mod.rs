//! Exports and reports: streamed CSV that is safe to open in a spreadsheet,
//! trend tables, outliers and the funnel plot.

pub mod closures_csv;
pub mod outliers;
pub mod produce;
pub mod stream;
pub mod svg;
pub mod trends;

/// Neutralises a cell for spreadsheets: one that begins with `=`, `+`, `-`, `@`,
/// tab or carriage return is prefixed with `'`. A cell that already begins with
/// `'` is prefixed too, so that [`restore`] gives back exactly what was written.
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The inverse of [`neutralize`], for tools that read the CSV back.
pub fn restore(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_restored() {
        for s in ["=SUM(A1)", "+1", "-5", "@cmd", "\tx", "\rx", "'quoted"] {
            let n = neutralize(s);
            assert!(n.starts_with('\''), "{s}");
            assert_eq!(restore(&n), s);
        }
        for s in ["plain", "", "12", "{\"a\":1}"] {
            assert_eq!(neutralize(s), s);
            assert_eq!(restore(&neutralize(s)), s);
        }
    }
}
