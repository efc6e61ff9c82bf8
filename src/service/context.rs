//! What a use case may reach: the database, the log, the settings and the
//! shared workers. Built once by `app.rs`; faces (`api`, later `ui` and
//! `webhooks`) hand it to the use cases and reach nothing else of the service.

use crate::audit::log::Log;
use crate::audit::log::cosigning::WitnessClient;
use crate::auth::TokenKeys;
use crate::auth::cache::UserCache;
use crate::auth::hashers::Hashers;
use crate::config::Settings;
use crate::db::Db;
use crate::export::trend_cache::TrendCache;
use crate::service::audit::VerifyGate;
use crate::service::ingest::IngestWriter;
use crate::service::webhooks::{ClosureBody, Signal};
use crate::telemetry::Metrics;
use std::sync::Arc;

pub struct Context {
    pub db: Db,
    /// Signs and checks access tokens.
    pub keys: TokenKeys,
    pub settings: Arc<Settings>,
    /// Counters a use case raises (refused logins) and the request metrics.
    pub metrics: Metrics,
    /// The tamper-evident log over the audit events.
    pub log: Arc<Log>,
    /// The threads that hash and check passwords.
    pub hashers: Hashers,
    /// Trend tables computed before, while still current.
    pub trends: TrendCache,
    /// Users recently seen, for the ingest endpoints.
    pub users: UserCache,
    /// The group-commit writer of posted closures.
    pub ingest: IngestWriter,
    /// One verification of the log at a time.
    pub verify_gate: VerifyGate,
    /// The witness client, when a witness policy is set.
    pub witnesses: Option<Arc<WitnessClient>>,
    /// Wakes this instance's webhook delivery worker after a commit that queued.
    pub webhook_signal: Arc<Signal>,
    /// How a closure is rendered in a webhook's body (the API's view of it).
    pub closure_body: ClosureBody,
}
