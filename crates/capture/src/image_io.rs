//! Decoding images into a wipeable RGB buffer, and the small amount of
//! resampling the pipeline needs.

use std::path::Path;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::CaptureError;

/// Largest accepted side, to bound memory on hostile input.
const MAX_SIDE: u32 = 16_384;

/// An 8-bit RGB image, row-major, wiped on drop.
///
/// Grey inputs (PGM, grey PNG/BMP) are replicated into the three channels.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RgbImage {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl RgbImage {
    /// Wrap raw RGB bytes (`width * height * 3` of them).
    pub fn from_raw(width: u32, height: u32, data: Vec<u8>) -> Result<Self, CaptureError> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(CaptureError::ImageDimensions { width, height });
        }
        if data.len() != width as usize * height as usize * 3 {
            return Err(CaptureError::InvalidArgument(
                "RGB buffer length is not width * height * 3",
            ));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Decode JPEG, PNG, PGM/PPM or BMP bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, CaptureError> {
        decode_inner(bytes, None)
    }

    /// Read and decode an image file. The file's bytes are wiped after decoding.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let mut bytes = std::fs::read(path).map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let out = decode_inner(&bytes, Some(path));
        bytes.zeroize();
        out
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The raw RGB bytes.
    pub fn as_raw(&self) -> &[u8] {
        &self.data
    }

    /// Pixel at integer coordinates, or `fill` outside the image.
    #[inline]
    pub(crate) fn pixel_or(&self, x: i64, y: i64, fill: [f32; 3]) -> [f32; 3] {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return fill;
        }
        // Both coordinates were bounds-checked just above.
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [
            f32::from(self.data[i]),
            f32::from(self.data[i + 1]),
            f32::from(self.data[i + 2]),
        ]
    }

    /// Bilinear sample at sub-pixel coordinates (pixel centres at integers);
    /// `fill` outside the image.
    #[inline]
    pub(crate) fn bilinear(&self, x: f32, y: f32, fill: [f32; 3]) -> [f32; 3] {
        let x0 = x.floor();
        let y0 = y.floor();
        let fx = x - x0;
        let fy = y - y0;
        let (xi, yi) = (x0 as i64, y0 as i64);
        let p00 = self.pixel_or(xi, yi, fill);
        let p10 = self.pixel_or(xi + 1, yi, fill);
        let p01 = self.pixel_or(xi, yi + 1, fill);
        let p11 = self.pixel_or(xi + 1, yi + 1, fill);
        let mut out = [0.0; 3];
        for c in 0..3 {
            let top = p00[c] + (p10[c] - p00[c]) * fx;
            let bottom = p01[c] + (p11[c] - p01[c]) * fx;
            out[c] = top + (bottom - top) * fy;
        }
        out
    }

    /// Area-averaged sample of the source rectangle that maps onto one output
    /// pixel (`x0..x1`, `y0..y1` in source pixels): bilinear when the
    /// rectangle is at most one pixel, a box filter over bilinear taps when it
    /// is larger (so downscaling does not alias).
    pub(crate) fn area(&self, x0: f32, y0: f32, x1: f32, y1: f32, fill: [f32; 3]) -> [f32; 3] {
        let nx = ((x1 - x0).ceil() as usize).clamp(1, 8);
        let ny = ((y1 - y0).ceil() as usize).clamp(1, 8);
        let mut acc = [0.0f32; 3];
        for j in 0..ny {
            let sy = y0 + (y1 - y0) * (j as f32 + 0.5) / ny as f32 - 0.5;
            for i in 0..nx {
                let sx = x0 + (x1 - x0) * (i as f32 + 0.5) / nx as f32 - 0.5;
                let p = self.bilinear(sx, sy, fill);
                for c in 0..3 {
                    acc[c] += p[c];
                }
            }
        }
        let n = (nx * ny) as f32;
        acc.map(|v| v / n)
    }
}

fn decode_inner(bytes: &[u8], path: Option<&Path>) -> Result<RgbImage, CaptureError> {
    let decode_err = |source| CaptureError::ImageDecode {
        path: path.map(Path::to_path_buf),
        source,
    };
    let format = image::guess_format(bytes).map_err(decode_err)?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let dynamic = reader.decode().map_err(decode_err)?;
    let rgb = dynamic.to_rgb8();
    let mut original = dynamic.into_bytes();
    original.zeroize();
    let (width, height) = rgb.dimensions();
    RgbImage::from_raw(width, height, rgb.into_raw())
}
