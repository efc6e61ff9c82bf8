//! Black-box tests over real HTTP against a real database: SQLite always, and
//! PostgreSQL too when TEST_DATABASE_URL is set.

mod common;

mod audit_log;
mod auth;
mod browser;
mod cli;
mod closures;
mod codes;
mod errors;
mod exports;
mod interop;
mod migrate;
mod operations;
mod reads;
mod receipts;
mod receiver;
mod signoff;
mod tlog;
mod ui;
mod users;
mod verify;
mod webhooks;
mod witness;
mod witness_client;
