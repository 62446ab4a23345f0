//! Makes documents at test time (HWP 5.0 and HWPX) for the callers'
//! integration tests and benchmarks. The output follows the file format
//! specifications closely enough for this crate's readers and other readers
//! of the formats; it carries no styles beyond the minimum.

use std::io::{Cursor, Write};

use crate::hwp::{
    PROP_COMPRESSED, PROP_DISTRIBUTION, PROP_PASSWORD, SIGNATURE, TAG_PARA_HEADER, TAG_PARA_TEXT,
};

/// How to make an HWP file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwpOptions {
    /// Raw-deflate the DocInfo and section streams (what Hangul does).
    pub compressed: bool,
    /// Set the password flag of the FileHeader (the content stays readable:
    /// readers must refuse on the flag).
    pub password: bool,
    /// Set the distribution-document flag of the FileHeader.
    pub distribution: bool,
}

impl Default for HwpOptions {
    /// Compressed, no password, not a distribution document.
    fn default() -> Self {
        HwpOptions {
            compressed: true,
            password: false,
            distribution: false,
        }
    }
}

/// HWP 5.0.3.0.
const VERSION: u32 = 0x0500_0300;
const TAG_DOCUMENT_PROPERTIES: u16 = 0x10;
const TAG_ID_MAPPINGS: u16 = 0x11;
const TAG_PARA_CHAR_SHAPE: u16 = 0x10 + 52;

/// A valid HWP 5.0 file with one section holding those paragraphs. In the
/// text, `'\t'` becomes the tab inline control and `'\n'` a line break.
pub fn hwp(paragraphs: &[&str], opts: &HwpOptions) -> Vec<u8> {
    hwp_sections(&[paragraphs], opts)
}

/// Like [`hwp`], with one `BodyText/SectionN` stream per element of
/// `sections`.
pub fn hwp_sections(sections: &[&[&str]], opts: &HwpOptions) -> Vec<u8> {
    let streams: Vec<Vec<u8>> = sections.iter().map(|s| section_records(s)).collect();
    hwp_raw(&streams, opts)
}

/// An HWP file around already made (uncompressed) section record streams.
#[doc(hidden)]
pub fn hwp_raw(sections: &[Vec<u8>], opts: &HwpOptions) -> Vec<u8> {
    let mut props = 0;
    if opts.compressed {
        props |= PROP_COMPRESSED;
    }
    if opts.password {
        props |= PROP_PASSWORD;
    }
    if opts.distribution {
        props |= PROP_DISTRIBUTION;
    }
    let mut header = vec![0u8; 256];
    header[..SIGNATURE.len()].copy_from_slice(SIGNATURE);
    header[32..36].copy_from_slice(&VERSION.to_le_bytes());
    header[36..40].copy_from_slice(&props.to_le_bytes());

    let pack = |data: &[u8]| {
        if opts.compressed {
            deflate(data)
        } else {
            data.to_vec()
        }
    };
    let mut ole = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("in-memory cfb");
    let mut put = |path: &str, data: &[u8]| {
        let mut stream = ole.create_stream(path).expect("in-memory cfb stream");
        stream.write_all(data).expect("in-memory write");
    };
    put("/FileHeader", &header);
    put("/DocInfo", &pack(&doc_info(sections.len())));
    ole.create_storage("/BodyText")
        .expect("in-memory cfb storage");
    for (n, records) in sections.iter().enumerate() {
        let mut stream = ole
            .create_stream(format!("/BodyText/Section{n}"))
            .expect("in-memory cfb stream");
        stream.write_all(&pack(records)).expect("in-memory write");
    }
    ole.flush().expect("in-memory flush");
    ole.into_inner().into_inner()
}

/// Raw deflate, as in HWP streams.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("in-memory deflate");
    enc.finish().expect("in-memory deflate")
}

/// One record: header (tag, level, size; sizes from 0xFFF on in an extra
/// u32) and payload.
#[doc(hidden)]
pub fn record(tag: u16, level: u16, payload: &[u8]) -> Vec<u8> {
    let size = payload.len();
    let small = size < 0xFFF;
    let head = u32::from(tag & 0x3FF)
        | (u32::from(level & 0x3FF) << 10)
        | (if small { size as u32 } else { 0xFFF } << 20);
    let mut out = head.to_le_bytes().to_vec();
    if !small {
        out.extend_from_slice(&(size as u32).to_le_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// DOCUMENT_PROPERTIES and an empty ID_MAPPINGS.
fn doc_info(sections: usize) -> Vec<u8> {
    let mut props = Vec::with_capacity(26);
    props.extend_from_slice(&(sections.min(u16::MAX as usize) as u16).to_le_bytes());
    // Start numbers: page, footnote, endnote, picture, table, equation.
    for _ in 0..6 {
        props.extend_from_slice(&1u16.to_le_bytes());
    }
    // Caret: list id, paragraph id, char position.
    props.extend_from_slice(&[0u8; 12]);
    let mut out = record(TAG_DOCUMENT_PROPERTIES, 0, &props);
    out.extend(record(TAG_ID_MAPPINGS, 0, &[0u8; 18 * 4]));
    out
}

/// The UTF-16 units of a paragraph's text, with its control mask.
fn para_units(text: &str) -> (Vec<u16>, u32) {
    let mut units = Vec::with_capacity(text.len() + 1);
    let mut mask = 0u32;
    for c in text.chars() {
        match c {
            '\t' => {
                // Inline control: the code, six units of data, the code again.
                units.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 9]);
                mask |= 1 << 9;
            }
            '\n' => {
                units.push(10);
                mask |= 1 << 10;
            }
            c if (c as u32) < 32 => {}
            c => {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
            }
        }
    }
    units.push(13);
    (units, mask)
}

/// The records of one section: per paragraph a PARA_HEADER (level 0), a
/// PARA_TEXT (level 1, left out for an empty paragraph, as Hangul does) and
/// a PARA_CHAR_SHAPE (level 1).
fn section_records(paragraphs: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for text in paragraphs {
        let (units, mask) = para_units(text);
        let mut head = Vec::with_capacity(22);
        head.extend_from_slice(&(units.len() as u32).to_le_bytes()); // nchars
        head.extend_from_slice(&mask.to_le_bytes()); // control mask
        head.extend_from_slice(&0u16.to_le_bytes()); // para shape id
        head.push(0); // style id
        head.push(0); // break type
        head.extend_from_slice(&1u16.to_le_bytes()); // char shape count
        head.extend_from_slice(&0u16.to_le_bytes()); // range tag count
        head.extend_from_slice(&0u16.to_le_bytes()); // line align count
        head.extend_from_slice(&0u32.to_le_bytes()); // instance id
        out.extend(record(TAG_PARA_HEADER, 0, &head));
        if units.len() > 1 {
            let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
            out.extend(record(TAG_PARA_TEXT, 1, &bytes));
        }
        // One char shape (id 0) from position 0.
        out.extend(record(TAG_PARA_CHAR_SHAPE, 1, &[0u8; 8]));
    }
    out
}

const NS_SECTION: &str = "http://www.hancom.co.kr/hwpml/2011/section";
const NS_PARAGRAPH: &str = "http://www.hancom.co.kr/hwpml/2011/paragraph";
const NS_HEAD: &str = "http://www.hancom.co.kr/hwpml/2011/head";

/// A valid HWPX with one section holding those paragraphs. In the text,
/// `'\t'` becomes `<hp:tab/>` and `'\n'` `<hp:lineBreak/>`.
pub fn hwpx(paragraphs: &[&str]) -> Vec<u8> {
    hwpx_sections(&[paragraphs])
}

/// Like [`hwpx`], with one `Contents/sectionN.xml` per element of
/// `sections`, listed in that order in `content.hpf`'s spine.
pub fn hwpx_sections(sections: &[&[&str]]) -> Vec<u8> {
    let xml: Vec<String> = sections.iter().map(|s| section_xml(s)).collect();
    let parts: Vec<(String, &[u8])> = xml
        .iter()
        .enumerate()
        .map(|(n, x)| (format!("Contents/section{n}.xml"), x.as_bytes()))
        .collect();
    hwpx_raw(&parts, None)
}

/// An HWPX around already made section parts (zip names and contents), in
/// spine order; `manifest` replaces the empty `META-INF/manifest.xml`.
#[doc(hidden)]
pub fn hwpx_raw(sections: &[(String, &[u8])], manifest: Option<&str>) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;

    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut put = |name: &str, data: &[u8], opts: SimpleFileOptions| {
        zip.start_file(name, opts).expect("in-memory zip");
        zip.write_all(data).expect("in-memory zip");
    };
    // The mimetype first and stored, as in ODF/EPUB, so it can be sniffed.
    put("mimetype", crate::hwpx::MIMETYPE.as_bytes(), stored);
    put(
        "version.xml",
        br#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><hv:HCFVersion xmlns:hv="http://www.hancom.co.kr/hwpml/2011/version" tagetApplication="WORDPROCESSOR" major="5" minor="1" micro="0" buildNumber="1" os="1" xmlVersion="1.4" application="daehwa-hwp" appVersion="0.1.0"/>"#,
        deflated,
    );
    put(
        "META-INF/container.xml",
        br#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><ocf:container xmlns:ocf="urn:oasis:names:tc:opendocument:xmlns:container"><ocf:rootfiles><ocf:rootfile full-path="Contents/content.hpf" media-type="application/hwpml-package+xml"/></ocf:rootfiles></ocf:container>"#,
        deflated,
    );
    let manifest = manifest.unwrap_or(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><odf:manifest xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>"#,
    );
    put("META-INF/manifest.xml", manifest.as_bytes(), deflated);

    let mut items = String::from(
        r#"<opf:item id="header" href="Contents/header.xml" media-type="application/xml"/>"#,
    );
    let mut spine = String::from(r#"<opf:itemref idref="header" linear="yes"/>"#);
    for (n, (name, _)) in sections.iter().enumerate() {
        items.push_str(&format!(
            r#"<opf:item id="section{n}" href="{}" media-type="application/xml"/>"#,
            escape(name)
        ));
        spine.push_str(&format!(
            r#"<opf:itemref idref="section{n}" linear="yes"/>"#
        ));
    }
    let hpf = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><opf:package xmlns:opf="http://www.idpf.org/2007/opf/" version="" unique-identifier="" id=""><opf:metadata><opf:title/><opf:language>ko</opf:language></opf:metadata><opf:manifest>{items}</opf:manifest><opf:spine>{spine}</opf:spine></opf:package>"#
    );
    put("Contents/content.hpf", hpf.as_bytes(), deflated);
    let header = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><hh:head xmlns:hh="{NS_HEAD}" version="1.4" secCnt="{}"><hh:beginNum page="1" footnote="1" endnote="1" pic="1" tbl="1" equation="1"/></hh:head>"#,
        sections.len()
    );
    put("Contents/header.xml", header.as_bytes(), deflated);
    for (name, data) in sections {
        put(name, data, deflated);
    }
    zip.finish().expect("in-memory zip").into_inner()
}

/// `<hs:sec>` with one `<hp:p>` per paragraph.
fn section_xml(paragraphs: &[&str]) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><hs:sec xmlns:hs="{NS_SECTION}" xmlns:hp="{NS_PARAGRAPH}">"#
    );
    for (id, text) in paragraphs.iter().enumerate() {
        xml.push_str(&format!(
            r#"<hp:p id="{id}" paraPrIDRef="0" styleIDRef="0" pageBreak="0" columnBreak="0" merged="0"><hp:run charPrIDRef="0"><hp:t>"#
        ));
        for c in text.chars() {
            match c {
                '\t' => xml.push_str("<hp:tab/>"),
                '\n' => xml.push_str("<hp:lineBreak/>"),
                c if (c as u32) < 32 => {}
                c => xml.push_str(&escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        xml.push_str("</hp:t></hp:run></hp:p>");
    }
    xml.push_str("</hs:sec>");
    xml
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
