//! `closure-audit migrate-data`: a deployment built on SQLite through the API is
//! moved by the real binary (to PostgreSQL, to another SQLite file, and back),
//! then served from its new database with the same data dir: same users,
//! closures, events, tree and root; new rows after the move take new keys and
//! the log keeps growing consistently. And the refusals, which write nothing.

use crate::common::*;
use closure_audit::audit::merkle::{from_hex, verify_consistency};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_closure-audit");

/// Every table of the schema.
const TABLES: [&str; 10] = [
    "users",
    "login_failures",
    "login_throttles",
    "closures",
    "decisions",
    "volumes",
    "audit_events",
    "merkle_leaves",
    "checkpoints",
    "log_state",
];

/// Runs `closure-audit migrate-data --from --to` with `data_dir` as its data dir.
async fn migrate_data(data_dir: &Path, from: &str, to: &str) -> Output {
    let (dir, from, to) = (data_dir.to_path_buf(), from.to_string(), to.to_string());
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CLOSURE_AUDIT_DATA_DIR", &dir)
            .env("CLOSURE_AUDIT_LOG_LEVEL", "warn")
            .args(["migrate-data", "--from", &from, "--to", &to])
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Rows per table, and the newest event, straight from a database URL.
fn counts(url: &str) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    let mut q = |table: &'static str, sql: String| {
        let n = match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut c = SqliteConnection::establish(path).unwrap();
                c.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
                diesel::sql_query(sql).get_result::<Count>(&mut c)
            }
            None => diesel::sql_query(sql)
                .get_result::<Count>(&mut PgConnection::establish(url).unwrap()),
        };
        out.push((table, n.unwrap_or_else(|e| panic!("{table}: {e}")).n));
    };
    for t in TABLES {
        q(t, format!("SELECT COUNT(*) AS n FROM {t}"));
    }
    q(
        "max(seq)",
        "SELECT COALESCE(MAX(seq), 0) AS n FROM audit_events".into(),
    );
    out
}

/// What the deployment looked like through the API before it moved.
struct Before {
    national: String,
    kent_sys: String,
    insp: String,
    closures: Value,
    users: Value,
    details: Vec<Value>,
    trends: String,
    events: Vec<Value>,
    tree_size: u64,
    root: String,
}

async fn json_of(app: &TestApp, path: &str, token: &str) -> Value {
    let res = app.get(path, token).await;
    assert_eq!(res.status().as_u16(), 200, "{path}");
    res.json().await.unwrap()
}

/// Reads whose answers the events they write do not change (each page of the
/// closure list is a `closure.listed` event; the user list writes none).
async fn listings(app: &TestApp, national: &str) -> (Value, Value) {
    (
        json_of(app, "/api/v1/closures?limit=500", national).await["items"].clone(),
        json_of(app, "/api/v1/users?limit=500", &app.admin_token).await["items"].clone(),
    )
}

/// Reads that do write events (views, an export).
async fn views(app: &TestApp, national: &str, closures: &Value) -> (Vec<Value>, String) {
    let mut details = Vec::new();
    for c in closures.as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        details.push(json_of(app, &format!("/api/v1/closures/{id}"), national).await);
    }
    let res = app
        .get(
            "/api/v1/exports/trends.csv?group_by=month,force_id",
            national,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    (details, res.text().await.unwrap())
}

async fn verify(app: &TestApp) -> Value {
    let report = json_of(app, "/api/v1/audit/verify", &app.admin_token).await;
    assert_eq!(report["ok"], true, "{report}");
    report
}

/// Builds a deployment on SQLite through the API (users of every role, closures
/// of two forces, an approval, a rejection and a reopening by an inspector,
/// volumes, views, a failed login, a deactivated user), lets the sequencer
/// catch up, and stops the service. Returns its data dir (the database, the
/// signing key and the witness file are in it).
async fn build_and_stop() -> (tempfile::TempDir, Before) {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let (_, kent_sys) = app.user("force_system", Some("kent"), None).await;
    let (_, essex_sys) = app.user("force_system", Some("essex"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "2210").await;
    let (_, national) = app.user("auditor", None, None).await;
    let (leaver, _) = app.user("auditor", Some("kent"), None).await;
    let res = app
        .patch(
            &format!("/api/v1/users/{}", leaver["id"].as_str().unwrap()),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(app.login("nobody", "not the password").await.status(), 401);

    let mut ids = Vec::new();
    for (force, token, n) in [("kent", &kent_sys, 6), ("essex", &essex_sys, 2)] {
        for i in 0..n {
            let (status, c) = app
                .post_closure(token, &closure_body(force, &format!("MOVE-{force}-{i}")))
                .await;
            assert_eq!(status, 201, "{c}");
            ids.push(c["id"].as_str().unwrap().to_string());
        }
    }
    let decide = |id: &str, body: Value| {
        let (app, insp, id) = (&app, &insp, id.to_string());
        async move {
            let res = app
                .post(&format!("/api/v1/closures/{id}/decision"), insp, &body)
                .await;
            assert_eq!(res.status().as_u16(), 200);
        }
    };
    decide(
        &ids[0],
        json!({"decision": "approve", "rationale": "Evidence-led prosecution considered and not viable.",
               "checklist": full_checklist()}),
    )
    .await;
    decide(
        &ids[1],
        json!({"decision": "reject", "rationale": "Return to investigation: BWV not reviewed."}),
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/closures/{}/reopen", ids[1]),
            &insp,
            &json!({"reason": "New evidence from the victim's sister came to light."}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    for division in [None, Some("North")] {
        let mut body = json!({"force_id": "kent", "month": month, "offence_category": "domestic_abuse",
                              "finalised_total": 120});
        if let Some(d) = division {
            body["division"] = json!(d);
        }
        let res = app
            .request(
                reqwest::Method::PUT,
                "/api/v1/volumes",
                Some(&kent_sys),
                Some(&body),
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
    }
    let (closures, users) = listings(&app, &national).await;
    assert_eq!(closures.as_array().unwrap().len(), 8);
    let (details, trends) = views(&app, &national, &closures).await;
    assert!(trends.contains("120"), "{trends}");

    let cp = app.settle().await;
    let events = app.events("").await;
    let report = verify(&app).await;
    let tree_size = cp["tree_size"].as_u64().unwrap();
    assert_eq!(tree_size, events.len() as u64);
    assert!(
        report["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("tree of {tree_size} leaves")),
        "{report}"
    );
    let before = Before {
        national,
        kent_sys,
        insp,
        closures,
        users,
        details,
        trends,
        events,
        tree_size,
        root: cp["root_hash"].as_str().unwrap().to_string(),
    };
    app.state.log.stop_and_wait();
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    drop(app);
    (dir, before)
}

/// The service on `url` with `data_dir` as its data dir (signing key, witness
/// file), the sequencer on or off.
async fn serve(data_dir: &Path, url: &str, sequencer: bool) -> TestApp {
    let (url, dir): (String, PathBuf) = (url.to_string(), data_dir.to_path_buf());
    // The harness makes no database of its own for an SQLite backend; the URL
    // set here is the one served, whichever backend it names.
    TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.database_url = url;
        s.data_dir = dir;
        s.sequencer_enabled = sequencer;
    })
    .await
}

/// The moved deployment, as the API shows it, is the one that was built.
async fn same_as_before(app: &TestApp, b: &Before) {
    // The tokens issued before the move still work: same secret, same users.
    let (closures, users) = listings(app, &b.national).await;
    assert_eq!(closures, b.closures);
    assert_eq!(users, b.users);
    let events = app.events("").await;
    assert!(events.len() > b.events.len(), "the admin signed in");
    assert_eq!(events[..b.events.len()], b.events[..]);
    let (details, trends) = views(app, &b.national, &closures).await;
    assert_eq!(details, b.details);
    assert_eq!(trends, b.trends);
}

/// After the move, new rows take new keys, new events are integrated, and the
/// log grows consistently with the tree that was moved.
async fn grows(app: &TestApp, b: &Before) {
    let (status, c) = app
        .post_closure(&b.kent_sys, &closure_body("kent", "MOVE-after"))
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/v1/closures/{id}/decision"),
            &b.insp,
            &json!({"decision": "reject", "rationale": "Decided after the move, on the new database."}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200, "a new decision takes a new id");
    assert_eq!(
        app.login("nobody", "still not the password").await.status(),
        401,
        "a new login failure takes a new id"
    );
    let cp = app.settle().await;
    let events = app.events("").await;
    let size = cp["tree_size"].as_u64().unwrap();
    assert_eq!(size, events.len() as u64, "every event is integrated");
    assert!(size > b.tree_size);
    let last_before = b.events.last().unwrap()["seq"].as_i64().unwrap();
    for e in &events[b.events.len()..] {
        assert!(e["seq"].as_i64().unwrap() > last_before, "{e}");
        assert!(e["leaf_index"].as_u64().unwrap() >= b.tree_size, "{e}");
    }
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "closure.created" && e["closure_id"] == json!(id))
    );
    let report = verify(app).await;
    assert!(
        report["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("tree of {size} leaves")),
        "{report}"
    );
    let p = json_of(
        app,
        &format!(
            "/api/v1/audit/proof/consistency?first={}&second={size}",
            b.tree_size
        ),
        &app.admin_token,
    )
    .await;
    let proof: Vec<[u8; 32]> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    assert!(verify_consistency(
        b.tree_size,
        size,
        &proof,
        &from_hex(&b.root).unwrap(),
        &from_hex(cp["root_hash"].as_str().unwrap()).unwrap()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_moves_to_postgres_and_back() {
    let Some(Backend::Postgres(server)) = Backend::postgres() else {
        return;
    };
    let (dir, before) = build_and_stop().await;
    let source = format!("sqlite://{}/closure-audit.db", dir.path().display());
    // Two events the sequencer has not integrated yet (the admin's sign-in and
    // a failed one): they move too, and the target's sequencer integrates them.
    {
        let app = serve(dir.path(), &source, false).await;
        assert_eq!(app.login("nobody", "not it either").await.status(), 401);
        app.state.log.stop_and_wait();
    }
    let source_counts = counts(&source);
    let pg = PgDatabase::create(&server);

    let out = migrate_data(dir.path(), &source, &pg.url).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stdout(&out);
    println!("{summary}");
    assert!(
        summary.contains(&format!(
            "tree size {}, root hash {}",
            before.tree_size, before.root
        )),
        "{summary}"
    );
    assert!(
        summary.contains("2 event(s) awaiting the sequencer"),
        "{summary}"
    );
    assert!(summary.contains("verified: intact"), "{summary}");
    assert_eq!(counts(&source), source_counts, "the source was changed");
    assert_eq!(counts(&pg.url), source_counts, "not every row moved");

    // Again: the target now holds data, so nothing is written.
    let out = migrate_data(dir.path(), &source, &pg.url).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already holds data") && stderr(&out).contains("nothing was written"),
        "{}",
        stderr(&out)
    );
    assert_eq!(counts(&pg.url), source_counts);
    // One database reached by two URLs is still one database.
    if pg.url.contains("@127.0.0.1:") {
        let other = pg.url.replacen("@127.0.0.1:", "@localhost:", 1);
        let out = migrate_data(dir.path(), &pg.url, &other).await;
        assert!(!out.status.success());
        assert!(stderr(&out).contains("same database"), "{}", stderr(&out));
    }

    // Served from PostgreSQL with the sequencer held back: exactly what moved.
    {
        let app = serve(dir.path(), &pg.url, false).await;
        let cp = json_of(&app, "/api/v1/audit/checkpoint", &app.admin_token).await;
        assert_eq!(cp["tree_size"].as_u64(), Some(before.tree_size));
        assert_eq!(cp["root_hash"].as_str(), Some(before.root.as_str()));
        let report = verify(&app).await;
        assert!(
            report["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("tree of {} leaves", before.tree_size)),
            "{report}"
        );
        same_as_before(&app, &before).await;
        app.state.log.stop_and_wait();
    }
    // Then as usual: events written after the move are integrated.
    {
        let app = serve(dir.path(), &pg.url, true).await;
        grows(&app, &before).await;
        app.state.log.stop_and_wait();
    }

    // And back to SQLite, with everything written on PostgreSQL since.
    let back = format!("sqlite://{}/back.db", dir.path().display());
    let moved_counts = counts(&pg.url);
    let out = migrate_data(dir.path(), &pg.url, &back).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("verified: intact"),
        "{}",
        stdout(&out)
    );
    assert_eq!(counts(&back), moved_counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_write_nothing_and_a_move_between_sqlite_files() {
    let (dir, before) = build_and_stop().await;
    let d = dir.path().display();
    let source = format!("sqlite://{d}/closure-audit.db");
    let copy = format!("sqlite://{d}/copy.db");
    let source_counts = counts(&source);

    // The same file, however spelled.
    for to in [source.clone(), format!("sqlite://{d}/./closure-audit.db")] {
        let out = migrate_data(dir.path(), &source, &to).await;
        assert!(!out.status.success(), "{to}");
        assert!(stderr(&out).contains("same"), "{}", stderr(&out));
    }
    // No source: nothing is created in its place.
    let out = migrate_data(dir.path(), &format!("sqlite://{d}/nothing.db"), &copy).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no database"), "{}", stderr(&out));
    assert!(!dir.path().join("nothing.db").exists());
    // A data dir without the signing key: the checkpoints cannot be checked.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = migrate_data(elsewhere.path(), &source, &copy).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("signing key") && stderr(&out).contains("nothing was written"),
        "{}",
        stderr(&out)
    );
    assert!(
        !elsewhere.path().join("checkpoint-key").exists(),
        "no key was made"
    );
    assert!(
        counts(&copy)
            .iter()
            .all(|(t, n)| *n == 0 || *t == "log_state")
    );

    let out = migrate_data(dir.path(), &source, &copy).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("verified: intact"),
        "{}",
        stdout(&out)
    );
    assert_eq!(counts(&copy), source_counts);
    // Again: the target is not empty.
    let out = migrate_data(dir.path(), &source, &copy).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already holds data"),
        "{}",
        stderr(&out)
    );
    assert_eq!(counts(&copy), source_counts);
    assert_eq!(counts(&source), source_counts, "the source was changed");

    let app = serve(dir.path(), &copy, true).await;
    same_as_before(&app, &before).await;
    grows(&app, &before).await;
    app.state.log.stop_and_wait();
}
