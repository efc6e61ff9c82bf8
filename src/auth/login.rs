//! Signing in: throttling, constant-time refusal of unknown names, and the audit
//! events of both outcomes.

use super::password;
use crate::app::AppState;
use crate::audit::{self, Action, Actor, Event};
use crate::db::{login_failures, now_micros, users};
use crate::error::{AppError, AppResult};
use serde_json::json;

pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
}

/// Checks the password of `username` and issues a token, or says no in the same
/// words whatever the reason (unknown name, wrong password, deactivated user).
pub async fn login(
    state: &AppState,
    username: String,
    password: String,
    request_id: String,
) -> AppResult<Issued> {
    let window_us = state.settings.login_window_seconds as i64 * 1_000_000;
    let max = state.settings.login_max_failures as i64;
    let now = now_micros();

    let name = username.clone();
    let (failures, oldest, user) = state
        .db
        .read(move |c| {
            let (n, oldest) = login_failures::since(c, &name, now - window_us)?;
            let user = if n >= max {
                None
            } else {
                users::find_by_username(c, &name)?
            };
            Ok((n, oldest, user))
        })
        .await?;

    if failures >= max {
        let retry_after = ((oldest.unwrap_or(now) + window_us - now) as f64 / 1e6)
            .ceil()
            .max(1.0) as u64;
        record_failure(state, &username, "throttled", &request_id, false).await?;
        return Err(AppError::TooManyRequests {
            detail: format!(
                "too many failed logins for this user name; try again in {retry_after} seconds"
            ),
            retry_after_secs: retry_after,
        });
    }

    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let matches = state
        .hashers
        .run(move || password::verify(&password, &hash))
        .await?;

    match user {
        Some(u) if matches && u.active => {
            let token = state
                .keys
                .issue(&u.id, u.token_generation)
                .map_err(AppError::internal)?;
            let actor = super::AuthUser::from_row(&u, request_id.clone())?.actor();
            let name = username.clone();
            state
                .db
                .write(move |c| {
                    login_failures::clear(c, &name, now - window_us)?;
                    let ev = Event::new(
                        Action::AuthLogin,
                        &actor,
                        Some(&request_id),
                        json!({"username": name}),
                    );
                    audit::append(c, ev.force(actor.force_id.as_deref()))
                })
                .await?;
            Ok(Issued {
                access_token: token,
                expires_in: state.keys.ttl_seconds,
            })
        }
        other => {
            let reason = match other {
                None => "unknown_user",
                Some(u) if !u.active => "deactivated",
                Some(_) => "wrong_password",
            };
            record_failure(state, &username, reason, &request_id, true).await?;
            Err(AppError::Unauthorized("wrong user name or password".into()))
        }
    }
}

async fn record_failure(
    state: &AppState,
    username: &str,
    reason: &str,
    request_id: &str,
    counts: bool,
) -> AppResult<()> {
    let (name, reason, request_id) = (
        username.to_string(),
        reason.to_string(),
        request_id.to_string(),
    );
    state
        .db
        .write(move |c| {
            if counts {
                login_failures::record(c, &name, now_micros())?;
            }
            let actor = Actor::anonymous(&name);
            let ev = Event::new(
                Action::AuthLoginFailed,
                &actor,
                Some(&request_id),
                json!({"username": name, "reason": reason}),
            );
            audit::append(c, ev)?;
            Ok(())
        })
        .await
}
