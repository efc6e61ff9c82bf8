//! Use cases: each takes the caller and checked input, applies the domain's
//! rules, and does its reads and writes (with their audit events) in one
//! transaction. Handlers in `api/` only translate HTTP to and from these.

pub mod audit;
pub mod closures;
pub mod exports;
pub mod ingest;
pub mod reports;
pub mod signoff;
pub mod volumes;
