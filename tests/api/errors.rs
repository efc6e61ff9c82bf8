//! Every error comes out as problem+json: bad JSON, oversized bodies, wrong
//! content types, unparseable queries and unknown routes.

use crate::common::*;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(framework_errors_are_problems, body_limit_is_configurable);

async fn framework_errors_are_problems(b: Backend) {
    let app = TestApp::spawn(b).await;
    let post_raw = |path: &'static str, ct: Option<&'static str>, body: Vec<u8>| {
        let app = &app;
        async move {
            let mut r = app
                .client
                .post(app.url(path))
                .bearer_auth(&app.admin_token)
                .body(body);
            if let Some(ct) = ct {
                r = r.header("content-type", ct);
            }
            r.send().await.unwrap()
        }
    };
    // 400: not JSON
    let p = problem(
        post_raw(
            "/api/v1/users",
            Some("application/json"),
            b"{\"username\":".to_vec(),
        )
        .await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("JSON"));
    problem(
        post_raw(
            "/api/v1/auth/login",
            Some("application/json"),
            b"not json".to_vec(),
        )
        .await,
        400,
    )
    .await;
    // 415: not application/json
    problem(post_raw("/api/v1/users", None, b"{}".to_vec()).await, 415).await;
    problem(
        post_raw("/api/v1/users", Some("text/plain"), b"{}".to_vec()).await,
        415,
    )
    .await;
    problem(
        post_raw(
            "/api/v1/auth/login",
            Some("application/x-www-form-urlencoded"),
            b"username=a".to_vec(),
        )
        .await,
        415,
    )
    .await;
    // 413: over the default limit of 1 MiB
    let big = json!({"username": "x".repeat(1 << 20)})
        .to_string()
        .into_bytes();
    problem(
        post_raw("/api/v1/users", Some("application/json"), big).await,
        413,
    )
    .await;
    // 404: unknown route, with and without a token
    problem(app.get("/api/v1/nothing-here", &app.admin_token).await, 404).await;
    problem(
        app.client.get(app.url("/nothing")).send().await.unwrap(),
        404,
    )
    .await;
    // 400: query parameter that cannot be parsed
    problem(
        app.get("/api/v1/audit/events?after_seq=abc", &app.admin_token)
            .await,
        400,
    )
    .await;
    problem(
        app.get("/api/v1/audit/events?from=last-tuesday", &app.admin_token)
            .await,
        400,
    )
    .await;
    // 422 lists fields
    let p = problem(
        app.post(
            "/api/v1/users",
            &app.admin_token,
            &json!({"role": "auditor"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["username", "password", "display_name"]);
    assert!(p["type"].as_str().unwrap().contains("validation"));
}

async fn body_limit_is_configurable(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.max_body_bytes = 2000).await;
    let body = json!({"username": "y".repeat(2500), "password": PASSWORD, "display_name": "Y", "role": "auditor"});
    problem(
        app.post("/api/v1/users", &app.admin_token, &body).await,
        413,
    )
    .await;
    let body = json!({"username": "y".repeat(100), "password": PASSWORD, "display_name": "Y", "role": "auditor"});
    let p = problem(
        app.post("/api/v1/users", &app.admin_token, &body).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["username"]);
}
