//! `/log`: the log as a C2SP tlog-tiles v0.1.0 log, for standard
//! transparency-log clients and witnesses (`<base URL>/log` is its prefix).

use super::problems::{self as p, PROBLEM_JSON};
use crate::audit::tiles::{TilePath, Width};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, Problem};
use crate::service::Context;
use crate::service::tlog as service;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};

/// The latest checkpoint changes with every round: a client may keep it this long.
const CHECKPOINT_CACHE: &str = "no-cache, max-age=2";
/// A full tile never changes.
const FULL_TILE_CACHE: &str = "public, max-age=31536000, immutable";
/// A partial tile never changes either, but a client should move on to the full one.
const PARTIAL_TILE_CACHE: &str = "public, max-age=60";

/// The latest checkpoint as a C2SP signed note (tlog-checkpoint v1.0.0), with
/// the log's signature.
#[utoipa::path(
    tag = "log",
    responses(
        (status = 200, description = "The signed note", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "No checkpoint has been signed yet", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security((), ("bearer" = []))
)]
#[get("/log/checkpoint")]
pub async fn checkpoint(
    state: web::Data<Context>,
    caller: Option<AuthUser>,
) -> AppResult<HttpResponse> {
    let note = service::checkpoint(&state, caller.as_ref())
        .await?
        .ok_or_else(|| AppError::NotFound("no checkpoint has been signed yet".into()))?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((CACHE_CONTROL, CHECKPOINT_CACHE))
        .body(note))
}

/// A hash tile (`tile/<L>/<N>[.p/<W>]`) or an entry bundle
/// (`tile/entries/<N>[.p/<W>]`), as tlog-tiles defines them. Hash tiles are
/// public unless `CLOSURE_AUDIT_LOG_PUBLIC=false`; entry bundles hold the
/// events and need a national auditor's token.
#[utoipa::path(
    tag = "log",
    params(("path" = String, Path, description = "The rest of the tile path after `tile/`, e.g. `0/x001/234.p/7` or `entries/000`")),
    responses(
        (status = 200, description = "The tile's bytes", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 401, response = p::Unauthorized),
        (status = 403, response = p::Forbidden),
        (status = 404, description = "Not a tile path, or a tile beyond the published tree", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security((), ("bearer" = []))
)]
#[get("/log/tile/{path:.*}")]
pub async fn tile(
    state: web::Data<Context>,
    caller: Option<AuthUser>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let full = format!("tile/{}", path.into_inner());
    let not_found = || AppError::NotFound(format!("no tile /log/{full}"));
    let tile = TilePath::parse(&full).ok_or_else(not_found)?;
    let (bytes, width) = match tile {
        TilePath::Hashes {
            level,
            index,
            width,
        } => (
            service::hash_tile(&state, caller.as_ref(), level, index, width).await?,
            width,
        ),
        TilePath::Entries { index, width } => (
            service::entry_bundle(&state, caller.as_ref(), index, width).await?,
            width,
        ),
    };
    let bytes = bytes.ok_or_else(not_found)?;
    let cache = match (tile, width) {
        (TilePath::Hashes { .. }, Width::Full) => FULL_TILE_CACHE,
        (TilePath::Hashes { .. }, Width::Partial(_)) => PARTIAL_TILE_CACHE,
        // Entry bundles hold personal data: never in a shared cache.
        (TilePath::Entries { .. }, _) => "private, no-store",
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/octet-stream"))
        .insert_header((CACHE_CONTROL, cache))
        .body(bytes))
}
