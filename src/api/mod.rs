//! The HTTP API: one file per resource with thin handlers, and the route table.
//!
//! Routes are registered through `utoipa-actix-web`, so the OpenAPI document is
//! built from the same table that serves requests and cannot drift from it.

pub mod audit;
pub mod auth;
pub mod body;
pub mod closure_requests;
pub mod closures;
pub mod drafts;
pub mod exports;
pub mod forces;
pub mod ops;
pub mod params;
pub mod problems;
pub mod receipts;
pub mod reports;
pub mod schemas;
pub mod signoff;
pub mod tlog;
pub mod users;
pub mod views;
pub mod volumes;
pub mod webhooks;

use crate::error::{AppError, Problem};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::service_config::ServiceConfig;

/// Every `/api/v1` route.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/api/v1")
            .service(ops::openapi_json)
            .service(auth::login)
            .service(auth::me)
            .service(users::create_user)
            .service(users::list_users)
            .service(users::get_user)
            .service(users::patch_user)
            .service(forces::list_forces)
            .service(closures::create_batch)
            .service(closures::create_closure)
            .service(closures::list_closures)
            .service(closures::get_closure)
            .service(receipts::receipt)
            .service(closures::get_case)
            .service(signoff::decide)
            .service(signoff::reopen)
            .service(volumes::put_volume)
            .service(audit::list_events)
            .service(audit::checkpoint)
            .service(audit::list_witnesses)
            .service(audit::public_key)
            .service(audit::inclusion_proof)
            .service(audit::consistency_proof)
            .service(audit::verify_log)
            .service(exports::closures_csv)
            .service(exports::audit_csv)
            .service(exports::trends_csv)
            .service(reports::outlier_report)
            .service(reports::funnel)
            .service(webhooks::create_webhook)
            .service(webhooks::list_webhooks)
            .service(webhooks::get_webhook)
            .service(webhooks::delete_webhook)
            .service(webhooks::resume_webhook)
            .service(webhooks::list_deliveries)
            .service(webhooks::retry_delivery),
    );
    cfg.service(tlog::checkpoint).service(tlog::tile);
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics);
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "closure-audit",
        description = "Inspector sign-off and tamper-evident audit of VAWG crime closures under \
            outcome codes 15 and 16 (HMICFRS recommendations 4.5, 5.1, 5.2). Every error is \
            application/problem+json (RFC 9457); a 422 lists every failing field in `errors`. \
            Every response carries `X-Request-Id`, also stored on the audit events the request \
            causes: the client's own when it is 1 to 64 characters of `[A-Za-z0-9._:-]`, else \
            a generated one (an unfit id is replaced, not refused).",
        version = "1"
    ),
    modifiers(&BearerAuth, &ProblemCodes),
    components(
        schemas(Problem, schemas::FieldErrorSchema),
        responses(
            problems::BadRequest,
            problems::Unauthorized,
            problems::Forbidden,
            problems::NotFound,
            problems::Conflict,
            problems::PayloadTooLarge,
            problems::UnsupportedMediaType,
            problems::UnprocessableEntity,
            problems::TooManyRequests,
            problems::ServiceUnavailable,
        )
    ),
    tags(
        (name = "auth", description = "Sign-in and the caller"),
        (name = "users", description = "Accounts (admin)"),
        (name = "forces", description = "The 44 forces"),
        (name = "closures", description = "Closures under outcomes 15 and 16"),
        (name = "sign-off", description = "Inspector decisions"),
        (name = "volumes", description = "Monthly finalised totals (denominators)"),
        (name = "audit", description = "The audit log"),
        (name = "exports", description = "Streamed CSV for auditors"),
        (name = "reports", description = "Outliers and the funnel plot"),
        (name = "webhooks", description = "Notifications for force systems (Standard Webhooks)"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The codes of refusals: the problem `type` of a 403 ends in its rule's code,
/// of a 409 in its clash's; each of a 422's `errors[]` has its field rule's `code`.
struct ProblemCodes;

impl Modify for ProblemCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use crate::domain::FieldRule;
        use crate::domain::authorize::Rule;
        use crate::domain::conflicts::Clash;
        let list = |codes: Vec<(&str, &str)>| {
            codes
                .iter()
                .map(|(code, meaning)| format!("- `{code}`: {meaning}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let forbidden = list(Rule::ALL.iter().map(|r| (r.code(), r.text())).collect());
        let conflict = list(Clash::ALL.iter().map(|c| (c.code(), c.meaning())).collect());
        let fields = list(
            FieldRule::ALL
                .iter()
                .map(|r| (r.code(), r.meaning()))
                .collect(),
        );
        let type_is = "The problem `type` is `urn:closure-audit:problem:` and the code";
        append(
            openapi,
            "Forbidden",
            format!("{type_is} of the rule that refuses:\n\n{forbidden}"),
        );
        append(
            openapi,
            "Conflict",
            format!("{type_is} of what the current state forbids:\n\n{conflict}"),
        );
        append(
            openapi,
            "UnprocessableEntity",
            format!(
                "Each of `errors[]` names its `field` and the `code` of the rule it breaks:\n\n{fields}"
            ),
        );
    }
}

/// Adds a paragraph to a shared response's description.
fn append(openapi: &mut utoipa::openapi::OpenApi, response: &str, text: String) {
    use utoipa::openapi::RefOr;
    if let Some(RefOr::T(r)) = openapi
        .components
        .as_mut()
        .and_then(|c| c.responses.get_mut(response))
    {
        r.description = format!("{}\n\n{text}", r.description);
    }
}

/// How a body that cannot be read as JSON is answered: 413, 415 or 400.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let e = match &err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => AppError::PayloadTooLarge(format!(
            "the body is larger than the limit of {limit} bytes"
        )),
        JsonPayloadError::ContentType => AppError::UnsupportedMediaType(
            "the body must be sent as Content-Type: application/json".into(),
        ),
        JsonPayloadError::Deserialize(e) => {
            AppError::BadRequest(format!("the body is not valid JSON: {e}"))
        }
        other => AppError::BadRequest(format!("the body could not be read: {other}")),
    };
    e.into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    AppError::BadRequest(format!("a query parameter cannot be parsed: {err}")).into()
}

pub fn path_error(_err: PathError, req: &HttpRequest) -> actix_web::Error {
    AppError::NotFound(format!("no resource at {}", req.path())).into()
}

/// Extractor settings: body limits and problem+json for every extractor failure.
pub fn extractor_config(
    max_body_bytes: usize,
) -> (web::JsonConfig, web::QueryConfig, web::PathConfig) {
    (
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(json_error),
        web::QueryConfig::default().error_handler(query_error),
        web::PathConfig::default().error_handler(path_error),
    )
}

/// Anything no route matches.
pub async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// Reads a JSON body of up to `limit` bytes straight from the payload, for a
/// route whose limit differs from the default (the batch). Answers as the
/// JSON extractor does: 415, 413 or 400.
pub async fn read_json(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<serde_json::Value, AppError> {
    use actix_web::HttpMessage;
    use futures_util::StreamExt;
    let is_json = matches!(req.mime_type(), Ok(Some(m)) if m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
    if !is_json {
        return Err(AppError::UnsupportedMediaType(
            "the body must be sent as Content-Type: application/json".into(),
        ));
    }
    let too_large = || {
        AppError::PayloadTooLarge(format!(
            "the body is larger than the limit of {limit} bytes"
        ))
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("the body is not valid JSON: {e}")))
}
