//! DOCX, PPTX and XLSX: zip containers of XML parts. Every part is read
//! through `Read::take` against a running total of the unpacked size (the
//! sizes a zip declares are not trusted), and the number of parts is capped.

use std::io::{Cursor, Read};

use quick_xml::events::Event;

use crate::text::Out;
use crate::{Error, Extracted, Limits};

pub(crate) fn too_large_unpacked() -> Error {
    Error::TooLarge("The document is too large when unpacked (zip bomb?).".into())
}

/// A zip-based document being read within the limits.
pub(crate) struct Package<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// Bytes still allowed to be unpacked.
    budget: u64,
    label: &'static str,
}

impl<'a> Package<'a> {
    pub(crate) fn open(
        bytes: &'a [u8],
        limits: &Limits,
        label: &'static str,
    ) -> Result<Self, Error> {
        // Office writes a password-protected DOCX/PPTX/XLSX as an OLE
        // compound file holding the encrypted package.
        if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            return Err(Error::Encrypted(format!(
                "This {label} document is password-protected; its text cannot be read."
            )));
        }
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| {
            Error::Malformed(format!(
                "This {label} document is damaged: it is not a readable zip archive."
            ))
        })?;
        if zip.len() > limits.max_zip_entries {
            return Err(Error::TooLarge(format!(
                "This {label} document has too many parts ({}; at most {}).",
                zip.len(),
                limits.max_zip_entries
            )));
        }
        Ok(Package {
            zip,
            budget: limits.max_unpacked_bytes,
            label,
        })
    }

    /// The names of the parts (those that are valid UTF-8).
    pub(crate) fn names(&self) -> Vec<String> {
        self.zip
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .collect()
    }

    /// The unpacked bytes of a part, `None` when there is no such part.
    pub(crate) fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let label = self.label;
        let damaged = || {
            Error::Malformed(format!(
                "This {label} document is damaged: {name} cannot be unpacked."
            ))
        };
        let entry = match self.zip.by_name(name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(zip::result::ZipError::UnsupportedArchive(why)) if why.contains("assword") => {
                return Err(Error::Encrypted(format!(
                    "This {label} document is password-protected; its text cannot be read."
                )))
            }
            Err(_) => return Err(damaged()),
        };
        let mut data = Vec::with_capacity(entry.size().min(self.budget).min(1 << 20) as usize);
        entry
            .take(self.budget.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|_| damaged())?;
        let n = data.len() as u64;
        if n > self.budget {
            return Err(too_large_unpacked());
        }
        self.budget -= n;
        Ok(Some(data))
    }

    /// Checks the sizes the zip declares, for readers that unpack on their
    /// own (calamine): the total, and each big part's compression ratio.
    fn check_declared(&mut self) -> Result<(), Error> {
        let mut total: u64 = 0;
        for i in 0..self.zip.len() {
            let entry = self.zip.by_index_raw(i).map_err(|_| {
                Error::Malformed(format!("This {} document is damaged.", self.label))
            })?;
            let size = entry.size();
            let packed = entry.compressed_size().max(1);
            total = total.saturating_add(size);
            if total > self.budget || (size > 1 << 20 && size / packed > 1000) {
                return Err(too_large_unpacked());
            }
        }
        Ok(())
    }
}

fn xml_error(label: &str, part: &str) -> Error {
    Error::Malformed(format!(
        "This {label} document is damaged: its part {part} is not valid XML."
    ))
}

/// The local name of a (maybe prefixed) element name: `w:t` → `t`.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Text from a `GeneralRef` event: `&amp;`, `&#xAC00;`, ...
fn entity_text(r: &quick_xml::events::BytesRef<'_>) -> Option<String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c.to_string());
    }
    quick_xml::escape::resolve_predefined_entity(r).map(str::to_owned)
}

/// Skips `<mc:Fallback>` content: Word and PowerPoint write text boxes and
/// shapes twice (the `mc:Choice` and an older fallback), which would double
/// their text. Returns true when the event is to be ignored.
fn in_fallback(event: &Event<'_>, depth: &mut usize) -> bool {
    match event {
        Event::Start(e) if local(e.name().as_ref()) == "Fallback" => {
            *depth += 1;
            true
        }
        Event::End(e) if local(e.name().as_ref()) == "Fallback" => {
            *depth = depth.saturating_sub(1);
            true
        }
        Event::Eof => false,
        _ => *depth > 0,
    }
}

/// The text of a Word document (word/document.xml): paragraphs on lines,
/// table cells separated by tabs and rows by lines.
pub(crate) fn docx(bytes: &[u8], limits: &Limits) -> Result<Extracted, Error> {
    let mut pkg = Package::open(bytes, limits, "Word")?;
    let part = "word/document.xml";
    let Some(xml) = pkg.read(part)? else {
        return Err(Error::Malformed(
            "This Word document is damaged: it has no word/document.xml.".into(),
        ));
    };
    let mut out = Out::new(limits.max_text_bytes);
    let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
    let mut buf = Vec::new();
    let mut in_text = false; // inside <w:t>
    let mut in_run = 0usize; // inside <w:r> (tabs in <w:pPr><w:tabs> are no text)
    let mut cell_depth = 0usize; // inside <w:tc>, nested tables included
    let mut fallback = 0usize;
    while !out.is_full() {
        buf.clear();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|_| xml_error("Word", part))?;
        if in_fallback(&event, &mut fallback) {
            continue;
        }
        match event {
            Event::Start(e) => match local(e.name().as_ref()) {
                "t" => in_text = true,
                "r" => in_run += 1,
                "tc" => cell_depth += 1,
                _ => {}
            },
            Event::Empty(e) => match local(e.name().as_ref()) {
                "tab" if in_run > 0 => {
                    out.push("\t");
                }
                "br" | "cr" if in_run > 0 => {
                    out.push("\n");
                }
                "p" if cell_depth == 0 => {
                    out.push("\n");
                }
                _ => {}
            },
            Event::End(e) => match local(e.name().as_ref()) {
                "t" => in_text = false,
                "r" => in_run = in_run.saturating_sub(1),
                "p" => {
                    // Paragraphs inside a table cell stay on the row's line.
                    if cell_depth == 0 {
                        out.push("\n");
                    } else if !out.is_empty() && !out.ends_with(' ') && !out.ends_with('\t') {
                        out.push(" ");
                    }
                }
                "tc" => {
                    cell_depth = cell_depth.saturating_sub(1);
                    out.trim_end_blanks();
                    out.push("\t");
                }
                "tr" => {
                    out.trim_end_blanks();
                    out.push("\n");
                }
                "tbl" => {
                    out.push("\n");
                }
                _ => {}
            },
            Event::Text(t) if in_text => {
                out.push(&t.xml10_content());
            }
            Event::CData(t) if in_text => {
                out.push(&t);
            }
            Event::GeneralRef(r) if in_text => {
                if let Some(s) = entity_text(&r) {
                    out.push(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out.finish(None))
}

/// The slide number of `ppt/slides/slideN.xml`.
fn slide_number(name: &str) -> Option<u32> {
    name.strip_prefix("ppt/slides/slide")?
        .strip_suffix(".xml")?
        .parse()
        .ok()
}

/// The text of a presentation: each slide (in number order) under a
/// `--- slide N ---` line, its paragraphs on lines.
pub(crate) fn pptx(bytes: &[u8], limits: &Limits) -> Result<Extracted, Error> {
    let mut pkg = Package::open(bytes, limits, "PowerPoint")?;
    let mut slides: Vec<(u32, String)> = pkg
        .names()
        .into_iter()
        .filter_map(|n| slide_number(&n).map(|i| (i, n)))
        .collect();
    slides.sort();
    let mut out = Out::new(limits.max_text_bytes);
    let count = u32::try_from(slides.len()).unwrap_or(u32::MAX);
    for (index, (_, part)) in slides.iter().enumerate() {
        if out.is_full() {
            break;
        }
        let Some(xml) = pkg.read(part)? else { continue };
        if index > 0 {
            out.push("\n");
        }
        out.push(&format!("--- slide {} ---\n", index + 1));
        slide_text(&xml, part, &mut out)?;
    }
    Ok(out.finish(Some(count)))
}

fn slide_text(xml: &[u8], part: &str, out: &mut Out) -> Result<(), Error> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut in_text = false;
    let mut fallback = 0usize;
    while !out.is_full() {
        buf.clear();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|_| xml_error("PowerPoint", part))?;
        if in_fallback(&event, &mut fallback) {
            continue;
        }
        match event {
            Event::Start(e) if local(e.name().as_ref()) == "t" => in_text = true,
            Event::End(e) => match local(e.name().as_ref()) {
                "t" => in_text = false,
                "p" => {
                    out.push("\n");
                }
                // Table cells of a slide.
                "tc" => {
                    out.trim_end_blanks();
                    out.push("\t");
                }
                _ => {}
            },
            Event::Empty(e) => match local(e.name().as_ref()) {
                "br" => {
                    out.push("\n");
                }
                "tab" => {
                    out.push("\t");
                }
                _ => {}
            },
            Event::Text(t) if in_text => {
                out.push(&t.xml10_content());
            }
            Event::CData(t) if in_text => {
                out.push(&t);
            }
            Event::GeneralRef(r) if in_text => {
                if let Some(s) = entity_text(&r) {
                    out.push(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

/// Empty columns written as tabs between two cells of a row, at most.
const MAX_COLUMN_GAP: u32 = 32;

/// The text of a workbook: each sheet under `## name`, its rows as lines
/// of tab-separated cells. Cells are streamed (no dense range is built, so
/// a sheet claiming A1:XFD1048576 costs nothing), and reading stops at the
/// text cap.
pub(crate) fn xlsx(bytes: &[u8], limits: &Limits) -> Result<Extracted, Error> {
    use calamine::{DataRef, Reader as _};

    // calamine unpacks parts itself (no take() possible): check what the
    // zip declares first, then trust calamine with it.
    let mut pkg = Package::open(bytes, limits, "Excel")?;
    pkg.check_declared()?;
    drop(pkg);

    let damaged = |e: calamine::XlsxError| match e {
        calamine::XlsxError::Password => Error::Encrypted(
            "This Excel workbook is password-protected; its cells cannot be read.".into(),
        ),
        _ => Error::Malformed("This Excel workbook is damaged and cannot be read.".into()),
    };
    let mut book = calamine::Xlsx::new(Cursor::new(bytes)).map_err(damaged)?;
    let names: Vec<String> = book.sheet_names().to_vec();
    let mut out = Out::new(limits.max_text_bytes);
    for name in &names {
        if out.is_full() {
            break;
        }
        if !out.is_empty() {
            out.push("\n");
        }
        out.push(&format!("## {name}\n"));
        let mut cells = book.worksheet_cells_reader(name).map_err(damaged)?;
        let mut at: Option<(u32, u32)> = None; // last cell written
        while !out.is_full() {
            let Some(cell) = cells.next_cell().map_err(damaged)? else {
                break;
            };
            let value = match cell.get_value() {
                DataRef::Empty => continue,
                DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
                DataRef::SharedString(s) => (*s).to_owned(),
                DataRef::Int(i) => i.to_string(),
                DataRef::Float(f) => f.to_string(),
                DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
                DataRef::DateTime(d) => d.to_string(),
                DataRef::Error(e) => e.to_string(),
            };
            let (row, col) = cell.get_position();
            let gap = match at {
                Some((r, c)) if r == row => col.saturating_sub(c).min(MAX_COLUMN_GAP),
                Some(_) => {
                    out.push("\n");
                    col.min(MAX_COLUMN_GAP)
                }
                None => col.min(MAX_COLUMN_GAP),
            };
            for _ in 0..gap {
                out.push("\t");
            }
            // Cells are one line each in the output.
            let value = value.replace(['\t', '\r', '\n'], " ");
            out.push(&value);
            at = Some((row, col));
        }
        if at.is_some() {
            out.push("\n");
        }
    }
    Ok(out.finish(None))
}
