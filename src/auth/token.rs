//! Access tokens: JWT signed with HS256, carrying `sub`, `iat`, `exp` and the
//! user's token generation (`gen`), which deactivation and a new password raise.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The user's token generation when the token was issued.
    pub r#gen: i64,
}

/// Whether a token issued at generation `token_gen` still speaks for a user who
/// is `active` with generation `user_gen` (deactivation and a new password
/// raise the generation).
pub fn token_is_current(active: bool, user_gen: i64, token_gen: i64) -> bool {
    active && user_gen == token_gen
}

/// The signing keys and token lifetime, built once at start-up.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl_seconds: u64,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_seconds: u64) -> Self {
        // Only HS256: a token naming any other algorithm, `none` included, fails.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_seconds,
        }
    }

    /// A new token for `user_id` at generation `r#gen`.
    pub fn issue(&self, user_id: &str, r#gen: i64) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.ttl_seconds as i64,
            r#gen,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// The claims of a valid token; why it is not valid otherwise.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let keys = TokenKeys::new(&[7u8; 32], 60);
        let t = keys.issue("u1", 3).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.r#gen), ("u1", 3));
        let other = TokenKeys::new(&[8u8; 32], 60);
        assert!(other.verify(&t).is_err());
        assert!(keys.verify("not.a.token").is_err());
        // alg: none, unsigned
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsImlhdCI6MSwiZXhwIjo5OTk5OTk5OTk5LCJnZW4iOjN9.";
        assert!(keys.verify(none).is_err());
    }
}
