//! Which closures or events a list, an export or a report asks for.

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

/// Which events to list, as the caller asked (instants in microseconds).
#[derive(Debug, Clone, Default)]
pub struct EventSearch {
    pub closure_id: Option<String>,
    /// The acting user's id.
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only events after this `seq`.
    pub after_seq: Option<i64>,
}

/// The events a page holds: what was asked, within the caller's scope.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub search: EventSearch,
    /// Events of this force only (a force auditor's scope): the event's force, or
    /// its actor's force.
    pub force_scope: Option<String>,
}
