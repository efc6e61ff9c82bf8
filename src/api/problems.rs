//! The error responses of the OpenAPI document: one reusable
//! `application/problem+json` response per status of API.md's table, named in
//! each route's `responses(...)` as `(status = 404, response = NotFound)`.
//! A route whose error needs its own words writes it out instead, with
//! `body = Problem, content_type = PROBLEM_JSON`.
#![allow(dead_code)] // The types only describe responses; none is built.

use crate::error::Problem;
use utoipa::ToResponse;

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body is not valid JSON, or a query parameter cannot be parsed.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BadRequest(Problem);

/// No valid token: missing, malformed, expired, signed with another key or
/// algorithm, or of a user since deactivated or given a new password.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`"))
)]
pub struct Unauthorized(Problem);

/// Authenticated, but this user may not do this; `detail` names the rule.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Forbidden(Problem);

/// No such resource, or one outside the caller's force.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(Problem);

/// A conflict with the current state.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Conflict(Problem);

/// The body is over the configured limit (1 MiB; 16 MiB for the batch).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct PayloadTooLarge(Problem);

/// The body is not sent as `Content-Type: application/json`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct UnsupportedMediaType(Problem);

/// Well-formed but invalid: every failing field, by dotted path, in `errors`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct UnprocessableEntity(Problem);

/// Too many failed sign-ins for this user name; try again after `Retry-After`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds until the window passes"))
)]
pub struct TooManyRequests(Problem);

/// The database cannot be reached (the service recovers by itself when it
/// returns), or the service is at a limit it sets itself: too many posts waiting
/// for the ingest writer, too many sign-ins waiting for a password check, or
/// (on `GET /audit/verify`) a verification already running on this instance.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
)]
pub struct ServiceUnavailable(Problem);
