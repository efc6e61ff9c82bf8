//! The one error type of the service, rendered as `application/problem+json`
//! (RFC 9457).
//!
//! Which variant to use:
//! - [`AppError::BadRequest`]: the body is not JSON, or a query parameter cannot be
//!   parsed at all (400).
//! - [`AppError::Unauthorized`]: no valid token, or a bad login (401, with
//!   `WWW-Authenticate: Bearer`).
//! - [`AppError::Forbidden`]: authenticated, but a rule forbids it; say the rule (403).
//! - [`AppError::NotFound`]: no such thing, or one outside the caller's force (404).
//! - [`AppError::Conflict`]: the current state forbids it (409).
//! - [`AppError::Validation`]: well-formed but invalid; list every failing field (422).
//! - [`AppError::TooManyRequests`]: login throttling (429, with `Retry-After`).
//! - [`AppError::Unavailable`]: the database cannot be reached (503).
//! - [`AppError::Internal`]: a defect; the detail is logged, never sent.

use crate::domain::authorize::Rule;
use crate::domain::conflicts::Clash;
use crate::domain::{FieldError, FieldRule};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{}", .0.text())]
    Forbidden(Rule),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{1}")]
    Conflict(Clash, String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("the request has {} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every failing field, on a 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<crate::api::schemas::FieldErrorSchema>>)]
    pub errors: Option<Vec<FieldError>>,
}

impl AppError {
    pub fn validation(errors: Vec<FieldError>) -> Self {
        AppError::Validation(errors)
    }

    /// A 422 for one field.
    pub fn field(field: &str, code: FieldRule, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    /// A stable snake_case code, the last part of the problem `type`.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(rule) => rule.code(),
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::Conflict(clash, _) => clash.code(),
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::NotAcceptable(_) => "not_acceptable",
            AppError::Validation(_) => "validation_failed",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Unavailable(_) => "service_unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// The problem body as it goes to the client.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            AppError::Internal(_) => "an internal error occurred; it has been logged".to_string(),
            AppError::Validation(errors) => {
                let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid field(s): {}", names.join(", "))
            }
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("urn:closure-audit:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            errors: match self {
                AppError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(..) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            AppError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable")
            }
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        match self {
            AppError::Unauthorized(_) => {
                res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            AppError::TooManyRequests {
                retry_after_secs, ..
            } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            AppError::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        res.body(serde_json::to_vec(&self.problem()).unwrap_or_default())
    }
}

impl From<DieselError> for AppError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::NotFound => AppError::NotFound("no such resource".into()),
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    AppError::Unavailable(format!("database connection lost: {}", info.message()))
                }
                DatabaseErrorKind::SerializationFailure => AppError::Conflict(
                    Clash::ConcurrentChange,
                    "a concurrent change won; read the resource again and retry".into(),
                ),
                _ if is_unavailable_message(info.message()) => {
                    AppError::Unavailable(format!("database unavailable: {}", info.message()))
                }
                // PostgreSQL refuses U+0000 in text: a client's input, not a defect.
                _ if info
                    .message()
                    .contains("invalid byte sequence for encoding") =>
                {
                    AppError::BadRequest(
                        "text holding the NUL character (U+0000) cannot be stored or searched"
                            .into(),
                    )
                }
                _ => AppError::Internal(format!("database error: {e}")),
            },
            DieselError::BrokenTransactionManager => {
                AppError::Unavailable("database connection broken".into())
            }
            _ => AppError::Internal(format!("database error: {e}")),
        }
    }
}

/// Messages of errors that mean "the database cannot serve now", not "a defect".
fn is_unavailable_message(msg: &str) -> bool {
    const SIGNS: [&str; 7] = [
        "database is locked",
        "server closed the connection",
        "terminating connection",
        "connection to server",
        "the database system is shutting down",
        "the database system is starting up",
        "no connection to the server",
    ];
    SIGNS.iter().any(|s| msg.contains(s))
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Unavailable(format!("no database connection: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(format!("blocking task failed: {e}"))
    }
}

impl From<Vec<FieldError>> for AppError {
    fn from(errors: Vec<FieldError>) -> Self {
        AppError::Validation(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> AppError {
        DieselError::DatabaseError(kind, Box::new(message.to_string())).into()
    }

    #[test]
    fn nul_in_text_is_the_client_s_error() {
        let e = db_error(
            DatabaseErrorKind::Unknown,
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        );
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        let e = db_error(DatabaseErrorKind::Unknown, "database is locked");
        assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let e = db_error(DatabaseErrorKind::Unknown, "syntax error");
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_lost_serializable_race_is_a_concurrent_change() {
        let e = db_error(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize",
        );
        assert_eq!(e.status_code(), StatusCode::CONFLICT);
        assert_eq!(
            e.problem().problem_type,
            "urn:closure-audit:problem:concurrent_change"
        );
    }

    #[test]
    fn readme_lists_every_conflict_and_field_code() {
        let readme = include_str!("../README.md");
        for code in Clash::ALL.map(Clash::code) {
            assert!(
                readme.contains(&format!("| `{code}` |")),
                "README lacks {code}"
            );
        }
        for code in FieldRule::ALL.map(FieldRule::code) {
            assert!(
                readme.contains(&format!("| `{code}` |")),
                "README lacks {code}"
            );
        }
    }
}
