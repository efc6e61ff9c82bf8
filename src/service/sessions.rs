//! Sessions of the pages under `/ui`: opened by signing in (the same use case,
//! throttling and events as the API's login), found again from the cookie's
//! random id (only its SHA-256 is stored), ended by signing out, by expiry, by
//! lying idle, and at once when the user is deactivated or changes password
//! (the token generation, as for the API's tokens).

use super::Context;
use super::login::sign_in;
use crate::auth::AuthUser;
use crate::auth::token::token_is_current;
use crate::db::sessions::{self, SessionRow};
use crate::db::{now_micros, users};
use crate::error::AppResult;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A signed-in person as the pages see them.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: AuthUser,
    pub display_name: String,
    /// Every form of this session carries it back.
    pub csrf_token: String,
}

/// A session just opened: the cookie's value, and how long it may live.
pub struct Opened {
    pub cookie_value: String,
    pub max_age_seconds: u64,
}

/// A last use is written at most this often (not on every page).
const TOUCH_EVERY_US: i64 = 30_000_000;

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_of(cookie_value: &str) -> String {
    hex::encode(Sha256::digest(cookie_value.as_bytes()))
}

fn lifetimes(state: &Context) -> (i64, i64) {
    let s = &state.settings;
    (
        s.ui_session_hours as i64 * 3_600_000_000,
        s.ui_idle_minutes as i64 * 60_000_000,
    )
}

/// Signs in through the pages: on success a new session (and the
/// `auth.login` event, `via: ui`); refusals exactly as the API's login.
pub async fn open(
    state: &Context,
    username: String,
    password: String,
    request_id: String,
) -> AppResult<Opened> {
    let (life, idle) = lifetimes(state);
    let cookie_value = random_token();
    let id_hash = hash_of(&cookie_value);
    sign_in(state, username, password, request_id, "ui", move |c, u| {
        let now = now_micros();
        // Sessions that have ended by now go, whoever's they were.
        sessions::purge(c, now, now - idle)?;
        sessions::insert(
            c,
            &SessionRow {
                id_hash,
                user_id: u.id.clone(),
                token_generation: u.token_generation,
                csrf_token: random_token(),
                created_at: now,
                last_seen_at: now,
                expires_at: now + life,
            },
        )
    })
    .await?;
    Ok(Opened {
        cookie_value,
        max_age_seconds: state.settings.ui_session_hours * 3600,
    })
}

/// The session of a cookie's value, while it lives; `None` for no session,
/// an ended one, or one whose user is deactivated or has a new password.
pub async fn find(
    state: &Context,
    cookie_value: &str,
    request_id: String,
) -> AppResult<Option<Session>> {
    let (_, idle) = lifetimes(state);
    let id_hash = hash_of(cookie_value);
    let h = id_hash.clone();
    let found = state
        .db
        .read(move |c| {
            let Some(s) = sessions::find(c, &h)? else {
                return Ok(None);
            };
            let user = users::find(c, &s.user_id)?;
            Ok(Some((s, user)))
        })
        .await?;
    let Some((s, user)) = found else {
        return Ok(None);
    };
    let now = now_micros();
    let alive = now < s.expires_at && s.last_seen_at >= now - idle;
    let user = user.filter(|u| token_is_current(u.active, u.token_generation, s.token_generation));
    let (Some(user), true) = (user, alive) else {
        state
            .db
            .write(move |c| sessions::delete(c, &id_hash))
            .await?;
        return Ok(None);
    };
    if now - s.last_seen_at > TOUCH_EVERY_US {
        state
            .db
            .write(move |c| sessions::touch(c, &id_hash, now))
            .await?;
    }
    Ok(Some(Session {
        display_name: user.display_name.clone(),
        user: AuthUser::from_row(&user, request_id)?,
        csrf_token: s.csrf_token,
    }))
}

/// Signing out: the session ends at once.
pub async fn close(state: &Context, cookie_value: &str) -> AppResult<()> {
    let id_hash = hash_of(cookie_value);
    state
        .db
        .write(move |c| sessions::delete(c, &id_hash))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_of(&a).len(), 64);
        assert_ne!(hash_of(&a), a);
    }
}
