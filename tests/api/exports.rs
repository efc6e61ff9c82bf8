//! Exports and reports: exact CSV headers, spreadsheet safety, scoping, the
//! download on record before its first byte and its end after, trend counts and rates and funnel limits equal to an
//! independent computation, suppression, a funnel plot that parses, and the
//! offline export giving the same CSV.

use crate::common::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;

on_both_backends!(
    closures_csv_is_exact_safe_and_scoped,
    audit_csv_has_every_event,
    trends_equal_an_independent_computation,
    outliers_and_the_funnel_plot,
    a_repeated_trend_table_is_never_stale,
    trends_stay_exact_through_posts_decisions_and_reopens,
    every_download_is_on_record_before_its_first_byte,
    a_download_cut_short_is_recorded_as_incomplete,
    no_download_without_its_event,
);

/// Trend tables are kept between requests, but every closure, decision, reopen
/// and volume committed since, on any instance, shows in the next answer.
async fn a_repeated_trend_table_is_never_stale(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.another_instance().await;
    let (_, kent) = app.user("force_system", Some("kent"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "7").await;
    let (_, national) = app.user("auditor", None, None).await;
    let m = chrono::Utc::now().format("%Y-%m").to_string();
    let path = format!("/api/v1/exports/trends.csv?from={m}&to={m}&group_by=force_id");
    let table = |body: String| {
        rows(&body)
            .into_iter()
            .map(|r| {
                let keep = ["closures", "signed_off", "reopened", "finalised_total"];
                keep.map(|k| r[k].clone()).join("/")
            })
            .collect::<Vec<_>>()
    };
    let (_, first) = app
        .post_closure(&kent, &closure_body("kent", "FRESH-1"))
        .await;
    let (status, body, _) = csv(&app, &path, &national).await;
    assert_eq!(status, 200);
    assert_eq!(table(body), ["1/0/0/"]);
    // Asked again with nothing changed: the same table.
    assert_eq!(table(csv(&app, &path, &national).await.1), ["1/0/0/"]);

    // A closure posted through the other instance.
    let (status, _) = other
        .post_closure(&kent, &closure_body("kent", "FRESH-2"))
        .await;
    assert_eq!(status, 201);
    assert_eq!(table(csv(&app, &path, &national).await.1), ["2/0/0/"]);
    // A decision through the other instance.
    let id = first["id"].as_str().unwrap();
    let res = other
        .post(
            &format!("/api/v1/closures/{id}/decision"),
            &insp,
            &json!({"decision": "approve", "rationale": "Checked with care for the cache test.", "checklist": full_checklist()}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(table(csv(&app, &path, &national).await.1), ["2/1/0/"]);
    // A reopen, then a volume.
    let res = other
        .post(
            &format!("/api/v1/closures/{id}/reopen"),
            &insp,
            &json!({"reason": "New evidence came to light after sign-off.", "expected_version": 2}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(table(csv(&app, &path, &national).await.1), ["2/0/1/"]);
    let vol = json!({"force_id": "kent", "month": m, "offence_category": "domestic_abuse", "finalised_total": 40});
    let res = other
        .request(
            reqwest::Method::PUT,
            "/api/v1/volumes",
            Some(&kent),
            Some(&vol),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(table(csv(&app, &path, &national).await.1), ["2/0/1/40"]);
}

const CLOSURE_COLUMNS: &str = "id,force_id,division,crime_reference,source_event_id,offence_category,home_office_offence_code,domestic_abuse_flag,outcome_code,crime_recorded_at,closure_proposed_at,received_at,proposed_by_officer_id,proposed_by_rank,status,decision,decided_by_officer_id,decided_by_rank,decided_at,hours_to_decision,rationale,decision_rationale,review_flags,risk_level,victim_sex,victim_age_band,victim_ethnicity,victim_disability,victim_religion_or_belief,victim_sexual_orientation,victim_gender_reassignment,victim_marriage_or_civil_partnership,victim_pregnancy_or_maternity";
const AUDIT_COLUMNS: &str = "seq,leaf_index,at,action,actor_user_id,actor_username,actor_role,actor_rank,actor_force_id,closure_id,force_id,request_id,details_json,leaf_hash";

/// GETs a CSV: (status, body, headers).
async fn csv(app: &TestApp, path: &str, token: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let res = app.get(path, token).await;
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, res.text().await.unwrap(), headers)
}

fn rows(body: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .zip(rec.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

async fn closures_csv_is_exact_safe_and_scoped(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, kent) = app.user("force_system", Some("kent"), None).await;
    let (_, essex) = app.user("force_system", Some("essex"), None).await;
    let (_, insp) = app.officer("kent", "inspector", "2210").await;
    let (_, national) = app.user("auditor", None, None).await;
    let (_, kent_auditor) = app.user("auditor", Some("kent"), None).await;
    let mut risky = closure_body("kent", "CSV-1");
    risky["rationale"] = json!("=HYPERLINK(\"http://x\",\"click\") then more text");
    risky["division"] = json!("-North, \"quoted\"");
    let (_, c1) = app.post_closure(&kent, &risky).await;
    let (_, c2) = app
        .post_closure(&kent, &closure_body("kent", "CSV-2"))
        .await;
    app.post_closure(&essex, &closure_body("essex", "CSV-3"))
        .await;
    let decided = app
        .post(&format!("/api/v1/closures/{}/decision", c2["id"].as_str().unwrap()), &insp,
              &json!({"decision": "approve", "rationale": "All four items confirmed with the OIC.", "checklist": full_checklist()}))
        .await;
    assert_eq!(decided.status(), StatusCode::OK);

    let (status, body, headers) = csv(&app, "/api/v1/exports/closures.csv", &national).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=")
    );
    assert!(
        body.starts_with(&format!("{CLOSURE_COLUMNS}\r\n")),
        "header"
    );
    assert!(!body.starts_with('\u{feff}'));
    assert_eq!(
        body.matches("\r\n").count(),
        body.matches('\n').count(),
        "every line ends CRLF"
    );
    let all = rows(&body);
    assert_eq!(all.len(), 3);
    let r1 = all
        .iter()
        .find(|r| r["id"] == c1["id"].as_str().unwrap())
        .unwrap();
    assert!(
        r1["rationale"].starts_with("'=HYPERLINK("),
        "formula neutralised: {}",
        r1["rationale"]
    );
    assert_eq!(r1["division"], "'-North, \"quoted\"");
    assert_eq!(r1["status"], "pending_signoff");
    assert_eq!(r1["decision"], "");
    assert_eq!(r1["review_flags"], "victim_not_informed");
    assert_eq!(r1["victim_age_band"], "25-34");
    assert_eq!(r1["domestic_abuse_flag"], "true");
    let r2 = all
        .iter()
        .find(|r| r["id"] == c2["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (
            r2["decision"].as_str(),
            r2["decided_by_rank"].as_str(),
            r2["decided_by_officer_id"].as_str()
        ),
        ("approve", "inspector", "2210")
    );
    assert!(r2["hours_to_decision"].parse::<f64>().unwrap() >= 0.0);
    assert_eq!(
        r2["decision_rationale"],
        "All four items confirmed with the OIC."
    );

    // A byte-order mark on request; filters as the list.
    let (_, body, _) = csv(
        &app,
        "/api/v1/exports/closures.csv?bom=true&status=signed_off",
        &national,
    )
    .await;
    assert!(body.starts_with('\u{feff}'));
    assert_eq!(rows(&body).len(), 1);
    // A force auditor sees its own force only; others may not export.
    let (_, body, _) = csv(&app, "/api/v1/exports/closures.csv", &kent_auditor).await;
    assert!(rows(&body).iter().all(|r| r["force_id"] == "kent") && rows(&body).len() == 2);
    let (_, body, _) = csv(
        &app,
        "/api/v1/exports/closures.csv?force_id=essex",
        &kent_auditor,
    )
    .await;
    assert_eq!(rows(&body).len(), 0);
    for token in [&kent, &insp, &app.admin_token] {
        problem(app.get("/api/v1/exports/closures.csv", token).await, 403).await;
    }
    problem(
        app.get("/api/v1/exports/closures.csv?status=nope", &national)
            .await,
        422,
    )
    .await;
    // Each download is on record with its filters, and its end with its row
    // count; refused ones are not downloads.
    let downloads = app.events("action=export.downloaded").await;
    assert_eq!(downloads.len(), 4);
    assert_eq!(downloads[0]["details"]["export"], "closures.csv");
    assert_eq!(downloads[1]["details"]["filters"]["status"], "signed_off");
    assert_eq!(downloads[2]["actor"]["force_id"], "kent");
    let ends = completions(&app, &downloads).await;
    let counts: Vec<&Value> = ends.iter().map(|e| &e["details"]["rows"]).collect();
    assert_eq!(counts, [3, 1, 2, 0]);
    assert!(ends.iter().all(|e| e["details"]["completed"] == true));

    // Every filter kind: a text value with quotes and SQL in it is a value,
    // and a number is one.
    for (query, expected) in [
        ("division=-North%2C%20%22quoted%22", vec![c1["id"].clone()]),
        ("division=x%27%3B%20DROP%20TABLE%20closures%3B%20--", vec![]),
        ("force_id=kent&outcome_code=15", vec![]),
        (
            "force_id=kent&outcome_code=16&status=signed_off",
            vec![c2["id"].clone()],
        ),
    ] {
        let (status, body, _) = csv(
            &app,
            &format!("/api/v1/exports/closures.csv?{query}"),
            &national,
        )
        .await;
        assert_eq!(status, 200, "{query}");
        let ids: Vec<Value> = rows(&body).iter().map(|r| json!(r["id"])).collect();
        assert_eq!(ids, expected, "{query}");
    }
    // The offline export writes the same file.
    let out = app.dir.path().join("offline.csv");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_closure-audit"))
        .args(["export", "closures", "--out"])
        .arg(&out)
        .env("CLOSURE_AUDIT_DATABASE_URL", &app.settings.database_url)
        .env("CLOSURE_AUDIT_LOG_LEVEL", "warn")
        .status()
        .unwrap();
    assert!(st.success());
    let (_, online, _) = csv(&app, "/api/v1/exports/closures.csv", &national).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), online);
}

async fn audit_csv_has_every_event(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, kent) = app.user("force_system", Some("kent"), None).await;
    let (_, national) = app.user("auditor", None, None).await;
    app.post_closure(&kent, &closure_body("kent", "A-1")).await;
    // A failed login under a user name that looks like a formula.
    problem(app.login("=1+1", "whatever password").await, 401).await;
    app.settle().await;
    let events = app.events("").await;
    let (status, body, _) = csv(&app, "/api/v1/exports/audit.csv", &national).await;
    assert_eq!(status, 200);
    assert!(body.starts_with(&format!("{AUDIT_COLUMNS}\r\n")));
    let all = rows(&body);
    // Every event, then the download's own `export.downloaded`: it is committed
    // before the log is read.
    assert_eq!(all.len(), events.len() + 1);
    assert_eq!(all[events.len()]["action"], "export.downloaded");
    let own: Value = serde_json::from_str(&all[events.len()]["details_json"]).unwrap();
    assert_eq!(own["export"], "audit.csv");
    for (r, e) in all.iter().zip(&events) {
        assert_eq!(r["seq"], e["seq"].to_string());
        assert_eq!(r["action"], e["action"].as_str().unwrap());
        assert_eq!(r["leaf_index"], e["leaf_index"].to_string());
        assert_eq!(r["leaf_hash"].len(), 64);
        let details: Value = serde_json::from_str(&r["details_json"]).unwrap();
        assert_eq!(details, e["details"]);
    }
    let failed = all
        .iter()
        .find(|r| r["action"] == "auth.login_failed")
        .unwrap();
    assert_eq!(failed["actor_username"], "'=1+1", "neutralised once");
    let (_, body, _) = csv(
        &app,
        "/api/v1/exports/audit.csv?action=closure.created",
        &national,
    )
    .await;
    assert_eq!(rows(&body).len(), 1);
    // Exports are for auditors; an admin reads the log as JSON.
    problem(app.get("/api/v1/exports/audit.csv", &kent).await, 403).await;
    problem(
        app.get("/api/v1/exports/audit.csv", &app.admin_token).await,
        403,
    )
    .await;
    // The offline verifier reads the HTTP export back and finds it intact, against
    // a checkpoint that covers every event before the download (the file also
    // holds the download's own event, and maybe the end of the one before, not
    // yet in a checkpoint).
    let cp = app.settle().await;
    let export = app.dir.path().join("audit.csv");
    let (_, body, _) = csv(&app, "/api/v1/exports/audit.csv", &national).await;
    std::fs::write(&export, body).unwrap();
    let cp_file = app.dir.path().join("cp.txt");
    std::fs::write(&cp_file, cp["note"].as_str().unwrap()).unwrap();
    let key: Value = app
        .get("/api/v1/audit/public-key", &national)
        .await
        .json()
        .await
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_closure-audit"))
        .args(["audit", "verify", "--log"])
        .arg(&export)
        .arg("--checkpoint")
        .arg(&cp_file)
        .args(["--public-key", key["verifier_key"].as_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn month(m: &str, day: u32) -> String {
    format!("{m}-{day:02}T10:00:00Z")
}

/// R-7 percentile, written here independently of the service.
fn pct(mut v: Vec<f64>, p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let h = (v.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    Some(v[lo] + (h - lo as f64) * (v[h.ceil() as usize] - v[lo]))
}

async fn trends_equal_an_independent_computation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let forces = ["kent", "essex"];
    let mut systems = BTreeMap::new();
    for f in forces {
        systems.insert(f, app.user("force_system", Some(f), None).await.1);
    }
    let (_, kent_insp) = app.officer("kent", "inspector", "1").await;
    let (_, national) = app.user("auditor", None, None).await;
    let mut posted = Vec::new();
    let months = ["2026-08", "2026-09", "2026-10"];
    for i in 0..27 {
        let force = forces[i % 2];
        let m = months[i % 3];
        let mut c = closure_body(force, &format!("TR-{i}"));
        c["closure_proposed_at"] = json!(month(m, 3 + (i % 20) as u32));
        c["crime_recorded_at"] = json!(month("2026-07", 1));
        c["outcome_code"] = json!(15 + (i % 2) as i64);
        c["victim"]["sex"] = json!(if i % 9 == 0 { "male" } else { "female" });
        if i % 4 == 0 {
            c["evidence"]["victim_informed"] = json!(true);
        }
        let (status, body) = app.post_closure(&systems[force], &c).await;
        assert_eq!(status, 201, "{body}");
        posted.push(body);
    }
    // Decide some of Kent's.
    for c in posted.iter().filter(|c| c["force_id"] == "kent").take(6) {
        let d = if c["source_event_id"].as_str().unwrap().ends_with('4') {
            "reject"
        } else {
            "approve"
        };
        let res = app.post(&format!("/api/v1/closures/{}/decision", c["id"].as_str().unwrap()), &kent_insp,
            &json!({"decision": d, "rationale": "Decided for the trend test, carefully.", "checklist": full_checklist()})).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Denominators: Kent as a whole for two months, Essex by division.
    for (force, division, m, total) in [
        ("kent", None, "2026-08", 40),
        ("kent", None, "2026-09", 50),
        ("essex", Some("North"), "2026-08", 20),
        ("essex", Some("South"), "2026-08", 30),
    ] {
        let mut body = json!({"force_id": force, "month": m, "offence_category": "domestic_abuse", "finalised_total": total});
        if let Some(d) = division {
            body["division"] = json!(d);
        }
        let res = app
            .request(
                reqwest::Method::PUT,
                "/api/v1/volumes",
                Some(&systems[force]),
                Some(&body),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // The closures as they now are, read back through the API.
    let list: Value = app
        .get("/api/v1/closures?limit=500", &national)
        .await
        .json()
        .await
        .unwrap();
    let closures = list["items"].as_array().unwrap().clone();

    let (status, body, _) = csv(
        &app,
        "/api/v1/exports/trends.csv?from=2026-08&to=2026-10&group_by=month,force_id",
        &national,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("month,force_id,closures,outcome_15,outcome_16,signed_off,rejected,pending,reopened,flagged,median_hours_to_decision,p90_hours_to_decision,finalised_total,closures_per_100_finalised\r\n"));
    let table = rows(&body);
    assert_eq!(table.len(), 6);
    let volumes: BTreeMap<(&str, &str), u64> = [
        (("kent", "2026-08"), 40),
        (("kent", "2026-09"), 50),
        (("essex", "2026-08"), 50),
    ]
    .into_iter()
    .collect();
    for row in &table {
        let (m, f) = (row["month"].as_str(), row["force_id"].as_str());
        let mine: Vec<&Value> = closures
            .iter()
            .filter(|c| {
                c["force_id"] == f && c["closure_proposed_at"].as_str().unwrap().starts_with(m)
            })
            .collect();
        let count =
            |pred: &dyn Fn(&Value) -> bool| mine.iter().filter(|c| pred(c)).count().to_string();
        assert_eq!(row["closures"], mine.len().to_string(), "{m} {f}");
        assert_eq!(row["outcome_15"], count(&|c| c["outcome_code"] == 15));
        assert_eq!(row["outcome_16"], count(&|c| c["outcome_code"] == 16));
        assert_eq!(row["signed_off"], count(&|c| c["status"] == "signed_off"));
        assert_eq!(row["rejected"], count(&|c| c["status"] == "rejected"));
        assert_eq!(row["pending"], count(&|c| c["status"] == "pending_signoff"));
        assert_eq!(row["reopened"], count(&|c| c["status"] == "reopened"));
        assert_eq!(
            row["flagged"],
            count(&|c| !c["review_flags"].as_array().unwrap().is_empty())
        );
        let hours: Vec<f64> = mine
            .iter()
            .filter_map(|c| {
                c["decisions"].as_array().unwrap().last().map(|d| {
                    let at = |s: &Value| {
                        chrono::DateTime::parse_from_rfc3339(s.as_str().unwrap())
                            .unwrap()
                            .timestamp_micros() as f64
                    };
                    (at(&d["decided_at"]) - at(&c["received_at"])) / 3.6e9
                })
            })
            .collect();
        let close = |got: &str, want: Option<f64>| match want {
            None => assert_eq!(got, ""),
            Some(w) => assert!(
                (got.parse::<f64>().unwrap() - w).abs() < 0.006,
                "{got} vs {w}"
            ),
        };
        close(&row["median_hours_to_decision"], pct(hours.clone(), 0.5));
        close(&row["p90_hours_to_decision"], pct(hours, 0.9));
        match volumes.get(&(f, m)) {
            Some(n) => {
                assert_eq!(row["finalised_total"], n.to_string());
                close(
                    &row["closures_per_100_finalised"],
                    Some(mine.len() as f64 * 100.0 / *n as f64),
                );
            }
            None => assert_eq!(
                (
                    row["finalised_total"].as_str(),
                    row["closures_per_100_finalised"].as_str()
                ),
                ("", "")
            ),
        }
    }

    // Grouping by a victim characteristic suppresses counts below 5 by default.
    let (_, body, _) = csv(
        &app,
        "/api/v1/exports/trends.csv?group_by=victim_sex",
        &national,
    )
    .await;
    let t = rows(&body);
    let male = t.iter().find(|r| r["victim_sex"] == "male").unwrap();
    assert_eq!(male["closures"], "[c]", "3 male victims are suppressed");
    assert_eq!(male["median_hours_to_decision"], "");
    let female = t.iter().find(|r| r["victim_sex"] == "female").unwrap();
    assert_eq!(female["closures"], "24");
    for (col, status) in [
        ("signed_off", "signed_off"),
        ("rejected", "rejected"),
        ("pending", "pending_signoff"),
    ] {
        let n = closures
            .iter()
            .filter(|c| c["victim"]["sex"] == "female" && c["status"] == status)
            .count();
        let want = if (1..5).contains(&n) {
            "[c]".to_string()
        } else {
            n.to_string()
        };
        assert_eq!(female[col], want, "female {col}: {n}");
    }
    let (_, body, _) = csv(
        &app,
        "/api/v1/exports/trends.csv?group_by=victim_sex&suppress_below=2",
        &national,
    )
    .await;
    assert_eq!(
        rows(&body)
            .iter()
            .find(|r| r["victim_sex"] == "male")
            .unwrap()["closures"],
        "3"
    );
    let (_, body, _) = csv(
        &app,
        "/api/v1/exports/trends.csv?group_by=status&suppress_below=7",
        &national,
    )
    .await;
    assert!(rows(&body).iter().any(|r| r["closures"] == "[c]"));
    // Bad requests.
    let p = problem(
        app.get(
            "/api/v1/exports/trends.csv?group_by=month,shoe_size",
            &national,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["group_by"]);
    problem(
        app.get("/api/v1/exports/trends.csv?from=2026-13", &national)
            .await,
        400,
    )
    .await;
    problem(
        app.get(
            "/api/v1/exports/trends.csv?from=2026-10&to=2026-09",
            &national,
        )
        .await,
        422,
    )
    .await;
    problem(
        app.get("/api/v1/exports/trends.csv?suppress_below=0", &national)
            .await,
        422,
    )
    .await;
    problem(
        app.get("/api/v1/exports/trends.csv", &systems["kent"])
            .await,
        403,
    )
    .await;
    // The offline trend export gives the same table.
    let out = app.dir.path().join("trends.csv");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_closure-audit"))
        .args([
            "export",
            "trends",
            "--from",
            "2026-08",
            "--to",
            "2026-10",
            "--group-by",
            "month,force_id",
            "--out",
        ])
        .arg(&out)
        .env("CLOSURE_AUDIT_DATABASE_URL", &app.settings.database_url)
        .env("CLOSURE_AUDIT_LOG_LEVEL", "warn")
        .status()
        .unwrap();
    assert!(st.success());
    let (_, online, _) = csv(
        &app,
        "/api/v1/exports/trends.csv?from=2026-08&to=2026-10&group_by=month,force_id",
        &national,
    )
    .await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), online);
}

async fn outliers_and_the_funnel_plot(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, national) = app.user("auditor", None, None).await;
    // (force, closures, finalised total)
    let plan = [
        ("kent", 30, Some(60)),
        ("essex", 10, Some(100)),
        ("surrey", 12, Some(40)),
        ("dorset", 3, None),
    ];
    for (force, n, total) in plan {
        let (_, sys) = app.user("force_system", Some(force), None).await;
        let items: Vec<Value> = (0..n)
            .map(|i| {
                let mut c = closure_body(force, &format!("OUT-{force}-{i}"));
                c["closure_proposed_at"] = json!(month("2026-10", 1 + i % 27));
                c["crime_recorded_at"] = json!(month("2026-08", 1));
                c
            })
            .collect();
        app.post("/api/v1/closures/batch", &sys, &json!({"closures": items}))
            .await;
        if let Some(t) = total {
            let body = json!({"force_id": force, "month": "2026-10", "offence_category": "domestic_abuse", "finalised_total": t});
            app.request(
                reqwest::Method::PUT,
                "/api/v1/volumes",
                Some(&sys),
                Some(&body),
            )
            .await;
        }
    }
    let res = app
        .get(
            "/api/v1/reports/outliers?from=2026-10&to=2026-10&level=force",
            &national,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.unwrap();
    // Independently: p0 over the units with a denominator, normal limits.
    let p0 = (30.0 + 10.0 + 12.0) / (60.0 + 100.0 + 40.0);
    assert!((report["overall_proportion"].as_f64().unwrap() - p0).abs() < 1e-9);
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    for (force, n, total) in plan {
        let item = items.iter().find(|i| i["unit"] == force).unwrap();
        assert_eq!(item["closures"], n);
        match total {
            None => {
                assert_eq!(item["flag"], "no_denominator");
                assert_eq!(item["proportion"], Value::Null);
            }
            Some(t) => {
                let (t, p) = (t as f64, n as f64 / t as f64);
                let sd = (p0 * (1.0 - p0) / t).sqrt();
                let (l95, u95, l998, u998) = (
                    p0 - 1.959964 * sd,
                    p0 + 1.959964 * sd,
                    p0 - 3.090232 * sd,
                    p0 + 3.090232 * sd,
                );
                let near = |k: &str, want: f64| {
                    assert!(
                        (item[k].as_f64().unwrap() - want).abs() < 1e-5,
                        "{force} {k}: {} vs {want}",
                        item[k]
                    )
                };
                near("proportion", p);
                near("z", (p - p0) / sd);
                near("lower_95", l95.max(0.0));
                near("upper_95", u95.min(1.0));
                near("lower_998", l998.max(0.0));
                near("upper_998", u998.min(1.0));
                let flag = if p > u998 {
                    "high_alarm"
                } else if p > u95 {
                    "high_alert"
                } else if p < l998 {
                    "low_alarm"
                } else if p < l95 {
                    "low_alert"
                } else {
                    "within"
                };
                assert_eq!(item["flag"], flag, "{force}");
            }
        }
    }
    assert_eq!(
        items.iter().find(|i| i["unit"] == "kent").unwrap()["flag"],
        "high_alarm"
    );
    assert_eq!(
        items.iter().find(|i| i["unit"] == "essex").unwrap()["flag"],
        "low_alarm"
    );
    // CSV on request.
    let res = app
        .client
        .get(app.url("/api/v1/reports/outliers?from=2026-10&to=2026-10"))
        .bearer_auth(&national)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let body = res.text().await.unwrap();
    assert!(body.starts_with("unit,closures,finalised_total,proportion,overall_proportion,z,lower_95,upper_95,lower_998,upper_998,flag\r\n"));
    assert_eq!(rows(&body).len(), 4);
    // The picture parses, has a point per plotted unit, and says what it shows.
    let res = app
        .get(
            "/api/v1/reports/funnel.svg?from=2026-10&to=2026-10&offence_category=domestic_abuse",
            &national,
        )
        .await;
    assert_eq!(
        res.headers()["content-type"],
        "image/svg+xml; charset=utf-8"
    );
    let svg = res.text().await.unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count(),
        3
    );
    let text: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("2026-10 to 2026-10") && text.contains("domestic_abuse"),
        "{text}"
    );
    assert!(
        text.contains("kent") && text.contains("essex"),
        "outliers labelled"
    );
    assert!(
        text.contains("dorset"),
        "units without a denominator are named"
    );
    // Division level; bad parameters; who may.
    let res: Value = app
        .get("/api/v1/reports/outliers?level=division", &national)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        res["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["unit"].as_str().unwrap().contains('/'))
    );
    let p = problem(
        app.get(
            "/api/v1/reports/outliers?level=street&outcome_code=14",
            &national,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["level", "outcome_code"]);
    problem(
        app.get("/api/v1/reports/outliers?from=October", &national)
            .await,
        400,
    )
    .await;
    problem(
        app.get("/api/v1/reports/funnel.svg", &app.admin_token)
            .await,
        403,
    )
    .await;
}

/// The `export.completed` event of each download, in order. They follow the end
/// of each response, so this polls (for a few seconds at most) until all are in.
async fn completions(app: &TestApp, downloads: &[Value]) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let ends = app.events("action=export.completed").await;
        let found: Vec<Option<&Value>> = downloads
            .iter()
            .map(|d| {
                ends.iter()
                    .find(|e| e["details"]["downloaded_seq"] == d["seq"])
            })
            .collect();
        if found.iter().all(Option::is_some) {
            for (d, e) in downloads.iter().zip(&found) {
                let e = e.unwrap();
                assert_eq!(e["details"]["export"], d["details"]["export"]);
                assert_eq!(e["actor"], d["actor"]);
                assert_eq!(e["force_id"], d["force_id"]);
                assert!(e["seq"].as_i64() > d["seq"].as_i64());
            }
            return found.into_iter().map(|e| e.unwrap().clone()).collect();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no export.completed for some of {downloads:?}; have {ends:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// One kind of download: where, with which `Accept`, the export's name in its
/// events, one filter and the value its event records, how to count its rows.
struct Case {
    path: String,
    accept: &'static str,
    export: &'static str,
    filter: &'static str,
    value: Value,
    count: fn(&str) -> usize,
}

/// Every kind of download: its `export.downloaded` event (with its filters) is
/// in the database once the response headers have arrived, before any of the
/// body is read; its `export.completed` follows with the rows sent.
async fn every_download_is_on_record_before_its_first_byte(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, kent) = app.user("force_system", Some("kent"), None).await;
    let (_, essex) = app.user("force_system", Some("essex"), None).await;
    let (auditor_user, auditor) = app.user("auditor", Some("kent"), None).await;
    let (national_user, national) = app.user("auditor", None, None).await;
    for i in 0..3 {
        app.post_closure(&kent, &closure_body("kent", &format!("REC-K{i}")))
            .await;
    }
    app.post_closure(&essex, &closure_body("essex", "REC-E1"))
        .await;
    let m = chrono::Utc::now().format("%Y-%m").to_string();
    // Denominators, so that every unit is a point on the funnel plot.
    for (force, token) in [("kent", &kent), ("essex", &essex)] {
        let vol = json!({"force_id": force, "month": m, "offence_category": "domestic_abuse", "finalised_total": 20});
        let res = app
            .request(
                reqwest::Method::PUT,
                "/api/v1/volumes",
                Some(token),
                Some(&vol),
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
    }
    type Count = fn(&str) -> usize;
    let csv_rows: Count = |body| rows(body).len();
    let json_items: Count = |body| {
        serde_json::from_str::<Value>(body).unwrap()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let circles: Count = |body| {
        roxmltree::Document::parse(body)
            .unwrap()
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count()
    };
    let case = |path: String, accept, export, filter: &'static str, value, count| Case {
        path,
        accept,
        export,
        filter,
        value,
        count,
    };
    let cases = [
        case(
            "/api/v1/exports/closures.csv?division=North".into(),
            "*/*",
            "closures.csv",
            "division",
            json!("North"),
            csv_rows,
        ),
        case(
            "/api/v1/exports/audit.csv?action=closure.created".into(),
            "*/*",
            "audit.csv",
            "action",
            json!("closure.created"),
            csv_rows,
        ),
        case(
            format!("/api/v1/exports/trends.csv?from={m}&to={m}&group_by=force_id"),
            "*/*",
            "trends.csv",
            "group_by",
            json!(["force_id"]),
            csv_rows,
        ),
        case(
            format!("/api/v1/reports/outliers?from={m}&to={m}"),
            "application/json",
            "outliers.json",
            "from",
            json!(m),
            json_items,
        ),
        case(
            format!("/api/v1/reports/outliers?from={m}&to={m}&outcome_code=16"),
            "text/csv",
            "outliers.csv",
            "outcome_code",
            json!(16),
            csv_rows,
        ),
        case(
            format!("/api/v1/reports/funnel.svg?from={m}&to={m}&offence_category=domestic_abuse"),
            "*/*",
            "funnel.svg",
            "offence_category",
            json!("domestic_abuse"),
            circles,
        ),
    ];
    let mut expected_rows = Vec::new();
    for (token, user, force) in [
        (&national, &national_user, Value::Null),
        (&auditor, &auditor_user, json!("kent")),
    ] {
        for Case {
            path,
            accept,
            export,
            filter,
            value,
            count,
        } in &cases
        {
            let before = app.events("action=export.downloaded").await.len();
            let res = app
                .client
                .get(app.url(path))
                .bearer_auth(token)
                .header("accept", *accept)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 200, "{path}");
            // Headers in hand, body unread: the download is already on record,
            // as another client (the admin) reads it from the database.
            let downloads = app.events("action=export.downloaded").await;
            assert_eq!(
                downloads.len(),
                before + 1,
                "{path}: not on record before the body"
            );
            let d = downloads.last().unwrap();
            assert_eq!(d["details"]["export"], *export, "{path}");
            assert_eq!(d["details"]["filters"][*filter], *value, "{path}: {d}");
            assert_eq!(d["actor"]["user_id"], user["id"]);
            assert_eq!(d["force_id"], force, "{path}");
            let body = res.text().await.unwrap();
            let n = count(&body);
            let end = completions(&app, std::slice::from_ref(d)).await.remove(0);
            assert_eq!(end["details"]["rows"], n, "{path}: {end}");
            assert_eq!(end["details"]["completed"], true, "{path}: {end}");
            assert_eq!(end["details"]["downloaded_seq"], d["seq"]);
            expected_rows.push(n);
        }
    }
    // The national auditor's CSV holds every force, the force auditor's its own.
    assert_eq!(expected_rows[0], 4);
    assert_eq!(expected_rows[cases.len()], 3);
    assert!(expected_rows.iter().all(|n| *n > 0), "{expected_rows:?}");
    // One downloaded and one completed event per download, nothing more.
    assert_eq!(
        app.events("action=export.downloaded").await.len(),
        2 * cases.len()
    );
    assert_eq!(
        app.events("action=export.completed").await.len(),
        2 * cases.len()
    );
}

/// A client that goes away part way through a large export: the download is
/// on record, and its end says it did not complete.
async fn a_download_cut_short_is_recorded_as_incomplete(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, kent) = app.user("force_system", Some("kent"), None).await;
    let (_, national) = app.user("auditor", None, None).await;
    // About 5 KB a row and 3,000 rows: far more than the channel and the
    // sockets' buffers hold, so the export cannot finish unread.
    let long = "The victim withdrew support after a safeguarding visit; ".repeat(90);
    const BATCHES: usize = 3;
    for batch in 0..BATCHES {
        let items: Vec<Value> = (0..1000)
            .map(|i| {
                let mut c = closure_body("kent", &format!("BIG-{batch}-{i:04}"));
                c["rationale"] = json!(long);
                c
            })
            .collect();
        let res = app
            .post("/api/v1/closures/batch", &kent, &json!({"closures": items}))
            .await;
        assert_eq!(res.status().as_u16(), 200);
    }
    let total = BATCHES * 1000;

    // Read to the end, it completes.
    let (status, body, _) = csv(&app, "/api/v1/exports/closures.csv", &national).await;
    assert_eq!(status, 200);
    assert_eq!(rows(&body).len(), total);
    let whole = app.events("action=export.downloaded").await;
    assert_eq!(whole.len(), 1);
    let end = completions(&app, &whole).await.remove(0);
    assert_eq!(
        (&end["details"]["rows"], &end["details"]["completed"]),
        (&json!(total), &json!(true))
    );

    // Dropped after the first chunk: on record, and not completed.
    let mut res = app.get("/api/v1/exports/closures.csv", &national).await;
    assert_eq!(res.status().as_u16(), 200);
    let first = res.chunk().await.unwrap().expect("a first chunk");
    assert!(!first.is_empty());
    drop(res);
    let downloads = app.events("action=export.downloaded").await;
    assert_eq!(downloads.len(), 2);
    let end = completions(&app, &downloads[1..]).await.remove(0);
    assert_eq!(end["details"]["completed"], false, "{end}");
    let sent = end["details"]["rows"].as_u64().unwrap();
    assert!(sent < total as u64, "{end}");
}

/// When the `export.downloaded` event cannot be committed, the answer is the
/// error, not the data.
async fn no_download_without_its_event(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, kent) = app.user("force_system", Some("kent"), None).await;
    let (_, national) = app.user("auditor", None, None).await;
    app.post_closure(&kent, &closure_body("kent", "NOREC-1"))
        .await;
    app.refuse_consultation_events();
    for path in [
        "/api/v1/exports/closures.csv",
        "/api/v1/exports/audit.csv",
        "/api/v1/exports/trends.csv",
        "/api/v1/reports/outliers",
        "/api/v1/reports/funnel.svg",
    ] {
        let res = app.get(path, &national).await;
        let status = res.status().as_u16();
        assert!(status >= 500, "{path}: {status}");
        problem(res, status).await;
    }
    assert!(app.events("action=export.downloaded").await.is_empty());
    assert!(app.events("action=export.completed").await.is_empty());
}

/// Every trend row grouped by `group_by` (month and/or force: the groups the
/// trend summary answers) equals the closures as the list now shows them.
async fn assert_trends_match_the_closures(
    app: &TestApp,
    token: &str,
    group_by: &[&str],
    step: &str,
) {
    let list: Value = app
        .get("/api/v1/closures?limit=500", token)
        .await
        .json()
        .await
        .unwrap();
    let closures = list["items"].as_array().unwrap().clone();
    let key = |c: &Value| -> Vec<String> {
        group_by
            .iter()
            .map(|g| match *g {
                "month" => c["closure_proposed_at"].as_str().unwrap()[..7].to_string(),
                _ => c["force_id"].as_str().unwrap().to_string(),
            })
            .collect()
    };
    let mut want: BTreeMap<Vec<String>, Vec<&Value>> = BTreeMap::new();
    for c in &closures {
        want.entry(key(c)).or_default().push(c);
    }
    let path = format!(
        "/api/v1/exports/trends.csv?from=2026-08&to=2026-10&group_by={}",
        group_by.join(",")
    );
    let (status, body, _) = csv(app, &path, token).await;
    assert_eq!(status, 200, "{body}");
    let table = rows(&body);
    let got: Vec<Vec<String>> = table
        .iter()
        .map(|r| group_by.iter().map(|g| r[*g].clone()).collect())
        .collect();
    assert_eq!(
        got,
        want.keys().cloned().collect::<Vec<_>>(),
        "{step}: groups"
    );
    for row in &table {
        let k: Vec<String> = group_by.iter().map(|g| row[*g].clone()).collect();
        let mine = &want[&k];
        let count =
            |pred: &dyn Fn(&Value) -> bool| mine.iter().filter(|c| pred(c)).count().to_string();
        let status = |s: &'static str| move |c: &Value| c["status"] == s;
        for (col, n) in [
            ("closures", mine.len().to_string()),
            ("outcome_15", count(&|c| c["outcome_code"] == 15)),
            ("outcome_16", count(&|c| c["outcome_code"] == 16)),
            ("signed_off", count(&status("signed_off"))),
            ("rejected", count(&status("rejected"))),
            ("pending", count(&status("pending_signoff"))),
            ("reopened", count(&status("reopened"))),
            (
                "flagged",
                count(&|c| !c["review_flags"].as_array().unwrap().is_empty()),
            ),
        ] {
            assert_eq!(row[col], n, "{step}: {col} of {k:?}");
        }
        let at = |s: &Value| {
            chrono::DateTime::parse_from_rfc3339(s.as_str().unwrap())
                .unwrap()
                .timestamp_micros() as f64
        };
        let hours: Vec<f64> = mine
            .iter()
            .filter_map(|c| {
                c["decisions"]
                    .as_array()
                    .unwrap()
                    .last()
                    .map(|d| (at(&d["decided_at"]) - at(&c["received_at"])) / 3.6e9)
            })
            .collect();
        for (col, p) in [
            ("median_hours_to_decision", 0.5),
            ("p90_hours_to_decision", 0.9),
        ] {
            match pct(hours.clone(), p) {
                None => assert_eq!(row[col], "", "{step}: {col} of {k:?}"),
                Some(w) => {
                    let g: f64 = row[col].parse().unwrap();
                    assert!((g - w).abs() < 0.006, "{step}: {col} of {k:?}: {g} vs {w}");
                }
            }
        }
    }
}

/// The trend summary follows every change made after a first answer, on
/// either of two instances: new closures, decisions, reopenings and second
/// decisions (whose hours move) all show, exactly, in the next answer, for
/// every grouping the summary serves and for a force's own view.
async fn trends_stay_exact_through_posts_decisions_and_reopens(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.another_instance().await;
    let forces = ["kent", "essex"];
    let mut systems = BTreeMap::new();
    for f in forces {
        systems.insert(f, app.user("force_system", Some(f), None).await.1);
    }
    let (_, kent_insp) = app.officer("kent", "inspector", "11").await;
    let (_, essex_insp) = app.officer("essex", "inspector", "12").await;
    let (_, national) = app.user("auditor", None, None).await;
    let months = ["2026-08", "2026-09", "2026-10"];
    let groupings: [&[&str]; 4] = [
        &["month", "force_id"],
        &["force_id", "month"],
        &["month"],
        &["force_id"],
    ];
    let check = |step: &'static str| {
        let (app, national) = (&app, &national);
        async move {
            for g in groupings {
                assert_trends_match_the_closures(app, national, g, step).await;
            }
        }
    };
    let post = |i: usize| {
        let force = forces[i % 2];
        let mut c = closure_body(force, &format!("INC-{i}"));
        c["closure_proposed_at"] = json!(month(months[i % 3], 1 + (i % 27) as u32));
        c["crime_recorded_at"] = json!(month("2026-07", 1));
        c["outcome_code"] = json!(15 + (i % 2) as i64);
        if i.is_multiple_of(3) {
            c["evidence"]["victim_informed"] = json!(true);
        }
        (force, c)
    };
    let mut ids: Vec<(&str, String)> = Vec::new();
    for i in 0..12 {
        let (force, c) = post(i);
        let (status, body) = app.post_closure(&systems[force], &c).await;
        assert_eq!(status, 201, "{body}");
        ids.push((force, body["id"].as_str().unwrap().to_string()));
    }
    check("first answer").await;

    // More closures, through both instances.
    for i in 12..20 {
        let (force, c) = post(i);
        let inst = if i % 2 == 0 { &app } else { &other };
        let (status, body) = inst.post_closure(&systems[force], &c).await;
        assert_eq!(status, 201, "{body}");
        ids.push((force, body["id"].as_str().unwrap().to_string()));
    }
    check("after posts").await;

    let insp = |f: &str| if f == "kent" { &kent_insp } else { &essex_insp };
    for (n, (f, id)) in ids.iter().enumerate().take(10) {
        let d = if n % 3 == 0 { "reject" } else { "approve" };
        decide(if n % 2 == 0 { &app } else { &other }, insp(f), id, d, None).await;
    }
    check("after decisions").await;

    // Later decisions take longer: hours spread over buckets.
    tokio::time::sleep(std::time::Duration::from_millis(3_700)).await;
    for (f, id) in ids.iter().skip(10).take(4) {
        decide(&other, insp(f), id, "approve", None).await;
    }
    check("after later decisions").await;

    // Reopen some decided ones; decide two of them again (their latest
    // decision, so their hours, move).
    for (n, (f, id)) in ids.iter().enumerate().take(4) {
        let inst = if n % 2 == 0 { &other } else { &app };
        let res = inst
            .post(
                &format!("/api/v1/closures/{id}/reopen"),
                insp(f),
                &json!({"reason": "New evidence came to light after sign-off.", "expected_version": 2}),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
    }
    check("after reopens").await;
    tokio::time::sleep(std::time::Duration::from_millis(3_700)).await;
    for (f, id) in ids.iter().take(2) {
        decide(&app, insp(f), id, "reject", Some(3)).await;
    }
    check("after decisions again").await;

    // A force's own view is its rows of the national table.
    let (_, kent_auditor) = app.user("auditor", Some("kent"), None).await;
    let path = "/api/v1/exports/trends.csv?from=2026-08&to=2026-10&group_by=month,force_id";
    let all = rows(&csv(&app, path, &national).await.1);
    let own = rows(&csv(&app, path, &kent_auditor).await.1);
    let kent: Vec<_> = all
        .into_iter()
        .filter(|r| r["force_id"] == "kent")
        .collect();
    assert_eq!(own, kent);
}

async fn decide(inst: &TestApp, token: &str, id: &str, decision: &str, version: Option<i64>) {
    let mut body = json!({"decision": decision, "rationale": "Decided for the incremental trend test.", "checklist": full_checklist()});
    if let Some(v) = version {
        body["expected_version"] = json!(v);
    }
    let res = inst
        .post(&format!("/api/v1/closures/{id}/decision"), token, &body)
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

/// PostgreSQL's `COPY` reader (the export's): every row and field as sent,
/// and a reader that stops early, or fails part way, leaves the connection
/// ready for its next statement.
#[test]
fn copy_rows_reads_everything_and_leaves_the_connection_ready() {
    use closure_audit::db::copy_out::{copy_rows, param};
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(Backend::Postgres(url)) = Backend::postgres() else {
        return;
    };
    let mut c = PgConnection::establish(&url).unwrap();
    let query = "SELECT g::bigint, 'row ' || g || ' ''é''', CASE WHEN g % 2 = 0 THEN NULL ELSE g::bigint END, \
                 g % 3 = 0, decode('00ff', 'hex') FROM generate_series(1, 2000) g ORDER BY 1";
    let mut seen = Vec::new();
    let n = copy_rows(&mut c, query, &[], |r| {
        seen.push((
            r.i64(0)?,
            r.text(1)?.to_string(),
            r.opt_i64(2)?.is_some(),
            r.bool(3)?,
            r.bytes(4)?.to_vec(),
        ));
        Ok(true)
    })
    .unwrap();
    assert_eq!(n, 2000);
    assert_eq!(
        seen[0],
        (1, "row 1 'é'".to_string(), true, false, vec![0, 255])
    );
    assert_eq!(
        seen[2],
        (3, "row 3 'é'".to_string(), true, true, vec![0, 255])
    );
    assert!(!seen[1].2, "NULL read as NULL");
    assert!(seen.iter().enumerate().all(|(i, s)| s.0 == i as i64 + 1));
    // Text values are bound, whatever they hold.
    let value = "it's $1 \\ a value'); DROP TABLE x; --";
    let mut got = Vec::new();
    let bound = format!("SELECT {}, {}", param(1), param(2));
    copy_rows(&mut c, &bound, &[value, "é"], |r| {
        got.push((r.text(0)?.to_string(), r.text(1)?.to_string()));
        Ok(true)
    })
    .unwrap();
    assert_eq!(got, [(value.to_string(), "é".to_string())]);
    // Stopped after three rows: three handed on, the connection still usable.
    let n = copy_rows(&mut c, query, &[], |r| Ok(r.i64(0)? < 3)).unwrap();
    assert_eq!(n, 3);
    assert_eq!(diesel::sql_query("SELECT 1").execute(&mut c).unwrap(), 1);
    // A field read as the wrong type is an error, and the connection is still usable.
    assert!(copy_rows(&mut c, query, &[], |r| r.i32(0).map(|_| true)).is_err());
    assert_eq!(diesel::sql_query("SELECT 1").execute(&mut c).unwrap(), 1);
    // A COPY that PostgreSQL ends with an error part way is an error, not
    // the rows before it.
    let mut before = 0;
    let failed = copy_rows(
        &mut c,
        "SELECT 1 / (g - 1500) FROM generate_series(1, 2000) g",
        &[],
        |_| {
            before += 1;
            Ok(true)
        },
    );
    assert!(failed.is_err(), "{failed:?} after {before} rows");
    assert_eq!(diesel::sql_query("SELECT 1").execute(&mut c).unwrap(), 1);
    // A statement PostgreSQL refuses is an error, not a panic.
    assert!(
        copy_rows(&mut c, "SELECT no_such_column FROM pg_class", &[], |_| Ok(
            true
        ))
        .is_err()
    );
    assert_eq!(diesel::sql_query("SELECT 1").execute(&mut c).unwrap(), 1);
}
