//! Health, readiness (and losing the database), metrics, request ids, OpenAPI.

use crate::common::*;
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::{Duration, Instant};

on_both_backends!(
    health_metrics_and_request_ids,
    request_ids_are_bounded,
    openapi_documents_every_route,
    readiness_follows_the_database
);

async fn health_metrics_and_request_ids(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let generated = res
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(generated.len() >= 16);
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
    problem(app.get("/api/v1/users/nope", &app.admin_token).await, 404).await;

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"http_requests_total{method="GET",route="/api/v1/users/{id}",status="404"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
}

/// Signs in as admin sending `id` as `X-Request-Id`; returns the id the
/// response carries.
async fn login_with_request_id(app: &TestApp, id: reqwest::header::HeaderValue) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-request-id", id)
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

async fn request_ids_are_bounded(b: Backend) {
    use reqwest::header::HeaderValue;
    let app = TestApp::spawn(b).await;
    // A sane id (64 characters of the allowed set) is echoed and stored.
    let sane = format!("req-1.2:3_{}", "x".repeat(54));
    assert_eq!(sane.len(), 64);
    let echoed = login_with_request_id(&app, HeaderValue::from_str(&sane).unwrap()).await;
    assert_eq!(echoed, sane);
    let stored: Vec<String> = app
        .events("action=auth.login")
        .await
        .iter()
        .filter_map(|e| e["request_id"].as_str().map(str::to_string))
        .collect();
    assert!(stored.contains(&sane), "{stored:?}");

    // Anything else is replaced by a generated id, which the event carries.
    let long = "y".repeat(65);
    let unfit: Vec<(&str, HeaderValue)> = vec![
        ("over-long", HeaderValue::from_str(&long).unwrap()),
        ("space", HeaderValue::from_static("has a space")),
        ("quote", HeaderValue::from_static("say-\"hi\"")),
        ("apostrophe", HeaderValue::from_static("it's")),
        (
            "non-ASCII",
            HeaderValue::from_bytes("caf\u{e9}-1".as_bytes()).unwrap(),
        ),
        ("slash", HeaderValue::from_static("a/b")),
    ];
    for (what, sent) in unfit {
        let sent_text = String::from_utf8_lossy(sent.as_bytes()).into_owned();
        let echoed = login_with_request_id(&app, sent).await;
        assert_ne!(echoed, sent_text, "{what}");
        assert!(
            (1..=64).contains(&echoed.len())
                && echoed
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)),
            "{what}: {echoed}"
        );
        let stored: Vec<String> = app
            .events("action=auth.login")
            .await
            .iter()
            .filter_map(|e| e["request_id"].as_str().map(str::to_string))
            .collect();
        assert!(stored.contains(&echoed), "{what}: {stored:?}");
        assert!(!stored.contains(&sent_text), "{what}: {stored:?}");
    }
}

async fn openapi_documents_every_route(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every refusal code is listed with its meaning, under its response.
    let responses = &doc["components"]["responses"];
    let listed = |response: &str, code: &str| {
        let text = responses[response]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            text.contains(&format!("- `{code}`: ")),
            "{response} lacks {code}"
        );
    };
    use closure_audit::domain::{FieldRule, authorize::Rule, conflicts::Clash};
    Rule::ALL.iter().for_each(|r| listed("Forbidden", r.code()));
    Clash::ALL.iter().for_each(|c| listed("Conflict", c.code()));
    FieldRule::ALL
        .iter()
        .for_each(|r| listed("UnprocessableEntity", r.code()));
    let codes = &doc["components"]["schemas"]["FieldError"]["properties"]["code"]["enum"];
    assert_eq!(
        codes.as_array().map(Vec::len),
        Some(FieldRule::ALL.len()),
        "{codes}"
    );
    let paths = doc["paths"].as_object().unwrap();
    let contract = [
        ("post", "/api/v1/auth/login"),
        ("get", "/api/v1/auth/me"),
        ("post", "/api/v1/users"),
        ("get", "/api/v1/users"),
        ("get", "/api/v1/users/{id}"),
        ("patch", "/api/v1/users/{id}"),
        ("get", "/api/v1/forces"),
        ("get", "/api/v1/audit/events"),
        ("post", "/api/v1/closures"),
        ("post", "/api/v1/closures/batch"),
        ("get", "/api/v1/closures"),
        ("get", "/api/v1/closures/{id}"),
        ("get", "/api/v1/cases"),
        ("post", "/api/v1/closures/{id}/decision"),
        ("post", "/api/v1/closures/{id}/reopen"),
        ("put", "/api/v1/volumes"),
        ("get", "/api/v1/audit/checkpoint"),
        ("get", "/api/v1/audit/public-key"),
        ("get", "/api/v1/audit/proof/inclusion"),
        ("get", "/api/v1/audit/proof/consistency"),
        ("get", "/api/v1/audit/verify"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/log/checkpoint"),
        ("get", "/log/tile/{path}"),
    ];
    for (method, path) in contract {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // Every documented operation is served: without a token, a protected one
    // answers 401 (never the 404 of a missing route). The log's first tile
    // exists once its first event is in a checkpoint.
    app.settle().await;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let concrete = path
                .replace("{id}", "some-id")
                .replace("{path}", "0/000.p/1");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app.request(m, &concrete, None, None).await;
            // A token is optional where one of the requirements is empty (`{}`).
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|reqs| {
                    reqs.iter()
                        .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
                });
            if secured {
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            } else {
                assert_ne!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
            }
        }
    }
}

async fn wait_for(app: &TestApp, want: StatusCode) -> StatusCode {
    let start = Instant::now();
    loop {
        let status = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status();
        if status == want || start.elapsed() > Duration::from_secs(15) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn readiness_follows_the_database(b: Backend) {
    let app = TestApp::spawn_full(b.clone(), true, |s| s.db_connect_timeout_ms = 500).await;
    assert_eq!(wait_for(&app, StatusCode::OK).await, StatusCode::OK);
    let db_file = app.dir.path().join("closure-audit.db");
    let moved = app.dir.path().join("moved-away.db");
    // Take the database away.
    match &app.proxy {
        Some(p) => p.cut().await,
        None => std::fs::rename(&db_file, &moved).unwrap(),
    }
    let started = Instant::now();
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "readiness must answer promptly"
    );
    assert_eq!(
        res.headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    problem(res, 503).await;
    if app.proxy.is_some() {
        // Requests that need the database get 503 too, promptly, never 500.
        let started = Instant::now();
        problem(app.get("/api/v1/auth/me", &app.admin_token).await, 503).await;
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // Bring it back: the service recovers by itself.
    match &app.proxy {
        Some(p) => p.restore(),
        None => std::fs::rename(&moved, &db_file).unwrap(),
    }
    assert_eq!(wait_for(&app, StatusCode::OK).await, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/auth/me", &app.admin_token).await.status(),
        StatusCode::OK
    );
    // And nothing was silently created in its place while it was gone.
    assert!(!moved.exists());
}
