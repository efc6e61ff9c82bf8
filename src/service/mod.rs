//! Use cases: each takes the caller and checked input, applies the domain's
//! rules, and does its reads and writes (with their audit events) in one
//! transaction. Handlers in `api/` only translate HTTP to and from these.

pub mod audit;
pub mod closures;
pub mod context;
pub mod exports;
pub mod filters;
pub mod health;
pub mod ingest;
pub mod login;
pub mod permit;
pub mod queue;
pub mod receipts;
pub mod reports;
pub mod sessions;
pub mod signoff;
pub mod tlog;
pub mod users;
pub mod volumes;
pub mod webhooks;
pub mod witnesses;

pub use context::Context;

/// Input as a face parsed it, or why it could not. A use case authorizes the
/// caller before it looks at this, so that a caller who may not act is told
/// 403 whatever it sent, as before any rule of the input.
pub type Parsed<T> = Result<T, crate::error::AppError>;
