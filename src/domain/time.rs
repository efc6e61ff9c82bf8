//! Instants as the service stores and shows them: microseconds since the epoch,
//! and RFC 3339 in UTC.

/// Now, in microseconds since the epoch.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A stored timestamp as RFC 3339 in UTC (`2026-11-28T09:15:00Z`, with
/// fractional seconds only when there are some).
pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}
