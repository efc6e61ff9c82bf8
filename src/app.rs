//! Building and running the service: the one place that wires settings, the
//! database, keys, routes and middleware together.

use crate::api;
use crate::audit::checkpoint::{Signer, TrustedKey};
use crate::audit::log::Log;
use crate::audit::log::cosigning::{WitnessClient, load_policy};
use crate::auth::cache::UserCache;
use crate::auth::hashers::Hashers;
use crate::auth::{TokenKeys, password, secret};
use crate::config::Settings;
use crate::db::group::GroupOptions;
use crate::db::{Backend, DatabaseUrl, Db, PoolOptions, migrations};
use crate::export::trend_cache::TrendCache;
use crate::service::Context;
use crate::service::audit::VerifyGate;
use crate::service::ingest;
use crate::service::webhooks::Signal;
use crate::telemetry::{self, Metrics};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

/// The OpenAPI document of every route, generated from the route table.
pub fn openapi() -> utoipa::openapi::OpenApi {
    App::new()
        .into_utoipa_app()
        .openapi(api::ApiDoc::openapi())
        .configure(api::routes)
        .split_for_parts()
        .1
}

/// Opens the database named by the settings and brings its schema up to date.
/// Blocking.
pub fn open_database(settings: &Settings) -> Result<Db, String> {
    let url = DatabaseUrl::parse(&settings.database_url)?;
    let opts = PoolOptions {
        pool_size: settings.db_pool_size,
        connect_timeout: Duration::from_millis(settings.db_connect_timeout_ms),
        sqlite_busy_timeout_ms: settings.sqlite_busy_timeout_ms,
    };
    let db = Db::connect(&url, &opts)?;
    let applied = migrations::run(&db).map_err(|e| e.to_string())?;
    tracing::info!(database = %url.redacted(), migrations_applied = applied.len(), "database ready");
    Ok(db)
}

/// Loads the signing key, brings the tree up to the database, and (unless turned
/// off) runs a first round and starts the sequencer. Blocking.
pub fn open_log(settings: &Settings, db: &Db) -> Result<Arc<Log>, String> {
    let key_file = settings
        .checkpoint_key_file
        .clone()
        .unwrap_or_else(|| settings.data_dir.join("checkpoint-key"));
    let signer = Signer::load_or_create(&settings.log_origin, &key_file)?;
    let previous = settings
        .checkpoint_previous_keys
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(TrustedKey::parse_verifier_key)
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", settings.data_dir.display()))?;
    // The witness file exists from the first start, so that verification can
    // tell a file removed since (a finding) from one never written.
    let witness = settings.data_dir.join("checkpoints.ndjson");
    let created = crate::files::ensure_exists(&witness)
        .map_err(|e| format!("cannot create {}: {e}", witness.display()))?;
    let log = Arc::new(
        Log::new(signer, previous, Some(witness.clone()))
            .with_round_events(settings.sequencer_round_events),
    );
    let size = log
        .tree_size(db)
        .map_err(|e| format!("cannot read the log: {e}"))?;
    if created && size > 0 {
        tracing::warn!(path = %witness.display(), tree_size = size,
            "the witness file was missing although the log holds leaves: created empty; if this instance signed checkpoints before, restore the file (the copies outside the database are what a rewritten database cannot change)");
    }
    tracing::info!(tree_size = size, verifier_key = %log.signer.verifier_key(), "audit log ready");
    if settings.sequencer_enabled {
        log.round(db)
            .map_err(|e| format!("the first sequencer round failed: {e}"))?;
        log.spawn(
            db.clone(),
            Duration::from_millis(settings.sequencer_interval_ms.max(10)),
        );
    }
    Ok(log)
}

/// The witness client of `CLOSURE_AUDIT_WITNESS_POLICY`, running, when one is named.
fn start_witness_client(
    settings: &Settings,
    log: &Arc<Log>,
    db: &crate::db::Db,
) -> Result<Option<Arc<WitnessClient>>, String> {
    let Some(path) = settings
        .witness_policy
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    else {
        return Ok(None);
    };
    let policy = load_policy(path)?;
    if !policy.logs.is_empty() && !policy.logs.iter().any(|l| l.key.id == log.signer.key_id()) {
        return Err(format!(
            "the witness policy {} lists logs, but not this one ({})",
            path.display(),
            log.signer.verifier_key()
        ));
    }
    let client = Arc::new(WitnessClient::new(policy));
    tracing::info!(
        witnesses = client.policy.witnesses.len(),
        quorum = client.policy.quorum_name(),
        "witness client ready"
    );
    log.spawn_cosigning(
        db.clone(),
        client.clone(),
        Duration::from_millis(settings.sequencer_interval_ms.max(10)),
    );
    Ok(Some(client))
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<Context>,
}

impl Application {
    /// Opens the database, runs migrations, prepares keys and the first admin,
    /// and binds the listener. Blocking; the server runs on
    /// [`Application::run_until_stopped`].
    pub fn build(settings: Settings) -> Result<Application, String> {
        let db = open_database(&settings)?;
        let secret = secret::load_or_generate(settings.jwt_secret.as_deref(), &settings.data_dir)?;
        let keys = TokenKeys::new(&secret, settings.token_ttl_seconds);
        crate::service::users::ensure_admin(&db, settings.admin_password.as_deref())?;
        // Ready before the first login, so that it costs no more than the next.
        let _ = password::dummy_hash();
        let log = open_log(&settings, &db)?;

        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(address = %addr, "listening on http://{addr}");

        let openapi_json = openapi().to_pretty_json().map_err(|e| e.to_string())?;
        let ingest = ingest::start_writer(
            &db,
            GroupOptions {
                writers: match (settings.ingest_writers, db.backend()) {
                    (0, Backend::Sqlite) => 1,
                    (0, Backend::Postgres) => 2,
                    (n, _) => n,
                },
                max_weight: 1000,
                queue: settings.ingest_queue,
            },
            api::views::closure_json,
        )
        .map_err(|e| format!("cannot start the ingest writer: {e}"))?;
        let metrics = Metrics::new();
        for c in log.collectors() {
            metrics.register(c);
        }
        let witnesses = start_witness_client(&settings, &log, &db)?;
        for c in witnesses.iter().flat_map(|w| w.collectors()) {
            metrics.register(c);
        }
        let openapi_text = web::Data::new(api::ops::OpenApiText(openapi_json));
        let state = web::Data::new(Context {
            db,
            keys,
            settings: Arc::new(settings.clone()),
            metrics,
            log,
            ingest,
            hashers: Hashers::start(0)
                .map_err(|e| format!("cannot start the password threads: {e}"))?,
            trends: TrendCache::default(),
            users: UserCache::new(Duration::from_millis(settings.auth_cache_ms)),
            verify_gate: VerifyGate::default(),
            witnesses,
            webhook_signal: Arc::new(Signal::default()),
            closure_body: api::views::closure_json,
        });
        crate::webhooks::start(state.clone())
            .map_err(|e| format!("cannot start the webhook worker: {e}"))?;
        let workers = match settings.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let app_state = state.clone();
        let max_body = settings.max_body_bytes;
        let server = HttpServer::new(move || {
            let (json, query, path) = api::extractor_config(max_body);
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(app_state.clone())
                .app_data(openapi_text.clone())
                .app_data(json)
                .app_data(query)
                .app_data(path)
                .configure(api::routes)
                .split_for_parts();
            app.configure(crate::ui::routes)
                .default_service(web::to(api::not_found))
                .wrap(from_fn(telemetry::observe))
        })
        // Without TCP_NODELAY a streamed response's last small write waits for
        // the client's delayed ACK: +40 ms on every export over a kept-alive
        // connection (measured).
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .workers(workers)
        .shutdown_timeout(settings.shutdown_timeout_seconds)
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        Ok(Application {
            port: addr.port(),
            server,
            state,
        })
    }

    /// The port bound (useful when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<Context> {
        self.state.clone()
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT (graceful: requests in flight finish),
    /// then stops the sequencer.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.state.webhook_signal.stop();
        self.state.log.stop_and_wait();
        result
    }
}
