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

/// Counts (and keeps, if asked) what it is given up to a cap, then fails
/// the write.
struct CappedSink {
    data: Vec<u8>,
    len: u64,
    keep: bool,
    cap: u64,
    over: bool,
}

impl CappedSink {
    fn new(cap: u64, keep: bool) -> Self {
        CappedSink {
            data: Vec::new(),
            len: 0,
            keep,
            cap,
            over: false,
        }
    }
}

impl Write for CappedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.len + buf.len() as u64 > self.cap {
            self.over = true;
            return Err(std::io::Error::other("over the cap"));
        }
        self.len += buf.len() as u64;
        if self.keep {
            self.data.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One filter stage of a stream, its output capped (and kept only if
/// `keep`, to feed the next stage); `None` when it is over the cap,
/// `Some(None)` when this crate does not decode that filter (lopdf then
/// fails on it or it only shrinks the data).
fn decode_stage(filter: &[u8], input: &[u8], cap: u64, keep: bool) -> Option<Option<Vec<u8>>> {
    let mut sink = CappedSink::new(cap, keep);
    match filter {
        b"FlateDecode" | b"Fl" => {
            // zlib first, then raw deflate, as lopdf tries.
            let zlib = std::io::copy(&mut flate2::read::ZlibDecoder::new(input), &mut sink);
            if sink.over {
                return None;
            }
            if zlib.is_err() {
                sink = CappedSink::new(cap, keep);
                let _ = std::io::copy(&mut flate2::read::DeflateDecoder::new(input), &mut sink);
                if sink.over {
                    return None;
                }
            }
        }
        b"LZWDecode" | b"LZW" => {
            // Either code-size switch (EarlyChange) can be the stream's;
            // the larger output counts.
            for early in [true, false] {
                let mut decoder = if early {
                    weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
                } else {
                    weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
                };
                let mut one = CappedSink::new(cap, keep);
                let _ = decoder.into_stream(&mut one).decode_all(input);
                if one.over {
                    return None;
                }
                if one.len >= sink.len {
                    sink = one;
                }
            }
        }
        _ => return Some(None),
    }
    Some(Some(sink.data))
}

/// lopdf inflates a stream without a limit when it is used: a stream whose
/// Flate or LZW stages unpack past `cap` (a PDF bomb) is refused first.
/// Each stage's output is kept (at most `cap` bytes) to feed the next one.
fn check_streams(doc: &Document, cap: u64) -> Result<(), Error> {
    let too_large = || {
        Error::TooLarge(
            "This PDF is too large when unpacked (a compressed part is too big).".into(),
        )
    };
    for object in doc.objects.values() {
        let Ok(stream) = object.as_stream() else {
            continue;
        };
        let filters: Vec<&[u8]> = match stream.dict.get(b"Filter") {
            Ok(Object::Name(name)) => vec![name.as_slice()],
            Ok(Object::Array(list)) => list.iter().filter_map(|f| f.as_name().ok()).collect(),
            _ => continue,
        };
        let ratio = |f: &[u8]| -> u64 {
            match f {
                b"FlateDecode" | b"Fl" => 1032,
                b"LZWDecode" | b"LZW" => 2730,
                _ => 1,
            }
        };
        let expanding = |f: &[u8]| ratio(f) > 1;
        // The most the stages can unpack to (Flate expands at most about
        // 1032 times, LZW about 2730 times); small enough streams pass.
        let bound = filters.iter().fold(stream.content.len() as u64, |n, f| {
            n.saturating_mul(ratio(f))
        });
        if bound <= cap {
            continue;
        }
        let mut data: std::borrow::Cow<'_, [u8]> = std::borrow::Cow::Borrowed(&stream.content);
        for (i, filter) in filters.iter().enumerate() {
            let last = i + 1 == filters.len();
            match decode_stage(filter, &data, cap, !last) {
                None => return Err(too_large()),
                Some(Some(out)) => data = std::borrow::Cow::Owned(out),
                // A stage this crate does not decode: check what comes after
                // it only when it is the ASCII encodings lopdf decodes (they
                // shrink the data), through lopdf itself.
                Some(None) => {
                    if !filters[i + 1..].iter().any(|f| expanding(f)) {
                        break;
                    }
                    let mut dict = Dictionary::new();
                    dict.set("Filter", Object::Name(filter.to_vec()));
                    let one = pdf_extract::Stream::new(dict, data.to_vec());
                    match one.decompressed_content() {
                        Ok(out) => data = std::borrow::Cow::Owned(out),
                        Err(_) => break,
                    }
                }
            }
        }
    }
    Ok(())
}
