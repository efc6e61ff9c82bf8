//! Shared by the benchmarks: start the release binary on a fresh database, sign
//! in, drive load over HTTP, run the baselines, and report ratios.

#![allow(dead_code)]

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_closure-audit");
pub const ADMIN_PASSWORD: &str = "bench-admin-password";
pub const PASSWORD: &str = "bench-user-password";
pub const JWT_SECRET: &str = "bench-secret-bench-secret-bench-secret-0123";

pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The PostgreSQL server to use: BENCH_DATABASE_URL, TEST_DATABASE_URL, or the local one.
pub fn pg_server() -> String {
    std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[start..].find('/') {
        Some(i) => &base[..start + i],
        None => base,
    };
    format!("{base}/{db}{query}")
}

/// A PostgreSQL database made for one benchmark, dropped after it.
pub struct PgDb {
    server: String,
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub fn create(prefix: &str) -> PgDb {
        let server = pg_server();
        let name = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let mut c = PgConnection::establish(&server).expect("PostgreSQL reachable");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .unwrap();
        PgDb {
            url: with_database(&server, &name),
            server,
            name,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.server) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c);
        }
    }
}

/// Runs `closure-audit migrate` on a database.
pub fn migrate(db_url: &str) {
    let st = Command::new(BIN)
        .arg("migrate")
        .env("CLOSURE_AUDIT_DATABASE_URL", db_url)
        .env("CLOSURE_AUDIT_LOG_LEVEL", "warn")
        .status()
        .unwrap();
    assert!(st.success(), "migrate failed");
}

/// The service, as a child process on a free port.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub fn start(db_url: Option<&str>, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = db_url
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path())
            .env("CLOSURE_AUDIT_BIND", "127.0.0.1:0")
            .env("CLOSURE_AUDIT_DATABASE_URL", &db)
            .env("CLOSURE_AUDIT_DATA_DIR", dir.path())
            .env("CLOSURE_AUDIT_JWT_SECRET", JWT_SECRET)
            .env("CLOSURE_AUDIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            // Quiet, but for the line that says where it listens.
            .env("CLOSURE_AUDIT_LOG_LEVEL", "warn,closure_audit::app=info")
            .env("CLOSURE_AUDIT_LOG_FORMAT", "text")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(line.clone());
                }
                if line.contains("ERROR") || line.contains("panicked") {
                    eprintln!("server: {line}");
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("server started");
        let port = line
            .split("127.0.0.1:")
            .nth(1)
            .unwrap()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, base, dir }
    }

    /// The server's resident memory now, in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        rss_of(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn login(client: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "login {username}: {}",
        res.status()
    );
    res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Creates a user (as admin) and returns its token.
pub async fn user(client: &reqwest::Client, base: &str, admin: &str, body: Value) -> String {
    let res = client
        .post(format!("{base}/api/v1/users"))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "create user: {}",
        res.text().await.unwrap()
    );
    login(client, base, body["username"].as_str().unwrap(), PASSWORD).await
}

/// A force system of `force` on a fresh server: its token.
pub async fn force_system(client: &reqwest::Client, base: &str, force: &str) -> String {
    let admin = login(client, base, "admin", ADMIN_PASSWORD).await;
    user(
        client,
        base,
        &admin,
        json!({"username": format!("rms-{force}"), "password": PASSWORD, "display_name": "RMS",
                                      "role": "force_system", "force_id": force}),
    )
    .await
}

/// A valid closure with a unique `source_event_id`.
pub fn closure(force: &str, n: u64, prefix: &str) -> Value {
    let now = chrono::Utc::now();
    let division = ["North", "South", "East", "West"][(n % 4) as usize];
    let category = ["domestic_abuse", "rape", "stalking", "harassment"][(n % 4) as usize];
    json!({
        "source_event_id": format!("{prefix}-{n}"),
        "force_id": force,
        "division": division,
        "crime_reference": format!("BD/{n}/26"),
        "offence_category": category,
        "home_office_offence_code": "8N",
        "domestic_abuse_flag": n.is_multiple_of(3),
        "outcome_code": 15 + (n % 2),
        "named_suspect": true,
        "crime_recorded_at": (now - chrono::Duration::days(30 + (n % 60) as i64)).to_rfc3339(),
        "closure_proposed_at": (now - chrono::Duration::hours(1 + (n % 500) as i64)).to_rfc3339(),
        "proposed_by": {"officer_id": format!("{}", 4000 + n % 100), "rank": "constable"},
        "rationale": "Victim withdrew support after a safeguarding visit; evidence-led prosecution considered.",
        "evidence": {"victim_wishes_recorded": true, "evidence_led_prosecution_considered": true,
                     "safeguarding_in_place": true, "victim_informed": !n.is_multiple_of(5), "risk_level": "medium",
                     "references": ["BWV-2026-88812", "999-CALL-5521"]},
        "victim": {"sex": "female", "age_band": "25-34", "ethnicity": "white_british", "disability": "not_stated"}
    })
}

/// What a load run measured.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub requests: u64,
    pub items: u64,
    pub errors: u64,
    pub seconds: f64,
    pub latencies_us: Vec<u64>,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        self.items as f64 / self.seconds
    }
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[i] as f64 / 1000.0
    }
}

/// Closed loop: `concurrency` clients each send one request after another for
/// `seconds`; `body(n)` makes request n, `items` closures per request.
pub async fn closed_loop(
    url: String,
    token: String,
    concurrency: usize,
    seconds: f64,
    items: u64,
    body: Arc<dyn Fn(u64) -> Value + Send + Sync>,
) -> Stats {
    let bytes = move |n| serde_json::to_vec(&body(n)).unwrap();
    closed_loop_bytes(url, token, concurrency, seconds, items, Arc::new(bytes)).await
}

/// Request bodies made before a run (so that making them costs the load
/// generator nothing while it runs): `made[n]` for the first ones, `body(n)`
/// serialised on the spot once they run out.
pub fn prebuilt(
    count: usize,
    body: Arc<dyn Fn(u64) -> Value + Send + Sync>,
) -> Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync> {
    let made: Vec<Vec<u8>> = (0..count as u64)
        .map(|n| serde_json::to_vec(&body(n)).unwrap())
        .collect();
    Arc::new(move |n| match made.get(n as usize) {
        Some(b) => b.clone(),
        None => serde_json::to_vec(&body(n)).unwrap(),
    })
}

/// [`closed_loop`] with bodies as bytes.
pub async fn closed_loop_bytes(
    url: String,
    token: String,
    concurrency: usize,
    seconds: f64,
    items: u64,
    body: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
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
        let (client, url, token, counter, body) = (
            client.clone(),
            url.clone(),
            token.clone(),
            counter.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::default();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let payload = body(n);
                let t = Instant::now();
                let ok = post_json(&client, &url, &token, payload).await;
                s.latencies_us.push(t.elapsed().as_micros() as u64);
                s.requests += 1;
                if ok { s.items += items } else { s.errors += 1 }
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

/// POSTs a JSON body and reads the whole answer: whether it was a 2xx.
async fn post_json(client: &reqwest::Client, url: &str, token: &str, body: Vec<u8>) -> bool {
    let res = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match res {
        Ok(r) => {
            let good = r.status().is_success();
            let _ = r.bytes().await;
            good
        }
        Err(_) => false,
    }
}

/// `n` closures of Kent as JSON bodies, made before a run.
pub fn closure_bodies(prefix: &str, n: usize) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        (0..n as u64)
            .map(|i| serde_json::to_vec(&closure("kent", i, prefix)).unwrap())
            .collect(),
    )
}

/// Open loop: requests leave on a fixed schedule (`rate` per second for
/// `seconds`) whatever the answers, each in its own task, and a request's latency
/// counts from when it was due, so queueing in the service is not hidden (no
/// coordinated omission). `bodies` are sent in turn (made beforehand, so that
/// making them costs the load generator nothing during the run).
pub async fn open_loop(
    url: String,
    token: String,
    rate: f64,
    seconds: f64,
    bodies: Arc<Vec<Vec<u8>>>,
) -> Stats {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let total = (rate * seconds) as usize;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        let body = bodies[i % bodies.len()].clone();
        tasks.push(tokio::spawn(async move {
            let ok = post_json(&client, &url, &token, body).await;
            (ok, due.elapsed().as_micros() as u64)
        }));
    }
    let mut all = Stats::default();
    for t in tasks {
        let (ok, us) = t.await.unwrap();
        all.requests += 1;
        if ok {
            all.items += 1
        } else {
            all.errors += 1
        }
        all.latencies_us.push(us);
    }
    all.seconds = seconds;
    all
}

/// Runs pgbench with `script` on `db` at `concurrency` for `seconds`: transactions per second.
pub fn pgbench(db: &PgDb, script: &str, concurrency: usize, seconds: u64) -> f64 {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &concurrency.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(file.path())
        .arg(&db.url)
        .output()
        .expect("pgbench on PATH");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| {
            l.trim_start_matches("tps = ")
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("pgbench printed tps")
}

/// The git commit being measured.
pub fn commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Writes a report to bench/out/<name>.md and prints it.
pub fn report(name: &str, text: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/out");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.md")), text).unwrap();
    println!("{text}");
}

pub fn header(title: &str) -> String {
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total = mem
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .nth(1)
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or(0);
    format!(
        "### {title}\n\n{} · commit {} · nproc {} · {:.0} GiB\n\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        commit(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        total as f64 / 1024.0 / 1024.0
    )
}

/// The resident memory of process `pid` now, in KiB (from /proc).
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Downloads `path`, counting bytes while sampling the server's memory every
/// 10 ms: (seconds, bytes, peak RSS KiB).
pub async fn download(server: &Server, token: &str, path: &str) -> (f64, u64, u64) {
    let pid = server.child.id();
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (p, s) = (peak.clone(), stop.clone());
    let sampler = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            p.fetch_max(rss_of(pid), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let t = Instant::now();
    let mut res = reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    let mut bytes = 0u64;
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    (secs, bytes, peak.load(Ordering::Relaxed))
}

/// CPU time from /proc, in clock ticks: the machine's busy and total time (all
/// cores), this process's own, its reaped children's, and another process's.
#[derive(Clone, Copy, Default)]
struct Ticks {
    busy: u64,
    total: u64,
    own: u64,
    children: u64,
    other: u64,
}

/// (utime + stime, cutime + cstime) of a process, from /proc/<pid>/stat.
fn process_ticks(pid: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name: state is 0, utime 11, stime 12, cutime 13, cstime 14.
    let v: Vec<u64> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    (at(11) + at(12), at(13) + at(14))
}

fn ticks(other: Option<u32>) -> Ticks {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let total: u64 = cpu.iter().take(8).sum();
    let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
    let (own, children) = process_ticks("self");
    Ticks {
        busy: total - idle,
        total,
        own,
        children,
        other: other.map_or(0, |pid| process_ticks(&pid.to_string()).0),
    }
}

/// Measures where the machine's CPU went between `start` and `stop`.
pub struct CpuMeter {
    start: Ticks,
    pid: Option<u32>,
}

/// Shares of the whole machine (every core) over a run, from 0 to 1.
#[derive(Clone, Copy, Default, Debug)]
pub struct CpuShare {
    /// The machine busy (not idle, not waiting for I/O).
    pub busy: f64,
    /// This process: the load generator (or, with no HTTP, the database code).
    pub own: f64,
    /// Children reaped during the run: `pgbench`, `psql`, `python3`.
    pub children: f64,
    /// The process named at the start (the server).
    pub server: f64,
}

impl CpuMeter {
    /// Starts counting; `server` is the service's process, if there is one.
    pub fn start(server: Option<u32>) -> CpuMeter {
        CpuMeter {
            start: ticks(server),
            pid: server,
        }
    }

    pub fn stop(&self) -> CpuShare {
        let end = ticks(self.pid);
        let total = (end.total - self.start.total).max(1) as f64;
        let share = |a: u64, b: u64| a.saturating_sub(b) as f64 / total;
        CpuShare {
            busy: share(end.busy, self.start.busy),
            own: share(end.own, self.start.own),
            children: share(end.children, self.start.children),
            server: share(end.other, self.start.other),
        }
    }
}

/// Runs a shell pipeline's command with stdout counted: (seconds, bytes).
pub fn timed_dump(mut cmd: Command) -> (f64, u64) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("dump tool");
    let mut out = child.stdout.take().unwrap();
    let bytes = std::io::copy(&mut out, &mut std::io::sink()).unwrap();
    assert!(child.wait().unwrap().success());
    (t.elapsed().as_secs_f64(), bytes)
}
