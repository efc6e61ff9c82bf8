//! The sequencer with tiles under the highest ingest load: single closures at
//! 32 clients and batches of 1,000 at 4 clients (the service's highest rates),
//! on SQLite and PostgreSQL, with the sequencer on and off in alternating runs
//! (3 pairs each; the median pair reported). With it on: how long after the
//! last answer the checkpoint covers every event (the backlog at the end of
//! the run, which bounds the lag the sequencer keeps while it keeps up).
//!
//! Goals (issue 12): ingest with the sequencer on within 10% of off; lag under 1 s.
//!
//! `cargo bench --bench sequencer` (BENCH_SECONDS per run, BENCH_PAIRS).

#[path = "support.rs"]
mod support;

use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

async fn checkpoint_size(client: &reqwest::Client, base: &str, admin: &str) -> u64 {
    let cp: Value = match client
        .get(format!("{base}/api/v1/audit/checkpoint"))
        .bearer_auth(admin)
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    cp["tree_size"].as_u64().unwrap_or(0)
}

/// One run: closures/s, and with the sequencer on, seconds from the last
/// answer until the checkpoint covers every event.
async fn run(
    backend: &str,
    mode: &str,
    clients: usize,
    seconds: f64,
    on: bool,
) -> (f64, Option<f64>) {
    let db = (backend == "postgres").then(|| PgDb::create("bench_sequencer"));
    let enabled = if on { "true" } else { "false" };
    let server = Server::start(
        db.as_ref().map(|d| d.url.as_str()),
        &[("CLOSURE_AUDIT_SEQUENCER_ENABLED", enabled)],
    );
    let client = reqwest::Client::new();
    let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
    let token = force_system(&client, &server.base, "kent").await;
    let prefix = format!("{mode}-{}", uuid::Uuid::new_v4().simple());
    let stats = if mode == "single" {
        closed_loop(
            format!("{}/api/v1/closures", server.base),
            token,
            clients,
            seconds,
            1,
            Arc::new(move |n| closure("kent", n, &prefix)),
        )
        .await
    } else {
        let body = move |n: u64| serde_json::json!({"closures": (0..1000).map(|i| closure("kent", n * 1000 + i, &prefix)).collect::<Vec<_>>()});
        closed_loop(
            format!("{}/api/v1/closures/batch", server.base),
            token,
            clients,
            seconds,
            1000,
            Arc::new(body),
        )
        .await
    };
    let lag = if on {
        // Every closure answered 201 is one closure.created event, besides the
        // few of the set-up (users, logins): the checkpoint covers them all
        // once it holds at least that many leaves.
        let t = Instant::now();
        let target = stats.items;
        loop {
            let size = checkpoint_size(&client, &server.base, &admin).await;
            if size >= target {
                break Some(t.elapsed().as_secs_f64());
            }
            if t.elapsed() > Duration::from_secs(120) {
                break Some(f64::INFINITY);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    } else {
        None
    };
    (stats.per_second(), lag)
}

#[tokio::main]
async fn main() {
    let seconds = env_or("BENCH_SECONDS", 10) as f64;
    let pairs = env_or("BENCH_PAIRS", 3) as usize;
    let mut out = header("Sequencer on and off at the highest ingest rates");
    out.push_str(&format!(
        "Command: `cargo bench --bench sequencer` ({seconds} s per run, {pairs} alternating off/on pairs per \
         configuration, the pair with the median ratio reported; all ratios listed). Catch-up: seconds from the \
         last answer until the checkpoint covers every closure posted.\n\n"
    ));
    out.push_str("| backend | mode | clients | off /s | on /s | on ÷ off | all ratios | catch-up s (median, max) | within 10% | lag < 1 s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (backend, mode, clients) in [
        ("sqlite", "single", 32),
        ("sqlite", "batch", 4),
        ("postgres", "single", 32),
        ("postgres", "batch", 4),
    ] {
        let mut results = Vec::new();
        for _ in 0..pairs.max(1) {
            let (off, _) = run(backend, mode, clients, seconds, false).await;
            let (on, lag) = run(backend, mode, clients, seconds, true).await;
            results.push((on / off, off, on, lag.unwrap_or(f64::NAN)));
        }
        results.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        let (ratio, off, on, _) = results[results.len() / 2];
        let mut lags: Vec<f64> = results.iter().map(|r| r.3).collect();
        lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let all: Vec<String> = results.iter().map(|r| format!("{:.2}", r.0)).collect();
        let (lag_med, lag_max) = (lags[lags.len() / 2], lags[lags.len() - 1]);
        out.push_str(&format!(
            "| {backend} | {mode} | {clients} | {off:.0} | {on:.0} | {ratio:.2} | {} | {lag_med:.2}, {lag_max:.2} | {} | {} |\n",
            all.join(", "),
            if ratio >= 0.9 { "yes" } else { "**no**" },
            if lag_max < 1.0 { "yes" } else { "**no**" },
        ));
        eprintln!(
            "{backend} {mode} {clients}: {ratio:.2} ({off:.0} off, {on:.0} on), catch-up {lag_med:.2} s"
        );
    }
    report("sequencer", &out);
}
