//! SIGKILL during sustained ingest: eight clients posting closures one by one
//! and one posting batches, the service killed without warning, then started
//! again on the same data. Every closure it acknowledged must be there once,
//! as acknowledged, and the log must verify.

use crate::check::{Ack, after_fault, all_closures};
use crate::common::{Backend, PgDatabase, closure_body};
use crate::server::{Outcome, Reply, Service, send};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const FORCE: &str = "kent";
const SINGLE_CLIENTS: usize = 8;
const BATCH_SIZE: usize = 25;
const LOAD: Duration = Duration::from_millis(1800);

/// One request and what became of it.
struct Record {
    /// `(source_event_id, body)` of each closure sent.
    closures: Vec<(String, Value)>,
    batch: bool,
    done: Instant,
    outcome: Outcome,
}

async fn single_client(svc: Arc<ClientTarget>, n: usize, stop: Arc<AtomicBool>) -> Vec<Record> {
    let mut records = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let sid = format!("S{n}-{i:06}");
        i += 1;
        let body = closure_body(FORCE, &sid);
        let outcome = send(
            svc.client
                .post(format!("{}/api/v1/closures", svc.base))
                .bearer_auth(&svc.token)
                .json(&body),
        )
        .await;
        let failed = !matches!(outcome, Outcome::Reply(_));
        records.push(Record {
            closures: vec![(sid, body)],
            batch: false,
            done: Instant::now(),
            outcome,
        });
        if failed {
            // The server is gone: do not spin.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    records
}

async fn batch_client(svc: Arc<ClientTarget>, stop: Arc<AtomicBool>) -> Vec<Record> {
    let mut records = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let closures: Vec<(String, Value)> = (0..BATCH_SIZE)
            .map(|k| {
                let sid = format!("B-{i:05}-{k:02}");
                let body = closure_body(FORCE, &sid);
                (sid, body)
            })
            .collect();
        i += 1;
        let items: Vec<&Value> = closures.iter().map(|(_, b)| b).collect();
        let outcome = send(
            svc.client
                .post(format!("{}/api/v1/closures/batch", svc.base))
                .bearer_auth(&svc.token)
                .json(&json!({ "closures": items })),
        )
        .await;
        let failed = !matches!(outcome, Outcome::Reply(_));
        records.push(Record {
            closures,
            batch: true,
            done: Instant::now(),
            outcome,
        });
        if failed {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    records
}

impl Record {
    /// The answer, if one was heard whole enough to act on: a batch's results
    /// must have arrived (a single closure's 201 counts even if its body was
    /// cut off by the kill).
    fn heard(&self) -> Option<&Reply> {
        match &self.outcome {
            Outcome::Reply(r) if !self.batch || r.body.is_object() => Some(r),
            _ => None,
        }
    }
}

struct ClientTarget {
    client: reqwest::Client,
    base: String,
    token: String,
}

pub async fn sigkill_during_ingest(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    // Declared before the services, so dropped (WITH (FORCE)) after them.
    let pg = match &backend {
        Backend::Sqlite => None,
        Backend::Postgres(server) => Some(PgDatabase::create(server)),
    };
    let url = match &pg {
        None => format!("sqlite://{}/closure-audit.db", dir.path().display()),
        Some(db) => db.url.clone(),
    };
    let label = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };

    let mut svc = Service::start(dir.path(), &url, "first", &[]).await;
    let admin = svc.admin_token().await;
    let sys = svc.user(&admin, "force_system", Some(FORCE)).await;

    let target = Arc::new(ClientTarget {
        client: svc.client.clone(),
        base: svc.base.clone(),
        token: sys.clone(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..SINGLE_CLIENTS {
        tasks.push(tokio::spawn(single_client(target.clone(), n, stop.clone())));
    }
    tasks.push(tokio::spawn(batch_client(target.clone(), stop.clone())));

    let load_started = Instant::now();
    tokio::time::sleep(LOAD).await;
    let killed_at = Instant::now();
    svc.kill();
    // Let every request in flight fail against the dead server, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut records = Vec::new();
    for t in tasks {
        records.extend(t.await.expect("client task"));
    }

    // Everything answered before the kill was a success; nothing failed at the
    // transport level while the server lived.
    let mut acks: Vec<Ack> = Vec::new();
    let mut sent = HashSet::new();
    let (mut answered_before, mut unanswered) = (0, 0);
    for r in &records {
        sent.extend(r.closures.iter().map(|(s, _)| s.clone()));
        match r.heard() {
            Some(reply) => {
                if r.done < killed_at {
                    answered_before += 1;
                }
                assert!(
                    reply.status < 500,
                    "a {} answer before the kill: {} ({})",
                    reply.status,
                    reply.body,
                    svc.log_text()
                );
                if r.batch {
                    assert_eq!(reply.status, 200, "batch: {}", reply.body);
                    let results = reply.body["results"].as_array().expect("results");
                    assert_eq!(results.len(), r.closures.len());
                    for (res, (sid, body)) in results.iter().zip(&r.closures) {
                        assert_eq!(res["status"], 201, "batch item {sid}: {res}");
                        acks.push(Ack {
                            source_event_id: sid.clone(),
                            posted: body.clone(),
                            id: res["id"].as_str().map(str::to_string),
                            returned: None,
                        });
                    }
                } else {
                    let (sid, body) = &r.closures[0];
                    assert_eq!(reply.status, 201, "closure {sid}: {}", reply.body);
                    // A 201 whose body was cut off by the kill still counts.
                    let whole = reply.body.is_object();
                    acks.push(Ack {
                        source_event_id: sid.clone(),
                        posted: body.clone(),
                        id: reply.body["id"].as_str().map(str::to_string),
                        returned: whole.then(|| reply.body.clone()),
                    });
                }
            }
            None => {
                assert!(
                    r.done >= killed_at,
                    "a request failed while the server was alive: {:?}",
                    r.outcome
                );
                unanswered += 1;
            }
        }
    }
    assert!(
        answered_before > 0,
        "no request was answered before the kill"
    );
    let acknowledged_closures = acks.len();

    // Start again on the same data.
    let restarted_at = Instant::now();
    let svc = Service::start(dir.path(), &url, "second", &[]).await;
    let restart = restarted_at.elapsed();
    let admin = svc.admin_token().await;
    let reader = svc.user(&admin, "auditor", None).await;

    // A client that heard nothing posts again, with the same body: stored
    // before the kill answers 200 with the closure, lost answers 201; never a
    // conflict or an error.
    let stored_before: HashSet<String> = all_closures(&svc, &reader, FORCE)
        .await
        .iter()
        .map(|c| c["source_event_id"].as_str().unwrap().to_string())
        .collect();
    let acked_before: HashSet<&str> = acks.iter().map(|a| a.source_event_id.as_str()).collect();
    let in_flight_stored = stored_before
        .iter()
        .filter(|s| !acked_before.contains(s.as_str()))
        .count();
    let (mut retried, mut replayed, mut recreated) = (0, 0, 0);
    let mut retry_acks = Vec::new();
    for r in records.iter().filter(|r| r.heard().is_none()) {
        retried += 1;
        let expected = |sid: &str| {
            if stored_before.contains(sid) {
                200
            } else {
                201
            }
        };
        if r.batch {
            let items: Vec<&Value> = r.closures.iter().map(|(_, b)| b).collect();
            let reply = svc
                .post(
                    "/api/v1/closures/batch",
                    &sys,
                    &json!({ "closures": items }),
                )
                .await;
            assert_eq!(reply.status, 200, "batch retried: {}", reply.body);
            let results = reply.body["results"].as_array().expect("results");
            for (res, (sid, body)) in results.iter().zip(&r.closures) {
                assert_eq!(
                    res["status"],
                    expected(sid),
                    "batch item {sid} retried: {res}"
                );
                retry_acks.push(Ack {
                    source_event_id: sid.clone(),
                    posted: body.clone(),
                    id: res["id"].as_str().map(str::to_string),
                    returned: None,
                });
            }
        } else {
            let (sid, body) = &r.closures[0];
            let reply = svc.post("/api/v1/closures", &sys, body).await;
            assert_eq!(
                reply.status,
                expected(sid),
                "closure {sid} retried: {}",
                reply.body
            );
            retry_acks.push(Ack {
                source_event_id: sid.clone(),
                posted: body.clone(),
                id: reply.body["id"].as_str().map(str::to_string),
                returned: Some(reply.body.clone()),
            });
        }
    }
    for a in &retry_acks {
        if stored_before.contains(&a.source_event_id) {
            replayed += 1;
        } else {
            recreated += 1;
        }
    }
    acks.extend(retry_acks);

    let checked = after_fault(&svc, &admin, &reader, FORCE, &acks, &sent, dir.path()).await;
    assert_eq!(
        checked.closures,
        sent.len(),
        "after the retries every closure sent is stored"
    );

    eprintln!(
        "faults/sigkill/{label}: {load:.1} s of load from {SINGLE_CLIENTS} single clients + 1 batch client ({BATCH_SIZE}/batch); \
         {requests} requests, {answered_before} answered before SIGKILL, {unanswered} unanswered (in flight at or sent after the kill); \
         {acknowledged_closures} closures acknowledged; after restart ({restart:.1} s to ready): {stored_before_n} stored, \
         {acknowledged_closures} acknowledged among them, {in_flight_stored} stored without acknowledgement (in flight at the kill); \
         {retried} unanswered posts retried: {replayed} closures answered 200 (stored before the kill), {recreated} answered 201; \
         then {stored} stored, {acked} acknowledged checked present and identical, \
         {events} events, tree size {tree}, verify intact",
        load = killed_at.duration_since(load_started).as_secs_f64(),
        requests = records.len(),
        restart = restart.as_secs_f64(),
        stored = checked.closures,
        acked = checked.acknowledged,
        stored_before_n = stored_before.len(),
        events = checked.events,
        tree = checked.tree_size,
    );
}
