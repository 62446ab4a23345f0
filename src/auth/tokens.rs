//! Access tokens (HS256 JWT), refresh tokens and API keys.
//!
//! Access tokens live 15 minutes and carry `sub`, `role`, `iat`, `exp`, `jti`,
//! plus `sid` (the refresh family, i.e. the sign-in session) and `ver` (the
//! user's session epoch). Refresh tokens and API keys are opaque 256-bit random
//! strings; the database keeps only their SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::user::{Role, User};

/// Lifetime of an access token.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Lifetime of a refresh token.
pub const REFRESH_TTL_DAYS: i64 = 7;
/// Every API key starts with this, so it is recognizable in a Bearer header.
pub const API_KEY_PREFIX: &str = "dk_";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The refresh family (sign-in session) this token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The user's session epoch when issued.
    pub ver: i64,
}

/// Why an access token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

/// Signs and checks access tokens with one HS256 secret.
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Signer {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A fresh access token for `user` in session `sid`; also returns its lifetime.
    pub fn issue(&self, user: &User, sid: Option<&str>) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.id.clone(),
            role: user.role,
            iat: now,
            exp: now + ACCESS_TTL_SECS,
            jti: crate::db::new_id(),
            sid: sid.map(str::to_string),
            ver: user.session_epoch,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Checks signature, algorithm (HS256 only, so `alg: none` fails) and expiry.
    pub fn check(&self, token: &str) -> Result<Claims, TokenError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// 32 random bytes from the OS, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API key: `dk_` + 43 random characters.
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token())
}

/// What a list shows of a key: its first characters.
pub fn api_key_display_prefix(key: &str) -> String {
    format!("{}…", &key[..key.len().min(API_KEY_PREFIX.len() + 6)])
}

/// SHA-256 hex, how refresh tokens and API keys are stored and looked up.
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RFC 3339 time `days` from now.
pub fn days_from_now(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::user::Status;

    fn user() -> User {
        User {
            id: "u1".into(),
            username: "minji".into(),
            display_name: "Minji".into(),
            password_hash: None,
            role: Role::User,
            status: Status::Active,
            session_epoch: 3,
            email: None,
            external_issuer: None,
            external_id: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn an_issued_token_checks_out_with_its_claims() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.issue(&user(), Some("fam"));
        let claims = signer.check(&token).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.role, Role::User);
        assert_eq!(claims.exp - claims.iat, ACCESS_TTL_SECS);
        assert_eq!((claims.sid.as_deref(), claims.ver), (Some("fam"), 3));
        assert!(!claims.jti.is_empty());
    }

    #[test]
    fn another_key_alg_none_and_edited_payloads_are_refused() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let other = Signer::new(b"another secret another secret ..");
        let token = other.issue(&user(), None);
        assert_eq!(signer.check(&token).unwrap_err(), TokenError::Invalid);

        let good = signer.issue(&user(), None);
        let parts: Vec<&str> = good.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(signer.check(&unsigned).unwrap_err(), TokenError::Invalid);

        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["role"] = "admin".into();
        let edited = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            parts[2]
        );
        assert_eq!(signer.check(&edited).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "u1".into(),
            role: Role::User,
            iat: now - 3600,
            exp: now - 600,
            jti: "j".into(),
            sid: None,
            ver: 0,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &signer.encoding).unwrap();
        assert_eq!(signer.check(&token).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn random_tokens_are_long_distinct_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(new_api_key().starts_with("dk_"));
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
