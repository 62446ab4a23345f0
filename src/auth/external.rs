//! Sign-in through other systems (seed 001):
//! - `/auth/token`: a trusted issuer signs `{user_id, display_name?, roles?}`
//!   with a shared secret;
//! - `/auth/exchange`: an external access token is checked against a userinfo
//!   URL (ureq, on a blocking thread).

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How far `X-Timestamp` may be from the server's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

/// Why a signed `/auth/token` request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

/// Checks `X-Signature: sha256=<hex>` over `"<X-Timestamp>.<raw body>"`.
///
/// The timestamp is inside the signed text, so a captured request cannot be
/// replayed later with a fresh timestamp (an HMAC of the body alone would
/// allow that, and the ±5 minute check would protect nothing).
pub fn check_signature(
    secret: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(SignatureError::Missing);
    };
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed)?;
    if (now - ts).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let hex = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = decode_hex(hex).ok_or(SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    // Constant-time comparison.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature a trusted issuer sends (used by tests and by operators'
/// integration code as the reference).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Who the userinfo endpoint says the external token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub id: String,
    pub name: Option<String>,
    /// `preferred_username` or `username`, a hint for the local username.
    pub username: Option<String>,
}

/// Why the userinfo call did not yield an identity.
#[derive(Debug, PartialEq, Eq)]
pub enum ExchangeError {
    /// The endpoint answered 401/403: the token is not valid there.
    Rejected,
    /// It answered 200 without saying whose the token is (no `sub` or
    /// `id`): the token does not identify anyone, so it is refused (401).
    NoIdentity,
    /// It answered, but not with a usable answer (another status, not JSON).
    BadAnswer(String),
    /// No answer within the timeout.
    Timeout,
    /// Could not connect, or another transport failure.
    Unreachable(String),
}

/// Asks `userinfo_url` who `token` is. Blocking: run on a blocking thread.
pub fn fetch_userinfo(
    userinfo_url: &str,
    token: &str,
    timeout: Duration,
) -> Result<ExternalIdentity, ExchangeError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .get(userinfo_url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", "application/json")
        .call();
    let mut response = match response {
        Ok(r) => r,
        Err(ureq::Error::Timeout(_)) => return Err(ExchangeError::Timeout),
        Err(ureq::Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            return Err(ExchangeError::Timeout)
        }
        Err(e) => return Err(ExchangeError::Unreachable(e.to_string())),
    };
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        return Err(ExchangeError::Rejected);
    }
    if status != 200 {
        return Err(ExchangeError::BadAnswer(format!("status {status}")));
    }
    let body: Value = match response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_json()
    {
        Ok(v) => v,
        Err(ureq::Error::Timeout(_)) => return Err(ExchangeError::Timeout),
        Err(e) => return Err(ExchangeError::BadAnswer(format!("not JSON: {e}"))),
    };
    identity_from(&body).ok_or(ExchangeError::NoIdentity)
}

/// The stable id (`sub`, else `id`, string or number) and a display name.
pub fn identity_from(body: &Value) -> Option<ExternalIdentity> {
    let id = ["sub", "id"].iter().find_map(|k| match body.get(*k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })?;
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| {
                body.get(*k)?
                    .as_str()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            })
            .map(str::to_string)
    };
    Some(ExternalIdentity {
        id,
        name: text(&["name", "display_name", "preferred_username", "username"]),
        username: text(&["preferred_username", "username"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"issuer secret";

    #[test]
    fn a_fresh_correct_signature_is_accepted() {
        let body = br#"{"user_id":"emp-1"}"#;
        let sig = sign(SECRET, "1000", body);
        assert_eq!(
            check_signature(SECRET, Some(&sig), Some("1000"), body, 1100),
            Ok(())
        );
    }

    #[test]
    fn bad_stale_missing_and_replayed_signatures_are_refused() {
        let body = br#"{"user_id":"emp-1"}"#;
        let sig = sign(SECRET, "1000", body);
        let check = |sig: Option<&str>, ts: Option<&str>, body: &[u8], now| {
            check_signature(SECRET, sig, ts, body, now)
        };
        assert_eq!(
            check(None, Some("1000"), body, 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check(Some(&sig), None, body, 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check(Some(&sig), Some("1000"), body, 1000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            check(Some(&sig), Some("x"), body, 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(Some("md5=00"), Some("1000"), body, 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(Some(&sig), Some("1000"), br#"{"user_id":"emp-2"}"#, 1000),
            Err(SignatureError::Mismatch)
        );
        // The same signature with a fresher timestamp: the timestamp is signed.
        assert_eq!(
            check(Some(&sig), Some("1200"), body, 1200),
            Err(SignatureError::Mismatch)
        );
        let other = sign(b"other secret", "1000", body);
        assert_eq!(
            check(Some(&other), Some("1000"), body, 1000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_identity_comes_from_sub_or_id_with_a_name_if_any() {
        assert_eq!(
            identity_from(&json!({"sub": "abc", "name": "Kim"})),
            Some(ExternalIdentity {
                id: "abc".into(),
                name: Some("Kim".into()),
                username: None
            })
        );
        assert_eq!(
            identity_from(&json!({"id": 42, "preferred_username": "lee"})),
            Some(ExternalIdentity {
                id: "42".into(),
                name: Some("lee".into()),
                username: Some("lee".into())
            })
        );
        assert_eq!(identity_from(&json!({"name": "nobody"})), None);
        assert_eq!(identity_from(&json!({"sub": ""})), None);
    }
}
