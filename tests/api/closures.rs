//! Posting closures: every validation rule, review flags, idempotency (also
//! under concurrent retries), batches, and who may post.

use crate::common::*;
use crate::on_both_backends;
use serde_json::{Value, json};

on_both_backends!(
    a_valid_closure_is_stored_as_posted,
    every_validation_rule_is_reported,
    review_flags_are_computed,
    who_may_post_and_for_which_force,
    replays_are_idempotent,
    concurrent_retries_leave_one_closure,
    batches_judge_each_item,
    batch_limits,
    a_revoked_token_stops_posting_at_once_on_every_instance,
);

/// The ingest endpoints may take the caller from a short-lived cache, but the
/// transaction that stores closures checks the user again: a deactivation on
/// another instance stops posting here at once, and nothing is stored.
async fn a_revoked_token_stops_posting_at_once_on_every_instance(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.another_instance().await;
    let (user, sys) = app.user("force_system", Some("kent"), None).await;
    let (status, _) = app.post_closure(&sys, &closure_body("kent", "REV-1")).await;
    assert_eq!(status, 201);
    let res = other
        .patch(
            &format!("/api/v1/users/{}", user["id"].as_str().unwrap()),
            &other.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);

    let res = app
        .post("/api/v1/closures", &sys, &closure_body("kent", "REV-2"))
        .await;
    problem(res, 401).await;
    let batch = json!({"closures": [closure_body("kent", "REV-3")]});
    let res = app.post("/api/v1/closures/batch", &sys, &batch).await;
    problem(res, 401).await;
    let created = app.events("action=closure.created").await;
    assert_eq!(
        created.len(),
        1,
        "only the closure posted before: {created:?}"
    );
}

async fn a_valid_closure_is_stored_as_posted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("bedfordshire"), None).await;
    let body = closure_body("bedfordshire", "NICHE-000123-CL1");
    let res = app.post("/api/v1/closures", &sys, &body).await;
    assert_eq!(res.status().as_u16(), 201);
    let location = res
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let c: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/closures/{}", c["id"].as_str().unwrap())
    );
    for key in [
        "source_event_id",
        "force_id",
        "division",
        "crime_reference",
        "offence_category",
        "home_office_offence_code",
        "domestic_abuse_flag",
        "outcome_code",
        "named_suspect",
        "crime_recorded_at",
        "closure_proposed_at",
        "proposed_by",
        "rationale",
        "evidence",
        "victim",
    ] {
        assert_eq!(c[key], body[key], "{key}");
    }
    assert_eq!(c["status"], "pending_signoff");
    assert_eq!(c["version"], 1);
    assert_eq!(c["review_flags"], json!(["victim_not_informed"]));
    assert_eq!(c["decisions"], json!([]));
    assert!(chrono::DateTime::parse_from_rfc3339(c["received_at"].as_str().unwrap()).is_ok());
    // The closure reads back the same, and its creation is on record.
    let (_, auditor) = app.user("auditor", Some("bedfordshire"), None).await;
    let read: Value = app.get(&location, &auditor).await.json().await.unwrap();
    assert_eq!(read, c);
    let created = app
        .events(&format!(
            "closure_id={}&action=closure.created",
            c["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["actor"]["role"], "force_system");
    assert_eq!(created[0]["force_id"], "bedfordshire");
    assert!(created[0]["request_id"].is_string());
}

async fn every_validation_rule_is_reported(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let check = |change: &'static dyn Fn(&mut Value), fields: &'static [&'static str]| {
        let (app, sys) = (&app, &sys);
        async move {
            let mut body = closure_body("kent", "SE-1");
            change(&mut body);
            let (status, p) = app.post_closure(sys, &body).await;
            assert_eq!(status, 422, "{p}");
            assert_eq!(error_fields(&p), fields, "{p}");
            p
        }
    };
    let p = check(&|b| b["outcome_code"] = json!(14), &["outcome_code"]).await;
    let msg = p["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("15") && msg.contains("16"), "{msg}");
    check(&|b| b["named_suspect"] = json!(false), &["named_suspect"]).await;
    check(
        &|b| b["offence_category"] = json!("burglary"),
        &["offence_category"],
    )
    .await;
    check(&|b| b["force_id"] = json!("gotham"), &["force_id"]).await;
    check(&|b| b["source_event_id"] = json!(""), &["source_event_id"]).await;
    check(
        &|b| b["source_event_id"] = json!("x".repeat(129)),
        &["source_event_id"],
    )
    .await;
    check(&|b| b["rationale"] = json!("too short"), &["rationale"]).await;
    check(
        &|b| b["rationale"] = json!("r".repeat(10_001)),
        &["rationale"],
    )
    .await;
    check(
        &|b| b["proposed_by"]["rank"] = json!("general"),
        &["proposed_by.rank"],
    )
    .await;
    check(
        &|b| b["proposed_by"] = json!({}),
        &["proposed_by.officer_id", "proposed_by.rank"],
    )
    .await;
    check(
        &|b| b["evidence"]["risk_level"] = json!("extreme"),
        &["evidence.risk_level"],
    )
    .await;
    check(
        &|b| b["evidence"]["references"] = json!(vec!["r"; 51]),
        &["evidence.references"],
    )
    .await;
    check(
        &|b| b["victim"]["age_band"] = json!("20-30"),
        &["victim.age_band"],
    )
    .await;
    check(
        &|b| b["crime_recorded_at"] = json!("yesterday"),
        &["crime_recorded_at"],
    )
    .await;
    // A rule between two fields names the later one.
    check(
        &|b| b["closure_proposed_at"] = json!("2020-01-01T00:00:00Z"),
        &["closure_proposed_at"],
    )
    .await;
    check(
        &|b| {
            b["closure_proposed_at"] =
                json!((chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339())
        },
        &["closure_proposed_at"],
    )
    .await;
    // Everything wrong at once is reported at once.
    check(
        &|b| {
            b["outcome_code"] = json!(18);
            b["named_suspect"] = json!(false);
            b["rationale"] = json!("short");
            b["evidence"]["risk_level"] = json!("x");
            b["victim"]["age_band"] = json!("old");
        },
        &[
            "outcome_code",
            "named_suspect",
            "rationale",
            "evidence.risk_level",
            "victim.age_band",
        ],
    )
    .await;
    check(
        &|b| *b = json!({}),
        &[
            "source_event_id",
            "force_id",
            "crime_reference",
            "offence_category",
            "domestic_abuse_flag",
            "outcome_code",
            "named_suspect",
            "crime_recorded_at",
            "closure_proposed_at",
            "proposed_by",
            "rationale",
            "evidence",
        ],
    )
    .await;
    // Optional parts may be left out; 5 minutes of clock skew is allowed.
    let mut minimal = closure_body("kent", "SE-2");
    for key in ["home_office_offence_code", "division", "victim"] {
        minimal.as_object_mut().unwrap().remove(key);
    }
    minimal["closure_proposed_at"] =
        json!((chrono::Utc::now() + chrono::Duration::minutes(3)).to_rfc3339());
    let (status, c) = app.post_closure(&sys, &minimal).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["victim"], Value::Null);
    assert_eq!(
        app.events("action=closure.created").await.len(),
        1,
        "no refused closure was stored"
    );
}

async fn review_flags_are_computed(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let mut body = closure_body("kent", "FLAGS-1");
    body["evidence"] = json!({"risk_level": "high", "victim_wishes_recorded": false});
    body["crime_recorded_at"] =
        json!((chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339());
    let (status, c) = app.post_closure(&sys, &body).await;
    assert_eq!(status, 201);
    assert_eq!(
        c["review_flags"],
        json!([
            "victim_wishes_not_recorded",
            "evidence_led_prosecution_not_considered",
            "safeguarding_not_in_place",
            "victim_not_informed",
            "high_risk",
            "closed_within_7_days",
            "no_evidence_references"
        ])
    );
    let mut clean = closure_body("kent", "FLAGS-2");
    clean["evidence"]["victim_informed"] = json!(true);
    let (_, c) = app.post_closure(&sys, &clean).await;
    assert_eq!(c["review_flags"], json!([]));
}

async fn who_may_post_and_for_which_force(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, officer) = app.officer("kent", "sergeant", "5001").await;
    let (_, auditor) = app.user("auditor", Some("kent"), None).await;
    let (_, national) = app.user("auditor", None, None).await;
    // Another (known) force: 403, whatever else is wrong with the body.
    let p = problem(
        app.post("/api/v1/closures", &sys, &closure_body("essex", "F-1"))
            .await,
        403,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("own force"));
    let mut bad = closure_body("essex", "F-1");
    bad["outcome_code"] = json!(3);
    problem(app.post("/api/v1/closures", &sys, &bad).await, 403).await;
    // An officer of the force may post for it, naming itself as the proposer
    // (letter case aside); naming another officer is a 422 on that field.
    let mut own = closure_body("kent", "F-2");
    own["proposed_by"]["officer_id"] = json!("5001");
    assert_eq!(app.post_closure(&officer, &own).await.0, 201);
    let mut naming_other = closure_body("kent", "F-2b");
    naming_other["proposed_by"]["officer_id"] = json!("4471");
    let p = problem(
        app.post("/api/v1/closures", &officer, &naming_other).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["proposed_by.officer_id"]);
    for token in [&auditor, &national, &app.admin_token] {
        problem(
            app.post("/api/v1/closures", token, &closure_body("kent", "F-3"))
                .await,
            403,
        )
        .await;
    }
    problem(
        app.request(
            reqwest::Method::POST,
            "/api/v1/closures",
            None,
            Some(&closure_body("kent", "F-4")),
        )
        .await,
        401,
    )
    .await;
}

async fn replays_are_idempotent(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, essex) = app.user("force_system", Some("essex"), None).await;
    let body = closure_body("kent", "REPLAY-1");
    let (s1, first) = app.post_closure(&sys, &body).await;
    assert_eq!(s1, 201);
    let (s2, again) = app.post_closure(&sys, &body).await;
    assert_eq!(s2, 200);
    assert_eq!(again, first, "the replay answers with the stored closure");
    let mut changed = body.clone();
    changed["rationale"] = json!("A different rationale, of enough length to pass.");
    let p = problem(app.post("/api/v1/closures", &sys, &changed).await, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("different content"));
    // The key is unique within a force only.
    let mut other = body.clone();
    other["force_id"] = json!("essex");
    assert_eq!(app.post_closure(&essex, &other).await.0, 201);
    let created = app.events("action=closure.created").await;
    assert_eq!(created.len(), 2, "a replay writes no event");
}

async fn concurrent_retries_leave_one_closure(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let body = closure_body("kent", "RETRY-STORM-1");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, url, token, body) = (
            app.client.clone(),
            app.url("/api/v1/closures"),
            sys.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (status, c) = t.await.unwrap();
        assert!(status == 201 || status == 200, "{status} {c}");
        created += (status == 201) as usize;
        ids.insert(c["id"].as_str().unwrap().to_string());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let id = ids.into_iter().next().unwrap();
    assert_eq!(
        app.events(&format!("action=closure.created&closure_id={id}"))
            .await
            .len(),
        1
    );
    assert_eq!(app.events("action=closure.created").await.len(), 1);
}

async fn batches_judge_each_item(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    app.post_closure(&sys, &closure_body("kent", "B-0")).await;
    let mut invalid = closure_body("kent", "B-2");
    invalid["outcome_code"] = json!(1);
    let mut changed = closure_body("kent", "B-0");
    changed["division"] = json!("South");
    let items = json!([
        closure_body("kent", "B-1"),
        invalid,
        closure_body("kent", "B-0"),  // replay of a stored closure
        changed,                      // same key, different content
        closure_body("essex", "B-4"), // another force
        closure_body("kent", "B-1"),  // the same as item 0, again
    ]);
    let res = app
        .post("/api/v1/closures/batch", &sys, &json!({"closures": items}))
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 422, 200, 409, 403, 200]);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(error_fields(&results[1]["problem"]), ["outcome_code"]);
    assert_eq!(results[3]["problem"]["status"], 409);
    assert_eq!(results[5]["id"], results[0]["id"]);
    let stored: Value = app
        .get(
            &format!("/api/v1/closures/{}", results[0]["id"].as_str().unwrap()),
            &sys,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["source_event_id"], "B-1");
    assert_eq!(app.events("action=closure.created").await.len(), 2);

    // A whole batch at once: 1,000 valid closures.
    let many: Vec<Value> = (0..1000)
        .map(|i| closure_body("kent", &format!("BULK-{i:05}")))
        .collect();
    let res = app
        .post("/api/v1/closures/batch", &sys, &json!({"closures": many}))
        .await;
    let body: Value = res.json().await.unwrap();
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == 201)
    );
    assert_eq!(app.events("action=closure.created").await.len(), 1002);
}

async fn batch_limits(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.max_batch_body_bytes = 200_000).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"source_event_id": format!("{i}")}))
        .collect();
    let p = problem(
        app.post(
            "/api/v1/closures/batch",
            &sys,
            &json!({"closures": too_many}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["closures"]);
    problem(
        app.post("/api/v1/closures/batch", &sys, &json!({})).await,
        422,
    )
    .await;
    problem(
        app.post("/api/v1/closures/batch", &sys, &json!({"closures": "x"}))
            .await,
        422,
    )
    .await;
    let big: Vec<Value> = (0..400)
        .map(|i| closure_body("kent", &format!("BIG-{i}")))
        .collect();
    problem(
        app.post("/api/v1/closures/batch", &sys, &json!({"closures": big}))
            .await,
        413,
    )
    .await;
    let raw = app
        .client
        .post(app.url("/api/v1/closures/batch"))
        .bearer_auth(&sys)
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(raw, 415).await;
    let raw = app
        .client
        .post(app.url("/api/v1/closures/batch"))
        .bearer_auth(&sys)
        .header("content-type", "application/json")
        .body("{\"closures\": [")
        .send()
        .await
        .unwrap();
    problem(raw, 400).await;
    let (_, auditor) = app.user("auditor", None, None).await;
    problem(
        app.post(
            "/api/v1/closures/batch",
            &auditor,
            &json!({"closures": [closure_body("kent", "A-1")]}),
        )
        .await,
        403,
    )
    .await;
}
