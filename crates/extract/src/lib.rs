//! What daehwa reads out of an uploaded file (issue 20): the file's type
//! from its bytes (not its name alone), the text of documents and images
//! scaled down for vision models.
//!
//! INTEGRATION STAND-IN: the real crate is being written on branch
//! i20-extract; this file only carries its API so the caller compiles.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format { Png, Jpeg, WebP, Gif, Pdf, Docx, Pptx, Xlsx, Csv, Hwp, Hwpx, Text }

impl Format {
    pub fn mime(self) -> &'static str { match self { Format::Png => "image/png", Format::Jpeg => "image/jpeg", Format::WebP => "image/webp", Format::Gif => "image/gif", Format::Pdf => "application/pdf", Format::Csv => "text/csv", _ => "text/plain" } }
    pub fn is_image(self) -> bool { matches!(self, Format::Png | Format::Jpeg | Format::WebP | Format::Gif) }
    pub fn label(self) -> &'static str { "file" }
}

#[derive(Debug, Clone)]
pub struct Limits { pub max_text_bytes: usize, pub max_unpacked_bytes: u64, pub max_zip_entries: usize, pub max_image_pixels: u64, pub max_image_alloc: u64 }
impl Default for Limits { fn default() -> Self { Limits { max_text_bytes: 4 << 20, max_unpacked_bytes: 64 << 20, max_zip_entries: 10_000, max_image_pixels: 64_000_000, max_image_alloc: 256 << 20 } } }

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error { Empty, Unsupported(String), Mismatch(String), Encrypted(String), Malformed(String), TooLarge(String) }
impl fmt::Display for Error { fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{self:?}") } }
impl std::error::Error for Error {}

pub struct Extracted { pub text: String, pub truncated: bool, pub pages: Option<u32> }
pub struct Prepared { pub mime: &'static str, pub bytes: Vec<u8>, pub width: u32, pub height: u32, pub original_width: u32, pub original_height: u32 }

pub fn detect(_name: &str, _declared: Option<&str>, bytes: &[u8]) -> Result<Format, Error> {
    if bytes.is_empty() { return Err(Error::Empty); }
    if bytes.starts_with(b"\x89PNG") { return Ok(Format::Png); }
    std::str::from_utf8(bytes).map(|_| Format::Text).map_err(|_| Error::Unsupported("unknown".into()))
}
pub fn extract_text(_format: Format, bytes: &[u8], _limits: &Limits) -> Result<Extracted, Error> {
    Ok(Extracted { text: String::from_utf8_lossy(bytes).into_owned(), truncated: false, pages: None })
}
pub fn prepare_image(_format: Format, bytes: &[u8], _max_side: u32, _limits: &Limits) -> Result<Prepared, Error> {
    Ok(Prepared { mime: "image/png", bytes: bytes.to_vec(), width: 1, height: 1, original_width: 1, original_height: 1 })
}
