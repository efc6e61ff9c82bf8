//! A short-lived cache of users for the ingest endpoints, where a force system
//! may post thousands of closures a second with one token.
//!
//! A cached user is only ever a first opinion: the transaction that stores the
//! closures reads the user's `active` flag and token generation again and refuses
//! the request if either changed (see [`crate::service::ingest`]). So a
//! deactivation or a new password takes effect at once there too; the cache only
//! spares each request a database read before validation.

use crate::db::users::UserRow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many users are kept; past it the cache starts again empty.
const MAX_ENTRIES: usize = 10_000;

pub struct UserCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, UserRow)>>,
}

impl UserCache {
    /// A cache whose entries live `ttl`; a zero `ttl` caches nothing.
    pub fn new(ttl: Duration) -> UserCache {
        UserCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, id: &str) -> Option<UserRow> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, row)| row.clone())
    }

    pub fn put(&self, row: &UserRow) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(row.id.clone(), (Instant::now(), row.clone()));
    }

    /// Drops what is known of `id` (after a change to the user).
    pub fn forget(&self, id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserRow {
        UserRow {
            id: id.into(),
            username: id.into(),
            display_name: id.into(),
            role: "force_system".into(),
            rank: None,
            officer_id: None,
            force_id: Some("kent".into()),
            active: true,
            password_hash: String::new(),
            token_generation: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn entries_live_for_the_ttl_and_can_be_forgotten() {
        let cache = UserCache::new(Duration::from_millis(50));
        cache.put(&user("a"));
        assert_eq!(cache.get("a").map(|u| u.id), Some("a".to_string()));
        cache.forget("a");
        assert!(cache.get("a").is_none());
        cache.put(&user("b"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("b").is_none());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = UserCache::new(Duration::ZERO);
        cache.put(&user("a"));
        assert!(cache.get("a").is_none());
    }
}
