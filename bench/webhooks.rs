//! Decisions with webhooks: decisions/s (approve, closed loop) with 10
//! subscriptions to the force's approvals and rejections, against the same
//! run without any subscription, alternating, on SQLite and PostgreSQL; and
//! the delivery lag at that rate: from the decision's `timestamp` in the body
//! to its arrival at a receiver in this process (same clock), p50 and p99 over
//! every delivery.
//!
//! Goals (issue 14): with 10 subscriptions within 10% of none; lag p99 < 1 s.
//!
//! `cargo bench --bench webhooks` (BENCH_SECONDS per run, BENCH_PAIRS pairs,
//! BENCH_CONCURRENCY deciding clients).

#[path = "support.rs"]
mod support;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

const SUBSCRIPTIONS: usize = 10;

/// Lags (ms) of the deliveries received.
#[derive(Default)]
struct Seen {
    lags_ms: Mutex<Vec<f64>>,
}

async fn receive(seen: web::Data<Seen>, body: web::Bytes) -> HttpResponse {
    let now = chrono::Utc::now();
    // The receiver is on the measured machine: it finds the timestamp
    // without parsing the whole body.
    const KEY: &[u8] = b"\"timestamp\":\"";
    let ts = body
        .windows(KEY.len())
        .position(|w| w == KEY)
        .map(|i| &body[i + KEY.len()..])
        .and_then(|rest| rest.iter().position(|&b| b == b'"').map(|end| &rest[..end]))
        .and_then(|ts| std::str::from_utf8(ts).ok());
    if let Some(ts) = ts
        && let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts)
    {
        let lag = (now - t.with_timezone(&chrono::Utc))
            .num_microseconds()
            .unwrap_or(0);
        seen.lags_ms.lock().unwrap().push(lag as f64 / 1000.0);
    }
    HttpResponse::Ok().finish()
}

/// A keep-alive receiver on 127.0.0.1: its port.
fn start_receiver(seen: web::Data<Seen>) -> u16 {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(seen.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    port
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

struct Run {
    per_second: f64,
    decisions: u64,
    delivered: usize,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
}

async fn run(
    backend: &str,
    subs: usize,
    seconds: f64,
    clients: usize,
    receiver: u16,
    seen: &Seen,
) -> Run {
    let db = (backend == "postgres").then(|| PgDb::create("bench_webhooks"));
    // BENCH_DELIVERY=false: the outbox is written but nothing is sent (to
    // tell the cost of queueing from the cost of sending).
    let delivery = std::env::var("BENCH_DELIVERY").unwrap_or_else(|_| "true".into());
    let server = Server::start(
        db.as_ref().map(|d| d.url.as_str()),
        &[
            ("CLOSURE_AUDIT_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
            ("CLOSURE_AUDIT_WEBHOOK_DELIVERY", delivery.as_str()),
        ],
    );
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .build()
        .unwrap();
    let admin = login(&client, &base, "admin", ADMIN_PASSWORD).await;
    let system = force_system(&client, &base, "kent").await;
    let inspector = user(
        &client,
        &base,
        &admin,
        json!({"username": "inspector-kent", "password": PASSWORD, "display_name": "Inspector",
               "role": "officer", "rank": "inspector", "officer_id": "INSP1", "force_id": "kent"}),
    )
    .await;
    // Enough closures awaiting sign-off for the run, posted before it.
    let want = env_or("BENCH_CLOSURES", 40_000);
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    let mut ids: Vec<String> = Vec::with_capacity(want as usize);
    for chunk in 0..want.div_ceil(1000) {
        let body = json!({"closures": (0..1000).map(|i| closure("kent", chunk * 1000 + i, &prefix)).collect::<Vec<_>>()});
        let res: Value = client
            .post(format!("{base}/api/v1/closures/batch"))
            .bearer_auth(&system)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for r in res["results"].as_array().unwrap() {
            ids.push(r["id"].as_str().unwrap().to_string());
        }
    }
    let events: Vec<String> = std::env::var("BENCH_EVENTS")
        .unwrap_or_else(|_| "closure.approved,closure.rejected".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let subs_n = std::env::var("BENCH_SUBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(subs);
    let subs = if subs == 0 { 0 } else { subs_n };
    for i in 0..subs {
        let res = client
            .post(format!("{base}/api/v1/webhooks"))
            .bearer_auth(&system)
            .json(&json!({"url": format!("http://127.0.0.1:{receiver}/s{i}"),
                          "events": events}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
    }
    seen.lags_ms.lock().unwrap().clear();
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicU64::new(0));
    let decided = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, base, token, ids, next, decided) = (
            client.clone(),
            base.clone(),
            inspector.clone(),
            ids.clone(),
            next.clone(),
            decided.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let body = serde_json::to_vec(&json!({"decision": "approve",
                "rationale": "Evidence-led prosecution considered and not viable on the evidence.",
                "checklist": {"victim_wishes_recorded": true, "evidence_led_prosecution_considered": true,
                              "safeguarding_in_place": true, "victim_informed": true}}))
            .unwrap();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(id) = ids.get(n) else { break };
                let res = client
                    .post(format!("{base}/api/v1/closures/{id}/decision"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                if let Ok(r) = res {
                    if r.status().is_success() {
                        decided.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = r.bytes().await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let decisions = decided.load(Ordering::Relaxed);
    assert!(
        (next.load(Ordering::Relaxed) as usize) < ids.len(),
        "ran out of closures: raise BENCH_CLOSURES"
    );
    // Wait for every delivery (at most 60 s).
    let expected = decisions as usize * subs;
    let t = Instant::now();
    let wait = if delivery == "false" { 0 } else { 60 };
    while seen.lags_ms.lock().unwrap().len() < expected && t.elapsed() < Duration::from_secs(wait) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lags = seen.lags_ms.lock().unwrap().clone();
    drop(server);
    drop(db);
    Run {
        per_second: decisions as f64 / elapsed,
        decisions,
        delivered: lags.len(),
        lag_p50_ms: percentile(&mut lags, 50.0),
        lag_p99_ms: percentile(&mut lags, 99.0),
    }
}

#[tokio::main]
async fn main() {
    let seconds = env_or("BENCH_SECONDS", 10) as f64;
    let pairs = env_or("BENCH_PAIRS", 3) as usize;
    let clients = env_or("BENCH_CONCURRENCY", 8) as usize;
    let seen = web::Data::new(Seen::default());
    let receiver = start_receiver(seen.clone());
    let mut out = header("Decisions with webhooks");
    out.push_str(&format!(
        "Command: `cargo bench --bench webhooks` ({seconds} s per run, {clients} deciding clients, \
         {pairs} alternating pairs of runs without and with {SUBSCRIPTIONS} subscriptions to approvals and \
         rejections, the pair with the median ratio reported; all ratios listed). Lag: from the decision's \
         `timestamp` to the delivery's arrival at a receiver on 127.0.0.1, over every delivery of the run.\n\n"
    ));
    out.push_str("| backend | none /s | 10 subs /s | ratio | all ratios | deliveries (expected) | lag p50 ms | lag p99 ms | within 10% | p99 < 1 s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for backend in ["sqlite", "postgres"] {
        if !only.is_empty() && only != backend {
            continue;
        }
        let mut results = Vec::new();
        for _ in 0..pairs.max(1) {
            let none = run(backend, 0, seconds, clients, receiver, &seen).await;
            let with = run(backend, SUBSCRIPTIONS, seconds, clients, receiver, &seen).await;
            eprintln!(
                "{backend}: none {:.0}/s, with {:.0}/s, lag p99 {:.1} ms ({} of {})",
                none.per_second,
                with.per_second,
                with.lag_p99_ms,
                with.delivered,
                with.decisions as usize * SUBSCRIPTIONS
            );
            results.push((with.per_second / none.per_second, none, with));
        }
        results.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        let all: Vec<String> = results.iter().map(|r| format!("{:.2}", r.0)).collect();
        let (ratio, none, with) = &results[results.len() / 2];
        let expected = with.decisions as usize * SUBSCRIPTIONS;
        out.push_str(&format!(
            "| {backend} | {:.0} | {:.0} | {ratio:.2} | {} | {} ({expected}) | {:.1} | {:.1} | {} | {} |\n",
            none.per_second,
            with.per_second,
            all.join(", "),
            with.delivered,
            with.lag_p50_ms,
            with.lag_p99_ms,
            if *ratio >= 0.9 { "yes" } else { "**no**" },
            if with.lag_p99_ms < 1000.0 && with.delivered == expected { "yes" } else { "**no**" },
        ));
    }
    report("webhooks", &out);
}
