//! Trends while ingest runs (issue 15, goals 1 and 4): 1,000,000 closures
//! seeded (PostgreSQL left un-analysed), then
//! 1. the first trend requests after the bulk load: month × force (answered
//!    from the trend summary) and month × force of one outcome (the exact
//!    recomputation from the closures), beside the same GROUP BY in the database;
//! 2. closures posted through HTTP at 1,000/s (open loop) while one reader asks
//!    for `trends.csv?group_by=month,force_id` again and again: its p50/p95
//!    beside the GROUP BY in the database run in the same window;
//! 3. the final answer checked against the closures in the database: every
//!    count exact, medians and p90 within 0.01 h.
//!
//! With `BENCH_DECIDE_RATE=N` (default 0: the goal's load, posts only),
//! seeded closures awaiting sign-off are also decided at N/s (open loop), by
//! an inspector of each one's force, in seed order: every force and month in
//! turn, so that the hours of most cells change between two trend reads.
//!
//! `cargo bench --bench trends` (BENCH_ROWS, BENCH_RATE, BENCH_SECONDS,
//! BENCH_DECIDE_RATE, BENCH_BACKENDS=sqlite,postgres).

#[path = "seed.rs"]
mod seed;
#[path = "support.rs"]
mod support;

use closure_audit::db::Conn;
use closure_audit::db::schema::closures;
use closure_audit::domain::FORCES;
use diesel::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use support::*;

fn trend_sql(backend: &str) -> String {
    let month = if backend == "postgres" {
        "to_char(to_timestamp(closure_proposed_at / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM')"
    } else {
        "strftime('%Y-%m', closure_proposed_at / 1000000, 'unixepoch')"
    };
    format!(
        "SELECT {month} AS m, force_id, count(*), sum(CASE WHEN outcome_code = 15 THEN 1 ELSE 0 END), \
         sum(CASE WHEN status = 'signed_off' THEN 1 ELSE 0 END), sum(CASE WHEN review_flags <> '' THEN 1 ELSE 0 END), \
         avg((decided_at - received_at) / 3600000000.0) FROM closures GROUP BY 1, 2 ORDER BY 1, 2"
    )
}

/// The same GROUP BY through the database's own client: milliseconds.
fn db_trend_ms(backend: &str, url: &str, path: &str) -> f64 {
    let sql = trend_sql(backend);
    let mut c = if backend == "postgres" {
        let mut c = Command::new("psql");
        c.args([url, "-q", "-A", "-c", &sql]);
        c
    } else {
        let mut c = Command::new("sqlite3");
        c.args([path, &sql]);
        c
    };
    let t = Instant::now();
    let out = c
        .stderr(Stdio::inherit())
        .output()
        .expect("database client");
    assert!(out.status.success());
    t.elapsed().as_secs_f64() * 1000.0
}

async fn get_ms(client: &reqwest::Client, base: &str, token: &str, q: &str) -> (f64, String) {
    let t = Instant::now();
    let res = client
        .get(format!("{base}/api/v1/exports/trends.csv?{q}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{q}: {}", res.status());
    let body = res.text().await.unwrap();
    (t.elapsed().as_secs_f64() * 1000.0, body)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

/// R-7, written here independently of the service.
fn r7(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let h = (v.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    Some(v[lo] + (h - lo as f64) * (v[h.ceil() as usize] - v[lo]))
}

#[derive(Default)]
struct Exact {
    counts: [u64; 8],
    hours: Vec<f64>,
}

/// The trend by month and force computed from every closure in the database:
/// (month, force) → (counts, hours).
fn exact(url: &str) -> BTreeMap<(String, String), Exact> {
    type Row = (i64, String, i32, String, String, i64, Option<i64>);
    let db = seed::open(url);
    let rows: Vec<Row> = db
        .read_blocking(|c| {
            let q = closures::table.select((
                closures::closure_proposed_at,
                closures::force_id,
                closures::outcome_code,
                closures::status,
                closures::review_flags,
                closures::received_at,
                closures::decided_at,
            ));
            Ok(match c {
                Conn::Sqlite(c) => q.load(*c)?,
                Conn::Postgres(c) => q.load(*c)?,
            })
        })
        .unwrap();
    let mut out: BTreeMap<(String, String), Exact> = BTreeMap::new();
    for (proposed, force, outcome, status, flags, received, decided) in rows {
        let month = chrono::DateTime::from_timestamp_micros(proposed)
            .unwrap()
            .format("%Y-%m")
            .to_string();
        let e = out.entry((month, force)).or_default();
        let st = ["signed_off", "rejected", "pending_signoff", "reopened"];
        let flags = [
            true,
            outcome == 15,
            outcome == 16,
            status == st[0],
            status == st[1],
            status == st[2],
            status == st[3],
            !flags.is_empty(),
        ];
        for (i, f) in flags.iter().enumerate() {
            e.counts[i] += *f as u64;
        }
        if let Some(d) = decided {
            e.hours.push((d - received) as f64 / 3.6e9);
        }
    }
    out
}

/// Checks the CSV against the database: (groups, largest hours error).
fn check(body: &str, url: &str) -> (usize, f64) {
    let mut want = exact(url);
    let mut r = csv::Reader::from_reader(body.as_bytes());
    let mut groups = 0;
    let mut worst: f64 = 0.0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let key = (rec[0].to_string(), rec[1].to_string());
        let e = want
            .remove(&key)
            .unwrap_or_else(|| panic!("{key:?} not in the database"));
        for i in 0..8 {
            assert_eq!(
                rec[2 + i].parse::<u64>().unwrap(),
                e.counts[i],
                "{key:?} column {i}"
            );
        }
        let mut hours = e.hours;
        for (col, p) in [(10, 0.5), (11, 0.9)] {
            match r7(&mut hours, p) {
                None => assert_eq!(&rec[col], ""),
                Some(w) => {
                    let err = (rec[col].parse::<f64>().unwrap() - w).abs();
                    assert!(err <= 0.01 + 1e-9, "{key:?}: {} vs {w}", &rec[col]);
                    worst = worst.max(err);
                }
            }
        }
        groups += 1;
    }
    assert!(
        want.is_empty(),
        "groups missing: {:?}",
        want.keys().take(3).collect::<Vec<_>>()
    );
    (groups, worst)
}

/// The 1-, 5- and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decides seeded closures awaiting sign-off (seed order) at `rate` per
/// second for `seconds`, open loop: how many were decided.
async fn decide(base: String, inspectors: Vec<String>, rows: u64, rate: f64, seconds: f64) -> u64 {
    if rate <= 0.0 {
        return 0;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let body = serde_json::to_vec(&json!({"decision": "approve",
        "rationale": "Evidence-led prosecution considered and not viable on the evidence.",
        "checklist": {"victim_wishes_recorded": true, "evidence_led_prosecution_considered": true,
                      "safeguarding_in_place": true, "victim_informed": true}}))
    .unwrap();
    // Seed rows awaiting sign-off (bench/seed.rs: status by (n / 7) % 4).
    let pending = (0..rows).filter(|n| (n / 7) % 4 == 0);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (i, n) in pending.take((rate * seconds) as usize).enumerate() {
        tokio::time::sleep_until(start + std::time::Duration::from_secs_f64(i as f64 / rate)).await;
        let (client, body) = (client.clone(), body.clone());
        let token = inspectors[n as usize % FORCES.len()].clone();
        let url = format!("{base}/api/v1/closures/seed-{n:010}/decision");
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match res {
                Ok(r) => {
                    let ok = r.status().is_success();
                    if !ok {
                        eprintln!(
                            "decision: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        );
                    }
                    ok
                }
                Err(_) => false,
            }
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap() as u64;
    }
    ok
}

#[tokio::main]
async fn main() {
    let rows = env_or("BENCH_ROWS", 1_000_000);
    let rate = env_or("BENCH_RATE", 1000) as f64;
    let seconds = env_or("BENCH_SECONDS", 30) as f64;
    let decide_rate = env_or("BENCH_DECIDE_RATE", 0) as f64;
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut out = header(&format!(
        "Trends while ingest runs: {rows} closures, posts at {rate}/s"
    ));
    out.push_str(&format!("Command: `BENCH_ROWS={rows} BENCH_RATE={rate} BENCH_SECONDS={seconds} BENCH_DECIDE_RATE={decide_rate} cargo bench --bench trends`. PostgreSQL is not analysed after the bulk load.\n\n"));
    let mut first = String::from(
        "| backend | first month×force (summary) ms | first month×force, outcome 15 (exact recomputation) ms | same GROUP BY in the database ms |\n|---|---|---|---|\n",
    );
    let mut under = String::from(
        "| backend | posts ok/s (asked) | post p50 / p99 ms | decisions ok/s (asked) | trend answers | trend p50 ms | trend p95 ms | GROUP BY in the database during the run, median ms | groups checked, exact counts | worst hours error h | load avg after | machine CPU busy % | bench process CPU % |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let end_us = chrono::Utc::now().timestamp_micros();
    for backend in backends.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let pg = (backend == "postgres").then(|| PgDb::create("bench_trends"));
        let path = dir.path().join("trends.db").display().to_string();
        let url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{path}"),
        };
        migrate(&url);
        let t = Instant::now();
        seed::seed(&seed::open(&url), rows, end_us);
        eprintln!(
            "{backend}: {rows} seeded in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        let server = Server::start(Some(&url), &[]);
        let client = reqwest::Client::new();
        let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
        let token = user(&client, &server.base, &admin, json!({"username": "trends", "password": PASSWORD, "display_name": "T", "role": "auditor"})).await;
        let kent = force_system(&client, &server.base, "kent").await;
        let mut inspectors = Vec::new();
        if decide_rate > 0.0 {
            for (k, f) in FORCES.iter().enumerate() {
                inspectors.push(user(&client, &server.base, &admin, json!({"username": format!("insp-{}", f.id), "password": PASSWORD,
                    "display_name": "Inspector", "role": "officer", "rank": "inspector", "officer_id": format!("INSP{k}"), "force_id": f.id})).await);
            }
        }

        let (summary_ms, _) =
            get_ms(&client, &server.base, &token, "group_by=month,force_id").await;
        let (exact_ms, _) = get_ms(
            &client,
            &server.base,
            &token,
            "group_by=month,force_id&outcome_code=15",
        )
        .await;
        let base_ms = db_trend_ms(backend, &url, &path);
        first.push_str(&format!(
            "| {backend} | {summary_ms:.0} | {exact_ms:.0} | {base_ms:.0} |\n"
        ));
        eprintln!(
            "{backend}: first requests {summary_ms:.0} / {exact_ms:.0} ms, GROUP BY {base_ms:.0} ms"
        );

        // Posts at `rate` while one reader asks again and again.
        let bodies = closure_bodies("TRB", (rate * seconds) as usize + 10);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (client, base, token, stop) = (
                client.clone(),
                server.base.clone(),
                token.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut ms = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    ms.push(
                        get_ms(&client, &base, &token, "group_by=month,force_id")
                            .await
                            .0,
                    );
                }
                ms
            })
        };
        let baseline = {
            let (stop, backend, url, path) =
                (stop.clone(), backend.to_string(), url.clone(), path.clone());
            std::thread::spawn(move || {
                let mut ms = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    ms.push(db_trend_ms(&backend, &url, &path));
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                ms
            })
        };
        let decider = {
            let (base, inspectors) = (server.base.clone(), inspectors.clone());
            tokio::spawn(decide(base, inspectors, rows, decide_rate, seconds))
        };
        let meter = CpuMeter::start(Some(server.child.id()));
        let posts = open_loop(
            format!("{}/api/v1/closures", server.base),
            kent.clone(),
            rate,
            seconds,
            bodies,
        )
        .await;
        let decided = decider.await.unwrap();
        stop.store(true, Ordering::Relaxed);
        let cpu = meter.stop();
        let mut trend_ms = reader.await.unwrap();
        let mut base = baseline.join().unwrap();
        let (busy, mine) = (cpu.busy * 100.0, cpu.own * 100.0);

        // The final answer, nothing posting now, against the database.
        let (_, body) = get_ms(&client, &server.base, &token, "group_by=month,force_id").await;
        let (groups, worst) = check(&body, &url);
        let n = trend_ms.len();
        under.push_str(&format!(
            "| {backend} | {:.0} ({rate}) | {:.1} / {:.1} | {:.0} ({decide_rate}) | {n} | {:.1} | {:.1} | {:.0} | {groups}, yes | {worst:.4} | {} | {busy:.0} | {mine:.0} |\n",
            posts.items as f64 / seconds,
            posts.percentile_ms(50.0),
            posts.percentile_ms(99.0),
            decided as f64 / seconds,
            pct(&mut trend_ms, 50.0),
            pct(&mut trend_ms, 95.0),
            pct(&mut base, 50.0),
            loadavg(),
        ));
        eprintln!("{backend}: done");
        drop(server);
    }
    out.push_str("First requests after the bulk load:\n\n");
    out.push_str(&first);
    out.push_str("\nWhile closures are posted:\n\n");
    out.push_str(&under);
    report("trends", &out);
}
