//! Interoperability with a transparency-log client nobody here wrote:
//! `aics-tlog` (PyPI) verifies our checkpoint, an inclusion proof and a
//! consistency proof straight from our tiles, and notices a fork injected on
//! purpose. `.ci/aics` installs it into `target/aics-venv`; under `CI=true`
//! its absence fails the test rather than skipping it.

use crate::common::*;
use crate::on_both_backends;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

on_both_backends!(
    aics_tlog_verifies_our_tiles_and_sees_a_fork,
    aics_witness_cosigns_and_aics_tlog_enforces_the_quorum,
);

/// The `aics-tlog` program, or `None` (outside CI only) when not installed.
fn aics_tlog() -> Option<PathBuf> {
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

/// The `aics-witness` program beside `aics-tlog`.
fn aics_witness(tlog: &Path) -> PathBuf {
    tlog.with_file_name("aics-witness")
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops a child process when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs aics-tlog with `args`; (success, what it printed).
async fn run(tool: &Path, args: Vec<String>) -> (bool, String) {
    let tool = tool.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&tool)
            .args(&args)
            .output()
            .expect("run aics-tlog");
        let text = format!(
            "{} {}\n{}{}",
            tool.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    })
    .await
    .unwrap()
}

async fn post_closures(app: &TestApp, sys: &str, tag: &str, n: usize) {
    let items: Vec<Value> = (0..n)
        .map(|i| closure_body("kent", &format!("{tag}-{i}")))
        .collect();
    let res = app
        .post("/api/v1/closures/batch", sys, &json!({ "closures": items }))
        .await;
    assert!(res.status().is_success(), "{}", res.status());
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

async fn aics_tlog_verifies_our_tiles_and_sees_a_fork(b: Backend) {
    let Some(tool) = aics_tlog() else { return };
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, national) = app.user("auditor", None, None).await;
    let key: Value = app
        .get("/api/v1/audit/public-key", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let vkey = key["verifier_key"].as_str().unwrap().to_string();
    let tiles = app.url("/log");
    let work = tempfile::tempdir().unwrap();

    post_closures(&app, &sys, "AICS-A", 300).await;
    let old = app.settle().await;
    let old_size = old["tree_size"].as_u64().unwrap();
    let old_note = work.path().join("old.note");
    std::fs::write(&old_note, old["note"].as_str().unwrap()).unwrap();
    post_closures(&app, &sys, "AICS-B", 40).await;
    let new = app.settle().await;
    let size = new["tree_size"].as_u64().unwrap();
    assert!(size >= old_size + 40);

    let common = |cmd: &str| {
        vec![
            s(cmd),
            s("--tiles"),
            tiles.clone(),
            s("--log-key"),
            vkey.clone(),
            s("--origin"),
            s("closure-audit"),
        ]
    };

    // The checkpoint, fetched from /log/checkpoint and checked with our key.
    let (ok, out) = run(&tool, common("verify-checkpoint")).await;
    assert!(ok, "{out}");

    // An entry, as its bundle holds it, is in the log (proof from our tiles).
    let index = old_size + 5;
    let bundle = app
        .client
        .get(app.url(&format!("/log/tile/entries/001.p/{}", size - 256)))
        .bearer_auth(&national)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let entries = bundle_entries(&bundle);
    let leaf = work.path().join("leaf.bin");
    std::fs::write(&leaf, &entries[(index - 256) as usize]).unwrap();
    let mut args = common("verify-inclusion");
    args.extend([s("--index"), s(index), s("--leaf"), s(leaf.display())]);
    let (ok, out) = run(&tool, args).await;
    assert!(ok, "{out}");

    // The log only grew since the checkpoint saved before.
    let mut args = common("verify-consistency");
    args.extend([s("--old-checkpoint"), s(old_note.display())]);
    let (ok, out) = run(&tool, args.clone()).await;
    assert!(ok, "{out}");

    // A fork: one hash of the first full tile rewritten, as someone who owns
    // the database could. The signed checkpoints no longer match the tiles.
    let tile = app
        .client
        .get(app.url("/log/tile/0/000"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut forked = tile.to_vec();
    forked[3 * 32] ^= 0xff;
    app.drop_append_only_triggers();
    let blob = if app.is_postgres() {
        format!("decode('{}', 'hex')", hex::encode(&forked))
    } else {
        format!("X'{}'", hex::encode(&forked))
    };
    app.sql(&format!(
        "UPDATE merkle_tiles SET hashes = {blob} WHERE level = 0 AND tile_index = 0"
    ));
    let (ok, out) = run(&tool, args).await;
    assert!(!ok, "a forked tile passed the consistency check: {out}");
    let mut args = common("verify-inclusion");
    // Leaf 2's path starts with its neighbour, leaf 3: the hash rewritten.
    args.extend([
        s("--index"),
        s(2),
        s("--leaf-hash"),
        hex::encode(&tile[64..96]),
    ]);
    let (ok, out) = run(&tool, args).await;
    assert!(!ok, "a leaf of a forked tile was proved included: {out}");

    // And a checkpoint checked against another log's key is refused.
    use base64::Engine;
    let mut raw = vec![1u8];
    raw.extend([7u8; 32]);
    let other = format!(
        "closure-audit+00000000+{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let mut args = common("verify-checkpoint");
    args[4] = other;
    let (ok, out) = run(&tool, args).await;
    assert!(!ok, "a checkpoint verified with the wrong key: {out}");
}

/// Our witness client gets cosignatures from `aics-witness` (a tlog-witness
/// nobody here wrote), keeps them, serves them on `/log/checkpoint` and counts
/// the quorum; `aics-tlog` then accepts our checkpoint with a quorum of one
/// made of that witness, and refuses it when the quorum names another key.
async fn aics_witness_cosigns_and_aics_tlog_enforces_the_quorum(b: Backend) {
    let Some(tool) = aics_tlog() else { return };
    let witness_bin = aics_witness(&tool);
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("witness.json");
    let port = free_port();
    let out = Command::new(&witness_bin)
        .args(["init", "-c"])
        .arg(&config)
        .args([
            "--name",
            "witness.test/aics",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let witness_vkey = printed
        .split_whitespace()
        .find(|w| w.starts_with("witness.test/aics+"))
        .unwrap_or_else(|| panic!("no vkey in {printed}"))
        .to_string();

    // The log's key, made before the service starts so the witness can trust it.
    let key_file = work.path().join("checkpoint-key");
    std::fs::write(&key_file, hex::encode([0x11u8; 32])).unwrap();
    let log_vkey = closure_audit::audit::checkpoint::Signer::new(
        "closure-audit",
        ed25519_dalek::SigningKey::from_bytes(&[0x11u8; 32]),
    )
    .verifier_key();
    let out = Command::new(&witness_bin)
        .args(["add-log", "-c"])
        .arg(&config)
        .args(["--origin", "closure-audit", "--vkey", &log_vkey])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _server = Child(
        Command::new(&witness_bin)
            .args(["serve", "--log-level", "WARNING", "-c"])
            .arg(&config)
            .spawn()
            .unwrap(),
    );
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "aics-witness did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let policy = work.path().join("witnesses.policy");
    std::fs::write(
        &policy,
        format!(
            "log {log_vkey}\nwitness aics {witness_vkey} http://127.0.0.1:{port}\nquorum aics\n"
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(b, |s| {
        s.checkpoint_key_file = Some(key_file.clone());
        s.witness_policy = Some(policy.clone());
    })
    .await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;

    for round in ["A", "B"] {
        post_closures(&app, &sys, &format!("WIT-{round}"), 30).await;
        let settled = app.settle().await;
        let size = settled["tree_size"].as_u64().unwrap();
        let start = std::time::Instant::now();
        let cp = loop {
            let cp: Value = app
                .get("/api/v1/audit/checkpoint", &app.admin_token)
                .await
                .json()
                .await
                .unwrap();
            if cp["tree_size"].as_u64() == Some(size) && cp["quorum_met"] == json!(true) {
                break cp;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "no cosignature: {cp}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let cos = cp["cosignatures"].as_array().unwrap();
        assert_eq!(cos.len(), 1, "{cp}");
        assert_eq!(cos[0]["witness"], json!("witness.test/aics"));
        assert_eq!(
            cos[0]["key_id"],
            json!(witness_vkey.split('+').nth(1).unwrap())
        );

        // The note on /log/checkpoint carries the cosignature, and aics-tlog
        // accepts it with a quorum of one made of that witness.
        let note = app
            .client
            .get(app.url("/log/checkpoint"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(note.contains("\u{2014} witness.test/aics "), "{note}");
        let quorum = |witness: &str| {
            vec![
                s("verify-checkpoint"),
                s("--tiles"),
                app.url("/log"),
                s("--log-key"),
                log_vkey.clone(),
                s("--witness-key"),
                s(witness),
                s("--quorum"),
                s(1),
            ]
        };
        let (ok, out) = run(&tool, quorum(&witness_vkey)).await;
        assert!(ok, "{out}");
        let other = closure_audit::audit::cosignature::Cosigner::new(
            "witness.test/aics",
            ed25519_dalek::SigningKey::from_bytes(&[0x22u8; 32]),
        )
        .verifier()
        .verifier_key();
        let (ok, out) = run(&tool, quorum(&other)).await;
        assert!(
            !ok,
            "a quorum of a witness that never co-signed passed: {out}"
        );
    }

    // A receipt of the last closure carries the witness's cosignature: our
    // verifier accepts it under the policy, and aics-tlog accepts its parts
    // (the event, the inclusion proof, the co-signed checkpoint) offline.
    let last: Value = app
        .get("/api/v1/closures?limit=1", &sys)
        .await
        .json()
        .await
        .unwrap();
    let id = last["items"][0]["id"].as_str().unwrap();
    let text = app
        .get(&format!("/api/v1/closures/{id}/receipt"), &sys)
        .await
        .text()
        .await
        .unwrap();
    let file = work.path().join("closure.tlog-proof");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_closure-audit"))
        .args(["audit", "verify-receipt"])
        .arg(&file)
        .args(["--key", &log_vkey, "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let proven: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(proven["witnessed_by"], json!(["aics"]));
    let (head, checkpoint) = text.split_once("\n\n").unwrap();
    let mut lines = head.lines().skip(1);
    let extra = lines.next().unwrap().strip_prefix("extra ").unwrap();
    let index = lines
        .next()
        .unwrap()
        .strip_prefix("index ")
        .unwrap()
        .to_string();
    let proof: Vec<&str> = lines.collect();
    use base64::Engine;
    let leaf = work.path().join("event.bin");
    std::fs::write(
        &leaf,
        base64::engine::general_purpose::STANDARD
            .decode(extra)
            .unwrap(),
    )
    .unwrap();
    let proof_file = work.path().join("proof.txt");
    std::fs::write(&proof_file, proof.join("\n") + "\n").unwrap();
    let note_file = work.path().join("checkpoint.note");
    std::fs::write(&note_file, checkpoint).unwrap();
    let (ok, out) = run(
        &tool,
        vec![
            s("verify-inclusion"),
            s("--leaf"),
            s(leaf.display()),
            s("--index"),
            index,
            s("--checkpoint"),
            s(note_file.display()),
            s("--proof"),
            s(proof_file.display()),
            s("--log-key"),
            log_vkey.clone(),
            s("--witness-key"),
            witness_vkey.clone(),
            s("--quorum"),
            s(1),
        ],
    )
    .await;
    assert!(ok, "{out}");

    let res = app.get("/api/v1/audit/witnesses", &app.admin_token).await;
    assert_eq!(res.status().as_u16(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["quorum"], json!("aics"));
    assert_eq!(list["quorum_met"], json!(true));
    let w = &list["items"][0];
    assert_eq!(w["name"], json!("aics"));
    assert_eq!(w["alarms"], json!(0), "{list}");
    assert!(w["last_cosigned_size"].as_u64().unwrap() > 60, "{list}");
}
