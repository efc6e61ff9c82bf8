//! `/log` as C2SP tlog-tiles v0.1.0 serves it: the checkpoint note, hash tiles
//! that give the checkpoint's root and the proofs' leaf hashes, entry bundles of
//! the events' canonical bytes, cache headers, 404 for anything that is not a
//! tile of the published tree, and who may read what. Hashing here is written
//! from RFC 9162 directly, not with the service's code.

use crate::common::*;
use crate::on_both_backends;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_both_backends!(
    the_log_s_tiles_give_its_checkpoint_and_proofs,
    entry_bundles_hold_the_events_for_national_auditors,
    tile_paths_outside_the_published_tree_are_404,
    a_log_that_is_not_public_asks_for_a_token,
    a_log_from_before_tiles_gets_its_tiles,
    the_offline_verifier_reads_a_log_from_its_tiles,
    verify_checks_the_stored_tiles,
);

type Hash = [u8; 32];

fn node(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// RFC 9162 MTH.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    assert_eq!(bytes.len() % 32, 0, "a tile is whole hashes");
    bytes.chunks(32).map(|c| c.try_into().unwrap()).collect()
}

/// Posts `n` closures in batches, then waits for a checkpoint of every event.
async fn log_of_at_least(app: &TestApp, n: usize) -> Value {
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    for start in (0..n).step_by(200) {
        let items: Vec<Value> = (start..(start + 200).min(n))
            .map(|i| closure_body("kent", &format!("TILE-{i}")))
            .collect();
        let res = app
            .post(
                "/api/v1/closures/batch",
                &sys,
                &json!({ "closures": items }),
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
    }
    app.settle().await
}

async fn get_bytes(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn tile_ok(app: &TestApp, path: &str, token: Option<&str>) -> (Vec<u8>, String) {
    let res = get_bytes(app, path, token).await;
    assert_eq!(res.status().as_u16(), 200, "{path}");
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/octet-stream",
        "{path}"
    );
    let cache = res.headers()["cache-control"].to_str().unwrap().to_string();
    (res.bytes().await.unwrap().to_vec(), cache)
}

async fn the_log_s_tiles_give_its_checkpoint_and_proofs(b: Backend) {
    let app = TestApp::spawn(b).await;
    let cp = log_of_at_least(&app, 300).await;
    let size = cp["tree_size"].as_u64().unwrap() as usize;
    assert!(size > 300 && size < 512, "{size}");

    // The checkpoint, without a token: the same signed note as the API's.
    let res = get_bytes(&app, "/log/checkpoint", None).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    let cache = res.headers()["cache-control"].to_str().unwrap().to_string();
    let max_age: u64 = cache
        .split("max-age=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        cache.contains("no-cache") || max_age <= 5,
        "a few seconds at most: {cache}"
    );
    let note = res.text().await.unwrap();
    assert_eq!(note, cp["note"].as_str().unwrap());
    let mut lines = note.lines();
    assert_eq!(lines.next(), Some("closure-audit"));
    assert_eq!(lines.next(), Some(size.to_string().as_str()));

    // Level 0: one full tile and the partial one of this size.
    let (full, cache) = tile_ok(&app, "/log/tile/0/000", None).await;
    assert_eq!(full.len(), 256 * 32);
    assert!(cache.contains("immutable"), "{cache}");
    let width = size - 256;
    let (partial, _) = tile_ok(&app, &format!("/log/tile/0/001.p/{width}"), None).await;
    assert_eq!(partial.len(), width * 32);
    let mut leaves = hashes(&full);
    leaves.extend(hashes(&partial));
    assert_eq!(leaves.len(), size);
    assert_eq!(
        hex::encode(mth(&leaves)),
        cp["root_hash"].as_str().unwrap(),
        "the tiles' root is the checkpoint's"
    );

    // Level 1: the root of level 0's full tile.
    let (level1, _) = tile_ok(&app, "/log/tile/1/000.p/1", None).await;
    assert_eq!(hashes(&level1), vec![mth(&leaves[..256])]);

    // A smaller size's partial tile is a prefix of what is stored.
    let (older, _) = tile_ok(&app, "/log/tile/0/001.p/1", None).await;
    assert_eq!(hashes(&older), vec![leaves[256]]);
    let (older, _) = tile_ok(&app, "/log/tile/0/000.p/9", None).await;
    assert_eq!(hashes(&older), leaves[..9].to_vec());

    // The proofs read the same tree.
    for index in [0, 7, 255, 256, size - 1] {
        let res = app
            .get(
                &format!("/api/v1/audit/proof/inclusion?leaf_index={index}&tree_size={size}"),
                &app.admin_token,
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        let proof: Value = res.json().await.unwrap();
        assert_eq!(proof["leaf_hash"], json!(hex::encode(leaves[index])));
    }
    let res = app
        .get(
            &format!("/api/v1/audit/proof/consistency?first=300&second={size}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
}

async fn entry_bundles_hold_the_events_for_national_auditors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let cp = log_of_at_least(&app, 300).await;
    let size = cp["tree_size"].as_u64().unwrap() as usize;
    let (_, national) = app.user("auditor", None, None).await;
    let (_, kent) = app.user("auditor", Some("kent"), None).await;

    let (tile, _) = tile_ok(&app, "/log/tile/0/000", None).await;
    let (bundle, cache) = tile_ok(&app, "/log/tile/entries/000", Some(&national)).await;
    assert!(
        !cache.contains("public"),
        "personal data in a shared cache: {cache}"
    );
    let entries = bundle_entries(&bundle);
    assert_eq!(entries.len(), 256);
    for (i, (entry, leaf)) in entries.iter().zip(hashes(&tile)).enumerate() {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(entry);
        assert_eq!(<Hash>::from(h.finalize()), leaf, "entry {i}");
    }
    // The leaf format's name, then the event as canonical JSON.
    let text = String::from_utf8(entries[0].clone()).unwrap();
    let (format, json) = text.split_once('\n').unwrap();
    assert_eq!(format, "closure-audit/event/v1");
    let first: Value = serde_json::from_str(json).expect("an event's canonical JSON");
    assert_eq!(first["seq"], json!(1), "{first}");

    let (partial, _) = tile_ok(
        &app,
        &format!("/log/tile/entries/001.p/{}", size - 256),
        Some(&national),
    )
    .await;
    assert!(!partial.is_empty());

    // Personal data: never without a token, never to a force auditor or an admin.
    problem(get_bytes(&app, "/log/tile/entries/000", None).await, 401).await;
    let p = problem(app.get("/log/tile/entries/000", &kent).await, 403).await;
    assert!(
        p["type"]
            .as_str()
            .unwrap()
            .ends_with("national_auditor_required"),
        "{p}"
    );
    problem(
        app.get("/log/tile/entries/000", &app.admin_token).await,
        403,
    )
    .await;
}

async fn tile_paths_outside_the_published_tree_are_404(b: Backend) {
    let app = TestApp::spawn(b).await;
    // Signed in first: a login is an event, and the tree must not grow after `settle`.
    let (_, national) = app.user("auditor", None, None).await;
    let cp = log_of_at_least(&app, 260).await;
    let size = cp["tree_size"].as_u64().unwrap() as usize;
    let width = size - 256;
    assert!(width < 255);
    for path in [
        // Beyond the tree.
        "/log/tile/0/001".to_string(),
        format!("/log/tile/0/001.p/{}", width + 1),
        "/log/tile/0/002.p/1".to_string(),
        "/log/tile/1/000".to_string(),
        "/log/tile/1/000.p/2".to_string(),
        "/log/tile/2/000.p/1".to_string(),
        "/log/tile/entries/001".to_string(),
        // Not the one spelling of a tile.
        "/log/tile/0/0".to_string(),
        "/log/tile/0/x000/000".to_string(),
        "/log/tile/0/000.p/0".to_string(),
        "/log/tile/0/000.p/256".to_string(),
        "/log/tile/0/000.p/007".to_string(),
        "/log/tile/00/000".to_string(),
        "/log/tile/64/000".to_string(),
        "/log/tile/x/000".to_string(),
        "/log/tile/".to_string(),
        "/log/tile/0/000/".to_string(),
        "/log/tiles/0/000".to_string(),
    ] {
        let res = get_bytes(&app, &path, Some(&national)).await;
        assert_eq!(res.status().as_u16(), 404, "{path}");
        problem(res, 404).await;
    }
}

async fn a_log_that_is_not_public_asks_for_a_token(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.log_public = false).await;
    app.settle().await;
    problem(get_bytes(&app, "/log/checkpoint", None).await, 401).await;
    problem(get_bytes(&app, "/log/tile/0/000.p/1", None).await, 401).await;
    let (_, officer) = app.officer("kent", "inspector", "IN7").await;
    let p = problem(app.get("/log/checkpoint", &officer).await, 403).await;
    assert!(
        p["type"]
            .as_str()
            .unwrap()
            .ends_with("tile_reader_role_required"),
        "{p}"
    );
    let (_, auditor) = app.user("auditor", Some("kent"), None).await;
    let (_, witness) = app.user("witness", None, None).await;
    for token in [&auditor, &app.admin_token, &witness] {
        let res = app.get("/log/checkpoint", token).await;
        assert_eq!(res.status().as_u16(), 200);
        let (tile, _) = tile_ok(&app, "/log/tile/0/000.p/1", Some(token)).await;
        assert_eq!(tile.len(), 32);
    }
    // A witness reads checkpoints and proofs, and nothing else.
    let res = app.get("/api/v1/audit/checkpoint", &witness).await;
    assert_eq!(res.status().as_u16(), 200);
    let res = app
        .get("/api/v1/audit/proof/consistency?first=1&second=1", &witness)
        .await;
    assert_eq!(res.status().as_u16(), 200);
    for path in [
        "/api/v1/closures",
        "/api/v1/audit/events",
        "/api/v1/exports/closures.csv",
        "/api/v1/users",
    ] {
        problem(app.get(path, &witness).await, 403).await;
    }
    problem(app.get("/log/tile/entries/000", &witness).await, 403).await;
    // A witness user has no force.
    let res = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            &json!({"username": "w-kent", "password": PASSWORD, "display_name": "W", "role": "witness", "force_id": "kent"}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(error_fields(&p), vec!["force_id"]);
}

/// A log whose leaves were stored before tiles were (an upgrade, or a copy by
/// `migrate-data`, which copies leaves and not tiles): the sequencer builds
/// the same tiles from the stored leaf hashes, and the proofs work again.
async fn a_log_from_before_tiles_gets_its_tiles(b: Backend) {
    let app = TestApp::spawn(b).await;
    let cp = log_of_at_least(&app, 300).await;
    let size = cp["tree_size"].as_u64().unwrap() as usize;
    let (full, _) = tile_ok(&app, "/log/tile/0/000", None).await;
    let (level1, _) = tile_ok(&app, "/log/tile/1/000.p/1", None).await;
    app.drop_append_only_triggers();
    app.sql("DELETE FROM merkle_tiles; DELETE FROM merkle_tile_tails; UPDATE log_state SET tree_size = 0");
    let start = std::time::Instant::now();
    loop {
        let res = get_bytes(&app, "/log/tile/0/000", None).await;
        if res.status().as_u16() == 200 {
            assert_eq!(res.bytes().await.unwrap().to_vec(), full);
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no tiles rebuilt"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let cp = app.settle().await;
    assert!(cp["tree_size"].as_u64().unwrap() as usize >= size);
    let (again, _) = tile_ok(&app, "/log/tile/1/000.p/1", None).await;
    assert_eq!(again, level1);
    let res = app
        .get(
            &format!("/api/v1/audit/proof/consistency?first=1&second={size}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
}

/// `closure-audit audit verify --tiles`: the log read straight from its tiles
/// URL (hash tiles, entry bundles with a national auditor's token) is intact;
/// an event edited in the database is named; `--policy` asks for a quorum the
/// checkpoint does not carry.
async fn the_offline_verifier_reads_a_log_from_its_tiles(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, national) = app.user("auditor", None, None).await;
    let cp = log_of_at_least(&app, 300).await;
    let key: Value = app
        .get("/api/v1/audit/public-key", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let vkey = key["verifier_key"].as_str().unwrap().to_string();
    let tiles = app.url("/log");
    let verify = |extra: Vec<String>| {
        let tiles = tiles.clone();
        let vkey = vkey.clone();
        let national = national.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_closure-audit"))
                .args(["audit", "verify", "--tiles", &tiles, "--public-key", &vkey])
                .env("CLOSURE_AUDIT_TOKEN", &national)
                .args(extra)
                .output()
                .unwrap();
            let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            (
                out.status.code().unwrap_or(-1),
                report,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    let (code, report, err) = verify(vec![]).await.unwrap();
    assert_eq!(code, 0, "{report} {err}");
    assert!(
        report["checked"].as_u64().unwrap() >= cp["tree_size"].as_u64().unwrap(),
        "{report}"
    );

    // A policy whose witness never co-signed: not intact, and why.
    let dir = tempfile::tempdir().unwrap();
    let policy = stranger_policy(dir.path());
    let (code, report, _) = verify(vec!["--policy".into(), policy.display().to_string()])
        .await
        .unwrap();
    assert_eq!(code, 1, "{report}");
    assert!(
        report["detail"].as_str().unwrap().contains("quorum"),
        "{report}"
    );

    // No token: the entry bundles are refused, and that is said.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_closure-audit"))
        .args(["audit", "verify", "--tiles", &tiles, "--public-key", &vkey])
        .env_remove("CLOSURE_AUDIT_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    // An event edited in the database: its entry no longer hashes to its leaf.
    let victim = app.events("action=closure.created").await[3]["seq"]
        .as_i64()
        .unwrap();
    app.drop_append_only_triggers();
    app.sql(&format!(
        "UPDATE audit_events SET request_id = 'rewritten' WHERE seq = {victim}"
    ));
    let (code, report, _) = verify(vec![]).await.unwrap();
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["first_bad_seq"], json!(victim), "{report}");
}

/// `/audit/verify` compares the stored tiles with the tree of the stored
/// leaves: a full tile or a partial one rewritten in the database is found.
async fn verify_checks_the_stored_tiles(b: Backend) {
    let app = TestApp::spawn(b).await;
    log_of_at_least(&app, 300).await;
    let verify = || async {
        let res = app.get("/api/v1/audit/verify", &app.admin_token).await;
        assert_eq!(res.status().as_u16(), 200);
        res.json::<Value>().await.unwrap()
    };
    let report = verify().await;
    assert_eq!(report["ok"], json!(true), "{report}");
    app.drop_append_only_triggers();
    let zeros = "00".repeat(8192);
    let blob = if app.is_postgres() {
        format!("decode('{zeros}', 'hex')")
    } else {
        format!("X'{zeros}'")
    };
    app.sql(&format!(
        "UPDATE merkle_tiles SET hashes = {blob} WHERE level = 0 AND tile_index = 0"
    ));
    let report = verify().await;
    assert_eq!(report["ok"], json!(false), "{report}");
    assert!(
        report["detail"].as_str().unwrap().contains("tile 0/0"),
        "{report}"
    );
}
