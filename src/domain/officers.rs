//! Officer ids (a force's collar or warrant numbers), and the one rule of how two
//! of them are compared: separation of duties depends on it (API.md, "Roles and
//! scope"), so no face compares officer ids in any other way.

/// Length of an officer id, in characters.
pub const OFFICER_ID_LEN: (usize, usize) = (1, 32);

/// Why an officer id is refused, if it is: an id that begins or ends with
/// whitespace would let `"2210 "` pass as another officer than `2210`.
pub fn officer_id_problem(id: &str) -> Option<&'static str> {
    if id.trim() != id {
        Some("must not begin or end with whitespace")
    } else {
        None
    }
}

/// Whether two officer ids name the same officer: ids compare ignoring letter case.
pub fn same_officer(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_at_either_end_is_refused() {
        assert_eq!(officer_id_problem("2210"), None);
        assert_eq!(officer_id_problem("AB 12"), None);
        for bad in ["2210 ", " 2210", "2210\t", "\u{a0}2210", "2210\n"] {
            assert!(officer_id_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn ids_compare_ignoring_case() {
        assert!(same_officer("ab12", "AB12"));
        assert!(same_officer("2210", "2210"));
        assert!(same_officer("Ölaf", "öLAF"));
        assert!(!same_officer("2210", "2211"));
        assert!(!same_officer("2210", "2210 "));
    }
}
