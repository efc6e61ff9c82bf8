//! Query parameters shared by the lists: page limits, opaque cursors, time filters.

use crate::domain::FieldRule;
use crate::error::{AppError, AppResult};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `limit`, defaulting to `default`, 422 outside 1..=`max`.
pub fn page_limit(limit: Option<i64>, default: u32, max: u32) -> AppResult<i64> {
    match limit {
        None => Ok(default as i64),
        Some(n) if n >= 1 && n <= max as i64 => Ok(n),
        Some(_) => Err(AppError::field(
            "limit",
            FieldRule::OutOfRange,
            format!("must be between 1 and {max}"),
        )),
    }
}

/// An opaque cursor for the key of the last row of a page.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The key inside a cursor; 400 when it is not one this service made.
pub fn decode_cursor(cursor: &str) -> AppResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AppError::BadRequest("the cursor is not one this service issued".into()))
}

/// Builds a page from `limit + 1` fetched rows: the extra row only says that
/// there is more.
pub fn paginate<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    key: impl Fn(&R) -> String,
    view: impl Fn(&R) -> T,
) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| encode_cursor(&key(r)))
    } else {
        None
    };
    Page {
        items: rows.iter().map(view).collect(),
        next_cursor,
    }
}

/// The id in a path. Text holding U+0000 names nothing (404) and is kept away
/// from the database, where PostgreSQL cannot even compare it.
pub fn path_id(id: String, not_found: &str) -> AppResult<String> {
    if id.contains('\0') {
        return Err(AppError::NotFound(not_found.into()));
    }
    Ok(id)
}

/// Query parameters compared in the database: 400 when one holds U+0000.
/// Needed before a streamed export starts, when no status can change any more.
pub fn searchable<'a>(
    params: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> AppResult<()> {
    for (name, value) in params {
        if value.is_some_and(|v| v.contains('\0')) {
            return Err(AppError::BadRequest(format!(
                "{name} must not contain the NUL character (U+0000)"
            )));
        }
    }
    Ok(())
}

pub use crate::service::filters::parse_instant;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(page_limit(None, 50, 500).unwrap(), 50);
        assert_eq!(page_limit(Some(500), 50, 500).unwrap(), 500);
        assert!(page_limit(Some(501), 50, 500).is_err());
        assert!(page_limit(Some(0), 50, 500).is_err());
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(
            decode_cursor(&encode_cursor("0193-abc")).unwrap(),
            "0193-abc"
        );
        assert!(decode_cursor("!!").is_err());
    }

    #[test]
    fn nul_characters() {
        assert!(path_id("a\0".into(), "no such closure").is_err());
        assert_eq!(path_id("a".into(), "x").unwrap(), "a");
        assert!(searchable([("division", Some("N\0"))]).is_err());
        assert!(searchable([("division", None), ("action", Some("x"))]).is_ok());
    }
}
