//! Typed settings: the defaults of `config/default.toml` (compiled in), then an
//! optional file, then `CLOSURE_AUDIT_*` environment variables, which win.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The documented defaults: the repository's `config/default.toml`, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The prefix of every environment variable that sets a setting.
pub const ENV_PREFIX: &str = "CLOSURE_AUDIT";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub bind: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub jwt_secret: Option<String>,
    pub token_ttl_seconds: u64,
    pub auth_cache_ms: u64,
    pub admin_password: Option<String>,
    pub login_max_failures: u32,
    pub login_window_seconds: u64,
    /// A page session's longest life, from sign-in.
    pub ui_session_hours: u64,
    /// A page session ends after this long without a request.
    pub ui_idle_minutes: u64,
    /// Days a closure may await sign-off before the queue marks it overdue.
    pub signoff_due_days: u64,
    pub max_body_bytes: usize,
    pub max_batch_body_bytes: usize,
    pub page_limit_default: u32,
    pub page_limit_max: u32,
    pub db_pool_size: u32,
    pub db_connect_timeout_ms: u64,
    pub ingest_writers: usize,
    pub ingest_queue: usize,
    pub sqlite_busy_timeout_ms: u64,
    pub log_origin: String,
    pub checkpoint_key_file: Option<PathBuf>,
    pub checkpoint_previous_keys: String,
    pub sequencer_interval_ms: u64,
    pub sequencer_enabled: bool,
    /// Events one sequencer round integrates at most (one transaction).
    pub sequencer_round_events: u32,
    /// `/log`'s checkpoint and hash tiles are readable without a token.
    pub log_public: bool,
    /// A C2SP tlog-policy file naming the witnesses to ask for cosignatures.
    pub witness_policy: Option<std::path::PathBuf>,
    pub workers: usize,
    pub shutdown_timeout_seconds: u64,
    pub log_format: LogFormat,
    pub log_level: String,
    /// `closure-audit witness`: its state database (default `<data_dir>/witness.db`).
    pub witness_database_url: Option<String>,
    /// The witness's cosignature key name.
    pub witness_name: Option<String>,
    /// The witness's Ed25519 seed (hex); default `<data_dir>/witness-key`.
    pub witness_key_file: Option<PathBuf>,
    /// Comma-separated C2SP verifier keys of the logs the witness accepts.
    pub witness_logs: String,
    /// Hosts (names or addresses) webhook URLs may name, comma-separated; empty: none.
    pub webhook_allowed_hosts: String,
    /// The wait before a delivery's first retry, in milliseconds.
    pub webhook_retry_base_ms: u64,
    /// How long after its first attempt a delivery is retried, in hours.
    pub webhook_retry_hours: f64,
    /// Whether this instance runs a delivery worker.
    pub webhook_delivery: bool,
    /// How often the worker looks for due deliveries when not woken, in milliseconds.
    pub webhook_poll_ms: u64,
    /// How long a worker holds a subscription it claimed, in seconds.
    pub webhook_lease_seconds: u64,
    /// How many subscriptions a worker delivers to at once.
    pub webhook_concurrency: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, String> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given (tests pass their own).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, String> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let prefix = format!("{ENV_PREFIX}_");
        let known = known_keys();
        for (k, v) in env {
            let Some(key) = k.strip_prefix(&prefix) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            // Other tools' variables that share the prefix are not ours to judge.
            if known.contains(&key.as_str()) {
                builder = builder.set_override(key, v).map_err(|e| e.to_string())?;
            }
        }
        let settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| format!("invalid configuration: {e}"))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), String> {
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            return Err(format!(
                "jwt_secret (CLOSURE_AUDIT_JWT_SECRET) is {} bytes; it must be at least 32",
                secret.len()
            ));
        }
        if self.page_limit_default == 0 || self.page_limit_default > self.page_limit_max {
            return Err("page_limit_default must be between 1 and page_limit_max".into());
        }
        if self.token_ttl_seconds == 0 {
            return Err("token_ttl_seconds must be positive".into());
        }
        if self.ui_session_hours == 0 || self.ui_idle_minutes == 0 {
            return Err("ui_session_hours and ui_idle_minutes must be positive".into());
        }
        if !(1..=100_000).contains(&self.sequencer_round_events) {
            return Err("sequencer_round_events must be between 1 and 100000".into());
        }
        if self.ingest_queue == 0 {
            return Err("ingest_queue must be at least 1".into());
        }
        if self.db_pool_size == 0 {
            return Err("db_pool_size must be at least 1".into());
        }
        if !(self.webhook_retry_hours > 0.0 && self.webhook_retry_hours <= 24.0 * 30.0) {
            return Err("webhook_retry_hours must be above 0 and at most 720".into());
        }
        if self.webhook_retry_base_ms == 0 || self.webhook_poll_ms == 0 {
            return Err("webhook_retry_base_ms and webhook_poll_ms must be at least 1".into());
        }
        if self.webhook_lease_seconds < MIN_WEBHOOK_LEASE_SECONDS {
            return Err(format!(
                "webhook_lease_seconds must be at least {MIN_WEBHOOK_LEASE_SECONDS} (a delivery may take 10 s)"
            ));
        }
        if self.webhook_concurrency == 0 {
            return Err("webhook_concurrency must be at least 1".into());
        }
        Ok(())
    }
}

/// The shortest lease a webhook worker may hold: above one delivery's 10 s timeout.
pub const MIN_WEBHOOK_LEASE_SECONDS: u64 = 15;

/// The keys of `config/default.toml`, commented-out ones included.
pub fn known_keys() -> Vec<&'static str> {
    DEFAULT_TOML
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://./data/closure-audit.db");
        assert_eq!(s.token_ttl_seconds, 3600);
        assert_eq!(s.login_max_failures, 5);
        assert_eq!(s.max_body_bytes, 1 << 20);
        assert!(s.jwt_secret.is_none());
    }

    #[test]
    fn environment_wins() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("CLOSURE_AUDIT_BIND", "0.0.0.0:0"),
                ("CLOSURE_AUDIT_TOKEN_TTL_SECONDS", "60"),
                ("CLOSURE_AUDIT_ADMIN_PASSWORD", "123456789012345"),
                ("CLOSURE_AUDIT_SOMETHING_ELSE", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(s.bind, "0.0.0.0:0");
        assert_eq!(s.token_ttl_seconds, 60);
        assert_eq!(s.admin_password.as_deref(), Some("123456789012345"));
    }

    #[test]
    fn short_secret_refused() {
        let err = Settings::load_with_env(None, env(&[("CLOSURE_AUDIT_JWT_SECRET", "short")]))
            .unwrap_err();
        assert!(err.contains("at least 32"), "{err}");
    }

    #[test]
    fn every_setting_is_documented() {
        let keys = known_keys();
        for k in [
            "bind",
            "database_url",
            "data_dir",
            "jwt_secret",
            "admin_password",
            "token_ttl_seconds",
            "log_level",
        ] {
            assert!(keys.contains(&k), "{k} missing from config/default.toml");
        }
    }
}
