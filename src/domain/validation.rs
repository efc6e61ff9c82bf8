//! Reading a JSON body field by field while collecting every failing field at once.
//!
//! serde's derive stops at the first bad field; the contract wants all of them in
//! one 422, named by dotted path (`evidence.risk_level`). So bodies are read as
//! `serde_json::Value` and picked apart here. Unknown fields are ignored.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's dotted path, e.g. `evidence.risk_level`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The errors found so far in one body.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
    /// `Ok(value)` when nothing failed, else every error found.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// One JSON object being read, with the dotted path that leads to it.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    /// The body itself: it must be a JSON object.
    pub fn root(body: &'a Value) -> Result<Fields<'a>, Vec<FieldError>> {
        match body {
            Value::Object(map) => Ok(Fields { map, prefix: "" }),
            _ => Err(vec![FieldError::new("body", "must be a JSON object")]),
        }
    }

    /// The dotted name of `key` inside this object.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The value of `key`, treating JSON `null` as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Whether the key is present at all (even as `null`), for PATCH bodies.
    pub fn is_present(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn str_value(
        &self,
        key: &str,
        v: &Value,
        len: (usize, usize),
        errs: &mut Errors,
    ) -> Option<String> {
        let Some(s) = v.as_str() else {
            errs.add(self.path(key), "must be a string");
            return None;
        };
        // PostgreSQL text cannot hold U+0000; refused alike on both backends.
        if s.contains('\0') {
            errs.add(
                self.path(key),
                "must not contain the NUL character (U+0000)",
            );
            return None;
        }
        let n = s.chars().count();
        if n < len.0 || n > len.1 {
            let msg = if len.0 == len.1 {
                format!("must be {} characters", len.0)
            } else if n < len.0 && len.0 == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be between {} and {} characters", len.0, len.1)
            };
            errs.add(self.path(key), msg);
            return None;
        }
        Some(s.to_string())
    }

    /// A required string of `len.0..=len.1` characters.
    pub fn required_str(
        &self,
        key: &str,
        len: (usize, usize),
        errs: &mut Errors,
    ) -> Option<String> {
        match self.get(key) {
            None => {
                errs.add(self.path(key), "is required");
                None
            }
            Some(v) => self.str_value(key, v, len, errs),
        }
    }

    /// An optional string; absent and `null` are both `None`.
    pub fn optional_str(
        &self,
        key: &str,
        len: (usize, usize),
        errs: &mut Errors,
    ) -> Option<String> {
        self.get(key)
            .and_then(|v| self.str_value(key, v, len, errs))
    }

    pub fn required_bool(&self, key: &str, errs: &mut Errors) -> Option<bool> {
        match self.get(key) {
            None => {
                errs.add(self.path(key), "is required");
                None
            }
            Some(v) => self.bool_value(key, v, errs),
        }
    }

    pub fn optional_bool(&self, key: &str, errs: &mut Errors) -> Option<bool> {
        self.get(key).and_then(|v| self.bool_value(key, v, errs))
    }

    fn bool_value(&self, key: &str, v: &Value, errs: &mut Errors) -> Option<bool> {
        let b = v.as_bool();
        if b.is_none() {
            errs.add(self.path(key), "must be true or false");
        }
        b
    }

    /// A required whole number.
    pub fn required_i64(&self, key: &str, errs: &mut Errors) -> Option<i64> {
        match self.get(key) {
            None => {
                errs.add(self.path(key), "is required");
                None
            }
            Some(v) => self.i64_value(key, v, errs),
        }
    }

    pub fn optional_i64(&self, key: &str, errs: &mut Errors) -> Option<i64> {
        self.get(key).and_then(|v| self.i64_value(key, v, errs))
    }

    fn i64_value(&self, key: &str, v: &Value, errs: &mut Errors) -> Option<i64> {
        let n = v.as_i64();
        if n.is_none() {
            errs.add(self.path(key), "must be a whole number");
        }
        n
    }

    /// A nested object; `path` must outlive the returned reader, so the caller
    /// keeps it (`let p = f.path("evidence");`).
    pub fn object(&self, key: &str, path: &'a str, errs: &mut Errors) -> Option<Fields<'a>> {
        match self.get(key) {
            None => None,
            Some(Value::Object(map)) => Some(Fields { map, prefix: path }),
            Some(_) => {
                errs.add(self.path(key), "must be an object");
                None
            }
        }
    }

    /// An optional array of strings, each of `len` characters, at most `max` items.
    pub fn optional_str_array(
        &self,
        key: &str,
        max: usize,
        len: (usize, usize),
        errs: &mut Errors,
    ) -> Option<Vec<String>> {
        let v = self.get(key)?;
        let Some(items) = v.as_array() else {
            errs.add(self.path(key), "must be an array of strings");
            return None;
        };
        if items.len() > max {
            errs.add(self.path(key), format!("must have at most {max} items"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let name = format!("{key}[{i}]");
            match self.str_value(&name, item, len, errs) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_failure() {
        let body = json!({"a": 5, "b": "", "d": {"e": "x"}});
        let f = Fields::root(&body).unwrap();
        let mut errs = Errors::default();
        assert_eq!(f.required_str("a", (1, 10), &mut errs), None);
        assert_eq!(f.required_str("b", (1, 10), &mut errs), None);
        assert_eq!(f.required_bool("c", &mut errs), None);
        let p = f.path("d");
        let d = f.object("d", &p, &mut errs).unwrap();
        assert_eq!(d.required_i64("e", &mut errs), None);
        let fields: Vec<_> = errs.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["a", "b", "c", "d.e"]);
    }

    #[test]
    fn null_is_absent_and_body_must_be_object() {
        let body = json!({"a": null});
        let f = Fields::root(&body).unwrap();
        let mut errs = Errors::default();
        assert_eq!(f.optional_str("a", (1, 3), &mut errs), None);
        assert!(errs.is_empty());
        assert!(Fields::root(&json!([1])).is_err());
    }

    #[test]
    fn nul_characters_are_refused() {
        let body = json!({"a": "x\0y", "r": ["ok", "\0"]});
        let f = Fields::root(&body).unwrap();
        let mut errs = Errors::default();
        assert_eq!(f.required_str("a", (1, 10), &mut errs), None);
        assert_eq!(f.optional_str_array("r", 5, (1, 5), &mut errs), None);
        let fields: Vec<_> = errs.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["a", "r[1]"]);
    }

    #[test]
    fn arrays_are_bounded() {
        let body = json!({"r": ["a", "b", "c"], "s": ["a", 1]});
        let f = Fields::root(&body).unwrap();
        let mut errs = Errors::default();
        assert_eq!(f.optional_str_array("r", 2, (1, 5), &mut errs), None);
        assert_eq!(f.optional_str_array("s", 5, (1, 5), &mut errs), None);
        let fields: Vec<_> = errs.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["r", "s[1]"]);
    }
}
