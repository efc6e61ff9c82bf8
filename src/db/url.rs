//! Choosing the backend from the database URL's scheme.
//!
//! A typo must be a start-up error, never a silently created empty SQLite file.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://` followed by a relative or absolute file path.
    Sqlite { path: PathBuf },
    /// A libpq URL, `postgres://` or `postgresql://`.
    Postgres { url: String },
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.ends_with('/') {
                return Err(format!(
                    "database URL {url:?} names no file: use sqlite://./data/closure-audit.db"
                ));
            }
            if path.starts_with("file:") || path == ":memory:" || path.contains('?') {
                return Err(format!(
                    "database URL {url:?}: give a plain file path (an in-memory database would lose everything)"
                ));
            }
            return Ok(DatabaseUrl::Sqlite {
                path: PathBuf::from(path),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres {
                url: url.to_string(),
            });
        }
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or(url);
        Err(format!(
            "unknown database URL scheme {scheme:?} in {:?}: use sqlite://<path> or postgres://…",
            redact(url)
        ))
    }

    /// The URL with any password hidden, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => redact(url),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite { .. } => "sqlite",
            DatabaseUrl::Postgres { .. } => "postgres",
        }
    }
}

/// `scheme://user:secret@host` → `scheme://user:***@host`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// An SQLite URI that opens an existing file for reading and writing but never
/// creates one, so that a vanished file is an error, not a new empty database.
pub fn sqlite_uri(path: &std::path::Path, create: bool) -> String {
    let mut encoded = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => encoded.push_str("%25"),
            '?' => encoded.push_str("%3f"),
            '#' => encoded.push_str("%23"),
            c => encoded.push(c),
        }
    }
    format!("file:{encoded}?mode={}", if create { "rwc" } else { "rw" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/x.db").unwrap(),
            DatabaseUrl::Sqlite {
                path: "./data/x.db".into()
            }
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/x.db").unwrap(),
            DatabaseUrl::Sqlite {
                path: "/var/lib/x.db".into()
            }
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres { .. }
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres { .. }
        ));
        for bad in [
            "sqllite://x.db",
            "sqlite:/x.db",
            "x.db",
            "mysql://h/db",
            "sqlite://",
            "sqlite://:memory:",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn redacts_passwords() {
        let u = DatabaseUrl::parse("postgres://app:hunter2@db:5432/x").unwrap();
        assert_eq!(u.redacted(), "postgres://app:***@db:5432/x");
        let err = DatabaseUrl::parse("postgress://app:hunter2@db/x").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn uri_escapes() {
        assert_eq!(
            sqlite_uri("/a/b?.db".as_ref(), false),
            "file:/a/b%3f.db?mode=rw"
        );
        assert_eq!(sqlite_uri("./x.db".as_ref(), true), "file:./x.db?mode=rwc");
    }
}
