//! The witness client against a scripted witness on 127.0.0.1: it follows a
//! 409's size hint with a consistency proof from that size, raises an alarm on
//! a 422 and on a 200 without a valid cosignature (shown by
//! `/api/v1/audit/witnesses` and counted in `/metrics`), backs off and asks
//! again, keeps the cosignature it finally gets, and then meets the quorum.

use crate::common::*;
use crate::on_both_backends;
use closure_audit::audit::cosignature::Cosigner;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(the_client_follows_hints_and_raises_alarms);

/// What the scripted witness was sent, and what it has answered so far.
#[derive(Default)]
struct Script {
    bodies: Vec<String>,
    step: usize,
    hint: u64,
}

/// Reads one HTTP/1.1 request; returns its body.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned());
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The scripted witness: 409 naming half the size, then 422, then a 200 with
/// another key's cosignature, then 200 with its own.
async fn serve(listener: tokio::net::TcpListener, script: Arc<Mutex<Script>>, me: Arc<Cosigner>) {
    let stranger = Cosigner::new(&me.name, ed25519_dalek::SigningKey::from_bytes(&[0x33; 32]));
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let Some(body) = read_request(&mut sock).await else {
            continue;
        };
        let (_, note) = body.split_once("\n\n").unwrap_or(("", ""));
        let checkpoint_body = note
            .split_once("\n\n")
            .map(|(b, _)| format!("{b}\n"))
            .unwrap_or_default();
        let size: u64 = checkpoint_body
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let (status, kind, text) = {
            let mut s = script.lock().unwrap();
            s.bodies.push(body.clone());
            match s.step {
                0 if size >= 4 => {
                    s.step = 1;
                    s.hint = size / 2;
                    (
                        "409 Conflict",
                        "text/x.tlog.size",
                        format!("{}\n", size / 2),
                    )
                }
                0 => ("503 Service Unavailable", "text/plain", "not yet\n".into()),
                1 => {
                    s.step = 2;
                    (
                        "422 Unprocessable Entity",
                        "text/plain",
                        "inconsistent\n".into(),
                    )
                }
                2 => {
                    s.step = 3;
                    (
                        "200 OK",
                        "text/plain",
                        stranger.cosign(&checkpoint_body, 1_800_000_000).line(),
                    )
                }
                _ => (
                    "200 OK",
                    "text/plain",
                    me.cosign(&checkpoint_body, 1_800_000_001).line(),
                ),
            }
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = sock.write_all(answer.as_bytes()).await;
        let _ = sock.shutdown().await;
    }
}

async fn witnesses(app: &TestApp) -> Value {
    let res = app.get("/api/v1/audit/witnesses", &app.admin_token).await;
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap()
}

async fn the_client_follows_hints_and_raises_alarms(b: Backend) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let me = Arc::new(Cosigner::new(
        "witness.test/scripted",
        ed25519_dalek::SigningKey::from_bytes(&[0x44; 32]),
    ));
    let script = Arc::new(Mutex::new(Script::default()));
    tokio::spawn(serve(listener, script.clone(), me.clone()));
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("witnesses.policy");
    std::fs::write(
        &policy,
        format!(
            "# one witness, required\nwitness fake {} http://127.0.0.1:{port}/\nquorum fake\n",
            me.verifier().verifier_key()
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(b, |s| s.witness_policy = Some(policy.clone())).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let items: Vec<Value> = (0..10)
        .map(|i| closure_body("kent", &format!("HINT-{i}")))
        .collect();
    let res = app
        .post(
            "/api/v1/closures/batch",
            &sys,
            &json!({ "closures": items }),
        )
        .await;
    assert!(res.status().is_success());

    // The 422 is an alarm, shown with the witness and counted.
    let start = Instant::now();
    let list = loop {
        let list = witnesses(&app).await;
        if list["items"][0]["alarms"].as_i64() >= Some(1) {
            break list;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no alarm: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let w = &list["items"][0];
    assert_eq!(w["name"], json!("fake"));
    assert!(w["last_error"].as_str().unwrap().contains("422"), "{list}");
    assert!(w["last_error_at"].is_string());
    assert_eq!(list["quorum"], json!("fake"));
    assert!(
        app.metrics()
            .await
            .contains("closure_audit_witness_alarms_total{witness=\"fake\"} 1")
    );
    {
        let s = script.lock().unwrap();
        let hinted = s
            .bodies
            .iter()
            .position(|b| b.starts_with(&format!("old {}\n", s.hint)));
        let hinted = hinted.expect("a request from the hinted size");
        let first = &s.bodies[hinted - 1];
        assert!(
            first.starts_with("old 0\n\n"),
            "the first asks from 0 without a proof: {first:?}"
        );
        let lines: Vec<&str> = s.bodies[hinted].split('\n').collect();
        let proof = lines[1..].iter().take_while(|l| !l.is_empty()).count();
        assert!(
            (1..=63).contains(&proof),
            "a consistency proof from the hint: {lines:?}"
        );
    }

    // A 200 whose cosignature is another key's is an alarm too; then the
    // witness's own cosignature is kept and the quorum is met.
    let start = Instant::now();
    let cp = loop {
        let cp: Value = app
            .get("/api/v1/audit/checkpoint", &app.admin_token)
            .await
            .json()
            .await
            .unwrap();
        if cp["quorum_met"] == json!(true) {
            break cp;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no quorum: {cp}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        cp["cosignatures"][0]["witness"],
        json!("witness.test/scripted")
    );
    assert_eq!(
        cp["cosignatures"][0]["timestamp"],
        json!("2027-01-15T08:00:01Z")
    );
    let list = witnesses(&app).await;
    let w = &list["items"][0];
    assert_eq!(w["alarms"], json!(2), "{list}");
    assert_eq!(w["last_cosigned_size"], cp["tree_size"]);
    assert_eq!(list["quorum_met"], json!(true));
}
