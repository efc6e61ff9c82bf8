//! Every rule that refuses (403) answers with its own stable problem `type`,
//! `urn:closure-audit:problem:<code>`, and the rule in words as `detail`.

use crate::common::*;
use crate::on_both_backends;
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;

on_both_backends!(each_refusal_has_its_code);

const PREFIX: &str = "urn:closure-audit:problem:";

/// Asserts a 403 with `code`; returns the code so that the test can count them.
async fn refused(res: reqwest::Response, code: &str) -> String {
    let body = problem(res, 403).await;
    assert_eq!(body["type"], json!(format!("{PREFIX}{code}")), "{body}");
    assert!(!body["detail"].as_str().unwrap().is_empty());
    code.to_string()
}

async fn each_refusal_has_its_code(b: Backend) {
    let app = TestApp::spawn(b).await;
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
    let decide = format!("/api/v1/closures/{id}/decision");
    let approve = json!({"decision": "approve", "rationale": "Evidence-led prosecution considered and not viable.",
                         "checklist": full_checklist()});

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
    let res = app.post(&decide, &sys, &approve).await;
    seen.insert(refused(res, "officer_role_required").await);
    let res = app.post(&decide, &sergeant, &approve).await;
    seen.insert(refused(res, "rank_below_inspector").await);
    let mine = json!({"proposed_by": {"officer_id": "in1", "rank": "constable"}});
    let mut body = closure_body("kent", "CODES-4");
    body["proposed_by"] = mine["proposed_by"].clone();
    let (status, proposed) = app.post_closure(&sys, &body).await;
    assert_eq!(status, 201, "{proposed}");
    let res = app
        .post(
            &format!(
                "/api/v1/closures/{}/decision",
                proposed["id"].as_str().unwrap()
            ),
            &inspector,
            &approve,
        )
        .await;
    seen.insert(refused(res, "proposer_cannot_decide").await);
    let mut body = closure_body("kent", "CODES-5");
    body["proposed_by"] = json!({"officer_id": "IN1", "rank": "inspector"});
    let (status, posted) = app.post_closure(&inspector, &body).await;
    assert_eq!(status, 201, "{posted}");
    let posted_id = posted["id"].as_str().unwrap();
    // The poster proposed it too: proposing is the rule that speaks first.
    let res = app
        .post(
            &format!("/api/v1/closures/{posted_id}/decision"),
            &inspector,
            &approve,
        )
        .await;
    seen.insert(refused(res, "proposer_cannot_decide").await);
    // Over the API an officer who posts is always the proposer; with the
    // proposer changed in the database, the poster is still refused.
    app.sql(&format!(
        "UPDATE closures SET proposed_by_officer_id = 'ZZ9' WHERE id = '{posted_id}'"
    ));
    let res = app
        .post(
            &format!("/api/v1/closures/{posted_id}/decision"),
            &inspector,
            &approve,
        )
        .await;
    seen.insert(refused(res, "poster_cannot_decide").await);
    let res = app.get("/api/v1/audit/events", &sys).await;
    seen.insert(refused(res, "audit_log_reader_role_required").await);
    let res = app.get("/api/v1/audit/verify", &inspector).await;
    seen.insert(refused(res, "verifier_role_required").await);
    let res = app.get("/api/v1/exports/closures.csv", &admin).await;
    seen.insert(refused(res, "auditor_role_required").await);
    let res = app.get("/api/v1/users", &auditor).await;
    seen.insert(refused(res, "admin_role_required").await);
    assert_eq!(seen.len(), 12, "{seen:?}");
}
