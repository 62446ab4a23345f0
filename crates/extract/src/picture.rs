//! Images for vision models: decoded within limits, scaled down, re-encoded.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::{Error, Format, Limits, Prepared};

fn damaged(format: Format) -> Error {
    Error::Malformed(format!(
        "This {} image is damaged and cannot be read.",
        format.label()
    ))
}

fn too_many_pixels(width: u32, height: u32, limits: &Limits) -> Error {
    Error::TooLarge(format!(
        "The image is too large ({width}×{height} pixels; at most {} megapixels).",
        limits.max_image_pixels / 1_000_000
    ))
}

/// Maps an image-crate error from decoding.
fn decode_error(format: Format, e: image::ImageError, limits: &Limits) -> Error {
    match e {
        image::ImageError::Limits(_) => Error::TooLarge(format!(
            "The image is too large to decode (over {} MiB of memory).",
            limits.max_image_alloc >> 20
        )),
        image::ImageError::Unsupported(_) => Error::Unsupported(format!(
            "This kind of {} image is not supported.",
            format.label()
        )),
        _ => damaged(format),
    }
}

/// The size after scaling so the longer side is at most `max_side`,
/// keeping the aspect ratio; never larger than the original.
fn scaled_size(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let max_side = max_side.max(1);
    let long = width.max(height);
    if long <= max_side {
        return (width, height);
    }
    let scale = |side: u32| -> u32 {
        let v = (u64::from(side) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(v).unwrap_or(max_side).clamp(1, max_side)
    };
    (scale(width), scale(height))
}

/// Whether any pixel is not fully opaque.
fn has_transparency(img: &DynamicImage) -> bool {
    if !img.color().has_alpha() {
        return false;
    }
    match img {
        DynamicImage::ImageLumaA8(i) => i.pixels().any(|p| p.0[1] < u8::MAX),
        DynamicImage::ImageRgba8(i) => i.pixels().any(|p| p.0[3] < u8::MAX),
        DynamicImage::ImageLumaA16(i) => i.pixels().any(|p| p.0[1] < u16::MAX),
        DynamicImage::ImageRgba16(i) => i.pixels().any(|p| p.0[3] < u16::MAX),
        DynamicImage::ImageRgba32F(i) => i.pixels().any(|p| p.0[3] < 1.0),
        other => other.to_rgba8().pixels().any(|p| p.0[3] < u8::MAX),
    }
}

/// An image decoded (a GIF's or animated WebP's first frame), checked
/// against the limits (its pixel count from the header, before decoding),
/// turned upright (EXIF orientation), scaled so its longer side is at most
/// `max_side` (never enlarged) and re-encoded: PNG if it has transparency,
/// else JPEG at quality 85.
pub fn prepare_image(
    format: Format,
    bytes: &[u8],
    max_side: u32,
    limits: &Limits,
) -> Result<Prepared, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty);
    }
    let image_format = match format {
        Format::Png => ImageFormat::Png,
        Format::Jpeg => ImageFormat::Jpeg,
        Format::WebP => ImageFormat::WebP,
        Format::Gif => ImageFormat::Gif,
        other => {
            return Err(Error::Unsupported(format!(
                "{} is not an image format.",
                other.noun()
            )))
        }
    };
    let run = || -> Result<Prepared, Error> {
        let reader = || ImageReader::with_format(Cursor::new(bytes), image_format);
        // The header's size, before anything is allocated for pixels.
        let (w, h) = reader()
            .into_dimensions()
            .map_err(|e| decode_error(format, e, limits))?;
        if u64::from(w) * u64::from(h) > limits.max_image_pixels {
            return Err(too_many_pixels(w, h, limits));
        }
        let mut image_limits = image::Limits::default();
        image_limits.max_alloc = Some(limits.max_image_alloc);
        let mut reader = reader();
        reader.limits(image_limits);
        let mut decoder = reader
            .into_decoder()
            .map_err(|e| decode_error(format, e, limits))?;
        // The decoded pixels' buffer (the image crate checks this only in
        // ImageReader::decode, which gives no access to the orientation).
        if decoder.total_bytes() > limits.max_image_alloc {
            return Err(decode_error(
                format,
                image::ImageError::Limits(image::error::LimitError::from_kind(
                    image::error::LimitErrorKind::InsufficientMemory,
                )),
                limits,
            ));
        }
        let orientation = decoder.orientation().ok();
        let mut img =
            DynamicImage::from_decoder(decoder).map_err(|e| decode_error(format, e, limits))?;
        if let Some(o) = orientation {
            img.apply_orientation(o);
        }
        let (original_width, original_height) = (img.width(), img.height());
        let (width, height) = scaled_size(original_width, original_height, max_side);
        let transparent = has_transparency(&img);
        let mut out = Vec::new();
        let encoded = if transparent {
            let mut rgba = img.into_rgba8();
            if (width, height) != (original_width, original_height) {
                rgba = image::imageops::resize(&rgba, width, height, FilterType::Triangle);
            }
            rgba.write_with_encoder(PngEncoder::new(&mut out))
        } else {
            let mut rgb = img.into_rgb8();
            if (width, height) != (original_width, original_height) {
                rgb = image::imageops::resize(&rgb, width, height, FilterType::Triangle);
            }
            rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 85))
        };
        encoded.map_err(|_| {
            Error::Malformed(format!(
                "This {} image could not be converted.",
                format.label()
            ))
        })?;
        Ok(Prepared {
            mime: if transparent {
                "image/png"
            } else {
                "image/jpeg"
            },
            bytes: out,
            width,
            height,
            original_width,
            original_height,
        })
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(damaged(format)))
}

#[cfg(test)]
mod tests {
    use super::scaled_size;

    #[test]
    fn scaling_keeps_the_aspect_ratio_and_never_enlarges() {
        assert_eq!(scaled_size(4000, 3000, 1568), (1568, 1176));
        assert_eq!(scaled_size(3000, 4000, 1568), (1176, 1568));
        assert_eq!(scaled_size(800, 600, 1568), (800, 600));
        assert_eq!(scaled_size(100_000, 1, 1568), (1568, 1));
        assert_eq!(scaled_size(10, 10, 0), (1, 1));
    }
}
