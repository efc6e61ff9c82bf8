//! closure-audit: inspector sign-off and tamper-evident audit of VAWG crime
//! closures under outcome codes 15 and 16.
//!
//! - [`domain`]: the rules (ranks, forces, validation), free of HTTP and SQL;
//! - [`db`]: storage over SQLite and PostgreSQL;
//! - [`auth`]: passwords, tokens, the signed-in caller;
//! - [`audit`]: the audit log;
//! - [`api`]: HTTP handlers and the route table;
//! - [`ui`]: the pages for people under `/ui/`, over the same use cases;
//! - [`app`]: wiring it together;
//! - [`migrate_data`]: moving a deployment to another database;
//! - [`witness`]: `closure-audit witness`, a tlog-witness server.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod export;
pub mod files;
pub mod migrate_data;
pub mod service;
pub mod telemetry;
pub mod ui;
pub mod webhooks;
pub mod witness;

pub use app::Application;
pub use config::Settings;
pub use error::{AppError, AppResult};
pub use service::Context;
