//! PDF text through pdf-extract (and the lopdf it re-exports).

use std::io::Write;

use pdf_extract::{Dictionary, Document, Object, ObjectId};

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
    check_streams(&doc, limits.max_unpacked_bytes)?;
    check_recursion(&doc)?;
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

/// Nested drawings (form XObjects) followed at most this deep.
const MAX_FORM_DEPTH: usize = 32;
/// Drawings invoked in a whole document at most (nesting multiplies them).
const MAX_FORM_CALLS: usize = 10_000;
/// Page tree levels above a page at most.
const MAX_PARENT_CHAIN: usize = 256;

fn refers_to_itself() -> Error {
    Error::Malformed("This PDF is damaged: part of it refers to itself in a loop.".into())
}

/// pdf-extract follows a page's `/Parent` chain and its drawings' `Do`
/// calls by plain recursion: a loop in either is a stack overflow, which
/// aborts the process (no `catch_unwind` can stop that). This walks the same
/// paths first, with a stack of visited objects and a depth limit.
fn check_recursion(doc: &Document) -> Result<(), Error> {
    let mut calls = MAX_FORM_CALLS;
    for page_id in doc.page_iter() {
        let Ok(page) = doc.get_dictionary(page_id) else {
            continue;
        };
        let resources = inherited_resources(doc, page)?;
        let Ok(content) = doc.get_page_content(page_id) else {
            continue;
        };
        walk_forms(doc, &content, resources, &mut Vec::new(), &mut calls)?;
    }
    Ok(())
}

/// One level of indirection, as pdf-extract resolves it.
fn deref<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    match object {
        Object::Reference(id) => doc.get_object(*id).ok(),
        other => Some(other),
    }
}

fn dict_entry<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    dict.get(key).ok().and_then(|o| deref(doc, o))
}

/// The page's resources as pdf-extract finds them (up the `/Parent`
/// chain); a loop in that chain is an error.
fn inherited_resources<'a>(
    doc: &'a Document,
    page: &'a Dictionary,
) -> Result<Option<&'a Dictionary>, Error> {
    let mut seen: Vec<ObjectId> = Vec::new();
    let mut dict = page;
    let mut resources = None;
    loop {
        if resources.is_none() {
            resources = dict_entry(doc, dict, b"Resources").and_then(|o| o.as_dict().ok());
        }
        let Ok(Object::Reference(parent)) = dict.get(b"Parent") else {
            return Ok(resources);
        };
        if seen.contains(parent) || seen.len() >= MAX_PARENT_CHAIN {
            return Err(refers_to_itself());
        }
        seen.push(*parent);
        let Ok(next) = doc.get_dictionary(*parent) else {
            return Ok(resources);
        };
        dict = next;
    }
}

fn walk_forms(
    doc: &Document,
    content: &[u8],
    resources: Option<&Dictionary>,
    stack: &mut Vec<ObjectId>,
    calls: &mut usize,
) -> Result<(), Error> {
    if !content.windows(2).any(|w| w == b"Do") {
        return Ok(());
    }
    let Ok(content) = lopdf_content(content) else {
        return Ok(());
    };
    let xobjects = resources
        .and_then(|r| dict_entry(doc, r, b"XObject"))
        .and_then(|o| o.as_dict().ok());
    for op in content.operations.iter().filter(|op| op.operator == "Do") {
        let Some(name) = op.operands.first().and_then(|o| o.as_name().ok()) else {
            continue;
        };
        let Some(Ok(Object::Reference(id))) = xobjects.map(|x| x.get(name)) else {
            continue;
        };
        let Ok(form) = doc.get_object(*id).and_then(Object::as_stream) else {
            continue;
        };
        if stack.contains(id) || stack.len() >= MAX_FORM_DEPTH {
            return Err(refers_to_itself());
        }
        *calls = calls.checked_sub(1).ok_or_else(|| {
            Error::TooLarge("This PDF is too complex to read (too many nested drawings).".into())
        })?;
        let inner = dict_entry(doc, &form.dict, b"Resources")
            .and_then(|o| o.as_dict().ok())
            .or(resources);
        let data = form
            .decompressed_content()
            .unwrap_or_else(|_| form.content.clone());
        stack.push(*id);
        walk_forms(doc, &data, inner, stack, calls)?;
        stack.pop();
    }
    Ok(())
}

fn lopdf_content(data: &[u8]) -> Result<pdf_extract::content::Content, pdf_extract::Error> {
    pdf_extract::content::Content::decode(data)
}

/// Bytes a sink was given, up to a cap.
struct Counter {
    n: u64,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.n += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many bytes `data` inflates to, counted up to `cap + 1` without
/// keeping them (zlib, else raw deflate, as lopdf tries).
fn inflated_size(data: &[u8], cap: u64) -> u64 {
    use std::io::Read;
    let count = |reader: &mut dyn Read| -> u64 {
        let mut sink = Counter { n: 0 };
        let _ = std::io::copy(&mut reader.take(cap.saturating_add(1)), &mut sink);
        sink.n
    };
    let zlib = count(&mut flate2::read::ZlibDecoder::new(data));
    if zlib > cap {
        return zlib;
    }
    zlib.max(count(&mut flate2::read::DeflateDecoder::new(data)))
}

/// lopdf inflates a stream without a limit when it is used: a compressed
/// stream that unpacks past `cap` (a PDF bomb) is refused first.
fn check_streams(doc: &Document, cap: u64) -> Result<(), Error> {
    for object in doc.objects.values() {
        let Ok(stream) = object.as_stream() else {
            continue;
        };
        let first_filter = match stream.dict.get(b"Filter") {
            Ok(Object::Name(name)) => Some(name.as_slice()),
            Ok(Object::Array(filters)) => filters.first().and_then(|f| f.as_name().ok()),
            _ => None,
        };
        if !matches!(first_filter, Some(b"FlateDecode" | b"Fl")) {
            continue;
        }
        // A stream can at most inflate about 1032 times (deflate's limit).
        if (stream.content.len() as u64).saturating_mul(1032) <= cap {
            continue;
        }
        if inflated_size(&stream.content, cap) > cap {
            return Err(Error::TooLarge(
                "This PDF is too large when unpacked (a compressed part is too big).".into(),
            ));
        }
    }
    Ok(())
}
