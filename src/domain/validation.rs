//! Judging what a client gave, field by field, collecting every failing field at once.
//!
//! A face reads its input (a JSON body, a form) into one of the domain's drafts,
//! whose every field is a [`Given`]: absent, null, a value of the kind expected,
//! or a value of another kind. The rules here and in the domain's modules then judge
//! each field in turn and name each failure by its dotted path
//! (`evidence.risk_level`) and a stable [`FieldRule`] code, so that one 422 lists
//! every failing field. The domain never sees the wire format.

use serde::Serialize;

/// What a client gave for one field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Given<T> {
    /// Not given at all.
    #[default]
    Absent,
    /// Given as null: for most fields the same as absent; a change (PATCH) tells them apart.
    Null,
    /// A value of the kind the field takes.
    Value(T),
    /// A value of another kind (a number where text is due).
    OtherKind,
}

impl<T> Given<T> {
    /// Absent and null are `None` alike.
    pub fn from_option(v: Option<T>) -> Self {
        v.map_or(Given::Absent, Given::Value)
    }
    pub fn value(&self) -> Option<&T> {
        match self {
            Given::Value(v) => Some(v),
            _ => None,
        }
    }
    /// Given, and not null (of whatever kind).
    pub fn is_given(&self) -> bool {
        matches!(self, Given::Value(_) | Given::OtherKind)
    }
    /// Named in the input at all, even as null.
    pub fn is_present(&self) -> bool {
        !matches!(self, Given::Absent)
    }
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Given<U> {
        match self {
            Given::Absent => Given::Absent,
            Given::Null => Given::Null,
            Given::Value(v) => Given::Value(f(v)),
            Given::OtherKind => Given::OtherKind,
        }
    }
}

/// Whether a field must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
}

/// The rule a failing field broke: the stable snake_case `errors[].code` of a 422.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldRule {
    Required,
    WrongType,
    Length,
    NulCharacter,
    TooManyItems,
    NotOneOf,
    UnknownForce,
    TimestampFormat,
    MonthFormat,
    OutOfRange,
    RangeReversed,
    OutcomeNotAccepted,
    NamedSuspectRequired,
    ProposedBeforeRecorded,
    ProposedInFuture,
    OfficerIdFormat,
    PosterNotProposer,
    ChecklistNotConfirmed,
    UsernameCharacters,
    RequiredForRole,
    NotForRole,
    NotNull,
    ShortCode,
    WebhookUrl,
}

impl FieldRule {
    pub const ALL: [FieldRule; 24] = [
        FieldRule::Required,
        FieldRule::WrongType,
        FieldRule::Length,
        FieldRule::NulCharacter,
        FieldRule::TooManyItems,
        FieldRule::NotOneOf,
        FieldRule::UnknownForce,
        FieldRule::TimestampFormat,
        FieldRule::MonthFormat,
        FieldRule::OutOfRange,
        FieldRule::RangeReversed,
        FieldRule::OutcomeNotAccepted,
        FieldRule::NamedSuspectRequired,
        FieldRule::ProposedBeforeRecorded,
        FieldRule::ProposedInFuture,
        FieldRule::OfficerIdFormat,
        FieldRule::PosterNotProposer,
        FieldRule::ChecklistNotConfirmed,
        FieldRule::UsernameCharacters,
        FieldRule::RequiredForRole,
        FieldRule::NotForRole,
        FieldRule::NotNull,
        FieldRule::ShortCode,
        FieldRule::WebhookUrl,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FieldRule::Required => "required",
            FieldRule::WrongType => "wrong_type",
            FieldRule::Length => "length",
            FieldRule::NulCharacter => "nul_character",
            FieldRule::TooManyItems => "too_many_items",
            FieldRule::NotOneOf => "not_one_of",
            FieldRule::UnknownForce => "unknown_force",
            FieldRule::TimestampFormat => "timestamp_format",
            FieldRule::MonthFormat => "month_format",
            FieldRule::OutOfRange => "out_of_range",
            FieldRule::RangeReversed => "range_reversed",
            FieldRule::OutcomeNotAccepted => "outcome_not_accepted",
            FieldRule::NamedSuspectRequired => "named_suspect_required",
            FieldRule::ProposedBeforeRecorded => "proposed_before_recorded",
            FieldRule::ProposedInFuture => "proposed_in_future",
            FieldRule::OfficerIdFormat => "officer_id_format",
            FieldRule::PosterNotProposer => "poster_not_proposer",
            FieldRule::ChecklistNotConfirmed => "checklist_not_confirmed",
            FieldRule::UsernameCharacters => "username_characters",
            FieldRule::RequiredForRole => "required_for_role",
            FieldRule::NotForRole => "not_for_role",
            FieldRule::NotNull => "not_null",
            FieldRule::ShortCode => "short_code",
            FieldRule::WebhookUrl => "webhook_url",
        }
    }

    /// What the rule asks, for the README and the OpenAPI document.
    pub fn meaning(self) -> &'static str {
        match self {
            FieldRule::Required => "the field must be given (and not null)",
            FieldRule::WrongType => {
                "the value is of the wrong JSON type (text, number, true/false, object, array)"
            }
            FieldRule::Length => "the text is shorter or longer than the field allows",
            FieldRule::NulCharacter => "the text holds the NUL character (U+0000)",
            FieldRule::TooManyItems => "the array has more items than the field allows",
            FieldRule::NotOneOf => "the value is not one of those the field lists",
            FieldRule::UnknownForce => "not one of the 43 territorial forces of GET /api/v1/forces",
            FieldRule::TimestampFormat => "not an RFC 3339 timestamp",
            FieldRule::MonthFormat => "not a month written YYYY-MM",
            FieldRule::OutOfRange => "the number is outside the range the field allows",
            FieldRule::RangeReversed => "the end of a range comes before its start",
            FieldRule::OutcomeNotAccepted => "the outcome code is not 15 or 16",
            FieldRule::NamedSuspectRequired => "outcomes 15 and 16 need a named suspect",
            FieldRule::ProposedBeforeRecorded => {
                "the closure is proposed before the crime was recorded"
            }
            FieldRule::ProposedInFuture => {
                "the closure is proposed more than five minutes in the future"
            }
            FieldRule::OfficerIdFormat => "the officer id begins or ends with white space",
            FieldRule::PosterNotProposer => {
                "an officer who posts a closure must name itself as the proposer"
            }
            FieldRule::ChecklistNotConfirmed => {
                "approval needs every checklist item confirmed (true)"
            }
            FieldRule::UsernameCharacters => "a user name holds only letters, digits and . _ - @",
            FieldRule::RequiredForRole => "the field is required for the user's role",
            FieldRule::NotForRole => "the field must be null for the user's role",
            FieldRule::NotNull => "the field may be left out but not set to null",
            FieldRule::ShortCode => {
                "a victim characteristic is a short code (letters, digits, _ - + .)"
            }
            FieldRule::WebhookUrl => {
                "a webhook URL is https (http only to a loopback address), names a host of \
                 CLOSURE_AUDIT_WEBHOOK_ALLOWED_HOSTS and holds no credentials or fragment"
            }
        }
    }
}

/// Written as its code.
impl Serialize for FieldRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// One failing field of a 422.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's dotted path, e.g. `evidence.risk_level`.
    pub field: String,
    pub code: FieldRule,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: FieldRule, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// `must be one of: a, b, c`.
pub fn one_of_message(allowed: &[&str]) -> String {
    format!("must be one of: {}", allowed.join(", "))
}

/// The errors found so far in one input.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: impl Into<String>, code: FieldRule, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
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

    /// The value of a field of any kind: `kind` says what it must be
    /// (`"a string"`) when it is of another.
    fn given<T>(&mut self, field: &str, given: Given<T>, need: Need, kind: &str) -> Option<T> {
        match given {
            Given::Value(v) => Some(v),
            Given::OtherKind => {
                self.add(field, FieldRule::WrongType, format!("must be {kind}"));
                None
            }
            Given::Absent | Given::Null => {
                if need == Need::Required {
                    self.add(field, FieldRule::Required, "is required");
                }
                None
            }
        }
    }

    /// A string of `len.0..=len.1` characters, without U+0000.
    pub fn text(
        &mut self,
        field: &str,
        given: Given<String>,
        len: (usize, usize),
        need: Need,
    ) -> Option<String> {
        let s = self.given(field, given, need, "a string")?;
        // PostgreSQL text cannot hold U+0000; refused alike on both backends.
        if s.contains('\0') {
            self.add(
                field,
                FieldRule::NulCharacter,
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
            self.add(field, FieldRule::Length, msg);
            return None;
        }
        Some(s)
    }

    /// A string that is one of `allowed`.
    pub fn choice(
        &mut self,
        field: &str,
        given: Given<String>,
        allowed: &[&str],
        need: Need,
    ) -> Option<String> {
        let v = self.text(field, given, (1, 64), need)?;
        if allowed.contains(&v.as_str()) {
            Some(v)
        } else {
            self.add(field, FieldRule::NotOneOf, one_of_message(allowed));
            None
        }
    }

    pub fn flag(&mut self, field: &str, given: Given<bool>, need: Need) -> Option<bool> {
        self.given(field, given, need, "true or false")
    }

    pub fn whole(&mut self, field: &str, given: Given<i64>, need: Need) -> Option<i64> {
        self.given(field, given, need, "a whole number")
    }

    /// A nested object, read by the face into a draft of its own.
    pub fn object<T>(&mut self, field: &str, given: Given<T>, need: Need) -> Option<T> {
        self.given(field, given, need, "an object")
    }

    /// An optional array of at most `max` strings, each of `len` characters.
    pub fn texts(
        &mut self,
        field: &str,
        given: Given<Vec<Given<String>>>,
        max: usize,
        len: (usize, usize),
    ) -> Option<Vec<String>> {
        let items = self.given(field, given, Need::Optional, "an array of strings")?;
        if items.len() > max {
            self.add(
                field,
                FieldRule::TooManyItems,
                format!("must have at most {max} items"),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            match self.text(&format!("{field}[{i}]"), item, len, Need::Required) {
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

    fn text(s: &str) -> Given<String> {
        Given::Value(s.to_string())
    }

    fn codes(errs: Errors) -> Vec<(String, &'static str)> {
        errs.into_vec()
            .into_iter()
            .map(|e| (e.field, e.code.code()))
            .collect()
    }

    #[test]
    fn collects_every_failure_with_its_code() {
        let mut errs = Errors::default();
        assert_eq!(
            errs.text("a", Given::OtherKind, (1, 10), Need::Required),
            None
        );
        assert_eq!(errs.text("b", text(""), (1, 10), Need::Required), None);
        assert_eq!(errs.flag("c", Given::Absent, Need::Required), None);
        assert_eq!(errs.whole("d.e", Given::Null, Need::Required), None);
        assert_eq!(
            codes(errs),
            [
                ("a".into(), "wrong_type"),
                ("b".into(), "length"),
                ("c".into(), "required"),
                ("d.e".into(), "required")
            ]
        );
    }

    #[test]
    fn null_is_absent_for_optional_fields() {
        let mut errs = Errors::default();
        assert_eq!(errs.text("a", Given::Null, (1, 3), Need::Optional), None);
        assert!(errs.is_empty());
        assert!(Given::<String>::Null.is_present());
        assert!(!Given::<String>::Null.is_given());
    }

    #[test]
    fn nul_characters_are_refused() {
        let mut errs = Errors::default();
        assert_eq!(errs.text("a", text("x\0y"), (1, 10), Need::Required), None);
        let list = Given::Value(vec![text("ok"), text("\0")]);
        assert_eq!(errs.texts("r", list, 5, (1, 5)), None);
        assert_eq!(
            codes(errs),
            [
                ("a".into(), "nul_character"),
                ("r[1]".into(), "nul_character")
            ]
        );
    }

    #[test]
    fn arrays_are_bounded() {
        let mut errs = Errors::default();
        let three = Given::Value(vec![text("a"), text("b"), text("c")]);
        assert_eq!(errs.texts("r", three, 2, (1, 5)), None);
        let mixed = Given::Value(vec![text("a"), Given::OtherKind]);
        assert_eq!(errs.texts("s", mixed, 5, (1, 5)), None);
        assert_eq!(
            codes(errs),
            [
                ("r".into(), "too_many_items"),
                ("s[1]".into(), "wrong_type")
            ]
        );
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for rule in FieldRule::ALL {
            assert!(seen.insert(rule.code()), "{}", rule.code());
            assert!(
                rule.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
    }
}
