//! Reading a JSON body into the domain's drafts, field by field.
//!
//! serde's derive stops at the first bad field; the contract wants every failing
//! field in one 422. So a body is read as `serde_json::Value` and each field taken
//! as a [`Given`]: absent, null, a value of the kind the field takes, or another
//! kind. The domain then judges them all (`crate::domain::validation`). Unknown
//! fields are ignored.

use crate::domain::validation::{FieldError, FieldRule, Given};
use serde_json::{Map, Value as Json};

/// One JSON object being read.
#[derive(Clone, Copy)]
pub struct Body<'a>(&'a Map<String, Json>);

impl<'a> Body<'a> {
    /// The body itself: it must be a JSON object.
    pub fn root(body: &'a Json) -> Result<Body<'a>, Vec<FieldError>> {
        match body {
            Json::Object(map) => Ok(Body(map)),
            _ => Err(vec![FieldError::new(
                "body",
                FieldRule::WrongType,
                "must be a JSON object",
            )]),
        }
    }

    fn given<T>(&self, key: &str, read: impl FnOnce(&'a Json) -> Option<T>) -> Given<T> {
        match self.0.get(key) {
            None => Given::Absent,
            Some(Json::Null) => Given::Null,
            Some(v) => read(v).map_or(Given::OtherKind, Given::Value),
        }
    }

    pub fn text(&self, key: &str) -> Given<String> {
        self.given(key, |v| v.as_str().map(str::to_owned))
    }

    pub fn flag(&self, key: &str) -> Given<bool> {
        self.given(key, Json::as_bool)
    }

    pub fn whole(&self, key: &str) -> Given<i64> {
        self.given(key, Json::as_i64)
    }

    /// A nested object, read by `read`.
    pub fn object<T>(&self, key: &str, read: impl FnOnce(Body<'a>) -> T) -> Given<T> {
        self.given(key, |v| v.as_object().map(|m| read(Body(m))))
    }

    /// An array of strings, each item judged on its own.
    pub fn texts(&self, key: &str) -> Given<Vec<Given<String>>> {
        self.given(key, |v| {
            v.as_array().map(|items| {
                items
                    .iter()
                    .map(|item| match item {
                        Json::Null => Given::Null,
                        Json::String(s) => Given::Value(s.clone()),
                        _ => Given::OtherKind,
                    })
                    .collect()
            })
        })
    }

    /// Each of `keys` as true or false, in order.
    pub fn flags<const N: usize>(&self, keys: [&str; N]) -> [Given<bool>; N] {
        keys.map(|k| self.flag(k))
    }
}
