//! `/api/v1/webhooks`: a force system's subscriptions to changes of its
//! force's closures, and what became of each delivery.

use super::drafts;
use super::params::{decode_cursor, encode_cursor, page_limit, path_id};
use super::problems::{self as p, PROBLEM_JSON};
use crate::auth::AuthUser;
use crate::domain::time::rfc3339;
use crate::error::{AppError, AppResult, Problem};
use crate::service::Context;
use crate::service::webhooks::{self, Delivery, Subscription};
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SubscriptionRequest {
    /// `https://` (or `http://` to a loopback address) on a host of
    /// `CLOSURE_AUDIT_WEBHOOK_ALLOWED_HOSTS`; at most 2,048 characters.
    #[schema(
        max_length = 2048,
        example = "https://rms.kent.police.uk/closure-audit/hooks"
    )]
    url: String,
    /// One or more of `closure.created`, `closure.approved`,
    /// `closure.rejected`, `closure.reopened`.
    #[schema(min_items = 1, example = json!(["closure.approved", "closure.rejected"]))]
    events: Vec<String>,
}

/// A subscription, without its secret.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    id: String,
    force_id: String,
    url: String,
    events: Vec<String>,
    created_at: String,
    /// `active`, or `paused` after a delivery failed for the whole retry window.
    status: String,
    paused_at: Option<String>,
    /// Why it was paused, in words.
    paused_reason: Option<String>,
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        SubscriptionView {
            id: s.id.clone(),
            force_id: s.force_id.clone(),
            url: s.url.clone(),
            events: s.events.iter().map(|e| e.as_str().to_string()).collect(),
            created_at: rfc3339(s.created_at),
            status: if s.paused_at.is_some() {
                "paused"
            } else {
                "active"
            }
            .into(),
            paused_at: s.paused_at.map(rfc3339),
            paused_reason: s.paused_reason.clone(),
        }
    }
}

/// A new subscription, with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    subscription: SubscriptionView,
    /// `whsec_` and the base64 of 32 random bytes (Standard Webhooks): the
    /// HMAC-SHA256 key of every delivery's `webhook-signature`.
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    items: Vec<SubscriptionView>,
    /// Always null: a force holds at most 20 subscriptions.
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` header, the same on every attempt.
    id: String,
    /// The event type.
    event: String,
    closure_id: String,
    created_at: String,
    /// `pending`, `delivered` or `failed`.
    status: String,
    attempts: i32,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    /// While pending: when it is next tried (its turn may wait for an earlier delivery).
    next_attempt_at: Option<String>,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        DeliveryView {
            id: d.id.clone(),
            event: d.event.clone(),
            closure_id: d.closure_id.clone(),
            created_at: rfc3339(d.created_at),
            status: d.status.clone(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    items: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// Page length, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

const NO_SUCH: &str = "no such webhook subscription";

/// Subscribe the caller's force system to changes of its force's closures.
/// Each delivery is a POST of `{"type", "timestamp", "data": <the closure>}`
/// signed as Standard Webhooks sign (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`,
/// keyed with the base64-decoded part of the secret after `whsec_`). A
/// delivery is retried on any answer but 2xx, or none within 10 s, from
/// `CLOSURE_AUDIT_WEBHOOK_RETRY_BASE_MS` doubling with jitter (at most an hour
/// apart) for `CLOSURE_AUDIT_WEBHOOK_RETRY_HOURS`; then it fails and the
/// subscription is paused. A subscription's deliveries are sent one at a time,
/// in the order their changes committed. Creating one is an audit event
/// (`webhook.created`).
#[utoipa::path(
    tag = "webhooks",
    request_body = SubscriptionRequest,
    responses(
        (status = 201, body = CreatedSubscription, headers(("Location" = String))),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 409, description = "The force holds 20 subscriptions already", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = p::PayloadTooLarge),
        (status = 415, response = p::UnsupportedMediaType),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<Context>,
    caller: AuthUser,
    body: web::Json<Value>,
) -> AppResult<HttpResponse> {
    let draft = drafts::subscription(&body).map_err(Into::into);
    let (sub, secret) = webhooks::create(&state, &caller, draft).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/api/v1/webhooks/{}", sub.id)))
        .json(CreatedSubscription {
            subscription: SubscriptionView::from(&sub),
            secret,
        }))
}

/// The caller's force's subscriptions, oldest first, without secrets.
#[utoipa::path(
    tag = "webhooks",
    responses(
        (status = 200, body = SubscriptionList),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<Context>,
    caller: AuthUser,
) -> AppResult<web::Json<SubscriptionList>> {
    let subs = webhooks::list(&state, &caller).await?;
    Ok(web::Json(SubscriptionList {
        items: subs.iter().map(SubscriptionView::from).collect(),
        next_cursor: None,
    }))
}

/// One subscription of the caller's force: whether it is paused, and why.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses(
        (status = 200, body = SubscriptionView),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "No such subscription, or another force's", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
) -> AppResult<web::Json<SubscriptionView>> {
    let id = path_id(id.into_inner(), NO_SUCH)?;
    let sub = webhooks::get(&state, &caller, id).await?;
    Ok(web::Json(SubscriptionView::from(&sub)))
}

/// Delete a subscription: nothing more is queued or sent for it. An audit
/// event (`webhook.deleted`).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "No such subscription, or another force's", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path_id(id.into_inner(), NO_SUCH)?;
    webhooks::delete(&state, &caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lift a pause: the deliveries that waited go out now, in order, each with a
/// new retry window. An audit event (`webhook.resumed`).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses(
        (status = 200, body = SubscriptionView),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "No such subscription, or another force's", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[post("/webhooks/{id}/resume")]
pub async fn resume_webhook(
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
) -> AppResult<web::Json<SubscriptionView>> {
    let id = path_id(id.into_inner(), NO_SUCH)?;
    let sub = webhooks::resume(&state, &caller, id).await?;
    Ok(web::Json(SubscriptionView::from(&sub)))
}

/// Replay one delivery (delivered or failed): it is queued again, due now,
/// with the same `webhook-id` and body, so a receiver that deduplicates on
/// `webhook-id` sees it once. An audit event (`webhook.redelivery_requested`).
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The subscription's id"),
        ("delivery_id" = String, Path, description = "The delivery's id (its webhook-id)"),
    ),
    responses(
        (status = 202, body = DeliveryView),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "No such subscription or delivery", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry_delivery(
    state: web::Data<Context>,
    caller: AuthUser,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (id, delivery_id) = path.into_inner();
    let id = path_id(id, NO_SUCH)?;
    let delivery_id = path_id(delivery_id, "no such delivery")?;
    let d = webhooks::redeliver(&state, &caller, id, delivery_id).await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::from(&d)))
}

/// What became of each delivery of a subscription, newest first.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id"), DeliveryQuery),
    responses(
        (status = 200, body = DeliveryPage),
        (status = 400, response = p::BadRequest),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "No such subscription, or another force's", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, response = p::UnprocessableEntity),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<Context>,
    caller: AuthUser,
    id: web::Path<String>,
    q: web::Query<DeliveryQuery>,
) -> AppResult<web::Json<DeliveryPage>> {
    let id = path_id(id.into_inner(), NO_SUCH)?;
    let s = &state.settings;
    let limit = page_limit(q.limit, s.page_limit_default, s.page_limit_max);
    let page = limit.clone().and_then(|limit| {
        let before = match q.cursor.as_deref() {
            None => None,
            Some(c) => Some(decode_cursor(c)?.parse::<i64>().map_err(|_| {
                AppError::BadRequest("the cursor is not one this service issued".into())
            })?),
        };
        Ok((before, limit + 1))
    });
    let mut rows = webhooks::deliveries(&state, &caller, id, page).await?;
    let limit = limit? as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok(web::Json(DeliveryPage {
        items: rows.iter().map(DeliveryView::from).collect(),
        next_cursor: more
            .then(|| rows.last().map(|r| encode_cursor(&r.seq.to_string())))
            .flatten(),
    }))
}
