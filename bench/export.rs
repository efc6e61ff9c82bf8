//! Export benchmark: `closures.csv` of 100,000 and 1,000,000 closures through the
//! API (streamed), beside the database's own CSV dump of the same rows in the
//! same run (`psql \copy` on PostgreSQL, `sqlite3 -csv` on SQLite), with the
//! server's peak memory; and the monthly trend by force beside the same GROUP BY
//! run directly in the database.
//!
//! `cargo bench --bench export` (BENCH_ROWS for the larger count; BENCH_ONLY=sqlite|postgres).

#[path = "seed.rs"]
mod seed;
#[path = "support.rs"]
mod support;

use serde_json::json;
use std::process::Command;
use std::time::Instant;
use support::*;

const COLUMNS: &str = "id, force_id, division, crime_reference, source_event_id, offence_category, home_office_offence_code, \
    domestic_abuse_flag, outcome_code, crime_recorded_at, closure_proposed_at, received_at, proposed_by_officer_id, \
    proposed_by_rank, status, decision, decided_by_officer_id, decided_by_rank, decided_at, \
    (decided_at - received_at) / 3600000000.0, rationale, decision_rationale, review_flags, risk_level, victim_sex, \
    victim_age_band, victim_ethnicity, victim_disability, victim_religion_or_belief, victim_sexual_orientation, \
    victim_gender_reassignment, victim_marriage_or_civil_partnership, victim_pregnancy_or_maternity";

fn db_dump(backend: &str, url: &str, path: &str) -> (f64, u64) {
    let sql = format!("SELECT {COLUMNS} FROM closures ORDER BY received_at, id");
    if backend == "postgres" {
        let mut c = Command::new("psql");
        c.args([
            url,
            "-q",
            "-c",
            &format!("\\copy ({sql}) TO STDOUT WITH CSV HEADER"),
        ]);
        timed_dump(c)
    } else {
        let mut c = Command::new("sqlite3");
        c.args(["-csv", "-header", path, &sql]);
        timed_dump(c)
    }
}

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

fn db_trend(backend: &str, url: &str, path: &str) -> f64 {
    let sql = trend_sql(backend);
    let c = if backend == "postgres" {
        let mut c = Command::new("psql");
        c.args([url, "-q", "-A", "-c", &sql]);
        c
    } else {
        let mut c = Command::new("sqlite3");
        c.args([path, &sql]);
        c
    };
    timed_dump(c).0
}

fn mb(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

#[tokio::main]
async fn main() {
    let big = env_or("BENCH_ROWS", 1_000_000);
    let small = (big / 10).max(1);
    let mut out = header(&format!(
        "Export: closures.csv of {small} and {big} closures"
    ));
    out.push_str("Command: `cargo bench --bench export`. One client downloads; the server's RSS is sampled every 20 ms.\n\n");
    out.push_str("| backend | rows | API MB/s | dump tool | dump MB/s | ratio | API MB | server RSS before MiB | server peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n");
    let mut trends = String::from(
        "\n| backend | rows | trends.csv month×force: first request (computed) ms | next 40 requests: p50 ms | p95 ms | same GROUP BY in the database, median of 5 (ms) | GROUP BY / p95 |\n|---|---|---|---|---|---|---|\n",
    );
    let end_us = chrono::Utc::now().timestamp_micros();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for backend in ["sqlite", "postgres"] {
        if !only.is_empty() && only != backend {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let pg = (backend == "postgres").then(|| PgDb::create("bench_export"));
        let path = dir.path().join("export.db").display().to_string();
        let url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{path}"),
        };
        migrate(&url);
        let mut seeded = 0;
        for rows in [small, big] {
            let t = Instant::now();
            seed::seed_range(&seed::open(&url), seeded, rows, end_us);
            seeded = rows;
            eprintln!(
                "{backend}: {rows} closures seeded ({:.0} s)",
                t.elapsed().as_secs_f64()
            );
            if backend == "postgres" {
                let _ = Command::new("psql")
                    .args([url.as_str(), "-q", "-c", "VACUUM ANALYZE closures"])
                    .status();
            }
            let server = Server::start(Some(&url), &[]);
            let client = reqwest::Client::new();
            let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
            let token = user(&client, &server.base, &admin, json!({"username": format!("n{rows}"), "password": PASSWORD, "display_name": "N", "role": "auditor"})).await;
            let before = server.rss_kib();
            let (secs, bytes, peak) =
                download(&server, &token, "/api/v1/exports/closures.csv").await;
            let (dsecs, dbytes) = db_dump(backend, &url, &path);
            let tool = if backend == "postgres" {
                "psql \\copy"
            } else {
                "sqlite3 -csv"
            };
            out.push_str(&format!(
                "| {backend} | {rows} | {:.1} | {tool} | {:.1} | {:.2} | {:.0} | {:.0} | {:.0} |\n",
                mb(bytes, secs),
                mb(dbytes, dsecs),
                mb(bytes, secs) / mb(dbytes, dsecs),
                bytes as f64 / 1e6,
                before as f64 / 1024.0,
                peak as f64 / 1024.0
            ));
            let mut api_ms = Vec::new();
            let mut db_ms = Vec::new();
            for i in 0..41 {
                let t = Instant::now();
                let res = client
                    .get(format!(
                        "{}/api/v1/exports/trends.csv?group_by=month,force_id",
                        server.base
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                let _ = res.bytes().await.unwrap();
                api_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                if i < 5 {
                    db_ms.push(db_trend(backend, &url, &path) * 1000.0);
                }
            }
            let first = api_ms.remove(0);
            api_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
            db_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let p = |q: f64| api_ms[((q / 100.0) * (api_ms.len() - 1) as f64).round() as usize];
            trends.push_str(&format!(
                "| {backend} | {rows} | {first:.0} | {:.1} | {:.1} | {:.0} | {:.0} |\n",
                p(50.0),
                p(95.0),
                db_ms[2],
                db_ms[2] / p(95.0)
            ));
        }
    }
    out.push_str(&trends);
    report("export", &out);
}
