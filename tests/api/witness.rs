//! `closure-audit witness` over real HTTP (in-process, port 0) on a real SQLite
//! file or a fresh PostgreSQL database: tlog-witness's status-code table as
//! known answers, the cosignature checked with the witness's verifier key, the
//! state across a restart, concurrent submissions, the monitoring read, a
//! pinned starting checkpoint, and aics-tlog's witness quorum on our cosignature.

use crate::common::*;
use crate::on_both_backends;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use closure_audit::audit::checkpoint::Signer;
use closure_audit::audit::cosignature::{CosignerKey, NoteSignature};
use closure_audit::audit::merkle::{Hash, Tree, leaf_hash};
use closure_audit::witness::WitnessSettings;
use closure_audit::witness::http::WitnessServer;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

on_both_backends!(
    witness_status_table_and_restart,
    witness_concurrent_submissions_never_roll_back,
    witness_pinned_start
);

const ORIGIN: &str = "police.example/kent";

fn log_signer() -> Signer {
    Signer::new(ORIGIN, SigningKey::from_bytes(&[11u8; 32]))
}

fn tree(n: u64) -> Tree {
    let mut t = Tree::new();
    for i in 0..n {
        t.push(leaf_hash(format!("event {i}").as_bytes()));
    }
    t
}

fn note(t: &Tree, size: u64) -> String {
    log_signer().sign(size, &t.root(size).unwrap()).note
}

fn body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut b = format!("old {old}\n");
    for h in proof {
        b.push_str(&B64.encode(h));
        b.push('\n');
    }
    b.push('\n');
    b.push_str(note);
    b
}

/// A witness under test: its server, settings, folder and database.
struct TestWitness {
    base: String,
    client: reqwest::Client,
    settings: WitnessSettings,
    verifier_key: String,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

impl TestWitness {
    async fn spawn(b: &Backend) -> TestWitness {
        let dir = tempfile::tempdir().unwrap();
        let mut pg = None;
        let database_url = match b {
            Backend::Sqlite => format!("sqlite://{}/witness.db", dir.path().display()),
            Backend::Postgres(server) => {
                let db = PgDatabase::create(server);
                let url = db.url.clone();
                pg = Some(db);
                url
            }
        };
        let settings = WitnessSettings {
            bind: "127.0.0.1:0".into(),
            database_url,
            name: "witness.hmicfrs.example/w1".into(),
            key_file: dir.path().join("witness-key"),
            logs: log_signer().verifier_key(),
            workers: 2,
            pool_size: 4,
            connect_timeout: Duration::from_secs(2),
            sqlite_busy_timeout_ms: 5000,
            shutdown_timeout_seconds: 1,
        };
        Self::start(settings, dir, pg).await
    }

    async fn start(
        settings: WitnessSettings,
        dir: tempfile::TempDir,
        pg: Option<PgDatabase>,
    ) -> TestWitness {
        let s = settings.clone();
        let server = tokio::task::spawn_blocking(move || WitnessServer::build(&s))
            .await
            .unwrap()
            .expect("witness starts");
        let base = format!("http://127.0.0.1:{}", server.port());
        let verifier_key = server.witness.verifier().verifier_key();
        let handle = server.handle();
        tokio::spawn(server.run_until_stopped());
        TestWitness {
            base,
            client: reqwest::Client::new(),
            settings,
            verifier_key,
            handle,
            _dir: dir,
            _pg: pg,
        }
    }

    /// Stops the server and starts another on the same key and database.
    async fn restart(self) -> TestWitness {
        self.handle.stop(true).await;
        Self::start(self.settings, self._dir, self._pg).await
    }

    async fn add(&self, body: String) -> (u16, String, String) {
        let res = self
            .client
            .post(format!("{}/add-checkpoint", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, res.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

fn monitoring_path() -> String {
    format!(
        "/{}/checkpoint",
        hex::encode(Sha256::digest(ORIGIN.as_bytes()))
    )
}

/// The cosignature's timestamp when `line` is a valid cosignature of `note`'s
/// body by `vkey`.
fn cosigned(vkey: &str, note: &str, line: &str) -> Option<u64> {
    let key = CosignerKey::parse(vkey).unwrap();
    let body = &note[..note.find("\n\n").unwrap() + 1];
    let sig = NoteSignature::parse_line(line.strip_suffix('\n')?).ok()?;
    key.verify(body, &sig)
}

async fn witness_status_table_and_restart(b: Backend) {
    let w = TestWitness::spawn(&b).await;
    let t = tree(10);
    let n4 = note(&t, 4);
    let n10 = note(&t, 10);

    // 404: an origin the witness does not know.
    let stranger = Signer::new("police.example/other", SigningKey::from_bytes(&[12u8; 32]));
    let (s, _, text) = w
        .add(body(0, &[], &stranger.sign(4, &t.root(4).unwrap()).note))
        .await;
    assert_eq!(s, 404, "{text}");
    // 403: the origin's name with an unknown key; a trusted key's bad signature.
    let impostor = Signer::new(ORIGIN, SigningKey::from_bytes(&[13u8; 32]));
    let (s, _, text) = w
        .add(body(0, &[], &impostor.sign(4, &t.root(4).unwrap()).note))
        .await;
    assert_eq!(s, 403, "{text}");
    let forged = n4.replacen(&B64.encode(t.root(4).unwrap()), &B64.encode([7u8; 32]), 1);
    let (s, _, text) = w.add(body(0, &[], &forged)).await;
    assert_eq!(s, 403, "{text}");
    // 400: old above the size; malformed bodies.
    let (s, _, text) = w.add(body(5, &[], &n4)).await;
    assert_eq!(s, 400, "{text}");
    for bad in ["", "old 01\n\n", "old 1\nnot-a-hash\n\n", "old 0\n"] {
        let (s, _, text) = w.add(format!("{bad}{n4}")).await;
        assert_eq!(s, 400, "{bad:?}: {text}");
    }
    let (s, _, text) = w.add(body(0, &[], "not a note\n")).await;
    assert_eq!(s, 400, "{text}");
    // 422: size 0 with a root that is not the empty tree's; a proof from 0.
    let (s, _, text) = w
        .add(body(0, &[], &log_signer().sign(0, &[1u8; 32]).note))
        .await;
    assert_eq!(s, 422, "{text}");
    let (s, _, text) = w
        .add(body(0, &t.consistency_proof(2, 4).unwrap(), &n4))
        .await;
    assert_eq!(s, 422, "{text}");
    // Nothing was cosigned yet.
    assert_eq!(w.get(&monitoring_path()).await.0, 404);

    // 200: the first checkpoint, old 0; the cosignature verifies with the
    // witness's verifier key and carries a timestamp.
    let (s, ct, cosig) = w.add(body(0, &[], &n4)).await;
    assert_eq!(s, 200, "{cosig}");
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert!(cosig.starts_with("\u{2014} witness.hmicfrs.example/w1 "));
    let ts = cosigned(&w.verifier_key, &n4, &cosig).expect("cosignature verifies");
    assert!(ts > 0);
    assert!(cosigned(&w.verifier_key, &n10, &cosig).is_none());

    // 409: old 0 again, with the stored size and its content type.
    let (s, ct, text) = w.add(body(0, &[], &n10)).await;
    assert_eq!(
        (s, ct.as_str(), text.as_str()),
        (409, "text/x.tlog.size", "4\n")
    );
    // 422: a bad proof; the same size with another root.
    let mut proof = t.consistency_proof(4, 10).unwrap();
    proof[0][0] ^= 1;
    let (s, _, text) = w.add(body(4, &proof, &n10)).await;
    assert_eq!(s, 422, "{text}");
    let other4 = log_signer().sign(4, &[5u8; 32]).note;
    let (s, _, text) = w.add(body(4, &[], &other4)).await;
    assert_eq!(s, 422, "{text}");
    // 200: the next one with a valid consistency proof.
    let (s, _, cosig10) = w
        .add(body(4, &t.consistency_proof(4, 10).unwrap(), &n10))
        .await;
    assert_eq!(s, 200, "{cosig10}");
    assert!(cosigned(&w.verifier_key, &n10, &cosig10).is_some());
    // 200 again for the same checkpoint (same size, same root, no proof).
    let (s, _, text) = w.add(body(10, &[], &n10)).await;
    assert_eq!(s, 200, "{text}");

    // The monitoring read: the log's note with the witness's cosignature.
    let (s, latest) = w.get(&monitoring_path()).await;
    assert_eq!(s, 200, "{latest}");
    assert!(latest.starts_with(&n10), "{latest}");
    let line = latest.strip_prefix(&n10).unwrap();
    assert!(cosigned(&w.verifier_key, &n10, line).is_some(), "{latest}");
    assert_eq!(
        w.get(&format!("/{}/checkpoint", "ab".repeat(32))).await.0,
        404
    );
    // sign-subtree is not offered; unknown routes are 404.
    let res = w
        .client
        .post(format!("{}/sign-subtree", w.base))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    // 413 above the body limit.
    let (s, _, _) = w.add("x".repeat(70 * 1024)).await;
    assert_eq!(s, 413);

    // A restart keeps the key and the state.
    let key = w.verifier_key.clone();
    let w = w.restart().await;
    assert_eq!(w.verifier_key, key);
    let (s, ct, text) = w.add(body(4, &[], &n10)).await;
    assert_eq!(
        (s, ct.as_str(), text.as_str()),
        (409, "text/x.tlog.size", "10\n")
    );
    assert_eq!(w.get(&monitoring_path()).await.0, 200);
}

async fn witness_concurrent_submissions_never_roll_back(b: Backend) {
    let w = std::sync::Arc::new(TestWitness::spawn(&b).await);
    let t = tree(40);
    let (s, _, text) = w.add(body(0, &[], &note(&t, 10))).await;
    assert_eq!(s, 200, "{text}");
    // From size 10, twenty submissions of sizes 11..=30 at once: only the
    // first to commit may be cosigned; the rest see its size (409).
    let mut tasks = Vec::new();
    for size in 11..=30u64 {
        let w = w.clone();
        let b = body(10, &t.consistency_proof(10, size).unwrap(), &note(&t, size));
        tasks.push(tokio::spawn(async move { (size, w.add(b).await) }));
    }
    let mut won = Vec::new();
    for task in tasks {
        let (size, (s, _, text)) = task.await.unwrap();
        match s {
            200 => won.push(size),
            409 => {
                let stored: u64 = text.trim_end().parse().unwrap();
                assert!(stored > 10, "{text}");
            }
            other => panic!("{size}: {other} {text}"),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    let (s, ct, text) = w.add(body(0, &[], &note(&t, 40))).await;
    assert_eq!((s, ct.as_str()), (409, "text/x.tlog.size"));
    assert_eq!(text, format!("{}\n", won[0]));
    // Then a smaller and a larger checkpoint from the winner at once: the
    // size only grows.
    let from = won[0];
    let small = body(from, &t.consistency_proof(from, 31).unwrap(), &note(&t, 31));
    let large = body(from, &t.consistency_proof(from, 40).unwrap(), &note(&t, 40));
    let (a, c) = tokio::join!(w.add(small), w.add(large));
    let sizes: Vec<u16> = vec![a.0, c.0];
    assert_eq!(
        sizes.iter().filter(|s| **s == 200).count(),
        1,
        "{a:?} {c:?}"
    );
    let expect = if a.0 == 200 { 31 } else { 40 };
    let (_, _, text) = w.add(body(0, &[], &note(&t, 40))).await;
    assert_eq!(text, format!("{expect}\n"));
}

async fn witness_pinned_start(b: Backend) {
    let w = TestWitness::spawn(&b).await;
    let t = tree(12);
    // The inspectorate obtained the size-5 checkpoint out of band and pins it.
    let witness = {
        let s = w.settings.clone();
        tokio::task::spawn_blocking(move || closure_audit::witness::Witness::open(&s))
            .await
            .unwrap()
            .unwrap()
    };
    let n5 = note(&t, 5);
    let pinned = {
        let (w2, n) = (witness.clone(), n5.clone());
        tokio::task::spawn_blocking(move || w2.pin(&n))
            .await
            .unwrap()
    };
    assert_eq!(pinned, Ok((ORIGIN.to_string(), 5)));
    // A fork the log shows the witness instead (another tree of size 12) is refused.
    let fork = {
        let mut f = Tree::new();
        for i in 0..12u64 {
            f.push(leaf_hash(format!("forked {i}").as_bytes()));
        }
        f
    };
    let (s, ct, text) = w.add(body(0, &[], &note(&fork, 12))).await;
    assert_eq!(
        (s, ct.as_str(), text.as_str()),
        (409, "text/x.tlog.size", "5\n")
    );
    let (s, _, text) = w
        .add(body(
            5,
            &fork.consistency_proof(5, 12).unwrap(),
            &note(&fork, 12),
        ))
        .await;
    assert_eq!(s, 422, "{text}");
    // Not cosigned by pinning alone.
    assert_eq!(w.get(&monitoring_path()).await.0, 404);
    // The real continuation is cosigned.
    let (s, _, text) = w
        .add(body(5, &t.consistency_proof(5, 12).unwrap(), &note(&t, 12)))
        .await;
    assert_eq!(s, 200, "{text}");
    // Pinning again once there is a state is refused; a bad note is refused.
    let n = n5.clone();
    let again = tokio::task::spawn_blocking(move || witness.pin(&n))
        .await
        .unwrap();
    assert!(again.is_err(), "{again:?}");
}

/// The `aics-tlog` program, or `None` (outside CI only) when not installed.
fn aics_tlog() -> Option<std::path::PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/aics-venv/bin/aics-tlog");
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: .ci/aics installs it",
        p.display()
    );
    eprintln!("skipped: aics-tlog not installed (run .ci/aics)");
    None
}

/// aics-tlog, which nobody here wrote, requires a quorum of one cosignature by
/// our witness's key on a note our witness cosigned: it passes with our
/// verifier key and fails with another witness's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aics_tlog_accepts_our_cosignature_in_a_quorum() {
    let Some(tool) = aics_tlog() else { return };
    let w = TestWitness::spawn(&Backend::Sqlite).await;
    let t = tree(7);
    let n7 = note(&t, 7);
    let (s, _, cosig) = w.add(body(0, &[], &n7)).await;
    assert_eq!(s, 200, "{cosig}");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("cosigned.note");
    std::fs::write(&file, format!("{n7}{cosig}")).unwrap();
    let other = closure_audit::audit::cosignature::Cosigner::new(
        "witness.hmicfrs.example/w1",
        SigningKey::from_bytes(&[14u8; 32]),
    )
    .verifier()
    .verifier_key();
    let run = |witness_key: String| {
        let out = Command::new(&tool)
            .args([
                "verify-checkpoint",
                "--note",
                file.to_str().unwrap(),
                "--log-key",
                &log_signer().verifier_key(),
                "--origin",
                ORIGIN,
                "--witness-key",
                &witness_key,
                "--quorum",
                "1",
            ])
            .output()
            .expect("run aics-tlog");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, text) = run(w.verifier_key.clone());
    assert!(ok, "our witness key: {text}");
    let (ok, text) = run(other);
    assert!(!ok, "another witness key must not make the quorum: {text}");
}

/// The binary: `closure-audit witness pin FILE` records the start, then
/// `closure-audit witness` prints its verifier key on its first stdout line,
/// refuses a bad name, and answers with the pinned size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_command_prints_its_key_and_pins() {
    use std::io::BufRead;
    const BIN: &str = env!("CARGO_BIN_EXE_closure-audit");
    let dir = tempfile::tempdir().unwrap();
    let t = tree(6);
    let pin_file = dir.path().join("kent-5.note");
    std::fs::write(&pin_file, note(&t, 5)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cmd = |name: &str| {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CLOSURE_AUDIT_BIND", format!("127.0.0.1:{port}"))
            .env("CLOSURE_AUDIT_DATA_DIR", dir.path())
            .env("CLOSURE_AUDIT_WITNESS_NAME", name)
            .env("CLOSURE_AUDIT_WITNESS_LOGS", log_signer().verifier_key())
            .env("CLOSURE_AUDIT_LOG_LEVEL", "warn");
        c
    };
    let bad = cmd("has space").arg("witness").output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("witness_name"));
    let pinned = cmd("w.example/1")
        .args(["witness", "pin", pin_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(pinned.status.success(), "{pinned:?}");
    assert!(String::from_utf8_lossy(&pinned.stdout).contains("at size 5"));
    assert!(dir.path().join("witness.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("witness-key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut child = cmd("w.example/1")
        .arg("witness")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let vkey = first.trim().to_string();
    assert!(vkey.starts_with("w.example/1+"), "{first}");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/add-checkpoint");
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(r) = client
            .post(&url)
            .body(body(0, &[], &note(&t, 6)))
            .send()
            .await
        {
            answer = Some((r.status().as_u16(), r.text().await.unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer, Some((409, "5\n".to_string())));
    let r = client
        .post(&url)
        .body(body(5, &t.consistency_proof(5, 6).unwrap(), &note(&t, 6)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let line = r.text().await.unwrap();
    assert!(cosigned(&vkey, &note(&t, 6), &line).is_some(), "{line}");
    let _ = child.kill();
    let _ = child.wait();
}
