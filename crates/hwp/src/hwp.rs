//! HWP 5.x: an OLE compound file. `FileHeader` says whether the body is
//! compressed, password protected or a distribution document; the text is in
//! the record streams `BodyText/Section0`, `Section1`, ... (raw deflate when
//! compressed).

use std::io::{Cursor, Read};

use flate2::read::DeflateDecoder;

use crate::out::{Full, Out};
use crate::{Error, Limits, Text};

/// The first bytes of every OLE compound file.
const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// The start of the `FileHeader` stream (32 bytes, NUL padded).
pub(crate) const SIGNATURE: &[u8] = b"HWP Document File";

/// Properties bits of `FileHeader`.
pub(crate) const PROP_COMPRESSED: u32 = 1;
pub(crate) const PROP_PASSWORD: u32 = 1 << 1;
pub(crate) const PROP_DISTRIBUTION: u32 = 1 << 2;

/// Record tags (HWPTAG_BEGIN = 0x10).
pub(crate) const TAG_PARA_HEADER: u16 = 0x10 + 50;
pub(crate) const TAG_PARA_TEXT: u16 = 0x10 + 51;

type Ole<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

struct Header {
    compressed: bool,
    password: bool,
    distribution: bool,
}

pub(crate) fn is_hwp(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&OLE_MAGIC) {
        return false;
    }
    std::panic::catch_unwind(|| open(bytes).and_then(|mut ole| header(&mut ole)).is_ok())
        .unwrap_or(false)
}

fn open(bytes: &[u8]) -> Result<Ole<'_>, Error> {
    if !bytes.starts_with(&OLE_MAGIC) {
        return Err(Error::NotHwp);
    }
    cfb::CompoundFile::open(Cursor::new(bytes))
        .map_err(|e| Error::Malformed(format!("compound file: {e}")))
}

fn header(ole: &mut Ole<'_>) -> Result<Header, Error> {
    // An OLE file without the stream is some other Office file: not ours.
    let stream = ole.open_stream("/FileHeader").map_err(|_| Error::NotHwp)?;
    let mut buf = Vec::with_capacity(256);
    stream
        .take(256)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Malformed(format!("FileHeader: {e}")))?;
    if !buf.starts_with(SIGNATURE) {
        return Err(Error::NotHwp);
    }
    if buf.len() < 40 {
        return Err(Error::Malformed("FileHeader is too short".into()));
    }
    let props = u32::from_le_bytes([buf[36], buf[37], buf[38], buf[39]]);
    Ok(Header {
        compressed: props & PROP_COMPRESSED != 0,
        password: props & PROP_PASSWORD != 0,
        distribution: props & PROP_DISTRIBUTION != 0,
    })
}

/// Why reading stopped early.
enum Stop {
    Full,
    Err(Error),
}

impl From<Full> for Stop {
    fn from(_: Full) -> Stop {
        Stop::Full
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Err(e)
    }
}

pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Text, Error> {
    let mut ole = open(bytes)?;
    let head = header(&mut ole)?;
    if head.password {
        return Err(Error::Encrypted);
    }
    if head.distribution {
        return Err(Error::Distribution);
    }
    let sections = section_paths(&ole)?;
    let mut out = Out::new(limits.max_text_bytes);
    let mut budget = limits.max_unpacked_bytes;
    let mut read = 0u32;
    for (n, path) in sections {
        read += 1;
        let data = section_data(&mut ole, &path, head.compressed, bytes.len() as u64, budget)
            .map_err(|e| match e {
                Error::Malformed(m) => Error::Malformed(format!("section {n}: {m}")),
                e => e,
            })?;
        budget -= data.len() as u64;
        match records(&data, &mut out) {
            Ok(()) => {}
            Err(Stop::Full) => break,
            Err(Stop::Err(Error::Malformed(m))) => {
                return Err(Error::Malformed(format!("section {n}: {m}")))
            }
            Err(Stop::Err(e)) => return Err(e),
        }
    }
    Ok(out.finish(read))
}

/// `BodyText/SectionN` streams in numeric order of N.
fn section_paths(ole: &Ole<'_>) -> Result<Vec<(u32, String)>, Error> {
    let entries = ole
        .read_storage("/BodyText")
        .map_err(|_| Error::Malformed("no BodyText storage".into()))?;
    let mut sections: Vec<(u32, String)> = entries
        .filter(|e| e.is_stream())
        .filter_map(|e| {
            let n = e.name().strip_prefix("Section")?.parse::<u32>().ok()?;
            Some((n, e.path().to_string_lossy().into_owned()))
        })
        .collect();
    if sections.is_empty() {
        return Err(Error::Malformed("no BodyText/Section streams".into()));
    }
    sections.sort();
    Ok(sections)
}

/// The unpacked records of one section; more than `budget` bytes is TooLarge.
fn section_data(
    ole: &mut Ole<'_>,
    path: &str,
    compressed: bool,
    file_len: u64,
    budget: u64,
) -> Result<Vec<u8>, Error> {
    let stream = ole
        .open_stream(path)
        .map_err(|e| Error::Malformed(e.to_string()))?;
    let mut data = Vec::new();
    if compressed {
        // A stream is never longer than the file holding it.
        let mut raw = Vec::new();
        stream
            .take(file_len)
            .read_to_end(&mut raw)
            .map_err(|e| Error::Malformed(e.to_string()))?;
        DeflateDecoder::new(&raw[..])
            .take(budget.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| Error::Malformed(format!("compressed data: {e}")))?;
    } else {
        stream
            .take(budget.saturating_add(1).min(file_len))
            .read_to_end(&mut data)
            .map_err(|e| Error::Malformed(e.to_string()))?;
    }
    if data.len() as u64 > budget {
        return Err(Error::TooLarge);
    }
    Ok(data)
}

fn u32_at(data: &[u8], pos: usize) -> Option<u32> {
    let b = data.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Walks the records of a section: each paragraph header starts a
/// paragraph, each paragraph text record (at any level, so table cells and
/// text boxes too) is written out as a line.
fn records(data: &[u8], out: &mut Out) -> Result<(), Stop> {
    let mut pos = 0usize;
    // A paragraph header whose text record has not come (yet): an empty line.
    let mut pending_empty = false;
    while pos < data.len() {
        let head =
            u32_at(data, pos).ok_or_else(|| Error::Malformed("record header cut short".into()))?;
        pos += 4;
        let tag = (head & 0x3FF) as u16;
        let mut size = (head >> 20) as usize;
        if size == 0xFFF {
            size = u32_at(data, pos)
                .ok_or_else(|| Error::Malformed("record size cut short".into()))?
                as usize;
            pos += 4;
        }
        let end = pos
            .checked_add(size)
            .filter(|&end| end <= data.len())
            .ok_or_else(|| Error::Malformed("a record runs past the end of the section".into()))?;
        let payload = &data[pos..end];
        pos = end;
        match tag {
            TAG_PARA_HEADER => {
                if pending_empty {
                    out.push('\n')?;
                }
                pending_empty = true;
            }
            TAG_PARA_TEXT => {
                pending_empty = false;
                para_text(payload, out)?;
            }
            _ => {}
        }
    }
    if pending_empty {
        out.push('\n')?;
    }
    Ok(())
}

/// One paragraph's UTF-16LE text with its control characters.
fn para_text(payload: &[u8], out: &mut Out) -> Result<(), Full> {
    let units: Vec<u16> = payload
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mut wrote = false;
    let mut object = false;
    let mut i = 0;
    while i < units.len() {
        let u = units[i];
        if u >= 32 {
            let start = i;
            while i < units.len() && units[i] >= 32 {
                i += 1;
            }
            for c in char::decode_utf16(units[start..i].iter().copied()) {
                out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER))?;
            }
            wrote = true;
            continue;
        }
        match u {
            // Char controls: one unit.
            10 => {
                out.push('\n')?;
                wrote = true;
                i += 1;
            }
            13 => {
                out.end_line()?;
                i += 1;
            }
            24 => {
                out.push('-')?;
                wrote = true;
                i += 1;
            }
            30 | 31 => {
                out.push(' ')?;
                wrote = true;
                i += 1;
            }
            0 | 25..=29 => i += 1,
            // Inline controls: eight units; 9 is a tab.
            9 => {
                out.push('\t')?;
                wrote = true;
                i += 8;
            }
            4..=8 | 19 | 20 => i += 8,
            // Extended controls (tables, drawings, section and column
            // definitions, headers, footnotes, fields...): eight units; their
            // own text comes in later records.
            _ => {
                object = true;
                i += 8;
            }
        }
    }
    if wrote {
        out.end_line()?;
    } else if !object {
        // An empty paragraph: a blank line. One that only anchors a table or
        // a drawing adds none.
        out.push('\n')?;
    }
    Ok(())
}
