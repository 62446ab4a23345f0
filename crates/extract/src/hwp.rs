//! HWP and HWPX text through the sibling crate `daehwa-hwp` (feature `hwp`).

use crate::{Error, Extracted, Format, Limits};

/// The text of an HWP (OLE) or HWPX (zip) document. The sibling crate
/// enforces the unpacked-size and text caps; its errors are sentences.
pub(crate) fn extract(format: Format, bytes: &[u8], limits: &Limits) -> Result<Extracted, Error> {
    let hwp_limits = daehwa_hwp::Limits {
        max_text_bytes: limits.max_text_bytes,
        max_unpacked_bytes: limits.max_unpacked_bytes,
    };
    let read = match format {
        Format::Hwpx => daehwa_hwp::read_hwpx(bytes, &hwp_limits),
        _ => daehwa_hwp::read_hwp(bytes, &hwp_limits),
    };
    match read {
        Ok(daehwa_hwp::Text {
            text, truncated, ..
        }) => {
            let mut out = crate::text::Out::new(limits.max_text_bytes);
            out.push(&text);
            let mut done = out.finish(None);
            done.truncated |= truncated;
            Ok(done)
        }
        Err(e) => {
            let sentence = e.to_string();
            Err(match e {
                daehwa_hwp::Error::Encrypted | daehwa_hwp::Error::Distribution => {
                    Error::Encrypted(sentence)
                }
                // Detection said HWP by its magic bytes; the reader disagrees.
                daehwa_hwp::Error::NotHwp | daehwa_hwp::Error::Malformed(_) => {
                    Error::Malformed(sentence)
                }
                daehwa_hwp::Error::TooLarge => Error::TooLarge(sentence),
            })
        }
    }
}
