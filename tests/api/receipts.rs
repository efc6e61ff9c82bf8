//! `GET /closures/{id}/receipt` and `closure-audit audit verify-receipt`: a
//! C2SP tlog-proof of the closure's latest decision event (its creation while
//! it awaits sign-off), that the command line accepts with the log's key and
//! refuses when altered, with another key, or without a policy's quorum; read
//! only by those who may read the closure, and logged as a view.

use crate::common::*;
use crate::on_both_backends;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_closure-audit");

on_both_backends!(a_receipt_proves_the_latest_decision);

/// Runs `audit verify-receipt`; (exit code, the JSON it printed).
fn verify_receipt(receipt: &str, extra: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("closure.tlog-proof");
    std::fs::write(&file, receipt).unwrap();
    let out = Command::new(BIN)
        .args(["audit", "verify-receipt"])
        .arg(&file)
        .args(extra)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

async fn receipt(app: &TestApp, id: &str, token: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let res = app
            .get(&format!("/api/v1/closures/{id}/receipt"), token)
            .await;
        if res.status().as_u16() == 200 {
            assert_eq!(
                res.headers()["content-type"].to_str().unwrap(),
                "text/plain; charset=utf-8"
            );
            return res.text().await.unwrap();
        }
        let p = problem(res, 409).await;
        assert!(
            p["type"]
                .as_str()
                .unwrap()
                .ends_with("not_yet_checkpointed"),
            "{p}"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "never checkpointed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn a_receipt_proves_the_latest_decision(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, essex) = app.user("force_system", Some("essex"), None).await;
    let (_, inspector) = app.officer("kent", "inspector", "IN9").await;
    let key: Value = app
        .get("/api/v1/audit/public-key", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let vkey = key["verifier_key"].as_str().unwrap().to_string();
    let (status, closure) = app
        .post_closure(&sys, &closure_body("kent", "RCPT-1"))
        .await;
    assert_eq!(status, 201);
    let id = closure["id"].as_str().unwrap();

    // While it awaits sign-off: its creation.
    let text = receipt(&app, id, &sys).await;
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
    let (code, out) = verify_receipt(&text, &["--key", &vkey]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["event"]["action"], json!("closure.created"));
    assert_eq!(out["event"]["closure_id"], json!(id));

    // Once signed off: the approval.
    let res = app
        .post(
            &format!("/api/v1/closures/{id}/decision"),
            &inspector,
            &json!({"decision": "approve", "rationale": "Victim's wishes recorded; evidence-led prosecution not viable.",
                    "checklist": full_checklist()}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let text = receipt(&app, id, &inspector).await;
    let (code, out) = verify_receipt(&text, &["--key", &vkey]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["event"]["action"], json!("closure.approved"));
    let index = out["leaf_index"].as_u64().unwrap();
    let events = app.events("action=closure.approved").await;
    assert_eq!(events[0]["leaf_index"].as_u64(), Some(index));

    // Altered: another event in `extra`, another index, another key.
    let extra = text.lines().nth(1).unwrap().strip_prefix("extra ").unwrap();
    let bytes = String::from_utf8(B64.decode(extra).unwrap()).unwrap();
    let forged = bytes.replace("closure.approved", "closure.rejected");
    let altered = text.replace(extra, &B64.encode(forged));
    let (code, out) = verify_receipt(&altered, &["--key", &vkey]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out["detail"].as_str().unwrap().contains("inclusion"),
        "{out}"
    );
    let moved = text.replace(
        &format!("\nindex {index}\n"),
        &format!("\nindex {}\n", index + 1),
    );
    assert_eq!(verify_receipt(&moved, &["--key", &vkey]).0, 1);
    let other = closure_audit::audit::checkpoint::Signer::new(
        "closure-audit",
        ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]),
    )
    .verifier_key();
    assert_eq!(verify_receipt(&text, &["--key", &other]).0, 1);
    // A policy asking for a witness the checkpoint lacks.
    let dir = tempfile::tempdir().unwrap();
    let policy = stranger_policy(dir.path());
    let (code, out) = verify_receipt(
        &text,
        &["--key", &vkey, "--policy", policy.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out["detail"].as_str().unwrap().contains("quorum"), "{out}");
    assert_eq!(verify_receipt("not a receipt", &["--key", &vkey]).0, 2);

    // Only for those who may read the closure, and a view of it.
    problem(
        app.get(&format!("/api/v1/closures/{id}/receipt"), &essex)
            .await,
        404,
    )
    .await;
    problem(
        app.get(&format!("/api/v1/closures/{id}/receipt"), &app.admin_token)
            .await,
        403,
    )
    .await;
    problem(
        app.get("/api/v1/closures/no-such-id/receipt", &sys).await,
        404,
    )
    .await;
    let views = app
        .events(&format!("action=closure.viewed&closure_id={id}"))
        .await;
    assert!(
        views.iter().any(|e| e["details"]["receipt"] == json!(true)),
        "{views:?}"
    );
}
