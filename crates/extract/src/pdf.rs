//! PDF text through pdf-extract (and the lopdf it re-exports).

use std::io::Write;

use crate::text::Out;
use crate::{Error, Extracted, Limits};

/// Collects pdf-extract's output up to a byte cap, then fails its writes
/// so that pdf-extract stops early on a huge document.
struct Capped {
    text: Vec<u8>,
    max: usize,
    full: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // pdf-extract writes whole characters, so refusing a whole write
        // never splits one.
        if self.full || self.text.len() + buf.len() > self.max {
            self.full = true;
            return Err(std::io::Error::other("text cap reached"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The text of a PDF. Encrypted PDFs that open with the empty password
/// (only copying or printing is restricted) are read; those that need a
/// password are [`Error::Encrypted`]. The caller's `catch_unwind` covers
/// panics in pdf-extract and lopdf.
pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, Error> {
    // lopdf decrypts on load when the empty user password opens the file
    // and leaves /Encrypt in the trailer when it does not.
    let doc = pdf_extract::Document::load_mem(bytes)
        .map_err(|_| Error::Malformed("This PDF is damaged and cannot be read.".into()))?;
    if doc.is_encrypted() {
        return Err(Error::Encrypted(
            "This PDF is encrypted; its text cannot be read.".into(),
        ));
    }
    let pages = u32::try_from(doc.get_pages().len()).unwrap_or(u32::MAX);
    let mut sink = Capped {
        text: Vec::new(),
        max: limits.max_text_bytes,
        full: false,
    };
    let result = {
        let mut writer: &mut dyn Write = &mut sink;
        let mut output = pdf_extract::PlainTextOutput::new(&mut writer as &mut dyn Write);
        pdf_extract::output_doc(&doc, &mut output)
    };
    if result.is_err() && !sink.full && sink.text.is_empty() {
        return Err(Error::Malformed(
            "This PDF is damaged and its text cannot be read.".into(),
        ));
    }
    // A failure after some text (a damaged later page) keeps what was read.
    let text = String::from_utf8_lossy(&sink.text);
    let mut out = Out::new(limits.max_text_bytes);
    out.push(&text);
    let mut done = out.finish(Some(pages));
    done.truncated |= sink.full || result.is_err();
    Ok(done)
}
