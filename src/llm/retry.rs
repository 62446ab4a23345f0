//! Whether and when to try an LLM call again (SPEC "Calling the LLM": retry
//! connection failures, 429 and 5xx before the first token with exponential
//! backoff and jitter, 3 tries, honour `Retry-After`).
//!
//! The policy is pure (`backoff`, `parse_retry_after`, `retryable_status`) and
//! the loop takes its sleep as a function, so both are tested without waiting.

use std::time::{Duration, SystemTime};

use super::LlmError;

/// Attempts in total, the first one included.
pub(crate) const MAX_ATTEMPTS: u32 = 3;
/// The wait after the first failure; doubled each time (OpenAI's and
/// Anthropic's own SDKs start at 0.5 s too).
const BASE_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);
/// The longest `Retry-After` worth waiting for. A longer one is not slept
/// through: the user learns at once that the provider is rate limiting,
/// instead of staring at a spinner for a minute and getting the same error.
pub(crate) const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

/// A failed attempt and whether another one may help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: LlmError,
    pub retryable: bool,
    /// What the provider asked for (`Retry-After`, `retry-after-ms`).
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn fatal(error: LlmError) -> Failure {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    pub(crate) fn retryable(error: LlmError) -> Failure {
        Failure {
            error,
            retryable: true,
            retry_after: None,
        }
    }
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Failure {
        // Only errors the transport marks as retryable are retried; an
        // in-stream error is judged by its status, like an HTTP answer.
        match error {
            LlmError::Status { status, .. } if retryable_status(status) => {
                Failure::retryable(error)
            }
            _ => Failure::fatal(error),
        }
    }
}

/// Statuses worth another try: request timeout, rate limit, server errors
/// (including Anthropic's 529 "overloaded").
pub(crate) fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// How long to wait after failed attempt number `attempt` (1-based), or
/// `None` when waiting is pointless (the provider asked for longer than
/// [`RETRY_AFTER_CAP`]). `jitter` is uniform in `0..1`.
///
/// Without `Retry-After`: 0.5 s, 1 s, 2 s … capped at 8 s, each shortened by up
/// to a quarter at random so that many streams failing together (an upstream
/// restart) do not come back in lockstep. With it: that long plus up to 10 %,
/// never less — the provider said "not before".
pub(crate) fn backoff(
    attempt: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let jitter = jitter.clamp(0.0, 1.0);
    if let Some(wait) = retry_after {
        return (wait <= RETRY_AFTER_CAP).then(|| wait + wait.mul_f64(0.1 * jitter));
    }
    let exp = BASE_DELAY
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_DELAY);
    Some(exp.mul_f64(1.0 - 0.25 * jitter))
}

/// `retry-after-ms` (OpenAI, milliseconds) wins over `Retry-After`
/// (seconds, or an HTTP date).
pub(crate) fn parse_retry_after(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = retry_after?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when = SystemTime::from(when);
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Runs `attempt` up to [`MAX_ATTEMPTS`] times. Between attempts it calls
/// `sleep(delay)`, which answers `false` when the call was cancelled meanwhile.
pub(crate) fn run<T>(
    mut attempt: impl FnMut() -> Result<T, Failure>,
    mut sleep: impl FnMut(Duration) -> bool,
) -> Result<T, LlmError> {
    let mut number = 1;
    loop {
        let failure = match attempt() {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        if !failure.retryable || number >= MAX_ATTEMPTS {
            return Err(failure.error);
        }
        let Some(delay) = backoff(number, failure.retry_after, rand::random::<f64>()) else {
            return Err(failure.error);
        };
        // The code, not the message: an upstream message may quote the prompt.
        log::info!(
            "LLM call failed ({}, status {}); attempt {} of {MAX_ATTEMPTS} in {} ms",
            failure.error.code(),
            failure.error.status(),
            number + 1,
            delay.as_millis()
        );
        if !sleep(delay) {
            return Err(LlmError::Cancelled);
        }
        number += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_capped() {
        assert_eq!(backoff(1, None, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(backoff(2, None, 0.0), Some(Duration::from_secs(1)));
        assert_eq!(backoff(2, None, 1.0), Some(Duration::from_millis(750)));
        assert_eq!(backoff(10, None, 0.0), Some(MAX_DELAY));
        assert_eq!(backoff(u32::MAX, None, 0.0), Some(MAX_DELAY));
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_a_wait_is_not_taken() {
        assert_eq!(
            backoff(1, Some(Duration::from_secs(1)), 0.0),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            backoff(1, Some(Duration::from_secs(2)), 1.0),
            Some(Duration::from_millis(2200))
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(31)), 0.0), None);
    }

    #[test]
    fn retry_after_is_read_in_its_three_forms() {
        assert_eq!(
            parse_retry_after(None, Some("2")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(None, Some("0.5")),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after(Some("250"), Some("2")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(None, Some("soon")), None);
        assert_eq!(parse_retry_after(None, Some("-1")), None);
        assert_eq!(parse_retry_after(None, None), None);
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [408, 429, 500, 502, 503, 504, 529] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 413, 422] {
            assert!(!retryable_status(status), "{status}");
        }
    }

    fn status(status: u16) -> LlmError {
        LlmError::Status {
            status,
            message: String::new(),
        }
    }

    #[test]
    fn three_attempts_then_the_last_error() {
        let mut calls = 0;
        let mut slept = Vec::new();
        let result: Result<(), _> = run(
            || {
                calls += 1;
                Err(Failure::from(status(500)))
            },
            |d| {
                slept.push(d);
                true
            },
        );
        assert_eq!(result, Err(status(500)));
        assert_eq!(calls, 3);
        assert_eq!(slept.len(), 2);
        assert!(slept[1] > slept[0] / 2, "{slept:?}");
    }

    #[test]
    fn a_fatal_failure_is_not_retried() {
        let mut calls = 0;
        let result: Result<(), _> = run(
            || {
                calls += 1;
                Err(Failure::from(status(401)))
            },
            |_| true,
        );
        assert_eq!(result, Err(status(401)));
        assert_eq!(calls, 1);
    }

    #[test]
    fn success_after_a_failure_is_returned() {
        let mut calls = 0;
        let result = run(
            || {
                calls += 1;
                if calls == 1 {
                    Err(Failure::from(status(429)))
                } else {
                    Ok(calls)
                }
            },
            |_| true,
        );
        assert_eq!(result, Ok(2));
    }

    #[test]
    fn a_cancel_during_the_wait_ends_the_call() {
        let mut calls = 0;
        let result: Result<(), _> = run(
            || {
                calls += 1;
                Err(Failure::from(status(503)))
            },
            |_| false,
        );
        assert_eq!(result, Err(LlmError::Cancelled));
        assert_eq!(calls, 1);
    }
}
