//! Why the current state refuses a change (409): each with a stable code, the
//! last part of the problem `type` (README, "Refusal codes").

/// A change the current state forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clash {
    /// The closure was decided already: only one awaiting sign-off, or reopened, is decided.
    AlreadyDecided,
    /// Only a signed-off or rejected closure can be reopened.
    NotDecided,
    /// `expected_version` is not the closure's version.
    StaleVersion,
    /// Another change to the same thing committed first.
    ConcurrentChange,
    /// The `source_event_id` was posted before for this force with other content.
    IdempotencyKeyReused,
    /// A concurrent post of the same `source_event_id` had not settled.
    PostNotSettled,
    /// The change would leave no active admin.
    LastActiveAdmin,
    /// The user name is taken.
    UsernameTaken,
    /// `migrate-data` refuses its source or target as they stand.
    MigrationRefused,
    /// The event a receipt is for is not yet in a signed checkpoint.
    NotYetCheckpointed,
    /// The force holds as many webhook subscriptions as it may.
    TooManySubscriptions,
}

impl Clash {
    pub const ALL: [Clash; 11] = [
        Clash::AlreadyDecided,
        Clash::NotDecided,
        Clash::StaleVersion,
        Clash::ConcurrentChange,
        Clash::IdempotencyKeyReused,
        Clash::PostNotSettled,
        Clash::LastActiveAdmin,
        Clash::UsernameTaken,
        Clash::MigrationRefused,
        Clash::NotYetCheckpointed,
        Clash::TooManySubscriptions,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Clash::AlreadyDecided => "already_decided",
            Clash::NotDecided => "not_decided",
            Clash::StaleVersion => "stale_version",
            Clash::ConcurrentChange => "concurrent_change",
            Clash::IdempotencyKeyReused => "idempotency_key_reused",
            Clash::PostNotSettled => "post_not_settled",
            Clash::LastActiveAdmin => "last_active_admin",
            Clash::UsernameTaken => "username_taken",
            Clash::MigrationRefused => "migration_refused",
            Clash::NotYetCheckpointed => "not_yet_checkpointed",
            Clash::TooManySubscriptions => "too_many_subscriptions",
        }
    }

    /// What the code means, for the README and the OpenAPI document.
    pub fn meaning(self) -> &'static str {
        match self {
            Clash::AlreadyDecided => {
                "the closure is decided already (signed off or rejected); reopen it first"
            }
            Clash::NotDecided => "only a signed-off or rejected closure can be reopened",
            Clash::StaleVersion => {
                "expected_version is not the closure's current version: someone else changed it first"
            }
            Clash::ConcurrentChange => {
                "another change to the same record committed first; read it again and retry"
            }
            Clash::IdempotencyKeyReused => {
                "this source_event_id was posted before for this force with different content"
            }
            Clash::PostNotSettled => {
                "a concurrent post of the same source_event_id had not settled; retry"
            }
            Clash::LastActiveAdmin => "the change would leave no active admin",
            Clash::UsernameTaken => "the user name is taken",
            Clash::MigrationRefused => {
                "migrate-data refuses the source or target as it stands; nothing was written"
            }
            Clash::NotYetCheckpointed => {
                "the event is not yet in a signed checkpoint; ask again in a second"
            }
            Clash::TooManySubscriptions => {
                "the force holds as many webhook subscriptions as it may (20); delete one first"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let codes: std::collections::HashSet<_> = Clash::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), Clash::ALL.len());
    }
}
