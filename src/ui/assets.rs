//! The pages' static files, compiled into the binary from `assets/` (see
//! `assets/README.md`): GOV.UK Frontend, htmx, and the pages' own script and
//! styles. Every path names its version, so each is served as immutable.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use std::sync::OnceLock;

pub const GOVUK_VERSION: &str = "5.14.0";
pub const HTMX_VERSION: &str = "2.0.11";

/// htmx as `<script integrity>` names it (SHA-384, base64); checked against
/// the bytes served by a unit test below.
pub const HTMX_INTEGRITY: &str =
    "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg";

pub const GOVUK_CSS: &str = "/ui/assets/govuk-frontend-5.14.0/govuk-frontend.min.css";
pub const HTMX_JS: &str = "/ui/assets/htmx-2.0.11/htmx.min.js";
pub const APP_JS: &str = "/ui/assets/app-1.mjs";
pub const APP_CSS: &str = "/ui/assets/app-1.css";
pub const FAVICON: &str = "/ui/assets/govuk-frontend-5.14.0/assets/images/favicon.ico";

const CSS_RAW: &str = include_str!("../../assets/govuk-frontend-5.14.0/govuk-frontend.min.css");
const HTMX: &[u8] = include_bytes!("../../assets/htmx-2.0.11/htmx.min.js");

/// (path under `/ui/assets/`, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "govuk-frontend-5.14.0/govuk-frontend.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/govuk-frontend-5.14.0/govuk-frontend.min.js"),
    ),
    (
        "govuk-frontend-5.14.0/assets/fonts/bold-affa96571d-v2.woff",
        "font/woff",
        include_bytes!("../../assets/govuk-frontend-5.14.0/assets/fonts/bold-affa96571d-v2.woff"),
    ),
    (
        "govuk-frontend-5.14.0/assets/fonts/bold-b542beb274-v2.woff2",
        "font/woff2",
        include_bytes!("../../assets/govuk-frontend-5.14.0/assets/fonts/bold-b542beb274-v2.woff2"),
    ),
    (
        "govuk-frontend-5.14.0/assets/fonts/light-94a07e06a1-v2.woff2",
        "font/woff2",
        include_bytes!("../../assets/govuk-frontend-5.14.0/assets/fonts/light-94a07e06a1-v2.woff2"),
    ),
    (
        "govuk-frontend-5.14.0/assets/fonts/light-f591b13f7d-v2.woff",
        "font/woff",
        include_bytes!("../../assets/govuk-frontend-5.14.0/assets/fonts/light-f591b13f7d-v2.woff"),
    ),
    (
        "govuk-frontend-5.14.0/assets/images/govuk-crest.svg",
        "image/svg+xml",
        include_bytes!("../../assets/govuk-frontend-5.14.0/assets/images/govuk-crest.svg"),
    ),
    (
        "govuk-frontend-5.14.0/assets/images/favicon.ico",
        "image/x-icon",
        include_bytes!("../../assets/govuk-frontend-5.14.0/assets/images/favicon.ico"),
    ),
    (
        "govuk-frontend-5.14.0/assets/images/favicon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/govuk-frontend-5.14.0/assets/images/favicon.svg"),
    ),
    (
        "govuk-frontend-5.14.0/LICENCE",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/govuk-frontend-5.14.0/LICENCE"),
    ),
    (
        "htmx-2.0.11/htmx.min.js",
        "text/javascript; charset=utf-8",
        HTMX,
    ),
    (
        "htmx-2.0.11/LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/htmx-2.0.11/LICENSE"),
    ),
    (
        "app-1.mjs",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/app.mjs"),
    ),
    (
        "app-1.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ui/app.css"),
    ),
];

/// GOV.UK Frontend's CSS names its fonts and images at `/assets/…`; here they
/// are beside it, under its versioned folder.
fn govuk_css() -> &'static str {
    static CSS: OnceLock<String> = OnceLock::new();
    CSS.get_or_init(|| {
        CSS_RAW.replace(
            "url(/assets/",
            "url(/ui/assets/govuk-frontend-5.14.0/assets/",
        )
    })
}

fn immutable(content_type: &str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type.to_string()))
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(body)
}

/// `GET /ui/assets/{path}`.
pub async fn asset(path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    if path == "govuk-frontend-5.14.0/govuk-frontend.min.css" {
        return immutable("text/css; charset=utf-8", govuk_css().as_bytes());
    }
    match FILES.iter().find(|(p, _, _)| *p == path) {
        Some((_, ty, bytes)) => immutable(ty, bytes),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::{Digest, Sha384};

    #[test]
    fn htmx_is_the_pinned_file() {
        let digest = Sha384::digest(HTMX);
        let sri = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert_eq!(sri, HTMX_INTEGRITY);
        assert!(HTMX_JS.contains(HTMX_VERSION));
        let head = std::str::from_utf8(&HTMX[..HTMX.len().min(4096)]).unwrap_or("");
        assert!(head.contains("version:\"2.0"), "htmx 2.0.x");
    }

    #[test]
    fn every_path_is_versioned_and_the_css_points_at_its_files() {
        assert!(GOVUK_CSS.contains(GOVUK_VERSION));
        let css = govuk_css();
        assert!(!css.contains("url(/assets/"));
        for font in ["bold-b542beb274-v2.woff2", "light-94a07e06a1-v2.woff2"] {
            let path = format!("govuk-frontend-5.14.0/assets/fonts/{font}");
            assert!(css.contains(&format!("/ui/assets/{path}")), "{font}");
            assert!(FILES.iter().any(|(p, _, _)| *p == path));
        }
    }
}
