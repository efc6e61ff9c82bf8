//! Reading closures: scoping per role, filters, keyset pagination under
//! concurrent inserts, cases, the view event, and the list event of each page.

use crate::common::*;
use crate::on_both_backends;
use serde_json::{Value, json};
use std::collections::HashSet;

on_both_backends!(
    each_role_sees_only_its_scope,
    list_filters,
    pages_neither_repeat_nor_skip,
    cases_are_oldest_first,
    each_list_page_is_logged,
    no_page_without_its_event,
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

fn page_ids(page: &Value) -> Vec<Value> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect()
}

/// Each page answered is one `closure.listed` event holding exactly the ids on
/// that page and the filters used; an empty page too; a refused list is none.
async fn each_list_page_is_logged(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, essex) = app.user("force_system", Some("essex"), None).await;
    let (auditor_user, auditor) = app.user("auditor", Some("kent"), None).await;
    let (national_user, national) = app.user("auditor", None, None).await;
    let batch: Vec<Value> = (0..5)
        .map(|i| closure_body("kent", &format!("LOG-{i}")))
        .collect();
    let res = app
        .post("/api/v1/closures/batch", &sys, &json!({"closures": batch}))
        .await;
    assert_eq!(res.status().as_u16(), 200);
    app.post_closure(&essex, &closure_body("essex", "LOG-E"))
        .await;

    // A two-page walk by a force auditor.
    let first: Value = app
        .get(
            "/api/v1/closures?limit=3&status=pending_signoff&division=North",
            &auditor,
        )
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let second: Value = app
        .get(
            &format!(
                "/api/v1/closures?limit=3&status=pending_signoff&division=North&cursor={cursor}"
            ),
            &auditor,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(page_ids(&first).len() + page_ids(&second).len(), 5);

    let mine = app
        .events(&format!(
            "action=closure.listed&actor_id={}",
            auditor_user["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(mine.len(), 2, "one event per page: {mine:?}");
    for (event, page, cur) in [
        (&mine[0], &first, Value::Null),
        (&mine[1], &second, json!(cursor)),
    ] {
        let d = &event["details"];
        assert_eq!(
            d["closure_ids"],
            json!(page_ids(page)),
            "exactly the page's ids, in order"
        );
        assert_eq!(d["count"], json!(page_ids(page).len()));
        assert_eq!(d["filters"]["status"], "pending_signoff");
        assert_eq!(d["filters"]["division"], "North");
        assert_eq!(d["filters"]["force_id"], Value::Null, "as the caller asked");
        assert_eq!(d["filters"]["limit"], 3);
        assert_eq!(d["filters"]["cursor"], cur);
        assert_eq!(event["force_id"], "kent", "the caller's scope force");
        assert_eq!(event["closure_id"], Value::Null);
        assert_eq!(event["actor"]["role"], "auditor");
    }
    // The force auditor finds them in its own audit list.
    let own: Value = app
        .get("/api/v1/audit/events?action=closure.listed", &auditor)
        .await
        .json()
        .await
        .unwrap();
    let own_seqs: Vec<&Value> = own["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["seq"])
        .collect();
    assert_eq!(own_seqs, [&mine[0]["seq"], &mine[1]["seq"]]);

    // An empty page (another force, out of scope) is a consultation too.
    let empty: Value = app
        .get("/api/v1/closures?force_id=essex", &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty["items"], json!([]));
    // A national auditor's page: every force, no scope force; the default limit.
    let all: Value = app
        .get("/api/v1/closures", &national)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page_ids(&all).len(), 6);
    // Refused lists are not consultations.
    problem(
        app.get("/api/v1/closures?status=closed", &auditor).await,
        422,
    )
    .await;
    problem(app.get("/api/v1/closures", &app.admin_token).await, 403).await;

    let mine = app
        .events(&format!(
            "action=closure.listed&actor_id={}",
            auditor_user["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(mine.len(), 3);
    assert_eq!(mine[2]["details"]["closure_ids"], json!([]));
    assert_eq!(mine[2]["details"]["count"], 0);
    assert_eq!(mine[2]["details"]["filters"]["force_id"], "essex");
    let theirs = app
        .events(&format!(
            "action=closure.listed&actor_id={}",
            national_user["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["details"]["closure_ids"], json!(page_ids(&all)));
    assert_eq!(theirs[0]["details"]["filters"]["limit"], 50);
    assert_eq!(theirs[0]["force_id"], Value::Null);
    assert_eq!(app.events("action=closure.listed").await.len(), 4);
}

/// When the event cannot be written, the page is not answered.
async fn no_page_without_its_event(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, sys) = app.user("force_system", Some("kent"), None).await;
    let (_, auditor) = app.user("auditor", Some("kent"), None).await;
    app.post_closure(&sys, &closure_body("kent", "REFUSED-1"))
        .await;
    app.refuse_consultation_events();
    let res = app.get("/api/v1/closures", &auditor).await;
    assert!(!res.status().is_success(), "{}", res.status());
    let body = problem(res, 500).await;
    assert!(body.get("items").is_none(), "{body}");
    assert!(app.events("action=closure.listed").await.is_empty());
}
