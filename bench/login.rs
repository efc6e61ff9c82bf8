//! Login benchmark, with baselines from the same run:
//! - logins/s through `POST /auth/login` beside argon2id alone (the service's own
//!   verify, on one thread per core, no HTTP, no database);
//! - ingest p99 at a steady open-loop rate, quiet and then during a storm of
//!   logins (the storm may take at most twice the quiet p99).
//!
//! `cargo bench --bench login` (BENCH_SECONDS to change; BENCH_STORM_RATE is the
//! ingest rate during the storm, closures/s).

#[path = "support.rs"]
mod support;

use closure_audit::auth::password;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::*;

/// argon2id verifications/s with one thread per core.
fn argon2_alone(seconds: f64) -> f64 {
    let hash = password::hash(PASSWORD).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let done: u64 = (0..threads)
        .map(|_| {
            let hash = hash.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    assert!(password::verify(PASSWORD, &hash));
                    n += 1;
                }
                n
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum();
    done as f64 / start.elapsed().as_secs_f64()
}

/// `clients` clients signing in one after another until `stop`: logins done.
async fn login_storm(
    base: String,
    username: String,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> (u64, u64) {
    let client = reqwest::Client::new();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, base, username, stop, ok, failed) = (
                client.clone(),
                base.clone(),
                username.clone(),
                stop.clone(),
                ok.clone(),
                failed.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let res = client
                        .post(format!("{base}/api/v1/auth/login"))
                        .json(&json!({"username": username, "password": PASSWORD}))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

#[tokio::main]
async fn main() {
    let seconds = env_or("BENCH_SECONDS", 10) as f64;
    let storm_rate = env_or("BENCH_STORM_RATE", 1000) as f64;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut out = header("Login: throughput beside argon2 alone, and ingest during a login storm");
    out.push_str("Command: `cargo bench --bench login`\n\n");

    let alone = argon2_alone(seconds);
    let server = Server::start(None, &[]);
    let client = reqwest::Client::new();
    let sys = force_system(&client, &server.base, "kent").await;

    // Logins/s through the API, with twice as many clients as cores.
    let stop = Arc::new(AtomicBool::new(false));
    let storm = tokio::spawn(login_storm(
        server.base.clone(),
        "rms-kent".into(),
        2 * cores,
        stop.clone(),
    ));
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (logins, failed) = storm.await.unwrap();
    let per_s = logins as f64 / start.elapsed().as_secs_f64();
    out.push_str("| measure | service | argon2id alone | ratio |\n|---|---|---|---|\n");
    out.push_str(&format!(
        "| logins/s ({} clients, SQLite) | {per_s:.1} | {alone:.1} | {:.2} |\n\n",
        2 * cores,
        per_s / alone
    ));
    out.push_str(&format!("Failed logins during the run: {failed}.\n\n"));

    // Ingest p99 at a steady rate, quiet and then during a storm.
    let url = format!("{}/api/v1/closures", server.base);
    let n = (storm_rate * seconds) as usize;
    let quiet = open_loop(
        url.clone(),
        sys.clone(),
        storm_rate,
        seconds,
        closure_bodies("QUIET", n),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let storm = tokio::spawn(login_storm(
        server.base.clone(),
        "rms-kent".into(),
        4 * cores,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loud = open_loop(url, sys, storm_rate, seconds, closure_bodies("STORM", n)).await;
    stop.store(true, Ordering::Relaxed);
    let (storm_logins, _) = storm.await.unwrap();
    out.push_str(&format!(
        "Ingest of single closures, open loop at {storm_rate:.0}/s for {seconds} s on SQLite:\n\n\
         | run | p50 ms | p99 ms | errors |\n|---|---|---|---|\n\
         | quiet | {:.2} | {:.2} | {} |\n\
         | during a storm of {} login clients ({:.1} logins/s) | {:.2} | {:.2} | {} |\n\n\
         p99 during the storm / quiet p99: {:.2} (goal: at most 2).\n",
        quiet.percentile_ms(50.0),
        quiet.percentile_ms(99.0),
        quiet.errors,
        4 * cores,
        storm_logins as f64 / (seconds + 0.5),
        loud.percentile_ms(50.0),
        loud.percentile_ms(99.0),
        loud.errors,
        loud.percentile_ms(99.0) / quiet.percentile_ms(99.0),
    ));
    report("login", &out);
}
