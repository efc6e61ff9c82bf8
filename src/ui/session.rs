//! The pages' session cookie and the guards of every form: the CSRF token of
//! the session (or, on the sign-in form, of a short-lived sign-in cookie), and
//! an `Origin` / `Sec-Fetch-Site` check on every unsafe method.
//!
//! The cookie is `__Host-` prefixed, `HttpOnly`, `Secure`, `SameSite=Strict`,
//! `Path=/`; `/api/v1` never reads it (its extractor takes a bearer token
//! only).

use super::page::UiError;
use crate::service::Context;
use crate::service::sessions::{self, Session};
use crate::telemetry::RequestId;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

pub const SESSION_COOKIE: &str = "__Host-closure_audit_session";
/// Carries the sign-in form's CSRF token before there is a session.
pub const SIGN_IN_COOKIE: &str = "__Host-closure_audit_sign_in";

/// The value of cookie `name` in the request, if sent.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value with every attribute the contract asks for.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: u64) -> String {
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}")
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// The session of the request, if it has a live one.
pub async fn current(req: &HttpRequest) -> Result<Option<Session>, UiError> {
    let state = req
        .app_data::<web::Data<Context>>()
        .cloned()
        .ok_or_else(|| UiError::internal("application state missing"))?;
    let Some(value) = cookie(req, SESSION_COOKIE).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    Ok(sessions::find(&state, &value, request_id(req)).await?)
}

/// A signed-in person; without a live session the page sends them to sign in.
pub struct SignedIn(pub Session);

impl FromRequest for SignedIn {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match current(&req).await? {
                Some(s) => Ok(SignedIn(s)),
                None => Err(UiError::SignIn),
            }
        })
    }
}

/// Equal in constant time (for tokens).
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The form's `csrf_token` must be the session's.
pub fn check_csrf(session: &Session, given: &str) -> Result<(), UiError> {
    if !given.is_empty() && same_token(&session.csrf_token, given) {
        Ok(())
    } else {
        Err(UiError::Forged)
    }
}

/// Whether an unsafe request comes from this site's own pages: a
/// `Sec-Fetch-Site` other than `same-origin`, or an `Origin` other than the
/// request's own host, is refused. (Clients that send neither, which no
/// browser is, still need the form's CSRF token.)
pub fn same_origin(req: &ServiceRequest) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site")
        && site.as_bytes() != b"same-origin"
    {
        return false;
    }
    if let Some(origin) = h.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let host = h
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        if authority != Some(host) || host.is_empty() {
            return false;
        }
    }
    true
}

/// Middleware of `/ui`: refuses a cross-site unsafe request before any handler
/// runs, and puts the security headers on every answer.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut res = if unsafe_method && !same_origin(&req) {
        let (r, _) = req.into_parts();
        let res = actix_web::ResponseError::error_response(&UiError::CrossSite);
        ServiceResponse::new(r, res).map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages hold personal data: not kept by the browser or a proxy.
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let c = set_cookie(SESSION_COOKIE, "abc", 60);
        for a in [
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=60",
        ] {
            assert!(c.contains(a), "{a}");
        }
        assert!(!c.contains("Domain"));
        assert!(c.starts_with("__Host-"));
    }

    #[test]
    fn tokens_compare() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }
}
