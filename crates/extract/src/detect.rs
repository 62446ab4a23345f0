//! What a file is: magic bytes first, then the zip's parts, then the
//! name's extension (and the declared content type) for text files.

use std::io::{Cursor, Read};

use crate::{text, Error, Format};

/// File extensions read as text (the collector's list and a few more).
const TEXT_EXTENSIONS: &[&str] = &[
    "txt",
    "text",
    "md",
    "markdown",
    "rst",
    "adoc",
    "org",
    "tex",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "ndjson",
    "yaml",
    "yml",
    "toml",
    "xml",
    "html",
    "htm",
    "css",
    "scss",
    "less",
    "js",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "jsx",
    "vue",
    "svelte",
    "py",
    "rs",
    "go",
    "java",
    "kt",
    "kts",
    "scala",
    "c",
    "h",
    "cpp",
    "cc",
    "cxx",
    "hpp",
    "hh",
    "cs",
    "fs",
    "rb",
    "php",
    "pl",
    "sh",
    "bash",
    "zsh",
    "fish",
    "ps1",
    "bat",
    "cmd",
    "sql",
    "swift",
    "m",
    "mm",
    "lua",
    "r",
    "dart",
    "ex",
    "exs",
    "erl",
    "hs",
    "clj",
    "el",
    "vim",
    "ini",
    "cfg",
    "conf",
    "env",
    "properties",
    "gradle",
    "cmake",
    "mk",
    "proto",
    "graphql",
    "gql",
    "diff",
    "patch",
    "log",
    "srt",
    "vtt",
    "tf",
    "hcl",
    "nix",
    "zig",
    "jl",
    "sol",
    "asm",
    "s",
];

/// Names without an extension that are text.
const TEXT_NAMES: &[&str] = &[
    "readme",
    "license",
    "makefile",
    "dockerfile",
    "containerfile",
    "changelog",
    "authors",
    "notice",
    "todo",
    "gemfile",
    "rakefile",
    "procfile",
    "justfile",
    "vagrantfile",
];

/// The format a file name's extension claims, if it claims one.
fn claimed_by_extension(ext: &str) -> Option<Format> {
    Some(match ext {
        "png" | "apng" => Format::Png,
        "jpg" | "jpeg" | "jpe" | "jfif" | "pjpeg" | "pjp" => Format::Jpeg,
        "webp" => Format::WebP,
        "gif" => Format::Gif,
        "pdf" => Format::Pdf,
        "docx" | "docm" | "dotx" | "dotm" => Format::Docx,
        "pptx" | "pptm" | "potx" | "ppsx" => Format::Pptx,
        "xlsx" | "xlsm" | "xltx" | "xltm" => Format::Xlsx,
        "hwp" => Format::Hwp,
        "hwpx" => Format::Hwpx,
        "csv" => Format::Csv,
        e if TEXT_EXTENSIONS.contains(&e) => Format::Text,
        _ => return None,
    })
}

/// The format a declared content type claims, if it is specific.
fn claimed_by_mime(mime: &str) -> Option<Format> {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match mime.as_str() {
        "image/png" | "image/apng" => Format::Png,
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Format::Jpeg,
        "image/webp" => Format::WebP,
        "image/gif" => Format::Gif,
        "application/pdf" | "application/x-pdf" => Format::Pdf,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Format::Docx,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => Format::Pptx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Format::Xlsx,
        "application/x-hwp" | "application/haansofthwp" | "application/vnd.hancom.hwp" => {
            Format::Hwp
        }
        "application/hwp+zip" | "application/vnd.hancom.hwpx" => Format::Hwpx,
        "text/csv" => Format::Csv,
        "application/json"
        | "application/x-ndjson"
        | "application/xml"
        | "application/yaml"
        | "application/x-yaml"
        | "application/toml"
        | "application/javascript"
        | "application/x-sh"
        | "application/sql" => Format::Text,
        m if m.starts_with("text/") => Format::Text,
        _ => return None,
    })
}

/// Whether two claims are the same kind of file (CSV is a text file too).
fn compatible(claimed: Format, actual: Format) -> bool {
    claimed == actual || matches!((claimed, actual), (Format::Text, Format::Csv))
}

/// What the bytes themselves say.
enum Sniffed {
    Known(Format),
    /// A zip archive that is no document this crate reads.
    OtherZip,
    /// An OLE compound file that is no HWP document (old Office, or an
    /// encrypted OOXML file).
    OtherOle(&'static str),
    Refused(&'static str),
    /// No magic bytes: maybe text.
    Nothing,
}

const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn sniff(bytes: &[u8], pdf_claimed: bool) -> Sniffed {
    let b = bytes;
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Known(Format::Png);
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Known(Format::Jpeg);
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Sniffed::Known(Format::WebP);
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Sniffed::Known(Format::Gif);
    }
    // The PDF header may follow some junk, which readers accept; only look
    // past the start when the name says PDF (a text about PDFs is no PDF).
    if b.starts_with(b"%PDF-") || (pdf_claimed && contains(&b[..b.len().min(1024)], b"%PDF-")) {
        return Sniffed::Known(Format::Pdf);
    }
    if b.starts_with(OLE_MAGIC) {
        return sniff_ole(b);
    }
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        return sniff_zip(b);
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        let brand = &b[8..12];
        if [
            b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif",
        ]
        .iter()
        .any(|x| brand == *x)
        {
            return Sniffed::Refused(
                "HEIC and AVIF photos are not supported; please send the picture as JPEG or PNG.",
            );
        }
        return Sniffed::Refused("Audio and video files are not supported.");
    }
    let refused: &[(&[u8], &str)] = &[
        (b"MZ", "Programs (.exe, .dll) are not supported."),
        (b"\x7fELF", "Programs are not supported."),
        (b"\xCF\xFA\xED\xFE", "Programs are not supported."),
        (b"\xCA\xFE\xBA\xBE", "Programs are not supported."),
        (
            b"BM",
            "BMP images are not supported; please send the picture as PNG or JPEG.",
        ),
        (
            b"II*\x00",
            "TIFF images are not supported; please send the picture as PNG or JPEG.",
        ),
        (
            b"MM\x00*",
            "TIFF images are not supported; please send the picture as PNG or JPEG.",
        ),
        (
            b"Rar!",
            "Archives (.rar) are not supported; attach the files inside it.",
        ),
        (
            b"7z\xBC\xAF\x27\x1C",
            "Archives (.7z) are not supported; attach the files inside it.",
        ),
        (b"\x1f\x8b", "Compressed files (.gz) are not supported."),
        (
            b"{\\rtf",
            "RTF documents are not supported; please save it as .docx or PDF.",
        ),
    ];
    for (magic, why) in refused {
        // "BM" and "MZ" are also how some text starts: only refuse when
        // the rest does not decode as text.
        if b.starts_with(magic) && (magic.len() > 2 || text::decode(b).is_none()) {
            return Sniffed::Refused(why);
        }
    }
    Sniffed::Nothing
}

fn sniff_ole(b: &[u8]) -> Sniffed {
    // Directory entries hold stream names in UTF-16LE.
    if contains(b, &utf16le("FileHeader")) && contains(b, &utf16le("BodyText")) {
        return Sniffed::Known(Format::Hwp);
    }
    if contains(b, &utf16le("FileHeader")) && !contains(b, &utf16le("WordDocument")) {
        return Sniffed::Known(Format::Hwp);
    }
    if contains(b, &utf16le("EncryptedPackage")) {
        return Sniffed::OtherOle(
            "This Office document is password-protected; its text cannot be read. \
             Remove the password and upload it again.",
        );
    }
    Sniffed::OtherOle(
        "Old Office formats (.doc, .xls, .ppt) are not supported; \
         please save the file as .docx, .xlsx, .pptx or PDF.",
    )
}

fn sniff_zip(b: &[u8]) -> Sniffed {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(b)) else {
        return Sniffed::OtherZip;
    };
    if let Ok(entry) = zip.by_name("mimetype") {
        let mut head = Vec::new();
        if entry.take(64).read_to_end(&mut head).is_ok()
            && head.trim_ascii() == b"application/hwp+zip"
        {
            return Sniffed::Known(Format::Hwpx);
        }
    }
    let has = |name: &str| zip.index_for_name(name).is_some();
    if has("word/document.xml") {
        Sniffed::Known(Format::Docx)
    } else if has("ppt/presentation.xml") {
        Sniffed::Known(Format::Pptx)
    } else if has("xl/workbook.xml") {
        Sniffed::Known(Format::Xlsx)
    } else if has("Contents/section0.xml") {
        Sniffed::Known(Format::Hwpx)
    } else {
        Sniffed::OtherZip
    }
}

/// The type of an uploaded file from its bytes, its name (extension) and
/// the content type the client declared.
///
/// Images, PDF, HWP (OLE) and the zip-based documents (DOCX, PPTX, XLSX,
/// HWPX, told apart by their parts) are recognized by their bytes; text
/// by the extension (or a `text/*` declared type) and bytes that decode as
/// text (UTF-8 with or without a BOM, UTF-16 with a BOM, or Korean CP949).
///
/// When the name's extension (or, without one, the declared type) claims
/// another format than the bytes are — `report.png` holding a JPEG, a `.pdf`
/// that is plain text — the answer is [`Error::Mismatch`]. Programs,
/// archives, old Office files (.doc/.xls/.ppt) and unknown binary data are
/// [`Error::Unsupported`].
///
/// The only errors are [`Error::Empty`], [`Error::Unsupported`] and
/// [`Error::Mismatch`] (the caller's 422 and 415s). A damaged or
/// password-protected document whose bytes still look like what its name
/// says (a `.docx` that is a broken zip, or Office's encrypted OLE wrapper)
/// is detected as that format, so that it can be kept; [`crate::extract_text`]
/// then answers `Malformed` or `Encrypted`.
pub fn detect(name: &str, declared: Option<&str>, bytes: &[u8]) -> Result<Format, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty);
    }
    let file_name = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    let ext = match file_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => Some(ext.to_ascii_lowercase()),
        _ => None,
    };
    let by_ext = ext.as_deref().and_then(claimed_by_extension);
    let by_mime = declared.and_then(claimed_by_mime);
    // The extension is what the user sees; a declared type is often
    // generic or derived from the extension anyway.
    let claimed = by_ext.or(if ext.is_none() { by_mime } else { None });
    let shown = if file_name.is_empty() {
        "This file"
    } else {
        file_name
    };
    let mismatch = |claimed: Format, actual: Option<Format>| {
        let actual = match actual {
            Some(f) => format!("; its contents are {}", f.noun()),
            None => String::new(),
        };
        Error::Mismatch(format!("{shown} is not {}{actual}.", claimed.noun()))
    };

    match sniff(bytes, claimed == Some(Format::Pdf)) {
        Sniffed::Known(actual) => match claimed {
            Some(c) if !compatible(c, actual) => Err(mismatch(c, Some(actual))),
            _ => Ok(actual),
        },
        // A damaged document is still the document its name says: it is
        // kept, and extract_text() says what is wrong with it.
        Sniffed::OtherZip => match claimed {
            Some(c @ (Format::Docx | Format::Pptx | Format::Xlsx | Format::Hwpx)) => Ok(c),
            _ => Err(Error::Unsupported(
                "Zip archives are not supported; attach the files inside it instead.".into(),
            )),
        },
        Sniffed::OtherOle(why) => match claimed {
            // A password-protected DOCX/PPTX/XLSX is an OLE file; a damaged
            // HWP lacks its streams.
            Some(c @ (Format::Docx | Format::Pptx | Format::Xlsx)) if why.contains("password") => {
                Ok(c)
            }
            Some(Format::Hwp) => Ok(Format::Hwp),
            _ => Err(Error::Unsupported(why.into())),
        },
        Sniffed::Refused(why) => match claimed {
            Some(c) => Err(mismatch(c, None)),
            None => Err(Error::Unsupported(why.into())),
        },
        Sniffed::Nothing => {
            let textual = match claimed {
                Some(Format::Text | Format::Csv) => true,
                Some(c) => return Err(mismatch(c, None)),
                None => {
                    // An unknown extension is text only when the client
                    // says so; names like README or Makefile are text.
                    let lower = file_name.to_ascii_lowercase();
                    (ext.is_none() && TEXT_NAMES.contains(&lower.as_str()))
                        || matches!(by_mime, Some(Format::Text | Format::Csv))
                }
            };
            if !textual {
                return Err(Error::Unsupported(format!(
                    "{shown}: this type of file is not supported."
                )));
            }
            if text::decode(bytes).is_none() {
                return Err(match claimed {
                    Some(c) => mismatch(c, None),
                    None => Error::Unsupported(format!(
                        "{shown} is not a text file this service can read."
                    )),
                });
            }
            let is_csv =
                claimed == Some(Format::Csv) || (claimed.is_none() && by_mime == Some(Format::Csv));
            Ok(if is_csv { Format::Csv } else { Format::Text })
        }
    }
}
