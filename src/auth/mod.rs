//! Who is calling. [`Auth`] holds the token signer, the password hasher, the
//! sign-in rate limits and the external sign-in settings; [`Auth::authenticate`]
//! turns a request's credentials into the current user, reading the user from
//! the database on every request so that disabling an account, changing its
//! role or its password takes effect at once.

pub mod external;
pub mod password;
pub mod ratelimit;
pub mod tokens;

use std::time::Duration;

use crate::db::{self, user::Status, user::User, Db, DbError};
use password::Hasher;
use ratelimit::FailureLimiter;
use tokens::{Signer, TokenError};

/// Failed sign-ins allowed per username within [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES_PER_USER: usize = 5;
/// Failed sign-ins allowed per client address within [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES_PER_IP: usize = 30;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The setting that keeps the generated signing secret.
const SECRET_SETTING: &str = "jwt_secret";

/// Authentication settings taken from the command line / environment.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// `DAEHWA_SECRET`; when absent a secret is generated once and stored.
    pub secret: Option<String>,
    /// Enables `/auth/token`.
    pub trusted_issuer_secret: Option<String>,
    /// Enables `/auth/exchange`.
    pub userinfo_url: Option<String>,
    pub userinfo_timeout: Duration,
    /// Cheap argon2 parameters: tests only.
    pub fast_password_hashing: bool,
}

/// Credentials found on a request.
#[derive(Debug, Clone)]
pub enum Credentials {
    None,
    Bearer(String),
    ApiKey(String),
}

impl Credentials {
    /// From the `Authorization` and `X-API-Key` headers. A Bearer value that
    /// starts with `dk_` is an API key.
    pub fn from_headers(authorization: Option<&str>, api_key: Option<&str>) -> Credentials {
        if let Some(key) = api_key.map(str::trim).filter(|k| !k.is_empty()) {
            return Credentials::ApiKey(key.to_string());
        }
        let Some(value) = authorization.map(str::trim) else {
            return Credentials::None;
        };
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => return Credentials::Bearer(String::new()),
        };
        if token.starts_with(tokens::API_KEY_PREFIX) {
            Credentials::ApiKey(token.to_string())
        } else {
            Credentials::Bearer(token.to_string())
        }
    }
}

/// The caller of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    /// The sign-in session (refresh family) of the access token, if any.
    pub session: Option<String>,
    pub via_api_key: bool,
    /// The API key used, when one was (seed 004 keeps state per key).
    pub api_key_id: Option<String>,
}

/// Why a request is not authenticated.
#[derive(Debug)]
pub enum AuthFailure {
    Missing,
    InvalidToken,
    ExpiredToken,
    InvalidApiKey,
    Disabled,
    Pending,
    Db(DbError),
}

pub struct Auth {
    pub signer: Signer,
    pub hasher: Hasher,
    /// At most one argon2 computation per core at a time: more would only
    /// queue on the CPU while each holds 19 MiB.
    hashing: tokio::sync::Semaphore,
    pub login_by_user: FailureLimiter,
    pub login_by_ip: FailureLimiter,
    pub trusted_issuer_secret: Option<Vec<u8>>,
    pub userinfo_url: Option<String>,
    pub userinfo_timeout: Duration,
}

impl Auth {
    /// Blocking (reads or stores the secret): call at start-up.
    pub fn new(config: &AuthConfig, conn: &rusqlite::Connection) -> Result<Auth, DbError> {
        let secret = match config.secret.as_deref().filter(|s| !s.is_empty()) {
            Some(secret) => {
                if secret.len() < 32 {
                    log::warn!(
                        "DAEHWA_SECRET is shorter than 32 characters; use a long random value"
                    );
                }
                secret.as_bytes().to_vec()
            }
            None => {
                let generated = serde_json::Value::from(tokens::random_token());
                let stored = db::setting::get_or_insert(conn, SECRET_SETTING, &generated)?;
                stored.as_str().unwrap_or_default().as_bytes().to_vec()
            }
        };
        Ok(Auth {
            signer: Signer::new(&secret),
            hasher: Hasher::new(config.fast_password_hashing),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            login_by_user: FailureLimiter::new(LOGIN_FAILURES_PER_USER, LOGIN_WINDOW),
            login_by_ip: FailureLimiter::new(LOGIN_FAILURES_PER_IP, LOGIN_WINDOW),
            trusted_issuer_secret: config
                .trusted_issuer_secret
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec()),
            userinfo_url: config.userinfo_url.clone().filter(|s| !s.is_empty()),
            userinfo_timeout: config.userinfo_timeout,
        })
    }

    /// Runs password hashing work on a blocking thread, one per core at most.
    pub async fn with_hasher<T, F>(&self, work: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(&Hasher) -> T + Send + 'static,
    {
        let _permit = self
            .hashing
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let hasher = self.hasher.clone();
        match tokio::task::spawn_blocking(move || work(&hasher)).await {
            Ok(value) => value,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }

    /// The current user for `credentials`, read fresh from the database.
    pub async fn authenticate(
        &self,
        db: &Db,
        credentials: Credentials,
    ) -> Result<CurrentUser, AuthFailure> {
        let found = match credentials {
            Credentials::None => return Err(AuthFailure::Missing),
            Credentials::ApiKey(key) => {
                let hash = tokens::sha256_hex(&key);
                db.run(move |conn| {
                    let Some((key_id, user_id)) = db::token::use_api_key(conn, &hash)? else {
                        return Ok(Err(AuthFailure::InvalidApiKey));
                    };
                    Ok(db::user::by_id(conn, &user_id)?
                        .map(|user| CurrentUser {
                            user,
                            session: None,
                            via_api_key: true,
                            api_key_id: Some(key_id),
                        })
                        .ok_or(AuthFailure::InvalidApiKey))
                })
                .await
            }
            Credentials::Bearer(token) => {
                let claims = self.signer.check(&token).map_err(|e| match e {
                    TokenError::Expired => AuthFailure::ExpiredToken,
                    TokenError::Invalid => AuthFailure::InvalidToken,
                })?;
                db.run(move |conn| {
                    let Some(user) = db::user::by_id(conn, &claims.sub)? else {
                        return Ok(Err(AuthFailure::InvalidToken));
                    };
                    // A disabled or pending account is told so (below), even
                    // though disabling also ended its sessions.
                    if user.status != Status::Active {
                        return Ok(Ok(CurrentUser {
                            user,
                            session: None,
                            via_api_key: false,
                            api_key_id: None,
                        }));
                    }
                    // A password change or reset raised the epoch: older
                    // tokens are void. A signed-out session is void too.
                    if user.session_epoch != claims.ver {
                        return Ok(Err(AuthFailure::InvalidToken));
                    }
                    if let Some(sid) = &claims.sid {
                        if !db::token::family_is_live(conn, sid)? {
                            return Ok(Err(AuthFailure::InvalidToken));
                        }
                    }
                    Ok(Ok(CurrentUser {
                        user,
                        session: claims.sid,
                        via_api_key: false,
                        api_key_id: None,
                    }))
                })
                .await
            }
        };
        let current = found.map_err(AuthFailure::Db)??;
        match current.user.status {
            Status::Active => Ok(current),
            Status::Pending => Err(AuthFailure::Pending),
            Status::Disabled => Err(AuthFailure::Disabled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_either_header() {
        let bearer = Credentials::from_headers(Some("Bearer abc.def.ghi"), None);
        assert!(matches!(bearer, Credentials::Bearer(t) if t == "abc.def.ghi"));
        let key_as_bearer = Credentials::from_headers(Some("bearer dk_123"), None);
        assert!(matches!(key_as_bearer, Credentials::ApiKey(k) if k == "dk_123"));
        let key = Credentials::from_headers(Some("Bearer x"), Some("dk_9"));
        assert!(matches!(key, Credentials::ApiKey(k) if k == "dk_9"));
        assert!(matches!(
            Credentials::from_headers(None, None),
            Credentials::None
        ));
        // Another scheme is a credential that will not check out, not "none".
        assert!(matches!(
            Credentials::from_headers(Some("Basic dXNlcg=="), None),
            Credentials::Bearer(t) if t.is_empty()
        ));
    }
}
