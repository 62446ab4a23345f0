//! What the fake does: the [`Behavior`] a test sets, the magic words a
//! question can carry to change one answer, and [`Plan`], the two merged for
//! one request. Pure code, unit-tested here.

use std::time::Duration;

/// How the fake answers. Change it at run time with `FakeLlm::set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behavior {
    /// Tokens per answer (one streamed delta each).
    pub tokens: usize,
    /// Wait before every token.
    pub token_delay: Duration,
    /// Extra wait before the first token (after the headers went out).
    pub first_token_delay: Duration,
    /// `(status, times)`: the next `times` API requests fail with `status` in
    /// the provider's error shape (a 429 carries `Retry-After: 1`), then
    /// requests succeed again.
    pub fail_with: Option<(u16, u32)>,
    /// With `fail_with`, a streamed request gets 200 and the failure as an
    /// event inside the stream (Anthropic `event: error` with the status's
    /// error type, e.g. 529 → `overloaded_error`; OpenAI
    /// `data: {"error": {…, "code": status}}`) instead of an error status.
    pub fail_in_stream: bool,
    /// After this many tokens, keep the connection open and send nothing more.
    pub stall_after: Option<usize>,
    /// After this many tokens, close the connection without finishing the
    /// response (the client sees a truncated chunked body).
    pub drop_after: Option<usize>,
    /// After this many tokens, send one chunk that is not JSON.
    pub malformed_after: Option<usize>,
    /// When set, requests without this key get 401 (OpenAI: `Authorization:
    /// Bearer`, Azure: `api-key`, Anthropic: `x-api-key`).
    pub api_key: Option<String>,
    /// The model ids the model lists report (Azure: deployment names).
    pub models: Vec<String>,
    /// Report token usage (OpenAI: the final usage chunk when asked for with
    /// `stream_options.include_usage`, and `usage` in JSON answers; Anthropic:
    /// the `usage` fields). `false` imitates servers that report none.
    pub usage: bool,
}

impl Default for Behavior {
    fn default() -> Behavior {
        Behavior {
            tokens: 20,
            token_delay: Duration::ZERO,
            first_token_delay: Duration::ZERO,
            fail_with: None,
            fail_in_stream: false,
            stall_after: None,
            drop_after: None,
            malformed_after: None,
            api_key: None,
            models: vec![
                "gpt-4o-mini".into(),
                "llama3.2:3b".into(),
                "claude-3-5-haiku-latest".into(),
            ],
            usage: true,
        }
    }
}

/// Per-request overrides read from `[[…]]` words in the last user message,
/// so a fake in another process (browser tests, benchmarks) can be steered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Magic {
    pub tokens: Option<usize>,
    pub token_delay: Option<Duration>,
    pub first_token_delay: Option<Duration>,
    /// `(status, None)`: always fail; `(status, Some(n))`: fail the first `n`
    /// requests whose last user message is exactly this one.
    pub fail: Option<(u16, Option<u32>)>,
    pub stall_after: Option<usize>,
    pub drop_after: Option<usize>,
    pub malformed_after: Option<usize>,
    /// `[[markdown]]`: answer with [`crate::MARKDOWN_ANSWER`] instead of tokens.
    pub markdown: bool,
    /// `[[echo]]`: answer with the text of every message the request carried.
    pub echo: bool,
}

/// The delay `[[slow]]` sets per token.
pub const SLOW_TOKEN_DELAY: Duration = Duration::from_millis(200);

/// Reads every `[[word]]` / `[[word:arg]]` in `text`; unknown or broken ones
/// are ignored (they are just text then).
pub fn parse_magic(text: &str) -> Magic {
    let mut magic = Magic::default();
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("]]") else { break };
        apply_word(&mut magic, after[..end].trim());
        rest = &after[end + 2..];
    }
    magic
}

fn apply_word(magic: &mut Magic, word: &str) {
    let mut parts = word.split(':').map(str::trim);
    let name = parts.next().unwrap_or_default().to_ascii_lowercase();
    let arg = parts.next().and_then(|a| a.parse::<u64>().ok());
    let arg2 = parts.next().and_then(|a| a.parse::<u32>().ok());
    let count = arg.and_then(|a| usize::try_from(a).ok());
    match (name.as_str(), arg) {
        ("slow", _) => magic.token_delay = Some(SLOW_TOKEN_DELAY),
        ("markdown", None) => magic.markdown = true,
        ("echo", None) => magic.echo = true,
        ("delay", Some(ms)) => magic.token_delay = Some(Duration::from_millis(ms)),
        ("first", Some(ms)) => magic.first_token_delay = Some(Duration::from_millis(ms)),
        ("tokens", Some(_)) => magic.tokens = count,
        ("stall", Some(_)) => magic.stall_after = count,
        ("drop", Some(_)) => magic.drop_after = count,
        ("bad", Some(_)) => magic.malformed_after = count,
        ("fail", Some(status)) if (400..600).contains(&status) => {
            magic.fail = Some((status as u16, arg2));
        }
        _ => {}
    }
}

/// One request's answer: the behaviour with the magic words applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub tokens: usize,
    pub token_delay: Duration,
    pub first_token_delay: Duration,
    pub stall_after: Option<usize>,
    pub drop_after: Option<usize>,
    pub malformed_after: Option<usize>,
    pub usage: bool,
}

impl Plan {
    pub fn new(behavior: &Behavior, magic: &Magic) -> Plan {
        Plan {
            tokens: magic.tokens.unwrap_or(behavior.tokens),
            token_delay: magic.token_delay.unwrap_or(behavior.token_delay),
            first_token_delay: magic
                .first_token_delay
                .unwrap_or(behavior.first_token_delay),
            stall_after: magic.stall_after.or(behavior.stall_after),
            drop_after: magic.drop_after.or(behavior.drop_after),
            malformed_after: magic.malformed_after.or(behavior.malformed_after),
            usage: behavior.usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_words_are_read_anywhere_in_the_question() {
        let magic =
            parse_magic("hello [[slow]] and [[tokens:50]] [[stall:3]][[drop:4]] [[bad:2]] bye");
        assert_eq!(
            magic,
            Magic {
                tokens: Some(50),
                token_delay: Some(SLOW_TOKEN_DELAY),
                stall_after: Some(3),
                drop_after: Some(4),
                malformed_after: Some(2),
                ..Magic::default()
            }
        );
    }

    #[test]
    fn fail_takes_a_status_and_an_optional_count() {
        assert_eq!(parse_magic("[[fail:500]]").fail, Some((500, None)));
        assert_eq!(parse_magic("[[fail:429:2]]").fail, Some((429, Some(2))));
        assert_eq!(
            parse_magic("[[fail:200]]").fail,
            None,
            "not an error status"
        );
    }

    #[test]
    fn markdown_and_echo_are_switches() {
        let magic = parse_magic("show me [[markdown]] [[tokens:5]]");
        assert!(magic.markdown && !magic.echo);
        assert_eq!(magic.tokens, Some(5));
        assert!(parse_magic("[[ECHO]]").echo);
        assert_eq!(parse_magic("[[markdown:1]]"), Magic::default());
    }

    #[test]
    fn broken_or_unknown_words_are_plain_text() {
        for text in [
            "[[tokens]]",
            "[[tokens:x]]",
            "[[nonsense:1]]",
            "[[slow",
            "[]",
            "안녕 [[ ]]",
        ] {
            assert_eq!(parse_magic(text), Magic::default(), "{text}");
        }
        assert_eq!(
            parse_magic("[[ Delay : 30 ]]").token_delay,
            Some(Duration::from_millis(30))
        );
        assert_eq!(
            parse_magic("[[first:100]]").first_token_delay,
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn magic_overrides_the_behavior_for_one_request() {
        let behavior = Behavior {
            tokens: 5,
            drop_after: Some(1),
            ..Behavior::default()
        };
        let plan = Plan::new(&behavior, &parse_magic("[[tokens:7]]"));
        assert_eq!(plan.tokens, 7);
        assert_eq!(plan.drop_after, Some(1));
        assert_eq!(plan.token_delay, Duration::ZERO);
    }
}
