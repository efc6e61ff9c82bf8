//! Ingest benchmark: closures/s through the full API (auth, validation,
//! idempotency, the closure and its event in one transaction), single and
//! batch, on SQLite and PostgreSQL, each beside a baseline measured in the
//! same run:
//! - PostgreSQL: `pgbench` running the same two inserts (closure + event) in one
//!   transaction at the same concurrency, on a database with the same schema;
//! - SQLite: the same two inserts through the service's own storage code with
//!   no HTTP in front (the database alone).
//!
//! `cargo bench --bench ingest` (BENCH_SECONDS, BENCH_CONCURRENCY to change).

#[path = "support.rs"]
mod support;

use closure_audit::api::drafts;
use closure_audit::audit::content::closure_hash;
use closure_audit::audit::{self, Action, Actor, Event};
use closure_audit::db::closures::{ClosureRow, insert_new};
use closure_audit::db::{DatabaseUrl, Db, PoolOptions, now_micros};
use closure_audit::domain::closures::{review_flags, validate_closure};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

const PGBENCH_SCRIPT: &str = r#"BEGIN;
INSERT INTO closures (id, force_id, source_event_id, division, crime_reference, offence_category,
  home_office_offence_code, domestic_abuse_flag, outcome_code, named_suspect, crime_recorded_at,
  closure_proposed_at, proposed_by_officer_id, proposed_by_rank, rationale, victim_wishes_recorded,
  evidence_led_prosecution_considered, safeguarding_in_place, victim_informed, risk_level,
  evidence_references, victim_sex, victim_age_band, victim_ethnicity, victim_disability, review_flags,
  content_hash, status, version, received_at, received_by_user_id)
VALUES (gen_random_uuid()::text, 'kent', gen_random_uuid()::text, 'North', 'BD/12345/26', 'domestic_abuse',
  '8N', true, 16, true, 1790000000000000, 1795000000000000, '4471', 'constable',
  'Victim withdrew support after a safeguarding visit; evidence-led prosecution considered.', true, true,
  true, false, 'medium', '["BWV-2026-88812","999-CALL-5521"]', 'female', '25-34', 'white_british',
  'not_stated', 'victim_not_informed', 'b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184',
  'pending_signoff', 1, (extract(epoch from clock_timestamp()) * 1000000)::bigint, '01a2-user');
INSERT INTO audit_events (at, action, actor_user_id, actor_username, actor_role, actor_force_id, closure_id,
  force_id, request_id, details)
VALUES ((extract(epoch from clock_timestamp()) * 1000000)::bigint, 'closure.created', '01a2-user', 'rms-kent',
  'force_system', 'kent', gen_random_uuid()::text, 'kent', 'a1b2c3d4e5f6a7b8c9d0',
  '{"source_event_id":"NICHE-000123-CL1","crime_reference":"BD/12345/26","offence_category":"domestic_abuse","outcome_code":16,"proposed_by":{"officer_id":"4471","rank":"constable"},"status":"pending_signoff","version":1,"review_flags":"victim_not_informed","content_hash":"b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184"}');
END;
"#;

struct Row {
    backend: &'static str,
    mode: &'static str,
    concurrency: usize,
    stats: Stats,
    baseline: f64,
    baseline_name: &'static str,
}

/// The database alone on SQLite: the same two inserts per transaction through
/// the service's storage code, from `concurrency` threads, for `seconds`.
fn sqlite_alone(concurrency: usize, seconds: f64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/alone.db", dir.path().display());
    migrate(&url);
    let opts = PoolOptions {
        pool_size: concurrency as u32,
        connect_timeout: Duration::from_secs(5),
        sqlite_busy_timeout_ms: 5000,
    };
    let db = Db::connect(&DatabaseUrl::parse(&url).unwrap(), &opts).unwrap();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let handles: Vec<_> = (0..concurrency)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let actor = Actor::system("bench");
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let body = closure("kent", n * 64 + t as u64, "ALONE");
                    let draft = drafts::closure(&body).unwrap();
                    let input = validate_closure(draft, chrono::Utc::now()).unwrap();
                    let flags = review_flags(&input);
                    let hash = closure_hash(&input);
                    let row = ClosureRow::new(
                        input,
                        uuid::Uuid::now_v7().to_string(),
                        now_micros(),
                        "u",
                        &flags,
                        hash,
                    );
                    db.write_blocking(|c| {
                        insert_new(c, std::slice::from_ref(&row))?;
                        let ev = Event::new(
                            Action::ClosureCreated,
                            &actor,
                            Some("r"),
                            serde_json::json!({"status": "pending_signoff"}),
                        )
                        .closure(&row.id, &row.force_id);
                        audit::append_all(c, &[ev])
                    })
                    .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

async fn service_run(
    server: &Server,
    mode: &'static str,
    concurrency: usize,
    seconds: f64,
) -> Stats {
    let client = reqwest::Client::new();
    let token = force_system(&client, &server.base, "kent").await;
    let prefix = format!("{mode}-{}", uuid::Uuid::new_v4().simple());
    match mode {
        "single" => {
            let p = prefix.clone();
            closed_loop(
                format!("{}/api/v1/closures", server.base),
                token,
                concurrency,
                seconds,
                1,
                Arc::new(move |n| closure("kent", n, &p)),
            )
            .await
        }
        _ => {
            let p = prefix.clone();
            let body = move |n: u64| serde_json::json!({"closures": (0..1000).map(|i| closure("kent", n * 1000 + i, &p)).collect::<Vec<_>>()});
            closed_loop(
                format!("{}/api/v1/closures/batch", server.base),
                token,
                concurrency.min(4),
                seconds,
                1000,
                Arc::new(body),
            )
            .await
        }
    }
}

#[tokio::main]
async fn main() {
    let seconds = env_or("BENCH_SECONDS", 10) as f64;
    let concurrency = env_or("BENCH_CONCURRENCY", 8) as usize;
    let wide = env_or("BENCH_WIDE_CONCURRENCY", 32) as usize;
    let mut rows = Vec::new();

    // Baselines: pgbench, and SQLite through the storage code alone.
    let pgbench_run = || {
        let base_db = PgDb::create("bench_pgbench");
        migrate(&base_db.url);
        pgbench(&base_db, PGBENCH_SCRIPT, concurrency, seconds as u64)
    };
    let pg_tps = pgbench_run();
    let alone = sqlite_alone(concurrency, seconds);
    let repeats = env_or("BENCH_PG_REPEATS", 5) as usize;
    let mut pairs = Vec::new();

    // The service as deployed (sequencer on), each run on a fresh database.
    let runs: [(&str, &str, usize); 5] = [
        ("postgres", "single", concurrency),
        ("postgres", "batch", 4),
        ("sqlite", "single", concurrency),
        ("sqlite", "single", wide),
        ("sqlite", "batch", 4),
    ];
    // BENCH_ONLY=sqlite-single-32 (say) runs just that one, for profiling.
    let only = std::env::var("BENCH_ONLY").ok();
    for (backend, mode, clients) in runs {
        if only
            .as_deref()
            .is_some_and(|o| o != format!("{backend}-{mode}-{clients}"))
        {
            continue;
        }
        let (stats, baseline, baseline_name) = if (backend, mode) == ("postgres", "single") {
            // The noisiest pair: pgbench and the service in turn, several times;
            // the pair with the median ratio is reported, all of them listed.
            let mut runs = Vec::new();
            for _ in 0..repeats.max(1) {
                let tps = pgbench_run();
                let db = PgDb::create("bench_ingest");
                let server = Server::start(Some(&db.url), &[]);
                let stats = service_run(&server, mode, clients, seconds).await;
                drop(server);
                pairs.push((stats.per_second(), tps));
                runs.push((stats.per_second() / tps, stats, tps));
            }
            runs.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
            let (_, stats, tps) = runs.swap_remove(runs.len() / 2);
            (stats, tps, "pgbench")
        } else {
            let db = (backend == "postgres").then(|| PgDb::create("bench_ingest"));
            let server = Server::start(db.as_ref().map(|d| d.url.as_str()), &[]);
            let stats = service_run(&server, mode, clients, seconds).await;
            if backend == "postgres" {
                (stats, pg_tps, "pgbench")
            } else {
                (stats, alone, "same inserts, no HTTP")
            }
        };
        rows.push(Row {
            backend,
            mode,
            concurrency: clients,
            stats,
            baseline,
            baseline_name,
        });
    }

    // Open loop on SQLite at 80% of the best closed-loop single rate.
    let best = rows
        .iter()
        .filter(|r| r.backend == "sqlite" && r.mode == "single")
        .map(|r| r.stats.per_second())
        .fold(0.0, f64::max);
    let rate = (0.8 * best).floor();
    let server = Server::start(None, &[]);
    let client = reqwest::Client::new();
    let token = force_system(&client, &server.base, "kent").await;
    let n = (rate * seconds) as usize;
    let open = open_loop(
        format!("{}/api/v1/closures", server.base),
        token,
        rate,
        seconds,
        closure_bodies(&format!("OPEN-{}", uuid::Uuid::new_v4().simple()), n),
    )
    .await;
    drop(server);

    let mut out = header("Ingest: closures/s through the API beside the database alone");
    out.push_str(&format!(
        "Command: `cargo bench --bench ingest` ({seconds} s per run; closed loop, then open loop)\n\n"
    ));
    out.push_str(
        "| backend | mode | clients | service closures/s | baseline | baseline /s | ratio | p50 ms | p99 ms | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |\n",
            r.backend,
            r.mode,
            r.concurrency,
            r.stats.per_second(),
            r.baseline_name,
            r.baseline,
            r.stats.per_second() / r.baseline,
            r.stats.percentile_ms(50.0),
            r.stats.percentile_ms(99.0),
            r.stats.errors
        ));
    }
    if !pairs.is_empty() {
        out.push_str(&format!(
            "\nPostgreSQL single, each run beside a pgbench run just before it \
             (service/s ÷ pgbench/s), the median pair in the table above: {}.\n",
            pairs
                .iter()
                .map(|(s, p)| format!("{s:.0}÷{p:.0} = {:.2}", s / p))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    out.push_str(&format!(
        "\nOpen loop on SQLite, single closures, each with its own `source_event_id`, \
         sent on a fixed schedule at 80% of the best closed-loop rate ({best:.0}/s): \
         {rate:.0}/s for {seconds} s; latency counted from when each request was due.\n\n\
         | rate /s | answered 2xx /s | p50 ms | p90 ms | p99 ms | max ms | errors |\n\
         |---|---|---|---|---|---|---|\n\
         | {rate:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |\n",
        open.per_second(),
        open.percentile_ms(50.0),
        open.percentile_ms(90.0),
        open.percentile_ms(99.0),
        open.percentile_ms(100.0),
        open.errors,
    ));
    report("ingest", &out);
}
