//! Multipart form bodies (file uploads), bounded everywhere a client could
//! make the server hold bytes: the whole body by the route's limit as it
//! arrives ([`super::filters::body_stream_within`]), each part's headers by
//! [`MAX_PART_HEADER_BYTES`] (checked on the raw bytes before the parser
//! buffers them, since multer waits for a part's blank line however far
//! away it is), each file name by [`MAX_FILE_NAME_BYTES`], each field by
//! whoever reads it ([`Field::read`]).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use warp::{Filter, Rejection};

use super::error::ApiError;
use super::filters::{body_stream_within, Limit};

/// Most bytes a part's headers may take (`Content-Disposition`, type, ...).
pub const MAX_PART_HEADER_BYTES: usize = 8 * 1024;
/// Longest file name a part may carry, in bytes.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// A `multipart/form-data` body being read part by part.
pub struct Form(multer::Multipart<'static>);

/// One part of a [`Form`].
pub struct Field(multer::Field<'static>);

/// Matches a multipart request only: other content types are not this
/// route (a 404 rejection, so that a JSON twin of the route can take them).
/// Goes before authentication, so that the twin's client hears its own
/// errors.
pub fn is_form() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|content_type: Option<String>| async move {
            match content_type {
                Some(ct) if is_multipart(&ct) => Ok(()),
                _ => Err(warp::reject::not_found()),
            }
        })
        .untuple_one()
}

fn is_multipart(content_type: &str) -> bool {
    content_type.to_ascii_lowercase().starts_with("multipart/")
}

/// The body of a multipart request as a [`Form`], bounded by `limit`.
pub fn form(limit: Limit) -> impl Filter<Extract = (Form,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|content_type: Option<String>| async move {
            match content_type {
                Some(ct) if is_multipart(&ct) => multer::parse_boundary(&ct).map_err(|_| {
                    warp::reject::custom(ApiError::BadRequest(
                        "the multipart Content-Type has no boundary".into(),
                    ))
                }),
                _ => Err(warp::reject::not_found()),
            }
        })
        .and(body_stream_within(limit))
        .map(|boundary: String, body| {
            let guarded = guard_part_headers(body, &boundary);
            Form(multer::Multipart::new(guarded, boundary))
        })
}

impl Form {
    /// The next part, `None` after the last.
    pub async fn next_field(&mut self) -> Result<Option<Field>, ApiError> {
        let field = self.0.next_field().await.map_err(form_error)?;
        let Some(field) = field else { return Ok(None) };
        if field
            .file_name()
            .is_some_and(|name| name.len() > MAX_FILE_NAME_BYTES)
        {
            return Err(ApiError::BadRequest(format!(
                "a file name may have at most {MAX_FILE_NAME_BYTES} bytes"
            )));
        }
        Ok(Some(Field(field)))
    }
}

impl Field {
    /// The form field's name (`""` when it has none).
    pub fn name(&self) -> &str {
        self.0.name().unwrap_or_default()
    }

    /// The part's declared Content-Type, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.0.content_type().map(|m| m.essence_str())
    }

    /// The file name the client gave, if any.
    pub fn file_name(&self) -> Option<&str> {
        self.0.file_name()
    }

    /// Reads the part to its end, refusing it with `too_large` once it
    /// passes `limit` bytes.
    pub async fn read(mut self, limit: u64, too_large: ApiError) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.0.chunk().await.map_err(form_error)? {
            if (out.len() + chunk.len()) as u64 > limit {
                return Err(too_large);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// A parser error as the client should hear it: the body's own failure (too
/// large, stalled) as itself, anything else as a malformed form.
fn form_error(err: multer::Error) -> ApiError {
    if let multer::Error::StreamReadFailed(inner) = &err {
        if let Some(api) = inner.downcast_ref::<ApiError>() {
            return api.clone();
        }
    }
    ApiError::BadRequest(format!("malformed multipart body: {err}"))
}

/// Passes `body` through unchanged, failing it with 413 as soon as one
/// part's headers pass [`MAX_PART_HEADER_BYTES`].
fn guard_part_headers(
    body: impl Stream<Item = Result<Bytes, ApiError>> + Send + 'static,
    boundary: &str,
) -> impl Stream<Item = Result<Bytes, ApiError>> + Send + 'static {
    let mut scanner = PartHeaderScanner::new(boundary);
    body.map(move |chunk| {
        let chunk = chunk?;
        if scanner.feed(&chunk) {
            Ok(chunk)
        } else {
            Err(ApiError::TooLarge(format!(
                "a form part's headers may take at most {} KiB",
                MAX_PART_HEADER_BYTES / 1024
            )))
        }
    })
}

/// Follows a multipart body byte by byte to measure each part's headers:
/// after every delimiter (`CRLF--boundary`) come headers up to a blank line.
struct PartHeaderScanner {
    delimiter: Matcher,
    blank_line: Matcher,
    state: ScanState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanState {
    /// In a part's body (or the preamble), looking for the next delimiter.
    Data,
    /// Right after a delimiter: `--` ends the form, anything else starts headers.
    AfterDelimiter { dashes: u8 },
    /// In a part's headers: this many bytes so far.
    Headers(usize),
    /// After the closing delimiter: the rest is ignored.
    Epilogue,
}

impl PartHeaderScanner {
    fn new(boundary: &str) -> PartHeaderScanner {
        let mut delimiter = Matcher::new(format!("\r\n--{boundary}").into_bytes());
        // The first delimiter may open the body, without a line break first.
        delimiter.matched = 2;
        PartHeaderScanner {
            delimiter,
            blank_line: Matcher::new(b"\r\n\r\n".to_vec()),
            state: ScanState::Data,
        }
    }

    /// Takes the next bytes; `false` once a part's headers are too long.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for &byte in bytes {
            self.state = match self.state {
                ScanState::Data => {
                    if self.delimiter.feed(byte) {
                        ScanState::AfterDelimiter { dashes: 0 }
                    } else {
                        ScanState::Data
                    }
                }
                ScanState::AfterDelimiter { dashes } if byte == b'-' => {
                    if dashes == 1 {
                        ScanState::Epilogue
                    } else {
                        ScanState::AfterDelimiter { dashes: 1 }
                    }
                }
                ScanState::AfterDelimiter { .. } => {
                    // The line break after the delimiter counts toward the
                    // headers' blank line detection.
                    self.blank_line.reset();
                    self.blank_line.feed(b'\r');
                    self.blank_line.feed(byte);
                    ScanState::Headers(1)
                }
                ScanState::Headers(n) => {
                    if self.blank_line.feed(byte) {
                        self.delimiter.reset();
                        ScanState::Data
                    } else if n + 1 > MAX_PART_HEADER_BYTES {
                        return false;
                    } else {
                        ScanState::Headers(n + 1)
                    }
                }
                ScanState::Epilogue => return true,
            };
        }
        true
    }
}

/// Finds a fixed pattern in a byte stream fed one byte at a time (KMP, so a
/// match that starts inside a failed one is not missed).
struct Matcher {
    pattern: Vec<u8>,
    /// For each prefix length, the longest proper prefix that is also a suffix.
    fallback: Vec<usize>,
    matched: usize,
}

impl Matcher {
    fn new(pattern: Vec<u8>) -> Matcher {
        let mut fallback = vec![0; pattern.len() + 1];
        let mut k = 0;
        for i in 1..pattern.len() {
            while k > 0 && pattern[i] != pattern[k] {
                k = fallback[k];
            }
            if pattern[i] == pattern[k] {
                k += 1;
            }
            fallback[i + 1] = k;
        }
        Matcher {
            pattern,
            fallback,
            matched: 0,
        }
    }

    fn reset(&mut self) {
        self.matched = 0;
    }

    /// Whether the pattern ends with this byte.
    fn feed(&mut self, byte: u8) -> bool {
        while self.matched > 0 && self.pattern[self.matched] != byte {
            self.matched = self.fallback[self.matched];
        }
        if self.pattern[self.matched] == byte {
            self.matched += 1;
        }
        if self.matched == self.pattern.len() {
            self.matched = self.fallback[self.matched];
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_with_header(header_len: usize) -> Vec<u8> {
        let padding = "x".repeat(header_len);
        format!(
            "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
             X-Padding: {padding}\r\n\r\nhello --b0undar\r\n--b0undary\r\n\
             Content-Disposition: form-data; name=\"title\"\r\n\r\nT\r\n--b0undary--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn ordinary_forms_pass_in_any_chunking() {
        let body = form_with_header(100);
        for size in [1, 2, 3, 7, 64, body.len()] {
            let mut scanner = PartHeaderScanner::new("b0undary");
            assert!(
                body.chunks(size).all(|c| scanner.feed(c)),
                "chunks of {size}"
            );
            assert_eq!(scanner.state, ScanState::Epilogue, "chunks of {size}");
        }
    }

    #[test]
    fn a_part_header_past_the_cap_is_refused_before_its_end() {
        let body = form_with_header(MAX_PART_HEADER_BYTES + 10);
        let mut scanner = PartHeaderScanner::new("b0undary");
        let refused_at = body.chunks(1).position(|c| !scanner.feed(c));
        assert!(refused_at.is_some_and(|at| at < MAX_PART_HEADER_BYTES + 200));
    }

    #[test]
    fn data_that_only_looks_like_a_delimiter_is_data() {
        // "\r\n\r\n--b" inside data: the KMP fallback must still find the
        // real delimiter that starts in the middle of a failed match.
        let mut m = Matcher::new(b"\r\n--b".to_vec());
        let hits: Vec<bool> = b"\r\n\r\n--b".iter().map(|&b| m.feed(b)).collect();
        assert_eq!(hits.iter().filter(|h| **h).count(), 1);
        assert!(hits[hits.len() - 1]);
    }
}
