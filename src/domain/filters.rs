//! Which closures a list, an export or a report asks for.

/// The filters of the closure list (and of the closures export and reports).
#[derive(Debug, Clone, Default)]
pub struct ClosureFilter {
    pub force_id: Option<String>,
    pub status: Option<String>,
    pub division: Option<String>,
    pub outcome_code: Option<i32>,
    pub offence_category: Option<String>,
    /// On `closure_proposed_at`: from inclusive, to exclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
}
