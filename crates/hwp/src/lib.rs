//! Plain text out of Hangul word processor documents: HWP 5.0 (an OLE
//! compound file whose `BodyText/Section*` streams hold raw-deflate record
//! streams) and HWPX (a zip of XML parts, OWPML).
//!
//! Contract used by `daehwa-extract` (do not change the signatures without
//! changing the caller):
//!
//! ```ignore
//! pub struct Limits { pub max_text_bytes: usize, pub max_unpacked_bytes: u64 }
//! pub struct Text { pub text: String, pub truncated: bool, pub sections: u32 }
//! pub enum Error { NotHwp, Encrypted, Distribution, Malformed(String), TooLarge }
//! pub fn is_hwp(bytes: &[u8]) -> bool;
//! pub fn is_hwpx(bytes: &[u8]) -> bool;
//! pub fn read_hwp(bytes: &[u8], limits: &Limits) -> Result<Text, Error>;
//! pub fn read_hwpx(bytes: &[u8], limits: &Limits) -> Result<Text, Error>;
//! pub mod write { pub fn hwp(paragraphs: &[&str], opts: &HwpOptions) -> Vec<u8>; pub fn hwpx(paragraphs: &[&str]) -> Vec<u8>; }
//! ```
//!
//! `write` also has `hwp_sections` and `hwpx_sections` (several sections),
//! and, hidden from the docs, `record`, `hwp_raw` and `hwpx_raw` with which
//! the tests build odd files.
//!
//! Output shape (both formats): one line per paragraph, each ending in
//! `'\n'`; a line break inside a paragraph is `'\n'`, a tab `'\t'`; table
//! cells and text boxes come out as their own paragraphs, after the text of
//! the paragraph that holds the table; blank lines at the start are dropped
//! and runs of more than two blank lines are cut to two.
//!
//! Neither reader panics or allocates without bound on hostile input: every
//! failure is an [`Error`], the unpacked bytes are capped by
//! [`Limits::max_unpacked_bytes`] and the text by [`Limits::max_text_bytes`].

mod hwp;
mod hwpx;
mod out;
pub mod write;

/// Caps on the work one document may cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The text stops here (cut on a char boundary) and `Text::truncated` is set.
    pub max_text_bytes: usize,
    /// All section data unpacked (inflated HWP sections, read zip entries)
    /// counts against this; past it the read fails with [`Error::TooLarge`].
    pub max_unpacked_bytes: u64,
}

impl Default for Limits {
    /// 4 MiB of text, 64 MiB unpacked.
    fn default() -> Self {
        Limits {
            max_text_bytes: 4 << 20,
            max_unpacked_bytes: 64 << 20,
        }
    }
}

/// The text of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// One line per paragraph, each ending in `'\n'`.
    pub text: String,
    /// The text stopped at `Limits::max_text_bytes`.
    pub truncated: bool,
    /// How many sections were read (all of them unless `truncated`).
    pub sections: u32,
}

/// Why a document's text could not be read. The Display text is a sentence
/// a user can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("This file is not a Hangul (HWP or HWPX) document.")]
    NotHwp,
    #[error("This HWP document is protected by a password; its text cannot be read.")]
    Encrypted,
    #[error("This is a distribution (read-only) HWP document; its text cannot be read.")]
    Distribution,
    #[error("This HWP document is damaged or not in a supported form ({0}).")]
    Malformed(String),
    #[error("The document is too large when unpacked.")]
    TooLarge,
}

/// An OLE compound file whose `FileHeader` stream starts with
/// "HWP Document File" (HWP 5.x).
pub fn is_hwp(bytes: &[u8]) -> bool {
    hwp::is_hwp(bytes)
}

/// A zip whose `mimetype` entry is "application/hwp+zip", or which has
/// `Contents/section0.xml` and a `META-INF/` folder.
pub fn is_hwpx(bytes: &[u8]) -> bool {
    hwpx::is_hwpx(bytes)
}

/// The text of an HWP 5.x document.
pub fn read_hwp(bytes: &[u8], limits: &Limits) -> Result<Text, Error> {
    guarded(|| hwp::read(bytes, limits))
}

/// The text of an HWPX document.
pub fn read_hwpx(bytes: &[u8], limits: &Limits) -> Result<Text, Error> {
    guarded(|| hwpx::read(bytes, limits))
}

/// Last line of defence: a panic inside a parser crate on a hostile file
/// becomes `Malformed` instead of unwinding into the caller.
fn guarded(f: impl FnOnce() -> Result<Text, Error>) -> Result<Text, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Error::Malformed("the file could not be parsed".into())))
}
