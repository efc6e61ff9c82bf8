//! The test harness: the real service on port 0 over a fresh database (an SQLite
//! file in a temporary folder, or a PostgreSQL database made for this test and
//! dropped after it), and a real HTTP client.

#![allow(dead_code)]

use closure_audit::{Application, Settings};
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::AbortHandle;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const JWT_SECRET: &str = "a-test-secret-that-is-long-enough-0123456789";
pub const PASSWORD: &str = "a long enough password";

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The server URL of TEST_DATABASE_URL; each test makes its own database there.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when TEST_DATABASE_URL is set. When it is not, the PostgreSQL
    /// half of each test is skipped, unless CLOSURE_AUDIT_REQUIRE_POSTGRES is set
    /// (as CI sets it), when that is a failure.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var_os("CLOSURE_AUDIT_REQUIRE_POSTGRES").is_some() => {
                panic!("CLOSURE_AUDIT_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not")
            }
            _ => {
                eprintln!("TEST_DATABASE_URL unset: PostgreSQL half skipped");
                None
            }
        }
    }
}

/// Runs each named `async fn name(backend: Backend)` as two tests, `name::sqlite`
/// and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(b) = $crate::common::Backend::postgres() {
                        super::$name(b).await
                    }
                }
            }
        )*
    };
}

/// Replaces the database name of a libpq URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{db}{query}")
}

/// Replaces host and port of a libpq URL.
pub fn with_host_port(url: &str, host_port: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap();
    let rest = &url[scheme_end..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let (userinfo, _) = match rest[..auth_end].rfind('@') {
        Some(i) => (&rest[..=i], &rest[i + 1..auth_end]),
        None => ("", &rest[..auth_end]),
    };
    format!(
        "{}{}{}{}",
        &url[..scheme_end],
        userinfo,
        host_port,
        &rest[auth_end..]
    )
}

/// A PostgreSQL database made for one test, dropped with it.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create(server_url: &str) -> PgDatabase {
        let name = format!("closure_audit_test_{}", uuid::Uuid::new_v4().simple());
        let mut c = PgConnection::establish(server_url).expect("connect to TEST_DATABASE_URL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .expect("create test database");
        PgDatabase {
            admin_url: server_url.to_string(),
            url: with_database(server_url, &name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c);
        }
    }
}

/// A TCP proxy in front of PostgreSQL that a test can cut and restore, to see
/// the service lose its database and recover.
pub struct Proxy {
    pub port: u16,
    enabled: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let enabled = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (en, cs) = (enabled.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !en.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                cs.lock().await.push(task.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            port,
            enabled,
            conns,
            accept,
        }
    }

    /// Drops every connection and refuses new ones.
    pub async fn cut(&self) {
        self.enabled.store(false, Ordering::SeqCst);
        for c in self.conns.lock().await.drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub admin_token: String,
    pub settings: Settings,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pub proxy: Option<Proxy>,
    pub state: actix_web::web::Data<closure_audit::Context>,
    handle: actix_web::dev::ServerHandle,
    pg: Option<PgDatabase>,
}

/// Settings for a test: port 0, a fixed secret and admin password, quiet logs.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let env = vec![
        ("CLOSURE_AUDIT_BIND".to_string(), "127.0.0.1:0".to_string()),
        (
            "CLOSURE_AUDIT_DATABASE_URL".to_string(),
            format!("sqlite://{}/closure-audit.db", dir.display()),
        ),
        (
            "CLOSURE_AUDIT_DATA_DIR".to_string(),
            dir.display().to_string(),
        ),
        (
            "CLOSURE_AUDIT_JWT_SECRET".to_string(),
            JWT_SECRET.to_string(),
        ),
        (
            "CLOSURE_AUDIT_ADMIN_PASSWORD".to_string(),
            ADMIN_PASSWORD.to_string(),
        ),
        ("CLOSURE_AUDIT_WORKERS".to_string(), "2".to_string()),
        ("CLOSURE_AUDIT_DB_POOL_SIZE".to_string(), "4".to_string()),
        ("CLOSURE_AUDIT_LOG_LEVEL".to_string(), "warn".to_string()),
        (
            "CLOSURE_AUDIT_SEQUENCER_INTERVAL_MS".to_string(),
            "50".to_string(),
        ),
    ];
    Settings::load_with_env(None, env).expect("test settings")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the service; `tweak` may change the settings first.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_full(backend, false, tweak).await
    }

    /// As [`TestApp::spawn_with`]; with `proxied`, PostgreSQL is reached through a
    /// [`Proxy`] that the test can cut.
    pub async fn spawn_full(
        backend: Backend,
        proxied: bool,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings(dir.path());
        let mut pg = None;
        let mut proxy = None;
        if let Backend::Postgres(server) = &backend {
            let db = PgDatabase::create(server);
            settings.database_url = db.url.clone();
            if proxied {
                let host_port = {
                    let rest = &server[server.find("://").unwrap() + 3..];
                    let auth = &rest[..rest.find('/').unwrap_or(rest.len())];
                    let hp = auth.rsplit('@').next().unwrap();
                    if hp.contains(':') {
                        hp.to_string()
                    } else {
                        format!("{hp}:5432")
                    }
                };
                let p = Proxy::start(host_port).await;
                settings.database_url = with_host_port(&db.url, &format!("127.0.0.1:{}", p.port));
                proxy = Some(p);
            }
            pg = Some(db);
        }
        tweak(&mut settings);
        let app = Application::build(settings.clone()).expect("service starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        let client = Client::builder().build().unwrap();
        let mut t = TestApp {
            base,
            client,
            admin_token: String::new(),
            settings,
            dir,
            backend,
            proxy,
            state,
            handle,
            pg,
        };
        t.admin_token = t.login_ok("admin", ADMIN_PASSWORD).await;
        t
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut r = self.client.request(method, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": username, "password": password})),
        )
        .await
    }

    pub async fn login_ok(&self, username: &str, password: &str) -> String {
        let res = self.login(username, password).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {username}");
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Creates a user as admin; returns the user as served.
    pub async fn create_user(&self, body: Value) -> Value {
        let res = self.post("/api/v1/users", &self.admin_token, &body).await;
        let status = res.status();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json
    }

    /// Creates a user of `role` and signs it in; returns (user, token).
    pub async fn user(
        &self,
        role: &str,
        force: Option<&str>,
        rank: Option<&str>,
    ) -> (Value, String) {
        let username = format!("{role}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut body = json!({"username": username, "password": PASSWORD, "display_name": username, "role": role});
        if let Some(f) = force {
            body["force_id"] = json!(f);
        }
        if let Some(r) = rank {
            body["rank"] = json!(r);
            body["officer_id"] = json!(format!("{}", rand_officer_id()));
        }
        let user = self.create_user(body).await;
        let token = self.login_ok(&username, PASSWORD).await;
        (user, token)
    }

    /// Every audit event matching `query` (as the admin sees them), page by page.
    pub async fn events(&self, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = format!("/api/v1/audit/events?limit=1000&{query}{cursor}");
            let res = self.get(&path, &self.admin_token).await;
            assert_eq!(res.status(), StatusCode::OK);
            let body: Value = res.json().await.unwrap();
            all.extend(body["items"].as_array().unwrap().iter().cloned());
            match body["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return all,
            }
        }
    }
}

fn rand_officer_id() -> u32 {
    (uuid::Uuid::new_v4().as_u128() % 90000) as u32 + 10000
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command now; the database is dropped after (FORCE).
        self.state.log.stop();
        self.state.webhook_signal.stop();
        drop(self.handle.stop(false));
    }
}

/// Asserts an error response is problem+json with the contract's members and
/// returns its body.
pub async fn problem(res: Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "content type");
    let body: Value = res.json().await.expect("problem body is JSON");
    for key in ["type", "title", "detail"] {
        assert!(body[key].is_string(), "problem lacks {key}: {body}");
    }
    assert_eq!(body["status"], json!(status), "{body}");
    body
}

/// The `field` names of a 422 problem.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

impl TestApp {
    /// An officer of `force` with `rank` and `officer_id`, signed in: (user, token).
    pub async fn officer(&self, force: &str, rank: &str, officer_id: &str) -> (Value, String) {
        let username = format!(
            "officer-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let user = self
            .create_user(json!({"username": username, "password": PASSWORD, "display_name": username,
                                "role": "officer", "rank": rank, "officer_id": officer_id, "force_id": force}))
            .await;
        let token = self.login_ok(&username, PASSWORD).await;
        (user, token)
    }

    /// Posts a closure; returns (status, body).
    pub async fn post_closure(&self, token: &str, body: &Value) -> (u16, Value) {
        let res = self.post("/api/v1/closures", token, body).await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// A valid closure for `force` (the contract's example), proposed an hour ago
/// for a crime recorded 30 days before.
pub fn closure_body(force: &str, source_event_id: &str) -> Value {
    let now = chrono::Utc::now();
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "source_event_id": source_event_id,
        "force_id": force,
        "division": "North",
        "crime_reference": format!("XX/{}/26", &source_event_id[source_event_id.len().saturating_sub(6)..]),
        "offence_category": "domestic_abuse",
        "home_office_offence_code": "8N",
        "domestic_abuse_flag": true,
        "outcome_code": 16,
        "named_suspect": true,
        "crime_recorded_at": ts(now - chrono::Duration::days(30)),
        "closure_proposed_at": ts(now - chrono::Duration::hours(1)),
        "proposed_by": {"officer_id": "4471", "rank": "constable"},
        "rationale": "Victim withdrew support on 18/11 after a safeguarding visit.",
        "evidence": {
            "victim_wishes_recorded": true,
            "evidence_led_prosecution_considered": true,
            "safeguarding_in_place": true,
            "victim_informed": false,
            "risk_level": "medium",
            "references": ["BWV-2026-88812", "999-CALL-5521"]
        },
        "victim": {"sex": "female", "age_band": "25-34", "ethnicity": "white_british", "disability": "not_stated"}
    })
}

/// The full sign-off checklist, all confirmed.
pub fn full_checklist() -> Value {
    json!({"victim_wishes_recorded": true, "evidence_led_prosecution_considered": true,
           "safeguarding_in_place": true, "victim_informed": true})
}

impl TestApp {
    /// Runs SQL straight against the service's database, as someone with
    /// database access (a DBA) could.
    pub fn sql(&self, sql: &str) {
        // DDL takes its locks one table at a time while the sequencer's round
        // holds some of them: PostgreSQL may pick this statement to end a
        // deadlock, and then it is simply tried again, as a DBA would.
        for _ in 0..10 {
            match self.run_sql(sql) {
                Err(e) if e.contains("deadlock detected") => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                r => return r.unwrap_or_else(|e| panic!("{sql}: {e}")),
            }
        }
        panic!("{sql}: deadlocked ten times");
    }

    /// Runs SQL that must fail; returns the error.
    pub fn sql_err(&self, sql: &str) -> String {
        self.run_sql(sql).expect_err(sql)
    }

    fn run_sql(&self, sql: &str) -> Result<(), String> {
        use diesel::connection::SimpleConnection;
        let url = &self.settings.database_url;
        let res = match url.strip_prefix("sqlite://") {
            Some(path) => {
                // The service writes concurrently (sequencer, checkpoints):
                // wait for its lock as any other client would.
                let mut conn = diesel::SqliteConnection::establish(path).unwrap();
                conn.batch_execute("PRAGMA busy_timeout = 10000;")
                    .and_then(|()| conn.batch_execute(sql))
            }
            None => PgConnection::establish(url).unwrap().batch_execute(sql),
        };
        res.map_err(|e| e.to_string())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Drops the append-only triggers, as only someone who owns the database can.
    pub fn drop_append_only_triggers(&self) {
        if self.is_postgres() {
            self.sql(
                "DROP TRIGGER audit_events_append_only ON audit_events; \
                 DROP TRIGGER merkle_leaves_append_only ON merkle_leaves; \
                 DROP TRIGGER checkpoints_append_only ON checkpoints; \
                 DROP TRIGGER merkle_tiles_append_only ON merkle_tiles;",
            );
        } else {
            self.sql(
                "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; \
                 DROP TRIGGER merkle_leaves_no_update; DROP TRIGGER merkle_leaves_no_delete; \
                 DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete; \
                 DROP TRIGGER merkle_tiles_no_update; DROP TRIGGER merkle_tiles_no_delete;",
            );
        }
    }

    /// Waits until the latest checkpoint covers every event, and no event is
    /// written meanwhile; returns it.
    pub async fn settle(&self) -> Value {
        let start = std::time::Instant::now();
        loop {
            let events = self.events("").await.len() as u64;
            let cp: Value = self
                .get("/api/v1/audit/checkpoint", &self.admin_token)
                .await
                .json()
                .await
                .unwrap();
            // Integrated, and nothing more written a moment later (a
            // download's end is on record just after its last byte).
            if cp["tree_size"].as_u64() == Some(events) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                if self.events("").await.len() as u64 == events {
                    return cp;
                }
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "the sequencer did not catch up: {cp} vs {events}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
    }

    /// Starts a second instance of the service on this one's database, with the
    /// same secret and checkpoint key (as instances behind a load balancer).
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(|_| {}).await
    }

    /// As [`TestApp::another_instance`]; `tweak` may change its settings first.
    pub async fn another_instance_with(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let key = self.dir.path().join("checkpoint-key");
        let url = self.settings.database_url.clone();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings(dir.path());
        settings.database_url = url;
        settings.checkpoint_key_file = Some(key);
        tweak(&mut settings);
        let app = Application::build(settings.clone()).expect("second instance starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        let mut t = TestApp {
            base,
            client: Client::new(),
            admin_token: String::new(),
            settings,
            dir,
            backend: self.backend.clone(),
            proxy: None,
            state,
            handle,
            pg: None,
        };
        t.admin_token = t.login_ok("admin", ADMIN_PASSWORD).await;
        t
    }
}

impl TestApp {
    /// Makes the database refuse every new `closure.listed` and
    /// `export.downloaded` event, as a broken log table would.
    pub fn refuse_consultation_events(&self) {
        if self.is_postgres() {
            self.sql(
                "CREATE FUNCTION refuse_consultations() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$; \
                 CREATE TRIGGER refuse_consultations BEFORE INSERT ON audit_events FOR EACH ROW \
                 WHEN (NEW.action IN ('closure.listed', 'export.downloaded')) \
                 EXECUTE FUNCTION refuse_consultations();",
            );
        } else {
            self.sql(
                "CREATE TRIGGER refuse_consultations BEFORE INSERT ON audit_events \
                 WHEN NEW.action IN ('closure.listed', 'export.downloaded') \
                 BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
            );
        }
    }
}

/// The entries of a tlog-tiles entry bundle: each after its length as two
/// big-endian bytes.
pub fn bundle_entries(bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut entries = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        entries.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    entries
}

/// A policy file in `dir` whose one witness (a key nobody uses) is the quorum.
pub fn stranger_policy(dir: &std::path::Path) -> std::path::PathBuf {
    let policy = dir.join("stranger.policy");
    let w = closure_audit::audit::cosignature::Cosigner::new(
        "w.example",
        ed25519_dalek::SigningKey::from_bytes(&[6u8; 32]),
    );
    std::fs::write(
        &policy,
        format!("witness w {}\nquorum w\n", w.verifier().verifier_key()),
    )
    .unwrap();
    policy
}
