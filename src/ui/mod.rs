//! The pages for people under `/ui/` (API.md, "Web interface"): server-rendered
//! HTML (askama templates in `templates/ui/`, checked at compile time) in the
//! GOV.UK Design System's look, working without JavaScript. A face like
//! `api/`: each handler parses the request, calls one use case in `service/`
//! and renders its answer; no rule is written here.
//!
//! - `session`: the cookie, CSRF tokens, the `Origin`/`Sec-Fetch-Site` guard
//!   and the security headers;
//! - `page`: the frame of every page, the error pages;
//! - `assets`: GOV.UK Frontend and htmx, compiled in;
//! - `words`: codes as people read them;
//! - one file per page: `login` (and the start page, sign-out), `queue`,
//!   `closure` (the closure page, deciding, reopening), `audit` (the
//!   auditor's dashboard and its downloads).

pub mod assets;
pub mod audit;
pub mod closure;
pub mod login;
pub mod page;
pub mod queue;
pub mod session;
pub mod words;

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};

/// Rationales run to 10,000 characters of any script: room for them.
const FORM_LIMIT: usize = 128 * 1024;

/// The `/ui` scope and `/`'s redirect to it.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| async { page::see_other("/ui/") as HttpResponse }),
    )
    .service(
        web::scope("/ui")
            .app_data(web::FormConfig::default().limit(FORM_LIMIT))
            .wrap(from_fn(session::guard))
            .route("", web::get().to(|| async { page::see_other("/ui/") }))
            .route("/", web::get().to(login::home))
            .route("/login", web::get().to(login::show))
            .route("/login", web::post().to(login::submit))
            .route("/logout", web::post().to(login::logout))
            .route("/queue", web::get().to(queue::show))
            .route("/audit", web::get().to(audit::show))
            .route("/audit/funnel.svg", web::get().to(audit::funnel))
            .route("/audit/closures.csv", web::get().to(audit::closures_csv))
            .route("/audit/trends.csv", web::get().to(audit::trends_csv))
            .route("/audit/audit.csv", web::get().to(audit::audit_csv))
            .route("/closures/{id}", web::get().to(closure::show))
            .route("/closures/{id}/decision", web::post().to(closure::decide))
            .route("/closures/{id}/reopen", web::post().to(closure::reopen))
            .route("/assets/{path:.*}", web::get().to(assets::asset))
            .default_service(web::to(page::not_found)),
    );
}
