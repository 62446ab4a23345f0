//! [`LlmError`]: every way an LLM call can fail, with a message a person
//! understands and the HTTP status and code daehwa answers its own client with.

/// Why an LLM call failed. The `Display` text is the whole story, with what
/// the provider said (its error body, a host name, a TLS reason): it is for
/// administrators only (the log, the status page's last error per
/// connection), because a provider's error body can hold internal URLs, keys
/// echoed back or stack traces. Users get [`LlmError::user_message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// Could not connect (DNS, refused, TLS, proxy), or the connection broke
    /// off before the answer was complete.
    #[error("could not reach the LLM provider: {0}")]
    Connect(String),
    /// The upstream answered with an error status, or reported an error inside
    /// its stream (Anthropic's `error` event: its type mapped to the status it
    /// stands for, e.g. `overloaded_error` → 529). `message` comes from the
    /// provider's JSON error when it sent one.
    #[error("the LLM provider answered {status}: {message}")]
    Status { status: u16, message: String },
    /// The connect timeout or the idle timeout (silence between reads) passed.
    #[error("the LLM provider did not answer in time")]
    Timeout,
    /// A chunk or an answer that does not parse.
    #[error("the LLM provider sent an answer that could not be read: {0}")]
    Malformed(String),
    /// The caller's cancel flag was set (stop button, shutdown).
    #[error("the answer was stopped")]
    Cancelled,
}

/// The one mapping from a provider failure to what daehwa's clients get: the
/// engine (a failed answer's stored error, the SSE `error` event, the
/// non-streamed answer's status), the native API and the compatibility
/// dialects all answer with [`LlmError::status`], [`LlmError::code`] and
/// [`LlmError::user_message`] (through `service::Error::Llm`), so one failure
/// reads the same everywhere.
impl LlmError {
    /// The status daehwa answers its own client with (SPEC §2: 429 rate
    /// limited, 502/503/504 for upstream failures).
    ///
    /// - `Connect`, `Malformed`, upstream 5xx → 502; upstream 504 or 408 → 504.
    /// - Upstream 429 → 429 with `Retry-After` ([`LlmError::retry_after`]):
    ///   the user (or an SDK) may retry later.
    /// - Every other upstream 4xx (401, 403, 404, 400 …) → 502. These are about
    ///   daehwa's own credentials or configuration of the connection, not the
    ///   user's request: passing a 401 through would make the web app believe
    ///   the user's session ended, a 404 would read as "no such conversation".
    /// - `Timeout` → 504.
    /// - `Cancelled` → 503: it only reaches a client when the server is
    ///   shutting down (a user's own stop is not an error).
    pub fn status(&self) -> u16 {
        match self {
            LlmError::Connect(_) | LlmError::Malformed(_) => 502,
            LlmError::Timeout => 504,
            LlmError::Cancelled => 503,
            LlmError::Status { status, .. } => match status {
                429 => 429,
                408 | 504 => 504,
                _ => 502,
            },
        }
    }

    /// The machine code of SPEC's `{"error", "code"}` body (and of the SSE
    /// `error` event), finer than the status. The web app and the tests know
    /// the `upstream_` family.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Connect(_) => "upstream_unreachable",
            LlmError::Timeout => "upstream_timeout",
            LlmError::Malformed(_) => "upstream_malformed",
            LlmError::Cancelled => "interrupted",
            LlmError::Status { status, .. } => match status {
                401 | 403 => "upstream_unauthorized",
                429 => "upstream_rate_limited",
                408 | 504 => "upstream_timeout",
                _ => "upstream_error",
            },
        }
    }

    /// Seconds a client should wait before trying again (`Retry-After`), for
    /// the failures that have one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            LlmError::Status { status: 429, .. } => Some(1),
            _ => None,
        }
    }

    /// What a user is told (the stored error of an answer, SSE `error`
    /// events, the gateway's and the seed dialects' errors): what happened
    /// and the provider's HTTP status, never text the provider sent.
    pub fn user_message(&self) -> String {
        match self {
            LlmError::Connect(_) => "could not reach the model's provider".into(),
            LlmError::Status { status: 429, .. } => {
                "the model's provider is receiving too many requests (HTTP 429); \
                 try again in a moment"
                    .into()
            }
            LlmError::Status {
                status: status @ (401 | 403),
                ..
            } => format!(
                "the model's provider refused this server's credentials (HTTP {status}); \
                 an administrator must check the connection"
            ),
            LlmError::Status { status, .. } => {
                format!("the model's provider answered with an error (HTTP {status})")
            }
            LlmError::Timeout => "the model's provider did not answer in time".into(),
            LlmError::Malformed(_) => {
                "the model's provider sent an answer that could not be read".into()
            }
            LlmError::Cancelled => {
                "interrupted: the server was shut down while this answer was being written".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> LlmError {
        LlmError::Status {
            status,
            message: "x".into(),
        }
    }

    #[test]
    fn upstream_failures_map_to_the_statuses_the_spec_allows() {
        let cases: &[(LlmError, u16, &str)] = &[
            (LlmError::Connect("refused".into()), 502, "unreachable"),
            (LlmError::Malformed("bad".into()), 502, "unreadable answer"),
            (LlmError::Timeout, 504, "timeout"),
            (LlmError::Cancelled, 503, "shutdown"),
            (status(500), 502, "upstream 500"),
            (status(529), 502, "anthropic overloaded"),
            (status(504), 504, "upstream gateway timeout"),
            (status(429), 429, "rate limit passes through"),
            (status(401), 502, "our key is wrong, not the user's session"),
            (
                status(404),
                502,
                "misconfigured model, not a missing resource",
            ),
        ];
        for (err, want, why) in cases {
            assert_eq!(err.status(), *want, "{why}");
        }
    }

    #[test]
    fn users_are_told_the_status_and_never_what_the_provider_wrote() {
        let secret = "at http://10.1.2.3/internal key=sk-live-abc123";
        let cases = [
            LlmError::Status {
                status: 500,
                message: secret.into(),
            },
            LlmError::Status {
                status: 401,
                message: secret.into(),
            },
            LlmError::Status {
                status: 429,
                message: secret.into(),
            },
            LlmError::Connect(secret.into()),
            LlmError::Malformed(secret.into()),
        ];
        for err in cases {
            let told = err.user_message();
            assert!(
                !told.contains("sk-live") && !told.contains("10.1.2.3"),
                "{told}"
            );
            assert!(
                err.to_string().contains(secret),
                "the raw text stays for admins"
            );
        }
        assert_eq!(
            status(502).user_message(),
            "the model's provider answered with an error (HTTP 502)"
        );
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(status(401).to_string(), "the LLM provider answered 401: x");
        assert_eq!(status(401).code(), "upstream_unauthorized");
        assert_eq!(status(429).code(), "upstream_rate_limited");
        assert_eq!(status(429).retry_after(), Some(1));
        assert_eq!(
            LlmError::Timeout.to_string(),
            "the LLM provider did not answer in time"
        );
    }
}
