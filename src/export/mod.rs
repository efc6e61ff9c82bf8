//! Exports and reports: streamed CSV that is safe to open in a spreadsheet,
//! trend tables, outliers and the funnel plot.

pub mod closures_csv;
pub mod outliers;
pub mod produce;
pub mod stream;
pub mod svg;
pub mod trend_cache;
pub mod trends;

fn is_formula_start(b: Option<&u8>) -> bool {
    matches!(b, Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// Neutralises a cell for spreadsheets: one that begins with `=`, `+`, `-`, `@`,
/// tab or carriage return is prefixed with `'` (API.md, "Exports").
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    if is_formula_start(cell.as_bytes().first()) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The inverse of [`neutralize`], for tools that read the CSV back: a leading
/// `'` is dropped where it stands before one of those characters. (A value that
/// itself began with `'` and then one of them cannot be told apart; no column
/// the service writes begins with `'` except text a person typed.)
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if is_formula_start(rest.as_bytes().first()) => rest,
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
        for s in ["plain", "", "12", "{\"a\":1}", "'quoted"] {
            assert_eq!(neutralize(s), s);
            assert_eq!(restore(&neutralize(s)), s);
        }
    }
}
