//! Signing in: throttling, constant-time refusal of unknown names, and the audit
//! events of both outcomes.

use super::Context;
use crate::audit::{self, Action, Actor, Event};
use crate::auth::password;
use crate::db::{Conn, login_failures, now_micros, users};
use crate::error::{AppError, AppResult};
use serde_json::json;

pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
}

/// Checks the password of `username` and issues a token, or says no in the same
/// words whatever the reason (unknown name, wrong password, deactivated user).
///
/// Throttling is atomic: an attempt reserves its place among the user name's
/// failures (counting and inserting in one transaction, under a lock per user
/// name) before its password is checked, so however many attempts arrive at
/// once, at most `login_max_failures` passwords are checked per window. A
/// throttled attempt writes no event of its own: one `auth.login_throttled`
/// event per user name and window records that throttling began, and every
/// refusal is counted in `/metrics`.
pub async fn login(
    state: &Context,
    username: String,
    password: String,
    request_id: String,
) -> AppResult<Issued> {
    let keys = state.keys.clone();
    let access_token = sign_in(state, username, password, request_id, "api", move |_, u| {
        keys.issue(&u.id, u.token_generation)
            .map_err(AppError::internal)
    })
    .await?;
    Ok(Issued {
        access_token,
        expires_in: state.keys.ttl_seconds,
    })
}

/// What [`login`] does for any face: checks the password of `username` with
/// the same throttling and events, and on success runs `start` (which issues
/// what the face hands out: a token, a session) in the transaction that
/// clears the failures and writes the `auth.login` event. `via` names the
/// face on that event.
pub async fn sign_in<T, F>(
    state: &Context,
    username: String,
    password: String,
    request_id: String,
    via: &'static str,
    start: F,
) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn, &users::UserRow) -> AppResult<T> + Send + 'static,
{
    let window_us = state.settings.login_window_seconds as i64 * 1_000_000;
    let max = state.settings.login_max_failures as i64;

    // A user name that is throttled, with its throttling already on record, is
    // refused from a read: a flood of refused attempts does not queue for the
    // writer. (Anything else goes on to the transaction, which decides again.)
    let name = username.clone();
    let known = state
        .db
        .read(move |c| {
            let now = now_micros();
            let n = login_failures::count_since(c, &name, now - window_us)?;
            if n >= max && login_failures::throttle_recorded_since(c, &name, now - window_us)? {
                Ok(Some(retry_after(c, &name, now, window_us, n, max)?))
            } else {
                Ok(None)
            }
        })
        .await?;
    if let Some(secs) = known {
        return Err(throttled(state, secs));
    }

    let name = username.clone();
    let actor = Actor::anonymous(&username);
    let rid = request_id.clone();
    let gate = state
        .db
        .write(move |c| {
            login_failures::lock(c, &name)?;
            let now = now_micros();
            let n = login_failures::count_since(c, &name, now - window_us)?;
            if n >= max {
                let secs = retry_after(c, &name, now, window_us, n, max)?;
                if login_failures::begin_throttle(c, &name, now, now - window_us)? {
                    let ev = Event::new(
                        Action::AuthLoginThrottled,
                        &actor,
                        Some(&rid),
                        json!({"username": name, "failures": n, "retry_after_seconds": secs}),
                    );
                    audit::append(c, ev)?;
                }
                return Ok(Gate::Throttled(secs));
            }
            // The reservation: from here this attempt counts as a failure; it is
            // removed again if the password is right (or cannot be checked). A
            // crash, losing the database, or the client going away before the
            // outcome is written leaves it counted as a failure: acceptable, it
            // errs on the side of refusing and leaves the window with the rest.
            let attempt = login_failures::record(c, &name, now)?;
            let user = users::find_by_username(c, &name)?.map(Box::new);
            Ok(Gate::Admitted(attempt, user))
        })
        .await?;
    let (attempt, user) = match gate {
        Gate::Throttled(secs) => return Err(throttled(state, secs)),
        Gate::Admitted(attempt, user) => (attempt, user),
    };

    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let matches = match state
        .hashers
        .run(move || password::verify(&password, &hash))
        .await
    {
        Ok(m) => m,
        Err(e) => {
            // No password was checked (the checkers are full): not a failure.
            // Should this removal fail too, the attempt stays counted.
            let _ = state
                .db
                .write(move |c| login_failures::remove(c, attempt))
                .await;
            return Err(e);
        }
    };

    match user {
        Some(u) if matches && u.active => {
            let actor = crate::auth::AuthUser::from_row(&u, request_id.clone())?.actor();
            let name = username.clone();
            state
                .db
                .write(move |c| {
                    // Takes this attempt's reservation away with the failures.
                    login_failures::clear(c, &name, now_micros() - window_us)?;
                    let issued = start(c, &u)?;
                    // The API's event stays as it was; another face is named.
                    let details = match via {
                        "api" => json!({"username": name}),
                        _ => json!({"username": name, "via": via}),
                    };
                    let ev = Event::new(Action::AuthLogin, &actor, Some(&request_id), details);
                    audit::append(c, ev.force(actor.force_id.as_deref()))?;
                    Ok(issued)
                })
                .await
        }
        other => {
            let reason = match other {
                None => "unknown_user",
                Some(u) if !u.active => "deactivated",
                Some(_) => "wrong_password",
            };
            record_failure(state, &username, reason, &request_id).await?;
            Err(AppError::Unauthorized("wrong user name or password".into()))
        }
    }
}

/// What the reserving transaction decided.
enum Gate {
    /// Refused; retry after this many seconds.
    Throttled(u64),
    /// The attempt's reservation, and the user of that name if there is one.
    Admitted(i64, Option<Box<users::UserRow>>),
}

/// Seconds until `username`, with `n` failures in the window, is under the limit
/// of `max` again: when the `n - max + 1`-th oldest of them leaves the window.
fn retry_after(
    c: &mut Conn,
    username: &str,
    now: i64,
    window_us: i64,
    n: i64,
    max: i64,
) -> AppResult<u64> {
    let until = login_failures::nth_oldest_since(c, username, now - window_us, n - max)?
        .map_or(now + window_us, |at| at + window_us);
    Ok(((until - now) as f64 / 1e6).ceil().max(1.0) as u64)
}

/// A throttled attempt's answer, counted in the metrics.
fn throttled(state: &Context, retry_after_secs: u64) -> AppError {
    state.metrics.login_throttled();
    AppError::TooManyRequests {
        detail: format!(
            "too many failed logins for this user name; try again in {retry_after_secs} seconds"
        ),
        retry_after_secs,
    }
}

/// A refused password: the attempt's reservation stays as the failure; the
/// event names the user name tried and why.
async fn record_failure(
    state: &Context,
    username: &str,
    reason: &str,
    request_id: &str,
) -> AppResult<()> {
    let (name, reason, request_id) = (
        username.to_string(),
        reason.to_string(),
        request_id.to_string(),
    );
    state
        .db
        .write(move |c| {
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
