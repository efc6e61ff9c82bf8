//! Managing users: every kind with its required fields, and every refusal.

use crate::common::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    each_kind_of_user_is_created,
    required_fields_are_checked_all_at_once,
    only_admins_manage_users,
    user_list_pages_without_repeats,
    users_change_and_are_audited,
    two_admins_deactivating_each_other_leave_one
);

async fn each_kind_of_user_is_created(b: Backend) {
    let app = TestApp::spawn(b).await;
    let cases = [
        json!({"username": "rms.kent", "password": PASSWORD, "display_name": "Kent RMS", "role": "force_system", "force_id": "kent"}),
        json!({"username": "insp.jones", "password": PASSWORD, "display_name": "Insp Jones", "role": "officer",
               "rank": "detective_inspector", "officer_id": "2210", "force_id": "kent"}),
        json!({"username": "aud.kent", "password": PASSWORD, "display_name": "Kent audit", "role": "auditor", "force_id": "kent"}),
        json!({"username": "aud.national", "password": PASSWORD, "display_name": "HMICFRS", "role": "auditor"}),
        json!({"username": "admin2", "password": PASSWORD, "display_name": "Second admin", "role": "admin"}),
    ];
    for body in cases {
        let res = app.post("/api/v1/users", &app.admin_token, &body).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{body}");
        let location = res
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let user: Value = res.json().await.unwrap();
        assert_eq!(
            location,
            format!("/api/v1/users/{}", user["id"].as_str().unwrap())
        );
        for key in [
            "id",
            "username",
            "display_name",
            "role",
            "rank",
            "officer_id",
            "force_id",
            "active",
            "created_at",
        ] {
            assert!(user.get(key).is_some(), "{key} missing from {user}");
        }
        assert!(user.get("password").is_none() && user.get("password_hash").is_none());
        assert_eq!(user["username"], body["username"]);
        assert_eq!(user["role"], body["role"]);
        assert_eq!(user["active"], true);
        assert_eq!(
            user["force_id"],
            body.get("force_id").cloned().unwrap_or(Value::Null)
        );
        assert!(chrono::DateTime::parse_from_rfc3339(user["created_at"].as_str().unwrap()).is_ok());
        let fetched: Value = app
            .get(&location, &app.admin_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(fetched, user);
        // Each can sign in.
        app.login_ok(body["username"].as_str().unwrap(), PASSWORD)
            .await;
    }
    let officer: Value = app
        .get("/api/v1/users?limit=500", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let jones = officer["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "insp.jones")
        .unwrap()
        .clone();
    // A "detective" prefix does not change a rank.
    assert_eq!(jones["rank"], "inspector");
    assert_eq!(jones["officer_id"], "2210");
}

async fn required_fields_are_checked_all_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let check = |body: Value, fields: &'static [&'static str]| {
        let app = &app;
        async move {
            let p = problem(
                app.post("/api/v1/users", &app.admin_token, &body).await,
                422,
            )
            .await;
            assert_eq!(error_fields(&p), fields, "{body}");
        }
    };
    check(json!({}), &["username", "password", "display_name", "role"]).await;
    check(
        json!({"username": "o1", "password": PASSWORD, "display_name": "O", "role": "officer"}),
        &["rank", "officer_id", "force_id"],
    )
    .await;
    check(json!({"username": "o2", "password": PASSWORD, "display_name": "O", "role": "officer", "rank": "sergeant", "officer_id": "1", "force_id": "gotham"}), &["force_id"]).await;
    check(json!({"username": "o3", "password": PASSWORD, "display_name": "O", "role": "officer", "rank": "general", "officer_id": "1", "force_id": "kent"}), &["rank"]).await;
    check(json!({"username": "f1", "password": PASSWORD, "display_name": "F", "role": "force_system"}), &["force_id"]).await;
    check(json!({"username": "f2", "password": PASSWORD, "display_name": "F", "role": "force_system", "force_id": "kent", "rank": "inspector", "officer_id": "9"}), &["rank", "officer_id"]).await;
    check(json!({"username": "a1", "password": PASSWORD, "display_name": "A", "role": "admin", "force_id": "kent"}), &["force_id"]).await;
    check(json!({"username": "p1", "password": "elevenchars", "display_name": "P", "role": "auditor"}), &["password"]).await;
    check(json!({"username": "has space", "password": PASSWORD, "display_name": "P", "role": "superuser"}), &["username", "role"]).await;
    check(
        json!({"username": 5, "password": true, "display_name": [], "role": "auditor"}),
        &["username", "password", "display_name"],
    )
    .await;
    // A JSON body that is not an object.
    check(json!(["not", "an", "object"]), &["body"]).await;
    // User names are unique.
    app.create_user(
        json!({"username": "taken", "password": PASSWORD, "display_name": "T", "role": "auditor"}),
    )
    .await;
    problem(app.post("/api/v1/users", &app.admin_token, &json!({"username": "taken", "password": PASSWORD, "display_name": "T2", "role": "auditor"})).await, 409).await;
}

async fn only_admins_manage_users(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, auditor) = app.user("auditor", None, None).await;
    let (_, inspector) = app
        .user("officer", Some("kent"), Some("chief_superintendent"))
        .await;
    let (sys, system) = app.user("force_system", Some("kent"), None).await;
    let body =
        json!({"username": "x1", "password": PASSWORD, "display_name": "X", "role": "admin"});
    for token in [&auditor, &inspector, &system] {
        let p = problem(app.post("/api/v1/users", token, &body).await, 403).await;
        assert!(p["detail"].as_str().unwrap().contains("admin"), "{p}");
        problem(app.get("/api/v1/users", token).await, 403).await;
        problem(
            app.get(
                &format!("/api/v1/users/{}", sys["id"].as_str().unwrap()),
                token,
            )
            .await,
            403,
        )
        .await;
        problem(
            app.patch(
                &format!("/api/v1/users/{}", sys["id"].as_str().unwrap()),
                token,
                &json!({"active": false}),
            )
            .await,
            403,
        )
        .await;
    }
    problem(
        app.get("/api/v1/users/no-such-id", &app.admin_token).await,
        404,
    )
    .await;
    problem(
        app.patch(
            "/api/v1/users/no-such-id",
            &app.admin_token,
            &json!({"active": false}),
        )
        .await,
        404,
    )
    .await;
}

async fn user_list_pages_without_repeats(b: Backend) {
    let app = TestApp::spawn(b).await;
    for i in 0..5 {
        app.create_user(json!({"username": format!("u{i}"), "password": PASSWORD, "display_name": "U", "role": "auditor"})).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
            None => "/api/v1/users?limit=2".to_string(),
        };
        let page: Value = app.get(&path, &app.admin_token).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["admin", "u0", "u1", "u2", "u3", "u4"]);
    problem(
        app.get("/api/v1/users?limit=501", &app.admin_token).await,
        422,
    )
    .await;
    problem(
        app.get("/api/v1/users?limit=0", &app.admin_token).await,
        422,
    )
    .await;
    problem(
        app.get("/api/v1/users?limit=ten", &app.admin_token).await,
        400,
    )
    .await;
    problem(
        app.get("/api/v1/users?cursor=%21%21", &app.admin_token)
            .await,
        400,
    )
    .await;
}

async fn users_change_and_are_audited(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (officer, _) = app.user("officer", Some("kent"), Some("sergeant")).await;
    let id = officer["id"].as_str().unwrap();
    let path = format!("/api/v1/users/{id}");
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&app.admin_token)
        .header("x-request-id", "req-promote-1")
        .json(&json!({"rank": "inspector", "display_name": "Insp Smith"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("x-request-id").unwrap(), "req-promote-1");
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["rank"], "inspector");
    assert_eq!(user["display_name"], "Insp Smith");
    // Rank is an officer's only; an officer cannot lose it.
    let (auditor, _) = app.user("auditor", None, None).await;
    let p = problem(
        app.patch(
            &format!("/api/v1/users/{}", auditor["id"].as_str().unwrap()),
            &app.admin_token,
            &json!({"rank": "inspector"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["rank"]);
    let p = problem(
        app.patch(
            &path,
            &app.admin_token,
            &json!({"rank": null, "password": "short"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["password", "rank"]);
    // The last active admin cannot be deactivated.
    let me: Value = app
        .get("/api/v1/auth/me", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    problem(
        app.patch(
            &format!("/api/v1/users/{}", me["id"].as_str().unwrap()),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await,
        409,
    )
    .await;

    let events = app
        .events(&format!(
            "action=user.updated&actor_id={}",
            me["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev["request_id"], "req-promote-1");
    assert_eq!(ev["actor"]["role"], "admin");
    assert_eq!(ev["actor"]["username"], "admin");
    assert_eq!(ev["force_id"], "kent");
    assert_eq!(
        ev["details"]["changes"]["rank"],
        json!({"old": "sergeant", "new": "inspector"})
    );
    let created = app.events("action=user.created").await;
    assert!(
        created
            .iter()
            .any(|e| e["details"]["user"]["id"] == officer["id"])
    );
    assert!(
        created
            .iter()
            .all(|e| !e["details"].to_string().contains("argon2"))
    );
}

/// The active admins, as `who` (an admin) sees them.
async fn active_admins(app: &TestApp, who: &str) -> Vec<String> {
    let res = app.get("/api/v1/users?limit=500", who).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["role"] == "admin" && u["active"] == true)
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

async fn two_admins_deactivating_each_other_leave_one(b: Backend) {
    let app = TestApp::spawn(b).await;
    let me: Value = app
        .get("/api/v1/auth/me", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    // (id, token) of the admin that is active now.
    let mut survivor = (
        me["id"].as_str().unwrap().to_string(),
        app.admin_token.clone(),
    );
    let mut refusals = Vec::new();
    for round in 0..6 {
        let name = format!(
            "admin-{round}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let res = app
            .post(
                "/api/v1/users",
                &survivor.1,
                &json!({"username": name, "password": PASSWORD, "display_name": name, "role": "admin"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let other: Value = res.json().await.unwrap();
        let other = (
            other["id"].as_str().unwrap().to_string(),
            app.login_ok(&name, PASSWORD).await,
        );
        assert_eq!(active_admins(&app, &survivor.1).await.len(), 2);

        // Each deactivates the other, at once.
        let off = json!({"active": false});
        let (to_other, to_survivor) = (
            format!("/api/v1/users/{}", other.0),
            format!("/api/v1/users/{}", survivor.0),
        );
        let (by_survivor, by_other) = tokio::join!(
            app.patch(&to_other, &survivor.1, &off),
            app.patch(&to_survivor, &other.1, &off),
        );
        let statuses = (by_survivor.status().as_u16(), by_other.status().as_u16());
        // Exactly one succeeds. The other is refused by the last-admin rule
        // (409), or, when the winner's change revoked its token before its
        // request was even authenticated, as a deactivated user (401).
        let (winner, loser) = match statuses {
            (200, _) => (survivor.clone(), by_other),
            (_, 200) => (other.clone(), by_survivor),
            _ => panic!("round {round}: neither succeeded: {statuses:?}"),
        };
        let refused = loser.status().as_u16();
        assert!(
            refused == 409 || refused == 401,
            "round {round}: both succeeded or an unexpected refusal: {statuses:?}"
        );
        let body = problem(loser, refused).await;
        if refused == 409 {
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("last active admin"),
                "{body}"
            );
        }
        refusals.push(refused);
        survivor = winner;
        assert_eq!(
            active_admins(&app, &survivor.1).await,
            [survivor.0.clone()],
            "round {round}"
        );
    }
    eprintln!("refusals: {refusals:?}");
}
