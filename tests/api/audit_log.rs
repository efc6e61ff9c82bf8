//! The tamper-evident log: checkpoints and proofs over HTTP, the database's
//! refusal to change events, the tamper matrix (caught by `/audit/verify` and by
//! the offline verifier, naming the first bad event), and two instances on one
//! PostgreSQL producing one log.

use crate::common::*;
use crate::on_both_backends;
use closure_audit::audit::checkpoint::{SignedCheckpoint, Signer, TrustedKey};
use closure_audit::audit::export::read_export;
use closure_audit::audit::merkle::{Tree, from_hex, to_hex, verify_consistency, verify_inclusion};
use serde_json::{Value, json};
use std::process::Command;

on_both_backends!(
    checkpoints_and_proofs,
    the_database_refuses_changes,
    tamper_matrix,
    small_rounds_integrate_every_event_once
);

const BIN: &str = env!("CARGO_BIN_EXE_closure-audit");

fn hash(v: &Value) -> [u8; 32] {
    from_hex(v.as_str().unwrap()).unwrap()
}

/// The service's consistency proof from `first` to `second` leaves.
async fn consistency_proof(app: &TestApp, token: &str, first: u64, second: u64) -> Vec<[u8; 32]> {
    let p: Value = app
        .get(
            &format!("/api/v1/audit/proof/consistency?first={first}&second={second}"),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    p["proof"].as_array().unwrap().iter().map(hash).collect()
}

/// The events as the API shows them, as an NDJSON export.
async fn api_export(app: &TestApp) -> String {
    app.events("")
        .await
        .iter()
        .map(|e| e.to_string() + "\n")
        .collect()
}

async fn checkpoints_and_proofs(b: Backend) {
    // The default interval: the guarantee is that an idle service's checkpoint
    // covers every event committed more than a second earlier.
    let app = TestApp::spawn_with(b, |s| s.sequencer_interval_ms = 250).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    for i in 0..5 {
        app.post_closure(&sys, &closure_body("kent", &format!("LOG-{i}")))
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let events = app.events("").await;
    let cp: Value = app
        .get("/api/v1/audit/checkpoint", &sys)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cp["tree_size"].as_u64(),
        Some(events.len() as u64),
        "idle: the checkpoint covers every event"
    );
    assert!(events.iter().all(|e| e["leaf_index"].is_u64()));

    // The checkpoint is a C2SP signed note by the published key.
    let key: Value = app
        .get("/api/v1/audit/public-key", &sys)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(key["algorithm"], "Ed25519");
    let trusted = TrustedKey::parse_verifier_key(key["verifier_key"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(trusted.id), key["key_id"].as_str().unwrap());
    let note = SignedCheckpoint::parse(cp["note"].as_str().unwrap()).unwrap();
    assert!(note.verify(std::slice::from_ref(&trusted)));
    assert_eq!(note.size, cp["tree_size"].as_u64().unwrap());
    assert_eq!(to_hex(&note.root), cp["root_hash"].as_str().unwrap());
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(note.signature),
        cp["signature"].as_str().unwrap()
    );
    assert_eq!(hex::encode(note.key_id), cp["key_id"].as_str().unwrap());
    assert!(
        cp["note"]
            .as_str()
            .unwrap()
            .starts_with(&format!("closure-audit\n{}\n", note.size))
    );

    // Every leaf: the hash anyone can recompute from the event, and a valid
    // inclusion proof against the signed root.
    let recomputed = read_export(&api_export(&app).await).unwrap();
    let size = note.size;
    for e in &recomputed {
        let index = e.leaf_index.unwrap() as u64;
        let p: Value = app
            .get(
                &format!("/api/v1/audit/proof/inclusion?leaf_index={index}&tree_size={size}"),
                &sys,
            )
            .await
            .json()
            .await
            .unwrap();
        let leaf = hash(&p["leaf_hash"]);
        assert_eq!(
            leaf,
            e.event.as_ref().unwrap().leaf_hash(),
            "leaf {index} is the hash of its event"
        );
        let path: Vec<[u8; 32]> = p["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(hash)
            .collect();
        assert!(verify_inclusion(&leaf, index, size, &path, &note.root));
        assert!(!verify_inclusion(&leaf, index ^ 1, size, &path, &note.root) || size == 1);
    }

    // More events; the later checkpoint is consistent with the earlier one.
    for i in 5..9 {
        app.post_closure(&sys, &closure_body("kent", &format!("LOG-{i}")))
            .await;
    }
    let later = app.settle().await;
    let second = later["tree_size"].as_u64().unwrap();
    let proof = consistency_proof(&app, &sys, size, second).await;
    assert!(verify_consistency(
        size,
        second,
        &proof,
        &note.root,
        &hash(&later["root_hash"])
    ));
    let mut bad = proof.clone();
    bad[0][0] ^= 1;
    assert!(!verify_consistency(
        size,
        second,
        &bad,
        &note.root,
        &hash(&later["root_hash"])
    ));

    // Bad requests.
    problem(
        app.get(
            &format!("/api/v1/audit/proof/inclusion?leaf_index={second}&tree_size={second}"),
            &sys,
        )
        .await,
        422,
    )
    .await;
    problem(
        app.get(
            &format!(
                "/api/v1/audit/proof/inclusion?leaf_index=0&tree_size={}",
                second + 1000
            ),
            &sys,
        )
        .await,
        422,
    )
    .await;
    problem(
        app.get(
            "/api/v1/audit/proof/inclusion?leaf_index=x&tree_size=1",
            &sys,
        )
        .await,
        400,
    )
    .await;
    problem(
        app.get("/api/v1/audit/proof/consistency?first=0&second=1", &sys)
            .await,
        422,
    )
    .await;
    problem(
        app.get("/api/v1/audit/proof/consistency?first=3&second=2", &sys)
            .await,
        422,
    )
    .await;
    // Verification is for auditors and admins; it finds the log intact.
    problem(app.get("/api/v1/audit/verify", &sys).await, 403).await;
    let (_, auditor) = app.user("auditor", None, None).await;
    let report: Value = app
        .get("/api/v1/audit/verify", &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["first_bad_seq"], Value::Null);
    assert!(report["checked"].as_u64().unwrap() >= second);
}

async fn the_database_refuses_changes(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.settle().await;
    for sql in [
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "UPDATE merkle_leaves SET leaf_hash = 'x'",
        "DELETE FROM merkle_leaves",
        "UPDATE checkpoints SET root_hash = 'x'",
        "DELETE FROM checkpoints",
    ] {
        let err = app.sql_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    if app.is_postgres() {
        assert!(app.sql_err("TRUNCATE audit_events").contains("append-only"));
    }
    assert_intact(&app).await;
}

/// What the offline verifier says of the log as it is in the database now.
fn offline(
    app: &TestApp,
    trusted: &std::path::Path,
    key: &str,
    closures: Option<&std::path::Path>,
    format: &str,
) -> (bool, Value) {
    let export = app.dir.path().join(format!("export.{format}"));
    let out = Command::new(BIN)
        .args(["audit", "export", "--format", format, "--out"])
        .arg(&export)
        .env("CLOSURE_AUDIT_DATABASE_URL", &app.settings.database_url)
        .env("CLOSURE_AUDIT_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export: {:?} {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let mut cmd = Command::new(BIN);
    cmd.args(["audit", "verify", "--log"])
        .arg(&export)
        .arg("--checkpoint")
        .arg(trusted)
        .args(["--public-key", key]);
    if let Some(c) = closures {
        cmd.arg("--closures").arg(c);
    }
    let out = cmd.env("CLOSURE_AUDIT_LOG_LEVEL", "warn").output().unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// A log built one event per checkpoint, the checkpoints kept outside, and the
/// seq of the second closure's creation (the event the scenarios tamper with).
struct Built {
    trusted: std::path::PathBuf,
    closures: std::path::PathBuf,
    national: String,
    key: String,
    target: i64,
    target_closure: String,
    other: i64,
    last: i64,
    /// The first closure, rejected, and the seq of its decision's event.
    decided_closure: String,
    decision_seq: i64,
    /// The third closure (never decided) and the seq of its creation.
    third_closure: String,
    third: i64,
}

async fn build(app: &TestApp) -> Built {
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "7777").await;
    let (_, national) = app.user("auditor", None, None).await;
    let mut kept = vec![app.settle().await];
    let mut ids = Vec::new();
    for i in 0..4 {
        let (_, c) = app
            .post_closure(&sys, &closure_body("kent", &format!("T-{i}")))
            .await;
        ids.push(c["id"].as_str().unwrap().to_string());
        kept.push(app.settle().await);
    }
    app.post(
        &format!("/api/v1/closures/{}/decision", ids[0]),
        &insp,
        &json!({"decision": "reject", "rationale": "Return to the investigation team."}),
    )
    .await;
    kept.push(app.settle().await);
    let trusted = app.dir.path().join("kept-outside.ndjson");
    std::fs::write(
        &trusted,
        kept.iter()
            .map(|c| c.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let key: Value = app
        .get("/api/v1/audit/public-key", &sys)
        .await
        .json()
        .await
        .unwrap();
    let closures_file = app.dir.path().join("closures.ndjson");
    let created = app.events("action=closure.created").await;
    let seq = |i: usize| created[i]["seq"].as_i64().unwrap();
    let all = app.events("").await;
    let rejected = app.events("action=closure.rejected").await;
    // Stop the sequencer: what follows is done behind the service's back.
    app.state.log.stop();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    Built {
        trusted,
        closures: closures_file,
        national,
        key: key["verifier_key"].as_str().unwrap().to_string(),
        target: seq(1),
        target_closure: ids[1].clone(),
        other: seq(3),
        last: all.last().unwrap()["seq"].as_i64().unwrap(),
        decided_closure: ids[0].clone(),
        decision_seq: rejected[0]["seq"].as_i64().unwrap(),
        third_closure: ids[2].clone(),
        third: seq(2),
    }
}

/// The closures as they are now, exported by a national auditor (the page is a
/// `closure.listed` event, written after the tampering and never integrated, as
/// the sequencer is stopped: the verifiers take it as pending).
async fn export_closures(app: &TestApp, built: &Built) {
    let closures: Value = app
        .get("/api/v1/closures?limit=500", &built.national)
        .await
        .json()
        .await
        .unwrap();
    let lines: String = closures["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.to_string() + "\n")
        .collect();
    std::fs::write(&built.closures, lines).unwrap();
}

async fn expect_caught(app: &TestApp, built: &Built, want: i64, what: &str) {
    export_closures(app, built).await;
    let report = verify_report(app).await;
    assert_eq!(
        report["ok"], false,
        "{what}: /audit/verify missed it: {report}"
    );
    assert_eq!(
        report["first_bad_seq"],
        json!(want),
        "{what}: /audit/verify: {report}"
    );
    for format in ["csv", "ndjson"] {
        let (ok, report) = offline(
            app,
            &built.trusted,
            &built.key,
            Some(&built.closures),
            format,
        );
        assert!(
            !ok,
            "{what}: the offline verifier ({format}) missed it: {report}"
        );
        assert_eq!(
            report["first_bad_seq"],
            json!(want),
            "{what}: offline ({format}): {report}"
        );
    }
}

async fn tamper_matrix(b: Backend) {
    type Scenario = fn(&TestApp, &Built);
    type Expected = fn(&Built) -> i64;
    let scenarios: [(&str, Scenario, Expected); 9] = [
        (
            "a row edited",
            |app, t| {
                app.sql(&format!(
                    "UPDATE audit_events SET details = '{{\"outcome_code\":15}}' WHERE seq = {}",
                    t.target
                ))
            },
            |t| t.target,
        ),
        (
            "a row deleted",
            |app, t| {
                app.sql(&format!(
                    "DELETE FROM audit_events WHERE seq = {}",
                    t.target
                ))
            },
            |t| t.target,
        ),
        (
            "two rows swapped",
            |app, t| {
                let (a, b) = (t.target, t.other);
                app.sql(&format!(
                "CREATE TEMP TABLE swap AS SELECT seq, action, closure_id, details FROM audit_events WHERE seq IN ({a}, {b}); \
                 UPDATE audit_events SET closure_id = (SELECT closure_id FROM swap WHERE seq = {b}), details = (SELECT details FROM swap WHERE seq = {b}) WHERE seq = {a}; \
                 UPDATE audit_events SET closure_id = (SELECT closure_id FROM swap WHERE seq = {a}), details = (SELECT details FROM swap WHERE seq = {a}) WHERE seq = {b};"
            ))
            },
            |t| t.target,
        ),
        (
            "the tail truncated",
            |app, t| {
                app.sql(&format!(
                "DELETE FROM merkle_leaves WHERE seq > {}; DELETE FROM audit_events WHERE seq > {}; \
                 DELETE FROM checkpoints WHERE tree_size > (SELECT COUNT(*) FROM merkle_leaves);",
                t.other, t.other
            ))
            },
            |t| t.other + 1,
        ),
        (
            "a closure's status changed with no event",
            |app, t| {
                app.sql(&format!(
                    "UPDATE closures SET status = 'signed_off' WHERE id = '{}'",
                    t.target_closure
                ))
            },
            |t| t.target,
        ),
        (
            "a closure's rationale edited (no event touched)",
            |app, t| {
                app.sql(&format!(
                    "UPDATE closures SET rationale = 'Nothing further can be done, closed.' WHERE id = '{}'",
                    t.target_closure
                ))
            },
            |t| t.target,
        ),
        (
            "a decision's rationale edited (no event touched)",
            |app, t| {
                app.sql(&format!(
                    "UPDATE decisions SET rationale = 'Approved after a full review of the file.' WHERE closure_id = '{}'",
                    t.decided_closure
                ))
            },
            |t| t.decision_seq,
        ),
        (
            "a closure row deleted",
            |app, t| {
                app.sql(&format!(
                    "DELETE FROM closures WHERE id = '{}'",
                    t.third_closure
                ))
            },
            |t| t.third,
        ),
        (
            "the whole log rewritten and re-signed with another key",
            rewrite,
            |t| t.target,
        ),
    ];
    for (what, tamper, want) in scenarios {
        let app = TestApp::spawn(b.clone()).await;
        let built = build(&app).await;
        // Intact before: both verifiers agree.
        let report = verify_report(&app).await;
        assert_eq!(report["ok"], true, "{what}: before: {report}");
        export_closures(&app, &built).await;
        let (ok, report) = offline(
            &app,
            &built.trusted,
            &built.key,
            Some(&built.closures),
            "csv",
        );
        assert!(ok, "{what}: offline before: {report}");
        assert!(built.last > built.other);
        app.drop_append_only_triggers();
        tamper(&app, &built);
        expect_caught(&app, &built, want(&built), what).await;
    }
}

/// Rewrites event `target`, recomputes every leaf and the tree, replaces every
/// checkpoint with one signed by a key of the forger's.
fn rewrite(app: &TestApp, t: &Built) {
    use closure_audit::db::{DatabaseUrl, Db, PoolOptions};
    app.sql(&format!(
        "UPDATE audit_events SET details = '{{\"outcome_code\":15}}' WHERE seq = {}",
        t.target
    ));
    let opts = PoolOptions {
        pool_size: 1,
        connect_timeout: std::time::Duration::from_secs(5),
        sqlite_busy_timeout_ms: 5000,
    };
    let db = Db::connect(
        &DatabaseUrl::parse(&app.settings.database_url).unwrap(),
        &opts,
    )
    .unwrap();
    let entries = db
        .read_blocking(closure_audit::audit::export::entries_from_db)
        .unwrap();
    let mut tree = Tree::new();
    let mut sql = String::from("DELETE FROM merkle_leaves; DELETE FROM checkpoints; ");
    for (i, e) in entries
        .iter()
        .filter(|e| e.leaf_index.is_some())
        .enumerate()
    {
        let h = e.event.as_ref().unwrap().leaf_hash();
        tree.push(h);
        sql.push_str(&format!(
            "INSERT INTO merkle_leaves (leaf_index, seq, leaf_hash) VALUES ({i}, {}, '{}'); ",
            e.seq,
            to_hex(&h)
        ));
    }
    let forger = Signer::new(
        "closure-audit",
        ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]),
    );
    let cp = forger.sign(tree.size(), &tree.root(tree.size()).unwrap());
    use base64::Engine;
    sql.push_str(&format!(
        "INSERT INTO checkpoints (tree_size, root_hash, key_id, signature, note, created_at) VALUES ({}, '{}', '{}', '{}', '{}', 0);",
        cp.size,
        to_hex(&cp.root),
        hex::encode(cp.key_id),
        base64::engine::general_purpose::STANDARD.encode(cp.signature),
        cp.note.replace('\'', "''")
    ));
    app.sql(&sql);
}

/// `/audit/verify`'s report, asked by the admin.
async fn verify_report(app: &TestApp) -> Value {
    app.get("/api/v1/audit/verify", &app.admin_token)
        .await
        .json()
        .await
        .unwrap()
}

/// `/audit/verify` finds the log intact.
async fn assert_intact(app: &TestApp) {
    let report = verify_report(app).await;
    assert_eq!(report["ok"], true, "{report}");
}

/// An event written straight into the table, as a writer of its own.
fn insert_event(c: &mut diesel::PgConnection, marker: &str) {
    use diesel::connection::SimpleConnection;
    c.batch_execute(&format!(
        "INSERT INTO audit_events (at, action, details) VALUES (1, 'test.marker', '{{\"marker\":\"{marker}\"}}')"
    ))
    .unwrap();
}

/// Rounds until every event is a leaf: other tests' transactions on the
/// server hold the horizon back for moments. The events, once they are.
async fn round_until_integrated(app: &TestApp) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        app.state.log.round(&app.state.db).unwrap();
        let events = app.events("").await;
        if events.iter().all(|e| e["leaf_index"].is_number()) {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events not integrated: {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Rounds of two events at most, so that every round but the last is full
/// and the next reads on from where it stopped. On PostgreSQL, a transaction
/// (`late`) takes a sequence number before another (`early`, older) commits
/// three events after it, and commits only after a round has taken two of
/// those: its event, below the last one taken, must still be integrated
/// (before the watermark passes it), and every event exactly once.
async fn small_rounds_integrate_every_event_once(b: Backend) {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn_with(b, |s| {
        s.sequencer_enabled = false;
        s.sequencer_round_events = 2;
    })
    .await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    for i in 0..5 {
        let (status, _) = app
            .post_closure(&sys, &closure_body("kent", &format!("SMALL-{i}")))
            .await;
        assert_eq!(status, 201);
    }
    let mut events = round_until_integrated(&app).await;
    if app.is_postgres() {
        let url = &app.settings.database_url;
        let mut early = diesel::PgConnection::establish(url).unwrap();
        let mut late = diesel::PgConnection::establish(url).unwrap();
        early
            .batch_execute("BEGIN; SELECT pg_current_xact_id();")
            .unwrap();
        late.batch_execute("BEGIN;").unwrap();
        insert_event(&mut late, "late");
        for i in 0..3 {
            insert_event(&mut early, &format!("early-{i}"));
        }
        early.batch_execute("COMMIT").unwrap();
        // A full round of two of `early`'s events, `late` still open.
        app.state.log.round(&app.state.db).unwrap();
        late.batch_execute("COMMIT").unwrap();
        events = round_until_integrated(&app).await;
    }
    let mut leaves: Vec<u64> = events
        .iter()
        .map(|e| e["leaf_index"].as_u64().unwrap())
        .collect();
    leaves.sort();
    assert_eq!(leaves, (0..events.len() as u64).collect::<Vec<_>>());
    let markers = events
        .iter()
        .filter(|e| e["action"] == "test.marker")
        .count();
    assert_eq!(markers, if app.is_postgres() { 4 } else { 0 });
    assert_intact(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_make_one_log() {
    let Some(b) = Backend::postgres() else { return };
    let first = TestApp::spawn(b).await;
    let second = first.another_instance().await;
    let (_, sys) = first.user("force_system", Some("kent"), None).await;
    let mut tasks = Vec::new();
    for (n, base) in [first.base.clone(), second.base.clone()]
        .into_iter()
        .enumerate()
    {
        for w in 0..4 {
            let (client, url, token) = (
                first.client.clone(),
                format!("{base}/api/v1/closures"),
                sys.clone(),
            );
            tasks.push(tokio::spawn(async move {
                for i in 0..25 {
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&closure_body("kent", &format!("TWO-{n}-{w}-{i}")))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status().as_u16(), 201);
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cp = first.settle().await;
    let events = first.events("").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["action"] == "closure.created")
            .count(),
        200
    );
    // Every event has exactly one leaf; both instances see the same tree.
    let mut leaves: Vec<u64> = events
        .iter()
        .map(|e| e["leaf_index"].as_u64().expect("integrated"))
        .collect();
    leaves.sort();
    assert_eq!(leaves, (0..events.len() as u64).collect::<Vec<_>>());
    let cp2 = second.settle().await;
    assert_eq!(cp2["root_hash"], cp["root_hash"]);
    for app in [&first, &second] {
        assert_intact(app).await;
    }
    // Checkpoints signed along the way are all consistent with the last: no fork.
    let witnessed: Vec<Value> = [&first, &second]
        .iter()
        .flat_map(|a| {
            std::fs::read_to_string(a.dir.path().join("checkpoints.ndjson"))
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect();
    assert!(witnessed.len() >= 2);
    let last = cp["tree_size"].as_u64().unwrap();
    for w in witnessed {
        let size = w["tree_size"].as_u64().unwrap();
        if size == 0 || size > last {
            continue;
        }
        let proof = consistency_proof(&first, &sys, size, last).await;
        assert!(
            verify_consistency(
                size,
                last,
                &proof,
                &hash(&w["root_hash"]),
                &hash(&cp["root_hash"])
            ),
            "fork at {size}"
        );
    }
}
