//! Scale: with 1,000,000 closures stored, a list page still answers in
//! milliseconds, on SQLite and PostgreSQL. Each list query is timed beside a
//! `GET /healthz` round trip measured in the same run (the HTTP floor).
//!
//! `cargo bench --bench scale` (BENCH_ROWS to change the count).

#[path = "seed.rs"]
mod seed;
#[path = "support.rs"]
mod support;

use serde_json::{Value, json};
use std::time::Instant;
use support::*;

const QUERIES: [&str; 9] = [
    "limit=50",
    "limit=500",
    "force_id=kent&limit=50",
    "status=rejected&limit=50",
    "force_id=kent&status=pending_signoff&limit=50",
    "outcome_code=15&offence_category=rape&limit=50",
    "force_id=kent&division=North&limit=50",
    "from=2026-03-01&to=2026-04-01&limit=50",
    "force_id=essex&from=2026-06-01&to=2026-06-08&limit=50",
];

async fn time(client: &reqwest::Client, url: &str, token: &str, n: usize) -> (f64, f64, String) {
    let mut ms = Vec::new();
    let mut next = String::new();
    for _ in 0..n {
        let t = Instant::now();
        let res = client.get(url).bearer_auth(token).send().await.unwrap();
        assert!(res.status().is_success(), "{url}: {}", res.status());
        let body: Value = res.json().await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        next = body["next_cursor"].as_str().unwrap_or("").to_string();
    }
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (ms[ms.len() / 2], ms[(ms.len() * 99) / 100], next)
}

#[tokio::main]
async fn main() {
    let rows = env_or("BENCH_ROWS", 1_000_000);
    let mut out = header(&format!("Scale: list pages over {rows} closures"));
    out.push_str("Command: `cargo bench --bench scale`. 50 requests per query, one client; the floor is `GET /healthz`.\n\n");
    out.push_str("| backend | query | p50 ms | p99 ms | floor p50 ms |\n|---|---|---|---|---|\n");
    let end_us = chrono::Utc::now().timestamp_micros();
    for backend in ["sqlite", "postgres"] {
        let dir = tempfile::tempdir().unwrap();
        let pg = (backend == "postgres").then(|| PgDb::create("bench_scale"));
        let url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}/scale.db", dir.path().display()),
        };
        migrate(&url);
        let t = Instant::now();
        seed::seed(&seed::open(&url), rows, end_us);
        eprintln!(
            "{backend}: seeded {rows} closures in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let server = Server::start(Some(&url), &[]);
        let client = reqwest::Client::new();
        let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
        let auditor = user(&client, &server.base, &admin, json!({"username": "national", "password": PASSWORD, "display_name": "N", "role": "auditor"})).await;
        let (floor, _, _) = time(&client, &format!("{}/healthz", server.base), &auditor, 50).await;
        for q in QUERIES {
            let url = format!("{}/api/v1/closures?{q}", server.base);
            let (p50, p99, next) = time(&client, &url, &auditor, 50).await;
            out.push_str(&format!(
                "| {backend} | `{q}` | {p50:.2} | {p99:.2} | {floor:.2} |\n"
            ));
            if q == "limit=50" && !next.is_empty() {
                let (p50, p99, _) =
                    time(&client, &format!("{url}&cursor={next}"), &auditor, 50).await;
                out.push_str(&format!("| {backend} | `limit=50` (second page, by cursor) | {p50:.2} | {p99:.2} | {floor:.2} |\n"));
            }
        }
    }
    report("scale", &out);
}
