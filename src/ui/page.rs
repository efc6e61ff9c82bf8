//! What every page shares: the frame around it (title, who is signed in, the
//! navigation, the sign-out form), the error summary's entries, rendering
//! with a status, and the error pages (403, 404, …) in the same style.

use super::assets;
use crate::auth::AuthUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::service::sessions::Session;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use askama::Template;
use askama_web::WebTemplate;

/// One link of the service navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame of a page.
pub struct Chrome {
    /// Says where you are; the document title is this and the service's name.
    pub title: String,
    /// Who is signed in (their display name), if anyone.
    pub user: Option<String>,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub css: &'static str,
    pub app_css: &'static str,
    pub app_js: &'static str,
    pub htmx: &'static str,
    pub htmx_integrity: &'static str,
    pub favicon: &'static str,
}

/// Whether `user` is an officer who may sign off (inspector or above).
pub fn signs_off(user: &AuthUser) -> bool {
    user.role == Role::Officer && user.rank.is_some_and(|r| r.may_sign_off())
}

impl Chrome {
    pub fn new(title: impl Into<String>, session: Option<&Session>, here: &str) -> Chrome {
        let mut nav = Vec::new();
        if let Some(s) = session {
            if signs_off(&s.user) {
                nav.push(NavItem {
                    href: "/ui/queue",
                    label: "Awaiting sign-off",
                    current: here == "/ui/queue",
                });
            }
            if s.user.role == Role::Auditor {
                nav.push(NavItem {
                    href: "/ui/audit",
                    label: "Audit",
                    current: here == "/ui/audit",
                });
            }
        }
        Chrome {
            title: title.into(),
            user: session.map(|s| s.display_name.clone()),
            csrf: session.map(|s| s.csrf_token.clone()).unwrap_or_default(),
            nav,
            css: assets::GOVUK_CSS,
            app_css: assets::APP_CSS,
            app_js: assets::APP_JS,
            htmx: assets::HTMX_JS,
            htmx_integrity: assets::HTMX_INTEGRITY,
            favicon: assets::FAVICON,
        }
    }
}

/// One entry of a GOV.UK error summary: the field's id (its link) and what
/// to do.
#[derive(Debug, Clone)]
pub struct Issue {
    pub id: String,
    pub text: String,
}

/// The message for the field with `id`, when it has one.
pub fn issue_for<'a>(issues: &'a [Issue], id: &str) -> Option<&'a str> {
    issues.iter().find(|i| i.id == id).map(|i| i.text.as_str())
}

/// A page with `status`, rendered by askama_web's actix-web integration.
pub fn render(req: &HttpRequest, status: StatusCode, page: impl Template) -> HttpResponse {
    WebTemplate(page)
        .customize()
        .with_status(status)
        .respond_to(req)
        .map_into_boxed_body()
}

/// 303 See Other to `to` (after a form, or to sign in).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_string()))
        .finish()
}

/// Why a page cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No live session: sign in first.
    #[error("sign in first")]
    SignIn,
    /// A form without this session's CSRF token.
    #[error("the form was not sent from this session")]
    Forged,
    /// An unsafe request from another site.
    #[error("cross-site request refused")]
    CrossSite,
    #[error(transparent)]
    App(#[from] AppError),
    /// A refusal or failure while someone is signed in: the page keeps their
    /// frame (navigation, sign-out).
    #[error("{1}")]
    InSession(Box<Session>, AppError),
}

/// Errors of a signed-in person's page are shown in their frame.
pub fn in_session<T>(session: &Session, r: Result<T, UiError>) -> Result<T, UiError> {
    r.map_err(|e| match e {
        UiError::App(AppError::Unauthorized(_)) => e,
        UiError::App(a) => UiError::InSession(Box::new(session.clone()), a),
        other => other,
    })
}

impl UiError {
    pub fn internal(e: impl std::fmt::Display) -> UiError {
        UiError::App(AppError::internal(e))
    }
}

#[derive(Template)]
#[template(path = "ui/problem.html")]
struct ProblemPage {
    chrome: Chrome,
    heading: String,
    body: String,
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignIn => StatusCode::SEE_OTHER,
            UiError::Forged | UiError::CrossSite => StatusCode::FORBIDDEN,
            UiError::App(e) | UiError::InSession(_, e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (session, shown) = match self {
            UiError::InSession(s, e) => (Some(s.as_ref()), UiError::App(e.clone())),
            UiError::App(e) => (None, UiError::App(e.clone())),
            UiError::SignIn => (None, UiError::SignIn),
            UiError::Forged => (None, UiError::Forged),
            UiError::CrossSite => (None, UiError::CrossSite),
        };
        let (heading, body) = match &shown {
            UiError::InSession(..) => unreachable!("unwrapped above"),
            UiError::SignIn => return see_other("/ui/login"),
            UiError::Forged => (
                "This form has expired".to_string(),
                "The form was not sent from your current session. Go back, reload the page and try again.".to_string(),
            ),
            UiError::CrossSite => (
                "Request refused".to_string(),
                "Forms of this service can only be sent from its own pages.".to_string(),
            ),
            UiError::App(AppError::Unauthorized(_)) => return see_other("/ui/login"),
            UiError::App(AppError::Forbidden(rule)) => (
                "You cannot use this page".to_string(),
                format!("Refused: {}.", rule.text()),
            ),
            UiError::App(AppError::NotFound(_)) => (
                "Page not found".to_string(),
                "If you typed the web address, check it is correct. A closure of another force does not exist for you.".to_string(),
            ),
            UiError::App(AppError::Unavailable(_)) => (
                "Sorry, the service is unavailable".to_string(),
                "The database cannot be reached just now. Try again in a few minutes.".to_string(),
            ),
            UiError::App(e @ AppError::Internal(_)) => {
                tracing::error!(error = %e, "a page failed");
                (
                    "Sorry, there is a problem with the service".to_string(),
                    "Try again later. The problem has been logged.".to_string(),
                )
            }
            UiError::App(e) => ("There is a problem".to_string(), e.to_string()),
        };
        let page = ProblemPage {
            chrome: Chrome::new(heading.clone(), session, ""),
            heading,
            body,
        };
        let status = self.status_code();
        match page.render() {
            Ok(html) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(_) => HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body("Sorry, there is a problem with the service"),
        }
    }
}

/// The 404 page of any unknown path under `/ui`.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, UiError> {
    let missing = Err(UiError::App(AppError::NotFound("no such page".into())));
    match super::session::current(&req).await {
        Ok(Some(session)) => in_session(&session, missing),
        _ => missing,
    }
}
