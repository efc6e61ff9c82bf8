//! Reading closures: scoping per role, filters, keyset pagination under
//! concurrent inserts, cases, and the view event.

use crate::common::*;
use crate::on_both_backends;
use serde_json::{Value, json};
use std::collections::HashSet;

on_both_backends!(
    each_role_sees_only_its_scope,
    list_filters,
    pages_neither_repeat_nor_skip,
    cases_are_oldest_first
);

async fn each_role_sees_only_its_scope(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, kent_sys) = app.user("force_system", Some("kent"), None).await;
    let (_, essex_sys) = app.user("force_system", Some("essex"), None).await;
    let (_, kent_auditor) = app.user("auditor", Some("kent"), None).await;
    let (_, national) = app.user("auditor", None, None).await;
    let (_, essex_officer) = app.officer("essex", "superintendent", "9001").await;
    let (kent_user, kent_officer) = app.officer("kent", "constable", "9002").await;
    let (_, c) = app
        .post_closure(&kent_sys, &closure_body("kent", "SCOPE-1"))
        .await;
    let path = format!("/api/v1/closures/{}", c["id"].as_str().unwrap());

    for token in [&kent_sys, &kent_auditor, &national, &kent_officer] {
        assert_eq!(app.get(&path, token).await.status().as_u16(), 200);
    }
    for token in [&essex_sys, &essex_officer] {
        problem(app.get(&path, token).await, 404).await;
    }
    problem(app.get(&path, &app.admin_token).await, 403).await;
    problem(app.get("/api/v1/closures", &app.admin_token).await, 403).await;
    problem(
        app.get("/api/v1/closures/no-such-closure", &national).await,
        404,
    )
    .await;

    let ids = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(app
            .get("/api/v1/closures", &kent_auditor)
            .await
            .json()
            .await
            .unwrap())
        .len(),
        1
    );
    assert_eq!(
        ids(app
            .get("/api/v1/closures", &national)
            .await
            .json()
            .await
            .unwrap())
        .len(),
        1
    );
    assert!(
        ids(app
            .get("/api/v1/closures", &essex_sys)
            .await
            .json()
            .await
            .unwrap())
        .is_empty()
    );
    assert!(
        ids(app
            .get("/api/v1/closures?force_id=kent", &essex_sys)
            .await
            .json()
            .await
            .unwrap())
        .is_empty()
    );

    // Each successful view is on record, with who viewed it; refused ones are not views.
    let views = app
        .events(&format!(
            "action=closure.viewed&closure_id={}",
            c["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(views.len(), 4);
    let officer_view = views
        .iter()
        .find(|e| e["actor"]["user_id"] == kent_user["id"])
        .expect("the officer's view");
    assert_eq!(officer_view["actor"]["rank"], "constable");
    assert_eq!(officer_view["actor"]["force_id"], "kent");
    assert_eq!(officer_view["force_id"], "kent");
}

async fn list_filters(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, kent) = app.user("force_system", Some("kent"), None).await;
    let (_, essex) = app.user("force_system", Some("essex"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "7001").await;
    let (_, national) = app.user("auditor", None, None).await;
    let mut a = closure_body("kent", "L-1");
    a["outcome_code"] = json!(15);
    a["division"] = json!("South");
    a["closure_proposed_at"] = json!("2026-10-15T12:00:00Z");
    a["crime_recorded_at"] = json!("2026-09-01T12:00:00Z");
    let mut r = closure_body("kent", "L-2");
    r["offence_category"] = json!("rape");
    let (_, a_c) = app.post_closure(&kent, &a).await;
    let (_, r_c) = app.post_closure(&kent, &r).await;
    let (_, e_c) = app
        .post_closure(&essex, &closure_body("essex", "L-3"))
        .await;
    let decided = app
        .post(
            &format!("/api/v1/closures/{}/decision", r_c["id"].as_str().unwrap()),
            &insp,
            &json!({"decision": "reject", "rationale": "More enquiries are needed on this case."}),
        )
        .await;
    assert_eq!(decided.status().as_u16(), 200);

    let list = |q: &'static str| {
        let app = &app;
        let national = &national;
        async move {
            let v: Value = app
                .get(&format!("/api/v1/closures?{q}"), national)
                .await
                .json()
                .await
                .unwrap();
            let mut ids: Vec<String> = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |v: &[&Value]| {
        let mut ids: Vec<String> = v
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(list("").await, sorted(&[&a_c, &r_c, &e_c]));
    assert_eq!(list("force_id=kent").await, sorted(&[&a_c, &r_c]));
    assert_eq!(list("status=rejected").await, sorted(&[&r_c]));
    assert_eq!(
        list("status=pending_signoff&force_id=kent").await,
        sorted(&[&a_c])
    );
    assert_eq!(list("outcome_code=15").await, sorted(&[&a_c]));
    assert_eq!(list("offence_category=rape").await, sorted(&[&r_c]));
    assert_eq!(list("division=South").await, sorted(&[&a_c]));
    assert_eq!(list("from=2026-10-01&to=2026-11-01").await, sorted(&[&a_c]));
    assert_eq!(list("to=2026-10-15T12:00:00Z").await, Vec::<String>::new());
    assert_eq!(
        list("from=2026-10-15T12:00:00Z&to=2026-10-15T12:00:01Z").await,
        sorted(&[&a_c])
    );
    // Newest received first.
    let v: Value = app
        .get("/api/v1/closures", &national)
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source_event_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["L-3", "L-2", "L-1"]);
    assert_eq!(v["items"][1]["decisions"][0]["decision"], "reject");
    // Bad filters.
    let p = problem(
        app.get(
            "/api/v1/closures?status=closed&offence_category=theft",
            &national,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["status", "offence_category"]);
    problem(
        app.get("/api/v1/closures?outcome_code=sixteen", &national)
            .await,
        400,
    )
    .await;
    problem(app.get("/api/v1/closures?from=soon", &national).await, 400).await;
    problem(app.get("/api/v1/closures?limit=501", &national).await, 422).await;
    problem(
        app.get("/api/v1/closures?cursor=bm9wZQ", &national).await,
        400,
    )
    .await;
}

async fn pages_neither_repeat_nor_skip(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, auditor) = app.user("auditor", Some("kent"), None).await;
    let first: Vec<Value> = (0..25)
        .map(|i| closure_body("kent", &format!("P-{i:03}")))
        .collect();
    app.post("/api/v1/closures/batch", &sys, &json!({"closures": first}))
        .await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut round = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/closures?limit=4&cursor={c}"),
            None => "/api/v1/closures?limit=4".to_string(),
        };
        let page: Value = app.get(&path, &auditor).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["source_event_id"].as_str().unwrap().to_string()),
        );
        // Others insert between page fetches, one at a time and in a batch.
        round += 1;
        app.post_closure(&sys, &closure_body("kent", &format!("NEW-{round:03}")))
            .await;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row was repeated: {seen:?}");
    let expected: HashSet<String> = (0..25).map(|i| format!("P-{i:03}")).collect();
    let got: HashSet<String> = seen
        .iter()
        .filter(|s| s.starts_with("P-"))
        .cloned()
        .collect();
    assert_eq!(got, expected, "a row was skipped");
    assert!(
        seen.iter().all(|s| s.starts_with("P-")),
        "rows inserted after the first page are newer, not on later pages"
    );
}

async fn cases_are_oldest_first(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, essex) = app.user("force_system", Some("essex"), None).await;
    let (_, national) = app.user("auditor", None, None).await;
    let mut first = closure_body("kent", "CASE-1");
    first["crime_reference"] = json!("KT/555/26");
    let mut second = first.clone();
    second["source_event_id"] = json!("CASE-2");
    let mut other = closure_body("kent", "CASE-3");
    other["crime_reference"] = json!("KT/556/26");
    let (_, c1) = app.post_closure(&sys, &first).await;
    let (_, c2) = app.post_closure(&sys, &second).await;
    app.post_closure(&sys, &other).await;
    let q = "/api/v1/cases?force_id=kent&crime_reference=KT%2F555%2F26";
    let v: Value = app.get(q, &national).await.json().await.unwrap();
    let ids: Vec<&Value> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&c1["id"], &c2["id"]]);
    // The force's own system may leave out force_id; another force sees nothing.
    let v: Value = app
        .get("/api/v1/cases?crime_reference=KT/555/26", &sys)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let v: Value = app.get(q, &essex).await.json().await.unwrap();
    assert_eq!(v["items"], json!([]));
    let p = problem(app.get("/api/v1/cases", &national).await, 422).await;
    assert_eq!(error_fields(&p), ["force_id", "crime_reference"]);
    problem(app.get(q, &app.admin_token).await, 403).await;
    assert_eq!(
        app.events(&format!(
            "action=closure.viewed&closure_id={}",
            c1["id"].as_str().unwrap()
        ))
        .await
        .len(),
        2
    );
}
