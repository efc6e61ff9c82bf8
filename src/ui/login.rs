//! Signing in and out, and the start page. Signing in calls the API's use case
//! (the same users, throttling and `auth.login*` events); a refusal never says
//! whether the user exists.

use super::page::{Chrome, Issue, UiError, render, see_other, signs_off};
use super::session::{
    SESSION_COOKIE, SIGN_IN_COOKIE, SignedIn, check_csrf, clear_cookie, cookie, current,
    same_token, set_cookie,
};
use crate::domain::Role;
use crate::domain::users::{SignInDraft, validate_sign_in};
use crate::domain::validation::Given;
use crate::error::AppError;
use crate::service::Context;
use crate::service::sessions::{self, random_token};
use crate::telemetry::RequestId;
use actix_web::http::StatusCode;
use actix_web::http::header::SET_COOKIE;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    username: String,
    username_error: Option<String>,
    password_error: Option<String>,
    issues: Vec<Issue>,
    signed_out: bool,
}

/// The sign-in token lives ten minutes.
const SIGN_IN_SECONDS: u64 = 600;

fn login_page(
    req: &HttpRequest,
    status: StatusCode,
    username: String,
    issues: Vec<Issue>,
    signed_out: bool,
) -> HttpResponse {
    let csrf = random_token();
    let page = LoginPage {
        chrome: Chrome::new(
            if issues.is_empty() {
                "Sign in"
            } else {
                "Error: Sign in"
            },
            None,
            "/ui/login",
        ),
        csrf: csrf.clone(),
        username,
        username_error: issues
            .iter()
            .find(|i| i.id == "username")
            .map(|i| i.text.clone()),
        password_error: issues
            .iter()
            .find(|i| i.id == "password")
            .map(|i| i.text.clone()),
        issues,
        signed_out,
    };
    let mut res = render(req, status, page);
    if let Ok(v) = set_cookie(SIGN_IN_COOKIE, &csrf, SIGN_IN_SECONDS).parse() {
        res.headers_mut().append(SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub struct LoginQuery {
    signed_out: Option<String>,
}

/// `GET /ui/login`.
pub async fn show(req: HttpRequest, q: web::Query<LoginQuery>) -> Result<HttpResponse, UiError> {
    if current(&req).await?.is_some() {
        return Ok(see_other("/ui/"));
    }
    Ok(login_page(
        &req,
        StatusCode::OK,
        String::new(),
        Vec::new(),
        q.signed_out.is_some(),
    ))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /ui/login`.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<Context>,
    request_id: RequestId,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, UiError> {
    let form = form.into_inner();
    let expected = cookie(&req, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_token(&expected, &form.csrf_token) {
        return Err(UiError::Forged);
    }
    let draft = SignInDraft {
        username: Given::Value(form.username.clone()),
        password: Given::Value(form.password),
    };
    let (username, password) = match validate_sign_in(draft) {
        Ok(v) => v,
        Err(errors) => {
            let issues = errors
                .iter()
                .map(|e| Issue {
                    id: e.field.clone(),
                    text: match e.field.as_str() {
                        "username" => "Enter your username".to_string(),
                        "password" => "Enter your password".to_string(),
                        _ => e.message.clone(),
                    },
                })
                .collect();
            return Ok(login_page(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.username,
                issues,
                false,
            ));
        }
    };
    match sessions::open(&state, username, password, request_id.0).await {
        Ok(opened) => {
            let mut res = see_other("/ui/");
            let h = res.headers_mut();
            if let Ok(v) =
                set_cookie(SESSION_COOKIE, &opened.cookie_value, opened.max_age_seconds).parse()
            {
                h.append(SET_COOKIE, v);
            }
            if let Ok(v) = clear_cookie(SIGN_IN_COOKIE).parse() {
                h.append(SET_COOKIE, v);
            }
            Ok(res)
        }
        Err(AppError::Unauthorized(_)) => Ok(login_page(
            &req,
            StatusCode::UNAUTHORIZED,
            form.username,
            vec![Issue {
                id: "username".into(),
                text: "Enter a correct username and password".into(),
            }],
            false,
        )),
        Err(AppError::TooManyRequests {
            retry_after_secs, ..
        }) => Ok(login_page(
            &req,
            StatusCode::TOO_MANY_REQUESTS,
            form.username,
            vec![Issue {
                id: "username".into(),
                text: format!(
                    "Too many failed sign-ins for this username. Try again in {} minutes",
                    retry_after_secs.div_ceil(60)
                ),
            }],
            false,
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /ui/logout`: the session ends at once.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<Context>,
    SignedIn(session): SignedIn,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, UiError> {
    check_csrf(&session, &form.csrf_token)?;
    if let Some(value) = cookie(&req, SESSION_COOKIE) {
        sessions::close(&state, &value).await?;
    }
    let mut res = see_other("/ui/login?signed_out=1");
    if let Ok(v) = clear_cookie(SESSION_COOKIE).parse() {
        res.headers_mut().append(SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Template)]
#[template(path = "ui/home.html")]
struct HomePage {
    chrome: Chrome,
    role: String,
}

/// `GET /ui/`: inspectors go to their queue, auditors to the dashboard;
/// anyone else is told what the pages are for.
pub async fn home(req: HttpRequest) -> Result<HttpResponse, UiError> {
    let Some(session) = current(&req).await? else {
        return Ok(see_other("/ui/login"));
    };
    if signs_off(&session.user) {
        return Ok(see_other("/ui/queue"));
    }
    if session.user.role == Role::Auditor {
        return Ok(see_other("/ui/audit"));
    }
    let role = match (session.user.role, session.user.rank) {
        (Role::Officer, Some(rank)) => format!("an officer ({})", words(rank.as_str())),
        (role, _) => format!("a {} user", words(role.as_str())),
    };
    let page = HomePage {
        chrome: Chrome::new("Closure sign-off and audit", Some(&session), "/ui/"),
        role,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// A code as words: `chief_inspector` → "chief inspector".
pub fn words(code: &str) -> String {
    code.replace('_', " ")
}
