//! OpenID Connect sign-in (issue 22): the authorization code flow with PKCE
//! (S256), `state` and `nonce`, against a provider found by discovery.
//!
//! - Discovery (`<issuer>/.well-known/openid-configuration` and its JWKS) is
//!   cached per issuer for [`DISCOVERY_TTL`]. When an ID token names a key id
//!   the cached JWKS lacks (the provider rotated its keys), discovery runs
//!   again once and the token is checked against the new keys.
//! - Each sign-in attempt (`state` → nonce, PKCE verifier, where to go
//!   afterwards, the redirect URI, the browser's binding secret) waits here,
//!   in memory, for [`ATTEMPT_TTL`], at most [`MAX_ATTEMPTS`] of them; the
//!   callback takes it out (one use).
//! - The ID token is validated by `openidconnect`: signature with the
//!   provider's JWKS, issuer, audience (our client id), nonce, expiry, and an
//!   issue time not in the future.
//! - HTTP goes through our ureq (no redirects followed, a time limit, answers
//!   of at most [`MAX_BODY`], the proxy of `HTTPS_PROXY`/`NO_PROXY` like the
//!   LLM calls). Every function here that calls the provider blocks: run it on
//!   a blocking thread (`Auth::with_userinfo_slot`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IdToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::service::directory::DirectoryIdentity;
use crate::service::signin::OidcSettings;

/// How long a provider's discovery document and keys are trusted.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(60 * 60);
/// How long a sign-in attempt waits for its callback.
pub const ATTEMPT_TTL: Duration = Duration::from_secs(10 * 60);
/// Sign-in attempts waiting at most; past it the oldest is forgotten.
pub const MAX_ATTEMPTS: usize = 10_000;
/// The largest answer read from the provider.
pub const MAX_BODY: u64 = 1024 * 1024;
/// Time limit of one call to the provider.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How far in the future an ID token's issue time may be (clock skew).
const MAX_IAT_SKEW_SECS: i64 = 5 * 60;

/// Why a step of the flow failed. The text is for the log only: it may hold
/// the provider's words, never a token or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The settings cannot work (issuer or redirect URL not a URL).
    #[error("configuration: {0}")]
    Config(String),
    /// Discovery (or the JWKS) failed.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// The token endpoint refused the code or could not be asked.
    #[error("token exchange failed: {0}")]
    Exchange(String),
    /// The ID token is missing or does not check out.
    #[error("ID token refused: {0}")]
    Token(String),
}

/// One sign-in waiting for its callback.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub issuer: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A local path (already checked).
    pub return_to: String,
    /// The redirect URI sent to the provider, sent again at the exchange.
    pub redirect_uri: String,
    /// The value of the browser's `daehwa_oidc` cookie.
    pub binding: String,
    created: Instant,
}

impl Attempt {
    /// Whether `cookie` is this attempt's binding (compared in constant time).
    pub fn bound_to(&self, cookie: Option<&str>) -> bool {
        let Some(cookie) = cookie else {
            return false;
        };
        let (a, b) = (self.binding.as_bytes(), cookie.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Where the browser goes to sign in, and the secret its cookie must carry.
#[derive(Debug, Clone)]
pub struct Started {
    pub authorize_url: String,
    pub binding: String,
}

/// The OIDC state of a server: discovery cache and pending attempts.
pub struct Oidc {
    /// The listener speaks TLS (the redirect URI's scheme is then https).
    tls: bool,
    providers: Mutex<HashMap<String, (Instant, Arc<CoreProviderMetadata>)>>,
    attempts: Mutex<HashMap<String, Attempt>>,
}

/// A poisoned lock only means another request panicked; the data is still fine.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Oidc {
    pub fn new(tls: bool) -> Oidc {
        Oidc {
            tls,
            providers: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the server's own listener is HTTPS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The provider's metadata (with its JWKS), cached; `fresh` asks again
    /// whatever the cache holds. Blocking.
    fn metadata(&self, issuer: &str, fresh: bool) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        if !fresh {
            if let Some((at, metadata)) = lock(&self.providers).get(issuer) {
                if at.elapsed() < DISCOVERY_TTL {
                    return Ok(metadata.clone());
                }
            }
        }
        let url = IssuerUrl::new(issuer.to_string())
            .map_err(|e| OidcError::Config(format!("the issuer is not a URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover(&url, &Http)
            .map_err(|e| OidcError::Discovery(error_chain(&e)))?;
        let metadata = Arc::new(metadata);
        let mut providers = lock(&self.providers);
        // A handful of issuers at most (the setting changes rarely); keep
        // the map from growing with every past value.
        providers.retain(|_, (at, _)| at.elapsed() < DISCOVERY_TTL);
        providers.insert(issuer.to_string(), (Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// Starts a sign-in: discovery, then the provider's authorization URL
    /// for a new attempt. Blocking (discovery).
    pub fn begin(
        &self,
        settings: &OidcSettings,
        redirect_uri: String,
        return_to: String,
    ) -> Result<Started, OidcError> {
        let metadata = self.metadata(&settings.issuer, false)?;
        let client = client_for(&metadata, settings, &redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        // `openid` is always sent by the library.
        for scope in scopes(&settings.scopes) {
            request = request.add_scope(Scope::new(scope));
        }
        let (url, state, nonce) = request.url();
        let binding = crate::auth::tokens::random_token();
        self.remember(
            state.secret().clone(),
            Attempt {
                issuer: settings.issuer.clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                return_to,
                redirect_uri,
                binding: binding.clone(),
                created: Instant::now(),
            },
        );
        Ok(Started {
            authorize_url: url.to_string(),
            binding,
        })
    }

    fn remember(&self, state: String, attempt: Attempt) {
        let mut attempts = lock(&self.attempts);
        if attempts.len() >= MAX_ATTEMPTS / 2 {
            attempts.retain(|_, a| a.created.elapsed() < ATTEMPT_TTL);
        }
        if attempts.len() >= MAX_ATTEMPTS {
            if let Some(oldest) = attempts
                .iter()
                .min_by_key(|(_, a)| a.created)
                .map(|(k, _)| k.clone())
            {
                attempts.remove(&oldest);
            }
        }
        attempts.insert(state, attempt);
    }

    /// The attempt of `state`, taken out (it works once); `None` when
    /// unknown or older than [`ATTEMPT_TTL`].
    pub fn take(&self, state: &str) -> Option<Attempt> {
        let attempt = lock(&self.attempts).remove(state)?;
        (attempt.created.elapsed() < ATTEMPT_TTL).then_some(attempt)
    }

    /// Pending attempts (tests, status).
    pub fn pending(&self) -> usize {
        lock(&self.attempts).len()
    }

    /// Ends a sign-in: exchanges `code` (with the attempt's PKCE verifier
    /// and redirect URI), validates the ID token (refetching the provider's
    /// keys once when it names an unknown key), and maps its claims (the
    /// UserInfo endpoint's when the groups claim is missing). Blocking.
    pub fn finish(
        &self,
        settings: &OidcSettings,
        attempt: &Attempt,
        code: String,
    ) -> Result<DirectoryIdentity, OidcError> {
        if attempt.issuer != settings.issuer {
            return Err(OidcError::Config(
                "the issuer setting changed during the sign-in".into(),
            ));
        }
        let metadata = self.metadata(&settings.issuer, false)?;
        let client = client_for(&metadata, settings, &attempt.redirect_uri)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
            .request(&Http)
            .map_err(|e| OidcError::Exchange(token_error(&e)))?;
        let raw = response
            .id_token()
            .ok_or_else(|| OidcError::Token("the token response has no ID token".into()))?
            .to_string();
        let id_token: ClaimsToken = raw
            .parse()
            .map_err(|e| OidcError::Token(format!("malformed ID token: {e}")))?;
        let nonce = Nonce::new(attempt.nonce.clone());
        let claims = match verify(&client, &id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // A key we have not seen: the provider may have rotated.
                log::info!(
                    "OIDC: the ID token names a key not in the cached JWKS of {}; fetching \
                     the provider's keys again",
                    settings.issuer
                );
                let metadata = self.metadata(&settings.issuer, true)?;
                let client = client_for(&metadata, settings, &attempt.redirect_uri)?;
                verify(&client, &id_token, &nonce)
            }
            other => other,
        }
        .map_err(|e| OidcError::Token(error_chain(&e)))?;
        let mut extra = claims.additional_claims().claims.clone();
        // The standard claims are parsed into their own fields, not the map.
        let standard = [
            ("email", claims.email().map(|e| e.as_str().to_string())),
            (
                "preferred_username",
                claims.preferred_username().map(|u| u.as_str().to_string()),
            ),
            (
                "name",
                claims
                    .name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str().to_string()),
            ),
        ];
        for (claim, value) in standard {
            if let Some(value) = value {
                extra
                    .entry(claim.to_string())
                    .or_insert(Value::String(value));
            }
        }
        let sub = claims.subject().as_str().to_string();
        if !extra.contains_key(groups_claim(settings)) {
            if let Some(url) = metadata.userinfo_endpoint() {
                match userinfo(url.as_str(), response.access_token().secret()) {
                    Ok(info) if info.get("sub").and_then(Value::as_str) == Some(sub.as_str()) => {
                        for (k, v) in info {
                            extra.entry(k).or_insert(v);
                        }
                    }
                    Ok(_) => log::warn!("OIDC: the UserInfo answer is about another subject"),
                    Err(why) => log::warn!("OIDC: UserInfo failed: {why}"),
                }
            }
        }
        Ok(identity(&settings.issuer, sub, &extra, settings))
    }
}

/// The claims beyond the standard ones, all of them (groups, a custom
/// username claim).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Extra {
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl openidconnect::AdditionalClaims for Extra {}

type ClaimsToken =
    IdToken<Extra, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

fn verify<'t>(
    client: &Client,
    token: &'t ClaimsToken,
    nonce: &Nonce,
) -> Result<&'t openidconnect::IdTokenClaims<Extra, CoreGenderClaim>, ClaimsVerificationError> {
    let verifier = client
        .id_token_verifier()
        .set_issue_time_verifier_fn(|iat| {
            if iat > chrono::Utc::now() + chrono::Duration::seconds(MAX_IAT_SKEW_SECS) {
                Err(format!("issued in the future ({iat})"))
            } else {
                Ok(())
            }
        });
    token.claims(&verifier, nonce)
}

/// A client made from discovery: its authorization URL is known, its token
/// and UserInfo URLs may be.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn client_for(
    metadata: &CoreProviderMetadata,
    settings: &OidcSettings,
    redirect_uri: &str,
) -> Result<Client, OidcError> {
    let redirect = RedirectUrl::new(redirect_uri.to_string())
        .map_err(|e| OidcError::Config(format!("the redirect URL is not a URL: {e}")))?;
    let secret = (!settings.client_secret.is_empty())
        .then(|| ClientSecret::new(settings.client_secret.clone()));
    Ok(CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        secret,
    )
    .set_redirect_uri(redirect))
}

/// The scopes to ask for besides `openid`.
fn scopes(setting: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for scope in setting.split([' ', ',']).map(str::trim) {
        if !scope.is_empty() && scope != "openid" && !out.iter().any(|s| s == scope) {
            out.push(scope.to_string());
        }
    }
    out
}

fn groups_claim(settings: &OidcSettings) -> &str {
    match settings.groups_claim.trim() {
        "" => "groups",
        claim => claim,
    }
}

/// A claim as text, when it is a non-empty string.
fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Who the claims name: `sub` is the external id; the username from the
/// username claim, else the e-mail's local part, else `sub`; groups from
/// the groups claim (an array of strings, or one string separated by
/// spaces or commas).
pub fn identity(
    issuer: &str,
    sub: String,
    claims: &Map<String, Value>,
    settings: &OidcSettings,
) -> DirectoryIdentity {
    let username_claim = match settings.username_claim.trim() {
        "" => "preferred_username",
        claim => claim,
    };
    let email = text(claims, "email");
    let username = text(claims, username_claim)
        .or_else(|| {
            email
                .as_deref()
                .and_then(|e| e.split('@').next())
                .filter(|local| !local.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| sub.clone());
    let groups = match claims.get(groups_claim(settings)) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => s
            .split([' ', ','])
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    DirectoryIdentity {
        issuer: format!("oidc:{issuer}"),
        external_id: sub,
        username,
        display_name: text(claims, "name"),
        email,
        groups,
    }
}

/// The UserInfo endpoint's claims for `access_token`. Blocking.
fn userinfo(url: &str, access_token: &str) -> Result<Map<String, Value>, String> {
    let request = http::Request::get(url)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {access_token}"),
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let response = openidconnect::SyncHttpClient::call(&Http, request).map_err(|e| e.0)?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status().as_u16()));
    }
    serde_json::from_slice(response.body()).map_err(|e| format!("not a JSON object: {e}"))
}

/// An error with its sources, for the log.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The token endpoint's refusal by its OAuth error code (never its free
/// text, which could echo what we sent).
fn token_error<RE, T>(err: &openidconnect::RequestTokenError<RE, T>) -> String
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match err {
        openidconnect::RequestTokenError::ServerResponse(response) => {
            let text = serde_json::to_value(response)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "an error".into());
            format!("the provider answered {text}")
        }
        openidconnect::RequestTokenError::Request(e) => error_chain(e),
        openidconnect::RequestTokenError::Parse(e, _) => format!("unreadable answer: {e}"),
        openidconnect::RequestTokenError::Other(e) => e.clone(),
    }
}

/// A failed call to the provider (the text names the cause, never a body).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// `openidconnect`'s HTTP client over ureq: a time limit, redirects
/// answered rather than followed (following them would let an answer send
/// us anywhere), answers of at most [`MAX_BODY`], and the proxy the
/// environment says (loopback never proxied, as for the LLM calls).
struct Http;

impl openidconnect::SyncHttpClient for Http {
    type Error = HttpError;

    fn call(
        &self,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let proxy = crate::llm::proxy::choose(&url, false, &crate::llm::proxy::process_env)
            .map_err(|e| HttpError(e.to_string()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(CALL_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(proxy)
            .user_agent(format!("daehwa/{}", crate::VERSION))
            .build()
            .into();
        let (parts, body) = request.into_parts();
        let sent = if parts.method == http::Method::GET {
            agent.run(http::Request::from_parts(parts, ()))
        } else {
            agent.run(http::Request::from_parts(parts, body))
        };
        let mut response = sent.map_err(|e| match e {
            ureq::Error::Timeout(_) => HttpError("no answer in time".into()),
            e => HttpError(e.to_string()),
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| HttpError(format!("reading the answer: {e}")))?;
        let mut out = http::Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> OidcSettings {
        OidcSettings::default()
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn claims_map_to_an_identity() {
        let id = identity(
            "https://idp",
            "abc".into(),
            &map(
                json!({"preferred_username": "kim", "name": "Kim", "email": "k@x.example",
                "groups": ["a", " b ", 3]}),
            ),
            &settings(),
        );
        assert_eq!(id.issuer, "oidc:https://idp");
        assert_eq!(id.external_id, "abc");
        assert_eq!(id.username, "kim");
        assert_eq!(id.display_name.as_deref(), Some("Kim"));
        assert_eq!(id.email.as_deref(), Some("k@x.example"));
        assert_eq!(id.groups, vec!["a", "b"]);
    }

    #[test]
    fn the_username_falls_back_to_the_email_then_sub_and_groups_may_be_a_string() {
        let mut s = settings();
        s.groups_claim = "roles".into();
        let id = identity(
            "i",
            "sub-1".into(),
            &map(json!({"email": "lee@corp.example", "roles": "x, y z"})),
            &s,
        );
        assert_eq!(id.username, "lee");
        assert_eq!(id.groups, vec!["x", "y", "z"]);
        let id = identity("i", "sub-1".into(), &map(json!({})), &s);
        assert_eq!(id.username, "sub-1");
        assert!(id.groups.is_empty());
        s.username_claim = "upn".into();
        let id = identity("i", "s".into(), &map(json!({"upn": "park"})), &s);
        assert_eq!(id.username, "park");
    }

    #[test]
    fn scopes_skip_openid_and_duplicates() {
        assert_eq!(
            scopes("openid profile email,groups profile"),
            vec!["profile", "email", "groups"]
        );
    }

    #[test]
    fn attempts_work_once_and_expire() {
        let oidc = Oidc::new(false);
        let attempt = |created| Attempt {
            issuer: "i".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            return_to: "/".into(),
            redirect_uri: "http://x/cb".into(),
            binding: "secret".into(),
            created,
        };
        oidc.remember("s1".into(), attempt(Instant::now()));
        let taken = oidc.take("s1").unwrap();
        assert!(taken.bound_to(Some("secret")));
        assert!(!taken.bound_to(Some("secreT")));
        assert!(!taken.bound_to(None));
        assert!(oidc.take("s1").is_none());
        if let Some(old) = Instant::now().checked_sub(ATTEMPT_TTL + Duration::from_secs(1)) {
            oidc.remember("s2".into(), attempt(old));
            assert!(oidc.take("s2").is_none());
        }
    }

    #[test]
    fn the_attempt_map_is_bounded() {
        let oidc = Oidc::new(false);
        for i in 0..MAX_ATTEMPTS + 5 {
            oidc.remember(
                format!("s{i}"),
                Attempt {
                    issuer: String::new(),
                    nonce: String::new(),
                    pkce_verifier: String::new(),
                    return_to: String::new(),
                    redirect_uri: String::new(),
                    binding: String::new(),
                    created: Instant::now(),
                },
            );
        }
        assert_eq!(oidc.pending(), MAX_ATTEMPTS);
    }
}
