//! Plain text out of Hangul word processor documents: HWP 5.0 (an OLE
//! compound file whose `BodyText/Section*` streams hold zlib-compressed
//! records) and HWPX (a zip of XML parts, OWPML).
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
