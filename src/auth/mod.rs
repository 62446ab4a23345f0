//! Who is calling. [`Auth`] holds the token signer, the password hasher, the
//! sign-in rate limits and the external sign-in settings; [`Auth::authenticate`]
//! turns a request's credentials into the current user, as the database has
//! it now: disabling an account, changing its role or its password takes
//! effect at once (what it read is kept in memory only until the next write
//! to those tables, see [`cache`]).
//!
//! Everything a stranger can make the server do before it knows who they are
//! is bounded here: attempts per address (and per username from an address),
//! password hashes computed at once, identity-provider calls at once, and the
//! signed `/auth/token` requests already seen.

pub mod cache;
pub mod external;
pub mod ldap;
pub mod oidc;
pub mod password;
pub mod proxy;
pub mod ratelimit;
pub mod tokens;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::db::{self, user::Status, user::User, Db, DbError};
use password::Hasher;
use ratelimit::{Limiter, Rule};
use tokens::{Signer, TokenError};

/// Failed sign-ins for one username from one address before each further
/// attempt waits ([`LOGIN_FIRST_DELAY`], doubling, at most [`LOGIN_WINDOW`]).
/// Keyed with the address, so a stranger cannot lock the owner out.
pub const LOGIN_FREE_ATTEMPTS: usize = 5;
pub const LOGIN_FIRST_DELAY: Duration = Duration::from_secs(30);
/// Failed sign-ins allowed per client address within [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES_PER_IP: usize = 30;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Registrations (that reach password hashing) per address per hour.
pub const REGISTRATIONS_PER_IP: usize = 10;
pub const REGISTRATION_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Failed external sign-ins (`/auth/exchange`, `/auth/token`) per address
/// within [`LOGIN_WINDOW`].
pub const EXTERNAL_FAILURES_PER_IP: usize = 30;
/// Identity-provider calls in flight at once.
pub const MAX_USERINFO_CALLS: usize = 4;
/// Longest wait for a hashing or identity-provider slot; then 503.
pub const SLOT_WAIT: Duration = Duration::from_secs(10);
/// Signed `/auth/token` requests remembered at most (within their window).
const MAX_SEEN_SIGNATURES: usize = 100_000;

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
    /// How the caller authenticated: an API key, not a sign-in session. A
    /// key may not mint or revoke other keys or change the password.
    pub via_api_key: bool,
    /// The API key used, when one was (seed 004 keeps state per key).
    pub api_key_id: Option<String>,
    /// The SHA-256 of that key, as stored (seed 004 names keys by value).
    pub api_key_hash: Option<String>,
}

impl CurrentUser {
    /// The user as the audit log names them.
    pub fn actor(&self) -> crate::db::audit::Actor {
        crate::db::audit::Actor {
            id: self.user.id.clone(),
            username: self.user.username.clone(),
        }
    }
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

/// No slot freed up within [`SLOT_WAIT`]: the server is saturated (503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

pub struct Auth {
    pub signer: Signer,
    pub hasher: Hasher,
    /// A few argon2 computations at a time (2 to 4): more would only queue on
    /// the CPU while each holds 19 MiB, and slow every sign-in down.
    hashing: Semaphore,
    /// Registrations take one of those slots at most, so a registration
    /// flood leaves the others to sign-ins.
    registering: Semaphore,
    /// Identity-provider calls in flight ([`MAX_USERINFO_CALLS`]).
    userinfo_calls: Semaphore,
    /// LDAP operations in flight ([`ldap::MAX_DIRECTORY_CALLS`]).
    directory_calls: Semaphore,
    /// Failed sign-ins per `username|address`, with a growing back-off.
    pub login_by_user: Limiter,
    /// Failed sign-ins per address.
    pub login_by_ip: Limiter,
    /// Registrations per address.
    pub register_by_ip: Limiter,
    /// Failed `/auth/exchange` and `/auth/token` calls per address.
    pub external_by_ip: Limiter,
    /// Signatures of `/auth/token` requests seen, until they go stale.
    seen_signatures: Mutex<HashMap<String, i64>>,
    pub trusted_issuer_secret: Option<Vec<u8>>,
    pub userinfo_url: Option<String>,
    pub userinfo_timeout: Duration,
    /// Users, keys and sessions the database confirmed, until it changes.
    cache: cache::AuthCache,
}

impl Auth {
    /// Blocking (reads or stores the secret): call at start-up.
    /// `auth_generation` is the database's ([`Db::auth_generation`]).
    pub fn new(
        config: &AuthConfig,
        conn: &rusqlite::Connection,
        auth_generation: Arc<AtomicU64>,
    ) -> Result<Auth, DbError> {
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
            hashing: Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4)),
            ),
            registering: Semaphore::new(1),
            userinfo_calls: Semaphore::new(MAX_USERINFO_CALLS),
            directory_calls: Semaphore::new(ldap::MAX_DIRECTORY_CALLS),
            login_by_user: Limiter::new(
                Rule::Backoff {
                    free: LOGIN_FREE_ATTEMPTS,
                    first_delay: LOGIN_FIRST_DELAY,
                    max_delay: LOGIN_WINDOW,
                },
                LOGIN_WINDOW,
            ),
            login_by_ip: Limiter::new(
                Rule::Window {
                    max: LOGIN_FAILURES_PER_IP,
                },
                LOGIN_WINDOW,
            ),
            register_by_ip: Limiter::new(
                Rule::Window {
                    max: REGISTRATIONS_PER_IP,
                },
                REGISTRATION_WINDOW,
            ),
            external_by_ip: Limiter::new(
                Rule::Window {
                    max: EXTERNAL_FAILURES_PER_IP,
                },
                LOGIN_WINDOW,
            ),
            seen_signatures: Mutex::new(HashMap::new()),
            trusted_issuer_secret: config
                .trusted_issuer_secret
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec()),
            userinfo_url: config.userinfo_url.clone().filter(|s| !s.is_empty()),
            userinfo_timeout: config.userinfo_timeout,
            cache: cache::AuthCache::new(auth_generation),
        })
    }

    /// Runs password hashing work on a blocking thread, a few at a time;
    /// [`Busy`] when no slot frees up within [`SLOT_WAIT`].
    pub async fn with_hasher<T, F>(&self, work: F) -> Result<T, Busy>
    where
        T: Send + 'static,
        F: FnOnce(&Hasher) -> T + Send + 'static,
    {
        let _permit = slot(&self.hashing).await?;
        let hasher = self.hasher.clone();
        match tokio::task::spawn_blocking(move || work(&hasher)).await {
            Ok(value) => Ok(value),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }

    /// [`Auth::with_hasher`] for a registration: one at a time.
    pub async fn with_register_hasher<T, F>(&self, work: F) -> Result<T, Busy>
    where
        T: Send + 'static,
        F: FnOnce(&Hasher) -> T + Send + 'static,
    {
        let _permit = slot(&self.registering).await?;
        self.with_hasher(work).await
    }

    /// Runs an identity-provider call on a blocking thread, a few at a time.
    pub async fn with_userinfo_slot<T, F>(&self, work: F) -> Result<T, Busy>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _permit = slot(&self.userinfo_calls).await?;
        match tokio::task::spawn_blocking(work).await {
            Ok(value) => Ok(value),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }

    /// Runs a directory (LDAP) operation, a few at a time; [`Busy`] when no
    /// slot frees up within [`SLOT_WAIT`].
    pub async fn with_directory_slot<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, Busy> {
        let _permit = slot(&self.directory_calls).await?;
        Ok(work.await)
    }

    /// Remembers the signature of a signed request made at `timestamp`;
    /// `Ok(false)` when it was seen before (a replay). Entries are kept while
    /// the signature would still be accepted, and pruned as they go stale.
    pub fn first_sighting(&self, signature: &str, timestamp: i64, now: i64) -> Result<bool, Busy> {
        let key = signature.trim().to_ascii_lowercase();
        let mut seen = self
            .seen_signatures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if seen.contains_key(&key) {
            return Ok(false);
        }
        if seen.len() >= MAX_SEEN_SIGNATURES / 2 {
            seen.retain(|_, expires| *expires >= now);
        }
        // Past the cap the issuer itself misbehaves: refuse rather than forget
        // signatures that could then be replayed.
        if seen.len() >= MAX_SEEN_SIGNATURES {
            return Err(Busy);
        }
        seen.insert(key, timestamp + external::MAX_CLOCK_SKEW_SECS);
        Ok(true)
    }

    /// The current user for `credentials`, as the database has it now.
    pub async fn authenticate(
        &self,
        db: &Db,
        credentials: Credentials,
    ) -> Result<CurrentUser, AuthFailure> {
        let current = match credentials {
            Credentials::None => return Err(AuthFailure::Missing),
            Credentials::ApiKey(key) => self.by_api_key(db, key).await?,
            Credentials::Bearer(token) => self.by_token(db, &token).await?,
        };
        match current.user.status {
            Status::Active => Ok(current),
            Status::Pending => Err(AuthFailure::Pending),
            Status::Disabled => Err(AuthFailure::Disabled),
        }
    }

    async fn by_api_key(&self, db: &Db, key: String) -> Result<CurrentUser, AuthFailure> {
        let hash = tokens::sha256_hex(&key);
        let current = |user: Arc<User>, key_id: String, hash: String| CurrentUser {
            user: User::clone(&user),
            session: None,
            via_api_key: true,
            api_key_id: Some(key_id),
            api_key_hash: Some(hash),
        };
        if let Some((key_id, user_id)) = self.cache.key(&hash) {
            if let Some(user) = self.cache.user(&user_id) {
                return Ok(current(user, key_id, hash));
            }
        }
        let stamp = self.cache.stamp();
        let looked_up = hash.clone();
        let found = db
            .run(move |conn| -> Result<_, DbError> {
                let Some((key_id, user_id)) = db::token::use_api_key(conn, &looked_up)? else {
                    return Ok(None);
                };
                Ok(db::user::by_id(conn, &user_id)?.map(|user| (key_id, user)))
            })
            .await
            .map_err(AuthFailure::Db)?;
        let (key_id, user) = found.ok_or(AuthFailure::InvalidApiKey)?;
        let user = Arc::new(user);
        self.cache
            .put_key(stamp, hash.clone(), key_id.clone(), user.id.clone());
        self.cache.put_user(stamp, user.clone());
        Ok(current(user, key_id, hash))
    }

    async fn by_token(&self, db: &Db, token: &str) -> Result<CurrentUser, AuthFailure> {
        let claims = self.signer.check(token).map_err(|e| match e {
            TokenError::Expired => AuthFailure::ExpiredToken,
            TokenError::Invalid => AuthFailure::InvalidToken,
        })?;
        let cached = self.cache.user(&claims.sub).filter(|user| {
            user.status != Status::Active
                || claims
                    .sid
                    .as_deref()
                    .is_none_or(|sid| self.cache.session_live(sid))
        });
        let user = match cached {
            Some(user) => user,
            None => {
                let stamp = self.cache.stamp();
                let (sub, sid) = (claims.sub.clone(), claims.sid.clone());
                let (user, live) = db
                    .run(move |conn| -> Result<_, DbError> {
                        let Some(user) = db::user::by_id(conn, &sub)? else {
                            return Ok((None, false));
                        };
                        let live = match &sid {
                            Some(sid) if user.status == Status::Active => {
                                db::token::family_is_live(conn, sid)?
                            }
                            _ => false,
                        };
                        Ok((Some(user), live))
                    })
                    .await
                    .map_err(AuthFailure::Db)?;
                let user = Arc::new(user.ok_or(AuthFailure::InvalidToken)?);
                self.cache.put_user(stamp, user.clone());
                if live {
                    if let Some(sid) = &claims.sid {
                        self.cache.put_live_session(stamp, sid.clone());
                    }
                } else if claims.sid.is_some() && user.status == Status::Active {
                    return Err(AuthFailure::InvalidToken);
                }
                user
            }
        };
        // A disabled or pending account is told so (by the caller), even
        // though disabling also ended its sessions.
        if user.status != Status::Active {
            return Ok(CurrentUser {
                user: User::clone(&user),
                session: None,
                via_api_key: false,
                api_key_id: None,
                api_key_hash: None,
            });
        }
        // A password change or reset raised the epoch: older tokens are
        // void. A signed-out session is void too (checked above).
        if user.session_epoch != claims.ver {
            return Err(AuthFailure::InvalidToken);
        }
        Ok(CurrentUser {
            user: User::clone(&user),
            session: claims.sid,
            via_api_key: false,
            api_key_id: None,
            api_key_hash: None,
        })
    }
}

/// A permit of `semaphore`, waiting [`SLOT_WAIT`] at most.
async fn slot(semaphore: &Semaphore) -> Result<tokio::sync::SemaphorePermit<'_>, Busy> {
    match tokio::time::timeout(SLOT_WAIT, semaphore.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        // Timed out, or closed (never: the semaphores are not closed).
        _ => Err(Busy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_once_and_forgotten_when_stale() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let config = AuthConfig {
            secret: Some("s".repeat(32)),
            fast_password_hashing: true,
            ..AuthConfig::default()
        };
        let auth = Auth::new(&config, &conn, Arc::default()).unwrap();
        assert_eq!(auth.first_sighting("sha256=AB", 1000, 1000), Ok(true));
        assert_eq!(auth.first_sighting("sha256=ab ", 1000, 1100), Ok(false));
        assert_eq!(auth.first_sighting("sha256=cd", 1000, 1100), Ok(true));
        // Stale entries are pruned once the map is large.
        {
            let mut seen = auth.seen_signatures.lock().unwrap();
            for i in 0..MAX_SEEN_SIGNATURES {
                seen.insert(format!("old-{i}"), 0);
            }
        }
        assert_eq!(auth.first_sighting("sha256=ef", 2000, 2000), Ok(true));
        assert_eq!(auth.seen_signatures.lock().unwrap().len(), 1);
    }

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
