//! Fault tests: the real binary as a child process, killed with SIGKILL during
//! sustained ingest (on SQLite and PostgreSQL), and a private PostgreSQL stopped
//! and started again under load; and a decision's webhook, queued by an
//! instance killed before it could deliver, delivered by the next start. Each
//! prints its measured figures; run with
//!
//! ```sh
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo test --test faults -- --nocapture
//! ```
//!
//! Without TEST_DATABASE_URL the PostgreSQL half of the SIGKILL test is skipped
//! (a failure when CLOSURE_AUDIT_REQUIRE_POSTGRES is set); the restart test
//! makes its own cluster with `initdb` and is skipped only when there is none.

#[path = "api/common.rs"]
mod common;

#[path = "faults/check.rs"]
mod check;
#[path = "faults/pg_restart.rs"]
mod pg_restart;
#[path = "faults/private_pg.rs"]
mod private_pg;
#[path = "api/receiver.rs"]
mod receiver;
#[path = "faults/server.rs"]
mod server;
#[path = "faults/sigkill.rs"]
mod sigkill;
#[path = "faults/webhooks.rs"]
mod webhooks;

use sigkill::sigkill_during_ingest;
use webhooks::sigkill_before_delivery_delivers_after_restart;

on_both_backends!(
    sigkill_during_ingest,
    sigkill_before_delivery_delivers_after_restart
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_started_during_load() {
    pg_restart::postgres_stopped_and_started_during_load().await
}
