//! Sign-in, tokens and throttling.

use crate::common::*;
use crate::on_both_backends;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    first_start_admin_signs_in,
    wrong_credentials_all_look_alike,
    every_bad_token_is_refused,
    throttling_after_five_failures,
    concurrent_wrong_passwords_are_throttled_atomically,
    password_change_revokes_tokens,
    forces_are_listed
);

async fn first_start_admin_signs_in(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    let me: Value = app
        .get("/api/v1/auth/me", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["force_id"], Value::Null);
    assert_eq!(me["rank"], Value::Null);
    assert!(me.get("password_hash").is_none());
    // The first admin's creation and the logins are on record.
    let created = app.events("action=user.created").await;
    assert_eq!(created[0]["details"]["user"]["username"], "admin");
    let logins = app.events("action=auth.login").await;
    assert!(logins.len() >= 2);
    assert_eq!(logins[0]["actor"]["username"], "admin");
    assert_eq!(logins[0]["actor"]["role"], "admin");
    assert!(logins[0]["request_id"].is_string());
}

async fn wrong_credentials_all_look_alike(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (user, _) = app.user("auditor", None, None).await;
    let name = user["username"].as_str().unwrap();
    let id = user["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/users/{id}"),
        &app.admin_token,
        &json!({"active": false}),
    )
    .await;

    let mut details = Vec::new();
    for (u, p) in [
        ("admin", "not the password at all"),
        ("nobody-by-this-name", PASSWORD),
        (name, PASSWORD),
    ] {
        let res = app.login(u, p).await;
        assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
        let body = problem(res, 401).await;
        details.push(body["detail"].clone());
    }
    assert!(details.windows(2).all(|w| w[0] == w[1]), "{details:?}");
    // Missing fields are a 422 naming both.
    let res = app
        .request(Method::POST, "/api/v1/auth/login", None, Some(&json!({})))
        .await;
    assert_eq!(
        error_fields(&problem(res, 422).await),
        ["username", "password"]
    );
    // Each failure is an event naming the user name tried.
    let failed = app.events("action=auth.login_failed").await;
    let tried: Vec<&str> = failed
        .iter()
        .map(|e| e["details"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(tried, ["admin", "nobody-by-this-name", name]);
    assert_eq!(failed[2]["details"]["reason"], "deactivated");
}

fn token(secret: &[u8], alg: Algorithm, sub: &str, iat: i64, exp: i64) -> String {
    let claims = json!({"sub": sub, "iat": iat, "exp": exp, "gen": 0});
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn refused(app: &TestApp, auth: Option<&str>) {
    let mut r = app.client.get(app.url("/api/v1/auth/me"));
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let res = r.send().await.unwrap();
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer"),
        "{auth:?}"
    );
    problem(res, 401).await;
}

async fn every_bad_token_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let me: Value = app
        .get("/api/v1/auth/me", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let admin_id = me["id"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();

    // A token we sign ourselves with the service's key works: the checks below
    // fail for the reason each names, not for some other.
    let good = token(
        JWT_SECRET.as_bytes(),
        Algorithm::HS256,
        admin_id,
        now,
        now + 60,
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &good).await.status(),
        StatusCode::OK
    );

    refused(&app, None).await;
    refused(&app, Some("Bearer")).await;
    refused(&app, Some("Bearer not-a-jwt")).await;
    refused(&app, Some(&format!("Basic {good}"))).await;
    refused(&app, Some("Bearer a.b.c")).await;
    // expired
    refused(
        &app,
        Some(&format!(
            "Bearer {}",
            token(
                JWT_SECRET.as_bytes(),
                Algorithm::HS256,
                admin_id,
                now - 7200,
                now - 3600
            )
        )),
    )
    .await;
    // signed with another key
    refused(
        &app,
        Some(&format!(
            "Bearer {}",
            token(
                b"another-secret-another-secret-another",
                Algorithm::HS256,
                admin_id,
                now,
                now + 60
            )
        )),
    )
    .await;
    // another HMAC algorithm with the right key
    refused(
        &app,
        Some(&format!(
            "Bearer {}",
            token(
                JWT_SECRET.as_bytes(),
                Algorithm::HS512,
                admin_id,
                now,
                now + 60
            )
        )),
    )
    .await;
    // alg: none, unsigned
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(json!({"sub": admin_id, "iat": now, "exp": now + 60, "gen": 0}).to_string())
    );
    refused(&app, Some(&format!("Bearer {none}"))).await;
    // unknown user
    refused(
        &app,
        Some(&format!(
            "Bearer {}",
            token(
                JWT_SECRET.as_bytes(),
                Algorithm::HS256,
                "no-such-user",
                now,
                now + 60
            )
        )),
    )
    .await;

    // deactivated user: its live token dies at once
    let (user, tok) = app.user("auditor", Some("kent"), None).await;
    assert_eq!(
        app.get("/api/v1/auth/me", &tok).await.status(),
        StatusCode::OK
    );
    let res = app
        .patch(
            &format!("/api/v1/users/{}", user["id"].as_str().unwrap()),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    refused(&app, Some(&format!("Bearer {tok}"))).await;
    // and reactivation does not bring the old token back
    app.patch(
        &format!("/api/v1/users/{}", user["id"].as_str().unwrap()),
        &app.admin_token,
        &json!({"active": true}),
    )
    .await;
    refused(&app, Some(&format!("Bearer {tok}"))).await;
}

async fn throttling_after_five_failures(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.login_window_seconds = 3).await;
    let (user, _) = app.user("auditor", None, None).await;
    let name = user["username"].as_str().unwrap();
    for _ in 0..5 {
        problem(app.login(name, "wrong password here").await, 401).await;
    }
    // Sixth attempt, even with the right password: 429 with Retry-After.
    let res = app.login(name, PASSWORD).await;
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry), "{retry}");
    problem(res, 429).await;
    // Another user name is not affected.
    assert_eq!(
        app.login("admin", ADMIN_PASSWORD).await.status(),
        StatusCode::OK
    );
    // Once the window passes, the right password works again.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    assert_eq!(app.login(name, PASSWORD).await.status(), StatusCode::OK);
    // The throttling is on record (as one auth.login_throttled event; the
    // refused attempt itself is not an auth.login_failed).
    let throttled = app.events("action=auth.login_throttled").await;
    assert!(throttled.iter().any(|e| e["details"]["username"] == name));
    let failed = app.events("action=auth.login_failed").await;
    assert_eq!(failed.len(), 5);
}

/// The events of `action` whose details name `username`.
async fn events_for(app: &TestApp, action: &str, username: &str) -> Vec<Value> {
    app.events(&format!("action={action}"))
        .await
        .into_iter()
        .filter(|e| e["details"]["username"] == username)
        .collect()
}

/// The throttled-login counter in `/metrics`.
async fn throttled_metric(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("closure_audit_login_throttled_total "))
        .map(|v| v.trim().parse::<f64>().unwrap() as u64)
        .unwrap_or_else(|| panic!("no throttled-login counter in {text}"))
}

/// The Retry-After of a 429, in seconds.
fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn concurrent_wrong_passwords_are_throttled_atomically(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.login_window_seconds = 5).await;
    let (user, _) = app.user("auditor", None, None).await;
    let name = user["username"].as_str().unwrap().to_string();
    let before = throttled_metric(&app).await;

    // 30 wrong passwords at once: five are checked (401), the rest refused (429).
    let burst =
        futures_util::future::join_all((0..30).map(|_| app.login(&name, "wrong password here")))
            .await;
    let mut statuses: Vec<u16> = Vec::new();
    for res in &burst {
        statuses.push(res.status().as_u16());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(retry_after(res) >= 1);
        }
    }
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((unauthorized, throttled), (5, 25), "{statuses:?}");
    assert_eq!(events_for(&app, "auth.login_failed", &name).await.len(), 5);
    assert_eq!(
        events_for(&app, "auth.login_throttled", &name).await.len(),
        1
    );

    // 20 more, wrong and right passwords alike, are refused and write nothing.
    let mut last_retry = 0;
    for i in 0..20 {
        let pw = if i % 2 == 0 { "wrong again" } else { PASSWORD };
        let res = app.login(&name, pw).await;
        last_retry = retry_after(&res);
        problem(res, 429).await;
    }
    assert_eq!(events_for(&app, "auth.login_failed", &name).await.len(), 5);
    let recorded = events_for(&app, "auth.login_throttled", &name).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["details"]["failures"], 5);
    assert_eq!(recorded[0]["actor"]["username"], name.as_str());
    assert_eq!(recorded[0]["actor"]["user_id"], Value::Null);
    // Every refusal is counted.
    assert_eq!(throttled_metric(&app).await - before, 45);

    // Once the window passes, the right password works again.
    tokio::time::sleep(std::time::Duration::from_millis(last_retry * 1000 + 300)).await;
    app.login_ok(&name, PASSWORD).await;
    // A new run of failures after that is throttled, and recorded, afresh.
    for _ in 0..5 {
        problem(app.login(&name, "wrong password here").await, 401).await;
    }
    problem(app.login(&name, PASSWORD).await, 429).await;
    assert_eq!(events_for(&app, "auth.login_failed", &name).await.len(), 10);
    assert_eq!(
        events_for(&app, "auth.login_throttled", &name).await.len(),
        2
    );
    assert_eq!(throttled_metric(&app).await - before, 46);
}

async fn password_change_revokes_tokens(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (user, tok) = app.user("force_system", Some("kent"), None).await;
    let id = user["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    problem(app.get("/api/v1/auth/me", &tok).await, 401).await;
    problem(
        app.login(user["username"].as_str().unwrap(), PASSWORD)
            .await,
        401,
    )
    .await;
    app.login_ok(user["username"].as_str().unwrap(), "a brand new password")
        .await;
    let updated = app.events("action=user.updated").await;
    assert_eq!(updated[0]["details"]["changes"]["password"], "changed");
    assert!(
        !updated[0]["details"]
            .to_string()
            .contains("a brand new password")
    );
}

async fn forces_are_listed(b: Backend) {
    let app = TestApp::spawn(b).await;
    problem(
        app.request(Method::GET, "/api/v1/forces", None, None).await,
        401,
    )
    .await;
    let forces: Vec<Value> = app
        .get("/api/v1/forces", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(forces.len(), 44);
    assert!(
        forces
            .iter()
            .any(|f| f["id"] == "btp" && f["name"] == "British Transport Police")
    );
    assert!(
        forces
            .iter()
            .all(|f| f["id"].is_string() && f["name"].is_string())
    );
}
