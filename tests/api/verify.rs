//! `GET /audit/verify` under load and at its edges: one snapshot (no false
//! alarm while closures are posted and decided), the event edited between two
//! checkpoints named exactly, one verification at a time per instance, the
//! witness file's problems as findings, a force auditor's detail, and tailing
//! the events list by `seq` while others write.

use crate::common::*;
use crate::on_both_backends;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

on_both_backends!(
    verify_never_raises_a_false_alarm_under_load,
    an_event_edited_between_two_checkpoints_is_named,
    one_verification_at_a_time,
    the_witness_file_is_checked_not_skipped,
    a_force_auditor_is_not_told_of_other_forces_closures,
    a_tailer_receives_every_event_exactly_once,
    a_stalled_sequencer_shows_in_the_metrics,
);

async fn verify(app: &TestApp, token: &str) -> Value {
    let res = app.get("/api/v1/audit/verify", token).await;
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap()
}

fn approve() -> Value {
    json!({"decision": "approve", "rationale": "Evidence-led prosecution considered and not viable.",
           "checklist": full_checklist()})
}

/// Posts closures and decides them for `for_how_long` from several tasks.
fn spawn_writers(
    app: &TestApp,
    sys: &str,
    insp: &str,
    tag: &str,
    tasks: usize,
    for_how_long: Duration,
) -> Vec<tokio::task::JoinHandle<u64>> {
    (0..tasks)
        .map(|t| {
            let (client, base, sys, insp, tag) = (
                reqwest::Client::new(),
                app.url(""),
                sys.to_string(),
                insp.to_string(),
                tag.to_string(),
            );
            tokio::spawn(async move {
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed() < for_how_long {
                    let body = closure_body("kent", &format!("{tag}-{t}-{n}"));
                    let res = client
                        .post(format!("{base}/api/v1/closures"))
                        .bearer_auth(&sys)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status().as_u16(), 201);
                    let c: Value = res.json().await.unwrap();
                    if n.is_multiple_of(2) {
                        let res = client
                            .post(format!(
                                "{base}/api/v1/closures/{}/decision",
                                c["id"].as_str().unwrap()
                            ))
                            .bearer_auth(&insp)
                            .json(&approve())
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(res.status().as_u16(), 200);
                    }
                    n += 1;
                }
                n
            })
        })
        .collect()
}

/// API.md: verify reads one consistent snapshot, so running it while closures
/// are posted and decided never reports a false alarm.
async fn verify_never_raises_a_false_alarm_under_load(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "2210").await;
    let (_, auditor) = app.user("auditor", None, None).await;
    let writers = spawn_writers(&app, &sys, &insp, "LOAD", 4, Duration::from_secs(4));
    let start = Instant::now();
    let mut runs = 0;
    while start.elapsed() < Duration::from_secs(4) {
        let res = app.get("/api/v1/audit/verify", &auditor).await;
        let status = res.status().as_u16();
        let report: Value = res.json().await.unwrap();
        if status == 503 {
            continue;
        }
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["ok"], true, "a false alarm under load: {report}");
        runs += 1;
    }
    let mut posted = 0;
    for w in writers {
        posted += w.await.unwrap();
    }
    assert!(runs >= 3 && posted >= 20, "runs {runs}, posted {posted}");
    app.settle().await;
    let report = verify(&app, &auditor).await;
    assert_eq!(report["ok"], true, "{report}");
}

/// API.md: `first_bad_seq` is the event that is itself wrong, even when it lies
/// between two checkpoints (not the first leaf after the last good one).
async fn an_event_edited_between_two_checkpoints_is_named(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    app.settle().await;
    // The sequencer is stopped so that the test integrates the four closures itself.
    app.state.log.stop_and_wait();
    for i in 0..4 {
        app.post_closure(&sys, &closure_body("kent", &format!("B-{i}")))
            .await;
    }
    // On PostgreSQL the sequencer integrates only below the server's oldest
    // open transaction, which another test may hold for a moment: round until
    // every event is a leaf.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        app.state.log.round(&app.state.db).unwrap();
        let all = app.events("").await;
        if all.iter().all(|e| e["leaf_index"].is_number()) {
            break;
        }
        assert!(Instant::now() < deadline, "events not integrated: {all:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let created = app.events("action=closure.created").await;
    let third = created[2]["seq"].as_i64().unwrap();
    app.drop_append_only_triggers();
    app.sql(&format!(
        "UPDATE audit_events SET details = '{{\"outcome_code\":15}}' WHERE seq = {third}"
    ));
    let report = verify(&app, &app.admin_token).await;
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_bad_seq"], json!(third), "{report}");
    assert!(
        report["detail"].as_str().unwrap().contains("altered"),
        "{report}"
    );
}

/// API.md: a second verify while one runs on the same instance gets 503 with
/// `Retry-After`.
async fn one_verification_at_a_time(b: Backend) {
    let app = TestApp::spawn(b).await;
    let turn = app.state.verify_gate.try_enter().expect("free at first");
    let res = app.get("/api/v1/audit/verify", &app.admin_token).await;
    assert_eq!(res.status().as_u16(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let p = problem(res, 503).await;
    assert!(
        p["detail"].as_str().unwrap().contains("already running"),
        "{p}"
    );
    drop(turn);
    assert_eq!(verify(&app, &app.admin_token).await["ok"], true);
}

/// The checkpoints kept outside the database are checked, never skipped: a
/// missing or unreadable witness file, or one with a line that is not a
/// checkpoint, is a finding (a line torn by a crash is not).
async fn the_witness_file_is_checked_not_skipped(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    app.post_closure(&sys, &closure_body("kent", "W-1")).await;
    app.settle().await;
    let path = app.dir.path().join("checkpoints.ndjson");
    let original = std::fs::read_to_string(&path).unwrap();
    assert!(!original.is_empty());
    assert_eq!(verify(&app, &app.admin_token).await["ok"], true);

    // A torn last line (a crash mid-write) holds nothing: still intact.
    std::fs::write(&path, format!("{original}{{\"origin\":\"clos")).unwrap();
    let r = verify(&app, &app.admin_token).await;
    assert_eq!(r["ok"], true, "{r}");

    // A line that is not a checkpoint.
    let lines: Vec<&str> = original.lines().collect();
    let edited = format!(
        "{}\n{{\"note\":\"not a checkpoint\"}}\n{}\n",
        lines[0],
        lines[1..].join("\n")
    );
    std::fs::write(&path, edited).unwrap();
    let r = verify(&app, &app.admin_token).await;
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["detail"].as_str().unwrap().contains("witness file"),
        "{r}"
    );

    // Missing.
    std::fs::remove_file(&path).unwrap();
    let r = verify(&app, &app.admin_token).await;
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["detail"].as_str().unwrap().contains("cannot be read"),
        "{r}"
    );
    assert_eq!(r["first_bad_seq"], Value::Null);

    // Back as it was: intact again.
    std::fs::write(&path, &original).unwrap();
    assert_eq!(verify(&app, &app.admin_token).await["ok"], true);
}

/// API.md: verify's `detail` never names a closure outside the caller's force.
async fn a_force_auditor_is_not_told_of_other_forces_closures(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, essex_sys) = app.user("force_system", Some("essex"), None).await;
    let (_, kent_auditor) = app.user("auditor", Some("kent"), None).await;
    let (_, essex_auditor) = app.user("auditor", Some("essex"), None).await;
    let (_, c) = app
        .post_closure(&essex_sys, &closure_body("essex", "E-1"))
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    app.settle().await;
    app.sql(&format!(
        "UPDATE closures SET rationale = 'Changed behind the log, quietly.' WHERE id = '{id}'"
    ));
    let kent = verify(&app, &kent_auditor).await;
    assert_eq!(kent["ok"], false);
    let detail = kent["detail"].as_str().unwrap();
    assert!(
        !detail.contains(&id) && detail.contains("another force"),
        "{detail}"
    );
    let essex = verify(&app, &essex_auditor).await;
    assert!(essex["detail"].as_str().unwrap().contains(&id), "{essex}");
    assert_eq!(essex["first_bad_seq"], kent["first_bad_seq"]);
}

/// API.md: a client that repeatedly asks `after_seq=<last seq it saw>` receives
/// every event exactly once, even while others write.
async fn a_tailer_receives_every_event_exactly_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "2210").await;
    let (_, auditor) = app.user("auditor", None, None).await;
    let writers = spawn_writers(&app, &sys, &insp, "TAIL", 6, Duration::from_secs(4));
    let mut seen: Vec<i64> = Vec::new();
    let mut last = 0i64;
    let start = Instant::now();
    let mut done_at: Option<Instant> = None;
    loop {
        let page: Value = app
            .get(
                &format!("/api/v1/audit/events?after_seq={last}&limit=1000"),
                &auditor,
            )
            .await
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        for e in items {
            let seq = e["seq"].as_i64().unwrap();
            assert!(seq > last, "out of order: {seq} after {last}");
            last = seq;
            seen.push(seq);
        }
        if done_at.is_none() && writers.iter().all(|w| w.is_finished()) {
            done_at = Some(Instant::now());
        }
        // A little after the writers stop, with nothing new: the tail is complete.
        if done_at.is_some_and(|d| d.elapsed() > Duration::from_millis(500)) && items.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60));
    }
    for w in writers {
        w.await.unwrap();
    }
    // Every event the database holds was seen, each exactly once.
    let all: BTreeSet<i64> = app
        .events("")
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    let seen_set: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), seen_set.len(), "an event was received twice");
    let tail_events: BTreeSet<i64> = all.range(..=last).copied().collect();
    assert_eq!(seen_set, tail_events, "the tailer missed events");
    assert!(seen.len() > 50, "{} events seen", seen.len());
}

fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// PostgreSQL: a transaction left open on the server holds committed events
/// back from the tree; `/metrics` shows how many and for how long, and the
/// tree catches up once it ends.
async fn a_stalled_sequencer_shows_in_the_metrics(b: Backend) {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn(b).await;
    let m = app.metrics().await;
    if !app.is_postgres() {
        // One writer: nothing is ever held back.
        assert_eq!(gauge(&m, "closure_audit_sequencer_held_back_events"), 0.0);
        assert_eq!(gauge(&m, "closure_audit_sequencer_lag_seconds"), 0.0);
        return;
    }
    // Transaction ids are the whole server's: other databases' transactions
    // (other tests) hold the tree back for moments too, so only a lasting hold
    // is asserted.
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    app.settle().await;
    // Someone's transaction, open with a transaction id, left hanging.
    let mut open = diesel::PgConnection::establish(&app.settings.database_url).unwrap();
    open.batch_execute("BEGIN; SELECT pg_current_xact_id();")
        .unwrap();
    let (status, _) = app
        .post_closure(&sys, &closure_body("kent", "STALL-1"))
        .await;
    assert_eq!(status, 201);
    let start = Instant::now();
    loop {
        let m = app.metrics().await;
        if gauge(&m, "closure_audit_sequencer_held_back_events") >= 1.0
            && gauge(&m, "closure_audit_sequencer_lag_seconds") > 0.0
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no lag shown: {m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    open.batch_execute("ROLLBACK").unwrap();
    app.settle().await;
    let m = app.metrics().await;
    assert_eq!(
        gauge(&m, "closure_audit_sequencer_held_back_events"),
        0.0,
        "{m}"
    );
}
