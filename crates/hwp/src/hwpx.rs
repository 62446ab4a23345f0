//! HWPX (OWPML): a zip of XML parts. The body is `Contents/section0.xml`,
//! `section1.xml`, ... in the order of `Contents/content.hpf`'s spine; the
//! text is in `<hp:t>` elements of `<hp:p>` paragraphs.

use std::io::{self, BufReader, Cursor, Read};

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::out::{Full, Out};
use crate::{Error, Limits, Text};

pub(crate) const MIMETYPE: &str = "application/hwp+zip";
/// More entries than this is not a document but an attack (or a mistake).
const MAX_ENTRIES: usize = 10_000;

type Zip<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

pub(crate) fn is_hwpx(bytes: &[u8]) -> bool {
    if !bytes.starts_with(b"PK") {
        return false;
    }
    std::panic::catch_unwind(|| {
        let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
            return false;
        };
        if zip.len() > MAX_ENTRIES {
            return false;
        }
        if let Ok(entry) = zip.by_name("mimetype") {
            let mut head = Vec::new();
            if entry.take(64).read_to_end(&mut head).is_ok()
                && head.trim_ascii() == MIMETYPE.as_bytes()
            {
                return true;
            }
        }
        zip.index_for_name("Contents/section0.xml").is_some()
            && zip
                .file_names()
                .any(|n| n.is_ok_and(|n| n.starts_with("META-INF/")))
    })
    .unwrap_or(false)
}

/// What is left of `Limits::max_unpacked_bytes`.
struct Budget(u64);

/// An entry's reader that fails once more than the budget has come out of it.
struct Capped<'b, R> {
    inner: R,
    budget: &'b mut Budget,
    over: bool,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.budget.0 == 0 {
            let mut one = [0u8; 1];
            if self.inner.read(&mut one)? == 0 {
                return Ok(0);
            }
            self.over = true;
            return Err(io::Error::other("over the unpacked size limit"));
        }
        let max = buf
            .len()
            .min(usize::try_from(self.budget.0).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.budget.0 -= n as u64;
        Ok(n)
    }
}

fn zip_error(e: zip::result::ZipError) -> Error {
    use zip::result::ZipError;
    match e {
        ZipError::InvalidPassword => Error::Encrypted,
        ZipError::UnsupportedArchive(m) if m.contains("assword") => Error::Encrypted,
        e => Error::Malformed(format!("zip: {e}")),
    }
}

/// The whole entry, or None when there is no such entry.
fn read_entry(
    zip: &mut Zip<'_>,
    name: &str,
    budget: &mut Budget,
) -> Result<Option<Vec<u8>>, Error> {
    let entry = match zip.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(zip_error(e)),
    };
    let mut capped = Capped {
        inner: entry,
        budget,
        over: false,
    };
    let mut data = Vec::new();
    match capped.read_to_end(&mut data) {
        Ok(_) => Ok(Some(data)),
        Err(_) if capped.over => Err(Error::TooLarge),
        Err(e) => Err(Error::Malformed(format!("{name}: {e}"))),
    }
}

/// Whether an XML part has an element of that local name (XML errors: no).
fn has_element(xml: &[u8], name: &str) -> bool {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == name => {
                return true
            }
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// `Contents/section7.xml` → 7.
fn section_number(path: &str) -> Option<u32> {
    let file = path.rsplit('/').next()?;
    file.strip_prefix("section")?
        .strip_suffix(".xml")?
        .parse()
        .ok()
}

/// The section parts in reading order: the spine of `content.hpf`, else
/// `Contents/sectionN.xml` in numeric order.
fn section_names(zip: &mut Zip<'_>, budget: &mut Budget) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    if let Some(hpf) = read_entry(zip, "Contents/content.hpf", budget)? {
        let (items, spine) = parse_hpf(&hpf);
        for idref in spine {
            let Some((_, href)) = items.iter().find(|(id, _)| *id == idref) else {
                continue;
            };
            if section_number(href).is_none() {
                continue;
            }
            let found = [href.clone(), format!("Contents/{href}")]
                .into_iter()
                .find(|n| zip.index_for_name(n).is_some());
            if let Some(name) = found {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    if names.is_empty() {
        let mut numbered: Vec<(u32, String)> = zip
            .file_names()
            .filter_map(|n| n.ok())
            .filter(|n| n.starts_with("Contents/"))
            .filter_map(|n| Some((section_number(&n)?, n.into_owned())))
            .collect();
        numbered.sort();
        names = numbered.into_iter().map(|(_, n)| n).collect();
    }
    if names.is_empty() {
        return Err(Error::Malformed("no Contents/section*.xml".into()));
    }
    Ok(names)
}

/// (manifest items as (id, href), spine idrefs) of `content.hpf`.
fn parse_hpf(xml: &[u8]) -> (Vec<(String, String)>, Vec<String>) {
    let mut items = Vec::new();
    let mut spine = Vec::new();
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let attr = |e: &quick_xml::events::BytesStart<'_>, key: &str| -> Option<String> {
        e.attributes()
            .filter_map(|a| a.ok())
            .find(|a| a.key.as_ref() == key)
            .map(|a| a.value.into_owned())
    };
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                "item" => {
                    if let (Some(id), Some(href)) = (attr(&e, "id"), attr(&e, "href")) {
                        items.push((id, href));
                    }
                }
                "itemref" => spine.extend(attr(&e, "idref")),
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    (items, spine)
}

enum Stop {
    Full,
    Err(Error),
}

impl From<Full> for Stop {
    fn from(_: Full) -> Stop {
        Stop::Full
    }
}

pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Text, Error> {
    if !bytes.starts_with(b"PK") {
        return Err(Error::NotHwp);
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
    if zip.len() > MAX_ENTRIES {
        return Err(Error::Malformed(format!(
            "more than {MAX_ENTRIES} entries in the zip"
        )));
    }
    let mut budget = Budget(limits.max_unpacked_bytes);
    if let Some(manifest) = read_entry(&mut zip, "META-INF/manifest.xml", &mut budget)? {
        if has_element(&manifest, "encryption-data") {
            return Err(Error::Encrypted);
        }
    }
    let names = section_names(&mut zip, &mut budget)?;
    let mut out = Out::new(limits.max_text_bytes);
    let mut read = 0u32;
    for name in names {
        read += 1;
        let entry = zip.by_name(&name).map_err(zip_error)?;
        let capped = Capped {
            inner: entry,
            budget: &mut budget,
            over: false,
        };
        match section_text(capped, &mut out) {
            Ok(()) => {}
            Err(Stop::Full) => break,
            Err(Stop::Err(Error::Malformed(m))) => {
                return Err(Error::Malformed(format!("{name}: {m}")))
            }
            Err(Stop::Err(e)) => return Err(e),
        }
    }
    Ok(out.finish(read))
}

/// One open `<p>`: whether it wrote text, whether it holds paragraphs (a
/// table's cells, a text box).
struct Para {
    wrote: bool,
    nested: bool,
}

fn section_text<R: Read>(capped: Capped<'_, R>, out: &mut Out) -> Result<(), Stop> {
    let mut reader = Reader::from_reader(BufReader::new(capped));
    let mut buf = Vec::new();
    let mut paras: Vec<Para> = Vec::new();
    // Depth of open <t> elements: text counts only inside one.
    let mut in_t = 0usize;
    loop {
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(e) => {
                return Err(Stop::Err(if reader.get_ref().get_ref().over {
                    Error::TooLarge
                } else {
                    Error::Malformed(e.to_string())
                }))
            }
        };
        let mut text = |s: &str, paras: &mut Vec<Para>| -> Result<(), Full> {
            if let Some(p) = paras.last_mut() {
                p.wrote = true;
            }
            out.push_str(s)
        };
        match event {
            Event::Eof => break,
            Event::Start(e) => match e.local_name().as_ref() {
                "p" => {
                    if let Some(parent) = paras.last_mut() {
                        parent.nested = true;
                        out.end_line()?;
                    }
                    paras.push(Para {
                        wrote: false,
                        nested: false,
                    });
                }
                "t" => in_t += 1,
                name if in_t > 0 => {
                    if let Some(s) = inline(name) {
                        text(s, &mut paras)?;
                    }
                }
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "p" => {
                    if !paras.is_empty() {
                        out.end_line()?;
                    }
                    out.push('\n')?;
                }
                name if in_t > 0 => {
                    if let Some(s) = inline(name) {
                        text(s, &mut paras)?;
                    }
                }
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "p" => {
                    if let Some(p) = paras.pop() {
                        if p.wrote {
                            out.end_line()?;
                        } else if !p.nested {
                            out.push('\n')?;
                        }
                    }
                }
                "t" => in_t = in_t.saturating_sub(1),
                _ => {}
            },
            Event::Text(e) if in_t > 0 => text(&e.xml10_content(), &mut paras)?,
            Event::CData(e) if in_t > 0 => text(&e.xml10_content(), &mut paras)?,
            Event::GeneralRef(e) if in_t > 0 => {
                let c = match e.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => match e.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                };
                if let Some(c) = c {
                    text(c.encode_utf8(&mut [0; 4]), &mut paras)?;
                }
            }
            _ => {}
        }
    }
    // Paragraphs left open by a cut file still end their line.
    if !paras.is_empty() {
        out.end_line()?;
    }
    Ok(())
}

/// The text of an inline element inside `<t>`.
fn inline(local: &str) -> Option<&'static str> {
    match local {
        "tab" => Some("\t"),
        "lineBreak" => Some("\n"),
        "nbSpace" | "fwSpace" => Some(" "),
        "hyphen" => Some("-"),
        _ => None,
    }
}
