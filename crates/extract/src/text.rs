//! Plain text: decoding (UTF-8, UTF-16 with a BOM, CP949 for Korean CSVs),
//! the size-capped text builder every reader writes to, and normalizing.

use crate::{Error, Extracted, Format, Limits};

/// Text being extracted, cut at a byte cap on a character boundary.
pub(crate) struct Out {
    text: String,
    max: usize,
    truncated: bool,
}

impl Out {
    pub(crate) fn new(max: usize) -> Out {
        Out {
            text: String::new(),
            max,
            truncated: false,
        }
    }

    /// Appends `s` (or as much of it as fits); false once the cap is hit,
    /// so the reader can stop.
    pub(crate) fn push(&mut self, s: &str) -> bool {
        if self.truncated {
            return false;
        }
        let room = self.max.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
            return true;
        }
        self.text.push_str(&s[..floor_char_boundary(s, room)]);
        self.truncated = true;
        false
    }

    pub(crate) fn is_full(&self) -> bool {
        self.truncated
    }

    /// The last character written, to avoid doubled separators.
    pub(crate) fn ends_with(&self, c: char) -> bool {
        self.text.ends_with(c)
    }

    /// Drops trailing tabs and spaces (end of a table row).
    pub(crate) fn trim_end_blanks(&mut self) {
        let len = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(len);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub(crate) fn finish(self, pages: Option<u32>) -> Extracted {
        Extracted {
            text: normalize(&self.text),
            truncated: self.truncated,
            pages,
        }
    }
}

/// The largest index `<= i` that is a char boundary of `s`.
pub(crate) fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Line ends to `\n`, trailing blanks of lines and NULs dropped, runs of
/// blank lines collapsed to one, no leading or trailing blank lines.
pub(crate) fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0usize;
    let unified = s.replace("\r\n", "\n");
    for line in unified.split(['\n', '\r']) {
        let line = line.trim_end_matches(|c: char| c.is_whitespace() || c == '\0');
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run > 0 {
                out.push('\n');
            }
        }
        blank_run = 0;
        if line.contains('\0') {
            out.extend(line.chars().filter(|&c| c != '\0'));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// How a text file's bytes were decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoding {
    Utf8,
    Utf16,
    Cp949,
}

/// Decodes the bytes of a text file: UTF-8 (a BOM is dropped), UTF-16 with
/// a BOM, or else CP949/EUC-KR (what Korean Windows writes for CSVs and
/// "ANSI" text) when that decodes without errors. `None` when the bytes are
/// none of these or hold control characters (binary data).
pub(crate) fn decode(bytes: &[u8]) -> Option<(String, Decoding)> {
    let (text, how) = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        (std::str::from_utf8(rest).ok()?.to_owned(), Decoding::Utf8)
    } else if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let enc = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        let (text, had_errors) = enc.decode_with_bom_removal(&bytes[2..]);
        if had_errors {
            return None;
        }
        (text.into_owned(), Decoding::Utf16)
    } else if let Ok(s) = std::str::from_utf8(bytes) {
        (s.to_owned(), Decoding::Utf8)
    } else {
        let (text, had_errors) = encoding_rs::EUC_KR.decode_without_bom_handling(bytes);
        if had_errors {
            return None;
        }
        (text.into_owned(), Decoding::Cp949)
    };
    if text.chars().any(is_binary_control) {
        return None;
    }
    Some((text, how))
}

/// Control characters that do not occur in text files (tab, line feed,
/// carriage return, form feed and escape do).
fn is_binary_control(c: char) -> bool {
    matches!(c, '\0'..='\u{8}' | '\u{e}'..='\u{1a}' | '\u{1c}'..='\u{1f}' | '\u{7f}')
}

/// The text of a text or CSV file.
pub(crate) fn extract_plain(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Extracted, Error> {
    let Some((text, _)) = decode(bytes) else {
        return Err(Error::Malformed(format!(
            "This {} file is not readable text (it is not UTF-8, UTF-16 or Korean CP949).",
            format.label()
        )));
    };
    let mut out = Out::new(limits.max_text_bytes);
    out.push(&text);
    Ok(out.finish(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_cuts_on_a_char_boundary() {
        let mut out = Out::new(7);
        assert!(out.push("ab"));
        assert!(!out.push("한글")); // 6 bytes, only 5 left: one char fits
        assert!(out.is_full());
        let done = out.finish(None);
        assert_eq!(done.text, "ab한");
        assert!(done.truncated);
    }

    #[test]
    fn normalize_collapses_blank_lines() {
        assert_eq!(
            normalize("\n\na  \r\n\r\n\n\nb\t\n \n\nc\n\n"),
            "a\n\nb\n\nc"
        );
    }

    #[test]
    fn decode_variants() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFhi").unwrap(),
            ("hi".into(), Decoding::Utf8)
        );
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("가a".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode(&utf16).unwrap(), ("가a".into(), Decoding::Utf16));
        let (cp949, _, _) = encoding_rs::EUC_KR.encode("이름,나이");
        assert_eq!(
            decode(&cp949).unwrap(),
            ("이름,나이".into(), Decoding::Cp949)
        );
        assert!(decode(b"MZ\x90\x00\x03\x00").is_none());
    }
}
