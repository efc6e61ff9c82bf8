//! Memory benchmark: the server's resident memory at rest and at its peak
//! during a `closures.csv` export, after closures arrived the way force systems
//! send them (batches of 1,000 through HTTP, 4 clients), at 100,000 and at
//! 1,000,000 closures, on SQLite and PostgreSQL, beside the same server's RSS
//! on an empty database (the same run's baseline).
//!
//! `cargo bench --bench memory` (BENCH_ROWS for the larger count; BENCH_ONLY=sqlite|postgres).

#[path = "support.rs"]
mod support;

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::*;

/// Posts `n` closures in batches of 1,000 from 4 clients: closures per second.
async fn ingest(server: &Server, token: &str, n: u64) -> f64 {
    let batches = n.div_ceil(1000);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (next, base, token) = (next.clone(), server.base.clone(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    break;
                }
                let body = json!({"closures": (0..1000).map(|i| closure("kent", b * 1000 + i, "mem")).collect::<Vec<_>>()});
                let res = client
                    .post(format!("{base}/api/v1/closures/batch"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("batch sent");
                assert!(res.status().is_success(), "batch {b}: {}", res.status());
                let _ = res.bytes().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Waits until the sequencer has integrated every event (the log's size stops
/// moving), at most `limit`.
async fn settle(server: &Server, token: &str, limit: Duration) {
    let client = reqwest::Client::new();
    let until = Instant::now() + limit;
    let mut last = -1i64;
    while Instant::now() < until {
        let size = client
            .get(format!("{}/api/v1/audit/checkpoint", server.base))
            .bearer_auth(token)
            .send()
            .await
            .ok();
        let size = match size {
            Some(r) => r.json::<serde_json::Value>().await.ok(),
            None => None,
        }
        .and_then(|v| v["tree_size"].as_i64())
        .unwrap_or(-2);
        if size == last {
            return;
        }
        last = size;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Run {
    rows: u64,
    ingest_per_s: f64,
    empty: u64,
    rest: u64,
    peak: u64,
    export_s: f64,
    mb: f64,
}

async fn run(backend: &str, rows: u64) -> Run {
    let pg = (backend == "postgres").then(|| PgDb::create("bench_memory"));
    let server = Server::start(pg.as_ref().map(|p| p.url.as_str()), &[]);
    let client = reqwest::Client::new();
    let token = force_system(&client, &server.base, "kent").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let empty = server.rss_kib();
    let ingest_per_s = ingest(&server, &token, rows).await;
    let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
    settle(&server, &admin, Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rest = server.rss_kib();
    let auditor = user(
        &client,
        &server.base,
        &admin,
        json!({"username": "national-auditor", "password": PASSWORD, "display_name": "N", "role": "auditor"}),
    )
    .await;
    let (export_s, bytes, peak) = download(&server, &auditor, "/api/v1/exports/closures.csv").await;
    Run {
        rows,
        ingest_per_s,
        empty,
        rest,
        peak,
        export_s,
        mb: bytes as f64 / 1e6,
    }
}

#[tokio::main]
async fn main() {
    let big = env_or("BENCH_ROWS", 1_000_000);
    let small = (big / 10).max(1000);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let mut out = header(&format!(
        "Memory: server RSS at rest and during closures.csv, after {small} and {big} closures posted"
    ));
    out.push_str("Command: `cargo bench --bench memory`. Closures posted in batches of 1,000 by 4 clients; RSS from /proc, sampled every 10 ms during the export.\n\n");
    out.push_str("| backend | closures | ingest /s | RSS empty MiB | RSS at rest MiB | peak during export MiB | export s | export MB |\n|---|---|---|---|---|---|---|---|\n");
    let mut growth = String::new();
    for backend in ["sqlite", "postgres"] {
        if !only.is_empty() && only != backend {
            continue;
        }
        let mut peaks = Vec::new();
        for rows in [small, big] {
            let r = run(backend, rows).await;
            out.push_str(&format!(
                "| {backend} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |\n",
                r.rows,
                r.ingest_per_s,
                mib(r.empty),
                mib(r.rest),
                mib(r.peak),
                r.export_s,
                r.mb
            ));
            peaks.push(r.peak);
            eprintln!("{backend} {rows}: done");
        }
        growth.push_str(&format!(
            "- {backend}: peak grows {:.1} MiB from {small} to {big} closures (goal < 10 MiB); peak at {big}: {:.1} MiB (goal < 100 MiB)\n",
            mib(peaks[1]) - mib(peaks[0]),
            mib(peaks[1])
        ));
    }
    out.push('\n');
    out.push_str(&growth);
    report("memory", &out);
}
