//! What daehwa reads out of an uploaded file (issue 20): the file's type
//! from its bytes (not its name alone), the text of documents and images
//! scaled down for vision models.
//!
//! Every entry point returns a [`Result`]; nothing here is meant to panic,
//! and third-party parsers run under `catch_unwind` (a caught panic becomes
//! [`Error::Malformed`]). Every error's `Display` is a plain English
//! sentence that can be shown to the user as it is.
//!
//! The caller runs these functions on a blocking thread with its own time
//! cap and concurrency limit: the work here is CPU-bound and synchronous,
//! and it cannot be cancelled (a timed-out call keeps its thread until it
//! returns).
//!
//! What each function answers:
//!
//! | function | errors |
//! | --- | --- |
//! | [`detect`] | `Empty`, `Unsupported`, `Mismatch` only (a damaged or protected document is still its format) |
//! | [`extract_text`] | `Empty`, `Unsupported` (images; HWP without the `hwp` feature), `Encrypted`, `Malformed`, `TooLarge` |
//! | [`prepare_image`] | `Empty`, `Unsupported` (not an image format), `Malformed`, `TooLarge` |
//!
//! Some sentences: "This PDF is encrypted; its text cannot be read.",
//! "The document is too large when unpacked (zip bomb?).",
//! "report.png is not a PNG image; its contents are a JPEG image.",
//! "The image is too large (100000×100000 pixels; at most 64 megapixels).",
//! "This PDF file could not be read: it seems to be damaged." (a parser
//! panicked).
//!
//! Limits not enforced here: the memory lopdf uses to load a PDF (its
//! object streams are inflated while loading, before any check can run;
//! every other Flate/LZW stream is checked against `max_unpacked_bytes`
//! before pdf-extract reads it), what pdf-extract allocates besides, and a
//! stack overflow inside a third-party parser (an abort, which
//! `catch_unwind` cannot catch; the known recursive paths of pdf-extract,
//! page-tree parents and nested drawings, are checked first).

mod detect;
#[cfg(feature = "hwp")]
mod hwp;
mod ooxml;
mod pdf;
mod picture;
mod text;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use detect::detect;
pub use picture::prepare_image;

/// What a file is, decided by [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Png,
    Jpeg,
    WebP,
    Gif,
    Pdf,
    Docx,
    Pptx,
    Xlsx,
    Csv,
    Hwp,
    Hwpx,
    Text,
}

impl Format {
    /// The content type to store and serve the file with.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::WebP => "image/webp",
            Format::Gif => "image/gif",
            Format::Pdf => "application/pdf",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv",
            Format::Hwp => "application/x-hwp",
            Format::Hwpx => "application/hwp+zip",
            Format::Text => "text/plain",
        }
    }

    /// Whether the file goes to vision models ([`prepare_image`]) rather
    /// than through [`extract_text`].
    pub fn is_image(self) -> bool {
        matches!(
            self,
            Format::Png | Format::Jpeg | Format::WebP | Format::Gif
        )
    }

    /// A short name for the user interface: "PDF", "Word", "Excel", ...
    pub fn label(self) -> &'static str {
        match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::WebP => "WebP",
            Format::Gif => "GIF",
            Format::Pdf => "PDF",
            Format::Docx => "Word",
            Format::Pptx => "PowerPoint",
            Format::Xlsx => "Excel",
            Format::Csv => "CSV",
            Format::Hwp => "HWP",
            Format::Hwpx => "HWPX",
            Format::Text => "Text",
        }
    }

    /// The kind of file with its article, for sentences: "a PNG image".
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Format::Png => "a PNG image",
            Format::Jpeg => "a JPEG image",
            Format::WebP => "a WebP image",
            Format::Gif => "a GIF image",
            Format::Pdf => "a PDF document",
            Format::Docx => "a Word document (.docx)",
            Format::Pptx => "a PowerPoint presentation (.pptx)",
            Format::Xlsx => "an Excel workbook (.xlsx)",
            Format::Csv => "a CSV file",
            Format::Hwp => "an HWP document",
            Format::Hwpx => "an HWPX document",
            Format::Text => "a text file",
        }
    }
}

/// Caps on what one file may cost. The defaults suit a chat upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Extracted text is cut here (on a character boundary), `truncated` set.
    pub max_text_bytes: usize,
    /// What the parts of a zip-based document (DOCX, PPTX, XLSX, HWPX) may
    /// unpack to, all parts together.
    pub max_unpacked_bytes: u64,
    /// Parts in a zip-based document.
    pub max_zip_entries: usize,
    /// Width × height of an image, checked from its header before decoding.
    pub max_image_pixels: u64,
    /// What the image decoder may allocate.
    pub max_image_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text_bytes: 4 << 20,
            max_unpacked_bytes: 64 << 20,
            max_zip_entries: 10_000,
            max_image_pixels: 64_000_000,
            max_image_alloc: 256 << 20,
        }
    }
}

/// Why a file cannot be used. `Display` is a sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The file has no bytes.
    Empty,
    /// A type this crate does not read (the caller answers 415).
    Unsupported(String),
    /// The bytes are not what the file's name or declared type says (415).
    Mismatch(String),
    /// Password-protected or DRM-protected.
    Encrypted(String),
    /// Cannot be parsed (includes a parser that panicked).
    Malformed(String),
    /// Over one of the [`Limits`]: zip bomb, unpacked size, image pixels.
    TooLarge(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => f.write_str("The file is empty."),
            Error::Unsupported(s)
            | Error::Mismatch(s)
            | Error::Encrypted(s)
            | Error::Malformed(s)
            | Error::TooLarge(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Error {}

/// The text of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    /// The text was cut at [`Limits::max_text_bytes`].
    pub truncated: bool,
    /// Pages of a PDF, slides of a presentation; `None` for other formats.
    pub pages: Option<u32>,
}

/// The text of a document (every format but images), with its blank-line
/// runs collapsed and cut at `limits.max_text_bytes`. Parsers run under
/// `catch_unwind`: a panic in one becomes [`Error::Malformed`].
pub fn extract_text(format: Format, bytes: &[u8], limits: &Limits) -> Result<Extracted, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty);
    }
    let run = || match format {
        Format::Png | Format::Jpeg | Format::WebP | Format::Gif => Err(Error::Unsupported(
            "Images have no text to extract; they are sent to the model as pictures.".into(),
        )),
        Format::Pdf => pdf::extract(bytes, limits),
        Format::Docx => ooxml::docx(bytes, limits),
        Format::Pptx => ooxml::pptx(bytes, limits),
        Format::Xlsx => ooxml::xlsx(bytes, limits),
        Format::Csv | Format::Text => text::extract_plain(format, bytes, limits),
        Format::Hwp | Format::Hwpx => hwp_text(format, bytes, limits),
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(_) => Err(Error::Malformed(format!(
            "This {} file could not be read: it seems to be damaged.",
            format.label()
        ))),
    }
}

#[cfg(feature = "hwp")]
fn hwp_text(format: Format, bytes: &[u8], limits: &Limits) -> Result<Extracted, Error> {
    hwp::extract(format, bytes, limits)
}

#[cfg(not(feature = "hwp"))]
fn hwp_text(format: Format, _bytes: &[u8], _limits: &Limits) -> Result<Extracted, Error> {
    Err(Error::Unsupported(format!(
        "Reading {} documents is not available in this build.",
        format.label()
    )))
}

/// An image ready for a vision model: PNG when it has transparency, else
/// JPEG (quality 85); no side longer than the `max_side` it was prepared for.
#[derive(Clone, PartialEq, Eq)]
pub struct Prepared {
    /// `image/png` or `image/jpeg`.
    pub mime: &'static str,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Before scaling (after the EXIF orientation of a JPEG is applied).
    pub original_width: u32,
    pub original_height: u32,
}

impl fmt::Debug for Prepared {
    /// The bytes by their count, not their values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("mime", &self.mime)
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .field("width", &self.width)
            .field("height", &self.height)
            .field("original_width", &self.original_width)
            .field("original_height", &self.original_height)
            .finish()
    }
}
