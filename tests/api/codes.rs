//! Every rule that refuses answers with its own stable code: a 403's and a 409's
//! problem `type` is `urn:closure-audit:problem:<code>` (the rule in words as
//! `detail`), and each of a 422's `errors[]` carries the `code` of its field rule.

use crate::common::*;
use crate::on_both_backends;
use closure_audit::domain::FieldRule;
use closure_audit::domain::authorize::Rule;
use closure_audit::domain::conflicts::Clash;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

on_both_backends!(each_refusal_has_its_code);
on_both_backends!(each_conflict_has_its_code);
on_both_backends!(each_field_rule_has_its_code);

const PREFIX: &str = "urn:closure-audit:problem:";

/// Asserts `status` with the problem type `code` and a detail in words;
/// returns the code so that the test can count them.
async fn coded(res: reqwest::Response, status: u16, code: &str) -> String {
    let body = problem(res, status).await;
    assert_eq!(body["type"], json!(format!("{PREFIX}{code}")), "{body}");
    assert!(!body["detail"].as_str().unwrap().is_empty());
    code.to_string()
}

async fn refused(res: reqwest::Response, code: &str) -> String {
    coded(res, 403, code).await
}

async fn clashes(res: reqwest::Response, code: &str) -> String {
    coded(res, 409, code).await
}

/// `POST /closures/{id}/<what>` (`decision` or `reopen`).
async fn act(app: &TestApp, id: &str, what: &str, token: &str, body: &Value) -> reqwest::Response {
    app.post(&format!("/api/v1/closures/{id}/{what}"), token, body)
        .await
}

fn approval(checklist: Value) -> Value {
    json!({"decision": "approve", "rationale": "Evidence-led prosecution considered and not viable.",
           "checklist": checklist})
}

async fn each_refusal_has_its_code(b: Backend) {
    // A log that is not public, so that reading its tiles has a rule too.
    let app = TestApp::spawn_with(b, |s| s.log_public = false).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, auditor) = app.user("auditor", None, None).await;
    let (_, sergeant) = app.officer("kent", "sergeant", "SG1").await;
    let (_, inspector) = app.officer("kent", "inspector", "IN1").await;
    let admin = app.admin_token.clone();
    let mut seen = BTreeSet::new();

    let (status, closure) = app
        .post_closure(&sys, &closure_body("kent", "CODES-1"))
        .await;
    assert_eq!(status, 201);
    let id = closure["id"].as_str().unwrap();
    let approve = approval(full_checklist());

    let res = app
        .post(
            "/api/v1/closures",
            &auditor,
            &closure_body("kent", "CODES-2"),
        )
        .await;
    seen.insert(refused(res, "posting_role_required").await);
    let res = app
        .post("/api/v1/closures", &sys, &closure_body("essex", "CODES-3"))
        .await;
    seen.insert(refused(res, "other_force").await);
    let vol = json!({"force_id": "kent", "month": "2026-10", "offence_category": "domestic_abuse", "finalised_total": 4});
    let res = app
        .request(Method::PUT, "/api/v1/volumes", Some(&auditor), Some(&vol))
        .await;
    seen.insert(refused(res, "volumes_by_force_system").await);
    let res = app.get("/api/v1/closures", &admin).await;
    seen.insert(refused(res, "closure_reader_role_required").await);
    let res = act(&app, id, "decision", &sys, &approve).await;
    seen.insert(refused(res, "officer_role_required").await);
    let res = act(&app, id, "decision", &sergeant, &approve).await;
    seen.insert(refused(res, "rank_below_inspector").await);
    let mine = json!({"proposed_by": {"officer_id": "in1", "rank": "constable"}});
    let mut body = closure_body("kent", "CODES-4");
    body["proposed_by"] = mine["proposed_by"].clone();
    let (status, proposed) = app.post_closure(&sys, &body).await;
    assert_eq!(status, 201, "{proposed}");
    let proposed_id = proposed["id"].as_str().unwrap();
    let res = act(&app, proposed_id, "decision", &inspector, &approve).await;
    seen.insert(refused(res, "proposer_cannot_decide").await);
    let mut body = closure_body("kent", "CODES-5");
    body["proposed_by"] = json!({"officer_id": "IN1", "rank": "inspector"});
    let (status, posted) = app.post_closure(&inspector, &body).await;
    assert_eq!(status, 201, "{posted}");
    let posted_id = posted["id"].as_str().unwrap();
    // The poster proposed it too: proposing is the rule that speaks first.
    let res = act(&app, posted_id, "decision", &inspector, &approve).await;
    seen.insert(refused(res, "proposer_cannot_decide").await);
    // Over the API an officer who posts is always the proposer; with the
    // proposer changed in the database, the poster is still refused.
    app.sql(&format!(
        "UPDATE closures SET proposed_by_officer_id = 'ZZ9' WHERE id = '{posted_id}'"
    ));
    let res = act(&app, posted_id, "decision", &inspector, &approve).await;
    seen.insert(refused(res, "poster_cannot_decide").await);
    let res = app.get("/api/v1/audit/events", &sys).await;
    seen.insert(refused(res, "audit_log_reader_role_required").await);
    let res = app.get("/api/v1/audit/verify", &inspector).await;
    seen.insert(refused(res, "verifier_role_required").await);
    let res = app.get("/api/v1/exports/closures.csv", &admin).await;
    seen.insert(refused(res, "auditor_role_required").await);
    let res = app.get("/api/v1/users", &auditor).await;
    seen.insert(refused(res, "admin_role_required").await);
    let res = app.get("/log/checkpoint", &sys).await;
    seen.insert(refused(res, "tile_reader_role_required").await);
    let res = app.get("/api/v1/webhooks", &inspector).await;
    seen.insert(refused(res, "force_system_required").await);
    let (_, force_auditor) = app.user("auditor", Some("kent"), None).await;
    let res = app.get("/log/tile/entries/000", &force_auditor).await;
    seen.insert(refused(res, "national_auditor_required").await);
    let all: BTreeSet<String> = Rule::ALL.iter().map(|r| r.code().to_string()).collect();
    assert_eq!(seen, all);
}

async fn each_conflict_has_its_code(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.webhook_allowed_hosts = "127.0.0.1".into()).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, inspector) = app.officer("kent", "inspector", "IN1").await;
    let mut seen = BTreeSet::new();
    let (_, closure) = app
        .post_closure(&sys, &closure_body("kent", "CLASH-1"))
        .await;
    let id = closure["id"].as_str().unwrap();
    let approve = approval(full_checklist());
    let reason = json!({"reason": "New evidence has come to light in this case."});
    let res = act(&app, id, "reopen", &inspector, &reason).await;
    seen.insert(clashes(res, "not_decided").await);
    let mut stale = approve.clone();
    stale["expected_version"] = json!(99);
    let res = act(&app, id, "decision", &inspector, &stale).await;
    seen.insert(clashes(res, "stale_version").await);
    let res = act(&app, id, "decision", &inspector, &approve).await;
    assert_eq!(res.status(), 200);
    let res = act(&app, id, "decision", &inspector, &approve).await;
    seen.insert(clashes(res, "already_decided").await);
    let mut changed = closure_body("kent", "CLASH-1");
    changed["rationale"] = json!("A different rationale, long enough to be one.");
    let res = app.post("/api/v1/closures", &sys, &changed).await;
    seen.insert(clashes(res, "idempotency_key_reused").await);
    let (user, _) = app.user("auditor", None, None).await;
    let again = json!({"username": user["username"], "password": "correct horse battery",
                       "display_name": "Again", "role": "auditor"});
    let res = app.post("/api/v1/users", &app.admin_token, &again).await;
    seen.insert(clashes(res, "username_taken").await);
    let me = app.get("/api/v1/auth/me", &app.admin_token).await;
    let me: serde_json::Value = me.json().await.unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{}", me["id"].as_str().unwrap()),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    seen.insert(clashes(res, "last_active_admin").await);
    // With the sequencer stopped, a new closure's event is in no checkpoint.
    app.state.log.stop_and_wait();
    let (status, late) = app
        .post_closure(&sys, &closure_body("kent", "CLASH-LATE"))
        .await;
    assert_eq!(status, 201, "{late}");
    let res = app
        .get(
            &format!("/api/v1/closures/{}/receipt", late["id"].as_str().unwrap()),
            &sys,
        )
        .await;
    seen.insert(clashes(res, "not_yet_checkpointed").await);
    let hook = json!({"url": "http://127.0.0.1:9/hooks", "events": ["closure.created"]});
    for _ in 0..20 {
        let res = app.post("/api/v1/webhooks", &sys, &hook).await;
        assert_eq!(res.status().as_u16(), 201);
    }
    let res = app.post("/api/v1/webhooks", &sys, &hook).await;
    seen.insert(clashes(res, "too_many_subscriptions").await);
    // The others come of races (concurrent_change, post_not_settled) or of the
    // command line (migration_refused): the unit tests of error.rs, the
    // concurrency tests in signoff.rs and migrate.rs cover them.
    let raced = ["concurrent_change", "post_not_settled", "migration_refused"];
    let all: BTreeSet<String> = Clash::ALL
        .iter()
        .map(|c| c.code().to_string())
        .filter(|c| !raced.contains(&c.as_str()))
        .collect();
    assert_eq!(seen, all);
}

/// The (field, code) pairs of a 422.
async fn field_codes(res: reqwest::Response) -> Vec<(String, String)> {
    let body = problem(res, 422).await;
    assert_eq!(body["type"], json!(format!("{PREFIX}validation_failed")));
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn each_field_rule_has_its_code(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, inspector) = app.officer("kent", "inspector", "IN1").await;
    let (_, auditor) = app.user("auditor", None, None).await;
    let admin = app.admin_token.clone();
    let mut seen: Vec<(String, String)> = Vec::new();

    let mut bad = closure_body("kent", "FIELDS-1");
    bad.as_object_mut().unwrap().remove("rationale");
    bad["division"] = json!(7);
    bad["crime_reference"] = json!("BD/1\u{0}/26");
    bad["offence_category"] = json!("burglary");
    bad["outcome_code"] = json!(14);
    bad["named_suspect"] = json!(false);
    bad["crime_recorded_at"] = json!("yesterday");
    bad["proposed_by"]["officer_id"] = json!(" 4471");
    bad["evidence"]["references"] = json!(vec!["x"; 51]);
    bad["victim"] = json!({"ethnicity": "white british"});
    seen.extend(field_codes(app.post("/api/v1/closures", &sys, &bad).await).await);
    let mut bad = closure_body("gotham", "FIELDS-2");
    bad["rationale"] = json!("too short");
    bad["closure_proposed_at"] = json!("2099-01-01T00:00:00Z");
    seen.extend(field_codes(app.post("/api/v1/closures", &sys, &bad).await).await);
    let mut bad = closure_body("kent", "FIELDS-3");
    bad["closure_proposed_at"] = json!("2000-01-01T00:00:00Z");
    bad["proposed_by"] = json!({"officer_id": "SOMEONE-ELSE", "rank": "constable"});
    seen.extend(field_codes(app.post("/api/v1/closures", &inspector, &bad).await).await);
    let hook = json!({"url": "ftp://127.0.0.1/hooks", "events": ["closure.created"]});
    seen.extend(field_codes(app.post("/api/v1/webhooks", &sys, &hook).await).await);

    let vol = json!({"force_id": "kent", "month": "October", "offence_category": "rape", "finalised_total": -1});
    let res = app
        .request(Method::PUT, "/api/v1/volumes", Some(&sys), Some(&vol))
        .await;
    seen.extend(field_codes(res).await);
    let res = app
        .get(
            "/api/v1/exports/trends.csv?from=2026-10&to=2026-09",
            &auditor,
        )
        .await;
    seen.extend(field_codes(res).await);

    let (_, closure) = app
        .post_closure(&sys, &closure_body("kent", "FIELDS-4"))
        .await;
    let id = closure["id"].as_str().unwrap();
    let mut checklist = full_checklist();
    checklist["victim_informed"] = json!(false);
    let approve = approval(checklist);
    let res = act(&app, id, "decision", &inspector, &approve).await;
    seen.extend(field_codes(res).await);

    let user = json!({"username": "bad name", "password": "correct horse battery", "display_name": "U",
                      "role": "officer", "officer_id": "OF1", "force_id": "kent"});
    seen.extend(field_codes(app.post("/api/v1/users", &admin, &user).await).await);
    let user = json!({"username": "admin2", "password": "correct horse battery", "display_name": "U",
                      "role": "admin", "force_id": "kent"});
    seen.extend(field_codes(app.post("/api/v1/users", &admin, &user).await).await);
    let (target, _) = app.user("auditor", None, None).await;
    let res = app
        .patch(
            &format!("/api/v1/users/{}", target["id"].as_str().unwrap()),
            &admin,
            &json!({"display_name": null}),
        )
        .await;
    seen.extend(field_codes(res).await);

    let expect = [
        ("rationale", "required"),
        ("division", "wrong_type"),
        ("crime_reference", "nul_character"),
        ("offence_category", "not_one_of"),
        ("outcome_code", "outcome_not_accepted"),
        ("named_suspect", "named_suspect_required"),
        ("crime_recorded_at", "timestamp_format"),
        ("proposed_by.officer_id", "officer_id_format"),
        ("evidence.references", "too_many_items"),
        ("victim.ethnicity", "short_code"),
        ("force_id", "unknown_force"),
        ("rationale", "length"),
        ("closure_proposed_at", "proposed_in_future"),
        ("closure_proposed_at", "proposed_before_recorded"),
        ("proposed_by.officer_id", "poster_not_proposer"),
        ("month", "month_format"),
        ("finalised_total", "out_of_range"),
        ("to", "range_reversed"),
        ("checklist.victim_informed", "checklist_not_confirmed"),
        ("username", "username_characters"),
        ("rank", "required_for_role"),
        ("force_id", "not_for_role"),
        ("display_name", "not_null"),
        ("url", "webhook_url"),
    ];
    for (field, code) in expect {
        assert!(
            seen.contains(&(field.to_string(), code.to_string())),
            "{field}: {code} not among {seen:?}"
        );
    }
    let codes: BTreeSet<&str> = seen.iter().map(|(_, c)| c.as_str()).collect();
    let all: BTreeSet<&str> = FieldRule::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes, all, "every field rule is provoked");
}
