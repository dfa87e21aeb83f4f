//! Product images: only real images, checked by content, never a file that could run.
//!
//! An upload is accepted only if its bytes are a PNG, JPEG or WebP by their signature (the
//! name and the declared type are ignored), within the size limits, and decode completely with
//! the `image` crate under allocation limits. What is stored is a fresh PNG encoded from the
//! decoded pixels: metadata (EXIF, GPS positions, comments), trailing data and anything a
//! polyglot file carried past its image data are gone. It is served as `image/png` with
//! `nosniff` from the security headers.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// Why an upload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Nothing was sent.
    #[error("no image was sent")]
    Empty,
    /// More bytes than allowed.
    #[error("the image file is too large")]
    TooLarge,
    /// Not a PNG, JPEG or WebP by its content.
    #[error("not a PNG, JPEG or WebP image")]
    UnsupportedFormat,
    /// Wider or taller than allowed.
    #[error("the image is too large in pixels")]
    TooManyPixels,
    /// The bytes do not decode as an image of their format.
    #[error("the image could not be read")]
    Undecodable,
    /// Re-encoding failed.
    #[error("the image could not be converted")]
    Encode,
}

impl ImageError {
    /// What to tell the member of staff, in Japanese.
    pub fn message_ja(self) -> &'static str {
        match self {
            ImageError::Empty => "画像が選ばれていません。",
            ImageError::TooLarge => "画像ファイルが大きすぎます。",
            ImageError::UnsupportedFormat => "PNG・JPEG・WebP の画像だけを登録できます。",
            ImageError::TooManyPixels => "画像の縦横のサイズが大きすぎます。",
            ImageError::Undecodable => "画像として読み込めませんでした。",
            ImageError::Encode => "画像を変換できませんでした。",
        }
    }

    /// What to tell the member of staff, in English.
    pub fn message_en(self) -> &'static str {
        match self {
            ImageError::Empty => "No image was chosen.",
            ImageError::TooLarge => "The image file is too large.",
            ImageError::UnsupportedFormat => "Only PNG, JPEG and WebP images can be added.",
            ImageError::TooManyPixels => "The image is too large in pixels.",
            ImageError::Undecodable => "The file could not be read as an image.",
            ImageError::Encode => "The image could not be converted.",
        }
    }
}

/// An image ready to store.
#[derive(Clone, PartialEq, Eq)]
pub struct CleanImage {
    /// A PNG file.
    pub png: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl std::fmt::Debug for CleanImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanImage")
            .field("bytes", &self.png.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// The decoder's limits: sides, and memory for RGBA at the largest size with room for the
/// decoder's own buffers.
fn limits(max_side: u32) -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(max_side);
    l.max_image_height = Some(max_side);
    l.max_alloc = Some(u64::from(max_side) * u64::from(max_side) * 4 * 2);
    l
}

/// Checks and re-encodes an upload (see the module documentation).
pub fn clean(bytes: &[u8], max_bytes: usize, max_side: u32) -> Result<CleanImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > max_bytes {
        return Err(ImageError::TooLarge);
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::UnsupportedFormat)?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP
    ) {
        return Err(ImageError::UnsupportedFormat);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits(max_side));
    let (width, height) = reader.into_dimensions().map_err(|e| match e {
        image::ImageError::Limits(_) => ImageError::TooManyPixels,
        _ => ImageError::Undecodable,
    })?;
    if width == 0 || height == 0 || width > max_side || height > max_side {
        return Err(ImageError::TooManyPixels);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits(max_side));
    let decoded = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => ImageError::TooManyPixels,
        _ => ImageError::Undecodable,
    })?;
    let mut png = Vec::new();
    decoded
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|_| ImageError::Encode)?;
    Ok(CleanImage {
        png,
        width: decoded.width(),
        height: decoded.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};

    fn encode(format: ImageFormat, w: u32, h: u32) -> Vec<u8> {
        let img = ImageBuffer::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), format)
            .unwrap();
        out
    }

    #[test]
    fn real_images_are_reencoded_to_png() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let bytes = encode(format, 40, 30);
            let clean = clean(&bytes, 1 << 20, 4096).unwrap();
            assert_eq!((clean.width, clean.height), (40, 30), "{format:?}");
            assert_eq!(image::guess_format(&clean.png).unwrap(), ImageFormat::Png);
        }
    }

    #[test]
    fn trailing_data_is_dropped() {
        let mut bytes = encode(ImageFormat::Png, 8, 8);
        bytes.extend_from_slice(b"<script>alert(1)</script>");
        let clean = clean(&bytes, 1 << 20, 4096).unwrap();
        assert!(!clean.png.windows(8).any(|w| w == b"<script>"));
    }

    #[test]
    fn everything_else_is_refused() {
        assert_eq!(clean(b"", 100, 100), Err(ImageError::Empty));
        let html = b"<!doctype html><script>alert(1)</script>";
        assert_eq!(
            clean(html, 1 << 20, 4096),
            Err(ImageError::UnsupportedFormat)
        );
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert_eq!(
            clean(gif, 1 << 20, 4096),
            Err(ImageError::UnsupportedFormat)
        );
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x</script></svg>";
        assert_eq!(
            clean(svg, 1 << 20, 4096),
            Err(ImageError::UnsupportedFormat)
        );
        // A PNG signature followed by junk.
        let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
        fake.extend_from_slice(&[0u8; 64]);
        assert_eq!(clean(&fake, 1 << 20, 4096), Err(ImageError::Undecodable));
        let big = encode(ImageFormat::Png, 300, 20);
        assert_eq!(clean(&big, 1 << 20, 256), Err(ImageError::TooManyPixels));
        assert_eq!(clean(&big, 10, 4096), Err(ImageError::TooLarge));
    }
}
