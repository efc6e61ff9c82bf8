//! Health, readiness and metrics.

use super::problems::{self as p};
use crate::error::AppResult;
use crate::service::Context;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

/// The OpenAPI document, rendered once at start and served as it is.
pub struct OpenApiText(pub String);

#[derive(Serialize, ToSchema)]
pub struct Status {
    status: &'static str,
}

/// 200 while the process runs.
#[utoipa::path(tag = "operations", responses((status = 200, body = Status)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Status> {
    web::Json(Status { status: "ok" })
}

/// 200 when the database answers, else 503.
#[utoipa::path(tag = "operations", responses(
        (status = 200, body = Status),
        (status = 503, response = p::ServiceUnavailable),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<Context>) -> AppResult<web::Json<Status>> {
    crate::service::health::ready(&state).await?;
    Ok(web::Json(Status { status: "ready" }))
}

/// Prometheus text: requests by route and status, latency histogram, throttled
/// logins (`closure_audit_login_throttled_total`).
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<Context>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

/// This document: OpenAPI 3.1, generated from the route table. No token needed.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "application/json", body = Object)))]
#[get("/openapi.json")]
pub async fn openapi_json(doc: web::Data<OpenApiText>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}
