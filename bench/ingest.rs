//! Ingest benchmark (issue 15, goals 1, 2 and 6): closures/s through the full
//! API (auth, validation, idempotency, the closure and its event in one
//! transaction), single and batch, on SQLite and PostgreSQL, each beside a
//! baseline measured in the same run at the same client count:
//! - PostgreSQL single: `pgbench` running the same two inserts (closure +
//!   event) in one transaction, on a database with the same schema;
//! - SQLite single: the same two inserts, one transaction per closure, through
//!   the service's own storage code with no HTTP in front (the database alone);
//! - PostgreSQL batch: `psql` running `COPY ... FROM STDIN` of the same rows,
//!   1,000 closures and their events per transaction;
//! - SQLite batch: Python's `sqlite3` `executemany` of the same rows, 1,000 per
//!   transaction, one process per client.
//!
//! Every run also says how much of the machine's two cores went to the load
//! generator, the server and the baseline tool.
//!
//! `cargo bench --bench ingest` (BENCH_SECONDS, BENCH_CONCURRENCY,
//! BENCH_WIDE_CONCURRENCY, BENCH_PG_REPEATS, BENCH_ONLY to change).

#[path = "support.rs"]
mod support;

use closure_audit::api::drafts;
use closure_audit::audit::content::closure_hash;
use closure_audit::audit::{self, Action, Actor, Event};
use closure_audit::db::closures::{ClosureRow, insert_new};
use closure_audit::db::{DatabaseUrl, Db, PoolOptions, now_micros};
use closure_audit::domain::closures::{review_flags, validate_closure};
use std::io::Write;
use std::process::Command;
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

/// Columns of the two inserts, as in `PGBENCH_SCRIPT`.
const CLOSURE_COLUMNS: &str = "id, force_id, source_event_id, division, crime_reference, offence_category, \
  home_office_offence_code, domestic_abuse_flag, outcome_code, named_suspect, crime_recorded_at, \
  closure_proposed_at, proposed_by_officer_id, proposed_by_rank, rationale, victim_wishes_recorded, \
  evidence_led_prosecution_considered, safeguarding_in_place, victim_informed, risk_level, \
  evidence_references, victim_sex, victim_age_band, victim_ethnicity, victim_disability, review_flags, \
  content_hash, status, version, received_at, received_by_user_id";
const EVENT_COLUMNS: &str = "at, action, actor_user_id, actor_username, actor_role, actor_force_id, \
  closure_id, force_id, request_id, details";
const DETAILS: &str = r#"{"source_event_id":"NICHE-000123-CL1","crime_reference":"BD/12345/26","offence_category":"domestic_abuse","outcome_code":16,"proposed_by":{"officer_id":"4471","rank":"constable"},"status":"pending_signoff","version":1,"review_flags":"victim_not_informed","content_hash":"b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184"}"#;
const HASH: &str = "b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184";
const RATIONALE: &str =
    "Victim withdrew support after a safeguarding visit; evidence-led prosecution considered.";
const REFERENCES: &str = r#"["BWV-2026-88812","999-CALL-5521"]"#;

/// The SQLite bulk baseline: `executemany` of 1,000 closures and 1,000 events
/// per transaction, one process per client, for a fixed time; prints rows/s.
const EXECUTEMANY: &str = r#"
import multiprocessing as mp, sqlite3, sys, time, uuid
path, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
CL = "INSERT INTO closures (%s) VALUES (%s)" % (sys.argv[4], ",".join("?" * 31))
EV = "INSERT INTO audit_events (%s) VALUES (%s)" % (sys.argv[5], ",".join("?" * 10))
DETAILS, HASH, RATIONALE, REFS = sys.argv[6], sys.argv[7], sys.argv[8], sys.argv[9]
def work(args):
    w, deadline = args
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    n = 0
    while time.time() < deadline:
        now = int(time.time() * 1e6)
        cl, ev = [], []
        for i in range(1000):
            cid = str(uuid.uuid4())
            cl.append((cid, "kent", "EM-%d-%d" % (w, n + i), "North", "BD/12345/26", "domestic_abuse",
                       "8N", 1, 16, 1, 1790000000000000, 1795000000000000, "4471", "constable",
                       RATIONALE, 1, 1, 1, 0, "medium", REFS, "female", "25-34", "white_british",
                       "not_stated", "victim_not_informed", HASH, "pending_signoff", 1, now, "01a2-user"))
            ev.append((now, "closure.created", "01a2-user", "rms-kent", "force_system", "kent", cid,
                       "kent", "a1b2c3d4e5f6a7b8c9d0", DETAILS))
        con.execute("BEGIN IMMEDIATE")
        con.executemany(CL, cl)
        con.executemany(EV, ev)
        con.execute("COMMIT")
        n += 1000
    return n
if __name__ == "__main__":
    start = time.time()
    with mp.Pool(clients) as pool:
        total = sum(pool.map(work, [(w, start + seconds) for w in range(clients)]))
    print(total / (time.time() - start))
"#;

struct Row {
    backend: &'static str,
    mode: &'static str,
    concurrency: usize,
    stats: Stats,
    cpu: CpuShare,
    baseline: f64,
    baseline_name: &'static str,
    baseline_cpu: CpuShare,
}

/// The database alone on SQLite: the same two inserts per transaction through
/// the service's storage code, from `concurrency` threads, for `seconds`.
fn sqlite_alone(concurrency: usize, seconds: f64) -> (f64, CpuShare) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/alone.db", dir.path().display());
    migrate(&url);
    let opts = PoolOptions {
        pool_size: concurrency as u32,
        connect_timeout: Duration::from_secs(5),
        sqlite_busy_timeout_ms: 5000,
    };
    let db = Db::connect(&DatabaseUrl::parse(&url).unwrap(), &opts).unwrap();
    let meter = CpuMeter::start(None);
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
    let rate = total as f64 / start.elapsed().as_secs_f64();
    (rate, meter.stop())
}

/// The SQLite bulk baseline: Python's `executemany`, `clients` processes.
fn sqlite_executemany(clients: usize, seconds: f64) -> (f64, CpuShare) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("executemany.db");
    migrate(&format!("sqlite://{}", path.display()));
    let meter = CpuMeter::start(None);
    let out = Command::new("python3")
        .arg("-c")
        .arg(EXECUTEMANY)
        .arg(&path)
        .arg(clients.to_string())
        .arg(seconds.to_string())
        .args([
            CLOSURE_COLUMNS,
            EVENT_COLUMNS,
            DETAILS,
            HASH,
            RATIONALE,
            REFERENCES,
        ])
        .output()
        .expect("python3 on PATH");
    assert!(
        out.status.success(),
        "executemany: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rate = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (rate, meter.stop())
}

/// One `psql` script: `chunks` transactions, each a `COPY FROM STDIN` of
/// 1,000 closures and one of their 1,000 events (the same rows as the batch).
fn copy_script(client: usize, chunks: usize) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut out = std::io::BufWriter::new(file.reopen().unwrap());
    for k in 0..chunks {
        let now = now_micros();
        let ids: Vec<String> = (0..1000)
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        writeln!(
            out,
            "BEGIN;\nCOPY closures ({CLOSURE_COLUMNS}) FROM STDIN WITH (FORMAT csv);"
        )
        .unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        for (i, id) in ids.iter().enumerate() {
            let source = format!("COPY-{client}-{}", k * 1000 + i);
            let now = now.to_string();
            w.write_record([
                id.as_str(),
                "kent",
                &source,
                "North",
                "BD/12345/26",
                "domestic_abuse",
                "8N",
                "true",
                "16",
                "true",
                "1790000000000000",
                "1795000000000000",
                "4471",
                "constable",
                RATIONALE,
                "true",
                "true",
                "true",
                "false",
                "medium",
                REFERENCES,
                "female",
                "25-34",
                "white_british",
                "not_stated",
                "victim_not_informed",
                HASH,
                "pending_signoff",
                "1",
                &now,
                "01a2-user",
            ])
            .unwrap();
        }
        out.write_all(&w.into_inner().unwrap()).unwrap();
        writeln!(
            out,
            "\\.\nCOPY audit_events ({EVENT_COLUMNS}) FROM STDIN WITH (FORMAT csv);"
        )
        .unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        for id in &ids {
            let now = now.to_string();
            w.write_record([
                now.as_str(),
                "closure.created",
                "01a2-user",
                "rms-kent",
                "force_system",
                "kent",
                id,
                "kent",
                "a1b2c3d4e5f6a7b8c9d0",
                DETAILS,
            ])
            .unwrap();
        }
        out.write_all(&w.into_inner().unwrap()).unwrap();
        writeln!(out, "\\.\nCOMMIT;").unwrap();
    }
    out.flush().unwrap();
    file
}

/// The PostgreSQL bulk baseline: `clients` `psql` processes at once, each
/// copying `chunks` × 1,000 closures with their events: rows/s.
fn pg_copy(clients: usize, chunks: usize) -> (f64, CpuShare) {
    let db = PgDb::create("bench_copy");
    migrate(&db.url);
    let scripts: Vec<_> = (0..clients).map(|c| copy_script(c, chunks)).collect();
    let meter = CpuMeter::start(None);
    let start = Instant::now();
    let children: Vec<_> = scripts
        .iter()
        .map(|s| {
            Command::new("psql")
                .args(["-q", "-X", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-f"])
                .arg(s.path())
                .arg(&db.url)
                .spawn()
                .expect("psql on PATH")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "psql COPY failed");
    }
    let rate = (clients * chunks * 1000) as f64 / start.elapsed().as_secs_f64();
    (rate, meter.stop())
}

async fn service_run(
    server: &Server,
    mode: &'static str,
    concurrency: usize,
    seconds: f64,
) -> (Stats, CpuShare) {
    let client = reqwest::Client::new();
    let token = force_system(&client, &server.base, "kent").await;
    let p = format!("{mode}-{}", uuid::Uuid::new_v4().simple());
    // Bodies for more than the run can send, made before it starts.
    let (url, items, body) = match mode {
        "single" => {
            let body: Arc<dyn Fn(u64) -> serde_json::Value + Send + Sync> =
                Arc::new(move |n| closure("kent", n, &p));
            ("closures", 1, prebuilt((20_000.0 * seconds) as usize, body))
        }
        _ => {
            let body: Arc<dyn Fn(u64) -> serde_json::Value + Send + Sync> = Arc::new(
                move |n: u64| serde_json::json!({"closures": (0..1000).map(|i| closure("kent", n * 1000 + i, &p)).collect::<Vec<_>>()}),
            );
            (
                "closures/batch",
                1000,
                prebuilt((40.0 * seconds) as usize, body),
            )
        }
    };
    let meter = CpuMeter::start(Some(server.child.id()));
    let stats = closed_loop_bytes(
        format!("{}/api/v1/{url}", server.base),
        token,
        concurrency,
        seconds,
        items,
        body,
    )
    .await;
    (stats, meter.stop())
}

/// "busy / load generator / server" as percentages of the machine.
fn cpu_cell(c: &CpuShare) -> String {
    format!(
        "{:.0} / {:.0} / {:.0}",
        100.0 * c.busy,
        100.0 * c.own,
        100.0 * c.server
    )
}

#[tokio::main]
async fn main() {
    let seconds = env_or("BENCH_SECONDS", 10) as f64;
    let concurrency = env_or("BENCH_CONCURRENCY", 8) as usize;
    let wide = env_or("BENCH_WIDE_CONCURRENCY", 32) as usize;
    let repeats = env_or("BENCH_PG_REPEATS", 3) as usize;
    let mut rows = Vec::new();
    let mut pairs = Vec::new();

    let pgbench_run = |clients: usize| {
        let base_db = PgDb::create("bench_pgbench");
        migrate(&base_db.url);
        let meter = CpuMeter::start(None);
        let tps = pgbench(&base_db, PGBENCH_SCRIPT, clients, seconds as u64);
        (tps, meter.stop())
    };
    let runs: [(&str, &str, usize); 8] = [
        ("postgres", "single", concurrency),
        ("postgres", "single", wide),
        ("postgres", "batch", 1),
        ("postgres", "batch", 4),
        ("sqlite", "single", concurrency),
        ("sqlite", "single", wide),
        ("sqlite", "batch", 1),
        ("sqlite", "batch", 4),
    ];
    // BENCH_ONLY=sqlite-single-32 (say) runs just that one, for profiling.
    let only = std::env::var("BENCH_ONLY").ok();
    for (backend, mode, clients) in runs {
        let name = format!("{backend}-{mode}-{clients}");
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        // Each configuration: baseline then service, `repeats` times on fresh
        // databases; the pair with the median ratio is reported, all listed.
        let mut tries = Vec::new();
        for _ in 0..repeats.max(1) {
            let (baseline, baseline_cpu, baseline_name) = match (backend, mode) {
                ("postgres", "single") => {
                    let (r, c) = pgbench_run(clients);
                    (r, c, "pgbench, same two inserts")
                }
                ("postgres", _) => {
                    let (r, c) = pg_copy(clients, (2.0 * seconds) as usize);
                    (r, c, "psql COPY, 1,000 per transaction")
                }
                ("sqlite", "single") => {
                    let (r, c) = sqlite_alone(clients, seconds);
                    (r, c, "one transaction per closure, no HTTP")
                }
                _ => {
                    let (r, c) = sqlite_executemany(clients, seconds);
                    (r, c, "executemany, 1,000 per transaction")
                }
            };
            let db = (backend == "postgres").then(|| PgDb::create("bench_ingest"));
            let server = Server::start(db.as_ref().map(|d| d.url.as_str()), &[]);
            let (stats, cpu) = service_run(&server, mode, clients, seconds).await;
            drop(server);
            tries.push(Row {
                backend,
                mode,
                concurrency: clients,
                stats,
                cpu,
                baseline,
                baseline_name,
                baseline_cpu,
            });
        }
        let ratio = |r: &Row| r.stats.per_second() / r.baseline;
        pairs.push((
            name,
            tries
                .iter()
                .map(|r| {
                    format!(
                        "{:.0}÷{:.0} = {:.2}",
                        r.stats.per_second(),
                        r.baseline,
                        ratio(r)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ));
        tries.sort_by(|a, b| ratio(a).partial_cmp(&ratio(b)).unwrap());
        rows.push(tries.swap_remove(tries.len() / 2));
    }

    // Open loop on SQLite at 80% of the best closed-loop single rate.
    let best = rows
        .iter()
        .filter(|r| r.backend == "sqlite" && r.mode == "single")
        .map(|r| r.stats.per_second())
        .fold(0.0, f64::max);
    let rate = (0.8 * best).floor();
    let open = if rate > 0.0 {
        let server = Server::start(None, &[]);
        let client = reqwest::Client::new();
        let token = force_system(&client, &server.base, "kent").await;
        let n = (rate * seconds) as usize;
        let bodies = closure_bodies(&format!("OPEN-{}", uuid::Uuid::new_v4().simple()), n);
        let meter = CpuMeter::start(Some(server.child.id()));
        let url = format!("{}/api/v1/closures", server.base);
        let stats = open_loop(url, token, rate, seconds, bodies).await;
        Some((stats, meter.stop()))
    } else {
        None
    };

    let mut out = header("Ingest: closures/s through the API beside the database's own tools");
    out.push_str(&format!(
        "Command: `cargo bench --bench ingest` ({seconds} s per run; closed loop, then open loop; \
         {repeats} baseline/service pairs per line, the median pair shown)\n\n"
    ));
    out.push_str(
        "| backend | mode | clients | service closures/s | baseline | baseline /s | ratio | p50 ms | p99 ms | errors | CPU % busy / load generator / server | baseline CPU % busy / tool |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {:.0} / {:.0} |\n",
            r.backend,
            r.mode,
            r.concurrency,
            r.stats.per_second(),
            r.baseline_name,
            r.baseline,
            r.stats.per_second() / r.baseline,
            r.stats.percentile_ms(50.0),
            r.stats.percentile_ms(99.0),
            r.stats.errors,
            cpu_cell(&r.cpu),
            100.0 * r.baseline_cpu.busy,
            100.0 * (r.baseline_cpu.own + r.baseline_cpu.children),
        ));
    }
    out.push_str(
        "\nCPU: shares of both cores over the run (100 = both busy), from /proc: the machine busy, \
         the bench process (the load generator; for the SQLite single baseline, the database code \
         itself), the server process; the rest of \"busy\" is PostgreSQL and anything else running. \
         For baselines, \"tool\" is `pgbench`, `psql` or `python3` (or the in-process inserts).\n\n\
         Every pair (service/s ÷ baseline/s):\n\n",
    );
    for (name, list) in &pairs {
        out.push_str(&format!("- {name}: {list}\n"));
    }
    if let Some((open, cpu)) = open {
        out.push_str(&format!(
            "\nOpen loop on SQLite, single closures, each with its own `source_event_id`, \
             sent on a fixed schedule at 80% of the best closed-loop rate ({best:.0}/s): \
             {rate:.0}/s for {seconds} s; latency counted from when each request was due.\n\n\
             | rate /s | answered 2xx /s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU % busy / load generator / server |\n\
             |---|---|---|---|---|---|---|---|\n\
             | {rate:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            open.per_second(),
            open.percentile_ms(50.0),
            open.percentile_ms(90.0),
            open.percentile_ms(99.0),
            open.percentile_ms(100.0),
            open.errors,
            cpu_cell(&cpu),
        ));
    }
    report("ingest", &out);
}
