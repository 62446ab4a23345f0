//! Server-sent events parsing shared by every provider: bytes in (as they come
//! off the socket, split anywhere), complete events out.
//!
//! Follows the WHATWG rules that matter for LLM streams: lines end in `\n`,
//! `\r\n` or `\r` (a `\r\n` may be split across reads); `:` starts a comment
//! (OpenRouter's keep-alives); `data:` lines of one event are joined with
//! `\n`; one space after the colon is dropped; a blank line ends the event;
//! an event without data is not dispatched. Lines are decoded as UTF-8 only
//! once complete, so a multi-byte character split across reads survives.

use super::LlmError;

/// The longest line accepted: far above any real chunk, low enough that a
/// broken upstream cannot grow memory without bound.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (Anthropic names its events; OpenAI does not).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental parser: feed it whatever the socket gave with [`push`], then
/// [`finish`] at the end of the body.
///
/// [`push`]: SseParser::push
/// [`finish`]: SseParser::finish
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last byte seen was `\r`: a `\n` right after it ends nothing more.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Consumes `bytes`, appending every event they complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LlmError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.line.extend_from_slice(&rest[..end]);
                    self.after_cr = rest[end] == b'\r';
                    rest = &rest[end + 1..];
                    self.end_line(out);
                }
                None => {
                    self.line.extend_from_slice(rest);
                    rest = &[];
                }
            }
            if self.line.len() > MAX_LINE {
                return Err(LlmError::Malformed(
                    "a line of the stream is too long".into(),
                ));
            }
        }
        Ok(())
    }

    /// The body ended: a last line without its newline still counts, and an
    /// event missing its closing blank line is dispatched rather than lost
    /// (lenient: some servers close right after the final `data:` line).
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            self.end_line(out);
        }
        self.dispatch(out);
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (&line[..], &[][..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            // `id` and `retry` matter to browsers reconnecting, not to us.
            _ => {}
        }
        self.line = line; // keep the allocation
        self.line.clear();
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
            });
        }
        self.event = None;
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `size` bytes and collects the events.
    fn parse_in_pieces(input: &[u8], size: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for piece in input.chunks(size) {
            parser.push(piece, &mut out).unwrap();
        }
        parser.finish(&mut out);
        out
    }

    fn data(d: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: d.into(),
        }
    }

    #[test]
    fn events_come_out_the_same_however_the_bytes_are_split() {
        let input = "data: {\"a\":1}\n\ndata: 안녕하세요\r\n\r\nevent: ping\ndata: {}\n\n";
        let want = vec![
            data("{\"a\":1}"),
            data("안녕하세요"),
            SseEvent {
                event: Some("ping".into()),
                data: "{}".into(),
            },
        ];
        for size in 1..=input.len() {
            assert_eq!(
                parse_in_pieces(input.as_bytes(), size),
                want,
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn line_endings_may_be_lf_crlf_or_cr() {
        for (input, why) in [
            ("data: x\n\n", "LF"),
            ("data: x\r\n\r\n", "CRLF"),
            ("data: x\r\r", "CR"),
            ("data: x\r\n\n", "mixed"),
        ] {
            assert_eq!(
                parse_in_pieces(input.as_bytes(), 1),
                vec![data("x")],
                "{why}"
            );
            assert_eq!(
                parse_in_pieces(input.as_bytes(), 64),
                vec![data("x")],
                "{why}"
            );
        }
    }

    #[test]
    fn comments_and_unknown_fields_are_skipped() {
        let input = b": OPENROUTER PROCESSING\n\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n:\n\n";
        assert_eq!(parse_in_pieces(input, 3), vec![data("x")]);
    }

    #[test]
    fn data_lines_of_one_event_are_joined_with_newlines() {
        let input = b"data: first\ndata:second\ndata:  indented\n\n";
        assert_eq!(
            parse_in_pieces(input, 5),
            vec![data("first\nsecond\n indented")]
        );
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_does_not_leak_its_name() {
        let input = b"event: lonely\n\ndata: x\n\n";
        assert_eq!(parse_in_pieces(input, 4), vec![data("x")]);
    }

    #[test]
    fn an_event_cut_off_by_the_end_of_the_body_is_still_delivered() {
        assert_eq!(parse_in_pieces(b"data: [DONE]", 4), vec![data("[DONE]")]);
        assert_eq!(parse_in_pieces(b"data: [DONE]\n", 4), vec![data("[DONE]")]);
    }

    #[test]
    fn a_field_without_a_colon_has_an_empty_value() {
        assert_eq!(parse_in_pieces(b"data\n\n", 2), vec![data("")]);
    }

    #[test]
    fn an_endless_line_is_malformed_instead_of_filling_memory() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let junk = vec![b'x'; 1024 * 1024];
        let mut result = Ok(());
        for _ in 0..5 {
            result = parser.push(&junk, &mut out);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(LlmError::Malformed(_))));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Events as a server writes them: `data` lines split on `\n`, an
        /// optional name, every line ended by the same line ending (mixing
        /// them is ambiguous: `\r` then an empty line ended by `\n` is `\r\n`).
        fn encode(events: &[SseEvent], ending: &str) -> Vec<u8> {
            let mut out = String::new();
            let end = |out: &mut String| out.push_str(ending);
            for e in events {
                if let Some(name) = &e.event {
                    out.push_str("event: ");
                    out.push_str(name);
                    end(&mut out);
                }
                for line in e.data.split('\n') {
                    out.push_str("data: ");
                    out.push_str(line);
                    end(&mut out);
                }
                end(&mut out);
            }
            out.into_bytes()
        }

        /// Text without `\r` (a line ending inside data cannot round-trip).
        fn text() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[^\r]{0,40}").unwrap()
        }

        fn event() -> impl Strategy<Value = SseEvent> {
            (
                proptest::option::of(proptest::string::string_regex("[a-z_]{1,12}").unwrap()),
                text(),
            )
                .prop_map(|(event, data)| SseEvent { event, data })
        }

        proptest! {
            #[test]
            fn any_bytes_split_anywhere_never_panic_and_parse_as_they_do_whole(
                bytes in proptest::collection::vec(any::<u8>(), 0..600),
                size in 1usize..64,
            ) {
                let whole = parse_in_pieces(&bytes, bytes.len().max(1));
                prop_assert_eq!(parse_in_pieces(&bytes, size), whole);
            }

            #[test]
            fn events_written_by_a_server_come_back_whatever_the_line_endings_and_splits(
                events in proptest::collection::vec(event(), 0..8),
                ending in proptest::sample::select(vec!["\n", "\r\n", "\r"]),
                size in 1usize..32,
            ) {
                let bytes = encode(&events, ending);
                prop_assert_eq!(parse_in_pieces(&bytes, size), events);
            }
        }
    }
}
