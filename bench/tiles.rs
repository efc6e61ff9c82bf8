//! Tiles at national scale, on SQLite: a log of `BENCH_LEAVES` (10,000,000)
//! leaves stored before tiles (written straight into `merkle_leaves`, as an
//! upgrade from a log without tiles finds them) is sequenced into tiles by the
//! service's own sequencer; then the service is restarted on it, and proofs
//! and tiles are read by 8 concurrent clients.
//!
//! Figures (issue 12's goals): leaves sequenced into tiles per second (≥ 100,000;
//! baseline: reading the same leaf hashes out of the table in the same run);
//! start-up to ready (< 2 s; baseline: a start on an empty database) and resting
//! RSS (< 150 MiB; baseline: the same on the empty database); p99 of an
//! inclusion proof, a consistency proof and a full tile at 8 clients (< 10 ms;
//! baseline: `GET /healthz` at 8 clients).
//!
//! `cargo bench --bench tiles` (BENCH_LEAVES, BENCH_SECONDS per read run).

#[path = "seed.rs"]
mod seed;
#[path = "support.rs"]
mod support;

use closure_audit::audit::merkle::{leaf_hash, to_hex};
use closure_audit::db::log::{LeafRow, insert_leaves};
use closure_audit::db::with_conn;
use diesel::prelude::*;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::*;

/// Leaves `0..n`, with negative `seq`s that no event has, in transactions of 100,000.
fn seed_leaves(db: &closure_audit::db::Db, n: u64) {
    let mut start = 0;
    while start < n {
        let end = (start + 100_000).min(n);
        let rows: Vec<LeafRow> = (start..end)
            .map(|i| LeafRow {
                leaf_index: i as i64,
                seq: -(i as i64) - 1,
                leaf_hash: to_hex(&leaf_hash(&i.to_be_bytes())),
            })
            .collect();
        db.write_blocking(|c| insert_leaves(c, &rows)).unwrap();
        start = end;
    }
}

/// Reads every leaf hash (the baseline of sequencing): leaves per second.
fn scan_leaves(db: &closure_audit::db::Db) -> f64 {
    use closure_audit::db::schema::merkle_leaves::dsl::*;
    let t = Instant::now();
    let mut from = 0i64;
    let mut count = 0u64;
    loop {
        let page: Vec<String> = db
            .read_blocking(|c| {
                Ok(with_conn!(c, c => merkle_leaves
                    .filter(leaf_index.ge(from))
                    .order(leaf_index.asc())
                    .limit(200_000)
                    .select(leaf_hash)
                    .load(c))?)
            })
            .unwrap();
        if page.is_empty() {
            break;
        }
        count += page.len() as u64;
        from += page.len() as i64;
    }
    count as f64 / t.elapsed().as_secs_f64()
}

async fn checkpoint_size(client: &reqwest::Client, base: &str, token: &str) -> u64 {
    let cp: Value = match client
        .get(format!("{base}/api/v1/audit/checkpoint"))
        .bearer_auth(token)
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    cp["tree_size"].as_u64().unwrap_or(0)
}

/// Starts the service on `url` and waits for `/readyz`: (server, seconds).
async fn start_ready(url: &str) -> (Server, f64) {
    let t = Instant::now();
    let server = Server::start(Some(url), &[]);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
            && r.status().is_success()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (server, t.elapsed().as_secs_f64())
}

async fn resting_rss_mib(server: &Server) -> f64 {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut rest = u64::MAX;
    for _ in 0..20 {
        rest = rest.min(server.rss_kib());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rest as f64 / 1024.0
}

/// The path of request `n` of a run.
type PathOf = Arc<dyn Fn(u64) -> String + Send + Sync>;

/// `concurrency` clients GET `path(n)` one after another for `seconds`.
async fn read_loop(
    base: &str,
    token: &str,
    concurrency: usize,
    seconds: f64,
    path: PathOf,
) -> Stats {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, base, token, counter, path) = (
            client.clone(),
            base.to_string(),
            token.to_string(),
            counter.clone(),
            path.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::default();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = match client
                    .get(format!("{base}{}", path(n)))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(r) => {
                        let good = r.status().is_success();
                        let _ = r.bytes().await;
                        good
                    }
                    Err(_) => false,
                };
                s.latencies_us.push(t.elapsed().as_micros() as u64);
                s.requests += 1;
                if ok { s.items += 1 } else { s.errors += 1 }
            }
            s
        }));
    }
    let mut all = Stats::default();
    for t in tasks {
        let s = t.await.unwrap();
        all.requests += s.requests;
        all.items += s.items;
        all.errors += s.errors;
        all.latencies_us.extend(s.latencies_us);
    }
    all.seconds = start.elapsed().as_secs_f64();
    all
}

/// A spread of numbers below `n` (a multiplicative hash of `i`).
fn spread(i: u64, n: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n.max(1)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

#[tokio::main]
async fn main() {
    let leaves = env_or("BENCH_LEAVES", 10_000_000);
    let seconds = env_or("BENCH_SECONDS", 10) as f64;
    let mut out = header(&format!("Tiles: a log of {leaves} leaves on SQLite"));
    out.push_str(&format!(
        "Command: `cargo bench --bench tiles` (BENCH_LEAVES={leaves}). Leaves written straight into \
         `merkle_leaves` (a log from before tiles), sequenced into tiles by the service's sequencer; then a \
         restart on it, and reads by 8 clients for {seconds} s each.\n\n"
    ));

    // The empty baseline: start-up and resting memory with no log.
    let empty = tempfile::tempdir().unwrap();
    let empty_url = format!("sqlite://{}/empty.db", empty.path().display());
    migrate(&empty_url);
    let (server, empty_start) = start_ready(&empty_url).await;
    let empty_rss = resting_rss_mib(&server).await;
    drop(server);

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/tiles.db", dir.path().display());
    migrate(&url);
    let t = Instant::now();
    let db = seed::open(&url);
    seed_leaves(&db, leaves);
    eprintln!(
        "seeded {leaves} leaves in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let scan = scan_leaves(&db);
    drop(db);

    // Sequencing: from the start until the checkpoint covers every leaf.
    let t = Instant::now();
    let server = Server::start(Some(&url), &[]);
    let client = reqwest::Client::new();
    let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
    while checkpoint_size(&client, &server.base, &admin).await < leaves {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            t.elapsed() < Duration::from_secs(3600),
            "the sequencer did not finish"
        );
    }
    let seq_s = t.elapsed().as_secs_f64();
    let seq_rate = leaves as f64 / seq_s;
    let rss_after_sequencing = resting_rss_mib(&server).await;
    drop(server);

    // A restart on the tiled log.
    let (server, start_s) = start_ready(&url).await;
    let rss = resting_rss_mib(&server).await;
    let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
    let size = checkpoint_size(&client, &server.base, &admin).await;

    out.push_str("| figure | service | same-run baseline | goal | met |\n|---|---|---|---|---|\n");
    out.push_str(&format!(
        "| sequencing {leaves} leaves into tiles | {seq_rate:.0} leaves/s ({seq_s:.1} s) | reading the leaf hashes: {scan:.0} leaves/s | ≥ 100,000 leaves/s | {} |\n",
        verdict(seq_rate >= 100_000.0)
    ));
    out.push_str(&format!(
        "| start-up to ready | {start_s:.2} s | empty database: {empty_start:.2} s | < 2 s | {} |\n",
        verdict(start_s < 2.0)
    ));
    out.push_str(&format!(
        "| resting RSS | {rss:.1} MiB (after sequencing, before the restart: {rss_after_sequencing:.1} MiB) | empty database: {empty_rss:.1} MiB | < 150 MiB | {} |\n",
        verdict(rss < 150.0)
    ));

    let runs: Vec<(&str, PathOf)> = vec![
        (
            "`GET /healthz` (baseline)",
            Arc::new(|_| "/healthz".to_string()),
        ),
        (
            "inclusion proof",
            Arc::new(move |i| {
                format!(
                    "/api/v1/audit/proof/inclusion?leaf_index={}&tree_size={size}",
                    spread(i, size)
                )
            }),
        ),
        (
            "consistency proof",
            Arc::new(move |i| {
                format!(
                    "/api/v1/audit/proof/consistency?first={}&second={size}",
                    1 + spread(i, size - 1)
                )
            }),
        ),
        (
            "full tile (level 0)",
            Arc::new(move |i| {
                let t = closure_audit::audit::tiles::TilePath::Hashes {
                    level: 0,
                    index: spread(i, size / 256),
                    width: closure_audit::audit::tiles::Width::Full,
                };
                format!("/log/{}", t.to_path())
            }),
        ),
    ];
    let mut baseline = f64::NAN;
    for (name, path) in runs {
        let s = read_loop(&server.base, &admin, 8, seconds, path).await;
        let p99 = s.percentile_ms(99.0);
        if baseline.is_nan() {
            baseline = p99;
            continue;
        }
        out.push_str(&format!(
            "| {name}, 8 clients, p99 | {p99:.2} ms (p50 {:.2} ms, {:.0}/s, {} errors) | `/healthz` p99 {baseline:.2} ms | < 10 ms | {} |\n",
            s.percentile_ms(50.0),
            s.per_second(),
            s.errors,
            verdict(p99 < 10.0 && s.errors == 0)
        ));
    }
    drop(server);
    report("tiles", &out);
}
