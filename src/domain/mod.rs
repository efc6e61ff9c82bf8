//! The rules of the domain, free of HTTP and SQL.
//!
//! Every rule that decides what is valid or who may do what lives here as a plain
//! function with unit tests, so that no handler writes a rule of its own. The words
//! are those of `DOMAIN.md`: outcome codes, ranks, forces, the sign-off checklist.

pub mod access;
pub mod authorize;
pub mod cases;
pub mod closure_posting;
pub mod closures;
pub mod conflicts;
pub mod filters;
pub mod forces;
pub mod officers;
pub mod ranks;
pub mod records;
pub mod roles;
pub mod signoff;
pub mod stats;
pub mod time;
pub mod trends;
pub mod users;
pub mod validation;
pub mod volumes;
pub mod webhooks;

pub use forces::{FORCES, Force, force_name, is_known_force};
pub use ranks::Rank;
pub use roles::Role;
pub use validation::{FieldError, FieldRule, Given};
