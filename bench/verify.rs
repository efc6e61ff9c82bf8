//! Verify: `GET /audit/verify` over a log of 1,000,000 events (one
//! `closure.created` per closure, each vouching for its closure's content), on
//! SQLite and PostgreSQL: events per second (goal, issue 12: at least
//! 200,000), beside the database's own client reading the same rows in the
//! same run (the leaves joined with their events in leaf order, then the
//! closures in id order, to `/dev/null`), and the server's resident memory
//! sampled every 20 ms during the verification (goal: peak under 200 MiB)
//! beside its resting value.
//!
//! `cargo bench --bench verify` (BENCH_ROWS to change the count,
//! BENCH_BACKENDS=sqlite or postgres for one; BENCH_KEEP=<dir> keeps the
//! SQLite database and the server's data folder there and seeds only when
//! they are not there yet, to measure again without seeding).

#[path = "seed.rs"]
mod seed;
#[path = "support.rs"]
mod support;

use closure_audit::audit::Actor;
use closure_audit::audit::{self, Action, Event};
use closure_audit::db::closures::{ClosureRow, insert_new};
use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::*;

/// What verify reads, read by the database's own client: seconds.
fn db_read(backend: &str, url: &str, path: &str) -> f64 {
    let queries = [
        "SELECT l.leaf_index, l.leaf_hash, e.* FROM merkle_leaves l LEFT JOIN audit_events e ON e.seq = l.seq \
         ORDER BY l.leaf_index",
        "SELECT * FROM closures ORDER BY id",
    ];
    queries
        .iter()
        .map(|q| {
            let mut c = if backend == "postgres" {
                let mut c = Command::new("psql");
                c.args([url, "-q", "-c", &format!("\\copy ({q}) TO STDOUT")]);
                c
            } else {
                let mut c = Command::new("sqlite3");
                c.args([path, q]);
                c
            };
            c.env("PAGER", "");
            timed_dump(c).0
        })
        .sum()
}

/// Closure `n` pending sign-off, with the content hash its event records.
fn pending(n: u64, end_us: i64) -> ClosureRow {
    let mut r = seed::row(n, end_us);
    r.status = "pending_signoff".into();
    r.version = 1;
    r.decision = None;
    r.decided_by_user_id = None;
    r.decided_by_officer_id = None;
    r.decided_by_rank = None;
    r.decided_at = None;
    r.decision_rationale = None;
    r.content_hash = audit::content::closure_hash(&r.input().expect("seeded rows read back"));
    r
}

/// Closures `0..n` with their `closure.created` events, in transactions of 10,000.
fn seed_with_events(db: &closure_audit::db::Db, n: u64, end_us: i64) {
    let actor = Actor::system("bench-seed");
    let mut start = 0;
    while start < n {
        let end = (start + 10_000).min(n);
        let rows: Vec<ClosureRow> = (start..end).map(|i| pending(i, end_us)).collect();
        db.write_blocking(|c| {
            insert_new(c, &rows)?;
            let details: Vec<Value> = rows
                .iter()
                .map(|r| json!({"source_event_id": r.source_event_id, "status": r.status, "version": r.version,
                                "content_hash": r.content_hash}))
                .collect();
            let events: Vec<Event> = rows
                .iter()
                .zip(details)
                .map(|(r, d)| {
                    Event::new(Action::ClosureCreated, &actor, None, d).closure(&r.id, &r.force_id)
                })
                .collect();
            audit::append_all(c, &events)
        })
        .unwrap();
        start = end;
    }
}

async fn checkpoint_size(client: &reqwest::Client, base: &str, token: &str) -> u64 {
    let cp: Value = client
        .get(format!("{base}/api/v1/audit/checkpoint"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null);
    cp["tree_size"].as_u64().unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let rows = env_or("BENCH_ROWS", 1_000_000);
    let mut out = header(&format!("Verify: GET /audit/verify over {rows} events"));
    out.push_str(
        "Command: `cargo bench --bench verify`. The log is seeded through the storage code, integrated by the \
         service's own sequencer, then verified once over HTTP; RSS sampled every 20 ms. Resting RSS is the \
         lowest of 20 samples over 2 s just before.\n\n",
    );
    out.push_str(
        "| backend | events | verify s | events/s | goal ≥ 200,000/s | database client reads the same rows, s | verify ÷ client time | \
         RSS at rest MiB | peak during verify MiB | goal < 200 MiB | growth MiB | ok |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let end_us = chrono::Utc::now().timestamp_micros();
    for backend in backends.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let keep = std::env::var("BENCH_KEEP")
            .ok()
            .filter(|_| backend == "sqlite");
        let root = keep
            .clone()
            .unwrap_or_else(|| dir.path().display().to_string());
        let pg = (backend == "postgres").then(|| PgDb::create("bench_verify"));
        let path = format!("{root}/verify.db");
        let url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{path}"),
        };
        let data = format!("{root}/data");
        let seeded = keep.is_some() && std::path::Path::new(&path).exists();
        if !seeded {
            std::fs::create_dir_all(&data).unwrap();
            migrate(&url);
            let t = Instant::now();
            seed_with_events(&seed::open(&url), rows, end_us);
            eprintln!(
                "{backend}: seeded {rows} closures and events in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
        let server = Server::start(Some(&url), &[("CLOSURE_AUDIT_DATA_DIR", &data)]);
        let client = reqwest::Client::new();
        let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
        let t = Instant::now();
        while checkpoint_size(&client, &server.base, &admin).await < rows {
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                t.elapsed() < Duration::from_secs(1800),
                "the sequencer did not catch up"
            );
        }
        eprintln!(
            "{backend}: integrated in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut rest = u64::MAX;
        for _ in 0..20 {
            rest = rest.min(server.rss_kib());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let peak = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let pid = server.child.id();
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_of(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let t = Instant::now();
        let report: Value = client
            .get(format!("{}/api/v1/audit/verify", server.base))
            .bearer_auth(&admin)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        let checked = report["checked"].as_u64().unwrap_or(0);
        let (rest_mib, peak_mib) = (
            rest as f64 / 1024.0,
            peak.load(Ordering::Relaxed) as f64 / 1024.0,
        );
        let rate = checked as f64 / secs;
        drop(server);
        let client_s = db_read(backend, &url, &path);
        eprintln!("{backend}: verify {secs:.1} s, database client {client_s:.1} s");
        out.push_str(&format!(
            "| {backend} | {checked} | {secs:.1} | {rate:.0} | {} | {client_s:.1} | {:.2} | {rest_mib:.0} | {peak_mib:.0} | {} | {:.1} | {} |\n",
            if rate >= 200_000.0 { "met" } else { "missed" },
            secs / client_s,
            if peak_mib < 200.0 { "met" } else { "missed" },
            peak_mib - rest_mib,
            report["ok"]
        ));
        assert_eq!(report["ok"], true, "{backend}: {report}");
    }
    report("verify", &out);
}
