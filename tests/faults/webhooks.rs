//! The outbox across a crash: a decision committed by an instance that is then
//! killed with SIGKILL before delivering is delivered by the next start.

use crate::common::{Backend, PgDatabase, closure_body, full_checklist};
use crate::receiver::Receiver;
use crate::server::Service;
use serde_json::json;
use std::time::Duration;

pub async fn sigkill_before_delivery_delivers_after_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let pg = match &backend {
        Backend::Sqlite => None,
        Backend::Postgres(server) => Some(PgDatabase::create(server)),
    };
    let url = match &pg {
        None => format!("sqlite://{}/closure-audit.db", dir.path().display()),
        Some(db) => db.url.clone(),
    };
    let rx = Receiver::start().await;
    let hooks = [
        ("CLOSURE_AUDIT_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
        ("CLOSURE_AUDIT_WEBHOOK_RETRY_BASE_MS", "100"),
        ("CLOSURE_AUDIT_WEBHOOK_POLL_MS", "50"),
    ];
    // The first instance runs no delivery worker: what it commits can only be
    // delivered by whoever starts next.
    let mut first_settings = hooks.to_vec();
    first_settings.push(("CLOSURE_AUDIT_WEBHOOK_DELIVERY", "false"));
    let mut svc = Service::start(dir.path(), &url, "first", &first_settings).await;
    let admin = svc.admin_token().await;
    let sys = svc.user(&admin, "force_system", Some("kent")).await;
    let reply = svc
        .post(
            "/api/v1/users",
            &admin,
            &json!({"username": "insp-wh", "password": crate::common::PASSWORD,
                    "display_name": "Inspector", "role": "officer", "rank": "inspector",
                    "officer_id": "2210", "force_id": "kent"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let inspector = svc.login("insp-wh", crate::common::PASSWORD).await;
    let sub = svc
        .post(
            "/api/v1/webhooks",
            &sys,
            &json!({"url": rx.url("/hooks"), "events": ["closure.approved"]}),
        )
        .await;
    assert_eq!(sub.status, 201, "{}", sub.body);
    let secret = sub.body["secret"].as_str().unwrap().to_string();
    let sub_id = sub.body["id"].as_str().unwrap().to_string();
    let posted = svc
        .post(
            "/api/v1/closures",
            &sys,
            &closure_body("kent", "NICHE-KILL-0001"),
        )
        .await;
    assert_eq!(posted.status, 201);
    let id = posted.body["id"].as_str().unwrap().to_string();
    let decided = svc
        .post(
            &format!("/api/v1/closures/{id}/decision"),
            &inspector,
            &json!({"decision": "approve", "rationale": "Evidence-led prosecution considered; not viable.",
                    "checklist": full_checklist()}),
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let queued = svc
        .get(&format!("/api/v1/webhooks/{sub_id}/deliveries"), &sys)
        .await;
    assert_eq!(queued.body["items"][0]["status"], "pending");
    assert_eq!(queued.body["items"][0]["attempts"], 0);
    svc.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rx.received().is_empty(),
        "nothing delivered before the kill"
    );

    let svc = Service::start(dir.path(), &url, "second", &hooks).await;
    let got = rx.wait_for(1, Duration::from_secs(20), |_| true).await;
    assert_eq!(got[0].event(), "closure.approved");
    assert_eq!(got[0].json()["data"]["id"], id.as_str());
    assert!(got[0].signed_with(&secret));
    assert_eq!(got[0].id(), queued.body["items"][0]["id"].as_str().unwrap());
    drop(svc);
    drop(pg);
}
