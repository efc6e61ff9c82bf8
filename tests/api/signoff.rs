//! Inspector sign-off: who may decide, the checklist, versions, concurrent
//! decisions, reopening; and monthly volumes.

use crate::common::*;
use crate::on_both_backends;
use serde_json::{Value, json};

on_both_backends!(
    an_inspector_signs_off,
    refusals_of_the_contract,
    the_rank_at_the_moment_counts,
    reopen_and_decide_again,
    concurrent_decisions_have_one_winner,
    volumes_are_set_and_audited,
    separation_of_duties_cannot_be_sidestepped,
);

fn approve() -> Value {
    json!({"decision": "approve", "rationale": "Evidence-led prosecution considered and not viable.",
           "checklist": full_checklist()})
}

async fn kent_closure(app: &TestApp, sid: &str) -> (String, String) {
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (status, c) = app.post_closure(&sys, &closure_body("kent", sid)).await;
    assert_eq!(status, 201);
    (c["id"].as_str().unwrap().to_string(), sys)
}

async fn an_inspector_signs_off(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (id, _) = kent_closure(&app, "S-1").await;
    let (insp, token) = app.officer("kent", "detective_inspector", "2210").await;
    let mut body = approve();
    body["expected_version"] = json!(1);
    let res = app
        .post(&format!("/api/v1/closures/{id}/decision"), &token, &body)
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["status"], "signed_off");
    assert_eq!(c["version"], 2);
    let d = &c["decisions"][0];
    assert_eq!(d["decision"], "approve");
    assert_eq!(d["by_user_id"], insp["id"]);
    assert_eq!(d["by_officer_id"], "2210");
    assert_eq!(d["by_rank"], "inspector");
    assert_eq!(d["checklist"], full_checklist());
    assert_eq!(d["rationale"], body["rationale"]);
    assert!(chrono::DateTime::parse_from_rfc3339(d["decided_at"].as_str().unwrap()).is_ok());
    // Decided once: a second decision is a conflict.
    problem(
        app.post(
            &format!("/api/v1/closures/{id}/decision"),
            &token,
            &approve(),
        )
        .await,
        409,
    )
    .await;
    let ev = app
        .events(&format!("closure_id={id}&action=closure.approved"))
        .await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["actor"]["rank"], "inspector");
    assert_eq!(ev[0]["details"]["to_status"], "signed_off");
    // Reject needs only the rationale.
    let (id2, _) = kent_closure(&app, "S-2").await;
    let res = app
        .post(&format!("/api/v1/closures/{id2}/decision"), &token, &json!({"decision": "reject", "rationale": "Return to investigation: BWV not reviewed."}))
        .await;
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["status"], "rejected");
    assert_eq!(
        app.events(&format!("closure_id={id2}&action=closure.rejected"))
            .await
            .len(),
        1
    );
}

async fn refusals_of_the_contract(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (id, sys) = kent_closure(&app, "R-1").await;
    let url = format!("/api/v1/closures/{id}/decision");
    let (_, sergeant) = app.officer("kent", "sergeant", "3001").await;
    let (_, constable) = app.officer("kent", "constable", "3002").await;
    let (_, essex_insp) = app.officer("essex", "chief_inspector", "3003").await;
    let (_, proposer) = app.officer("kent", "inspector", "4471").await;
    let (_, auditor) = app.user("auditor", None, None).await;
    let (_, insp) = app.officer("kent", "inspector", "3004").await;

    for token in [&sergeant, &constable] {
        let p = problem(app.post(&url, token, &approve()).await, 403).await;
        assert!(
            p["detail"].as_str().unwrap().contains("inspector or above"),
            "{p}"
        );
    }
    problem(app.post(&url, &essex_insp, &approve()).await, 404).await;
    let p = problem(app.post(&url, &proposer, &approve()).await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("proposed"), "{p}");
    for token in [&auditor, &app.admin_token, &sys] {
        problem(app.post(&url, token, &approve()).await, 403).await;
    }
    problem(
        app.post("/api/v1/closures/no-such/decision", &insp, &approve())
            .await,
        404,
    )
    .await;
    // Approval needs every checklist item: each unconfirmed one is named.
    let mut partial = approve();
    partial["checklist"]["safeguarding_in_place"] = json!(false);
    partial["checklist"]
        .as_object_mut()
        .unwrap()
        .remove("victim_informed");
    let p = problem(app.post(&url, &insp, &partial).await, 422).await;
    assert_eq!(
        error_fields(&p),
        [
            "checklist.safeguarding_in_place",
            "checklist.victim_informed"
        ]
    );
    let p = problem(
        app.post(
            &url,
            &insp,
            &json!({"decision": "maybe", "rationale": "short"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["decision", "rationale"]);
    // A stale expected_version is a conflict, and changes nothing.
    let mut stale = approve();
    stale["expected_version"] = json!(7);
    problem(app.post(&url, &insp, &stale).await, 409).await;
    stale["expected_version"] = json!(0);
    problem(app.post(&url, &insp, &stale).await, 409).await;
    let c: Value = app
        .get(&format!("/api/v1/closures/{id}"), &insp)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (c["status"].as_str(), c["version"].as_i64()),
        (Some("pending_signoff"), Some(1))
    );
    assert!(
        app.events(&format!("closure_id={id}&action=closure.approved"))
            .await
            .is_empty()
    );
    assert!(
        app.events(&format!("closure_id={id}&action=closure.rejected"))
            .await
            .is_empty()
    );
}

async fn the_rank_at_the_moment_counts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (id, _) = kent_closure(&app, "RANK-1").await;
    let url = format!("/api/v1/closures/{id}/decision");
    let (user, token) = app.officer("kent", "sergeant", "6001").await;
    let user_url = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    problem(app.post(&url, &token, &approve()).await, 403).await;
    // Promoted: the same token now decides, and the new rank is stored.
    app.patch(
        &user_url,
        &app.admin_token,
        &json!({"rank": "chief_inspector"}),
    )
    .await;
    let c: Value = app
        .post(&url, &token, &approve())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["decisions"][0]["by_rank"], "chief_inspector");
    // Demoted: refused at once.
    let (id2, _) = kent_closure(&app, "RANK-2").await;
    app.patch(&user_url, &app.admin_token, &json!({"rank": "sergeant"}))
        .await;
    problem(
        app.post(
            &format!("/api/v1/closures/{id2}/decision"),
            &token,
            &approve(),
        )
        .await,
        403,
    )
    .await;
}

async fn reopen_and_decide_again(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (id, _) = kent_closure(&app, "RE-1").await;
    let (_, insp) = app.officer("kent", "superintendent", "8001").await;
    let (_, sergeant) = app.officer("kent", "sergeant", "8002").await;
    let (_, essex) = app.officer("essex", "inspector", "8003").await;
    let reopen = format!("/api/v1/closures/{id}/reopen");
    let reason = json!({"reason": "New evidence from the victim's sister came to light."});
    // Only a decided closure reopens.
    problem(app.post(&reopen, &insp, &reason).await, 409).await;
    app.post(
        &format!("/api/v1/closures/{id}/decision"),
        &insp,
        &approve(),
    )
    .await;
    problem(app.post(&reopen, &sergeant, &reason).await, 403).await;
    problem(app.post(&reopen, &essex, &reason).await, 404).await;
    let p = problem(
        app.post(&reopen, &insp, &json!({"reason": "short"})).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["reason"]);
    let c: Value = app
        .post(&reopen, &insp, &reason)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (c["status"].as_str(), c["version"].as_i64()),
        (Some("reopened"), Some(3))
    );
    problem(app.post(&reopen, &insp, &reason).await, 409).await;
    // A reopened closure can be decided again.
    let c: Value = app
        .post(&format!("/api/v1/closures/{id}/decision"), &insp, &json!({"decision": "reject", "rationale": "Reopened: further enquiries now needed.", "expected_version": 3}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (c["status"].as_str(), c["version"].as_i64()),
        (Some("rejected"), Some(4))
    );
    assert_eq!(c["decisions"].as_array().unwrap().len(), 2);
    let ev = app
        .events(&format!("closure_id={id}&action=closure.reopened"))
        .await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["details"]["reason"], reason["reason"]);
}

async fn concurrent_decisions_have_one_winner(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (id, _) = kent_closure(&app, "RACE-1").await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(app.officer("kent", "inspector", &format!("90{i}")).await.1);
    }
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (client, url) = (
            app.client.clone(),
            app.url(&format!("/api/v1/closures/{id}/decision")),
        );
        let body = if i % 2 == 0 {
            approve()
        } else {
            json!({"decision": "reject", "rationale": "Concurrent rejection for the test."})
        };
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    let approved = app
        .events(&format!("closure_id={id}&action=closure.approved"))
        .await
        .len();
    let rejected = app
        .events(&format!("closure_id={id}&action=closure.rejected"))
        .await
        .len();
    assert_eq!(approved + rejected, 1);
    let (_, auditor) = app.user("auditor", None, None).await;
    let c: Value = app
        .get(&format!("/api/v1/closures/{id}"), &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["version"], 2);
    assert_eq!(c["decisions"].as_array().unwrap().len(), 1);
}

async fn volumes_are_set_and_audited(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "1").await;
    let body = json!({"force_id": "kent", "month": "2026-10", "offence_category": "domestic_abuse", "finalised_total": 412});
    let res = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/volumes",
            Some(&sys),
            Some(&body),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["finalised_total"].as_i64(), v["division"].is_null()),
        (Some(412), true)
    );
    let mut again = body.clone();
    again["finalised_total"] = json!(420);
    app.request(
        reqwest::Method::PUT,
        "/api/v1/volumes",
        Some(&sys),
        Some(&again),
    )
    .await;
    let mut division = body.clone();
    division["division"] = json!("North");
    app.request(
        reqwest::Method::PUT,
        "/api/v1/volumes",
        Some(&sys),
        Some(&division),
    )
    .await;
    let events = app.events("action=volume.set").await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["details"]["old_finalised_total"], Value::Null);
    assert_eq!(events[1]["details"]["old_finalised_total"], 412);
    assert_eq!(events[1]["details"]["new_finalised_total"], 420);
    assert_eq!(events[2]["details"]["division"], "North");
    let mut other = body.clone();
    other["force_id"] = json!("essex");
    problem(
        app.request(
            reqwest::Method::PUT,
            "/api/v1/volumes",
            Some(&sys),
            Some(&other),
        )
        .await,
        403,
    )
    .await;
    problem(
        app.request(
            reqwest::Method::PUT,
            "/api/v1/volumes",
            Some(&insp),
            Some(&body),
        )
        .await,
        403,
    )
    .await;
    let bad = json!({"force_id": "kent", "month": "2026-13", "offence_category": "theft", "finalised_total": -4});
    let p = problem(
        app.request(
            reqwest::Method::PUT,
            "/api/v1/volumes",
            Some(&sys),
            Some(&bad),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        error_fields(&p),
        ["month", "offence_category", "finalised_total"]
    );
}

/// API.md, "Roles and scope": an officer never decides a closure it proposed
/// (officer ids compared ignoring case) or posted, and an officer who posts
/// names itself as the proposer; an officer id with whitespace at either end
/// is refused.
async fn separation_of_duties_cannot_be_sidestepped(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "ab12").await;
    let decide = |id: &str| format!("/api/v1/closures/{id}/decision");

    // An inspector posting a closure that names another officer as proposer,
    // to approve it itself: refused at the post.
    let mut body = closure_body("kent", "SOD-1");
    body["proposed_by"]["officer_id"] = json!("4471");
    let p = problem(app.post("/api/v1/closures", &insp, &body).await, 422).await;
    assert_eq!(error_fields(&p), ["proposed_by.officer_id"]);
    // ... judged with every other field at once.
    body["outcome_code"] = json!(3);
    let p = problem(app.post("/api/v1/closures", &insp, &body).await, 422).await;
    let mut fields = error_fields(&p);
    fields.sort();
    assert_eq!(fields, ["outcome_code", "proposed_by.officer_id"]);
    // The batch judges each item the same way.
    let res: Value = app
        .post(
            "/api/v1/closures/batch",
            &insp,
            &json!({"closures": [body]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["results"][0]["status"], 422, "{res}");

    // Naming itself (in another letter case), it may post, but not decide.
    let mut own = closure_body("kent", "SOD-2");
    own["proposed_by"]["officer_id"] = json!("AB12");
    let (status, c) = app.post_closure(&insp, &own).await;
    assert_eq!(status, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let p = problem(app.post(&decide(&id), &insp, &approve()).await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("proposed"), "{p}");

    // A records system naming "ab12 " (trailing space) as proposer: refused,
    // so officer ab12 cannot pass for someone else.
    for bad in ["ab12 ", " ab12", "ab12\t"] {
        let mut spaced = closure_body("kent", "SOD-3");
        spaced["proposed_by"]["officer_id"] = json!(bad);
        let p = problem(app.post("/api/v1/closures", &sys, &spaced).await, 422).await;
        assert_eq!(error_fields(&p), ["proposed_by.officer_id"], "{bad:?}");
    }
    // Posted by the records system for "AB12": ab12 still cannot decide it.
    let mut upper = closure_body("kent", "SOD-4");
    upper["proposed_by"]["officer_id"] = json!("AB12");
    let (_, c) = app.post_closure(&sys, &upper).await;
    let rms_id = c["id"].as_str().unwrap().to_string();
    problem(app.post(&decide(&rms_id), &insp, &approve()).await, 403).await;

    // Posted by the inspector itself, whatever proposed_by says now (a row
    // from before the rule): still refused.
    app.sql(&format!(
        "UPDATE closures SET proposed_by_officer_id = '9999' WHERE id = '{id}'"
    ));
    let p = problem(app.post(&decide(&id), &insp, &approve()).await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("posted"), "{p}");

    // Another inspector may decide what ab12 proposed.
    let (_, other) = app.officer("kent", "inspector", "2210").await;
    let res = app.post(&decide(&rms_id), &other, &approve()).await;
    assert_eq!(res.status().as_u16(), 200);

    // Accounts: an officer id with whitespace at either end is refused.
    let res = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            &json!({"username": "spaced.officer", "password": PASSWORD, "display_name": "Spaced",
                    "role": "officer", "rank": "inspector", "officer_id": "2210 ", "force_id": "kent"}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(error_fields(&p), ["officer_id"]);
}
