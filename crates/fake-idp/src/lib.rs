//! fake-idp: a small OpenID Connect provider on 127.0.0.1 for daehwa's OIDC
//! sign-in tests. It auto-approves every authorization request as the
//! configured user, and its knobs make it misbehave the ways a real provider
//! (or an attacker in its place) can.
//!
//! ```no_run
//! # async fn demo() {
//! use fake_idp::FakeIdp;
//! let idp = FakeIdp::start("daehwa", Some("s3cret")).await;
//! let issuer = idp.issuer(); // "http://127.0.0.1:PORT"
//! idp.configure(|k| k.wrong_audience = true);
//! idp.rotate_keys(); // a new key (new `kid`); the old one is no longer published
//! # }
//! ```
//!
//! # Routes
//! - `GET /.well-known/openid-configuration`: discovery.
//! - `GET /jwks`: the published key (one RSA key, `RS256`).
//! - `GET /authorize`: checks `response_type=code`, `client_id`,
//!   `redirect_uri` (one of [`Knobs::redirect_uris`], any when empty) and a
//!   PKCE challenge with method `S256`, then 302s to
//!   `redirect_uri?code=…&state=…` (or `?error=access_denied&state=…` with
//!   [`Knobs::deny`]).
//! - `POST /token`: `grant_type=authorization_code`; the code works once, for
//!   the same client and `redirect_uri`, with the PKCE verifier of its
//!   challenge, and the client secret (Basic or form) when one is set.
//! - `GET /userinfo`: the user's claims for the access token (Bearer).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Who the provider signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub sub: String,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

impl Default for User {
    fn default() -> Self {
        User {
            sub: "user-0001".into(),
            preferred_username: Some("kim".into()),
            name: Some("Kim Minji".into()),
            email: Some("kim@corp.example".into()),
            groups: vec!["staff".into()],
        }
    }
}

/// What the provider does; change with [`FakeIdp::configure`] at any time.
#[derive(Debug, Clone, Default)]
pub struct Knobs {
    pub client_id: String,
    /// `None`: a public client (no client authentication at `/token`).
    pub client_secret: Option<String>,
    /// The registered redirect URIs; empty accepts any.
    pub redirect_uris: Vec<String>,
    pub user: User,
    /// The ID token's `iss` is not the issuer.
    pub wrong_issuer: bool,
    /// The ID token's `aud` is another client.
    pub wrong_audience: bool,
    /// The ID token expired ten minutes ago.
    pub expired: bool,
    /// The ID token carries this nonce instead of the request's (a replay).
    pub fixed_nonce: Option<String>,
    /// The ID token is signed with a key the JWKS does not publish.
    pub sign_with_unpublished_key: bool,
    /// The `groups` claim is left out of the ID token (userinfo still has it).
    pub groups_only_in_userinfo: bool,
    /// `/authorize` answers `error=access_denied`.
    pub deny: bool,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl Key {
    fn generate(kid: String) -> Key {
        let mut rng = rand08::thread_rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
        let der = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(&private).expect("PKCS#1 DER");
        let public = private.to_public_key();
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });
        Key {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk,
        }
    }
}

struct Keys {
    published: Key,
    unpublished: Key,
}

/// An authorization code not yet exchanged.
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    user: User,
}

struct State {
    addr: SocketAddr,
    knobs: Mutex<Knobs>,
    keys: Mutex<Keys>,
    codes: Mutex<HashMap<String, Grant>>,
    access_tokens: Mutex<HashMap<String, User>>,
    key_serial: AtomicU64,
    discoveries: AtomicU64,
    jwks_fetches: AtomicU64,
    token_requests: AtomicU64,
}

/// A poisoned lock only means another request panicked; the data is still fine.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running provider on 127.0.0.1. Dropping it stops the server.
pub struct FakeIdp {
    state: Arc<State>,
    stop: watch::Sender<bool>,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn random_token() -> String {
    use rand08::RngCore;
    let mut bytes = [0u8; 24];
    rand08::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl FakeIdp {
    /// Starts a provider for the client `client_id` (with `client_secret`,
    /// or a public client); panics if it cannot bind (port 0 on loopback).
    pub async fn start(client_id: &str, client_secret: Option<&str>) -> FakeIdp {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("fake-idp binds 127.0.0.1");
        let addr = listener.local_addr().expect("bound address");
        let keys = tokio::task::spawn_blocking(|| Keys {
            published: Key::generate("key-1".into()),
            unpublished: Key::generate("unpublished-1".into()),
        })
        .await
        .expect("key generation");
        let state = Arc::new(State {
            addr,
            knobs: Mutex::new(Knobs {
                client_id: client_id.to_string(),
                client_secret: client_secret.map(str::to_string),
                ..Knobs::default()
            }),
            keys: Mutex::new(keys),
            codes: Mutex::new(HashMap::new()),
            access_tokens: Mutex::new(HashMap::new()),
            key_serial: AtomicU64::new(1),
            discoveries: AtomicU64::new(0),
            jwks_fetches: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
        });
        let (stop, mut stopped) = watch::channel(false);
        let server = warp::serve(routes(state.clone()))
            .incoming(listener)
            .graceful(async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
        tokio::spawn(server.run());
        FakeIdp { state, stop }
    }

    /// `http://127.0.0.1:PORT`: the issuer URL (discovery is below it).
    pub fn issuer(&self) -> String {
        format!("http://{}", self.state.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.state.addr
    }

    /// Changes the knobs; the next request sees them.
    pub fn configure(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut lock(&self.state.knobs));
    }

    pub fn knobs(&self) -> Knobs {
        lock(&self.state.knobs).clone()
    }

    /// Publishes a new signing key with a new `kid` and stops publishing the
    /// old one (tokens it signed no longer verify). Blocking for a moment:
    /// it generates an RSA key.
    pub fn rotate_keys(&self) -> String {
        let n = self.state.key_serial.fetch_add(1, Ordering::SeqCst) + 1;
        let key = Key::generate(format!("key-{n}"));
        let kid = key.kid.clone();
        lock(&self.state.keys).published = key;
        kid
    }

    /// The `kid` of the published key.
    pub fn published_kid(&self) -> String {
        lock(&self.state.keys).published.kid.clone()
    }

    /// Discovery documents served so far.
    pub fn discoveries(&self) -> u64 {
        self.state.discoveries.load(Ordering::SeqCst)
    }

    /// JWKS documents served so far.
    pub fn jwks_fetches(&self) -> u64 {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Token requests received so far (accepted or not).
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Ordering::SeqCst)
    }
}

fn json_reply(status: StatusCode, body: &Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_reply(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn redirect(location: &str) -> Response {
    let mut res = Response::new(Default::default());
    *res.status_mut() = StatusCode::FOUND;
    if let Ok(value) = warp::http::HeaderValue::from_str(location) {
        res.headers_mut()
            .insert(warp::http::header::LOCATION, value);
    }
    res
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", query.join("&"))
}

fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    let with = {
        let state = state.clone();
        warp::any().map(move || state.clone())
    };
    let discovery = warp::path!(".well-known" / "openid-configuration")
        .and(warp::get())
        .and(with.clone())
        .map(discovery);
    let jwks = warp::path!("jwks")
        .and(warp::get())
        .and(with.clone())
        .map(jwks);
    let authorize = warp::path!("authorize")
        .and(warp::get())
        .and(with.clone())
        .and(warp::query::<HashMap<String, String>>())
        .map(authorize);
    let token = warp::path!("token")
        .and(warp::post())
        .and(with.clone())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::content_length_limit(64 * 1024))
        .and(warp::body::form::<HashMap<String, String>>())
        .map(token);
    let userinfo = warp::path!("userinfo")
        .and(warp::get())
        .and(with)
        .and(warp::header::optional::<String>("authorization"))
        .map(userinfo);
    discovery
        .or(jwks)
        .unify()
        .or(authorize)
        .unify()
        .or(token)
        .unify()
        .or(userinfo)
        .unify()
        .recover(|rejection: warp::Rejection| async move {
            let status = if rejection.is_not_found() {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_REQUEST
            };
            Ok::<_, std::convert::Infallible>(oauth_error(
                status,
                "invalid_request",
                &format!("{rejection:?}"),
            ))
        })
        .unify()
}

fn discovery(state: Arc<State>) -> Response {
    state.discoveries.fetch_add(1, Ordering::SeqCst);
    let issuer = format!("http://{}", state.addr);
    json_reply(
        StatusCode::OK,
        &json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "groups"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "name",
                "email", "preferred_username", "groups"],
        }),
    )
}

fn jwks(state: Arc<State>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = lock(&state.keys);
    json_reply(StatusCode::OK, &json!({"keys": [keys.published.jwk]}))
}

fn authorize(state: Arc<State>, query: HashMap<String, String>) -> Response {
    let knobs = lock(&state.knobs).clone();
    let get = |k: &str| query.get(k).map(String::as_str).unwrap_or("");
    let redirect_uri = get("redirect_uri");
    if get("client_id") != knobs.client_id {
        return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client", "client_id");
    }
    if redirect_uri.is_empty()
        || !(knobs.redirect_uris.is_empty()
            || knobs.redirect_uris.iter().any(|u| u == redirect_uri))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not registered",
        );
    }
    let state_param = get("state");
    let refuse = |error: &str| {
        redirect(&with_query(
            redirect_uri,
            &[("error", error), ("state", state_param)],
        ))
    };
    if knobs.deny {
        return refuse("access_denied");
    }
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").is_empty()
        || !get("scope").split(' ').any(|s| s == "openid")
    {
        return refuse("invalid_request");
    }
    let code = random_token();
    lock(&state.codes).insert(
        code.clone(),
        Grant {
            client_id: knobs.client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            challenge: get("code_challenge").to_string(),
            nonce: query.get("nonce").cloned(),
            user: knobs.user.clone(),
        },
    );
    redirect(&with_query(
        redirect_uri,
        &[("code", &code), ("state", state_param)],
    ))
}

/// The client id and secret of a `Basic` authorization header.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// `application/x-www-form-urlencoded` decoding (oauth2 encodes Basic credentials so).
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn token(
    state: Arc<State>,
    authorization: Option<String>,
    form: HashMap<String, String>,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let knobs = lock(&state.knobs).clone();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "");
    }
    let (client_id, secret) = match authorization.as_deref().and_then(basic_credentials) {
        Some((id, secret)) => (id, Some(secret)),
        None => (
            get("client_id").to_string(),
            form.get("client_secret").cloned(),
        ),
    };
    if client_id != knobs.client_id {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client");
    }
    if let Some(expected) = &knobs.client_secret {
        if secret.as_deref() != Some(expected.as_str()) {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "bad secret");
        }
    }
    // One use: removed whatever happens next.
    let Some(grant) = lock(&state.codes).remove(get("code")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    if grant.client_id != client_id || grant.redirect_uri != get("redirect_uri") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri");
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
    if get("code_verifier").is_empty() || challenge != grant.challenge {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE verifier");
    }
    let issuer = format!("http://{}", state.addr);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (iat, exp) = if knobs.expired {
        (now - 1200, now - 600)
    } else {
        (now, now + 300)
    };
    let user = &grant.user;
    let mut claims = json!({
        "iss": if knobs.wrong_issuer { format!("{issuer}/someone-else") } else { issuer },
        "sub": user.sub,
        "aud": if knobs.wrong_audience { "another-client".to_string() } else { client_id },
        "iat": iat,
        "exp": exp,
    });
    let object = claims.as_object_mut().expect("an object");
    if let Some(nonce) = knobs.fixed_nonce.clone().or(grant.nonce) {
        object.insert("nonce".into(), nonce.into());
    }
    for (name, value) in [
        ("preferred_username", &user.preferred_username),
        ("name", &user.name),
        ("email", &user.email),
    ] {
        if let Some(value) = value {
            object.insert(name.into(), value.clone().into());
        }
    }
    if !knobs.groups_only_in_userinfo {
        object.insert("groups".into(), user.groups.clone().into());
    }
    let id_token = {
        let keys = lock(&state.keys);
        let key = if knobs.sign_with_unpublished_key {
            &keys.unpublished
        } else {
            &keys.published
        };
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        match jsonwebtoken::encode(&header, &claims, &key.encoding) {
            Ok(token) => token,
            Err(e) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                )
            }
        }
    };
    let access_token = random_token();
    lock(&state.access_tokens).insert(access_token.clone(), user.clone());
    json_reply(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }),
    )
}

fn userinfo(state: Arc<State>, authorization: Option<String>) -> Response {
    let token = authorization
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(user) = lock(&state.access_tokens).get(token).cloned() else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "");
    };
    json_reply(
        StatusCode::OK,
        &json!({
            "sub": user.sub,
            "preferred_username": user.preferred_username,
            "name": user.name,
            "email": user.email,
            "groups": user.groups,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%2Bcret"));
        assert_eq!(
            basic_credentials(&header),
            Some(("my app".into(), "s+cret".into()))
        );
        assert_eq!(form_decode("a+b%41%"), "a bA%");
    }

    #[tokio::test]
    async fn discovery_and_jwks_are_served_and_keys_rotate() {
        let idp = FakeIdp::start("app", None).await;
        let config: Value = get_json(&format!(
            "{}/.well-known/openid-configuration",
            idp.issuer()
        ))
        .await;
        assert_eq!(config["issuer"], json!(idp.issuer()));
        let jwks: Value = get_json(&format!("{}/jwks", idp.issuer())).await;
        assert_eq!(jwks["keys"][0]["kid"], json!("key-1"));
        let kid = idp.rotate_keys();
        let jwks: Value = get_json(&format!("{}/jwks", idp.issuer())).await;
        assert_eq!(jwks["keys"][0]["kid"], json!(kid));
        assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
        assert_eq!(idp.discoveries(), 1);
    }

    /// A bare HTTP/1.1 GET (no client crate needed).
    async fn get_json(url: &str) -> Value {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rest = url.strip_prefix("http://").expect("http URL");
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or(Value::Null)
    }
}
